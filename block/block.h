/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The block layer: one interface to disk images (raw, qcow2, ...) shared by
 * vireo-img and the VMM's virtio-blk.
 *
 * A struct blockdev is an open image (and, below it, its backing chain).
 * Offsets and lengths of block_readv/writev/discard/write_zeroes are bytes
 * and must be multiples of BLOCK_SECTOR (512); requests must lie inside the
 * virtual size. Every function returns 0 (or a count where stated) on
 * success and -errno on failure, after logging a clear message for errors
 * caused by the image itself (corruption, bad header, backing not allowed).
 *
 * Thread safety: every function may be called from any thread, concurrently,
 * on the same blockdev. raw runs reads and writes in parallel (pread/pwrite
 * on one fd). Formats with metadata keep it under one mutex per image; for
 * qcow2, reads and in-place writes of allocated clusters look their mapping
 * up in the cached tables without the mutex (checked by a sequence count,
 * retried under the mutex) and do the data I/O in parallel (a shared lock
 * keeps clusters from being freed meanwhile); allocating writes, discard,
 * zeroes, snapshots, resize and flush run one at a time. block_close must
 * not race with any other call on the same blockdev.
 *
 * Hostile images: every header field and table entry is checked against the
 * file size and against fixed limits before use; allocations are bounded by
 * the file size (never by a number read from the file alone). A corrupt
 * image fails with -EINVAL (bad header/format) or -EIO (corrupt metadata
 * found during I/O), never a crash.
 */
#ifndef VIREO_BLOCK_H
#define VIREO_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLOCK_SECTOR 512u
/* Longest backing chain followed (the top image counts as one). */
#define BLOCK_MAX_CHAIN 64
/* Requests with more segments are refused with -EINVAL. */
#define BLOCK_MAX_IOV 1024

struct blockdev;

struct block_open_opts {
	const char *format;    /* "raw", "qcow2", ...; NULL probes the file */
	bool read_only;
	bool direct;           /* O_DIRECT on every file of the chain */
	bool no_backing;       /* do not open backing files (unallocated reads as 0) */
	/* Backing files must resolve (realpath) into one of these directories;
	 * a NULL-terminated array, or NULL for no restriction. */
	const char *const *allowed_dirs;
	bool backing_read_write;  /* open the backing image writable (commit) */
	/* cache=unsafe: flushes write metadata out but do not wait for the disk
	 * (what qemu-img convert does by default); for bulk copies only. */
	bool no_sync;
};

int block_open(const char *path, const struct block_open_opts *opts,
	       struct blockdev **out);
/* Flushes (when writable) and closes the whole chain. */
void block_close(struct blockdev *bd);

int block_readv(struct blockdev *bd, uint64_t off, const struct iovec *iov, int iovcnt);
int block_writev(struct blockdev *bd, uint64_t off, const struct iovec *iov, int iovcnt);
int block_read(struct blockdev *bd, uint64_t off, void *buf, size_t len);
int block_write(struct blockdev *bd, uint64_t off, const void *buf, size_t len);
/* Makes every completed write durable (metadata and data). */
int block_flush(struct blockdev *bd);
/* The range may afterwards read as zeroes or as older data (a hint). */
int block_discard(struct blockdev *bd, uint64_t off, uint64_t len);
#define BLOCK_ZERO_MAY_UNMAP 1u
/* The range reads as zeroes afterwards. */
int block_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags);
/*
 * Writes one whole cluster compressed (off cluster-aligned, len one cluster,
 * or the tail of the image). -ENOTSUP for formats without compression.
 * The compression itself runs outside the image lock, so several threads
 * writing different clusters share the CPU work. Data that does not shrink
 * is written plainly.
 */
int block_write_compressed(struct blockdev *bd, uint64_t off, const void *buf, size_t len);

/* block_status flags. */
#define BLOCK_STATUS_DATA      1u  /* reads data (not known to be zero) */
#define BLOCK_STATUS_ZERO      2u  /* reads as zeroes */
#define BLOCK_STATUS_ALLOCATED 4u  /* defined by this layer, not its backing */
#define BLOCK_STATUS_OFFSET    8u  /* *host_off is valid (data in the image file) */

/*
 * Status of [off, off+len) in this layer only: sets *pnum to the length
 * (> 0, <= len) of the run that shares the returned flags and, with
 * BLOCK_STATUS_OFFSET, *host_off to the file offset of off. Unallocated
 * ranges return 0 flags when there is a backing image, ZERO otherwise.
 */
