/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qcow2 inside the block layer. The files:
 *   qcow2.c           header, extensions, open/close/create, info, resize, backing
 *   qcow2_cache.c     the table cache (L2 tables and refcount blocks)
 *   qcow2_cluster.c   guest->host mapping, read, write (COW), zeroes, discard,
 *                     compressed clusters, block status
 *   qcow2_refcount.c  refcounts, cluster allocation, check and repair
 *   qcow2_snapshot.c  internal snapshots
 *
 * Crash safety: metadata is written through (refcount blocks, L2 entries,
 * L1 entries, header) in an order that leaves, after a crash of the process
 * at any point, at worst leaked clusters: a refcount is raised before the
 * reference is written, data before the L2 entry pointing at it, and a
 * reference is removed before the refcount drops. With lazy refcounts the
 * refcount updates are cached until flush and the dirty bit covers them.
 */
#ifndef VIREO_QCOW2_H
#define VIREO_QCOW2_H

#include "block_int.h"
#include "vireo/log.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21

#define QCOW2_INCOMPAT_DIRTY     (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT   (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2     (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN     0x1full
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_EXT_END          0u
#define QCOW2_EXT_BACKING_FMT  0xe2792acau
#define QCOW2_EXT_FEATURES     0x6803f857u

#define QCOW_OFLAG_COPIED     (1ull << 63)
#define QCOW_OFLAG_COMPRESSED (1ull << 62)
#define QCOW_OFLAG_ZERO       (1ull << 0)
#define L1E_OFFSET_MASK  0x00fffffffffffe00ull
#define L2E_OFFSET_MASK  0x00fffffffffffe00ull

/* Fixed limits on what an image may make us allocate. */
#define QCOW2_MAX_L1_BYTES  (32u << 20)
#define QCOW2_MAX_RT_BYTES  (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_VSIZE     (1ull << 55)

enum qcow2_ctype {
	QC_UNALLOC,     /* reads from the backing image */
	QC_ZERO,        /* reads as zeroes */
	QC_NORMAL,      /* data at a host offset */
	QC_COMPRESSED,  /* one compressed cluster */
};

struct qcow2_cache_ent {
	uint64_t offset;    /* host offset of the table, 0 when unused */
	uint64_t lru;
	bool dirty;
	uint8_t *buf;
};

struct qcow2_cache {
	struct qcow2_cache_ent *ent;
	int n;
	uint64_t tick;
	uint32_t size;      /* bytes per table (one cluster) */
	int last;           /* index of the last hit, looked at first */
};

struct qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	char *id, *name;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint32_t vm_state_size;
	uint64_t vm_state_size_large;
	uint64_t disk_size;
	uint64_t icount;
	uint32_t extra_size;
	uint8_t *extra;     /* extra data as stored (kept on rewrite) */
};

struct qcow2_ext {
	uint32_t type, len;
	uint8_t *data;
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits, cluster_size;
	uint64_t l1_offset;
	uint32_t l1_size;
	uint64_t *l1;               /* host-endian copy of the active L1 */
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint64_t rt_size;           /* entries */
	uint64_t *rt;               /* host-endian refcount table */
	uint32_t refcount_order, refcount_bits;
	uint64_t rb_entries;        /* refcounts per refcount block */
	uint64_t incompat, compat, autoclear;
	uint32_t header_length;
	uint8_t compression_type;   /* 0 zlib, 1 zstd */
	bool ext_l2;
	uint32_t l2_esize;          /* 8 or 16 bytes */
	uint32_t l2_entries;        /* entries per L2 table */
	uint32_t sc_size;           /* subcluster size (ext_l2) */
	char *backing_file, *backing_fmt;
	struct qcow2_ext *exts;     /* other header extensions, kept */
	int nb_exts;
	uint64_t snap_offset;
	struct qcow2_snapshot *snaps;
	int nb_snaps;
	struct qcow2_cache l2c, rbc;
	uint64_t free_hint;         /* lowest cluster index that may be free */
	uint64_t cbytes_off;        /* next free byte for compressed data, 0: none */
	bool lazy;                  /* lazy refcounts active */
	bool dirty_marked;          /* we set the dirty bit in this session */
	const uint32_t *avoid;      /* during repair: computed refcounts to avoid */
	uint64_t avoid_n;
	uint8_t *cbuf;              /* decompressed cluster cache */
	uint64_t cbuf_entry;        /* its L2 entry, 0 when empty */
	uint64_t file_size;         /* end of what the image file holds (grows as we allocate) */
	struct log_ratelimit rl;
};

