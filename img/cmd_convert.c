// SPDX-License-Identifier: Apache-2.0
/*
 * The verbs that move data between images: convert (sparse detection,
 * compression, progress), compare, commit, rebase.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"

#define CHUNK (2u << 20)

static bool is_zero(const uint8_t *p, size_t len)
{
	static const uint8_t z[4096];

	while (len >= sizeof(z)) {
		if (memcmp(p, z, sizeof(z)))
			return false;
		p += sizeof(z);
		len -= sizeof(z);
	}
	return !len || !memcmp(p, z, len);
}

/* Writes BUF to DST at OFF, leaving out runs of zeroes of SPARSE bytes (0: write all). */
static int write_sparse(struct blockdev *dst, uint64_t off, const uint8_t *buf, size_t len,
			size_t sparse)
{
	size_t pos = 0;

	if (!sparse)
		return block_write(dst, off, buf, len);
	while (pos < len) {
		size_t n = len - pos < sparse ? len - pos : sparse;
		if (is_zero(buf + pos, n)) {
			pos += n;
			continue;
		}
		size_t start = pos;
		while (pos < len) {
			n = len - pos < sparse ? len - pos : sparse;
			if (is_zero(buf + pos, n))
				break;
			pos += n;
		}
		int r = block_write(dst, off + start, buf + start, pos - start);
		if (r)
			return r;
	}
	return 0;
}

struct zjob {
	struct blockdev *src, *dst;
	uint32_t cs;
	uint64_t size;
	uint64_t next;          /* next cluster offset to take */
	pthread_mutex_t lock;
	int err;
	bool progress;
};

static void *zworker(void *arg)
{
	struct zjob *j = arg;
	uint8_t *buf = malloc(j->cs);

	if (!buf) {
		j->err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&j->lock);
		uint64_t off = j->next;
		bool stop = off >= j->size || j->err;
		if (!stop)
			j->next += j->cs;
		pthread_mutex_unlock(&j->lock);
		if (stop)
			break;
		size_t n = j->size - off < j->cs ? (size_t)(j->size - off) : j->cs;
		uint64_t pnum;
		unsigned fl;
		int depth;
		int r = block_status_chain(j->src, off, n, &pnum, NULL, &fl, &depth);
		if (!r && (fl & BLOCK_STATUS_ZERO) && pnum == n)
			continue;
		if (!r)
			r = block_read(j->src, off, buf, n);
		if (!r && !is_zero(buf, n))
			r = block_write_compressed(j->dst, off, buf, n);
		if (r) {
			pthread_mutex_lock(&j->lock);
			if (!j->err)
				j->err = r;
			pthread_mutex_unlock(&j->lock);
			break;
		}
		if (j->progress && (off / j->cs) % 256 == 0)
			img_progress((double)off, (double)j->size);
	}
	free(buf);
	return NULL;
}

/* One thread per CPU compresses clusters; the image lock covers only the stores. */
static int convert_compressed(struct blockdev *src, struct blockdev *dst, bool progress)
{
	struct zjob j = { .src = src, .dst = dst, .cs = block_cluster_size(dst),
			  .size = block_size(src), .progress = progress };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nt = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
	pthread_t th[16];

	if (!j.cs)
		return -ENOTSUP;
	pthread_mutex_init(&j.lock, NULL);
	for (int i = 0; i < nt; i++)
		pthread_create(&th[i], NULL, zworker, &j);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&j.lock);
	return j.err;
}

