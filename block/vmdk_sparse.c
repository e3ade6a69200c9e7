// SPDX-License-Identifier: Apache-2.0
/*
 * VMDK hosted sparse extents ("KDMV"): header (or footer, for
 * streamOptimized), grain directory and grain tables, plain and compressed
 * grains; writing in place (monolithicSparse) or append-only with
 * compression (streamOptimized); creation of both and of monolithicFlat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "vmdk.h"
#include "vireo/log.h"

#define GTE_ZEROED 1u

static int bad(struct blockdev *bd, const char *what)
{
	log_error("%s: invalid VMDK sparse extent: %s", bd->filename, what);
	return -EINVAL;
}

static int read_dir(struct bfile *f, uint64_t off, uint32_t n, uint32_t **out)
{
	uint32_t *d = calloc(n ? n : 1, 4);
	int r;

	if (!d)
		return -ENOMEM;
	r = bfile_pread(f, d, (size_t)n * 4, off);
	if (r) {
		free(d);
		return r;
	}
	for (uint32_t i = 0; i < n; i++)
		d[i] = le32_get(&d[i]);
	*out = d;
	return 0;
}

int vmdk_sparse_open(struct blockdev *bd, struct vmdk_extent *e, char **desc)
{
	uint8_t h[512];
	uint64_t fsize;
	bool stream = false;
	int r;

	r = bfile_size(e->file, &fsize);
	if (!r)
		r = bfile_pread(e->file, h, 512, 0);
	if (r)
		return r;
	if (le32_get(h) != VMDK4_MAGIC)
		return bad(bd, "no KDMV magic");
	if (le64_get(h + 56) == VMDK_GD_AT_END) {
		/* streamOptimized: the real header is the footer, 1024 bytes before the end. */
		uint8_t f[512];
		if (fsize < 1536)
			return bad(bd, "grain directory at the end, but no footer");
		r = bfile_pread(e->file, f, 512, fsize - 1024);
		if (r)
			return r;
		if (le32_get(f) == VMDK4_MAGIC && le64_get(f + 56) != VMDK_GD_AT_END) {
			memcpy(h, f, 512);
		} else if (bd->read_only || !(le32_get(h + 8) & VMDK4_FLAG_COMPRESS)) {
			return bad(bd, "footer missing (incomplete streamOptimized image?)");
		} else {
			stream = true;     /* a new stream being written */
		}
	}
	e->version = le32_get(h + 4);
	e->flags = le32_get(h + 8);
	uint64_t capacity = le64_get(h + 12), gsec = le64_get(h + 20);
	uint64_t desc_off = le64_get(h + 28), desc_size = le64_get(h + 36);
	e->gtes = le32_get(h + 44);
	uint64_t rgd = le64_get(h + 48), gd = le64_get(h + 56);
	uint16_t calg = (uint16_t)(h[77] | h[78] << 8);
	if (e->version < 1 || e->version > 3)
		return bad(bd, "unknown version");
	if (!gsec || (gsec & (gsec - 1)) || gsec > (1u << 17))
		return bad(bd, "grain size");
	if (!e->gtes || e->gtes > (1u << 16))
		return bad(bd, "grain table size");
	if (capacity > (1ull << 46))
		return bad(bd, "capacity too large");
	e->grain = gsec * 512;
	e->size = capacity * 512;
	e->compressed = e->flags & VMDK4_FLAG_COMPRESS;
	if (e->compressed && calg != 1)
		return bad(bd, "unknown compression algorithm");
	uint64_t span = e->grain * e->gtes;
	uint64_t nb = (e->size + span - 1) / span;
	if (nb > UINT32_MAX || nb * 4 > fsize + 4 * 512 * 1024ull)
		return bad(bd, "grain directory larger than the file");
	e->nb_gd = (uint32_t)nb;
	e->file_end = (fsize + 511) & ~511ull;
	if (stream && nb * e->gtes > (1ull << 25)) {
		log_error("%s: streamOptimized image too large to write (max %llu grains)",
			  bd->filename, 1ull << 25);
		return -EFBIG;
	}
	if (stream) {
		e->all_gt = calloc((nb * e->gtes) != 0 ? nb * e->gtes : 1, 4);
		e->pend = malloc(e->grain);
		e->gd = calloc(nb ? nb : 1, 4);
		if (!e->all_gt || !e->pend || !e->gd)
			return -ENOMEM;
		e->stream_write = true;
		uint64_t overhead = le64_get(h + 64) * 512;
		if (overhead > e->file_end)
			e->file_end = overhead;
	} else {
		if (gd > fsize / 512 || gd * 512 + nb * 4 > fsize)
			return bad(bd, "grain directory outside the file");
		r = read_dir(e->file, gd * 512, e->nb_gd, &e->gd);
		if (r)
			return r;
		e->gd_off = gd * 512;
		if ((e->flags & VMDK4_FLAG_RGD) && rgd && rgd <= fsize / 512 && rgd * 512 + nb * 4 <= fsize) {
			r = read_dir(e->file, rgd * 512, e->nb_gd, &e->rgd);
			if (r)
				return r;
			e->rgd_off = rgd * 512;
		}
	}
	e->gt = malloc((size_t)e->gtes * 4);
	e->gbuf = malloc(e->grain);
	if (!e->gt || !e->gbuf)
		return -ENOMEM;
	if (desc && desc_off && desc_size) {
		if (desc_size > VMDK_MAX_DESC / 512 || desc_off > fsize / 512)
			return bad(bd, "embedded descriptor");
		*desc = calloc(1, desc_size * 512 + 1);
		if (!*desc)
			return -ENOMEM;
		r = bfile_pread(e->file, *desc, desc_size * 512, desc_off * 512);
		if (r)
			return r;
	}
	return 0;
}

