// SPDX-License-Identifier: Apache-2.0
/*
 * VHDX (Hyper-V), read-only: the two headers (the valid one with the
 * higher sequence number, CRC-32C checked), the region table, the metadata
 * items (block size, virtual size, logical sector size) and the block
 * allocation table with its interleaved sector-bitmap entries. Images with
 * a log that still needs replaying and differencing images are refused with
 * a clear error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_int.h"
#include "vireo/log.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

enum {
	PAYLOAD_NOT_PRESENT = 0,
	PAYLOAD_UNDEFINED = 1,
	PAYLOAD_ZERO = 2,
	PAYLOAD_UNMAPPED = 3,
	PAYLOAD_FULLY_PRESENT = 6,
	PAYLOAD_PARTIALLY_PRESENT = 7,
};

struct vhdx {
	uint32_t block_size, sector_size;
	uint64_t chunk_ratio;
	uint64_t bat_off, bat_entries;
	uint64_t *bat;
	uint64_t file_size;
	struct log_ratelimit rl;
};

static const uint8_t GUID_BAT[16] = {
	0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
	0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const uint8_t GUID_META[16] = {
	0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const uint8_t GUID_FILE_PARAMS[16] = {
	0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
	0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const uint8_t GUID_VDISK_SIZE[16] = {
	0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
	0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
static const uint8_t GUID_LOGICAL_SECTOR[16] = {
	0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
	0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* CRC-32C of BUF (LEN bytes) with its checksum field at CK taken as zero. */
static bool checksum_ok(uint8_t *buf, size_t len, size_t ck)
{
	uint32_t want = le32(buf + ck);

	memset(buf + ck, 0, 4);
	bool ok = crc32c(buf, len) == want;
	buf[ck] = (uint8_t)want;
	buf[ck + 1] = (uint8_t)(want >> 8);
	buf[ck + 2] = (uint8_t)(want >> 16);
	buf[ck + 3] = (uint8_t)(want >> 24);
	return ok;
}

static struct vhdx *vhdx_of(struct blockdev *bd)
{
	return bd->opaque;
}

static int vhdx_probe(const uint8_t *buf, size_t len, const char *filename)
{
	(void)filename;
	return len >= 8 && !memcmp(buf, "vhdxfile", 8) ? 100 : 0;
}

static int bad(struct blockdev *bd, const char *what)
{
	log_error("%s: invalid VHDX image: %s", bd->filename, what);
	return -EINVAL;
}

static bool guid_is_zero(const uint8_t *g)
{
	for (int i = 0; i < 16; i++)
		if (g[i])
			return false;
	return true;
}

static int read_metadata(struct blockdev *bd, uint64_t off, uint32_t len)
{
	struct vhdx *v = vhdx_of(bd);
	uint8_t *m;
	int r;

	if (len < 64 * KiB || len > 16 * MiB || off + len > v->file_size)
		return bad(bd, "metadata region");
	m = malloc(len);
	if (!m)
		return -ENOMEM;
	r = bfile_pread(bd->file, m, len, off);
	if (r)
		goto out;
	r = -EINVAL;
	if (memcmp(m, "metadata", 8)) {
		bad(bd, "metadata table signature");
		goto out;
	}
	uint16_t count = (uint16_t)(m[10] | m[11] << 8);
	if (count > 2047) {
		bad(bd, "metadata entry count");
		goto out;
	}
	bool have_params = false, have_size = false, have_sector = false;
	for (uint16_t i = 0; i < count; i++) {
		const uint8_t *e = m + 32 + (size_t)i * 32;
		uint32_t ioff = le32(e + 16), ilen = le32(e + 20);
		if (ioff > len || ilen > len - ioff)
			continue;
		const uint8_t *d = m + ioff;
		if (!memcmp(e, GUID_FILE_PARAMS, 16) && ilen >= 8) {
			v->block_size = le32(d);
			if (le32(d + 4) & 2) {
				log_error("%s: differencing VHDX images are not supported", bd->filename);
				r = -ENOTSUP;
				goto out;
			}
			have_params = true;
		} else if (!memcmp(e, GUID_VDISK_SIZE, 16) && ilen >= 8) {
			bd->size = le64(d);
			have_size = true;
		} else if (!memcmp(e, GUID_LOGICAL_SECTOR, 16) && ilen >= 4) {
			v->sector_size = le32(d);
			have_sector = true;
		}
	}
	if (!have_params || !have_size || !have_sector) {
		bad(bd, "required metadata missing");
		goto out;
	}
	if (v->block_size < MiB || v->block_size > 256 * MiB || (v->block_size & (v->block_size - 1))) {
		bad(bd, "block size");
		goto out;
	}
	if (v->sector_size != 512 && v->sector_size != 4096) {
		bad(bd, "logical sector size");
		goto out;
	}
	if (bd->size > (64ull << 40)) {
		bad(bd, "virtual size above 64 TiB");
		goto out;
	}
	r = 0;
out:
	free(m);
	return r;
}