/* Copies [off, end) (at most one CHUNK) with BUF as the bounce buffer. */
static int copy_range(struct blockdev *src, struct blockdev *dst, uint64_t off, uint64_t end,
		      uint8_t *buf, size_t sparse, pthread_mutex_t *wlock)
{
	int r = 0;

	while (off < end) {
		uint64_t pnum;
		unsigned fl;
		int depth;
		r = block_status_chain(src, off, end - off, &pnum, NULL, &fl, &depth);
		if (r)
			return r;
		if (fl & BLOCK_STATUS_ZERO) {
			if (!sparse) {
				memset(buf, 0, pnum);
				pthread_mutex_lock(wlock);
				r = block_write(dst, off, buf, pnum);
				pthread_mutex_unlock(wlock);
			}
		} else {
			r = block_read(src, off, buf, pnum);
			if (r) {
				fprintf(stderr, "vireo-img convert: error reading %s at offset %llu\n",
					block_filename(src), (unsigned long long)off);
				return r;
			}
			pthread_mutex_lock(wlock);
			r = write_sparse(dst, off, buf, pnum, sparse);
			pthread_mutex_unlock(wlock);
		}
		if (r) {
			fprintf(stderr, "vireo-img convert: error writing %s at offset %llu\n",
				block_filename(dst), (unsigned long long)off);
			return r;
		}
		off += pnum;
	}
	return 0;
}

struct cjob {
	struct blockdev *src, *dst;
	uint64_t size, next, done, last_shown;
	size_t sparse;
	bool progress;
	int err;
	pthread_mutex_t lock;
	pthread_mutex_t wlock;  /* one writer at a time: the kernel serialises them anyway */
};

static void *cworker(void *arg)
{
	struct cjob *j = arg;
	uint8_t *buf;

	if (posix_memalign((void **)&buf, 4096, CHUNK)) {
		j->err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&j->lock);
		uint64_t off = j->next;
		bool stop = off >= j->size || j->err;
		if (!stop)
			j->next += CHUNK;
		pthread_mutex_unlock(&j->lock);
		if (stop)
			break;
		uint64_t end = j->size - off < CHUNK ? j->size : off + CHUNK;
		int r = copy_range(j->src, j->dst, off, end, buf, j->sparse, &j->wlock);
		pthread_mutex_lock(&j->lock);
		if (r && !j->err)
			j->err = r;
		j->done += end - off;
		if (j->progress && j->done - j->last_shown >= j->size / 100) {
			img_progress((double)j->done, (double)j->size);
			j->last_shown = j->done;
		}
		pthread_mutex_unlock(&j->lock);
	}
	free(buf);
	return NULL;
}

/*
 * Copies in CHUNK pieces with several threads, so that reading the source
 * and writing the destination overlap; writes go one at a time (concurrent
 * buffered writes to one file only fight over the inode lock).
 * ORDERED (streamOptimized output) uses one thread: its grains go in order.
 */
static int copy_data(struct blockdev *src, struct blockdev *dst, size_t sparse, bool progress,
		     bool ordered)
{
	struct cjob j = { .src = src, .dst = dst, .size = block_size(src), .sparse = sparse,
			  .progress = progress };
	pthread_t th[8];
	int nt = ordered ? 1 : 4;
	const char *env = getenv("VIREO_IMG_THREADS");   /* for experiments */

	if (!ordered && env && atoi(env) >= 1 && atoi(env) <= 8)
		nt = atoi(env);

	pthread_mutex_init(&j.lock, NULL);
	pthread_mutex_init(&j.wlock, NULL);
	for (int i = 0; i < nt; i++)
		pthread_create(&th[i], NULL, cworker, &j);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&j.lock);
	pthread_mutex_destroy(&j.wlock);
	return j.err;
}

