// SPDX-License-Identifier: Apache-2.0
/*
 * VDI (VirtualBox), version 1.1 headers: dynamic (blocks allocated on first
 * write, appended to the file) and fixed (all blocks allocated at
 * creation). The block map has one 32-bit entry per block: the index of the
 * block in the data area, or 0xffffffff (unallocated) / 0xfffffffe
 * (discarded), both reading as zeroes.
 *
 * Crash safety: a new block is written before its map entry, and the map
 * entry before the allocated-blocks count in the header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block_int.h"
#include "vireo/log.h"

#define VDI_SIGNATURE   0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_TYPE_DYNAMIC 1u
#define VDI_TYPE_FIXED   2u
#define VDI_UNALLOCATED 0xffffffffu
#define VDI_DISCARDED   0xfffffffeu
#define VDI_MAX_BLOCKS  (1u << 28)

struct vdi {
	uint8_t header[512];
	uint32_t type;
	uint32_t block_size;
	uint32_t nb_blocks, nb_allocated;
	uint64_t bmap_off, data_off;
	uint32_t *bmap;
	struct log_ratelimit rl;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static struct vdi *vdi_of(struct blockdev *bd)
{
	return bd->opaque;
}

static int vdi_probe(const uint8_t *buf, size_t len, const char *filename)
{
	(void)filename;
	if (len >= 72 && le32(buf + 64) == VDI_SIGNATURE)
		return 100;
	return 0;
}

static int bad(struct blockdev *bd, const char *what)
{
	log_error("%s: invalid VDI image: %s", bd->filename, what);
	return -EINVAL;
}

static int vdi_open(struct blockdev *bd)
{
	struct vdi *v = vdi_of(bd);
	uint8_t *h = v->header;
	uint64_t fsize;
	int r;

	r = bfile_size(bd->file, &fsize);
	if (!r)
		r = bfile_pread(bd->file, h, 512, 0);
	if (r)
		return r;
	if (le32(h + 64) != VDI_SIGNATURE)
		return bad(bd, "no signature");
	if (le32(h + 68) != VDI_VERSION_1_1) {
		log_error("%s: VDI version %#x is not supported", bd->filename, le32(h + 68));
		return -ENOTSUP;
	}
	if (le32(h + 72) < 0x180 - 0)
		return bad(bd, "header too short");
	v->type = le32(h + 76);
	if (v->type != VDI_TYPE_DYNAMIC && v->type != VDI_TYPE_FIXED) {
		log_error("%s: VDI image type %u (undo/differencing) is not supported",
			  bd->filename, v->type);
		return -ENOTSUP;
	}
	v->bmap_off = le32(h + 340);
	v->data_off = le32(h + 344);
	if (le32(h + 360) != 512)
		return bad(bd, "sector size is not 512");
	bd->size = le64(h + 368);
	v->block_size = le32(h + 376);
	if (le32(h + 380) != 0)
		return bad(bd, "extra block data is not supported");
	v->nb_blocks = le32(h + 384);
	v->nb_allocated = le32(h + 388);
	if (v->block_size < 512 || v->block_size > (64u << 20) ||
	    (v->block_size & (v->block_size - 1)))
		return bad(bd, "block size");
	if (v->nb_blocks > VDI_MAX_BLOCKS || v->nb_allocated > v->nb_blocks)
		return bad(bd, "block counts");
	if (bd->size > (uint64_t)v->nb_blocks * v->block_size)
		return bad(bd, "disk larger than its blocks");
	if (v->bmap_off < 512 || v->bmap_off + (uint64_t)v->nb_blocks * 4 > fsize ||
	    v->data_off < v->bmap_off + (uint64_t)v->nb_blocks * 4 || (v->data_off & 511))
		return bad(bd, "block map outside the file");
	bd->size &= ~(uint64_t)(BLOCK_SECTOR - 1);
	v->bmap = malloc((size_t)v->nb_blocks * 4 + 4);
	if (!v->bmap)
		return -ENOMEM;
	r = bfile_pread(bd->file, v->bmap, (size_t)v->nb_blocks * 4, v->bmap_off);
	if (r) {
		free(v->bmap);
		v->bmap = NULL;
		return r;
	}
	for (uint32_t i = 0; i < v->nb_blocks; i++)
		v->bmap[i] = le32((uint8_t *)&v->bmap[i]);
	return 0;
}

static void vdi_close(struct blockdev *bd)
{
	free(vdi_of(bd)->bmap);
}

/* Host offset of guest OFF, 0 when it reads as zeroes. */
static int map(struct blockdev *bd, uint64_t off, uint64_t *host)
{
	struct vdi *v = vdi_of(bd);
	uint64_t b = off / v->block_size;
	uint32_t e;

	if (b >= v->nb_blocks)
		return -EIO;
	e = v->bmap[b];
	if (e >= VDI_DISCARDED) {
		*host = 0;
		return 0;
	}
	if (e >= v->nb_allocated) {
		log_warn_ratelimited(&v->rl, "%s: block %llu maps past the allocated blocks",
				     bd->filename, (unsigned long long)b);
		return -EIO;
	}
	*host = v->data_off + (uint64_t)e * v->block_size + off % v->block_size;
	return 0;
}

