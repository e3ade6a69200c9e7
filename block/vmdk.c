// SPDX-License-Identifier: Apache-2.0
/*
 * VMDK: the text descriptor (embedded or in its own file), the extents it
 * lists (FLAT/VMFS, ZERO, SPARSE), and the dispatch of requests to them.
 * Extent files are resolved relative to the descriptor and, like backing
 * files, must lie inside the allowed directories when a list is given.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdk.h"
#include "vireo/log.h"

static struct vmdk *vmdk_of(struct blockdev *bd)
{
	return bd->opaque;
}

static int vmdk_probe(const uint8_t *buf, size_t len, const char *filename)
{
	(void)filename;
	if (len >= 4 && le32_get(buf) == VMDK4_MAGIC)
		return 100;
	if (len >= 21 && !memcmp(buf, "# Disk DescriptorFile", 21))
		return 100;
	/* A descriptor may start with other comments. */
	if (len > 0 && memmem(buf, len, "createType=", 11) && memmem(buf, len, "# Disk DescriptorFile", 21))
		return 90;
	return 0;
}

/* Value of KEY in the descriptor (quotes removed), or NULL; caller frees. */
static char *desc_value(const char *desc, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = desc; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (strncmp(l, key, kl))
			continue;
		const char *p = l + kl;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = p;
		while (*end && *end != '\n' && *end != '\r')
			end++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > p && *p == '"') {
			p++;
			if (end > p && end[-1] == '"')
				end--;
		}
		return strndup(p, (size_t)(end - p));
	}
	return NULL;
}

static bool path_ok(struct blockdev *bd, const char *path)
{
	const char *const *dirs = bd->opts.allowed_dirs;
	char real[PATH_MAX];

	if (!dirs)
		return true;
	if (!realpath(path, real))
		return false;
	for (; *dirs; dirs++) {
		char dir[PATH_MAX];
		if (!realpath(*dirs, dir))
			continue;
		size_t l = strlen(dir);
		if (!strncmp(real, dir, l) && (real[l] == '/' || (l == 1)))
			return true;
	}
	return false;
}

static int add_extent(struct vmdk *v, struct vmdk_extent **out)
{
	if (v->nb_ext >= VMDK_MAX_EXTENTS)
		return -EINVAL;
	struct vmdk_extent *n = realloc(v->ext, sizeof(*n) * (size_t)(v->nb_ext + 1));
	if (!n)
		return -ENOMEM;
	v->ext = n;
	*out = &n[v->nb_ext++];
	memset(*out, 0, sizeof(**out));
	(*out)->gt_index = UINT32_MAX;
	(*out)->gbuf_lba = UINT64_MAX;
	(*out)->pend_grain = UINT64_MAX;
	return 0;
}

/* Parses the extent lines of a descriptor file and opens each extent. */
static int parse_extents(struct blockdev *bd, const char *desc)
{
	struct vmdk *v = vmdk_of(bd);
	uint64_t start = 0;
	int r;

	for (const char *l = desc; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char access[16], type[16], fname[1024];
		unsigned long long sectors, offset = 0;
		int n;
		while (*l == ' ' || *l == '\t')
			l++;
		if (strncmp(l, "RW ", 3) && strncmp(l, "RDONLY ", 7) && strncmp(l, "NOACCESS ", 9))
			continue;
		n = sscanf(l, "%15s %llu %15s \"%1023[^\"]\" %llu", access, &sectors, type, fname, &offset);
		if (n < 3 || sectors > (1ull << 46)) {
			log_error("%s: invalid extent line", bd->filename);
			return -EINVAL;
		}
		struct vmdk_extent *e;
		r = add_extent(v, &e);
		if (r)
			return r;
		e->start = start;
		e->size = sectors * 512;
		e->flat_offset = offset * 512;
		if (start + e->size < start || offset > (1ull << 46))
			return -EINVAL;
		start += e->size;
		if (!strcmp(type, "ZERO")) {
			e->type = VMDK_ZERO;
			continue;
		}
		if (n < 4) {
			log_error("%s: extent without a file name", bd->filename);
			return -EINVAL;
		}
		if (!strcmp(type, "FLAT") || !strcmp(type, "VMFS")) {
			e->type = VMDK_FLAT;
		} else if (!strcmp(type, "SPARSE")) {
			e->type = VMDK_SPARSE;
		} else {
			log_error("%s: extent type %s is not supported", bd->filename, type);
			return -ENOTSUP;
		}
		char *path = block_backing_path(bd->filename, fname);
		if (!path)
			return -ENOMEM;
		if (!path_ok(bd, path)) {
			log_error("%s: extent file %s is outside the allowed directories",
				  bd->filename, path);
			free(path);
			return -EPERM;
		}
		r = bfile_open(path, bd->read_only, bd->opts.direct, false, &e->file);
		free(path);
		if (r)
			return r;
		e->own_file = true;
		if (e->type == VMDK_SPARSE) {
			uint64_t declared = e->size;
			r = vmdk_sparse_open(bd, e, NULL);
			if (r)
				return r;
			if (e->size < declared) {
				log_error("%s: sparse extent smaller than the descriptor says",
					  bd->filename);
				return -EINVAL;
			}
			e->size = declared;
		}
	}
	if (!v->nb_ext) {
		log_error("%s: VMDK descriptor lists no extents", bd->filename);
		return -EINVAL;
	}
	bd->size = start;
	return 0;
}

