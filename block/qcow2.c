// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2: header and extensions (parsed with every field checked), open,
 * close, flush, create, info, resize, backing file changes, measure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"
#include "vireo/log.h"

static int qcow2_probe(const uint8_t *buf, size_t len, const char *filename)
{
	(void)filename;
	if (len >= 8 && be32_get(buf) == QCOW2_MAGIC && (be32_get(buf + 4) == 2 || be32_get(buf + 4) == 3))
		return 100;
	return 0;
}

static int bad(struct blockdev *bd, const char *what)
{
	log_error("%s: invalid qcow2 image: %s", bd->filename, what);
	return -EINVAL;
}

static int parse_exts(struct blockdev *bd, const uint8_t *h, uint64_t start, uint64_t end)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t off = start;

	while (off + 8 <= end) {
		uint32_t type = be32_get(h + off), len = be32_get(h + off + 4);
		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off)
			return bad(bd, "header extension past the end of the header");
		if (type == QCOW2_EXT_BACKING_FMT) {
			if (len > 1023)
				return bad(bd, "backing format name too long");
			q->backing_fmt = strndup((const char *)h + off, len);
			if (!q->backing_fmt)
				return -ENOMEM;
		} else if (type != QCOW2_EXT_FEATURES) {
			if (q->nb_exts >= 64)
				return bad(bd, "too many header extensions");
			struct qcow2_ext *n = realloc(q->exts, sizeof(*n) * (size_t)(q->nb_exts + 1));
			if (!n)
				return -ENOMEM;
			q->exts = n;
			n[q->nb_exts].type = type;
			n[q->nb_exts].len = len;
			n[q->nb_exts].data = malloc(len ? len : 1);
			if (!n[q->nb_exts].data)
				return -ENOMEM;
			memcpy(n[q->nb_exts].data, h + off, len);
			q->nb_exts++;
		}
		off += qcow2_align_up(len, 8);
	}
	return 0;
}

int qcow2_write_header(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	uint32_t cs = q->cluster_size;
	uint8_t *h = calloc(1, cs);
	uint32_t off;
	int r;

	if (!h)
		return -ENOMEM;
	be32_put(h, QCOW2_MAGIC);
	be32_put(h + 4, q->version);
	be32_put(h + 20, q->cluster_bits);
	be64_put(h + 24, bd->size);
	be32_put(h + 36, q->l1_size);
	be64_put(h + 40, q->l1_offset);
	be64_put(h + 48, q->rt_offset);
	be32_put(h + 56, q->rt_clusters);
	be32_put(h + 60, (uint32_t)q->nb_snaps);
	be64_put(h + 64, q->snap_offset);
	if (q->version >= 3) {
		be64_put(h + 72, q->incompat);
		be64_put(h + 80, q->compat);
		be64_put(h + 88, q->autoclear);
		be32_put(h + 96, q->refcount_order);
		be32_put(h + 100, 112);
		h[104] = q->compression_type;
		off = 112;
	} else {
		off = 72;
	}
#define ROOM(n) do { if ((uint64_t)off + (n) > cs) goto full; } while (0)
	if (q->backing_fmt) {
		uint32_t l = (uint32_t)strlen(q->backing_fmt);
		ROOM(8 + qcow2_align_up(l, 8));
		be32_put(h + off, QCOW2_EXT_BACKING_FMT);
		be32_put(h + off + 4, l);
		memcpy(h + off + 8, q->backing_fmt, l);
		off += 8 + (uint32_t)qcow2_align_up(l, 8);
	}
	if (q->version >= 3) {
		static const struct { uint8_t type, bit; const char *name; } feat[] = {
			{ 0, 0, "dirty bit" }, { 0, 1, "corrupt bit" },
			{ 0, 2, "external data file" }, { 0, 3, "compression type" },
			{ 0, 4, "extended L2 entries" }, { 1, 0, "lazy refcounts" },
			{ 2, 0, "bitmaps" }, { 2, 1, "raw external data" },
		};
		uint32_t l = (uint32_t)(sizeof(feat) / sizeof(feat[0])) * 48;
		ROOM(8 + l);
		be32_put(h + off, QCOW2_EXT_FEATURES);
		be32_put(h + off + 4, l);
		for (size_t i = 0; i < sizeof(feat) / sizeof(feat[0]); i++) {
			uint8_t *e = h + off + 8 + i * 48;
			e[0] = feat[i].type;
			e[1] = feat[i].bit;
			strncpy((char *)e + 2, feat[i].name, 45);
		}
		off += 8 + l;
	}
	for (int i = 0; i < q->nb_exts; i++) {
		ROOM(8 + qcow2_align_up(q->exts[i].len, 8));
		be32_put(h + off, q->exts[i].type);
		be32_put(h + off + 4, q->exts[i].len);
		memcpy(h + off + 8, q->exts[i].data, q->exts[i].len);
		off += 8 + (uint32_t)qcow2_align_up(q->exts[i].len, 8);
	}
	ROOM(8);
	off += 8;   /* end marker: zeroes */
	if (q->backing_file) {
		uint32_t l = (uint32_t)strlen(q->backing_file);
		ROOM(l);
		be64_put(h + 8, off);
		be32_put(h + 16, l);
		memcpy(h + off, q->backing_file, l);
		off += l;
	}
#undef ROOM
	r = bfile_pwrite(bd->file, h, cs, 0);
	free(h);
	return r;
full:
	free(h);
	log_error("%s: the header does not fit in one cluster", bd->filename);
	return -ENOSPC;
}

