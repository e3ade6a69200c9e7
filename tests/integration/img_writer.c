// SPDX-License-Identifier: Apache-2.0
/*
 * Test helper: random writes, write-zeroes, discards and flushes on an image
 * through the block layer (as virtio-blk would issue them).
 *
 *   img_writer IMAGE LOG SEED NOPS [CLUSTER [nodiscard]]
 *
 * Before each operation one line goes to LOG ("W off len i", "Z off len i",
 * "D off len i"), after each completed flush "F i" (LOG is fsync'ed), so a
 * checker can rebuild the content that must have survived a crash: every
 * sector of operation i is filled with the byte ((i * 7 + sector) % 251) + 1
 * where sector = byte offset / 512. Discards are cluster-aligned (they read
 * as zeroes on an image without backing file). Exit 0 when all NOPS ran.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "vireo/log.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

int main(int argc, char **argv)
{
	struct blockdev *bd;
	FILE *log;
	uint8_t *buf;
	int r;

	if (argc < 5) {
		fprintf(stderr, "usage: img_writer IMAGE LOG SEED NOPS [CLUSTER]\n");
		return 2;
	}
	log_init("img_writer", NULL);
	rng_state = strtoull(argv[3], NULL, 0) * 2654435761u + 1;
	long nops = strtol(argv[4], NULL, 0);
	uint64_t cs = argc > 5 ? strtoull(argv[5], NULL, 0) : 65536;
	/* Formats whose discard is only a hint (may keep data) get none. */
	bool discard = !(argc > 6 && !strcmp(argv[6], "nodiscard"));
	struct block_open_opts o = {0};
	r = block_open(argv[1], &o, &bd);
	if (r) {
		fprintf(stderr, "open: %s\n", strerror(-r));
		return 1;
	}
	log = fopen(argv[2], "a");
	buf = malloc(1 << 20);
	if (!log || !buf)
		return 1;
	uint64_t size = block_size(bd), sectors = size / 512;
	for (long i = 1; i <= nops; i++) {
		uint64_t kind = rnd() % 100;
		uint64_t len = (rnd() % 256 + 1) * 512;
		if (rnd() % 4 == 0)
			len = (rnd() % 16 + 1) * 512;
		uint64_t off = (rnd() % sectors) * 512;
		if (len > size - off)
			len = size - off;
		if (kind < 8) {
			r = block_flush(bd);
			if (r)
				break;
			fprintf(log, "F %ld\n", i);
			fflush(log);
			fsync(fileno(log));
			continue;
		}
		if (kind < 14 && discard) {
			off &= ~(cs - 1);
			len = (len + cs - 1) & ~(cs - 1);
			if (len > size - off)
				len = size - off;
			fprintf(log, "D %llu %llu %ld\n", (unsigned long long)off,
				(unsigned long long)len, i);
			fflush(log);
			r = block_discard(bd, off, len);
		} else if (kind < 22) {
			fprintf(log, "Z %llu %llu %ld\n", (unsigned long long)off,
				(unsigned long long)len, i);
			fflush(log);
			r = block_write_zeroes(bd, off, len, rnd() % 2 ? BLOCK_ZERO_MAY_UNMAP : 0);
		} else {
			for (uint64_t s = 0; s < len / 512; s++)
				memset(buf + s * 512, (int)((i * 7 + (long)(off / 512 + s)) % 251) + 1, 512);
			fprintf(log, "W %llu %llu %ld\n", (unsigned long long)off,
				(unsigned long long)len, i);
			fflush(log);
			/* Split into a vector to exercise scatter/gather. */
			struct iovec iov[3];
			uint64_t a = len / 3 / 512 * 512, b = len / 3 / 512 * 512;
			iov[0] = (struct iovec){ buf, a };
			iov[1] = (struct iovec){ buf + a, b };
			iov[2] = (struct iovec){ buf + a + b, len - a - b };
			r = block_writev(bd, off, iov, 3);
		}
		if (r) {
			fprintf(stderr, "op %ld failed: %s\n", i, strerror(-r));
			return 1;
		}
	}
	r = block_flush(bd);
	fprintf(log, "F %ld\n", nops + 1);
	fclose(log);
	block_close(bd);
	free(buf);
	return r ? 1 : 0;
}