static int vdi_rw(struct blockdev *bd, uint64_t off, const struct bvec *vec, bool write)
{
	struct vdi *v = vdi_of(bd);
	size_t done = 0;

	while (done < vec->len) {
		uint64_t pos = off + done, host;
		size_t n = v->block_size - pos % v->block_size;
		if (n > vec->len - done)
			n = vec->len - done;
		int r = map(bd, pos, &host);
		if (r)
			return r;
		if (!host && !write) {
			bvec_memset(vec, done, 0, n);
		} else if (host) {
			uint8_t *tmp = malloc(n);
			if (!tmp)
				return -ENOMEM;
			if (write) {
				bvec_to_buf(vec, done, tmp, n);
				r = bfile_pwrite(bd->file, tmp, n, host);
			} else {
				r = bfile_pread(bd->file, tmp, n, host);
				if (!r)
					bvec_from_buf(vec, done, tmp, n);
			}
			free(tmp);
		} else {
			/* Allocate a block at the end of the data area. */
			uint64_t b = pos / v->block_size;
			uint32_t idx = v->nb_allocated;
			uint8_t *blk = calloc(1, v->block_size), e[4];
			if (!blk)
				return -ENOMEM;
			bvec_to_buf(vec, done, blk + pos % v->block_size, n);
			uint64_t at = v->data_off + (uint64_t)idx * v->block_size;
			r = bfile_pwrite(bd->file, blk, v->block_size, at);
			free(blk);
			put32(e, idx);
			if (!r)
				r = bfile_pwrite(bd->file, e, 4, v->bmap_off + b * 4);
			if (!r) {
				v->bmap[b] = idx;
				v->nb_allocated++;
				put32(v->header + 388, v->nb_allocated);
				r = bfile_pwrite(bd->file, v->header + 388, 4, 388);
			}
		}
		if (r)
			return r;
		done += n;
	}
	return 0;
}

static int vdi_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return vdi_rw(bd, off, v, false);
}

static int vdi_pwritev(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return vdi_rw(bd, off, v, true);
}

static int vdi_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags)
{
	struct vdi *v = vdi_of(bd);
	uint8_t *z = calloc(1, v->block_size);
	int r = 0;

	(void)flags;
	if (!z)
		return -ENOMEM;
	while (len && !r) {
		uint64_t host;
		size_t n = v->block_size - off % v->block_size;
		if (n > len)
			n = (size_t)len;
		r = map(bd, off, &host);
		if (!r && host) {   /* unallocated blocks already read as zeroes */
			struct iovec iov = { z, n };
			struct bvec bv;
			bvec_init(&bv, &iov, 1);
			r = vdi_rw(bd, off, &bv, true);
		}
		off += n;
		len -= n;
	}
	free(z);
	return r;
}

static int vdi_flush(struct blockdev *bd)
{
	return bfile_flush(bd->file);
}

static int vdi_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		      uint64_t *host_off, unsigned *flags)
{
	struct vdi *v = vdi_of(bd);
	uint64_t host, pos = off;
	int r = map(bd, off, &host);

	if (r)
		return r;
	uint64_t first = host;
	while (pos < off + len) {
		uint64_t h;
		r = map(bd, pos, &h);
		if (r)
			return r;
		if ((h == 0) != (first == 0) || (h && h != first + (pos - off)))
			break;
		pos += v->block_size - pos % v->block_size;
	}
	*pnum = (pos > off + len ? off + len : pos) - off;
	if (first) {
		*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET;
		*host_off = first;
	} else {
		*flags = BLOCK_STATUS_ZERO;
	}
	return 0;
}

static int vdi_info(struct blockdev *bd, struct block_info *info)
{
	info->cluster_size = vdi_of(bd)->block_size;
	return 0;
}

