// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 data path: guest offset -> host mapping through L1/L2 (standard or
 * extended entries with subclusters), reads, writes with copy-on-write,
 * zeroes, discard, compressed clusters (zlib, zstd), block status and
 * preallocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "qcow2.h"
#include "vireo/log.h"

/* A slice of a request's vector, on the stack when small. */
struct slice {
	struct iovec small[8];
	struct iovec *iov;
	struct bvec v;
};

static int slice_init(struct slice *s, const struct bvec *src, size_t skip, size_t len)
{
	int n;

	s->iov = s->small;
	if (src->cnt > 8) {
		s->iov = malloc(sizeof(struct iovec) * (size_t)src->cnt);
		if (!s->iov)
			return -ENOMEM;
	}
	n = bvec_slice(src, skip, len, s->iov, src->cnt > 8 ? src->cnt : 8);
	if (n < 0) {
		if (s->iov != s->small)
			free(s->iov);
		return n;
	}
	s->v.iov = s->iov;
	s->v.cnt = n;
	s->v.len = len;
	return 0;
}

static void slice_fini(struct slice *s)
{
	if (s->iov != s->small)
		free(s->iov);
}

void qcow2_compressed_range(struct qcow2 *q, uint64_t e, uint64_t *host, uint64_t *size)
{
	uint32_t shift = 62 - (q->cluster_bits - 8);
	uint64_t offmask = (1ull << shift) - 1;
	uint64_t nb = ((e >> shift) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;

	*host = e & offmask;
	*size = nb * 512 - (*host & 511);
}

static int load_l2(struct blockdev *bd, uint64_t l2off, uint8_t **tbl)
{
	struct qcow2 *q = qcow2_of(bd);

	if (l2off & (q->cluster_size - 1)) {
		log_warn_ratelimited(&q->rl, "%s: L2 table offset %#llx not aligned: image corrupt",
				     bd->filename, (unsigned long long)l2off);
		return -EIO;
	}
	return qcow2_cache_get(bd, &q->l2c, l2off, false, tbl);
}

/* Type of unit K (subcluster, or 0 for standard entries) of entry J. */
static int classify(struct blockdev *bd, const uint8_t *tbl, uint32_t j, uint32_t k,
		    enum qcow2_ctype *t, uint64_t *host)
{
	struct qcow2 *q = qcow2_of(bd);
	const uint8_t *p = tbl + (size_t)j * q->l2_esize;
	uint64_t e = be64_get(p), h;

	if (e & QCOW_OFLAG_COMPRESSED) {
		*t = QC_COMPRESSED;
		*host = e;
		return 0;
	}
	h = e & L2E_OFFSET_MASK;
	if (h & (q->cluster_size - 1)) {
		log_warn_ratelimited(&q->rl, "%s: data offset %#llx not aligned: image corrupt",
				     bd->filename, (unsigned long long)h);
		return -EIO;
	}
	if (!q->ext_l2) {
		if (e & QCOW_OFLAG_ZERO)
			*t = QC_ZERO;
		else
			*t = h ? QC_NORMAL : QC_UNALLOC;
		*host = h;
		return 0;
	}
	uint64_t bm = be64_get(p + 8);
	bool alloc = bm & (1ull << k), zero = bm & (1ull << (32 + k));
	if (alloc && zero) {
		log_warn_ratelimited(&q->rl, "%s: subcluster both allocated and zero", bd->filename);
		return -EIO;
	}
	if (zero) {
		*t = QC_ZERO;
	} else if (alloc) {
		if (!h) {
			log_warn_ratelimited(&q->rl, "%s: allocated subcluster without cluster",
					     bd->filename);
			return -EIO;
		}
		*t = QC_NORMAL;
	} else {
		*t = QC_UNALLOC;
	}
	*host = h ? h + (uint64_t)k * q->sc_size : 0;
	return 0;
}

/*
 * The run of [off, off+len) that maps alike: *pnum bytes of type *t, at
 * host *host (contiguous) for NORMAL; one cluster at most for COMPRESSED
 * (*host is then the L2 entry).
 */
static int get_mapping(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		       enum qcow2_ctype *t, uint64_t *host)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, unit = q->ext_l2 ? q->sc_size : cs;
	uint64_t ci = off >> q->cluster_bits;
	uint64_t l1i = ci / q->l2_entries;
	uint32_t l2i = (uint32_t)(ci % q->l2_entries);
	uint64_t tbl_end = (l1i + 1) * q->l2_entries * cs;   /* guest end of this L2 */
	uint64_t max = len < tbl_end - off ? len : tbl_end - off;
	uint8_t *tbl;
	int r;

	if (l1i >= q->l1_size || !(q->l1[l1i] & L1E_OFFSET_MASK)) {
		*t = QC_UNALLOC;
		*host = 0;
		*pnum = max;
		return 0;
	}
	r = load_l2(bd, q->l1[l1i] & L1E_OFFSET_MASK, &tbl);
	if (r)
		return r;
	uint64_t pos = off, first_host = 0;
	enum qcow2_ctype first = QC_UNALLOC;
	while (pos < off + max) {
		uint64_t c = pos >> q->cluster_bits;
		uint32_t j = (uint32_t)(c % q->l2_entries);
		uint32_t k = (uint32_t)((pos & (cs - 1)) / unit);
		enum qcow2_ctype tt;
		uint64_t hh;
		r = classify(bd, tbl, j, k, &tt, &hh);
		if (r)
			return r;
		uint64_t in_unit = pos & (unit - 1);
		if (tt == QC_COMPRESSED)
			in_unit = pos & (cs - 1);
		uint64_t ulen = (tt == QC_COMPRESSED ? cs : unit) - in_unit;
		if (pos == off) {
			first = tt;
			first_host = tt == QC_COMPRESSED ? hh : hh ? hh + in_unit : 0;
			if (tt == QC_COMPRESSED) {
				pos += ulen;
				break;
			}
		} else if (tt != first) {
			break;
		} else if ((tt == QC_NORMAL || hh || first_host) &&
			   (!hh || !first_host || hh + in_unit != first_host + (pos - off))) {
			break;  /* data (or allocated zeroes) must stay contiguous on the host */
		}
		pos += ulen;
	}
	(void)l2i;
	*t = first;
	*host = first_host;
	*pnum = (pos > off + max ? off + max : pos) - off;
	return 0;
}