int qcow2_mark_dirty(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	int r;

	if (!q->lazy || q->dirty_marked)
		return 0;
	q->incompat |= QCOW2_INCOMPAT_DIRTY;
	r = qcow2_write_header(bd);
	if (!r)
		r = bfile_flush(bd->file);
	if (!r)
		q->dirty_marked = true;
	return r;
}

static int mark_clean(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	int r = qcow2_rc_flush(bd);

	if (!r)
		r = bfile_flush(bd->file);
	if (r)
		return r;
	q->incompat &= ~QCOW2_INCOMPAT_DIRTY;
	q->dirty_marked = false;
	r = qcow2_write_header(bd);
	if (!r)
		r = bfile_flush(bd->file);
	return r;
}

int qcow2_write_l1_entry(struct blockdev *bd, uint32_t idx)
{
	struct qcow2 *q = qcow2_of(bd);
	uint8_t e[8];

	be64_put(e, q->l1[idx]);
	return bfile_pwrite(bd->file, e, 8, q->l1_offset + (uint64_t)idx * 8);
}

int qcow2_grow_l1(struct blockdev *bd, uint32_t new_size)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, bytes = qcow2_align_up((uint64_t)new_size * 8, cs);
	uint64_t off, old_off = q->l1_offset, old_bytes = (uint64_t)q->l1_size * 8;
	uint64_t *nl1;
	uint8_t *buf;
	int r;

	if (new_size <= q->l1_size)
		return 0;
	if ((uint64_t)new_size * 8 > QCOW2_MAX_L1_BYTES)
		return -EFBIG;
	nl1 = calloc(new_size, 8);
	buf = calloc(1, bytes);
	if (!nl1 || !buf) {
		free(nl1);
		free(buf);
		return -ENOMEM;
	}
	memcpy(nl1, q->l1, (size_t)q->l1_size * 8);
	for (uint32_t i = 0; i < new_size; i++)
		be64_put(buf + (size_t)i * 8, nl1[i]);
	r = qcow2_alloc_clusters(bd, bytes / cs, &off);
	if (!r)
		r = bfile_pwrite(bd->file, buf, bytes, off);
	free(buf);
	if (r) {
		free(nl1);
		return r;
	}
	uint32_t old_size = q->l1_size;
	free(q->l1);
	q->l1 = nl1;
	q->l1_size = new_size;
	q->l1_offset = off;
	r = qcow2_write_header(bd);
	if (!r && old_size)
		r = qcow2_free_clusters(bd, old_off, qcow2_align_up(old_bytes, cs));
	return r;
}

static uint32_t l1_needed(struct qcow2 *q, uint64_t size)
{
	uint64_t span = (uint64_t)q->l2_entries << q->cluster_bits;

	return (uint32_t)((size + span - 1) / span);
}