static int vdi_check(struct blockdev *bd, struct block_check *res, unsigned fix)
{
	struct vdi *v = vdi_of(bd);
	uint8_t *used;
	uint32_t count = 0;

	if (fix)
		return -ENOTSUP;
	used = calloc(1, v->nb_allocated / 8 + 1);
	if (!used)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->nb_blocks; i++) {
		uint32_t e = v->bmap[i];
		if (e >= VDI_DISCARDED)
			continue;
		if (e >= v->nb_allocated) {
			log_error("%s: block %u points past the allocated blocks", bd->filename, i);
			res->corruptions++;
			continue;
		}
		if (used[e / 8] & (1u << (e % 8))) {
			log_error("%s: data block %u used twice", bd->filename, e);
			res->corruptions++;
			continue;
		}
		used[e / 8] |= (uint8_t)(1u << (e % 8));
		count++;
	}
	free(used);
	if (count != v->nb_allocated) {
		log_error("%s: %u blocks allocated, header says %u", bd->filename, count,
			  v->nb_allocated);
		res->corruptions++;
	}
	res->allocated_clusters = count;
	res->total_clusters = v->nb_blocks;
	res->image_end_offset = v->data_off + (uint64_t)v->nb_allocated * v->block_size;
	return 0;
}

static int vdi_create(const char *path, const struct block_create_opts *o)
{
	uint32_t bs = o->cluster_size ? o->cluster_size : (1u << 20);
	uint64_t size = (o->size + 511) & ~511ull;
	bool fixed = (o->subformat && (!strcmp(o->subformat, "static") ||
				       !strcmp(o->subformat, "fixed"))) ||
		     (o->preallocation && (!strcmp(o->preallocation, "metadata") ||
					   !strcmp(o->preallocation, "full")));
	struct bfile *f;
	uint8_t *buf;
	int r;

	if (o->backing_file) {
		log_error("vdi: backing files are not supported");
		return -ENOTSUP;
	}
	if (bs < 512 || bs > (64u << 20) || (bs & (bs - 1)))
		return -EINVAL;
	uint64_t blocks = (size + bs - 1) / bs;
	if (blocks > VDI_MAX_BLOCKS)
		return -EFBIG;
	uint64_t bmap_size = (blocks * 4 + 511) & ~511ull;
	uint64_t data_off = 512 + bmap_size;
	buf = calloc(1, data_off);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, "<<< Vireo VM Virtual Disk Image >>>\n", 36);
	put32(buf + 64, VDI_SIGNATURE);
	put32(buf + 68, VDI_VERSION_1_1);
	put32(buf + 72, 0x180);
	put32(buf + 76, fixed ? VDI_TYPE_FIXED : VDI_TYPE_DYNAMIC);
	put32(buf + 340, 512);
	put32(buf + 344, (uint32_t)data_off);
	put32(buf + 360, 512);
	put64(buf + 368, size);
	put32(buf + 376, bs);
	put32(buf + 384, (uint32_t)blocks);
	put32(buf + 388, fixed ? (uint32_t)blocks : 0);
	srand((unsigned)time(NULL) ^ (unsigned)(uintptr_t)buf);
	for (int i = 0; i < 16; i++)
		buf[392 + i] = (uint8_t)rand();
	buf[392 + 6] = (uint8_t)((buf[392 + 6] & 0x0f) | 0x40);   /* UUID v4 */
	buf[392 + 8] = (uint8_t)((buf[392 + 8] & 0x3f) | 0x80);
	memcpy(buf + 408, buf + 392, 16);
	for (uint64_t i = 0; i < blocks; i++)
		put32(buf + 512 + i * 4, fixed ? (uint32_t)i : VDI_UNALLOCATED);
	r = bfile_open(path, false, false, true, &f);
	if (!r) {
		r = bfile_pwrite(f, buf, data_off, 0);
		if (!r && fixed)
			r = bfile_truncate(f, data_off + blocks * bs);
		if (!r && fixed && o->preallocation && !strcmp(o->preallocation, "full"))
			r = bfile_zero(f, data_off, blocks * bs, false);
		bfile_close(f);
	}
	free(buf);
	return r;
}

static int vdi_measure(const struct block_create_opts *o, struct blockdev *src,
		       struct block_measure *out)
{
	uint64_t size = src ? block_size(src) : o->size, bs = 1u << 20;
	uint64_t blocks = (size + bs - 1) / bs;

	out->fully_allocated = 512 + ((blocks * 4 + 511) & ~511ull) + blocks * bs;
	out->required = out->fully_allocated;
	return 0;
}

const struct block_driver block_vdi = {
	.name = "vdi",
	.state_size = sizeof(struct vdi),
	.probe = vdi_probe,
	.open = vdi_open,
	.close = vdi_close,
	.preadv = vdi_preadv,
	.pwritev = vdi_pwritev,
	.flush = vdi_flush,
	.write_zeroes = vdi_write_zeroes,
	.status = vdi_status,
	.info = vdi_info,
	.check = vdi_check,
	.create = vdi_create,
	.measure = vdi_measure,
	.writable = true,
};