static int vhdx_open(struct blockdev *bd)
{
	struct vhdx *v = vhdx_of(bd);
	uint8_t h[2][4 * KiB], rt[64 * KiB];
	int best = -1, r;

	r = bfile_size(bd->file, &v->file_size);
	if (r)
		return r;
	if (v->file_size < 320 * KiB)     /* headers and region tables */
		return bad(bd, "file too small");
	for (int i = 0; i < 2; i++) {
		r = bfile_pread(bd->file, h[i], sizeof(h[i]), (uint64_t)(i + 1) * 64 * KiB);
		if (r)
			return r;
		if (memcmp(h[i], "head", 4) || !checksum_ok(h[i], sizeof(h[i]), 4))
			continue;
		if (best < 0 || le64(h[i] + 8) > le64(h[best] + 8))
			best = i;
	}
	if (best < 0)
		return bad(bd, "no valid header");
	if (!guid_is_zero(h[best] + 48)) {
		log_error("%s: the VHDX log needs replaying (not cleanly closed); open it in "
			  "Hyper-V or qemu-img once to replay it", bd->filename);
		return -ENOTSUP;
	}
	if ((h[best][66] | h[best][67] << 8) != 1)
		return bad(bd, "version");
	/* Region table: the first valid of the two copies. */
	bool found = false;
	for (int i = 0; i < 2 && !found; i++) {
		r = bfile_pread(bd->file, rt, sizeof(rt), (uint64_t)(3 + i) * 64 * KiB);
		if (r)
			return r;
		found = !memcmp(rt, "regi", 4) && checksum_ok(rt, sizeof(rt), 4);
	}
	if (!found)
		return bad(bd, "no valid region table");
	uint32_t n = le32(rt + 8);
	uint64_t bat_off = 0, meta_off = 0;
	uint32_t bat_len = 0, meta_len = 0;
	if (n > 2047)
		return bad(bd, "region count");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = rt + 16 + (size_t)i * 32;
		if (!memcmp(e, GUID_BAT, 16)) {
			bat_off = le64(e + 16);
			bat_len = le32(e + 24);
		} else if (!memcmp(e, GUID_META, 16)) {
			meta_off = le64(e + 16);
			meta_len = le32(e + 24);
		} else if (le32(e + 28) & 1) {
			log_error("%s: VHDX requires an unknown region", bd->filename);
			return -ENOTSUP;
		}
	}
	if (!bat_off || !meta_off)
		return bad(bd, "BAT or metadata region missing");
	r = read_metadata(bd, meta_off, meta_len);
	if (r)
		return r;
	v->chunk_ratio = (8388608ull * v->sector_size) / v->block_size;
	uint64_t blocks = (bd->size + v->block_size - 1) / v->block_size;
	v->bat_entries = blocks + (blocks ? (blocks - 1) / v->chunk_ratio : 0);
	if (v->bat_entries * 8 > bat_len || bat_off + bat_len > v->file_size)
		return bad(bd, "BAT region too small or outside the file");
	v->bat = malloc(v->bat_entries * 8 + 8);
	if (!v->bat)
		return -ENOMEM;
	r = bfile_pread(bd->file, v->bat, v->bat_entries * 8, bat_off);
	if (r) {
		free(v->bat);
		v->bat = NULL;
		return r;
	}
	for (uint64_t i = 0; i < v->bat_entries; i++)
		v->bat[i] = le64((uint8_t *)&v->bat[i]);
	bd->size &= ~(uint64_t)(BLOCK_SECTOR - 1);
	return 0;
}

static void vhdx_close(struct blockdev *bd)
{
	free(vhdx_of(bd)->bat);
}

/* Host offset of guest OFF or 0 (zeroes); *n is how far the answer holds. */
static int map(struct blockdev *bd, uint64_t off, uint64_t *host, uint64_t *n)
{
	struct vhdx *v = vhdx_of(bd);
	uint64_t b = off / v->block_size, in = off % v->block_size;
	uint64_t idx = b + b / v->chunk_ratio;

	*n = v->block_size - in;
	if (idx >= v->bat_entries)
		return -EIO;
	uint64_t e = v->bat[idx];
	switch (e & 7) {
	case PAYLOAD_FULLY_PRESENT: {
		uint64_t h = (e >> 20) * MiB;
		if (!h || h + v->block_size > v->file_size + v->block_size) {
			log_warn_ratelimited(&v->rl, "%s: block %llu outside the file", bd->filename,
					     (unsigned long long)b);
			return -EIO;
		}
		*host = h + in;
		return 0;
	}
	case PAYLOAD_PARTIALLY_PRESENT:
		log_warn_ratelimited(&v->rl, "%s: partially present blocks (differencing) are not "
				     "supported", bd->filename);
		return -ENOTSUP;
	default:            /* not present, undefined, zero, unmapped: zeroes */
		*host = 0;
		return 0;
	}
}

static int vhdx_preadv(struct blockdev *bd, uint64_t off, const struct bvec *vec)
{
	size_t done = 0;

	while (done < vec->len) {
		uint64_t host, n;
		int r = map(bd, off + done, &host, &n);
		if (r)
			return r;
		if (n > vec->len - done)
			n = vec->len - done;
		if (!host) {
			bvec_memset(vec, done, 0, n);
		} else {
			uint8_t *tmp = malloc(n);
			if (!tmp)
				return -ENOMEM;
			r = bfile_pread(bd->file, tmp, n, host);
			if (!r)
				bvec_from_buf(vec, done, tmp, n);
			free(tmp);
			if (r)
				return r;
		}
		done += n;
	}
	return 0;
}

static int vhdx_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		       uint64_t *host_off, unsigned *flags)
{
	uint64_t host, n, pos = off, first;
	int r = map(bd, off, &first, &n);

	if (r)
		return r;
	while (pos < off + len) {
		r = map(bd, pos, &host, &n);
		if (r)
			return r;
		if ((host == 0) != (first == 0) || (host && host != first + (pos - off)))
			break;
		pos += n;
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

static int vhdx_info(struct blockdev *bd, struct block_info *info)
{
	info->cluster_size = vhdx_of(bd)->block_size;
	return 0;
}

const struct block_driver block_vhdx = {
	.name = "vhdx",
	.state_size = sizeof(struct vhdx),
	.probe = vhdx_probe,
	.open = vhdx_open,
	.close = vhdx_close,
	.preadv = vhdx_preadv,
	.status = vhdx_status,
	.info = vhdx_info,
	.writable = false,
};