static int stream_finish(struct blockdev *bd, struct vmdk_extent *e);

void vmdk_sparse_close(struct blockdev *bd, struct vmdk_extent *e)
{
	if (e->stream_write && !bd->read_only && e->gt && e->gbuf)
		stream_finish(bd, e);
	free(e->gd);
	free(e->rgd);
	free(e->gt);
	free(e->gbuf);
	free(e->all_gt);
	free(e->pend);
	e->gd = e->rgd = e->gt = e->all_gt = NULL;
	e->gbuf = e->pend = NULL;
}

static int load_gt(struct blockdev *bd, struct vmdk_extent *e, uint32_t gdi)
{
	int r;

	if (e->gt_index == gdi)
		return 0;
	uint64_t off = (uint64_t)e->gd[gdi] * 512;
	if (off + (uint64_t)e->gtes * 4 > e->file_end) {
		log_error("%s: grain table %u outside the file", bd->filename, gdi);
		return -EIO;
	}
	e->gt_index = UINT32_MAX;
	r = bfile_pread(e->file, e->gt, (size_t)e->gtes * 4, off);
	if (r)
		return r;
	for (uint32_t i = 0; i < e->gtes; i++)
		e->gt[i] = le32_get(&e->gt[i]);
	e->gt_index = gdi;
	return 0;
}

/* Grain table entry of grain G: 0 unallocated, GTE_ZEROED, or a sector. */
static int grain_entry(struct blockdev *bd, struct vmdk_extent *e, uint64_t g, uint32_t *ent)
{
	uint64_t gdi = g / e->gtes;
	int r;

	if (gdi >= e->nb_gd)
		return -EIO;
	if (e->stream_write) {
		*ent = e->all_gt[g];
		return 0;
	}
	if (!e->gd[gdi]) {
		*ent = 0;
		return 0;
	}
	r = load_gt(bd, e, (uint32_t)gdi);
	if (r)
		return r;
	*ent = e->gt[g % e->gtes];
	if (*ent == GTE_ZEROED && !(e->flags & VMDK4_FLAG_ZERO_GRAIN))
		*ent = 0;   /* sector 1 cannot hold a grain */
	return 0;
}