static inline uint64_t be64_get(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

static inline uint32_t be32_get(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static inline uint16_t be16_get(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, 2);
	return __builtin_bswap16(v);
}

static inline void be64_put(void *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	__builtin_memcpy(p, &v, 8);
}

static inline void be32_put(void *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	__builtin_memcpy(p, &v, 4);
}

static inline void be16_put(void *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	__builtin_memcpy(p, &v, 2);
}

static inline struct qcow2 *qcow2_of(struct blockdev *bd)
{
	return bd->opaque;
}

static inline void qcow2_note_end(struct qcow2 *q, uint64_t end)
{
	if (end > q->file_size)
		q->file_size = end;
}

static inline uint64_t qcow2_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* qcow2.c */
int qcow2_write_header(struct blockdev *bd);
int qcow2_mark_dirty(struct blockdev *bd);
int qcow2_write_l1_entry(struct blockdev *bd, uint32_t idx);
/* Replaces the active L1 table by a copy of NEW_L1 (NEW_SIZE entries) at a new place. */
int qcow2_grow_l1(struct blockdev *bd, uint32_t new_size);

/* qcow2_cache.c */
int qcow2_cache_init(struct qcow2_cache *c, int n, uint32_t size);
void qcow2_cache_fini(struct qcow2_cache *c);
/* Returns the cached table at OFFSET, reading it unless FRESH (zero-filled). */
int qcow2_cache_get(struct blockdev *bd, struct qcow2_cache *c, uint64_t offset, bool fresh,
		    uint8_t **buf);
void qcow2_cache_mark_dirty(struct qcow2_cache *c, const uint8_t *buf);
int qcow2_cache_flush(struct blockdev *bd, struct qcow2_cache *c);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset);

/* qcow2_cluster.c */
int qcow2_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v);
int qcow2_pwritev(struct blockdev *bd, uint64_t off, const struct bvec *v);
int qcow2_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags);
int qcow2_discard(struct blockdev *bd, uint64_t off, uint64_t len);
int qcow2_make_empty(struct blockdev *bd);
/* Compresses one cluster (any thread, no lock); -E2BIG when it does not shrink. */
int qcow2_compress(struct blockdev *bd, const void *buf, size_t len, void *out, size_t *olen);
/* Stores an already compressed cluster at guest OFF (image lock held). */
int qcow2_write_compressed(struct blockdev *bd, uint64_t off, const void *cdata, size_t clen);
int qcow2_map_fast(struct blockdev *bd, uint64_t off, uint64_t len, bool write, bool peek,
		   uint64_t *host);
/* The cached table at OFFSET without touching the cache, or NULL. */
uint8_t *qcow2_cache_peek(const struct qcow2_cache *c, uint64_t offset);
int qcow2_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		 uint64_t *host_off, unsigned *flags);
/* Host clusters [*start, *start + *len) covered by a compressed L2 entry. */
void qcow2_compressed_range(struct qcow2 *q, uint64_t entry, uint64_t *host, uint64_t *size);
int qcow2_preallocate(struct blockdev *bd, uint64_t from, uint64_t to, const char *mode);
/* Drops the data clusters of guest range [from, to) (shrink). */
int qcow2_free_range(struct blockdev *bd, uint64_t from, uint64_t to);

/* qcow2_refcount.c */
int qcow2_rc_get(struct blockdev *bd, uint64_t ci, uint64_t *rc);
/* Adds ADDEND to the refcount of every cluster touched by [off, off+len). */
int qcow2_rc_update(struct blockdev *bd, uint64_t off, uint64_t len, int64_t addend);
/* Allocates N contiguous clusters (refcount 1); *off is the host offset. */
int qcow2_alloc_clusters(struct blockdev *bd, uint64_t n, uint64_t *off);
/* Allocates LEN bytes (< one cluster) for compressed data. */
int qcow2_alloc_bytes(struct blockdev *bd, uint64_t len, uint64_t *off);
int qcow2_free_clusters(struct blockdev *bd, uint64_t off, uint64_t len);
int qcow2_check(struct blockdev *bd, struct block_check *res, unsigned fix);
int qcow2_rc_flush(struct blockdev *bd);

/* qcow2_snapshot.c */
int qcow2_read_snapshots(struct blockdev *bd);
void qcow2_free_snapshots(struct qcow2 *q);
int qcow2_snap_list(struct blockdev *bd, struct block_snapshot **out, int *n);
int qcow2_snap_create(struct blockdev *bd, const char *name);
int qcow2_snap_apply(struct blockdev *bd, const char *id);
int qcow2_snap_delete(struct blockdev *bd, const char *id);
/* Walks an L1 table: adds ADDEND to the refcounts of its L2 tables and data. */
int qcow2_tree_refcount(struct blockdev *bd, const uint64_t *l1, uint32_t l1_size, int64_t addend);
/* Sets the COPIED flags of the active tables from the refcounts. */
int qcow2_fix_copied(struct blockdev *bd);

#endif
