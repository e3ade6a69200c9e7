// SPDX-License-Identifier: Apache-2.0
/*
 * The block layer's contract, as virtio-blk will use it: vectored I/O with
 * odd segment layouts, alignment and bounds checks, read-only mode, block
 * status, zeroes and discard, snapshots, backing chains with the
 * allow-list and loop detection, and concurrent requests from threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "block.h"
#include "vireo/log.h"

#define MB (1u << 20)

static char dir[256];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vireo-test-block-XXXXXX");
	assert_non_null(mkdtemp(dir));
	log_set_level(LOG_LEVEL_NONE);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct blockdev *create_open(const char *fmt, const char *name, uint64_t size,
				    const char *opts_compat)
{
	struct block_create_opts co = { .size = size, .compat = opts_compat };
	struct block_open_opts oo = { .format = fmt };
	struct blockdev *bd;
	char p[512];

	path_of(p, sizeof(p), name);
	assert_int_equal(block_create(fmt, p, &co), 0);
	assert_int_equal(block_open(p, &oo, &bd), 0);
	return bd;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void test_vectored_io(void **state)
{
	const char *fmts[] = { "raw", "qcow2", "vmdk", "vdi" };

	(void)state;
	for (size_t f = 0; f < 4; f++) {
		char name[32];
		snprintf(name, sizeof(name), "v.%s", fmts[f]);
		struct blockdev *bd = create_open(fmts[f], name, 8 * MB, NULL);
		uint8_t *w = malloc(3 * 65536), *r = malloc(3 * 65536);
		fill(w, 3 * 65536, (unsigned)f);
		/* Odd segment sizes that sum to a multiple of 512. */
		struct iovec iov[5] = {
			{ w, 100 }, { w + 100, 412 }, { w + 512, 70000 },
			{ w + 70512, 1 }, { w + 70513, 3 * 65536 - 70513 },
		};
		assert_int_equal(block_writev(bd, 65536 - 1024, iov, 5), 0);
		struct iovec riov[3] = { { r, 7 }, { r + 7, 65536 }, { r + 65543, 3 * 65536 - 65543 } };
		assert_int_equal(block_readv(bd, 65536 - 1024, riov, 3), 0);
		assert_memory_equal(w, r, 3 * 65536);
		/* Unwritten space reads as zeroes. */
		assert_int_equal(block_read(bd, 4 * MB, r, 4096), 0);
		for (int i = 0; i < 4096; i++)
			assert_int_equal(r[i], 0);
		assert_int_equal(block_flush(bd), 0);
		block_close(bd);
		free(w);
		free(r);
	}
}

static void test_bounds_and_alignment(void **state)
{
	struct blockdev *bd = create_open("qcow2", "b.qcow2", MB, NULL);
	uint8_t buf[1024] = {0};

	(void)state;
	assert_int_equal(block_read(bd, 1, buf, 512), -EINVAL);
	assert_int_equal(block_read(bd, 0, buf, 511), -EINVAL);
	assert_int_equal(block_write(bd, MB - 512, buf, 1024), -EINVAL);
	assert_int_equal(block_read(bd, MB, buf, 512), -EINVAL);
	assert_int_equal(block_read(bd, MB - 512, buf, 512), 0);
	assert_int_equal(block_discard(bd, 3, 512), -EINVAL);
	assert_int_equal(block_write_zeroes(bd, 0, 2 * MB, 0), -EINVAL);
	struct iovec many[BLOCK_MAX_IOV + 1];
	for (int i = 0; i <= BLOCK_MAX_IOV; i++)
		many[i] = (struct iovec){ buf, 512 };
	assert_int_equal(block_readv(bd, 0, many, BLOCK_MAX_IOV + 1), -EINVAL);
	block_close(bd);
}