static int read_compressed(struct blockdev *bd, struct vmdk_extent *e, uint64_t g, uint32_t ent)
{
	uint64_t off = (uint64_t)ent * 512;
	uint64_t want = 2 * e->grain + 512;
	uint8_t *buf;
	int r;

	if (e->gbuf_lba == g)
		return 0;
	if (off >= e->file_end) {
		log_warn_ratelimited(&((struct vmdk *)bd->opaque)->rl,
				     "%s: grain %llu lies past the end of the file (truncated image?)",
				     bd->filename, (unsigned long long)g);
		return -EIO;
	}
	if (want > e->file_end - off)
		want = e->file_end - off;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	r = bfile_pread(e->file, buf, want, off);
	if (!r) {
		const uint8_t *data = buf;
		uint64_t dlen = want;
		if (e->flags & VMDK4_FLAG_MARKER) {
			dlen = want < 12 ? UINT64_MAX : le32_get(buf + 8);
			data = buf + 12;
			if (dlen > want - 12) {
				log_warn_ratelimited(&((struct vmdk *)bd->opaque)->rl,
						     "%s: grain %llu runs past the end of the file "
						     "(truncated image?)", bd->filename,
						     (unsigned long long)g);
				r = -EIO;
				goto out;
			}
		}
		uLongf out_len = (uLongf)e->grain;
		e->gbuf_lba = UINT64_MAX;
		int zr = uncompress(e->gbuf, &out_len, data, (uLong)dlen);
		if (zr != Z_OK || out_len != e->grain) {
			/* A tail grain may decompress short; zero-fill it. */
			if ((zr == Z_OK) && out_len < e->grain) {
				memset(e->gbuf + out_len, 0, e->grain - out_len);
			} else {
				log_warn_ratelimited(&((struct vmdk *)bd->opaque)->rl,
						     "%s: grain %llu does not decompress", bd->filename,
						     (unsigned long long)g);
				r = -EIO;
				goto out;
			}
		}
		e->gbuf_lba = g;
	}
out:
	free(buf);
	return r;
}

int vmdk_sparse_read(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		     const struct bvec *v, size_t skip, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done, g = pos / e->grain, in = pos % e->grain;
		size_t n = e->grain - in < len - done ? (size_t)(e->grain - in) : len - done;
		uint32_t ent;
		int r = grain_entry(bd, e, g, &ent);
		if (r)
			return r;
		if (e->stream_write && g == e->pend_grain) {
			bvec_from_buf(v, skip + done, e->pend + in, n);
		} else if (ent == 0) {
			if (bd->backing) {
				struct iovec *tmp = malloc(sizeof(*tmp) * (size_t)(v->cnt ? v->cnt : 1));
				struct bvec sub;
				if (!tmp)
					return -ENOMEM;
				sub.cnt = bvec_slice(v, skip + done, n, tmp, v->cnt);
				sub.iov = tmp;
				sub.len = n;
				r = sub.cnt < 0 ? sub.cnt : block_read_backing(bd, e->start + pos, &sub);
				free(tmp);
				if (r)
					return r;
			} else {
				bvec_memset(v, skip + done, 0, n);
			}
		} else if (ent == GTE_ZEROED) {
			bvec_memset(v, skip + done, 0, n);
		} else if (e->compressed) {
			if (e->stream_write)
				return -ENOTSUP;
			r = read_compressed(bd, e, g, ent);
			if (r)
				return r;
			bvec_from_buf(v, skip + done, e->gbuf + in, n);
		} else {
			uint8_t *tmp = malloc(n);
			if (!tmp)
				return -ENOMEM;
			r = bfile_pread(e->file, tmp, n, (uint64_t)ent * 512 + in);
			if (!r)
				bvec_from_buf(v, skip + done, tmp, n);
			free(tmp);
			if (r)
				return r;
		}
		done += n;
	}
	return 0;
}