static int decompress(struct blockdev *bd, uint64_t e)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t host, size, cs = q->cluster_size;
	uint8_t *in;
	int r = 0;

	if (q->cbuf_entry == e && e)
		return 0;
	qcow2_compressed_range(q, e, &host, &size);
	in = malloc(size);
	if (!in)
		return -ENOMEM;
	r = bfile_pread(bd->file, in, size, host);
	if (r)
		goto out;
	q->cbuf_entry = 0;
	if (q->compression_type == 0) {
		z_stream zs = {0};
		if (inflateInit2(&zs, -12) != Z_OK) {
			r = -ENOMEM;
			goto out;
		}
		zs.next_in = in;
		zs.avail_in = (uInt)size;
		zs.next_out = q->cbuf;
		zs.avail_out = (uInt)cs;
		int zr = inflate(&zs, Z_FINISH);
		if (!(zr == Z_STREAM_END || (zr == Z_BUF_ERROR && zs.avail_out == 0)) ||
		    zs.avail_out != 0)
			r = -EIO;
		inflateEnd(&zs);
	} else {
		ZSTD_DCtx *dc = ZSTD_createDCtx();
		if (!dc) {
			r = -ENOMEM;
			goto out;
		}
		ZSTD_inBuffer ib = { in, size, 0 };
		ZSTD_outBuffer ob = { q->cbuf, cs, 0 };
		while (ob.pos < ob.size) {
			size_t zr = ZSTD_decompressStream(dc, &ob, &ib);
			if (ZSTD_isError(zr)) {
				r = -EIO;
				break;
			}
			if (zr == 0 || ib.pos == ib.size)
				break;
		}
		if (!r && ob.pos != ob.size)
			r = -EIO;
		ZSTD_freeDCtx(dc);
	}
	if (r)
		log_warn_ratelimited(&q->rl, "%s: compressed cluster at %#llx does not decompress",
				     bd->filename, (unsigned long long)host);
	else
		q->cbuf_entry = e;
