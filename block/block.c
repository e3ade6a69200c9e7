// SPDX-License-Identifier: Apache-2.0
/*
 * The format-independent part of the block layer: probing, opening chains
 * (allow-list, loops, depth), request checks and locking, and the helpers
 * drivers share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_int.h"
#include "vireo/log.h"

static const struct block_driver *const drivers[] = {
	&block_qcow2,
	&block_vmdk,
	&block_vdi,
	&block_vhdx,
	&block_raw,
};

const struct block_driver *block_driver_find(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

bool block_format_known(const char *format, bool writable)
{
	const struct block_driver *d = block_driver_find(format);

	return d && (!writable || d->writable);
}

static const struct block_driver *probe_buf(const uint8_t *buf, size_t len, const char *path)
{
	const struct block_driver *best = &block_raw;
	int score = 0;

	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (!drivers[i]->probe)
			continue;
		int s = drivers[i]->probe(buf, len, path);
		if (s > score) {
			score = s;
			best = drivers[i];
		}
	}
	return best;
}

static int probe_fd(int fd, const char *path, const struct block_driver **out)
{
	/* Aligned, so that it also works on an O_DIRECT descriptor. */
	uint8_t buf[4096] __attribute__((aligned(4096)));
	ssize_t n;

	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;
		log_error_errno(err, "%s: cannot read the image header", path);
		return err;
	}
	*out = probe_buf(buf, (size_t)n, path);
	return 0;
}

int block_probe(const char *path, const char **format)
{
	const struct block_driver *d;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		r = -errno;
		log_error_errno(r, "cannot open %s", path);
		return r;
	}
	r = probe_fd(fd, path, &d);
	close(fd);
	if (!r)
		*format = d->name;
	return r;
}

char *block_backing_path(const char *overlay, const char *backing)
{
	const char *slash;
	char *p;

	if (backing[0] == '/' || !(slash = strrchr(overlay, '/')))
		return strdup(backing);
	size_t dl = (size_t)(slash - overlay) + 1;
	p = malloc(dl + strlen(backing) + 1);
	if (!p)
		return NULL;
	memcpy(p, overlay, dl);
	strcpy(p + dl, backing);
	return p;
}

static bool path_allowed(const char *real, const char *const *dirs)
{
	if (!dirs)
		return true;
	for (; *dirs; dirs++) {
		char dir[PATH_MAX];
		if (!realpath(*dirs, dir))
			continue;
		size_t l = strlen(dir);
		while (l > 1 && dir[l - 1] == '/')
			dir[--l] = 0;
		if (!strncmp(real, dir, l) && (real[l] == '/' || (l == 1 && dir[0] == '/')))
			return true;
	}
	return false;
}

static int open_one(const char *path, const struct block_open_opts *opts, int depth,
		    struct blockdev *parent, struct blockdev **out)
{
	struct blockdev *bd;
	struct stat st;
	int r;