static int put_gte(struct blockdev *bd, struct vmdk_extent *e, uint64_t g, uint32_t val)
{
	uint32_t gdi = (uint32_t)(g / e->gtes), gti = (uint32_t)(g % e->gtes);
	uint8_t b[4];
	int r;

	(void)bd;
	le32_put(b, val);
	if (e->gt_index == gdi)
		e->gt[gti] = val;
	r = bfile_pwrite(e->file, b, 4, (uint64_t)e->gd[gdi] * 512 + gti * 4ull);
	if (!r && e->rgd && e->rgd[gdi])
		r = bfile_pwrite(e->file, b, 4, (uint64_t)e->rgd[gdi] * 512 + gti * 4ull);
	return r;
}

static int stream_emit(struct blockdev *bd, struct vmdk_extent *e)
{
	uint64_t g = e->pend_grain;
	int r = 0;

	(void)bd;
	if (g == UINT64_MAX)
		return 0;
	e->pend_grain = UINT64_MAX;
	if (buf_is_zero(e->pend, e->grain))
		return 0;
	uLongf clen = compressBound((uLong)e->grain);
	uint8_t *out = calloc(1, clen + 12 + 512);
	if (!out)
		return -ENOMEM;
	uint64_t glen = e->grain;
	if ((g + 1) * e->grain > e->size)
		glen = e->size - g * e->grain;
	if (compress2(out + 12, &clen, e->pend, (uLong)glen, Z_DEFAULT_COMPRESSION) != Z_OK) {
		free(out);
		return -EIO;
	}
	le64_put(out, g * (e->grain / 512));
	le32_put(out + 8, (uint32_t)clen);
	uint64_t total = (clen + 12 + 511) & ~511ull;
	r = bfile_pwrite(e->file, out, total, e->file_end);
	free(out);
	if (r)
		return r;
	e->all_gt[g] = (uint32_t)(e->file_end / 512);
	e->file_end += total;
	return 0;
}

static int write_marker(struct vmdk_extent *e, uint64_t val, uint32_t type)
{
	uint8_t m[512] = {0};

	le64_put(m, val);
	le32_put(m + 12, type);
	int r = bfile_pwrite(e->file, m, 512, e->file_end);
	if (!r)
		e->file_end += 512;
	return r;
}

/* Writes the grain tables, directory, footer and end-of-stream marker. */
static int stream_finish(struct blockdev *bd, struct vmdk_extent *e)
{
	uint64_t gt_sec = ((uint64_t)e->gtes * 4 + 511) / 512;
	uint64_t gd_sec = ((uint64_t)e->nb_gd * 4 + 511) / 512;
	uint8_t *buf;
	uint8_t h[512];
	int r;

	r = stream_emit(bd, e);
	if (r)
		return r;
	buf = calloc(1, (gt_sec > gd_sec ? gt_sec : gd_sec) * 512);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->nb_gd && !r; i++) {
		bool any = false;
		for (uint32_t j = 0; j < e->gtes; j++)
			any |= e->all_gt[(uint64_t)i * e->gtes + j] != 0;
		if (!any)
			continue;
		r = write_marker(e, gt_sec, 1);
		memset(buf, 0, gt_sec * 512);
		for (uint32_t j = 0; j < e->gtes; j++)
			le32_put(buf + j * 4, e->all_gt[(uint64_t)i * e->gtes + j]);
		e->gd[i] = (uint32_t)(e->file_end / 512);
		if (!r)
			r = bfile_pwrite(e->file, buf, gt_sec * 512, e->file_end);
		e->file_end += gt_sec * 512;
	}
	if (!r)
		r = write_marker(e, gd_sec, 2);
	uint64_t gd_at = e->file_end / 512;
	memset(buf, 0, gd_sec * 512);
	for (uint32_t i = 0; i < e->nb_gd; i++)
		le32_put(buf + i * 4, e->gd[i]);
	if (!r)
		r = bfile_pwrite(e->file, buf, gd_sec * 512, e->file_end);
	e->file_end += gd_sec * 512;
	free(buf);
	if (!r)
		r = write_marker(e, 1, 3);
	if (!r)
		r = bfile_pread(e->file, h, 512, 0);
	if (!r) {
		le64_put(h + 56, gd_at);
		r = bfile_pwrite(e->file, h, 512, e->file_end);
		e->file_end += 512;
	}
	if (!r)
		r = write_marker(e, 0, 0);
	if (!r)
		r = bfile_flush(e->file);
	e->stream_write = false;
	return r;
}