out:
	free(in);
	return r;
}

int qcow2_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t done = 0;

	while (done < v->len) {
		uint64_t n, h, g = off + done;
		enum qcow2_ctype t;
		struct slice s;
		int r = get_mapping(bd, g, v->len - done, &n, &t, &h);
		if (r)
			return r;
		switch (t) {
		case QC_ZERO:
			bvec_memset(v, done, 0, n);
			break;
		case QC_COMPRESSED:
			r = decompress(bd, h);
			if (!r)
				bvec_from_buf(v, done, q->cbuf + (g & (q->cluster_size - 1)), n);
			break;
		case QC_UNALLOC:
		case QC_NORMAL:
			r = slice_init(&s, v, done, n);
			if (r)
				return r;
			if (t == QC_NORMAL)
				r = bfile_preadv(bd->file, s.v.iov, s.v.cnt, h);
			else
				r = block_read_backing(bd, g, &s.v);
			slice_fini(&s);
			break;
		}
		if (r)
			return r;
		done += n;
	}
	return 0;
}

/* The L2 table of L1 index L1I, writable (allocated or copied if shared). */
static int l2_for_write(struct blockdev *bd, uint64_t l1i, uint8_t **tbl, uint64_t *l2off)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t e, old, nw, cs = q->cluster_size;
	uint8_t *src = NULL, *dst;
	int r;

	if (l1i >= q->l1_size)
		return -EIO;
	e = q->l1[l1i];
	old = e & L1E_OFFSET_MASK;
	if (old && (e & QCOW_OFLAG_COPIED)) {
		if (old + cs > qcow2_align_up(q->file_size, cs)) {
			log_warn_ratelimited(&q->rl, "%s: L2 table %#llx past the end of the file",
					     bd->filename, (unsigned long long)old);
			return -EIO;
		}
		*l2off = old;
		return load_l2(bd, old, tbl);
	}
	if (old) {
		uint8_t *t;
		r = load_l2(bd, old, &t);
		if (r)
			return r;
		src = malloc(cs);
		if (!src)
			return -ENOMEM;
		memcpy(src, t, cs);
	}
	r = qcow2_alloc_clusters(bd, 1, &nw);
	if (r)
		goto out;
	r = qcow2_cache_get(bd, &q->l2c, nw, true, &dst);
	if (r)
		goto out;
	if (src)
		memcpy(dst, src, cs);
	r = bfile_pwrite(bd->file, dst, cs, nw);
	if (r) {
		qcow2_cache_drop(&q->l2c, nw);
		goto out;
	}
	q->l1[l1i] = nw | QCOW_OFLAG_COPIED;
	r = qcow2_write_l1_entry(bd, (uint32_t)l1i);
	if (r)
		goto out;
	if (old)
		r = qcow2_free_clusters(bd, old, cs);
	*tbl = dst;
	*l2off = nw;
	/* The cache may have evicted dst while freeing; reload to be safe. */
	if (!r)
		r = load_l2(bd, nw, tbl);
out:
	free(src);
	return r;
}

static int free_entry(struct blockdev *bd, uint64_t e)
{
	struct qcow2 *q = qcow2_of(bd);

	if (e & QCOW_OFLAG_COMPRESSED) {
		uint64_t h, sz;
		qcow2_compressed_range(q, e, &h, &sz);
		return qcow2_rc_update(bd, h, sz, -1);
	}
	if (e & L2E_OFFSET_MASK)
		return qcow2_free_clusters(bd, e & L2E_OFFSET_MASK, q->cluster_size);
	return 0;
}

