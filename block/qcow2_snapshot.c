// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 internal snapshots: the snapshot table, and create / apply / delete,
 * which move refcounts over whole L1 trees and then recompute the COPIED
 * flags of the active tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qcow2.h"
#include "vireo/log.h"

#define SNAP_TABLE_MAX (64u << 20)

void qcow2_free_snapshots(struct qcow2 *q)
{
	for (int i = 0; i < q->nb_snaps && q->snaps; i++) {
		free(q->snaps[i].id);
		free(q->snaps[i].name);
		free(q->snaps[i].extra);
	}
	free(q->snaps);
	q->snaps = NULL;
}

int qcow2_read_snapshots(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t off = q->snap_offset;
	int r = 0;

	if (!q->nb_snaps)
		return 0;
	if (off & (q->cluster_size - 1) || off >= q->file_size) {
		log_error("%s: snapshot table offset invalid", bd->filename);
		return -EINVAL;
	}
	q->snaps = calloc((size_t)q->nb_snaps, sizeof(*q->snaps));
	if (!q->snaps)
		return -ENOMEM;
	for (int i = 0; i < q->nb_snaps; i++) {
		struct qcow2_snapshot *s = &q->snaps[i];
		uint8_t h[40];
		if (off + 40 > q->file_size || off - q->snap_offset > SNAP_TABLE_MAX)
			goto trunc;
		r = bfile_pread(bd->file, h, 40, off);
		if (r)
			return r;
		s->l1_offset = be64_get(h);
		s->l1_size = be32_get(h + 8);
		uint16_t idl = be16_get(h + 12), nl = be16_get(h + 14);
		s->date_sec = be32_get(h + 16);
		s->date_nsec = be32_get(h + 20);
		s->vm_clock_nsec = be64_get(h + 24);
		s->vm_state_size = be32_get(h + 32);
		s->extra_size = be32_get(h + 36);
		s->icount = UINT64_MAX;
		if (s->extra_size > 1024) {
			log_error("%s: snapshot extra data too large", bd->filename);
			return -EINVAL;
		}
		uint64_t vlen = (uint64_t)s->extra_size + idl + nl;
		if (off + 40 + vlen > q->file_size)
			goto trunc;
		uint8_t *v = malloc(vlen + 1);
		if (!v)
			return -ENOMEM;
		r = bfile_pread(bd->file, v, vlen, off + 40);
		if (r) {
			free(v);
			return r;
		}
		s->extra = malloc(s->extra_size ? s->extra_size : 1);
		s->id = strndup((char *)v + s->extra_size, idl);
		s->name = strndup((char *)v + s->extra_size + idl, nl);
		if (!s->extra || !s->id || !s->name) {
			free(v);
			return -ENOMEM;
		}
		memcpy(s->extra, v, s->extra_size);
		free(v);
		if (s->extra_size >= 8)
			s->vm_state_size_large = be64_get(s->extra);
		s->disk_size = bd->size;
		if (s->extra_size >= 16)
			s->disk_size = be64_get(s->extra + 8);
		if (s->extra_size >= 24)
			s->icount = be64_get(s->extra + 16);
		if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES ||
		    (s->l1_size && ((s->l1_offset & (q->cluster_size - 1)) ||
				    s->l1_offset > q->file_size ||
				    (uint64_t)s->l1_size * 8 > q->file_size - s->l1_offset))) {
			log_error("%s: snapshot %s has an invalid L1 table", bd->filename, s->id);
			return -EINVAL;
		}
		off += qcow2_align_up(40 + vlen, 8);
	}
	return 0;
trunc:
	log_error("%s: snapshot table past the end of the file", bd->filename);
	return -EINVAL;
}

static uint64_t table_size(struct qcow2 *q)
{
	uint64_t sz = 0;

	for (int i = 0; i < q->nb_snaps; i++)
		sz += qcow2_align_up(40 + q->snaps[i].extra_size + strlen(q->snaps[i].id) +
				     strlen(q->snaps[i].name), 8);
	return sz;
}