int vmdk_sparse_write(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		      const struct bvec *v, size_t skip, size_t len)
{
	struct vmdk *vm = bd->opaque;
	size_t done = 0;
	int r;

	if (e->compressed && !e->stream_write) {
		log_error("%s: a finished streamOptimized image cannot be written", bd->filename);
		return -ENOTSUP;
	}
	while (done < len) {
		uint64_t pos = off + done, g = pos / e->grain, in = pos % e->grain;
		size_t n = e->grain - in < len - done ? (size_t)(e->grain - in) : len - done;
		uint32_t ent;
		if (e->stream_write) {
			if (g != e->pend_grain) {
				if (g < e->next_grain) {
					log_warn_ratelimited(&vm->rl, "%s: streamOptimized images are "
							     "written in order only", bd->filename);
					return -ENOTSUP;
				}
				r = stream_emit(bd, e);
				if (r)
					return r;
				memset(e->pend, 0, e->grain);
				e->pend_grain = g;
				e->next_grain = g + 1;
			}
			bvec_to_buf(v, skip + done, e->pend + in, n);
			done += n;
			continue;
		}
		r = grain_entry(bd, e, g, &ent);
		if (r)
			return r;
		if (!e->gd[g / e->gtes]) {
			log_error("%s: grain table missing: writing is not supported", bd->filename);
			return -ENOTSUP;
		}
		if (ent > GTE_ZEROED) {
			uint8_t *tmp = malloc(n);
			if (!tmp)
				return -ENOMEM;
			bvec_to_buf(v, skip + done, tmp, n);
			r = bfile_pwrite(e->file, tmp, n, (uint64_t)ent * 512 + in);
			free(tmp);
			if (r)
				return r;
			done += n;
			continue;
		}
		/* A new grain at the end of the file, filled around the write. */
		uint8_t *gb = malloc(e->grain);
		if (!gb)
			return -ENOMEM;
		struct iovec gi = { gb, e->grain };
		struct bvec gv;
		bvec_init(&gv, &gi, 1);
		uint64_t glen = e->grain;
		if ((g + 1) * e->grain > e->size)
			glen = e->size - g * e->grain;
		memset(gb, 0, e->grain);
		gv.len = glen;
		gi.iov_len = glen;
		r = vmdk_sparse_read(bd, e, g * e->grain, &gv, 0, glen);
		if (!r) {
			bvec_to_buf(v, skip + done, gb + in, n);
			r = bfile_pwrite(e->file, gb, e->grain, e->file_end);
		}
		free(gb);
		if (!r)
			r = put_gte(bd, e, g, (uint32_t)(e->file_end / 512));
		if (r)
			return r;
		e->file_end += e->grain;
		done += n;
	}
	return 0;
}

int vmdk_sparse_flush(struct blockdev *bd, struct vmdk_extent *e)
{
	(void)bd;
	(void)e;
	return 0;   /* metadata is written through; streams finish at close */
}

