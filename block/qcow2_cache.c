// SPDX-License-Identifier: Apache-2.0
/*
 * A small LRU cache of cluster-sized metadata tables (L2 tables, refcount
 * blocks), stored as on disk (big-endian). Entries are written back when
 * dirty (only refcount blocks under lazy refcounts are ever dirty; L2
 * updates are written through by the caller).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

int qcow2_cache_init(struct qcow2_cache *c, int n, uint32_t size)
{
	c->ent = calloc((size_t)n, sizeof(*c->ent));
	if (!c->ent)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (posix_memalign((void **)&c->ent[i].buf, BFILE_ALIGN, size)) {
			c->n = i;
			qcow2_cache_fini(c);
			return -ENOMEM;
		}
	}
	c->n = n;
	c->size = size;
	c->tick = 0;
	c->last = 0;
	return 0;
}

void qcow2_cache_fini(struct qcow2_cache *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->ent[i].buf);
	free(c->ent);
	c->ent = NULL;
	c->n = 0;
}

static int write_back(struct blockdev *bd, struct qcow2_cache *c, struct qcow2_cache_ent *e)
{
	int r;

	if (!e->dirty)
		return 0;
	r = bfile_pwrite(bd->file, e->buf, c->size, e->offset);
	if (!r)
		e->dirty = false;
	return r;
}

int qcow2_cache_get(struct blockdev *bd, struct qcow2_cache *c, uint64_t offset, bool fresh,
		    uint8_t **buf)
{
	struct qcow2_cache_ent *victim = NULL;
	int r;

	if (c->ent[c->last].offset == offset && !fresh) {
		c->ent[c->last].lru = ++c->tick;
		*buf = c->ent[c->last].buf;
		return 0;
	}
	for (int i = 0; i < c->n; i++) {
		struct qcow2_cache_ent *e = &c->ent[i];
		if (e->offset == offset) {
			e->lru = ++c->tick;
			c->last = i;
			if (fresh)
				memset(e->buf, 0, c->size);
			*buf = e->buf;
			return 0;
		}
		if (!victim || e->lru < victim->lru)
			victim = e;
	}
	r = write_back(bd, c, victim);
	if (r)
		return r;
	victim->offset = 0;
	if (fresh)
		memset(victim->buf, 0, c->size);
	else if ((r = bfile_pread(bd->file, victim->buf, c->size, offset)))
		return r;
	victim->offset = offset;
	victim->lru = ++c->tick;
	victim->dirty = false;
	c->last = (int)(victim - c->ent);
	*buf = victim->buf;
	return 0;
}

void qcow2_cache_mark_dirty(struct qcow2_cache *c, const uint8_t *buf)
{
	for (int i = 0; i < c->n; i++)
		if (c->ent[i].buf == buf)
			c->ent[i].dirty = true;
}

int qcow2_cache_flush(struct blockdev *bd, struct qcow2_cache *c)
{
	for (int i = 0; i < c->n; i++) {
		int r = write_back(bd, c, &c->ent[i]);
		if (r)
			return r;
	}
	return 0;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset)
{
	for (int i = 0; i < c->n; i++) {
		if (c->ent[i].offset == offset) {
			c->ent[i].offset = 0;
			c->ent[i].dirty = false;
			c->ent[i].lru = 0;
		}
	}
}

uint8_t *qcow2_cache_peek(const struct qcow2_cache *c, uint64_t offset)
{
	int last = c->last;

	if (last >= 0 && last < c->n && c->ent[last].offset == offset)
		return c->ent[last].buf;
	for (int i = 0; i < c->n; i++)
		if (c->ent[i].offset == offset)
			return c->ent[i].buf;
	return NULL;
}