static void test_read_only(void **state)
{
	char p[512];
	struct blockdev *bd = create_open("qcow2", "ro.qcow2", MB, NULL);
	uint8_t buf[512];

	(void)state;
	block_close(bd);
	path_of(p, sizeof(p), "ro.qcow2");
	struct block_open_opts oo = { .read_only = true };
	assert_int_equal(block_open(p, &oo, &bd), 0);
	assert_string_equal(block_format(bd), "qcow2");     /* probed */
	assert_true(block_read_only(bd));
	assert_int_equal(block_write(bd, 0, buf, 512), -EROFS);
	assert_int_equal(block_write_zeroes(bd, 0, 512, 0), -EROFS);
	assert_int_equal(block_snapshot_create(bd, "x"), -EROFS);
	assert_int_equal(block_read(bd, 0, buf, 512), 0);
	block_close(bd);
}

static void test_status_zero_discard(void **state)
{
	struct blockdev *bd = create_open("qcow2", "s.qcow2", 4 * MB, NULL);
	uint8_t buf[65536];
	uint64_t pnum, host;
	unsigned fl;

	(void)state;
	assert_int_equal(block_status(bd, 0, 4 * MB, &pnum, &host, &fl), 0);
	assert_int_equal(pnum, 4 * MB);
	assert_true(fl & BLOCK_STATUS_ZERO);
	assert_false(fl & BLOCK_STATUS_ALLOCATED);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(block_write(bd, MB, buf, sizeof(buf)), 0);
	assert_int_equal(block_status(bd, MB, MB, &pnum, &host, &fl), 0);
	assert_int_equal(pnum, 65536);
	assert_true(fl & BLOCK_STATUS_DATA);
	assert_true(fl & BLOCK_STATUS_OFFSET);
	assert_int_equal(host % 65536, 0);
	assert_int_equal(block_write_zeroes(bd, MB, 65536, 0), 0);
	assert_int_equal(block_status(bd, MB, 65536, &pnum, &host, &fl), 0);
	assert_true(fl & BLOCK_STATUS_ZERO);
	assert_int_equal(block_read(bd, MB, buf, 512), 0);
	assert_int_equal(buf[0], 0);
	/* Partial-cluster zeroes are written as data. */
	memset(buf, 0xcd, sizeof(buf));
	assert_int_equal(block_write(bd, 2 * MB, buf, sizeof(buf)), 0);
	assert_int_equal(block_write_zeroes(bd, 2 * MB + 512, 1024, 0), 0);
	assert_int_equal(block_read(bd, 2 * MB, buf, 4096), 0);
	assert_int_equal(buf[0], 0xcd);
	assert_int_equal(buf[512], 0);
	assert_int_equal(buf[1535], 0);
	assert_int_equal(buf[1536], 0xcd);
	assert_int_equal(block_discard(bd, 2 * MB, 65536), 0);
	assert_int_equal(block_read(bd, 2 * MB, buf, 512), 0);
	assert_int_equal(buf[0], 0);
	struct block_check chk;
	assert_int_equal(block_check(bd, &chk, 0), 0);
	assert_int_equal(chk.corruptions + chk.leaks, 0);
	block_close(bd);
}

static void test_snapshots(void **state)
{
	struct blockdev *bd = create_open("qcow2", "snap.qcow2", 2 * MB, NULL);
	uint8_t a[4096], b[4096], r[4096];
	struct block_snapshot *s;
	int n;

	(void)state;
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	assert_int_equal(block_write(bd, 0, a, sizeof(a)), 0);
	assert_int_equal(block_snapshot_create(bd, "one"), 0);
	assert_int_equal(block_snapshot_create(bd, "one"), -EEXIST);
	assert_int_equal(block_write(bd, 0, b, sizeof(b)), 0);
	assert_int_equal(block_snapshot_list(bd, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].name, "one");
	assert_string_equal(s[0].id, "1");
	block_snapshots_free(s, n);
	assert_int_equal(block_snapshot_apply(bd, "one"), 0);
	assert_int_equal(block_read(bd, 0, r, sizeof(r)), 0);
	assert_memory_equal(r, a, sizeof(a));
	assert_int_equal(block_snapshot_delete(bd, "1"), 0);
	assert_int_equal(block_snapshot_apply(bd, "one"), -ENOENT);
	struct block_check chk;
	assert_int_equal(block_check(bd, &chk, 0), 0);
	assert_int_equal(chk.corruptions + chk.leaks, 0);
	block_close(bd);
}