static int write_entries(struct blockdev *bd, uint8_t *tbl, uint64_t l2off, uint32_t j0,
			 uint32_t j1)
{
	struct qcow2 *q = qcow2_of(bd);

	return bfile_pwrite(bd->file, tbl + (size_t)j0 * q->l2_esize,
			    (size_t)(j1 - j0) * q->l2_esize, l2off + (uint64_t)j0 * q->l2_esize);
}

static void set_entry(struct qcow2 *q, uint8_t *tbl, uint32_t j, uint64_t e, uint64_t bm)
{
	be64_put(tbl + (size_t)j * q->l2_esize, e);
	if (q->ext_l2)
		be64_put(tbl + (size_t)j * q->l2_esize + 8, bm);
}

/* Whether entry J can take a write in place (no COW needed). */
static bool in_place(struct qcow2 *q, const uint8_t *tbl, uint32_t j)
{
	uint64_t e = be64_get(tbl + (size_t)j * q->l2_esize);

	if ((e & QCOW_OFLAG_COMPRESSED) || !(e & QCOW_OFLAG_COPIED) || !(e & L2E_OFFSET_MASK))
		return false;
	if (q->ext_l2)
		return be64_get(tbl + (size_t)j * q->l2_esize + 8) == 0xffffffffull;
	return !(e & QCOW_OFLAG_ZERO);
}

/* Writes guest [g, g+len) (inside one L2 table) from V at SKIP. */
static int write_in_table(struct blockdev *bd, uint64_t g, uint64_t len,
			  const struct bvec *v, size_t skip)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, l2off;
	uint64_t ci = g >> q->cluster_bits;
	uint8_t *tbl;
	int r;

	r = l2_for_write(bd, ci / q->l2_entries, &tbl, &l2off);
	if (r)
		return r;
	uint64_t pos = g, end = g + len;
	while (pos < end) {
		uint32_t j0 = (uint32_t)((pos >> q->cluster_bits) % q->l2_entries);
		bool inplace = in_place(q, tbl, j0);
		uint32_t j = j0 + 1;
		uint64_t h0 = be64_get(tbl + (size_t)j0 * q->l2_esize) & L2E_OFFSET_MASK;
		uint64_t run_end = ((pos >> q->cluster_bits) + 1) << q->cluster_bits;
		/* Extend the run over clusters of the same kind. */
		while (run_end < end) {
			bool ip = in_place(q, tbl, j);
			if (ip != inplace)
				break;
			if (ip && (be64_get(tbl + (size_t)j * q->l2_esize) & L2E_OFFSET_MASK) !=
					  h0 + (uint64_t)(j - j0) * cs)
				break;
			j++;
			run_end += cs;
		}
		if (run_end > end)
			run_end = end;
		uint64_t n = run_end - pos;
		struct slice s;
		r = slice_init(&s, v, skip + (pos - g), n);
		if (r)
			return r;
		if (inplace && h0 + cs * (j - j0) > qcow2_align_up(q->file_size, cs)) {
			log_warn_ratelimited(&q->rl, "%s: data cluster %#llx past the end of the file",
					     bd->filename, (unsigned long long)h0);
			slice_fini(&s);
			return -EIO;
		}
		if (inplace) {
			r = bfile_pwritev(bd->file, s.v.iov, s.v.cnt, h0 + (pos & (cs - 1)));
			slice_fini(&s);
			if (r)
				return r;
			pos = run_end;
			continue;
		}
		/* Allocate j - j0 clusters, fill head and tail from the old content. */
		uint32_t k = j - j0;
		uint64_t head = pos & (cs - 1);
		uint64_t cl_end = qcow2_align_up(run_end, cs);
		uint64_t tail = cl_end - run_end;
		uint64_t nw;
		uint8_t *hb = NULL, *tb = NULL;
		struct iovec *iov = malloc(sizeof(*iov) * (size_t)(s.v.cnt + 2));
		r = iov ? qcow2_alloc_clusters(bd, k, &nw) : -ENOMEM;
		if (!r && head) {
			struct iovec hi;
			struct bvec hv;
			hb = malloc(head);
			r = hb ? 0 : -ENOMEM;
			hi.iov_base = hb;
			hi.iov_len = head;
			bvec_init(&hv, &hi, 1);
			if (!r)
				r = qcow2_preadv(bd, pos - head, &hv);
		}
		if (!r && tail) {
			struct iovec ti;
			struct bvec tv;
			tb = malloc(tail);
			r = tb ? 0 : -ENOMEM;
			ti.iov_base = tb;
			ti.iov_len = tail;
			bvec_init(&tv, &ti, 1);
			if (!r)
				r = qcow2_preadv(bd, run_end, &tv);
		}
		if (!r) {
			int c = 0;
			if (head)
				iov[c++] = (struct iovec){ hb, head };
			memcpy(iov + c, s.v.iov, sizeof(*iov) * (size_t)s.v.cnt);
			c += s.v.cnt;
			if (tail)
				iov[c++] = (struct iovec){ tb, tail };
			r = bfile_pwritev(bd->file, iov, c, nw);
		}
		free(hb);
		free(tb);
		free(iov);
		slice_fini(&s);
		if (r)
			return r;
		/* The reads above may have evicted the table: get it again. */
		r = load_l2(bd, l2off, &tbl);
		if (r)
			return r;
		uint64_t *old = malloc(sizeof(uint64_t) * k);
		if (!old)
			return -ENOMEM;
		for (uint32_t i = 0; i < k; i++) {
			old[i] = be64_get(tbl + (size_t)(j0 + i) * q->l2_esize);
			set_entry(q, tbl, j0 + i, (nw + (uint64_t)i * cs) | QCOW_OFLAG_COPIED,
				  0xffffffffull);
		}
		r = write_entries(bd, tbl, l2off, j0, j);
		for (uint32_t i = 0; !r && i < k; i++)
			r = free_entry(bd, old[i]);
		free(old);
		if (r)
			return r;
		r = load_l2(bd, l2off, &tbl);
		if (r)
			return r;
		pos = run_end;
	}
	return 0;
}