static void vmdk_close(struct blockdev *bd)
{
	struct vmdk *v = vmdk_of(bd);

	for (int i = 0; i < v->nb_ext; i++) {
		struct vmdk_extent *e = &v->ext[i];
		if (e->type == VMDK_SPARSE)
			vmdk_sparse_close(bd, e);
		if (e->own_file)
			bfile_close(e->file);
	}
	free(v->ext);
	free(v->create_type);
	free(v->parent_hint);
	memset(v, 0, sizeof(*v));
}

static void desc_meta(struct vmdk *v, const char *desc)
{
	char *s;

	v->create_type = desc_value(desc, "createType");
	v->parent_hint = desc_value(desc, "parentFileNameHint");
	if ((s = desc_value(desc, "CID"))) {
		v->cid = (uint32_t)strtoul(s, NULL, 16);
		free(s);
	}
	if ((s = desc_value(desc, "parentCID"))) {
		v->parent_cid = (uint32_t)strtoul(s, NULL, 16);
		free(s);
	}
}

static int vmdk_open(struct blockdev *bd)
{
	struct vmdk *v = vmdk_of(bd);
	uint8_t head[4];
	char *desc = NULL;
	int r;

	r = bfile_pread(bd->file, head, 4, 0);
	if (r)
		return r;
	if (le32_get(head) == VMDK4_MAGIC) {
		struct vmdk_extent *e;
		r = add_extent(v, &e);
		if (!r) {
			e->type = VMDK_SPARSE;
			e->file = bd->file;
			r = vmdk_sparse_open(bd, e, &desc);
		}
		if (!r)
			bd->size = e->size;
		if (!r && desc)
			desc_meta(v, desc);
	} else {
		uint64_t size;
		r = bfile_size(bd->file, &size);
		if (!r && size > VMDK_MAX_DESC) {
			log_error("%s: VMDK descriptor file too large", bd->filename);
			r = -EINVAL;
		}
		if (!r) {
			desc = calloc(1, size + 1);
			r = desc ? bfile_pread(bd->file, desc, size, 0) : -ENOMEM;
		}
		/* qemu-img pads descriptor files with NULs to a sector. */
		if (!r && !buf_is_zero(desc + strlen(desc), size - strlen(desc))) {
			log_error("%s: not a VMDK descriptor (binary data)", bd->filename);
			r = -EINVAL;
		}
		if (!r) {
			desc_meta(v, desc);
			r = parse_extents(bd, desc);
		}
	}
	free(desc);
	if (!r && v->parent_hint && *v->parent_hint && v->parent_cid != 0xffffffffu)
		r = block_open_backing(bd, v->parent_hint, "vmdk");
	if (r)
		vmdk_close(bd);
	return r;
}

/* The extent holding guest byte OFF. */
static struct vmdk_extent *find_ext(struct vmdk *v, uint64_t off)
{
	int lo = 0, hi = v->nb_ext - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct vmdk_extent *e = &v->ext[mid];
		if (off < e->start)
			hi = mid - 1;
		else if (off >= e->start + e->size)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

static int vmdk_rw(struct blockdev *bd, uint64_t off, const struct bvec *vec, bool write)
{
	struct vmdk *v = vmdk_of(bd);
	size_t done = 0;

	while (done < vec->len) {
		struct vmdk_extent *e = find_ext(v, off + done);
		if (!e)
			return -EIO;
		uint64_t in = off + done - e->start;
		size_t n = e->size - in < vec->len - done ? (size_t)(e->size - in) : vec->len - done;
		int r = 0;
		switch (e->type) {
		case VMDK_ZERO:
			if (write)
				return -EROFS;
			bvec_memset(vec, done, 0, n);
			break;
		case VMDK_FLAT: {
			struct iovec *tmp = malloc(sizeof(*tmp) * (size_t)(vec->cnt ? vec->cnt : 1));
			if (!tmp)
				return -ENOMEM;
			int c = bvec_slice(vec, done, n, tmp, vec->cnt);
			r = c < 0 ? c : write ? bfile_pwritev(e->file, tmp, c, e->flat_offset + in)
					      : bfile_preadv(e->file, tmp, c, e->flat_offset + in);
			free(tmp);
			break;
		}
		case VMDK_SPARSE:
			r = write ? vmdk_sparse_write(bd, e, in, vec, done, n)
				  : vmdk_sparse_read(bd, e, in, vec, done, n);
			break;
		}
		if (r)
			return r;
		done += n;
	}
	return 0;
}

static int vmdk_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return vmdk_rw(bd, off, v, false);
}

