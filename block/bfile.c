// SPDX-License-Identifier: Apache-2.0
/*
 * Host files under the image formats: full-length positioned I/O, O_DIRECT
 * with bounce buffers for unaligned requests, holes, and scatter/gather
 * helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_int.h"
#include "vireo/log.h"

int bfile_open(const char *path, bool read_only, bool direct, bool create,
	       struct bfile **out)
{
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct bfile *f;
	int fd;

	if (create)
		flags |= O_CREAT | O_TRUNC;
	if (direct)
		flags |= O_DIRECT;
	fd = open(path, flags, 0644);
	if (fd < 0 && direct && errno == EINVAL) {
		log_error("%s: the filesystem does not support O_DIRECT", path);
		return -EINVAL;
	}
	if (fd < 0) {
		int err = -errno;
		log_error_errno(err, "cannot open %s", path);
		return err;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	f->direct = direct;
	f->read_only = read_only;
	pthread_mutex_init(&f->bounce_lock, NULL);
	*out = f;
	return 0;
}

void bfile_close(struct bfile *f)
{
	if (!f)
		return;
	close(f->fd);
	pthread_mutex_destroy(&f->bounce_lock);
	free(f);
}

static bool aligned(uint64_t x)
{
	return (x & (BFILE_ALIGN - 1)) == 0;
}

static int raw_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {           /* end of file: zeroes */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int raw_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* O_DIRECT with an unaligned request: go through an aligned buffer. */
static int bounce_io(struct bfile *f, void *buf, size_t len, uint64_t off, bool write)
{
	uint64_t start = off & ~(uint64_t)(BFILE_ALIGN - 1);
	uint64_t end = (off + len + BFILE_ALIGN - 1) & ~(uint64_t)(BFILE_ALIGN - 1);
	size_t blen = (size_t)(end - start);
	void *b;
	int r;

	if (posix_memalign(&b, BFILE_ALIGN, blen))
		return -ENOMEM;
	pthread_mutex_lock(&f->bounce_lock);
	if (!write || start != off || end != off + len) {
		r = raw_pread(f->fd, b, blen, start);
		if (r)
			goto out;
	}
	if (write) {
		memcpy((uint8_t *)b + (off - start), buf, len);
		uint64_t size;
		r = bfile_size(f, &size);
		if (r)
			goto out;
		r = raw_pwrite(f->fd, b, blen, start);
		/* Do not grow the file past what the caller wrote. */
		if (!r && end > size && off + len < end && ftruncate(f->fd, (off_t)(off + len > size ? off + len : size)) < 0)
			r = -errno;
	} else {
		memcpy(buf, (uint8_t *)b + (off - start), len);
	}
out:
	pthread_mutex_unlock(&f->bounce_lock);
	free(b);
	return r;
}

int bfile_pread(struct bfile *f, void *buf, size_t len, uint64_t off)
{
	if (f->direct && (!aligned(off) || !aligned(len) || !aligned((uintptr_t)buf)))
		return bounce_io(f, buf, len, off, false);
	return raw_pread(f->fd, buf, len, off);
}

int bfile_pwrite(struct bfile *f, const void *buf, size_t len, uint64_t off)
{
	if (f->direct && (!aligned(off) || !aligned(len) || !aligned((uintptr_t)buf)))
		return bounce_io(f, (void *)buf, len, off, true);
	return raw_pwrite(f->fd, buf, len, off);
}

static bool iov_aligned(const struct iovec *iov, int cnt)
{
	for (int i = 0; i < cnt; i++)
		if (!aligned((uintptr_t)iov[i].iov_base) || !aligned(iov[i].iov_len))
			return false;
	return true;
}

static int vec_io(struct bfile *f, const struct iovec *iov, int cnt, uint64_t off, bool write)
{
	struct iovec local[64]; /* callers pass at most 64 entries */
	struct iovec *v = local;
	int r = 0;

	if (f->direct && (!aligned(off) || !iov_aligned(iov, cnt))) {
		for (int i = 0; i < cnt && !r; i++) {
			r = write ? bfile_pwrite(f, iov[i].iov_base, iov[i].iov_len, off)
				  : bfile_pread(f, iov[i].iov_base, iov[i].iov_len, off);
			off += iov[i].iov_len;
		}
		return r;
	}
	memcpy(v, iov, sizeof(*v) * (size_t)cnt);
	while (cnt > 0) {
		ssize_t n = write ? pwritev(f->fd, v, cnt, (off_t)off)
				  : preadv(f->fd, v, cnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0) {
			if (write) {
				r = -EIO;
				break;
			}
			for (int i = 0; i < cnt; i++)
				memset(v[i].iov_base, 0, v[i].iov_len);
			break;
		}
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0 && n) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return r;
}

int bfile_preadv(struct bfile *f, const struct iovec *iov, int cnt, uint64_t off)
{
	if (cnt > 64) {
		/* vec_io's heap copy is advanced in place; keep a base pointer. */
		int r = 0;
		for (int i = 0; i < cnt && !r; i += 64) {
			int n = cnt - i < 64 ? cnt - i : 64;
			size_t len = 0;
			for (int j = 0; j < n; j++)
				len += iov[i + j].iov_len;
			r = vec_io(f, iov + i, n, off, false);
			off += len;
		}
		return r;
	}
	return vec_io(f, iov, cnt, off, false);
}