int qcow2_pwritev(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t span = (uint64_t)q->l2_entries << q->cluster_bits;
	uint64_t done = 0;
	int r;

	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	q->cbuf_entry = 0;
	while (done < v->len) {
		uint64_t g = off + done;
		uint64_t n = (g / span + 1) * span - g;
		if (n > v->len - done)
			n = v->len - done;
		r = write_in_table(bd, g, n, v, done);
		if (r)
			return r;
		done += n;
	}
	return 0;
}

/* Zero (ZERO) or unallocate whole clusters of [off, off+len) (cluster aligned). */
static int clusters_set(struct blockdev *bd, uint64_t off, uint64_t len, bool zero,
			bool punch)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;

	while (len) {
		uint64_t ci = off >> q->cluster_bits, l1i = ci / q->l2_entries;
		uint32_t j0 = (uint32_t)(ci % q->l2_entries);
		uint64_t n = ((uint64_t)q->l2_entries - j0) * cs;
		uint8_t *tbl;
		uint64_t l2off;
		int r;
		if (n > len)
			n = len;
		/* Nothing to do where no L2 table exists and nothing shows through. */
		if ((!zero || !bd->backing) &&
		    (l1i >= q->l1_size || !(q->l1[l1i] & L1E_OFFSET_MASK))) {
			off += n;
			len -= n;
			continue;
		}
		r = l2_for_write(bd, l1i, &tbl, &l2off);
		if (r)
			return r;
		uint32_t k = (uint32_t)(n / cs);
		uint64_t *old = malloc(sizeof(uint64_t) * k);
		if (!old)
			return -ENOMEM;
		for (uint32_t i = 0; i < k; i++) {
			old[i] = be64_get(tbl + (size_t)(j0 + i) * q->l2_esize);
			if (zero)
				set_entry(q, tbl, j0 + i, q->ext_l2 ? 0 : QCOW_OFLAG_ZERO,
					  0xffffffff00000000ull);
			else
				set_entry(q, tbl, j0 + i, 0, 0);
		}
		r = write_entries(bd, tbl, l2off, j0, j0 + k);
		for (uint32_t i = 0; !r && i < k; i++) {
			uint64_t h = old[i] & L2E_OFFSET_MASK;
			r = free_entry(bd, old[i]);
			if (!r && punch && h && !(old[i] & QCOW_OFLAG_COMPRESSED)) {
				uint64_t rc;
				r = qcow2_rc_get(bd, h >> q->cluster_bits, &rc);
				if (!r && rc == 0)
					r = bfile_zero(bd->file, h, cs, true);
			}
		}
		free(old);
		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int write_zero_buf(struct blockdev *bd, uint64_t off, uint64_t len)
{
	uint8_t *z = calloc(1, len);
	struct iovec iov = { z, len };
	struct bvec v;
	int r;

	if (!z)
		return -ENOMEM;
	bvec_init(&v, &iov, 1);
	r = qcow2_pwritev(bd, off, &v);
	free(z);
	return r;
}

int qcow2_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	uint64_t a = qcow2_align_up(off, cs), b = (off + len) & ~(cs - 1);
	int r;

	(void)flags;
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	q->cbuf_entry = 0;
	if (off + len == bd->size)   /* the tail cluster counts as whole */
		b = qcow2_align_up(off + len, cs);
	if (a >= b)
		return write_zero_buf(bd, off, len);
	if (a > off && (r = write_zero_buf(bd, off, a - off)))
		return r;
	if (b < off + len && (r = write_zero_buf(bd, b, off + len - b)))
		return r;
	if (q->version >= 3)
		return clusters_set(bd, a, b - a, true, false);
	if (!bd->backing && !q->avoid)
		return clusters_set(bd, a, b - a, false, false);
	/* v2 with a backing file: zeroes must be written. */
	for (uint64_t o = a; o < b; o += cs)
		if ((r = write_zero_buf(bd, o, cs)))
			return r;
	return 0;
}

