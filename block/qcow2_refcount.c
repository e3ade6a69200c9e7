// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 refcounts: reading and updating them, allocating clusters (and the
 * refcount blocks and table that describe them), and the consistency check
 * with its repairs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"
#include "vireo/log.h"

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *b, uint64_t i)
{
	switch (q->refcount_order) {
	case 0: case 1: case 2: {
		uint32_t bits = q->refcount_bits;
		uint64_t bit = i * bits;
		return (b[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	case 3: return b[i];
	case 4: return be16_get(b + i * 2);
	case 5: return be32_get(b + i * 4);
	default: return be64_get(b + i * 8);
	}
}

static void rb_set(const struct qcow2 *q, uint8_t *b, uint64_t i, uint64_t v)
{
	switch (q->refcount_order) {
	case 0: case 1: case 2: {
		uint32_t bits = q->refcount_bits;
		uint64_t bit = i * bits;
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
		b[bit / 8] = (uint8_t)((b[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
		break;
	}
	case 3: b[i] = (uint8_t)v; break;
	case 4: be16_put(b + i * 2, (uint16_t)v); break;
	case 5: be32_put(b + i * 4, (uint32_t)v); break;
	default: be64_put(b + i * 8, v); break;
	}
}

static uint64_t rc_max(const struct qcow2 *q)
{
	return q->refcount_bits == 64 ? UINT64_MAX : (1ull << q->refcount_bits) - 1;
}

/* Checks a refcount block offset read from the table. */
static int rb_offset_ok(struct blockdev *bd, uint64_t off)
{
	struct qcow2 *q = qcow2_of(bd);

	if (off & (q->cluster_size - 1) || (off & ~L1E_OFFSET_MASK) ||
	    off + q->cluster_size > qcow2_align_up(q->file_size, q->cluster_size)) {
		log_warn_ratelimited(&q->rl, "%s: refcount block offset %#llx invalid",
				     bd->filename, (unsigned long long)off);
		return -EIO;
	}
	return 0;
}

int qcow2_rc_get(struct blockdev *bd, uint64_t ci, uint64_t *rc)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t ri = ci / q->rb_entries;
	uint8_t *b;
	int r;

	if (ri >= q->rt_size || !(q->rt[ri] & L1E_OFFSET_MASK)) {
		*rc = 0;
		return 0;
	}
	r = rb_offset_ok(bd, q->rt[ri]);
	if (r)
		return r;
	r = qcow2_cache_get(bd, &q->rbc, q->rt[ri] & L1E_OFFSET_MASK, false, &b);
	if (r)
		return r;
	*rc = rb_get(q, b, ci % q->rb_entries);
	return 0;
}

static bool avoided(const struct qcow2 *q, uint64_t ci)
{
	return q->avoid && ci < q->avoid_n && q->avoid[ci];
}

/* Grows the refcount table so that it has an entry NEED_RI. */
static int grow_rt(struct blockdev *bd, uint64_t need_ri)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t E = q->rb_entries, cs = q->cluster_size;
	uint64_t old_n = q->rt_size, per = cs / 8;
	uint64_t R0 = old_n, base = R0 * E, new_n, m = 1, T;
	uint8_t *blocks = NULL, *table = NULL;
	uint64_t old_off = q->rt_offset, old_clusters = q->rt_clusters;
	int r;

	new_n = need_ri + 1 > old_n + old_n / 2 ? need_ri + 1 : old_n + old_n / 2;
	for (;;) {
		new_n = qcow2_align_up(new_n, per);
		T = new_n / per;
		uint64_t mm = (m + T + E - 1) / E;
		if (mm > m) {
			m = mm;
			continue;
		}
		if (new_n < R0 + m) {
			new_n = R0 + m;
			continue;
		}
		break;
	}
	if (new_n * 8 > QCOW2_MAX_RT_BYTES * 8ull) {
		log_error("%s: refcount table would grow too large", bd->filename);
		return -EFBIG;
	}
	while (avoided(q, base))      /* repair: never land on a referenced cluster */
		base++;
	if (base / E != R0)
		return -ENOSPC;
	blocks = calloc(m, cs);
	table = calloc(T, cs);
	if (!blocks || !table) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t c = base; c < base + m + T; c++) {
		uint64_t k = c / E - R0;
		if (k >= m) {
			r = -EIO;
			goto out;
		}
		rb_set(q, blocks + k * cs, c % E, 1);
	}
	for (uint64_t i = 0; i < old_n; i++)
		be64_put(table + i * 8, q->rt[i]);
	for (uint64_t k = 0; k < m; k++)
		be64_put(table + (R0 + k) * 8, (base + k) * cs);
	qcow2_note_end(q, (base + m + T) * cs);
	r = bfile_pwrite(bd->file, blocks, m * cs, base * cs);
	if (!r)
		r = bfile_pwrite(bd->file, table, T * cs, (base + m) * cs);
	if (r)
		goto out;
	uint64_t *nrt = calloc(new_n, 8);
	if (!nrt) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < new_n; i++)
		nrt[i] = be64_get(table + i * 8);
	free(q->rt);
	q->rt = nrt;
	q->rt_size = new_n;
	q->rt_offset = (base + m) * cs;
	q->rt_clusters = (uint32_t)T;
	r = qcow2_write_header(bd);
	if (r)
		goto out;
	r = qcow2_free_clusters(bd, old_off, (uint64_t)old_clusters * cs);
out:
	free(blocks);
	free(table);
	return r;
}

static bool in_tables(const struct qcow2 *q, uint64_t ci)
{
	uint64_t off = ci << q->cluster_bits;

	return (off >= q->rt_offset &&
		off < q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits)) ||
	       (off >= q->l1_offset && off < q->l1_offset + (uint64_t)q->l1_size * 8);
}

/* Makes sure refcount block RI exists. */
static int ensure_refblock(struct blockdev *bd, uint64_t ri)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t E = q->rb_entries, cs = q->cluster_size;
	uint8_t *b;
	int r;

	if (ri >= q->rt_size) {
		r = grow_rt(bd, ri);
		if (r)
			return r;
	}
	if (q->rt[ri] & L1E_OFFSET_MASK)
		return 0;
	/*
	 * Every cluster of this range is free by its (absent) refcounts: put
	 * the block at its start, but never on the header, the refcount table
	 * or the L1 table (a corrupt image may leave those uncounted).
	 */
	uint64_t ci = ri * E;
	while (ci < (ri + 1) * E && (ci == 0 || avoided(q, ci) || in_tables(q, ci)))
		ci++;
	if (ci == (ri + 1) * E)
		return -ENOSPC;
	r = qcow2_cache_get(bd, &q->rbc, ci * cs, true, &b);
	if (r)
		return r;
	qcow2_note_end(q, (ci + 1) * cs);
	rb_set(q, b, ci - ri * E, 1);
	r = bfile_pwrite(bd->file, b, cs, ci * cs);
	if (r) {
		qcow2_cache_drop(&q->rbc, ci * cs);
		return r;
	}
	uint8_t ent[8];
	be64_put(ent, ci * cs);
	r = bfile_pwrite(bd->file, ent, 8, q->rt_offset + ri * 8);
	if (r)
		return r;
	q->rt[ri] = ci * cs;
	return 0;
}