static int vmdk_pwritev(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	return vmdk_rw(bd, off, v, true);
}

static int vmdk_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags)
{
	uint8_t *z = calloc(1, 1 << 20);
	int r = 0;

	(void)flags;
	if (!z)
		return -ENOMEM;
	while (len && !r) {
		size_t n = len < (1 << 20) ? (size_t)len : (1 << 20);
		struct iovec iov = { z, n };
		struct bvec v;
		bvec_init(&v, &iov, 1);
		r = vmdk_rw(bd, off, &v, true);
		off += n;
		len -= n;
	}
	free(z);
	return r;
}

static int vmdk_flush(struct blockdev *bd)
{
	struct vmdk *v = vmdk_of(bd);

	for (int i = 0; i < v->nb_ext; i++) {
		struct vmdk_extent *e = &v->ext[i];
		int r = e->type == VMDK_SPARSE ? vmdk_sparse_flush(bd, e) : 0;
		if (!r && e->file)
			r = bfile_flush(e->file);
		if (r)
			return r;
	}
	return 0;
}

static int vmdk_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		       uint64_t *host, unsigned *flags)
{
	struct vmdk *v = vmdk_of(bd);
	struct vmdk_extent *e = find_ext(v, off);

	if (!e)
		return -EIO;
	uint64_t in = off - e->start;
	uint64_t n = e->size - in < len ? e->size - in : len;
	switch (e->type) {
	case VMDK_ZERO:
		*pnum = n;
		*flags = BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO;
		return 0;
	case VMDK_FLAT: {
		bool data;
		int r = bfile_data_status(e->file, e->flat_offset + in, n, &data, pnum);
		if (r)
			return r;
		*flags = BLOCK_STATUS_ALLOCATED | (data ? BLOCK_STATUS_DATA : BLOCK_STATUS_ZERO);
		if (e->file == bd->file) {
			*flags |= BLOCK_STATUS_OFFSET;
			*host = e->flat_offset + in;
		}
		return 0;
	}
	case VMDK_SPARSE:
		return vmdk_sparse_status(bd, e, in, n, pnum, host, flags);
	}
	return -EIO;
}

static int vmdk_info(struct blockdev *bd, struct block_info *info)
{
	struct vmdk *v = vmdk_of(bd);

	info->subformat = v->create_type;
	for (int i = 0; i < v->nb_ext; i++) {
		if (v->ext[i].type == VMDK_SPARSE) {
			info->cluster_size = (uint32_t)v->ext[i].grain;
			break;
		}
	}
	if (v->nb_ext > 1 || (v->nb_ext == 1 && v->ext[0].file != bd->file)) {
		uint64_t total = info->actual_size;
		for (int i = 0; i < v->nb_ext; i++)
			if (v->ext[i].own_file)
				total += bfile_allocated(v->ext[i].file);
		info->actual_size = total;
	}
	if (v->parent_hint && *v->parent_hint && v->parent_cid != 0xffffffffu) {
		info->backing_file = strdup(v->parent_hint);
		info->full_backing = block_backing_path(bd->filename, v->parent_hint);
		info->backing_fmt = strdup("vmdk");
		if (!info->backing_file || !info->full_backing || !info->backing_fmt)
			return -ENOMEM;
	}
	return 0;
}

static int vmdk_check(struct blockdev *bd, struct block_check *res)
{
	struct vmdk *v = vmdk_of(bd);

	for (int i = 0; i < v->nb_ext; i++) {
		if (v->ext[i].type != VMDK_SPARSE)
			continue;
		int r = vmdk_sparse_check(bd, &v->ext[i], res);
		if (r)
			return r;
	}
	return 0;
}

static int vmdk_check_op(struct blockdev *bd, struct block_check *res, unsigned fix)
{
	if (fix)
		return -ENOTSUP;
	return vmdk_check(bd, res);
}

static int vmdk_measure(const struct block_create_opts *o, struct blockdev *src,
			struct block_measure *out)
{
	uint64_t size = src ? block_size(src) : o->size;
	uint64_t grains = (size + 65535) / 65536;
	uint64_t meta = 65536 + 2 * (((grains + 511) / 512) * 2048 + 4096);

	out->fully_allocated = size + meta;
	out->required = out->fully_allocated;
	return 0;
}

const struct block_driver block_vmdk = {
	.name = "vmdk",
	.state_size = sizeof(struct vmdk),
	.probe = vmdk_probe,
	.open = vmdk_open,
	.close = vmdk_close,
	.preadv = vmdk_preadv,
	.pwritev = vmdk_pwritev,
	.flush = vmdk_flush,
	.write_zeroes = vmdk_write_zeroes,
	.status = vmdk_status,
	.info = vmdk_info,
	.check = vmdk_check_op,
	.create = vmdk_create,
	.measure = vmdk_measure,
	.writable = true,
};
