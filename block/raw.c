// SPDX-License-Identifier: Apache-2.0
/*
 * raw: the virtual disk is the file. Sparse-aware: holes report as zero in
 * block status, discard and write-zeroes punch holes. Reads and writes run
 * in parallel (no image lock).
 */
#include <errno.h>
#include <string.h>

#include "block_int.h"
#include "vireo/log.h"

static int raw_open(struct blockdev *bd)
{
	uint64_t size;
	int r = bfile_size(bd->file, &size);

	if (r)
		return r;
	/* A file whose size is not a multiple of 512 reads as zeroes up to the next sector. */
	bd->size = (size + BLOCK_SECTOR - 1) & ~(uint64_t)(BLOCK_SECTOR - 1);
	return 0;
}

static int raw_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return bfile_preadv(bd->file, v->iov, v->cnt, off);
}

static int raw_pwritev(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return bfile_pwritev(bd->file, v->iov, v->cnt, off);
}

static int raw_flush(struct blockdev *bd)
{
	return bfile_flush(bd->file);
}

static int raw_discard(struct blockdev *bd, uint64_t off, uint64_t len)
{
	return bfile_zero(bd->file, off, len, true);
}

static int raw_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags)
{
	return bfile_zero(bd->file, off, len, flags & BLOCK_ZERO_MAY_UNMAP);
}

static int raw_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		      uint64_t *host_off, unsigned *flags)
{
	bool data;
	int r = bfile_data_status(bd->file, off, len, &data, pnum);

	if (r)
		return r;
	*host_off = off;
	*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_OFFSET |
		 (data ? BLOCK_STATUS_DATA : BLOCK_STATUS_ZERO);
	return 0;
}

static int prealloc_file(struct bfile *f, uint64_t from, uint64_t to, const char *prealloc)
{
	if (!prealloc || !strcmp(prealloc, "off") || to <= from)
		return 0;
	if (!strcmp(prealloc, "falloc"))
		return bfile_fallocate(f, from, to - from);
	if (!strcmp(prealloc, "full")) {
		static const uint8_t zero[65536];
		for (uint64_t o = from; o < to;) {
			size_t n = to - o > sizeof(zero) ? sizeof(zero) : (size_t)(to - o);
			int r = bfile_pwrite(f, zero, n, o);
			if (r)
				return r;
			o += n;
		}
		return 0;
	}
	log_error("raw: unknown preallocation mode '%s'", prealloc);
	return -EINVAL;
}

static int raw_resize(struct blockdev *bd, uint64_t size, const char *prealloc)
{
	uint64_t old = bd->size;
	int r = bfile_truncate(bd->file, size);

	if (r)
		return r;
	bd->size = size;
	if (size > old)
		return prealloc_file(bd->file, old, size, prealloc);
	return 0;
}

static int raw_create(const char *path, const struct block_create_opts *o)
{
	struct bfile *f;
	int r;

	if (o->backing_file) {
		log_error("raw does not support backing files");
		return -EINVAL;
	}
	if (o->preallocation && strcmp(o->preallocation, "off") &&
	    strcmp(o->preallocation, "falloc") && strcmp(o->preallocation, "full")) {
		log_error("raw: unknown preallocation mode '%s'", o->preallocation);
		return -EINVAL;
	}
	r = bfile_open(path, false, false, true, &f);
	if (r)
		return r;
	r = bfile_truncate(f, o->size);
	if (!r)
		r = prealloc_file(f, 0, o->size, o->preallocation);
	bfile_close(f);
	return r;
}

static int raw_measure(const struct block_create_opts *o, struct blockdev *src,
		       struct block_measure *out)
{
	uint64_t size = src ? block_size(src) : o->size;

	out->required = size;
	out->fully_allocated = size;
	if (src && (!o->preallocation || !strcmp(o->preallocation, "off"))) {
		uint64_t req = 0;
		for (uint64_t off = 0; off < size;) {
			uint64_t pnum;
			unsigned fl;
			int depth;
			int r = block_status_chain(src, off, size - off, &pnum, NULL, &fl, &depth);
			if (r)
				return r;
			if (!(fl & BLOCK_STATUS_ZERO))
				req += pnum;
			off += pnum;
		}
		out->required = req;
	}
	return 0;
}

const struct block_driver block_raw = {
	.name = "raw",
	.open = raw_open,
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.status = raw_status,
	.resize = raw_resize,
	.create = raw_create,
	.measure = raw_measure,
	.parallel_rw = true,
	.writable = true,
};
