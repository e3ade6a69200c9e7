/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMDK inside the block layer:
 *   vmdk.c        descriptor parsing, extents, open/close, read/write
 *                 dispatch, block status, info, probe
 *   vmdk_sparse.c hosted sparse extents ("KDMV"): grain directory and
 *                 tables, compressed grains (streamOptimized), writing
 *                 monolithicSparse and streamOptimized, create
 * Subformats read: monolithicSparse, monolithicFlat, twoGbMaxExtentSparse,
 * twoGbMaxExtentFlat, streamOptimized, vmfs (FLAT/VMFS extents).
 */
#ifndef VIREO_VMDK_H
#define VIREO_VMDK_H

#include "block_int.h"
#include "vireo/log.h"

#define VMDK4_MAGIC 0x564d444bu   /* "KDMV" little-endian */
#define VMDK_GD_AT_END 0xffffffffffffffffull
#define VMDK4_FLAG_NL_DETECT  (1u << 0)
#define VMDK4_FLAG_RGD        (1u << 1)
#define VMDK4_FLAG_ZERO_GRAIN (1u << 2)
#define VMDK4_FLAG_COMPRESS   (1u << 16)
#define VMDK4_FLAG_MARKER     (1u << 17)
#define VMDK_MAX_EXTENTS 1024
#define VMDK_MAX_DESC    (64u << 10)

enum vmdk_etype { VMDK_FLAT, VMDK_ZERO, VMDK_SPARSE };

struct vmdk_extent {
	enum vmdk_etype type;
	struct bfile *file;       /* owned unless it is bd->file */
	bool own_file;
	uint64_t start;           /* guest byte offset of the extent */
	uint64_t size;            /* bytes */
	uint64_t flat_offset;     /* FLAT: byte offset in the file */
	/* SPARSE */
	uint32_t version, flags;
	uint64_t grain;           /* bytes */
	uint32_t gtes;            /* entries per grain table */
	uint32_t nb_gd;
	uint64_t gd_off, rgd_off; /* bytes */
	uint32_t *gd, *rgd;       /* host-endian */
	uint32_t *gt;             /* cached grain table */
	uint32_t gt_index;        /* which one, UINT32_MAX for none */
	uint64_t file_end;        /* where new grains go */
	bool compressed;
	uint8_t *gbuf;            /* one grain, decompressed */
	uint64_t gbuf_lba;        /* grain index in gbuf, UINT64_MAX for none */
	/* streamOptimized writing (append only) */
	bool stream_write;
	uint32_t *all_gt;         /* every grain table, nb_gd * gtes */
	uint64_t pend_grain;      /* grain index held in pend, UINT64_MAX: none */
	uint8_t *pend;
	uint64_t next_grain;      /* lowest grain index still writable */
};

struct vmdk {
	struct vmdk_extent *ext;
	int nb_ext;
	char *create_type;
	char *parent_hint;
	uint32_t cid, parent_cid;
	struct log_ratelimit rl;
};

static inline uint32_t le32_get(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return v;
}

static inline uint64_t le64_get(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

static inline void le32_put(void *p, uint32_t v)
{
	__builtin_memcpy(p, &v, 4);
}

static inline void le64_put(void *p, uint64_t v)
{
	__builtin_memcpy(p, &v, 8);
}

/* vmdk_sparse.c */
/* Opens the KDMV extent in E->file; DESC (optional) receives the embedded descriptor. */
int vmdk_sparse_open(struct blockdev *bd, struct vmdk_extent *e, char **desc);
void vmdk_sparse_close(struct blockdev *bd, struct vmdk_extent *e);
int vmdk_sparse_read(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		     const struct bvec *v, size_t skip, size_t len);
int vmdk_sparse_write(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		      const struct bvec *v, size_t skip, size_t len);
int vmdk_sparse_status(struct blockdev *bd, struct vmdk_extent *e, uint64_t off,
		       uint64_t len, uint64_t *pnum, uint64_t *host, unsigned *flags);
int vmdk_sparse_flush(struct blockdev *bd, struct vmdk_extent *e);
int vmdk_sparse_check(struct blockdev *bd, struct vmdk_extent *e, struct block_check *res);
int vmdk_create(const char *path, const struct block_create_opts *o);

#endif