/* Writes the in-memory table to a new place, points the header at it, frees the old one. */
static int write_table(struct blockdev *bd, uint64_t old_off, uint64_t old_size)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t sz = table_size(q), cs = q->cluster_size, off = 0;
	uint8_t *buf;
	int r = 0;

	if (sz) {
		buf = calloc(1, sz);
		if (!buf)
			return -ENOMEM;
		uint64_t p = 0;
		for (int i = 0; i < q->nb_snaps; i++) {
			struct qcow2_snapshot *s = &q->snaps[i];
			size_t idl = strlen(s->id), nl = strlen(s->name);
			be64_put(buf + p, s->l1_offset);
			be32_put(buf + p + 8, s->l1_size);
			be16_put(buf + p + 12, (uint16_t)idl);
			be16_put(buf + p + 14, (uint16_t)nl);
			be32_put(buf + p + 16, s->date_sec);
			be32_put(buf + p + 20, s->date_nsec);
			be64_put(buf + p + 24, s->vm_clock_nsec);
			be32_put(buf + p + 32, s->vm_state_size);
			be32_put(buf + p + 36, s->extra_size);
			memcpy(buf + p + 40, s->extra, s->extra_size);
			memcpy(buf + p + 40 + s->extra_size, s->id, idl);
			memcpy(buf + p + 40 + s->extra_size + idl, s->name, nl);
			p += qcow2_align_up(40 + s->extra_size + idl + nl, 8);
		}
		r = qcow2_alloc_clusters(bd, qcow2_align_up(sz, cs) / cs, &off);
		if (!r)
			r = bfile_pwrite(bd->file, buf, sz, off);
		free(buf);
		if (r)
			return r;
	}
	q->snap_offset = off;
	r = qcow2_write_header(bd);
	if (!r && old_size)
		r = qcow2_free_clusters(bd, old_off, old_size);
	return r;
}

int qcow2_tree_refcount(struct blockdev *bd, const uint64_t *l1, uint32_t l1_size, int64_t addend)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	uint8_t *t = malloc(cs);
	int r = 0;

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < l1_size && !r; i++) {
		uint64_t l2off = l1[i] & L1E_OFFSET_MASK;
		if (!l2off)
			continue;
		if (l2off & (cs - 1)) {
			r = -EIO;
			break;
		}
		r = bfile_pread(bd->file, t, cs, l2off);
		for (uint32_t j = 0; !r && j < q->l2_entries; j++) {
			uint64_t e = be64_get(t + (size_t)j * q->l2_esize);
			if (e & QCOW_OFLAG_COMPRESSED) {
				uint64_t h, sz;
				qcow2_compressed_range(q, e, &h, &sz);
				r = qcow2_rc_update(bd, h, sz, addend);
			} else if (e & L2E_OFFSET_MASK) {
				r = qcow2_rc_update(bd, e & L2E_OFFSET_MASK, cs, addend);
			}
		}
		if (!r)
			r = qcow2_rc_update(bd, l2off, cs, addend);
	}
	free(t);
	return r;
}

int qcow2_fix_copied(struct blockdev *bd)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size;
	int r;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2off = q->l1[i] & L1E_OFFSET_MASK, rc;
		uint8_t *t;
		if (!l2off)
			continue;
		r = qcow2_rc_get(bd, l2off >> q->cluster_bits, &rc);
		if (r)
			return r;
		uint64_t want = rc == 1 ? q->l1[i] | QCOW_OFLAG_COPIED : q->l1[i] & ~QCOW_OFLAG_COPIED;
		if (want != q->l1[i]) {
			q->l1[i] = want;
			r = qcow2_write_l1_entry(bd, i);
			if (r)
				return r;
		}
		/* Shared L2 tables too: the flag follows the data cluster's refcount. */
		r = qcow2_cache_get(bd, &q->l2c, l2off, false, &t);
		if (r)
			return r;
		bool changed = false;
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			uint8_t *p = t + (size_t)j * q->l2_esize;
			uint64_t e = be64_get(p), ne;
			if (e & QCOW_OFLAG_COMPRESSED) {
				ne = e & ~QCOW_OFLAG_COPIED;
			} else if (e & L2E_OFFSET_MASK) {
				r = qcow2_rc_get(bd, (e & L2E_OFFSET_MASK) >> q->cluster_bits, &rc);
				if (r)
					return r;
				ne = rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED;
			} else {
				continue;
			}
			if (ne != e) {
				be64_put(p, ne);
				changed = true;
			}
		}
		if (changed) {
			r = bfile_pwrite(bd->file, t, cs, l2off);
			if (r)
				return r;
		}
	}
	return 0;
}