static int rc_set(struct blockdev *bd, uint64_t ci, uint64_t v)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t ri = ci / q->rb_entries, i = ci % q->rb_entries;
	uint8_t *b;
	int r;

	r = ensure_refblock(bd, ri);
	if (r)
		return r;
	r = rb_offset_ok(bd, q->rt[ri]);
	if (r)
		return r;
	uint64_t boff = q->rt[ri] & L1E_OFFSET_MASK;
	r = qcow2_cache_get(bd, &q->rbc, boff, false, &b);
	if (r)
		return r;
	rb_set(q, b, i, v);
	if (v == 0 && ci < q->free_hint)
		q->free_hint = ci;
	if (q->lazy) {
		qcow2_cache_mark_dirty(&q->rbc, b);
		return 0;
	}
	/* Write through the bytes that changed (a whole byte for sub-byte widths). */
	uint64_t bit = i * q->refcount_bits, bytes = q->refcount_bits >= 8 ? q->refcount_bits / 8 : 1;
	uint64_t at = bit / 8;
	return bfile_pwrite(bd->file, b + at, bytes, boff + at);
}

int qcow2_rc_update(struct blockdev *bd, uint64_t off, uint64_t len, int64_t addend)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t first, last;

	if (!len)
		return 0;
	first = off >> q->cluster_bits;
	last = (off + len - 1) >> q->cluster_bits;
	for (uint64_t ci = first; ci <= last; ci++) {
		uint64_t rc;
		int r = qcow2_rc_get(bd, ci, &rc);
		if (r)
			return r;
		if ((addend < 0 && rc < (uint64_t)-addend) ||
		    (addend > 0 && rc > rc_max(q) - (uint64_t)addend)) {
			log_warn_ratelimited(&q->rl, "%s: refcount of cluster %#llx would %s",
					     bd->filename,
					     (unsigned long long)(ci << q->cluster_bits),
					     addend < 0 ? "go below 0" : "overflow");
			return -EIO;
		}
		r = rc_set(bd, ci, rc + (uint64_t)addend);
		if (r)
			return r;
		if (rc + (uint64_t)addend == 0) {
			qcow2_cache_drop(&q->l2c, ci << q->cluster_bits);
			qcow2_cache_drop(&q->rbc, ci << q->cluster_bits);
		}
	}
	return 0;
}