int block_status(struct blockdev *bd, uint64_t off, uint64_t len,
		 uint64_t *pnum, uint64_t *host_off, unsigned *flags);
/*
 * The same through the chain: the first layer that allocates the range
 * answers; *depth is its depth (0 = top). Unallocated anywhere: ZERO.
 */
int block_status_chain(struct blockdev *bd, uint64_t off, uint64_t len,
		       uint64_t *pnum, uint64_t *host_off, unsigned *flags, int *depth);

uint64_t block_size(const struct blockdev *bd);
const char *block_format(const struct blockdev *bd);
const char *block_filename(const struct blockdev *bd);
bool block_read_only(const struct blockdev *bd);
struct blockdev *block_backing(const struct blockdev *bd);
/* Cluster (or grain/block) size, 0 for raw. */
uint32_t block_cluster_size(const struct blockdev *bd);

/* Changes the virtual size (grow or shrink). */
int block_resize(struct blockdev *bd, uint64_t size, const char *prealloc);
/*
 * Points the image at a new backing file (NULL: none) without copying data
 * (rebase -u). The name is stored as given.
 */
int block_set_backing(struct blockdev *bd, const char *file, const char *fmt);
/* Makes every cluster unallocated (reads from the backing image). */
int block_make_empty(struct blockdev *bd);

/* Image description, as `info` shows it. Strings are owned by the struct. */
struct block_snapshot {
	char *id;
	char *name;
	uint64_t vm_state_size;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t icount;  /* UINT64_MAX when absent */
	uint64_t disk_size;
};

struct block_info {
	const char *format;
	uint64_t virtual_size;
	uint64_t actual_size;     /* bytes used on the host */
	uint32_t cluster_size;    /* 0 if none */
	char *backing_file;       /* as stored in the image */
	char *backing_fmt;
	char *full_backing;       /* resolved path */
	bool dirty;
	/* qcow2 */
	const char *compat;       /* "0.10" or "1.1" */
	bool lazy_refcounts, corrupt, extended_l2;
	int refcount_bits;
	const char *compression_type;
	/* vmdk/vdi: free-form subformat name */
	const char *subformat;
	struct block_snapshot *snapshots;
	int nb_snapshots;
};

int block_get_info(struct blockdev *bd, struct block_info *info);
void block_info_free(struct block_info *info);

/* Internal snapshots (qcow2). id_or_name matches the id first, then the name. */
int block_snapshot_list(struct blockdev *bd, struct block_snapshot **out, int *n);
void block_snapshots_free(struct block_snapshot *s, int n);
int block_snapshot_create(struct blockdev *bd, const char *name);
int block_snapshot_apply(struct blockdev *bd, const char *id_or_name);
int block_snapshot_delete(struct blockdev *bd, const char *id_or_name);

/* Consistency check; fix is a mask of BLOCK_FIX_*. */
#define BLOCK_FIX_LEAKS  1u
#define BLOCK_FIX_ERRORS 2u
struct block_check {
	uint64_t corruptions, leaks, check_errors;
	uint64_t corruptions_fixed, leaks_fixed;
	uint64_t allocated_clusters, total_clusters, fragmented_clusters;
	uint64_t compressed_clusters;
	uint64_t image_end_offset;
};
/* -ENOTSUP for formats without a check. */
int block_check(struct blockdev *bd, struct block_check *res, unsigned fix);

/* Creation. Unset fields (0/NULL) take the format's defaults. */
struct block_create_opts {
	uint64_t size;              /* virtual size; 0 with backing_file: take the backing's */
	uint32_t cluster_size;
	const char *backing_file;
	const char *backing_fmt;
	const char *preallocation;  /* off, metadata, falloc, full */
	const char *compression_type; /* zlib, zstd */
	const char *compat;         /* 0.10, v2, 1.1, v3 */
	const char *subformat;      /* vmdk: monolithicSparse/streamOptimized; vdi: dynamic/static */
	bool lazy_refcounts;
	bool extended_l2;
	int refcount_bits;          /* 0 = 16 */
	const char *const *allowed_dirs;
};
int block_create(const char *format, const char *path, const struct block_create_opts *opts);

/* Returns the format name for the content of PATH ("raw" if nothing else fits). */
int block_probe(const char *path, const char **format);
/* Whether a format is known; with writable, whether it can be created/written. */
bool block_format_known(const char *format, bool writable);

/* Upper bound on file size needed to store a copy (measure). */
struct block_measure {
	uint64_t required, fully_allocated;
};
int block_measure(const char *format, const struct block_create_opts *opts,
		  struct blockdev *src, struct block_measure *out);

#endif