static void test_backing_rules(void **state)
{
	char base[512], top[600], sub[512], loop_a[512], loop_b[512];
	struct blockdev *bd;
	uint8_t buf[512];

	(void)state;
	path_of(base, sizeof(base), "base.raw");
	path_of(sub, sizeof(sub), "sub");
	mkdir(sub, 0755);
	snprintf(top, sizeof(top), "%s/top.qcow2", sub);
	struct block_create_opts co = { .size = MB };
	assert_int_equal(block_create("raw", base, &co), 0);
	struct block_open_opts wo = { .format = "raw" };
	assert_int_equal(block_open(base, &wo, &bd), 0);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(block_write(bd, 0, buf, 512), 0);
	block_close(bd);
	struct block_create_opts to = { .backing_file = "../base.raw", .backing_fmt = "raw" };
	assert_int_equal(block_create("qcow2", top, &to), 0);
	/* Allowed: the chain reads through. */
	const char *const ok_dirs[] = { dir, NULL };
	struct block_open_opts oo = { .allowed_dirs = ok_dirs };
	assert_int_equal(block_open(top, &oo, &bd), 0);
	assert_int_equal(block_size(bd), MB);     /* size taken from the backing image */
	assert_non_null(block_backing(bd));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(block_read(bd, 0, buf, 512), 0);
	assert_int_equal(buf[0], 0x77);
	int depth;
	uint64_t pnum;
	unsigned fl;
	assert_int_equal(block_status_chain(bd, 0, MB, &pnum, NULL, &fl, &depth), 0);
	assert_int_equal(depth, 1);
	block_close(bd);
	/* Not allowed: only the overlay's directory is. */
	const char *const sub_only[] = { sub, NULL };
	oo.allowed_dirs = sub_only;
	assert_int_equal(block_open(top, &oo, &bd), -EPERM);
	/* Without following backing files, it opens. */
	oo.no_backing = true;
	assert_int_equal(block_open(top, &oo, &bd), 0);
	block_close(bd);
	/* A loop: a -> b -> a. */
	path_of(loop_a, sizeof(loop_a), "la.qcow2");
	path_of(loop_b, sizeof(loop_b), "lb.qcow2");
	struct block_create_opts lo = { .size = MB };
	assert_int_equal(block_create("qcow2", loop_a, &lo), 0);
	struct block_create_opts lb = { .backing_file = "la.qcow2", .backing_fmt = "qcow2" };
	assert_int_equal(block_create("qcow2", loop_b, &lb), 0);
	struct block_open_opts nb = { .no_backing = true };
	assert_int_equal(block_open(loop_a, &nb, &bd), 0);
	assert_int_equal(block_set_backing(bd, "lb.qcow2", "qcow2"), 0);
	block_close(bd);
	struct block_open_opts plain = {0};
	assert_int_equal(block_open(loop_b, &plain, &bd), -ELOOP);
}

struct worker {
	struct blockdev *bd;
	int id;
	int errors;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(65536), *rd = malloc(65536);

	/* Each thread owns the 64k-aligned slots with index % 4 == id. */
	for (int it = 0; it < 200; it++) {
		uint64_t slot = (uint64_t)((it * 4 + w->id) % 256);
		size_t len = (size_t)(512 * (1 + (it * 7 + w->id) % 128));
		fill(buf, len, (unsigned)(it * 4 + w->id));
		if (block_write(w->bd, slot * 65536, buf, len) ||
		    block_read(w->bd, slot * 65536, rd, len) || memcmp(buf, rd, len))
			w->errors++;
		/* Mix in operations that free clusters while others do I/O. */
		if (it % 5 == 4) {
			int r = (it / 5) % 2 ? block_discard(w->bd, slot * 65536, 65536)
					     : block_write_zeroes(w->bd, slot * 65536, 65536, 0);
			if (r || block_read(w->bd, slot * 65536, rd, 512) || rd[0] != 0)
				w->errors++;
		}
		if (it % 50 == 0 && block_flush(w->bd))
			w->errors++;
	}
	free(buf);
	free(rd);
	return NULL;
}