int qcow2_free_clusters(struct blockdev *bd, uint64_t off, uint64_t len)
{
	return qcow2_rc_update(bd, off, len, -1);
}

/* Finds N free clusters from the hint on; returns the first index. */
static int find_free(struct blockdev *bd, uint64_t n, uint64_t *start)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t ci = q->free_hint, run = 0, s = ci, fsize;
	bool seen_free = false;
	uint64_t limit = (L1E_OFFSET_MASK >> q->cluster_bits);

	fsize = q->file_size;
	/*
	 * Past the end of the file every cluster is free in a sane image; a
	 * scan that goes much further means corrupt refcounts (and would
	 * otherwise take unbounded time).
	 */
	uint64_t scan_max = (fsize >> q->cluster_bits) + 2 * q->rb_entries + n;
	if (limit > ci + scan_max)
		limit = ci + scan_max;
	while (run < n) {
		uint64_t rc;
		if (ci >= limit) {
			log_warn_ratelimited(&q->rl, "%s: no free cluster found: refcounts corrupt?",
					     bd->filename);
			return -EIO;
		}
		uint64_t ri = ci / q->rb_entries;
		if (ri >= q->rt_size || !(q->rt[ri] & L1E_OFFSET_MASK)) {
			/* A whole uncovered range is free (unless repair avoids parts). */
			if (!q->avoid) {
				seen_free = true;
				if (!run)
					s = ci;
				uint64_t end = (ri + 1) * q->rb_entries;
				run += end - ci;
				ci = end;
				continue;
			}
			rc = 0;
		} else {
			int r = qcow2_rc_get(bd, ci, &rc);
			if (r)
				return r;
		}
		if (rc == 0 && !avoided(q, ci)) {
			if (!run)
				s = ci;
			run++;
			seen_free = true;
		} else {
			run = 0;
			/* Nothing free below here: the next search starts past it. */
			if (!seen_free)
				q->free_hint = ci + 1;
		}
		ci++;
	}
	*start = s;
	return 0;
}

int qcow2_alloc_clusters(struct blockdev *bd, uint64_t n, uint64_t *off)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t s;
	int r;

	int tries = 0;

	if (!n)
		return -EINVAL;
again:
	if (++tries > 64) {
		log_warn_ratelimited(&q->rl, "%s: cannot allocate: refcounts corrupt?", bd->filename);
		return -EIO;
	}
	r = find_free(bd, n, &s);
	if (r)
		return r;
	/* Create the refcount blocks this run needs, then look again if one landed in it. */
	for (uint64_t ri = s / q->rb_entries; ri <= (s + n - 1) / q->rb_entries; ri++) {
		if (ri < q->rt_size && (q->rt[ri] & L1E_OFFSET_MASK))
			continue;
		r = ensure_refblock(bd, ri);
		if (r)
			return r;
		goto again;
	}
	for (uint64_t ci = s; ci < s + n; ci++) {
		uint64_t rc;
		r = qcow2_rc_get(bd, ci, &rc);
		if (r)
			return r;
		if (rc)
			goto again;
	}
	for (uint64_t ci = s; ci < s + n; ci++) {
		r = rc_set(bd, ci, 1);
		if (r)
			return r;
	}
	if (s == q->free_hint)
		q->free_hint = s + n;
	qcow2_note_end(q, (s + n) << q->cluster_bits);
	*off = s << q->cluster_bits;
	return 0;
}