static int read_table(struct blockdev *bd, uint64_t off, uint64_t n, uint64_t **out)
{
	uint64_t *t = calloc(n ? n : 1, 8);
	int r;

	if (!t)
		return -ENOMEM;
	r = bfile_pread(bd->file, t, n * 8, off);
	if (r) {
		free(t);
		return r;
	}
	for (uint64_t i = 0; i < n; i++)
		t[i] = be64_get(&t[i]);
	*out = t;
	return 0;
}

static void qcow2_close(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);

	if (!q)
		return;
	if (!bd->read_only && q->dirty_marked)
		mark_clean(bd);
	else if (!bd->read_only)
		qcow2_rc_flush(bd);
	qcow2_cache_fini(&q->l2c);
	qcow2_cache_fini(&q->rbc);
	free(q->l1);
	free(q->rt);
	free(q->backing_file);
	free(q->backing_fmt);
	for (int i = 0; i < q->nb_exts; i++)
		free(q->exts[i].data);
	free(q->exts);
	qcow2_free_snapshots(q);
	free(q->cbuf);
	memset(q, 0, sizeof(*q));
}

static int qcow2_open(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	uint8_t hb[512];
	uint8_t *h = NULL;
	uint64_t fsize;
	int r;

	r = bfile_size(bd->file, &fsize);
	if (r)
		return r;
	q->file_size = fsize;
	r = bfile_pread(bd->file, hb, sizeof(hb), 0);
	if (r)
		return r;
	if (be32_get(hb) != QCOW2_MAGIC)
		return bad(bd, "no qcow2 magic");
	q->version = be32_get(hb + 4);
	if (q->version != 2 && q->version != 3) {
		log_error("%s: qcow2 version %u is not supported", bd->filename, q->version);
		return -ENOTSUP;
	}
	q->cluster_bits = be32_get(hb + 20);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return bad(bd, "cluster size out of range");
	q->cluster_size = 1u << q->cluster_bits;
	uint32_t cs = q->cluster_size;
	h = calloc(1, cs);
	if (!h)
		return -ENOMEM;
	r = bfile_pread(bd->file, h, cs, 0);
	if (r)
		goto fail;
	bd->size = be64_get(h + 24);
	if (be32_get(h + 32)) {
		log_error("%s: encrypted qcow2 images are not supported", bd->filename);
		r = -ENOTSUP;
		goto fail;
	}
	q->l1_size = be32_get(h + 36);
	q->l1_offset = be64_get(h + 40);
	q->rt_offset = be64_get(h + 48);
	q->rt_clusters = be32_get(h + 56);
	uint32_t nb_snaps = be32_get(h + 60);
	q->snap_offset = be64_get(h + 64);
	if (q->version >= 3) {
		q->incompat = be64_get(h + 72);
		q->compat = be64_get(h + 80);
		q->autoclear = be64_get(h + 88);
		q->refcount_order = be32_get(h + 96);
		q->header_length = be32_get(h + 100);
		if (q->header_length < 104 || q->header_length > cs || (q->header_length & 7 && q->header_length != 104)) {
			r = bad(bd, "bad header length");
			goto fail;
		}
	} else {
		q->refcount_order = 4;
		q->header_length = 72;
	}
	if (q->refcount_order > 6) {
		r = bad(bd, "refcount order above 6");
		goto fail;
	}
	if (q->incompat & ~QCOW2_INCOMPAT_KNOWN) {
		log_error("%s: unsupported qcow2 features %#llx", bd->filename,
			  (unsigned long long)(q->incompat & ~QCOW2_INCOMPAT_KNOWN));
		r = -ENOTSUP;
		goto fail;
	}
	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE) {
		log_error("%s: qcow2 external data files are not supported", bd->filename);
		r = -ENOTSUP;
		goto fail;
	}
	if ((q->incompat & QCOW2_INCOMPAT_CORRUPT) && !bd->read_only) {
		log_error("%s: image marked corrupt; open it read-only (or repair it)", bd->filename);
		r = -EIO;
		goto fail;
	}
	q->compression_type = 0;
	if (q->header_length > 104) {
		q->compression_type = h[104];
		if (q->compression_type > 1) {
			r = bad(bd, "unknown compression type");
			goto fail;
		}
		if (q->compression_type && !(q->incompat & QCOW2_INCOMPAT_COMPRESSION)) {
			r = bad(bd, "compression type set without its feature bit");
			goto fail;
		}
	} else if (q->incompat & QCOW2_INCOMPAT_COMPRESSION) {
		r = bad(bd, "compression type bit set in a short header");
		goto fail;
	}
	q->refcount_bits = 1u << q->refcount_order;
	q->rb_entries = (uint64_t)cs * 8 / q->refcount_bits;
	q->ext_l2 = q->incompat & QCOW2_INCOMPAT_EXTL2;
	if (q->ext_l2 && q->cluster_bits < 14) {
		r = bad(bd, "extended L2 entries need clusters of 16 KiB or more");
		goto fail;
	}
	q->l2_esize = q->ext_l2 ? 16 : 8;
	q->l2_entries = cs / q->l2_esize;
	q->sc_size = q->ext_l2 ? cs / 32 : cs;
	if (bd->size > QCOW2_MAX_VSIZE) {
		r = bad(bd, "virtual size too large");
		goto fail;
	}
	bd->size = (bd->size + BLOCK_SECTOR - 1) & ~(uint64_t)(BLOCK_SECTOR - 1);
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES || q->l1_size < l1_needed(q, bd->size)) {
		r = bad(bd, "L1 table size does not match the virtual size");
		goto fail;
	}
	if (q->l1_size && ((q->l1_offset & (cs - 1)) || q->l1_offset > fsize ||
			   (uint64_t)q->l1_size * 8 > fsize - q->l1_offset)) {
		r = bad(bd, "L1 table outside the file");
		goto fail;
	}
	if (!q->rt_clusters || (uint64_t)q->rt_clusters * cs > QCOW2_MAX_RT_BYTES ||
	    (q->rt_offset & (cs - 1)) || q->rt_offset > fsize ||
	    (uint64_t)q->rt_clusters * cs > fsize - q->rt_offset) {
		r = bad(bd, "refcount table outside the file or too large");
		goto fail;
	}
	/* Backing file name and header extensions. */
	uint64_t bf_off = be64_get(h + 8);
	uint32_t bf_len = be32_get(h + 16);
	uint64_t ext_end = cs;
	if (bf_off) {
		if (bf_len > 1023 || bf_off >= cs || bf_len > cs - bf_off || bf_off < q->header_length) {
			r = bad(bd, "backing file name outside the header cluster");
			goto fail;
		}
		q->backing_file = strndup((const char *)h + bf_off, bf_len);
		if (!q->backing_file) {
			r = -ENOMEM;
			goto fail;
		}
		ext_end = bf_off;
	}
	r = parse_exts(bd, h, q->header_length, ext_end);
	if (r)
		goto fail;
	free(h);
	h = NULL;
	r = read_table(bd, q->l1_offset, q->l1_size, &q->l1);
	if (r)
		goto fail;
	q->rt_size = (uint64_t)q->rt_clusters * cs / 8;
	r = read_table(bd, q->rt_offset, q->rt_size, &q->rt);
	if (r)
		goto fail;
	if (nb_snaps > QCOW2_MAX_SNAPSHOTS) {
		r = bad(bd, "too many snapshots");
		goto fail;
	}
	q->nb_snaps = (int)nb_snaps;
	r = qcow2_read_snapshots(bd);
	if (r)
		goto fail;
	int n = (int)((8u << 20) / cs);
	r = qcow2_cache_init(&q->l2c, n < 4 ? 4 : n > 64 ? 64 : n, cs);
	if (!r) {
		n = (int)((1u << 20) / cs);
		r = qcow2_cache_init(&q->rbc, n < 4 ? 4 : n > 16 ? 16 : n, cs);
	}
	if (r)
		goto fail;
	q->cbuf = malloc(cs);
	if (!q->cbuf) {
		r = -ENOMEM;
		goto fail;
	}
	if (q->backing_file && !bd->opts.no_backing) {
		r = block_open_backing(bd, q->backing_file, q->backing_fmt);
		if (r)
			goto fail;
	}
	q->free_hint = 1;
	if (!bd->read_only) {
		bool dirty = q->incompat & QCOW2_INCOMPAT_DIRTY;
		/* We do not keep bitmaps or other autoclear features up to date. */
		q->autoclear = 0;
		q->lazy = q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
		if (q->version < 3)
			q->lazy = false;
		if (dirty) {
			struct block_check res;
			log_info("%s: image was not closed cleanly, repairing refcounts", bd->filename);
			r = qcow2_check(bd, &res, BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS);
			if (r)
				goto fail;
			q->incompat &= ~QCOW2_INCOMPAT_DIRTY;
		}
		r = qcow2_write_header(bd);
		if (r)
			goto fail;
	}
	return 0;