int vmdk_sparse_status(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		       uint64_t len, uint64_t *pnum, uint64_t *host, unsigned *flags)
{
	uint64_t pos = off;
	unsigned first = 0;
	uint64_t first_host = 0;

	while (pos < off + len) {
		uint64_t g = pos / e->grain, in = pos % e->grain;
		uint32_t ent;
		unsigned fl;
		int r = grain_entry(bd, e, g, &ent);
		if (r)
			return r;
		if (ent == 0)
			fl = bd->backing ? 0 : BLOCK_STATUS_ZERO;
		else if (ent == GTE_ZEROED)
			fl = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO;
		else if (e->compressed)
			fl = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_DATA | 0x100;
		else
			fl = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_DATA |
			     (e->file == bd->file ? BLOCK_STATUS_OFFSET : 0);
		uint64_t h = (uint64_t)ent * 512 + in;
		if (pos == off) {
			first = fl;
			first_host = h;
		} else if (fl != first || (fl & 0x100) ||
			   ((fl & BLOCK_STATUS_OFFSET) && h != first_host + (pos - off))) {
			break;
		}
		pos += e->grain - in;
	}
	*pnum = (pos > off + len ? off + len : pos) - off;
	*flags = first & ~0x100u;
	if (first & BLOCK_STATUS_OFFSET)
		*host = first_host;
	return 0;
}

int vmdk_sparse_check(struct blockdev *bd, struct vmdk_extent *e, struct block_check *res)
{
	uint64_t end = e->file_end;

	if (e->stream_write)
		return 0;
	for (uint32_t i = 0; i < e->nb_gd; i++) {
		if (!e->gd[i])
			continue;
		if ((uint64_t)e->gd[i] * 512 + (uint64_t)e->gtes * 4 > end) {
			log_error("%s: grain table %u outside the file", bd->filename, i);
			res->corruptions++;
			continue;
		}
		int r = load_gt(bd, e, i);
		if (r)
			return r;
		for (uint32_t j = 0; j < e->gtes; j++) {
			uint32_t ent = e->gt[j];
			if (ent == 0 || (ent == GTE_ZEROED && (e->flags & VMDK4_FLAG_ZERO_GRAIN)))
				continue;
			res->allocated_clusters++;
			if (e->compressed)
				res->compressed_clusters++;
			if ((uint64_t)ent * 512 + (e->compressed ? 12 : e->grain) > end) {
				log_error("%s: grain %u/%u at sector %u outside the file", bd->filename,
					  i, j, ent);
				res->corruptions++;
			}
		}
	}
	res->total_clusters += (e->size + e->grain - 1) / e->grain;
	res->image_end_offset = end;
	return 0;
}

/* ---- creation ---- */

static char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return strdup(s ? s + 1 : path);
}

static int write_descriptor(char *buf, size_t len, const char *type, uint64_t sectors,
			    const char *extent_line)
{
	uint64_t cyl = sectors / (16 * 63);

	if (cyl > 16383)
		cyl = 16383;
	srand((unsigned)time(NULL) ^ (unsigned)sectors);
	return snprintf(buf, len,
			"# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=ffffffff\n"
			"createType=\"%s\"\n\n# Extent description\n%s\n\n"
			"# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
			"ddb.geometry.cylinders = \"%llu\"\nddb.geometry.heads = \"16\"\n"
			"ddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\n",
			(unsigned)rand(), type, extent_line, (unsigned long long)cyl);
}