int qcow2_alloc_bytes(struct blockdev *bd, uint64_t len, uint64_t *off)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, used = q->cbytes_off & (cs - 1), got;
	int r;

	if (!len || len > cs)
		return -EINVAL;
	/* Each compressed range adds one to every cluster it touches. */
	if (q->cbytes_off && used && cs - used >= len) {
		r = qcow2_rc_update(bd, q->cbytes_off, 1, 1);
		if (r)
			return r;
		*off = q->cbytes_off;
		q->cbytes_off += len;
		return 0;
	}
	r = qcow2_alloc_clusters(bd, 1, &got);
	if (r)
		return r;
	if (q->cbytes_off && used && got == (q->cbytes_off | (cs - 1)) + 1) {
		/* Contiguous: the data spans the end of the previous cluster. */
		r = qcow2_rc_update(bd, q->cbytes_off, 1, 1);
		if (r)
			return r;
		*off = q->cbytes_off;
	} else {
		*off = got;
	}
	q->cbytes_off = *off + len;
	return 0;
}

int qcow2_rc_flush(struct blockdev *bd)
{
	return qcow2_cache_flush(bd, &qcow2_of(bd)->rbc);
}

/* ---- check and repair ---- */

struct chk {
	struct blockdev *bd;
	struct qcow2 *q;
	uint32_t *ref;         /* computed refcounts */
	uint64_t n;            /* clusters in the file */
	struct block_check *res;
	unsigned fix;
	uint8_t *l2buf;
	uint8_t *seen;         /* L2 tables walked in the current L1 table */
};

static void chk_ref(struct chk *c, uint64_t off, uint64_t len, const char *what)
{
	struct qcow2 *q = c->q;

	if (!len)
		return;
	uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
	for (uint64_t ci = first; ci <= last; ci++) {
		if (ci >= c->n) {
			log_error("%s: %s at %#llx is past the end of the file", c->bd->filename,
				  what, (unsigned long long)(ci << q->cluster_bits));
			c->res->corruptions++;
			return;
		}
		if (c->ref[ci] < UINT32_MAX)
			c->ref[ci]++;
	}
}

/* Counts the references of one L1 table; ACTIVE also checks COPIED flags later. */
static int chk_l1(struct chk *c, const uint64_t *l1, uint32_t l1_size, bool active)
{
	struct qcow2 *q = c->q;
	uint64_t cs = q->cluster_size, prev = 0;

	memset(c->seen, 0, c->n / 8 + 1);
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t l2off = l1[i] & L1E_OFFSET_MASK;
		if (!l2off)
			continue;
		if (l2off & (cs - 1)) {
			log_error("%s: L2 table offset %#llx not cluster aligned", c->bd->filename,
				  (unsigned long long)l2off);
			c->res->corruptions++;
			continue;
		}
		chk_ref(c, l2off, cs, "L2 table");
		if ((l2off >> q->cluster_bits) >= c->n)
			continue;
		/* One L1 table names each L2 table once; do not walk repeats. */
		uint64_t l2c = l2off >> q->cluster_bits;
		if (c->seen[l2c / 8] & (1u << (l2c % 8))) {
			log_error("%s: L2 table %#llx used twice", c->bd->filename,
				  (unsigned long long)l2off);
			c->res->corruptions++;
			continue;
		}
		c->seen[l2c / 8] |= (uint8_t)(1u << (l2c % 8));
		int r = bfile_pread(c->bd->file, c->l2buf, cs, l2off);
		if (r) {
			c->res->check_errors++;
			continue;
		}
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			uint64_t e = be64_get(c->l2buf + (size_t)j * q->l2_esize);
			if (e & QCOW_OFLAG_COMPRESSED) {
				uint64_t h, sz;
				if (e & QCOW_OFLAG_COPIED) {
					log_error("%s: compressed cluster with COPIED flag",
						  c->bd->filename);
					c->res->corruptions++;
				}
				qcow2_compressed_range(q, e, &h, &sz);
				chk_ref(c, h, sz, "compressed cluster");
				if (active) {
					c->res->allocated_clusters++;
					c->res->compressed_clusters++;
				}
				continue;
			}
			uint64_t h = e & L2E_OFFSET_MASK;
			if (!h) {
				if (active && q->ext_l2 &&
				    (be64_get(c->l2buf + (size_t)j * 16 + 8) & 0xffffffffu)) {
					log_error("%s: subclusters allocated without a cluster",
						  c->bd->filename);
					c->res->corruptions++;
				}
				continue;
			}
			if (h & (cs - 1)) {
				log_error("%s: data cluster offset %#llx not cluster aligned",
					  c->bd->filename, (unsigned long long)h);
				c->res->corruptions++;
				continue;
			}
			chk_ref(c, h, cs, "data cluster");
			if (active) {
				c->res->allocated_clusters++;
				if (prev && h != prev + cs)
					c->res->fragmented_clusters++;
				prev = h;
			}
		}
	}
	return 0;
}