fail:
	free(h);
	qcow2_close(bd);
	return r;
}

static int qcow2_flush(struct blockdev *bd)
{
	int r = qcow2_rc_flush(bd);

	if (!r)
		r = bfile_flush(bd->file);
	return r;
}

static int qcow2_info(struct blockdev *bd, struct block_info *info)
{
	struct qcow2 *q = qcow2_of(bd);

	info->cluster_size = q->cluster_size;
	info->compat = q->version >= 3 ? "1.1" : "0.10";
	info->lazy_refcounts = q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
	info->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
	info->extended_l2 = q->ext_l2;
	info->refcount_bits = (int)q->refcount_bits;
	info->compression_type = q->compression_type ? "zstd" : "zlib";
	info->dirty = q->incompat & QCOW2_INCOMPAT_DIRTY;
	if (q->backing_file) {
		info->backing_file = strdup(q->backing_file);
		info->full_backing = block_backing_path(bd->filename, q->backing_file);
		if (!info->backing_file || !info->full_backing)
			return -ENOMEM;
	}
	if (q->backing_fmt && !(info->backing_fmt = strdup(q->backing_fmt)))
		return -ENOMEM;
	return qcow2_snap_list(bd, &info->snapshots, &info->nb_snapshots);
}

static int qcow2_resize(struct blockdev *bd, uint64_t size, const char *prealloc)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t old = bd->size;
	int r;

	if (q->nb_snaps) {
		log_error("%s: cannot resize an image which has snapshots", bd->filename);
		return -ENOTSUP;
	}
	if (size > QCOW2_MAX_VSIZE)
		return -EFBIG;
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	if (size < old) {
		r = qcow2_free_range(bd, size, old);
		if (r)
			return r;
		/* A partial last cluster must read as zeroes past the new end when grown again. */
		if (size & (q->cluster_size - 1)) {
			uint64_t e = qcow2_align_up(size, q->cluster_size);
			uint8_t *z = calloc(1, e - size);
			struct iovec iov = { z, e - size };
			struct bvec v;
			if (!z)
				return -ENOMEM;
			bvec_init(&v, &iov, 1);
			bd->size = e;
			r = qcow2_pwritev(bd, size, &v);
			free(z);
			if (r)
				return r;
		}
	}
	r = qcow2_grow_l1(bd, l1_needed(q, size));
	if (r)
		return r;
	bd->size = size;
	r = qcow2_write_header(bd);
	if (!r && size > old)
		r = qcow2_preallocate(bd, old, size, prealloc);
	return r;
}

