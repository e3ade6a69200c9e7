/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the block layer: the driver table each format fills, the host file
 * wrapper (struct bfile) and scatter/gather helpers. Not for users of the
 * block layer (they include block.h only).
 */
#ifndef VIREO_BLOCK_INT_H
#define VIREO_BLOCK_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "block.h"

/* A host file: full-length pread/pwrite, O_DIRECT bouncing, holes. */
struct bfile {
	int fd;
	bool direct;
	bool read_only;
	bool no_sync;          /* bfile_flush does not fdatasync */
	pthread_mutex_t bounce_lock;
};

#define BFILE_ALIGN 4096u

int bfile_open(const char *path, bool read_only, bool direct, bool create,
	       struct bfile **out);
void bfile_close(struct bfile *f);
/* Reads past the end of the file return zeroes. */
int bfile_pread(struct bfile *f, void *buf, size_t len, uint64_t off);
int bfile_pwrite(struct bfile *f, const void *buf, size_t len, uint64_t off);
int bfile_preadv(struct bfile *f, const struct iovec *iov, int cnt, uint64_t off);
int bfile_pwritev(struct bfile *f, const struct iovec *iov, int cnt, uint64_t off);
int bfile_flush(struct bfile *f);
int bfile_size(struct bfile *f, uint64_t *size);
/* Bytes the file occupies on the host (st_blocks * 512). */
uint64_t bfile_allocated(struct bfile *f);
int bfile_truncate(struct bfile *f, uint64_t size);
/* Punches a hole (reads as zeroes); falls back to writing zeroes. */
int bfile_zero(struct bfile *f, uint64_t off, uint64_t len, bool punch);
int bfile_fallocate(struct bfile *f, uint64_t off, uint64_t len);
/* SEEK_DATA/SEEK_HOLE: *data = whether off is in data, *pnum = run length. */
int bfile_data_status(struct bfile *f, uint64_t off, uint64_t len, bool *data, uint64_t *pnum);

/* An I/O vector with its total length. */
struct bvec {
	const struct iovec *iov;
	int cnt;
	size_t len;
};

void bvec_init(struct bvec *v, const struct iovec *iov, int cnt);
/*
 * Describes bytes [skip, skip+len) of SRC in TMP (at most TMPMAX entries);
 * returns the entry count or -EINVAL when TMP is too small.
 */
int bvec_slice(const struct bvec *src, size_t skip, size_t len, struct iovec *tmp,
	       int tmpmax);
void bvec_memset(const struct bvec *v, size_t skip, int c, size_t len);
void bvec_to_buf(const struct bvec *v, size_t skip, void *buf, size_t len);
void bvec_from_buf(const struct bvec *v, size_t skip, const void *buf, size_t len);
bool buf_is_zero(const void *buf, size_t len);

struct block_driver {
	const char *name;
	size_t state_size;             /* bytes of bd->opaque */
	/* 0..100: how sure the format is that this file is its own. */
	int (*probe)(const uint8_t *buf, size_t len, const char *filename);
	int (*open)(struct blockdev *bd);
	void (*close)(struct blockdev *bd);
	/* Byte ranges, any alignment, inside the virtual size. */
	int (*preadv)(struct blockdev *bd, uint64_t off, const struct bvec *v);
	int (*pwritev)(struct blockdev *bd, uint64_t off, const struct bvec *v);
	int (*flush)(struct blockdev *bd);
	int (*discard)(struct blockdev *bd, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags);
	/* Compresses one cluster into OUT (cluster size); no lock held, any thread. */
	int (*compress)(struct blockdev *bd, const void *in, size_t len, void *out, size_t *olen);
	/* Stores compressed data for the cluster at guest OFF (lock held). */
	int (*write_compressed)(struct blockdev *bd, uint64_t off, const void *cdata, size_t clen);
	int (*status)(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		      uint64_t *host_off, unsigned *flags);
	int (*resize)(struct blockdev *bd, uint64_t size, const char *prealloc);
	int (*set_backing)(struct blockdev *bd, const char *file, const char *fmt);
	int (*make_empty)(struct blockdev *bd);
	int (*info)(struct blockdev *bd, struct block_info *info);
	int (*check)(struct blockdev *bd, struct block_check *res, unsigned fix);
	int (*snap_list)(struct blockdev *bd, struct block_snapshot **out, int *n);
	int (*snap_create)(struct blockdev *bd, const char *name);
	int (*snap_apply)(struct blockdev *bd, const char *id);
	int (*snap_delete)(struct blockdev *bd, const char *id);
	int (*create)(const char *path, const struct block_create_opts *opts);
	int (*measure)(const struct block_create_opts *opts, struct blockdev *src,
		       struct block_measure *out);
	/*
	 * Optional: when [off, off+len) maps to one plain host range that a
	 * read (or an in-place write) can use without changing metadata, sets
	 * *host and returns 0; otherwise -EAGAIN (the locked path is taken).
	 */
	int (*map_fast)(struct blockdev *bd, uint64_t off, uint64_t len, bool write, bool peek,
			uint64_t *host);
	bool parallel_rw;              /* preadv/pwritev need no image lock */
	bool writable;                 /* can be created and written */
};

struct blockdev {
	const struct block_driver *drv;
	void *opaque;
	char *filename;
	struct bfile *file;
	uint64_t size;                 /* virtual size */
	uint32_t cluster_size;         /* from info at open, 0 if none */
	bool read_only;
	struct block_open_opts opts;   /* as given (allowed_dirs borrowed) */
	struct blockdev *backing;
	int depth;                     /* 0 for the top image */
	dev_t dev;
	ino_t ino;
	struct blockdev *parent;       /* the image whose backing this is */
	pthread_mutex_t lock;          /* metadata, caches */
	pthread_rwlock_t io_lock;      /* see block.c: shared by plain data I/O */
	unsigned long seq;             /* odd while lock is held (seqlock for peeks) */
};

extern const struct block_driver block_raw;
extern const struct block_driver block_qcow2;
extern const struct block_driver block_vmdk;
extern const struct block_driver block_vdi;
extern const struct block_driver block_vhdx;

const struct block_driver *block_driver_find(const char *name);

/*
 * Opens BACKING (a name as stored in BD's header, relative to BD's
 * directory) with format FMT (NULL probes) as bd->backing, applying the
 * allow-list, loop and depth checks. Respects opts.no_backing.
 */
int block_open_backing(struct blockdev *bd, const char *backing, const char *fmt);
/* Resolves a backing name relative to the overlay's path; caller frees. */
char *block_backing_path(const char *overlay, const char *backing);
/* Reads from the backing image, zeroes where there is none or past its end. */
int block_read_backing(struct blockdev *bd, uint64_t off, const struct bvec *v);
/* Helpers for drivers: unlocked versions used inside driver code. */
int block_do_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v);

#endif