static int chk_copied(struct chk *c)
{
	struct qcow2 *q = c->q;
	uint64_t cs = q->cluster_size;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2off = q->l1[i] & L1E_OFFSET_MASK, rc;
		int r;
		if (!l2off || (l2off & (cs - 1)) || (l2off >> q->cluster_bits) >= c->n)
			continue;
		r = qcow2_rc_get(c->bd, l2off >> q->cluster_bits, &rc);
		if (r)
			return r;
		bool want = rc == 1, have = q->l1[i] & QCOW_OFLAG_COPIED;
		if (want != have) {
			c->res->corruptions++;
			if (c->fix & BLOCK_FIX_ERRORS) {
				q->l1[i] = want ? q->l1[i] | QCOW_OFLAG_COPIED
						: q->l1[i] & ~QCOW_OFLAG_COPIED;
				r = qcow2_write_l1_entry(c->bd, i);
				if (r)
					return r;
				c->res->corruptions_fixed++;
			} else {
				log_error("%s: OFLAG_COPIED L2 cluster: l1_index=%u refcount=%llu",
					  c->bd->filename, i, (unsigned long long)rc);
			}
		}
		r = bfile_pread(c->bd->file, c->l2buf, cs, l2off);
		if (r)
			return r;
		bool changed = false;
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			uint8_t *p = c->l2buf + (size_t)j * q->l2_esize;
			uint64_t e = be64_get(p), h = e & L2E_OFFSET_MASK;
			if ((e & QCOW_OFLAG_COMPRESSED) || !h || (h & (cs - 1)) ||
			    (h >> q->cluster_bits) >= c->n)
				continue;
			r = qcow2_rc_get(c->bd, h >> q->cluster_bits, &rc);
			if (r)
				return r;
			bool w = rc == 1, hv = e & QCOW_OFLAG_COPIED;
			if (w == hv)
				continue;
			c->res->corruptions++;
			if (c->fix & BLOCK_FIX_ERRORS) {
				be64_put(p, w ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED);
				changed = true;
				c->res->corruptions_fixed++;
			} else if (!(c->fix & BLOCK_FIX_ERRORS)) {
				log_error("%s: OFLAG_COPIED data cluster: l2_entry=%llx refcount=%llu",
					  c->bd->filename, (unsigned long long)e,
					  (unsigned long long)rc);
			}
		}
		if (changed) {
			r = bfile_pwrite(c->bd->file, c->l2buf, cs, l2off);
			if (r)
				return r;
			qcow2_cache_drop(&q->l2c, l2off);
		}
	}
	return 0;
}

/* A refcount block or table cluster (repairs may have created it). */
static bool is_meta(const struct qcow2 *q, uint64_t ci)
{
	uint64_t off = ci << q->cluster_bits;

	if (off >= q->rt_offset && off < q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits))
		return true;
	for (uint64_t i = 0; i < q->rt_size; i++)
		if ((q->rt[i] & L1E_OFFSET_MASK) == off)
			return true;
	return false;
}