static void test_threads(void **state)
{
	const char *fmts[] = { "qcow2", "raw" };

	(void)state;
	for (int f = 0; f < 2; f++) {
		char name[32];
		snprintf(name, sizeof(name), "t.%s", fmts[f]);
		struct blockdev *bd = create_open(fmts[f], name, 16 * MB, NULL);
		pthread_t th[4];
		struct worker w[4];
		for (int i = 0; i < 4; i++) {
			w[i] = (struct worker){ bd, i, 0 };
			pthread_create(&th[i], NULL, worker_run, &w[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(w[i].errors, 0);
		}
		if (f == 0) {
			struct block_check chk;
			assert_int_equal(block_check(bd, &chk, 0), 0);
			assert_int_equal(chk.corruptions + chk.leaks, 0);
		}
		block_close(bd);
	}
}

static void test_compressed_and_resize(void **state)
{
	struct blockdev *bd = create_open("qcow2", "c.qcow2", MB, NULL);
	uint8_t *buf = malloc(65536), *r = malloc(65536);

	(void)state;
	for (int i = 0; i < 65536; i++)
		buf[i] = (uint8_t)(i / 100);
	assert_int_equal(block_write_compressed(bd, 65536, buf, 65536), 0);
	assert_int_equal(block_write_compressed(bd, 131072, buf, 65536), 0);
	assert_int_equal(block_read(bd, 65536, r, 65536), 0);
	assert_memory_equal(buf, r, 65536);
	uint64_t pnum;
	unsigned fl;
	assert_int_equal(block_status(bd, 65536, 65536, &pnum, NULL, &fl), 0);
	assert_false(fl & BLOCK_STATUS_OFFSET);
	/* Overwrite part of a compressed cluster: copy-on-write keeps the rest. */
	memset(r, 0xee, 512);
	assert_int_equal(block_write(bd, 131072 + 1024, r, 512), 0);
	assert_int_equal(block_read(bd, 131072, r, 65536), 0);
	assert_memory_equal(r, buf, 1024);
	assert_int_equal(r[1024], 0xee);
	assert_memory_equal(r + 1536, buf + 1536, 65536 - 1536);
	assert_int_equal(block_resize(bd, 64 * MB, "metadata"), 0);
	assert_int_equal(block_size(bd), 64 * MB);
	assert_int_equal(block_read(bd, 63 * MB, r, 4096), 0);
	assert_int_equal(r[0], 0);
	struct block_check chk;
	assert_int_equal(block_check(bd, &chk, 0), 0);
	assert_int_equal(chk.corruptions + chk.leaks, 0);
	block_close(bd);
	free(buf);
	free(r);
}

static void test_direct(void **state)
{
	char p[512];
	struct blockdev *bd = create_open("qcow2", "d.qcow2", 4 * MB, NULL);
	uint8_t *w = malloc(65536 + 1), *r = malloc(65536 + 1);

	(void)state;
	block_close(bd);
	path_of(p, sizeof(p), "d.qcow2");
	/* Probing and unaligned buffers must work on O_DIRECT files, many times over. */
	for (int i = 0; i < 8; i++) {
		struct block_open_opts o = { .direct = true };
		int err = block_open(p, &o, &bd);
		if (err == -EINVAL) {
			skip();       /* the filesystem has no O_DIRECT */
		}
		assert_int_equal(err, 0);
		fill(w + 1, 65536, (unsigned)i);
		assert_int_equal(block_write(bd, (uint64_t)i * 65536 + 512, w + 1, 65536 - 1024), 0);
		assert_int_equal(block_read(bd, (uint64_t)i * 65536 + 512, r + 1, 65536 - 1024), 0);
		assert_memory_equal(w + 1, r + 1, 65536 - 1024);
		block_close(bd);
	}
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectored_io),
		cmocka_unit_test(test_bounds_and_alignment),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_status_zero_discard),
		cmocka_unit_test(test_snapshots),
		cmocka_unit_test(test_backing_rules),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_compressed_and_resize),
		cmocka_unit_test(test_direct),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
