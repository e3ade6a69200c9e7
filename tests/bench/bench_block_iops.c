// SPDX-License-Identifier: Apache-2.0
/*
 * Random 4 KiB reads or writes through the block layer, as virtio-blk
 * issues them: THREADS threads, each with one request in flight, for
 * SECONDS seconds. Prints "iops N".
 *
 *   bench_block_iops IMAGE read|write SECONDS THREADS [direct]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block.h"
#include "vireo/log.h"

static struct blockdev *bd;
static bool do_write;
static double seconds;
static volatile int stop;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	uint64_t *count = arg, x = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
	uint64_t blocks = block_size(bd) / 4096;
	void *buf;

	if (posix_memalign(&buf, 4096, 4096))
		return NULL;
	memset(buf, 0x5a, 4096);
	while (!stop) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t off = (x % blocks) * 4096;
		int r = do_write ? block_write(bd, off, buf, 4096) : block_read(bd, off, buf, 4096);
		if (r) {
			fprintf(stderr, "I/O error %d\n", r);
			exit(1);
		}
		(*count)++;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_block_iops IMAGE read|write SECONDS THREADS [direct]\n");
		return 2;
	}
	do_write = !strcmp(argv[2], "write");
	seconds = atof(argv[3]);
	int threads = atoi(argv[4]);
	struct block_open_opts o = { .direct = argc > 5 && !strcmp(argv[5], "direct") };
	if (block_open(argv[1], &o, &bd)) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	pthread_t th[64];
	uint64_t counts[64][8] = {{0}};
	if (threads < 1 || threads > 64)
		threads = 1;
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, counts[i]);
	while (now() - t0 < seconds) {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	stop = 1;
	uint64_t total = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += counts[i][0];
	}
	double dt = now() - t0;
	block_close(bd);
	printf("iops %.0f\n", (double)total / dt);
	return 0;
}