static int qcow2_set_backing(struct blockdev *bd, const char *file, const char *fmt)
{
	struct qcow2 *q = qcow2_of(bd);
	char *of = q->backing_file, *ofmt = q->backing_fmt;
	int r;

	q->backing_file = file && *file ? strdup(file) : NULL;
	q->backing_fmt = file && *file && fmt && *fmt ? strdup(fmt) : NULL;
	r = qcow2_write_header(bd);
	if (r) {
		free(q->backing_file);
		free(q->backing_fmt);
		q->backing_file = of;
		q->backing_fmt = ofmt;
		return r;
	}
	free(of);
	free(ofmt);
	return 0;
}

static int parse_create(const struct block_create_opts *o, uint32_t *version, uint32_t *cbits,
			uint32_t *rorder, uint8_t *ctype)
{
	uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
	int rb = o->refcount_bits ? o->refcount_bits : 16;

	*version = 3;
	if (o->compat) {
		if (!strcmp(o->compat, "0.10") || !strcmp(o->compat, "v2"))
			*version = 2;
		else if (strcmp(o->compat, "1.1") && strcmp(o->compat, "v3")) {
			log_error("qcow2: invalid compat '%s'", o->compat);
			return -EINVAL;
		}
	}
	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1))) {
		log_error("qcow2: cluster size must be a power of two between 512 and 2M");
		return -EINVAL;
	}
	*cbits = (uint32_t)__builtin_ctz(cs);
	if (rb > 64 || (rb & (rb - 1))) {
		log_error("qcow2: refcount_bits must be a power of two up to 64");
		return -EINVAL;
	}
	*rorder = (uint32_t)__builtin_ctz((unsigned)rb);
	*ctype = 0;
	if (o->compression_type) {
		if (!strcmp(o->compression_type, "zstd"))
			*ctype = 1;
		else if (strcmp(o->compression_type, "zlib")) {
			log_error("qcow2: unknown compression type '%s'", o->compression_type);
			return -EINVAL;
		}
	}
	if (*version == 2 && (rb != 16 || o->lazy_refcounts || *ctype || o->extended_l2)) {
		log_error("qcow2: compat=0.10 supports neither lazy refcounts, refcount_bits != 16, zstd nor extended L2");
		return -EINVAL;
	}
	if (o->extended_l2 && cs < 16384) {
		log_error("qcow2: extended_l2 needs a cluster size of at least 16k");
		return -EINVAL;
	}
	return 0;
}