static int chk_pass(struct blockdev *bd, struct block_check *res, unsigned fix)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, fsize;
	struct chk c = { .bd = bd, .q = q, .res = res, .fix = fix };
	int r;

	r = bfile_size(bd->file, &fsize);
	if (r)
		return r;
	c.n = (fsize + cs - 1) >> q->cluster_bits;
	c.ref = calloc(c.n ? c.n : 1, sizeof(uint32_t));
	c.l2buf = malloc(cs);
	c.seen = malloc(c.n / 8 + 1);
	if (!c.ref || !c.l2buf || !c.seen) {
		r = -ENOMEM;
		goto out;
	}
	chk_ref(&c, 0, cs, "header");
	chk_ref(&c, q->l1_offset, (uint64_t)q->l1_size * 8, "L1 table");
	chk_l1(&c, q->l1, q->l1_size, true);
	for (int i = 0; i < q->nb_snaps; i++) {
		struct qcow2_snapshot *s = &q->snaps[i];
		uint64_t *l1 = calloc(s->l1_size ? s->l1_size : 1, 8);
		if (!l1) {
			r = -ENOMEM;
			goto out;
		}
		chk_ref(&c, s->l1_offset, (uint64_t)s->l1_size * 8, "snapshot L1 table");
		r = bfile_pread(bd->file, l1, (size_t)s->l1_size * 8, s->l1_offset);
		for (uint32_t j = 0; !r && j < s->l1_size; j++)
			l1[j] = be64_get(&l1[j]);
		if (!r)
			chk_l1(&c, l1, s->l1_size, false);
		else
			res->check_errors++;
		free(l1);
	}
	if (q->nb_snaps) {
		uint64_t sz = 0;
		for (int i = 0; i < q->nb_snaps; i++)
			sz += qcow2_align_up(40 + q->snaps[i].extra_size + strlen(q->snaps[i].id) +
					     strlen(q->snaps[i].name), 8);
		chk_ref(&c, q->snap_offset, sz, "snapshot table");
	}
	chk_ref(&c, q->rt_offset, (uint64_t)q->rt_clusters * cs, "refcount table");
	for (uint64_t i = 0; i < q->rt_size; i++) {
		uint64_t o = q->rt[i] & L1E_OFFSET_MASK;
		if (!o)
			continue;
		if (o & (cs - 1)) {
			log_error("%s: refcount block %llu not cluster aligned", bd->filename,
				  (unsigned long long)i);
			res->corruptions++;
			continue;
		}
		chk_ref(&c, o, cs, "refcount block");
	}

	/* Compare with the stored refcounts. */
	if (fix & BLOCK_FIX_ERRORS) {
		q->avoid = c.ref;
		q->avoid_n = c.n;
	}
	/* Like qemu-img, refcounts past the end of the file are not looked at. */
	uint64_t last_used = 0;
	for (uint64_t ci = 0; ci < c.n; ci++) {
		uint64_t rc;
		r = qcow2_rc_get(bd, ci, &rc);
		if (r) {
			res->check_errors++;
			continue;
		}
		uint64_t want = c.ref[ci];
		if (rc || want)
			last_used = ci + 1;
		if (rc == want)
			continue;
		if (rc > want && (fix & BLOCK_FIX_ERRORS) && is_meta(q, ci))
			continue;       /* created by this repair */
		if (rc > want) {
			res->leaks++;
			if (fix & BLOCK_FIX_LEAKS) {
				r = rc_set(bd, ci, want);
				if (!r)
					res->leaks_fixed++;
			} else {
				log_verbose("%s: leaked cluster %llu refcount=%llu reference=%llu",
					    bd->filename, (unsigned long long)ci,
					    (unsigned long long)rc, (unsigned long long)want);
			}
		} else {
			res->corruptions++;
			if (fix & BLOCK_FIX_ERRORS) {
				r = rc_set(bd, ci, want);
				if (!r)
					res->corruptions_fixed++;
			} else {
				log_error("%s: refcount too low: cluster %llu refcount=%llu reference=%llu",
					  bd->filename, (unsigned long long)ci,
					  (unsigned long long)rc, (unsigned long long)want);
			}
		}
	}
	q->avoid = NULL;
	q->avoid_n = 0;
	r = chk_copied(&c);
	if (r)
		res->check_errors++;
	res->image_end_offset = last_used * cs;
	res->total_clusters = (bd->size + cs - 1) / cs;
	if (fix)
		qcow2_rc_flush(bd);
	r = 0;
out:
	q->avoid = NULL;
	free(c.ref);
	free(c.l2buf);
	free(c.seen);
	return r;
}

int qcow2_check(struct blockdev *bd, struct block_check *res, unsigned fix)
{
	struct qcow2 *q = qcow2_of(bd);
	int r;

	r = chk_pass(bd, res, fix);
	if (r || !fix)
		return r;
	/* Report what remains after the repairs. */
	struct block_check after = {0};
	r = chk_pass(bd, &after, 0);
	if (r)
		return r;
	after.corruptions_fixed = res->corruptions > after.corruptions
					  ? res->corruptions - after.corruptions : 0;
	after.leaks_fixed = res->leaks > after.leaks ? res->leaks - after.leaks : 0;
	*res = after;
	q->free_hint = 0;
	return 0;
}