	if (depth >= BLOCK_MAX_CHAIN) {
		log_error("%s: backing chain longer than %d images", path, BLOCK_MAX_CHAIN);
		return -ELOOP;
	}
	bd = calloc(1, sizeof(*bd));
	if (!bd)
		return -ENOMEM;
	pthread_mutex_init(&bd->lock, NULL);
	pthread_rwlock_init(&bd->io_lock, NULL);
	bd->opts = *opts;
	bd->opts.format = NULL;
	bd->read_only = opts->read_only;
	bd->depth = depth;
	bd->parent = parent;
	bd->filename = strdup(path);
	if (!bd->filename) {
		r = -ENOMEM;
		goto fail;
	}
	r = bfile_open(path, opts->read_only, opts->direct, false, &bd->file);
	if (r)
		goto fail;
	bd->file->no_sync = opts->no_sync;
	if (fstat(bd->file->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	bd->dev = st.st_dev;
	bd->ino = st.st_ino;
	for (struct blockdev *p = parent; p; p = p->parent) {
		if (p->dev == bd->dev && p->ino == bd->ino) {
			log_error("%s: loop in the backing chain (already opened as %s)",
				  path, p->filename);
			r = -ELOOP;
			goto fail;
		}
	}
	if (opts->format) {
		bd->drv = block_driver_find(opts->format);
		if (!bd->drv) {
			log_error("%s: unknown format '%s'", path, opts->format);
			r = -EINVAL;
			goto fail;
		}
	} else {
		r = probe_fd(bd->file->fd, path, &bd->drv);
		if (r)
			goto fail;
	}
	if (!opts->read_only && !bd->drv->writable) {
		log_error("%s: format %s can only be opened read-only", path, bd->drv->name);
		r = -EROFS;
		goto fail;
	}
	if (bd->drv->state_size) {
		bd->opaque = calloc(1, bd->drv->state_size);
		if (!bd->opaque) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = bd->drv->open(bd);
	if (r) {
		free(bd->opaque);
		bd->opaque = NULL;
		bd->drv = NULL;
		goto fail;
	}
	if (bd->drv->info) {
		struct block_info info = {0};
		if (bd->drv->info(bd, &info) == 0)
			bd->cluster_size = info.cluster_size;
		block_info_free(&info);
	}
	*out = bd;
	return 0;
fail:
	if (bd->backing)
		block_close(bd->backing);
	bfile_close(bd->file);
	free(bd->filename);
	pthread_mutex_destroy(&bd->lock);
	pthread_rwlock_destroy(&bd->io_lock);
	free(bd);
	return r;
}

int block_open(const char *path, const struct block_open_opts *opts, struct blockdev **out)
{
	struct block_open_opts def = {0};

	return open_one(path, opts ? opts : &def, 0, NULL, out);
}

int block_open_backing(struct blockdev *bd, const char *backing, const char *fmt)
{
	struct block_open_opts o = bd->opts;
	char real[PATH_MAX];
	char *path;
	int r;

	if (bd->opts.no_backing)
		return 0;
	path = block_backing_path(bd->filename, backing);
	if (!path)
		return -ENOMEM;
	if (!realpath(path, real)) {
		r = -errno;
		log_error_errno(r, "%s: cannot open backing file %s", bd->filename, path);
		free(path);
		return r;
	}
	if (!path_allowed(real, bd->opts.allowed_dirs)) {
		log_error("%s: backing file %s is outside the allowed directories",
			  bd->filename, real);
		free(path);
		return -EPERM;
	}
	o.format = fmt && *fmt ? fmt : NULL;
	if (o.format && !block_driver_find(o.format)) {
		log_error("%s: unknown backing format '%s'", bd->filename, o.format);
		free(path);
		return -EINVAL;
	}
	o.read_only = !bd->opts.backing_read_write || bd->depth > 0;
	o.backing_read_write = false;
	r = open_one(path, &o, bd->depth + 1, bd, &bd->backing);
	free(path);
	return r;
}

void block_close(struct blockdev *bd)
{
	if (!bd)
		return;
	if (!bd->read_only && bd->drv->flush)
		bd->drv->flush(bd);
	if (bd->drv->close)
		bd->drv->close(bd);
	if (bd->backing)
		block_close(bd->backing);
	bfile_close(bd->file);
	free(bd->opaque);
	free(bd->filename);
	pthread_mutex_destroy(&bd->lock);
	pthread_rwlock_destroy(&bd->io_lock);
	free(bd);
}

/*
 * Locking: bd->lock (a mutex) guards the image's metadata and caches;
 * bd->io_lock is held shared by requests whose data I/O runs outside the
 * mutex (reads, in-place writes), and exclusively by anything that may free
 * or move clusters, so no cluster is reused while such I/O is in flight.
 * Order: io_lock, then lock; images of a chain from the top down.
 */
/*
 * bd->seq is odd while the mutex is held: the lock-free lookup of the fast
 * path (under the shared I/O lock only) retries with the mutex when the
 * count moved, like a seqlock.
 */
static void meta_lock(struct blockdev *bd)
{
	pthread_mutex_lock(&bd->lock);
	__atomic_add_fetch(&bd->seq, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the count before any change */
}

static void meta_unlock(struct blockdev *bd)
{
	__atomic_add_fetch(&bd->seq, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&bd->lock);
}

static void lock_excl(struct blockdev *bd)
{
	pthread_rwlock_wrlock(&bd->io_lock);
	meta_lock(bd);
}

static void unlock_excl(struct blockdev *bd)
{
	meta_unlock(bd);
	pthread_rwlock_unlock(&bd->io_lock);
}

/* Reads and in-place writes whose mapping is a plain host range: I/O without the mutex. */
static int rw_fast(struct blockdev *bd, uint64_t off, const struct bvec *v, bool write)
{
	uint64_t host;
	int r;

	pthread_rwlock_rdlock(&bd->io_lock);
	/*
	 * First without the mutex: a read-only peek at the cached tables. Under
	 * the shared I/O lock nothing frees them; a holder of the mutex may
	 * change them, which the sequence count tells.
	 */
	unsigned long s1 = __atomic_load_n(&bd->seq, __ATOMIC_ACQUIRE);
	r = -EAGAIN;
	if (!(s1 & 1)) {
		r = bd->drv->map_fast(bd, off, v->len, write, true, &host);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&bd->seq, __ATOMIC_RELAXED) != s1)
			r = -EAGAIN;
	}
	if (r == -EAGAIN) {
		meta_lock(bd);
		r = bd->drv->map_fast(bd, off, v->len, write, false, &host);
		meta_unlock(bd);
	}
	if (!r)
		r = write ? bfile_pwritev(bd->file, v->iov, v->cnt, host)
			  : bfile_preadv(bd->file, v->iov, v->cnt, host);
	pthread_rwlock_unlock(&bd->io_lock);
	return r;
}

int block_read_backing(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	struct blockdev *b = bd->backing;

	if (!b) {
		bvec_memset(v, 0, 0, v->len);
		return 0;
	}
	if (off >= b->size) {
		bvec_memset(v, 0, 0, v->len);
		return 0;
	}
	if (off + v->len <= b->size)
		return block_do_preadv(b, off, v);
	/* Partly past the end of the backing image. */
	size_t in = (size_t)(b->size - off);
	struct iovec tmp[BLOCK_MAX_IOV];
	struct bvec part;
	int n = bvec_slice(v, 0, in, tmp, BLOCK_MAX_IOV);
	if (n < 0)
		return n;
	part.iov = tmp;
	part.cnt = n;
	part.len = in;
	int r = block_do_preadv(b, off, &part);
	if (r)
		return r;
	bvec_memset(v, in, 0, v->len - in);
	return 0;
}

int block_do_preadv(struct blockdev *bd, uint64_t off, const struct bvec *v)
{
	int r;

	if (bd->drv->parallel_rw)
		return bd->drv->preadv(bd, off, v);
	if (bd->drv->map_fast && v->cnt <= 64) {
		r = rw_fast(bd, off, v, false);
		if (r != -EAGAIN)
			return r;
	}
	/* Reads never free clusters: shared I/O lock, metadata mutex. */
	pthread_rwlock_rdlock(&bd->io_lock);
	meta_lock(bd);
	r = bd->drv->preadv(bd, off, v);
	meta_unlock(bd);
	pthread_rwlock_unlock(&bd->io_lock);
	return r;
}

static int check_req(struct blockdev *bd, uint64_t off, uint64_t len, bool write)
{
	if ((off | len) & (BLOCK_SECTOR - 1))
		return -EINVAL;
	if (off > bd->size || len > bd->size - off)
		return -EINVAL;
	if (write && bd->read_only)
		return -EROFS;
	return 0;
}

static int do_rw(struct blockdev *bd, uint64_t off, const struct iovec *iov, int iovcnt,
		 bool write)
{
	struct bvec v;
	int r;

	if (iovcnt < 0 || iovcnt > BLOCK_MAX_IOV)
		return -EINVAL;
	bvec_init(&v, iov, iovcnt);
	r = check_req(bd, off, v.len, write);
	if (r || !v.len)
		return r;
	if (!write)
		return block_do_preadv(bd, off, &v);
	if (bd->drv->parallel_rw)
		return bd->drv->pwritev(bd, off, &v);
	if (bd->drv->map_fast && v.cnt <= 64) {
		r = rw_fast(bd, off, &v, true);
		if (r != -EAGAIN)
			return r;
	}
	lock_excl(bd);
	r = bd->drv->pwritev(bd, off, &v);
	unlock_excl(bd);
	return r;
}

int block_readv(struct blockdev *bd, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return do_rw(bd, off, iov, iovcnt, false);
}

int block_writev(struct blockdev *bd, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return do_rw(bd, off, iov, iovcnt, true);
}

int block_read(struct blockdev *bd, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return do_rw(bd, off, &iov, 1, false);
}

int block_write(struct blockdev *bd, uint64_t off, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return do_rw(bd, off, &iov, 1, true);
}

int block_flush(struct blockdev *bd)
{
	int r = 0;

	if (bd->read_only)
		return 0;
	lock_excl(bd);
	if (bd->drv->flush)
		r = bd->drv->flush(bd);
	unlock_excl(bd);
	return r;
}

int block_discard(struct blockdev *bd, uint64_t off, uint64_t len)
{
	int r = check_req(bd, off, len, true);

	if (r || !len)
		return r;
	if (!bd->drv->discard)
		return 0;
	lock_excl(bd);
	r = bd->drv->discard(bd, off, len);
	unlock_excl(bd);
	return r;
}

int block_write_zeroes(struct blockdev *bd, uint64_t off, uint64_t len, unsigned flags)
{
	int r = check_req(bd, off, len, true);

	if (r || !len)
		return r;
	lock_excl(bd);
	r = bd->drv->write_zeroes(bd, off, len, flags);
	unlock_excl(bd);
	return r;
}

int block_write_compressed(struct blockdev *bd, uint64_t off, const void *buf, size_t len)
{
	size_t clen = 0;
	void *out;
	int r;

	if (bd->read_only)
		return -EROFS;
	if (!bd->drv->write_compressed || !bd->drv->compress)
		return -ENOTSUP;
	if ((off | len) & (BLOCK_SECTOR - 1) || off > bd->size || len > bd->size - off)
		return -EINVAL;
	uint32_t cs = block_cluster_size(bd);
	if (!cs || off % cs || (len != cs && off + len != bd->size) || len > cs)
		return -EINVAL;
	out = malloc(cs);
	if (!out)
		return -ENOMEM;
	/* Compression runs outside the image lock, so threads can share the work. */
	r = bd->drv->compress(bd, buf, len, out, &clen);
	if (r == -E2BIG) {
		free(out);
		return block_write(bd, off, buf, len);
	}
	if (!r) {
		lock_excl(bd);
		r = bd->drv->write_compressed(bd, off, out, clen);
		unlock_excl(bd);
	}
	free(out);
	return r;
}

int block_status(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		 uint64_t *host_off, unsigned *flags)
{
	uint64_t dummy;
	int r;

	if (off >= bd->size || !len)
		return -EINVAL;
	if (len > bd->size - off)
		len = bd->size - off;
	if (!host_off)
		host_off = &dummy;
	*host_off = 0;
	/* Status only reads metadata: it may run beside plain data I/O. */
	pthread_rwlock_rdlock(&bd->io_lock);
	meta_lock(bd);
	r = bd->drv->status(bd, off, len, pnum, host_off, flags);
	meta_unlock(bd);
	pthread_rwlock_unlock(&bd->io_lock);
	if (!r && (*pnum == 0 || *pnum > len))
		r = -EIO;
	return r;
}

int block_status_chain(struct blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
		       uint64_t *host_off, unsigned *flags, int *depth)
{
	uint64_t n = len, prev_host = 0;
	unsigned prev_flags = 0;
	int d = 0;

	for (struct blockdev *b = bd; b; b = b->backing, d++) {
		uint64_t p;
		int r;
		if (off >= b->size) {          /* past the end of a shorter backing */
			*pnum = n;
			*flags = BLOCK_STATUS_ZERO | (prev_flags & BLOCK_STATUS_OFFSET);
			if (host_off)
				*host_off = prev_host;
			*depth = d ? d - 1 : 0;
			return 0;
		}
		r = block_status(b, off, n, &p, host_off, flags);
		if (r)
			return r;
		if (p < n)
			n = p;
		if ((*flags & BLOCK_STATUS_ALLOCATED) || !b->backing) {
			*pnum = n;
			*depth = d;
			return 0;
		}
		prev_flags = *flags;
		prev_host = host_off ? *host_off : 0;
	}
	*pnum = n;
	*flags = BLOCK_STATUS_ZERO;
	*depth = d;
	return 0;
}

uint64_t block_size(const struct blockdev *bd)
{
	return bd->size;
}

const char *block_format(const struct blockdev *bd)
{
	return bd->drv->name;
}

const char *block_filename(const struct blockdev *bd)
{
	return bd->filename;
}

bool block_read_only(const struct blockdev *bd)
{
	return bd->read_only;
}

struct blockdev *block_backing(const struct blockdev *bd)
{
	return bd->backing;
}

uint32_t block_cluster_size(const struct blockdev *bd)
{
	return bd->cluster_size;
}

#define LOCKED_CALL(bd, op, ...)                                   \
	({                                                         \
		int r_ = -ENOTSUP;                                 \
		if ((bd)->drv->op) {                               \
			lock_excl(bd);           \
			r_ = (bd)->drv->op((bd), ##__VA_ARGS__);   \
			unlock_excl(bd);         \
		}                                                  \
		r_;                                                \
	})

int block_resize(struct blockdev *bd, uint64_t size, const char *prealloc)
{
	if (bd->read_only)
		return -EROFS;
	if (size & (BLOCK_SECTOR - 1)) {
		log_error("%s: size must be a multiple of 512", bd->filename);
		return -EINVAL;
	}
	return LOCKED_CALL(bd, resize, size, prealloc);
}

int block_set_backing(struct blockdev *bd, const char *file, const char *fmt)
{
	if (bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, set_backing, file, fmt);
}

int block_make_empty(struct blockdev *bd)
{
	if (bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, make_empty);
}

int block_get_info(struct blockdev *bd, struct block_info *info)
{
	memset(info, 0, sizeof(*info));
	info->format = bd->drv->name;
	info->virtual_size = bd->size;
	info->actual_size = bfile_allocated(bd->file);
	if (!bd->drv->info)
		return 0;
	int r = LOCKED_CALL(bd, info, info);
	if (r)
		block_info_free(info);
	return r;
}

void block_snapshots_free(struct block_snapshot *s, int n)
{
	for (int i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].name);
	}
	free(s);
}

void block_info_free(struct block_info *info)
{
	free(info->backing_file);
	free(info->backing_fmt);
	free(info->full_backing);
	block_snapshots_free(info->snapshots, info->nb_snapshots);
	memset(info, 0, sizeof(*info));
}

int block_snapshot_list(struct blockdev *bd, struct block_snapshot **out, int *n)
{
	*out = NULL;
	*n = 0;
	if (!bd->drv->snap_list)
		return 0;
	return LOCKED_CALL(bd, snap_list, out, n);
}

int block_snapshot_create(struct blockdev *bd, const char *name)
{
	if (bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, snap_create, name);
}

int block_snapshot_apply(struct blockdev *bd, const char *id)
{
	if (bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, snap_apply, id);
}

int block_snapshot_delete(struct blockdev *bd, const char *id)
{
	if (bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, snap_delete, id);
}

int block_check(struct blockdev *bd, struct block_check *res, unsigned fix)
{
	memset(res, 0, sizeof(*res));
	if (fix && bd->read_only)
		return -EROFS;
	return LOCKED_CALL(bd, check, res, fix);
}

int block_create(const char *format, const char *path, const struct block_create_opts *opts)
{
	const struct block_driver *d = block_driver_find(format);

	if (!d || !d->create) {
		log_error("format '%s' cannot be created", format);
		return -ENOTSUP;
	}
	return d->create(path, opts);
}

int block_measure(const char *format, const struct block_create_opts *opts,
		  struct blockdev *src, struct block_measure *out)
{
	const struct block_driver *d = block_driver_find(format);

	if (!d || !d->measure) {
		log_error("format '%s' cannot be measured", format);
		return -ENOTSUP;
	}
	return d->measure(opts, src, out);
}