static int create_sparse(const char *path, uint64_t size, bool stream)
{
	uint64_t sectors = size / 512, gsec = 128, gtes = 512;
	uint64_t nb_gd = (sectors + gsec * gtes - 1) / (gsec * gtes);
	uint64_t gd_sec = (nb_gd * 4 + 511) / 512, gt_sec = gtes * 4 / 512;
	uint64_t rgd = 0, gd = 0, overhead, desc_sec = 20;
	char ext[1200], *name = basename_of(path);
	struct bfile *f;
	uint8_t *buf;
	int r;

	if (!name)
		return -ENOMEM;
	snprintf(ext, sizeof(ext), "RW %llu SPARSE \"%s\"", (unsigned long long)sectors, name);
	free(name);
	if (stream) {
		overhead = gsec;
	} else {
		rgd = 1 + desc_sec;
		gd = rgd + gd_sec + nb_gd * gt_sec;
		overhead = (gd + gd_sec + nb_gd * gt_sec + gsec - 1) / gsec * gsec;
	}
	buf = calloc(1, overhead * 512);
	if (!buf)
		return -ENOMEM;
	le32_put(buf, VMDK4_MAGIC);
	le32_put(buf + 4, stream ? 3 : 1);
	le32_put(buf + 8, VMDK4_FLAG_NL_DETECT |
			  (stream ? VMDK4_FLAG_COMPRESS | VMDK4_FLAG_MARKER : VMDK4_FLAG_RGD));
	le64_put(buf + 12, sectors);
	le64_put(buf + 20, gsec);
	le64_put(buf + 28, 1);
	le64_put(buf + 36, desc_sec);
	le32_put(buf + 44, (uint32_t)gtes);
	le64_put(buf + 48, rgd);
	le64_put(buf + 56, stream ? VMDK_GD_AT_END : gd);
	le64_put(buf + 64, overhead);
	buf[73] = '\n';
	buf[74] = ' ';
	buf[75] = '\r';
	buf[76] = '\n';
	buf[77] = stream ? 1 : 0;
	write_descriptor((char *)buf + 512, desc_sec * 512, stream ? "streamOptimized" : "monolithicSparse",
			 sectors, ext);
	if (!stream) {
		for (uint64_t i = 0; i < nb_gd; i++) {
			le32_put(buf + rgd * 512 + i * 4, (uint32_t)(rgd + gd_sec + i * gt_sec));
			le32_put(buf + gd * 512 + i * 4, (uint32_t)(gd + gd_sec + i * gt_sec));
		}
	}
	r = bfile_open(path, false, false, true, &f);
	if (!r) {
		r = bfile_pwrite(f, buf, overhead * 512, 0);
		bfile_close(f);
	}
	free(buf);
	return r;
}

int vmdk_create(const char *path, const struct block_create_opts *o)
{
	const char *sub = o->subformat ? o->subformat : "monolithicSparse";
	uint64_t size = (o->size + 511) & ~511ull;

	if (o->backing_file) {
		log_error("vmdk: creating images with a backing file is not supported");
		return -ENOTSUP;
	}
	if (size > (1ull << 41)) {
		log_error("vmdk: images are limited to 2 TiB");
		return -EFBIG;
	}
	if (!strcmp(sub, "monolithicSparse"))
		return create_sparse(path, size, false);
	if (!strcmp(sub, "streamOptimized"))
		return create_sparse(path, size, true);
	if (!strcmp(sub, "monolithicFlat")) {
		char *flat = malloc(strlen(path) + 16), *name, ext[1200], desc[4096];
		struct bfile *f;
		int r;
		if (!flat)
			return -ENOMEM;
		strcpy(flat, path);
		char *dot = strrchr(flat, '.');
		if (dot && !strcmp(dot, ".vmdk"))
			*dot = 0;
		strcat(flat, "-flat.vmdk");
		name = basename_of(flat);
		if (!name) {
			free(flat);
			return -ENOMEM;
		}
		snprintf(ext, sizeof(ext), "RW %llu FLAT \"%s\" 0", (unsigned long long)(size / 512), name);
		free(name);
		int n = write_descriptor(desc, sizeof(desc), "monolithicFlat", size / 512, ext);
		r = bfile_open(flat, false, false, true, &f);
		free(flat);
		if (r)
			return r;
		r = bfile_truncate(f, size);
		bfile_close(f);
		if (r)
			return r;
		r = bfile_open(path, false, false, true, &f);
		if (r)
			return r;
		r = bfile_pwrite(f, desc, (size_t)n, 0);
		bfile_close(f);
		return r;
	}
	log_error("vmdk: subformat '%s' cannot be created (monolithicSparse, streamOptimized, "
		  "monolithicFlat)", sub);
	return -ENOTSUP;
}