int qcow2_discard(struct blockdev *bd, uint64_t off, uint64_t len)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	uint64_t a = qcow2_align_up(off, cs), b = (off + len) & ~(cs - 1);
	int r;

	if (off + len == bd->size)
		b = qcow2_align_up(off + len, cs);
	if (a >= b)
		return 0;
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	q->cbuf_entry = 0;
	/* With a backing file, v3 keeps discarded clusters reading as zeroes. */
	return clusters_set(bd, a, b - a, bd->backing && q->version >= 3, true);
}

int qcow2_make_empty(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t span = (uint64_t)q->l2_entries << q->cluster_bits;
	int r = qcow2_mark_dirty(bd);

	if (r)
		return r;
	q->cbuf_entry = 0;
	for (uint32_t i = 0; i < q->l1_size; i++) {
		if (!(q->l1[i] & L1E_OFFSET_MASK))
			continue;
		uint64_t s = (uint64_t)i * span;
		if (s >= bd->size)
			break;
		uint64_t n = bd->size - s < span ? qcow2_align_up(bd->size - s, q->cluster_size) : span;
		r = clusters_set(bd, s, n, false, true);
		if (r)
			return r;
	}
	return 0;
}

int qcow2_compress(struct blockdev *bd, const void *buf, size_t len, void *out, size_t *olen)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	uint8_t *in;
	size_t clen = cs;

	if (len > cs)
		return -EINVAL;
	if (q->ext_l2)
		return -ENOTSUP;
	in = calloc(1, cs);
	if (!in)
		return -ENOMEM;
	memcpy(in, buf, len);
	if (q->compression_type == 0) {
		z_stream zs = {0};
		if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			free(in);
			return -ENOMEM;
		}
		zs.next_in = in;
		zs.avail_in = (uInt)cs;
		zs.next_out = out;
		zs.avail_out = (uInt)cs;
		int zr = deflate(&zs, Z_FINISH);
		clen = zr == Z_STREAM_END ? cs - zs.avail_out : cs;
		deflateEnd(&zs);
	} else {
		size_t zr = ZSTD_compress(out, cs, in, cs, 1);
		clen = ZSTD_isError(zr) ? cs : zr;
	}
	free(in);
	if (clen >= cs)
		return -E2BIG;     /* incompressible: the caller stores it plainly */
	*olen = clen;
	return 0;
}