int bfile_pwritev(struct bfile *f, const struct iovec *iov, int cnt, uint64_t off)
{
	if (cnt > 64) {
		int r = 0;
		for (int i = 0; i < cnt && !r; i += 64) {
			int n = cnt - i < 64 ? cnt - i : 64;
			size_t len = 0;
			for (int j = 0; j < n; j++)
				len += iov[i + j].iov_len;
			r = vec_io(f, iov + i, n, off, true);
			off += len;
		}
		return r;
	}
	return vec_io(f, iov, cnt, off, true);
}

int bfile_flush(struct bfile *f)
{
	if (f->read_only || f->no_sync)
		return 0;
	if (fdatasync(f->fd) < 0)
		return -errno;
	return 0;
}

int bfile_size(struct bfile *f, uint64_t *size)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(f->fd, 0, SEEK_END);
		if (end < 0)
			return -errno;
		*size = (uint64_t)end;
		return 0;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

uint64_t bfile_allocated(struct bfile *f)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

int bfile_truncate(struct bfile *f, uint64_t size)
{
	if (ftruncate(f->fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

int bfile_zero(struct bfile *f, uint64_t off, uint64_t len, bool punch)
{
	static const uint8_t zero[65536] __attribute__((aligned(4096)));
	uint64_t size;
	int r;

	if (!len)
		return 0;
	r = bfile_size(f, &size);
	if (r)
		return r;
	if (off >= size)
		return 0;
	if (off + len > size)
		len = size - off;
	if (punch && fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t n = len > sizeof(zero) ? sizeof(zero) : (size_t)len;
		r = bfile_pwrite(f, zero, n, off);
		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int bfile_fallocate(struct bfile *f, uint64_t off, uint64_t len)
{
	if (fallocate(f->fd, 0, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

int bfile_data_status(struct bfile *f, uint64_t off, uint64_t len, bool *data, uint64_t *pnum)
{
	off_t d = lseek(f->fd, (off_t)off, SEEK_DATA);

	if (d < 0) {
		if (errno == ENXIO) {   /* only a hole up to the end */
			*data = false;
			*pnum = len;
			return 0;
		}
		*data = true;           /* no SEEK_DATA support: assume data */
		*pnum = len;
		return 0;
	}
	if ((uint64_t)d > off) {
		*data = false;
		*pnum = (uint64_t)d - off < len ? (uint64_t)d - off : len;
		return 0;
	}
	off_t h = lseek(f->fd, (off_t)off, SEEK_HOLE);
	*data = true;
	if (h < 0 || (uint64_t)h <= off)
		*pnum = len;
	else
		*pnum = (uint64_t)h - off < len ? (uint64_t)h - off : len;
	return 0;
}

void bvec_init(struct bvec *v, const struct iovec *iov, int cnt)
{
	v->iov = iov;
	v->cnt = cnt;
	v->len = 0;
	for (int i = 0; i < cnt; i++)
		v->len += iov[i].iov_len;
}

int bvec_slice(const struct bvec *src, size_t skip, size_t len, struct iovec *tmp,
	       int tmpmax)
{
	int n = 0;

	for (int i = 0; i < src->cnt && len; i++) {
		size_t l = src->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (n == tmpmax)
			return -EINVAL;
		size_t take = l - skip < len ? l - skip : len;
		tmp[n].iov_base = (uint8_t *)src->iov[i].iov_base + skip;
		tmp[n].iov_len = take;
		n++;
		len -= take;
		skip = 0;
	}
	return n;
}

static void bvec_walk(const struct bvec *v, size_t skip, size_t len,
		      void (*fn)(void *seg, size_t n, size_t done, void *arg), void *arg)
{
	size_t done = 0;

	for (int i = 0; i < v->cnt && len; i++) {
		size_t l = v->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip < len ? l - skip : len;
		fn((uint8_t *)v->iov[i].iov_base + skip, take, done, arg);
		done += take;
		len -= take;
		skip = 0;
	}
}

static void do_memset(void *seg, size_t n, size_t done, void *arg)
{
	(void)done;
	memset(seg, *(int *)arg, n);
}

static void do_to_buf(void *seg, size_t n, size_t done, void *arg)
{
	memcpy((uint8_t *)arg + done, seg, n);
}

static void do_from_buf(void *seg, size_t n, size_t done, void *arg)
{
	memcpy(seg, (const uint8_t *)arg + done, n);
}

void bvec_memset(const struct bvec *v, size_t skip, int c, size_t len)
{
	bvec_walk(v, skip, len, do_memset, &c);
}

void bvec_to_buf(const struct bvec *v, size_t skip, void *buf, size_t len)
{
	bvec_walk(v, skip, len, do_to_buf, buf);
}

void bvec_from_buf(const struct bvec *v, size_t skip, const void *buf, size_t len)
{
	bvec_walk(v, skip, len, do_from_buf, (void *)buf);
}

bool buf_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len && ((uintptr_t)p & 7)) {
		if (*p)
			return false;
		p++;
		len--;
	}
	while (len >= 32) {
		const uint64_t *q = (const uint64_t *)p;
		if (q[0] | q[1] | q[2] | q[3])
			return false;
		p += 32;
		len -= 32;
	}
	while (len--)
		if (*p++)
			return false;
	return true;
}