static int find_snap(struct qcow2 *q, const char *id)
{
	for (int i = 0; i < q->nb_snaps; i++)
		if (!strcmp(q->snaps[i].id, id))
			return i;
	for (int i = 0; i < q->nb_snaps; i++)
		if (!strcmp(q->snaps[i].name, id))
			return i;
	return -1;
}

int qcow2_snap_list(struct blockdev *bd, struct block_snapshot **out, int *n)
{
	struct qcow2 *q = qcow2_of(bd);
	struct block_snapshot *s;

	*out = NULL;
	*n = 0;
	if (!q->nb_snaps)
		return 0;
	s = calloc((size_t)q->nb_snaps, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (int i = 0; i < q->nb_snaps; i++) {
		struct qcow2_snapshot *x = &q->snaps[i];
		s[i].id = strdup(x->id);
		s[i].name = strdup(x->name);
		s[i].vm_state_size = x->vm_state_size_large ? x->vm_state_size_large : x->vm_state_size;
		s[i].date_sec = x->date_sec;
		s[i].date_nsec = x->date_nsec;
		s[i].vm_clock_nsec = x->vm_clock_nsec;
		s[i].icount = x->icount;
		s[i].disk_size = x->disk_size;
		if (!s[i].id || !s[i].name) {
			block_snapshots_free(s, q->nb_snaps);
			return -ENOMEM;
		}
	}
	*out = s;
	*n = q->nb_snaps;
	return 0;
}

static int read_l1(struct blockdev *bd, uint64_t off, uint32_t n, uint64_t **out)
{
	uint64_t *t = calloc(n ? n : 1, 8);
	int r;

	if (!t)
		return -ENOMEM;
	r = bfile_pread(bd->file, t, (size_t)n * 8, off);
	if (r) {
		free(t);
		return r;
	}
	for (uint32_t i = 0; i < n; i++)
		t[i] = be64_get(&t[i]);
	*out = t;
	return 0;
}

int qcow2_snap_create(struct blockdev *bd, const char *name)
{
	struct qcow2 *q = qcow2_of(bd);
	uint64_t cs = q->cluster_size, l1off = 0, old_off = q->snap_offset, old_size;
	uint64_t l1bytes = (uint64_t)q->l1_size * 8;
	struct timespec ts;
	char id[24];
	long maxid = 0;
	int r;

	if (!name || !*name || strlen(name) > 1024)
		return -EINVAL;
	if (find_snap(q, name) >= 0) {
		log_error("%s: a snapshot named '%s' exists already", bd->filename, name);
		return -EEXIST;
	}
	if (q->nb_snaps >= QCOW2_MAX_SNAPSHOTS)
		return -EFBIG;
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	old_size = table_size(q);
	for (int i = 0; i < q->nb_snaps; i++) {
		long v = strtol(q->snaps[i].id, NULL, 10);
		if (v > maxid)
			maxid = v;
	}
	snprintf(id, sizeof(id), "%ld", maxid + 1);
	if (l1bytes) {
		r = qcow2_alloc_clusters(bd, qcow2_align_up(l1bytes, cs) / cs, &l1off);
		if (r)
			return r;
	}
	r = qcow2_tree_refcount(bd, q->l1, q->l1_size, 1);
	if (!r)
		r = qcow2_fix_copied(bd);
	if (r)
		return r;
	if (l1bytes) {
		uint8_t *buf = calloc(1, l1bytes);
		if (!buf)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->l1_size; i++)
			be64_put(buf + (size_t)i * 8, q->l1[i]);
		r = bfile_pwrite(bd->file, buf, l1bytes, l1off);
		free(buf);
		if (r)
			return r;
	}
	struct qcow2_snapshot *n = realloc(q->snaps, sizeof(*n) * (size_t)(q->nb_snaps + 1));
	if (!n)
		return -ENOMEM;
	q->snaps = n;
	struct qcow2_snapshot *s = &n[q->nb_snaps];
	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &ts);
	s->l1_offset = l1off;
	s->l1_size = q->l1_size;
	s->id = strdup(id);
	s->name = strdup(name);
	s->date_sec = (uint32_t)ts.tv_sec;
	s->date_nsec = (uint32_t)ts.tv_nsec;
	s->disk_size = bd->size;
	s->icount = 0;
	s->extra_size = q->version >= 3 ? 24 : 0;
	s->extra = calloc(1, 24);
	if (!s->id || !s->name || !s->extra) {
		free(s->id);
		free(s->name);
		free(s->extra);
		return -ENOMEM;
	}
	be64_put(s->extra + 8, bd->size);
	q->nb_snaps++;
	return write_table(bd, old_off, old_size);
}