int cmd_convert(int argc, char **argv)
{
	struct block_create_opts o = {0};
	const char *fmt = NULL, *ofmt = "raw";
	char *optstr = NULL;
	bool compress = false, progress = false, no_create = false, no_sync = true, direct = false;
	uint64_t sparse = 4096;
	struct blockdev *src = NULL, *dst = NULL;
	int c, r, status = 1;

	while ((c = getopt(argc, argv, "f:O:o:cpqS:nt:T:Wm:U")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'O': ofmt = optarg; break;
		case 'o': optstr = optarg; break;
		case 'c': compress = true; break;
		case 'p': progress = true; break;
		case 'q': img_quiet = true; break;
		case 'n': no_create = true; break;
		case 'S':
			if (img_parse_size(optarg, &sparse) || sparse % 512 || sparse > CHUNK) {
				fprintf(stderr, "vireo-img convert: -S takes a multiple of 512 up to 2M\n");
				return 1;
			}
			break;
		case 't':
			/* Output cache mode, as qemu-img: unsafe (the default) does not wait
			 * for the disk at the end; writeback/writethrough do; none and
			 * directsync also bypass the page cache. */
			if (!strcmp(optarg, "unsafe")) {
				no_sync = true;
			} else if (!strcmp(optarg, "writeback") || !strcmp(optarg, "writethrough")) {
				no_sync = false;
			} else if (!strcmp(optarg, "none") || !strcmp(optarg, "directsync")) {
				no_sync = false;
				direct = true;
			} else {
				fprintf(stderr, "vireo-img convert: unknown cache mode '%s'\n", optarg);
				return 1;
			}
			break;
		case 'T': case 'W': case 'm': case 'U': break;
		default: return 1;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "vireo-img convert: expecting SRC and DST\n");
		return 1;
	}
	if (img_quiet)
		progress = false;
	if (optstr && img_parse_opts(optstr, &o))
		return 1;
	if (!block_format_known(ofmt, true)) {
		fprintf(stderr, "vireo-img convert: cannot write format '%s'\n", ofmt);
		return 1;
	}
	if (img_open(argv[optind], fmt, false, &src))
		return 1;
	o.size = block_size(src);
	o.allowed_dirs = img_allowed_dirs;
	if (!no_create) {
		r = block_create(ofmt, argv[optind + 1], &o);
		if (r) {
			fprintf(stderr, "vireo-img convert: cannot create '%s': %s\n",
				argv[optind + 1], strerror(-r));
			goto out;
		}
	}
	struct block_open_opts oo = { .format = ofmt, .no_backing = true, .no_sync = no_sync,
				      .direct = direct };
	r = block_open(argv[optind + 1], &oo, &dst);
	if (r) {
		fprintf(stderr, "vireo-img convert: cannot open '%s': %s\n", argv[optind + 1],
			strerror(-r));
		goto out;
	}
	if (block_size(dst) < block_size(src)) {
		fprintf(stderr, "vireo-img convert: the destination is smaller than the source\n");
		goto out;
	}
	if (progress)
		img_progress(0, 1);
	r = compress ? convert_compressed(src, dst, progress)
		     : copy_data(src, dst, (size_t)sparse, progress, !strcmp(ofmt, "vmdk"));
	if (!r)
		r = block_flush(dst);
	if (r == -ENOTSUP && compress) {
		fprintf(stderr, "vireo-img convert: format '%s' does not support compression\n", ofmt);
		goto out;
	}
	if (r) {
		fprintf(stderr, "vireo-img convert: %s\n", strerror(-r));
		goto out;
	}
	if (progress) {
		img_progress(1, 1);
		printf("\n");
	}
	status = 0;
out:
	if (dst)
		block_close(dst);
	if (src)
		block_close(src);
	return status;
}