int qcow2_write_compressed(struct blockdev *bd, uint64_t off, const void *cdata, size_t clen)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, l2off, coff;
	uint8_t *tbl;
	int r;

	if ((off & (cs - 1)) || clen >= cs || !clen)
		return -EINVAL;
	if (q->ext_l2)
		return -ENOTSUP;
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	q->cbuf_entry = 0;
	r = qcow2_alloc_bytes(bd, clen, &coff);
	if (r)
		return r;
	r = bfile_pwrite(bd->file, cdata, clen, coff);
	if (r)
		return r;
	uint64_t ci = off >> q->cluster_bits;
	r = l2_for_write(bd, ci / q->l2_entries, &tbl, &l2off);
	if (r)
		return r;
	uint32_t j = (uint32_t)(ci % q->l2_entries);
	uint64_t old = be64_get(tbl + (size_t)j * q->l2_esize);
	uint32_t shift = 62 - (q->cluster_bits - 8);
	uint64_t nb = ((coff + clen - 1) >> 9) - (coff >> 9);
	set_entry(q, tbl, j, QCOW_OFLAG_COMPRESSED | (nb << shift) | coff, 0);
	r = write_entries(bd, tbl, l2off, j, j + 1);
	if (!r)
		r = free_entry(bd, old);
	return r;
}

int qcow2_map_fast(struct blockdev *bd, uint64_t off, uint64_t len, bool write, bool peek,
		   uint64_t *host)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, ci = off >> q->cluster_bits, l1i = ci / q->l2_entries;
	uint64_t last = (off + len - 1) >> q->cluster_bits, first_h = 0;
	uint8_t *tbl;

	/* One L2 table, every cluster plain data, contiguous on the host. */
	if (!len || l1i >= q->l1_size || last / q->l2_entries != l1i)
		return -EAGAIN;
	if (write && q->lazy && !q->dirty_marked)
		return -EAGAIN;
	uint64_t l2off = q->l1[l1i] & L1E_OFFSET_MASK;
	if (!l2off)
		return -EAGAIN;
	if (peek) {
		tbl = qcow2_cache_peek(&q->l2c, l2off);
		if (!tbl)
			return -EAGAIN;
	} else if (load_l2(bd, l2off, &tbl)) {
		return -EAGAIN;
	}
	for (uint64_t c = ci; c <= last; c++) {
		uint32_t j = (uint32_t)(c % q->l2_entries);
		const uint8_t *p = tbl + (size_t)j * q->l2_esize;
		uint64_t e = be64_get(p), h = e & L2E_OFFSET_MASK;
		if (write) {
			if (!in_place(q, tbl, j))
				return -EAGAIN;
		} else {
			if ((e & QCOW_OFLAG_COMPRESSED) || !h)
				return -EAGAIN;
			if (q->ext_l2 ? be64_get(p + 8) != 0xffffffffull : (e & QCOW_OFLAG_ZERO))
				return -EAGAIN;
		}
		if ((h & (cs - 1)) || h + cs > qcow2_align_up(q->file_size, cs))
			return -EAGAIN;
		if (c == ci)
			first_h = h;
		else if (h != first_h + (c - ci) * cs)
			return -EAGAIN;
	}
	*host = first_h + (off & (cs - 1));
	return 0;
}