int qcow2_snap_apply(struct blockdev *bd, const char *id)
{
	struct qcow2 *q = qcow2_of(bd);
	int i = find_snap(q, id);
	uint64_t *sl1 = NULL, *old = NULL;
	int r;

	if (i < 0) {
		log_error("%s: no snapshot '%s'", bd->filename, id);
		return -ENOENT;
	}
	struct qcow2_snapshot *s = &q->snaps[i];
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	if (s->l1_size > q->l1_size && (r = qcow2_grow_l1(bd, s->l1_size)))
		return r;
	r = read_l1(bd, s->l1_offset, s->l1_size, &sl1);
	if (r)
		return r;
	old = malloc((size_t)q->l1_size * 8 + 8);
	if (!old) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(old, q->l1, (size_t)q->l1_size * 8);
	r = qcow2_tree_refcount(bd, sl1, s->l1_size, 1);
	if (r)
		goto out;
	uint8_t *buf = calloc(1, (size_t)q->l1_size * 8 + 8);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < q->l1_size; k++) {
		q->l1[k] = k < s->l1_size ? sl1[k] : 0;
		be64_put(buf + (size_t)k * 8, q->l1[k]);
	}
	r = bfile_pwrite(bd->file, buf, (size_t)q->l1_size * 8, q->l1_offset);
	free(buf);
	if (!r)
		r = qcow2_tree_refcount(bd, old, q->l1_size, -1);
	if (!r)
		r = qcow2_fix_copied(bd);
	if (!r && s->disk_size != bd->size && s->disk_size <= QCOW2_MAX_VSIZE) {
		uint64_t span = (uint64_t)q->l2_entries << q->cluster_bits;
		if ((s->disk_size + span - 1) / span > q->l1_size)
			r = qcow2_grow_l1(bd, (uint32_t)((s->disk_size + span - 1) / span));
		if (!r) {
			bd->size = s->disk_size;
			r = qcow2_write_header(bd);
		}
	}
	q->cbuf_entry = 0;
out:
	free(sl1);
	free(old);
	return r;
}

int qcow2_snap_delete(struct blockdev *bd, const char *id)
{
	struct qcow2 *q = qcow2_of(bd);
	int i = find_snap(q, id);
	uint64_t *sl1 = NULL, old_off = q->snap_offset, old_size = table_size(q);
	int r;

	if (i < 0) {
		log_error("%s: no snapshot '%s'", bd->filename, id);
		return -ENOENT;
	}
	r = qcow2_mark_dirty(bd);
	if (r)
		return r;
	struct qcow2_snapshot s = q->snaps[i];
	r = read_l1(bd, s.l1_offset, s.l1_size, &sl1);
	if (r)
		return r;
	memmove(&q->snaps[i], &q->snaps[i + 1], sizeof(s) * (size_t)(q->nb_snaps - i - 1));
	q->nb_snaps--;
	r = write_table(bd, old_off, old_size);
	if (!r)
		r = qcow2_tree_refcount(bd, sl1, s.l1_size, -1);
	if (!r && s.l1_size)
		r = qcow2_free_clusters(bd, s.l1_offset,
					qcow2_align_up((uint64_t)s.l1_size * 8, q->cluster_size));
	if (!r)
		r = qcow2_fix_copied(bd);
	free(s.id);
	free(s.name);
	free(s.extra);
	free(sl1);
	return r;
}