/* Reports the first differing offset in [off, off+len) of A and B, or -1. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i += 512) {
		size_t n = len - i < 512 ? len - i : 512;
		if (memcmp(a + i, b + i, n))
			return (int64_t)(off + i);
	}
	return -1;
}

int cmd_compare(int argc, char **argv)
{
	const char *f1 = NULL, *f2 = NULL;
	bool strict = false;
	struct blockdev *a = NULL, *b = NULL;
	uint8_t *ba = NULL, *bb = NULL;
	int c, status = 2;

	while ((c = getopt(argc, argv, "f:F:sqpU")) != -1) {
		switch (c) {
		case 'f': f1 = optarg; break;
		case 'F': f2 = optarg; break;
		case 's': strict = true; break;
		case 'q': img_quiet = true; break;
		case 'p': case 'U': break;
		default: return 2;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "vireo-img compare: expecting two image file names\n");
		return 2;
	}
	if (!f2)
		f2 = f1;
	if (img_open(argv[optind], f1, false, &a) || img_open(argv[optind + 1], f2, false, &b))
		goto out;
	uint64_t sa = block_size(a), sb = block_size(b);
	if (strict && sa != sb) {
		if (!img_quiet)
			printf("Strict mode: Image size mismatch!\n");
		status = 1;
		goto out;
	}
	ba = malloc(CHUNK);
	bb = malloc(CHUNK);
	if (!ba || !bb)
		goto out;
	uint64_t big = sa > sb ? sa : sb;
	for (uint64_t off = 0; off < big;) {
		uint64_t n = big - off < CHUNK ? big - off : CHUNK;
		unsigned fa = BLOCK_STATUS_ZERO, fb = BLOCK_STATUS_ZERO;
		uint64_t pa = n, pb = n;
		int d, r = 0;
		if (off < sa)
			r = block_status_chain(a, off, sa - off < n ? sa - off : n, &pa, NULL, &fa, &d);
		if (!r && off < sb)
			r = block_status_chain(b, off, sb - off < n ? sb - off : n, &pb, NULL, &fb, &d);
		if (r) {
			fprintf(stderr, "vireo-img compare: %s\n", strerror(-r));
			goto out;
		}
		n = pa < pb ? pa : pb;
		if ((fa & BLOCK_STATUS_ZERO) && (fb & BLOCK_STATUS_ZERO)) {
			off += n;
			continue;
		}
		if (off < sa)
			r = block_read(a, off, ba, n);
		else
			memset(ba, 0, n);
		if (!r && off < sb)
			r = block_read(b, off, bb, n);
		else if (!r)
			memset(bb, 0, n);
		if (r) {
			fprintf(stderr, "vireo-img compare: read error: %s\n", strerror(-r));
			goto out;
		}
		int64_t d2 = first_diff(ba, bb, n, off);
		if (d2 >= 0) {
			if (!img_quiet)
				printf("Content mismatch at offset %lld!\n", (long long)d2);
			status = 1;
			goto out;
		}
		off += n;
	}
	if (!img_quiet)
		printf("Images are identical.\n");
	status = 0;
out:
	free(ba);
	free(bb);
	if (a)
		block_close(a);
	if (b)
		block_close(b);
	return status;
}

int cmd_commit(int argc, char **argv)
{
	const char *fmt = NULL;
	bool keep = false;
	struct blockdev *bd;
	uint8_t *buf;
	int c, r, status = 1;

	while ((c = getopt(argc, argv, "f:dqpt:b:")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'd': keep = true; break;
		case 'q': img_quiet = true; break;
		case 'p': case 't': case 'b': break;
		default: return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vireo-img commit: expecting one image file name\n");
		return 1;
	}
	struct block_open_opts oo = { .format = fmt, .allowed_dirs = img_allowed_dirs,
				      .backing_read_write = true };
	r = block_open(argv[optind], &oo, &bd);
	if (r) {
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	struct blockdev *base = block_backing(bd);
	if (!base) {
		fprintf(stderr, "vireo-img commit: '%s' has no backing file\n", argv[optind]);
		block_close(bd);
		return 1;
	}
	buf = malloc(CHUNK);
	if (!buf)
		goto out;
	uint64_t size = block_size(bd);
	if (block_size(base) < size && (r = block_resize(base, size, NULL))) {
		fprintf(stderr, "vireo-img commit: cannot grow the backing image: %s\n", strerror(-r));
		goto out;
	}
	for (uint64_t off = 0; off < size;) {
		uint64_t n = size - off < CHUNK ? size - off : CHUNK, pnum;
		unsigned fl;
		r = block_status(bd, off, n, &pnum, NULL, &fl);
		if (!r && (fl & BLOCK_STATUS_ALLOCATED)) {
			if (fl & BLOCK_STATUS_ZERO) {
				r = block_write_zeroes(base, off, pnum, 0);
			} else {
				r = block_read(bd, off, buf, pnum);
				if (!r)
					r = block_write(base, off, buf, pnum);
			}
		}
		if (r) {
			fprintf(stderr, "vireo-img commit: %s\n", strerror(-r));
			goto out;
		}
		off += pnum;
	}
	r = block_flush(base);
	if (!r && !keep)
		r = block_make_empty(bd);
	if (r) {
		fprintf(stderr, "vireo-img commit: %s\n", strerror(-r));
		goto out;
	}
	if (!img_quiet)
		printf("Image committed.\n");
	status = 0;
out:
	free(buf);
	block_close(bd);
	return status;
}

int cmd_rebase(int argc, char **argv)
{
	const char *fmt = NULL, *bfile = NULL, *bfmt = NULL;
	bool unsafe = false;
	struct blockdev *bd = NULL, *nb = NULL;
	uint8_t *ba = NULL, *bb = NULL;
	int c, r, status = 1;

	while ((c = getopt(argc, argv, "f:F:b:uqpt:T:U")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'F': bfmt = optarg; break;
		case 'b': bfile = optarg; break;
		case 'u': unsafe = true; break;
		case 'q': img_quiet = true; break;
		case 'p': case 't': case 'T': case 'U': break;
		default: return 1;
		}
	}
	if (optind != argc - 1 || !bfile) {
		fprintf(stderr, "vireo-img rebase: expecting -b BACKING and one image file name\n");
		return 1;
	}
	struct block_open_opts oo = { .format = fmt, .allowed_dirs = img_allowed_dirs,
				      .no_backing = unsafe };
	r = block_open(argv[optind], &oo, &bd);
	if (r) {
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	if (*bfile) {
		char *path = NULL;
		struct block_open_opts bo = { .format = bfmt, .read_only = true,
					      .allowed_dirs = img_allowed_dirs };
		/* The new backing name is relative to the image, as it will be stored. */
		const char *img = argv[optind], *slash = strrchr(img, '/');
		if (bfile[0] != '/' && slash) {
			size_t dl = (size_t)(slash - img) + 1;
			path = malloc(dl + strlen(bfile) + 1);
			if (!path)
				goto out;
			memcpy(path, img, dl);
			strcpy(path + dl, bfile);
		}
		r = block_open(path ? path : bfile, &bo, &nb);
		free(path);
		if (r && !unsafe) {
			fprintf(stderr, "vireo-img rebase: could not open new backing file '%s': %s\n",
				bfile, strerror(-r));
			goto out;
		}
		if (!r && !bfmt)
			bfmt = block_format(nb);
	}
	if (!unsafe) {
		uint64_t size = block_size(bd), nsize = nb ? block_size(nb) : 0;
		ba = malloc(CHUNK);
		bb = malloc(CHUNK);
		if (!ba || !bb)
			goto out;
		for (uint64_t off = 0; off < size;) {
			uint64_t n = size - off < CHUNK ? size - off : CHUNK, pnum;
			unsigned fl;
			r = block_status(bd, off, n, &pnum, NULL, &fl);
			if (r)
				break;
			if (fl & BLOCK_STATUS_ALLOCATED) {
				off += pnum;
				continue;
			}
			r = block_read(bd, off, ba, pnum);   /* old backing content */
			if (r)
				break;
			memset(bb, 0, pnum);
			if (nb && off < nsize)
				r = block_read(nb, off, bb, nsize - off < pnum ? nsize - off : pnum);
			if (r)
				break;
			for (uint64_t o = 0; o < pnum && !r; o += 65536) {
				size_t k = pnum - o < 65536 ? (size_t)(pnum - o) : 65536;
				if (memcmp(ba + o, bb + o, k))
					r = block_write(bd, off + o, ba + o, k);
			}
			if (r)
				break;
			off += pnum;
		}
		if (r) {
			fprintf(stderr, "vireo-img rebase: %s\n", strerror(-r));
			goto out;
		}
	}
	r = block_set_backing(bd, *bfile ? bfile : NULL, bfmt);
	if (r) {
		fprintf(stderr, "vireo-img rebase: cannot change the backing file: %s\n", strerror(-r));
		goto out;
	}
	status = 0;
out:
	free(ba);
	free(bb);
	if (nb)
		block_close(nb);
	if (bd)
		block_close(bd);
	return status;
}