static int qcow2_create(const char *path, const struct block_create_opts *o)
{
	uint32_t version, cbits, rorder, cs;
	uint8_t ctype;
	uint64_t size = o->size;
	char *bfmt = NULL;
	struct bfile *f;
	uint8_t *buf;
	int r;

	r = parse_create(o, &version, &cbits, &rorder, &ctype);
	if (r)
		return r;
	cs = 1u << cbits;
	if (o->backing_file) {
		struct block_open_opts bo = { .format = o->backing_fmt, .read_only = true,
					      .allowed_dirs = o->allowed_dirs };
		struct blockdev *b;
		char *bp = block_backing_path(path, o->backing_file);
		if (!bp)
			return -ENOMEM;
		r = block_open(bp, &bo, &b);
		free(bp);
		if (r) {
			log_error("qcow2: cannot open backing file %s", o->backing_file);
			return r;
		}
		if (!size)
			size = block_size(b);
		bfmt = strdup(o->backing_fmt ? o->backing_fmt : block_format(b));
		block_close(b);
		if (!bfmt)
			return -ENOMEM;
	}
	if (size > QCOW2_MAX_VSIZE) {
		free(bfmt);
		return -EFBIG;
	}
	buf = calloc(3, cs);
	if (!buf) {
		free(bfmt);
		return -ENOMEM;
	}
	/* Cluster 0 header (size 0, no L1), 1 refcount table, 2 refcount block. */
	be32_put(buf, QCOW2_MAGIC);
	be32_put(buf + 4, version);
	be32_put(buf + 20, cbits);
	be64_put(buf + 48, cs);
	be32_put(buf + 56, 1);
	if (version == 3) {
		be64_put(buf + 72, (o->extended_l2 ? QCOW2_INCOMPAT_EXTL2 : 0) |
				   (ctype ? QCOW2_INCOMPAT_COMPRESSION : 0));
		be64_put(buf + 80, o->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
		be32_put(buf + 96, rorder);
		be32_put(buf + 100, 112);
		buf[104] = ctype;
	}
	be64_put(buf + cs, 2ull * cs);
	{
		/* Refcount 1 for clusters 0, 1, 2 at any width. */
		uint32_t bits = 1u << rorder;
		uint8_t *rb = buf + 2 * cs;
		for (int i = 0; i < 3; i++) {
			if (bits < 8)
				rb[(i * bits) / 8] |= (uint8_t)(1u << ((i * bits) % 8));
			else
				rb[(i + 1) * (bits / 8) - 1] = 1;
		}
	}
	r = bfile_open(path, false, false, true, &f);
	if (!r) {
		r = bfile_pwrite(f, buf, 3ull * cs, 0);
		bfile_close(f);
	}
	free(buf);
	if (r) {
		free(bfmt);
		return r;
	}
	struct block_open_opts oo = { .format = "qcow2", .no_backing = true };
	struct blockdev *bd;
	r = block_open(path, &oo, &bd);
	if (r) {
		free(bfmt);
		return r;
	}
	struct qcow2 *q = qcow2_of(bd);
	if (o->backing_file) {
		q->backing_file = strdup(o->backing_file);
		q->backing_fmt = bfmt;
		bfmt = NULL;
		r = qcow2_write_header(bd);
	}
	if (!r && o->lazy_refcounts) {
		/* Creation itself writes refcounts through. */
		q->lazy = false;
	}
	if (!r)
		r = qcow2_grow_l1(bd, l1_needed(q, size));
	if (!r) {
		bd->size = size;
		r = qcow2_write_header(bd);
	}
	if (!r)
		r = qcow2_preallocate(bd, 0, size, o->preallocation);
	if (!r)
		r = qcow2_flush(bd);
	block_close(bd);
	free(bfmt);
	return r;
}

/* qemu's formula, so `measure` agrees with it. */
static uint64_t refcount_meta(uint64_t clusters, uint64_t cs, uint32_t rorder)
{
	uint64_t per_table = cs / 8, per_block = cs * 8 / (1u << rorder);
	uint64_t table = 0, blocks = 0, n = 0, last;

	do {
		last = n;
		blocks = (clusters + table + blocks + per_block - 1) / per_block;
		table = (blocks + per_table - 1) / per_table;
		n = clusters + blocks + table;
	} while (n != last);
	return (blocks + table) * cs;
}

static int qcow2_measure(const struct block_create_opts *o, struct blockdev *src,
			 struct block_measure *out)
{
	uint32_t version, cbits, rorder;
	uint8_t ctype;
	int r = parse_create(o, &version, &cbits, &rorder, &ctype);

	if (r)
		return r;
	uint64_t cs = 1ull << cbits, esize = o->extended_l2 ? 16 : 8;
	uint64_t vs = src ? block_size(src) : o->size;
	uint64_t aligned = qcow2_align_up(vs, cs);
	uint64_t meta = cs;
	uint64_t nl2e = qcow2_align_up(aligned / cs, cs / esize);
	meta += nl2e * esize;
	uint64_t nl1e = qcow2_align_up(nl2e * esize / cs, cs / 8);
	meta += nl1e * 8;
	meta += refcount_meta((meta + aligned) / cs, cs, rorder);
	out->fully_allocated = meta + aligned;
	uint64_t req = 0;
	if (src) {
		for (uint64_t off = 0; off < vs;) {
			uint64_t pnum;
			unsigned fl;
			int depth;
			r = block_status_chain(src, off, vs - off, &pnum, NULL, &fl, &depth);
			if (r)
				return r;
			if ((fl & BLOCK_STATUS_DATA) && !(fl & BLOCK_STATUS_ZERO)) {
				pnum = qcow2_align_up(off + pnum, cs) - off;
				if (pnum > vs - off)
					pnum = vs - off;
				req += off % cs + pnum;
			}
			off += pnum;
		}
	}
	if (o->preallocation && strcmp(o->preallocation, "off"))
		req = aligned;
	out->required = out->fully_allocated - aligned + req;
	return 0;
}

const struct block_driver block_qcow2 = {
	.name = "qcow2",
	.state_size = sizeof(struct qcow2),
	.probe = qcow2_probe,
	.open = qcow2_open,
	.close = qcow2_close,
	.preadv = qcow2_preadv,
	.pwritev = qcow2_pwritev,
	.map_fast = qcow2_map_fast,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.compress = qcow2_compress,
	.write_compressed = qcow2_write_compressed,
	.status = qcow2_status,
	.resize = qcow2_resize,
	.set_backing = qcow2_set_backing,
	.make_empty = qcow2_make_empty,
	.info = qcow2_info,
	.check = qcow2_check,
	.snap_list = qcow2_snap_list,
	.snap_create = qcow2_snap_create,
	.snap_apply = qcow2_snap_apply,
	.snap_delete = qcow2_snap_delete,
	.create = qcow2_create,
	.measure = qcow2_measure,
	.writable = true,
};