int qcow2_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		 uint64_t *host_off, unsigned *flags)
{
	enum qcow2_ctype t;
	uint64_t h;
	int r = get_mapping(bd, off, len, pnum, &t, &h);

	if (r)
		return r;
	switch (t) {
	case QC_UNALLOC:
		*flags = bd->backing ? 0 : BLOCK_STATUS_ZERO;
		if (h) {        /* unallocated subcluster of an allocated cluster */
			*flags |= BLOCK_STATUS_OFFSET;
			*host_off = h;
		}
		break;
	case QC_ZERO:
		*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO;
		if (h) {        /* zeroes over an allocated cluster */
			*flags |= BLOCK_STATUS_OFFSET;
			*host_off = h;
		}
		break;
	case QC_NORMAL: {
		bool data;
		uint64_t n;
		*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET;
		*host_off = h;
		/* A hole in the image file reads as zeroes. */
		r = bfile_data_status(bd->file, h, *pnum, &data, &n);
		if (r)
			return r;
		if (!data)
			*flags |= BLOCK_STATUS_ZERO;
		if (n && n < *pnum)
			*pnum = n;
		break;
	}
	case QC_COMPRESSED:
		*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_DATA;
		break;
	}
	return 0;
}

int qcow2_preallocate(struct blockdev *bd, uint64_t from, uint64_t to, const char *mode)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	int r;

	if (!mode || !strcmp(mode, "off"))
		return 0;
	if (strcmp(mode, "metadata") && strcmp(mode, "falloc") && strcmp(mode, "full")) {
		log_error("qcow2: unknown preallocation mode '%s'", mode);
		return -EINVAL;
	}
	from &= ~(cs - 1);
	to = qcow2_align_up(to, cs);
	while (from < to) {
		uint64_t ci = from >> q->cluster_bits, l2off, nw;
		uint32_t j0 = (uint32_t)(ci % q->l2_entries);
		uint64_t n = ((uint64_t)q->l2_entries - j0) * cs;
		uint8_t *tbl;
		if (n > to - from)
			n = to - from;
		r = l2_for_write(bd, ci / q->l2_entries, &tbl, &l2off);
		if (r)
			return r;
		uint32_t k = (uint32_t)(n / cs), need = 0;
		for (uint32_t i = 0; i < k; i++)
			if (!(be64_get(tbl + (size_t)(j0 + i) * q->l2_esize) & L2E_OFFSET_MASK))
				need++;
		if (need) {
			r = qcow2_alloc_clusters(bd, need, &nw);
			if (r)
				return r;
			if (!strcmp(mode, "falloc"))
				r = bfile_fallocate(bd->file, nw, need * cs);
			if (!r && !strcmp(mode, "full")) {
				uint8_t *z = calloc(1, cs);
				if (!z)
					return -ENOMEM;
				for (uint32_t i = 0; !r && i < need; i++)
					r = bfile_pwrite(bd->file, z, cs, nw + (uint64_t)i * cs);
				free(z);
			} else if (!r) {
				/* Reused clusters must read as zeroes; new ones are holes. */
				uint64_t fs;
				r = bfile_size(bd->file, &fs);
				if (!r && fs > nw)
					r = bfile_zero(bd->file, nw, need * cs, false);
				if (!r && fs < nw + need * cs)
					r = bfile_truncate(bd->file, nw + need * cs);
				qcow2_note_end(q, nw + need * cs);
			}
			if (r)
				return r;
			r = load_l2(bd, l2off, &tbl);
			if (r)
				return r;
			uint32_t a = 0;
			for (uint32_t i = 0; i < k; i++) {
				uint64_t e = be64_get(tbl + (size_t)(j0 + i) * q->l2_esize);
				if (e & L2E_OFFSET_MASK)
					continue;
				set_entry(q, tbl, j0 + i, (nw + (uint64_t)a++ * cs) | QCOW_OFLAG_COPIED,
					  0xffffffffull);
			}
			r = write_entries(bd, tbl, l2off, j0, j0 + k);
			if (r)
				return r;
		}
		from += n;
	}
	return 0;
}

int qcow2_free_range(struct blockdev *bd, uint64_t from, uint64_t to)
{
	struct qcow2 *q = qcow2_of(bd);

	from = qcow2_align_up(from, q->cluster_size);
	to = qcow2_align_up(to, q->cluster_size);
	if (from >= to)
		return 0;
	return clusters_set(bd, from, to - from, false, true);
}
