/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared body of the image-format fuzz targets: the input becomes a file (a
 * memfd) that goes through the normal block layer the way vireo-img and
 * virtio-blk see hostile files: probe + open, info, block status over the
 * disk, reads of a few ranges, check; then, opened writable, a write, a
 * zero write, a discard, a flush and a check again.
 */
#ifndef VIREO_FUZZ_IMAGE_H
#define VIREO_FUZZ_IMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block.h"
#include "vireo/log.h"

static const char *const fuzz_no_dirs[] = { "/nonexistent-vireo-fuzz", NULL };

static void fuzz_exercise(struct blockdev *bd, bool rw)
{
	static uint8_t buf[1 << 20];
	uint64_t size = block_size(bd), off = 0;
	struct block_info info;
	struct block_check chk;

	if (block_get_info(bd, &info) == 0)
		block_info_free(&info);
	for (int i = 0; i < 256 && off < size; i++) {
		uint64_t pnum, host;
		unsigned fl;
		int depth;
		if (block_status_chain(bd, off, size - off, &pnum, &host, &fl, &depth))
			break;
		off += pnum;
	}
	/* A few reads: the start, the middle, the end. */
	uint64_t at[3] = { 0, size / 2 & ~511ull, size > sizeof(buf) ? (size - sizeof(buf)) & ~511ull : 0 };
	for (int i = 0; i < 3; i++) {
		size_t n = size - at[i] < sizeof(buf) ? (size_t)(size - at[i]) : sizeof(buf);
		block_read(bd, at[i], buf, n & ~511ul);
	}
	block_check(bd, &chk, 0);
	if (!rw)
		return;
	memset(buf, 0x5a, 8192);
	if (size >= 8192) {
		block_write(bd, 0, buf, 8192);
		block_write_zeroes(bd, size / 2 & ~511ull, 4096 <= size / 2 ? 4096 : 0, 0);
		block_discard(bd, 0, size < 131072 ? size & ~511ull : 131072);
		block_write_compressed(bd, 0, buf, size < 65536 ? size : 65536);
	}
	block_flush(bd);
	block_check(bd, &chk, BLOCK_FIX_LEAKS);
}

static int fuzz_image(const uint8_t *data, size_t size, const char *format)
{
	char path[64];
	int fd = memfd_create("fuzz-image", 0);

	if (fd < 0)
		return 0;
	log_set_level(LOG_LEVEL_NONE);
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (int rw = 0; rw < 2; rw++) {
		struct block_open_opts o = {
			.format = format, .read_only = !rw, .allowed_dirs = fuzz_no_dirs,
		};
		struct blockdev *bd;
		if (block_open(path, &o, &bd) == 0) {
			fuzz_exercise(bd, rw);
			block_close(bd);
		}
		/* The writable pass works on a fresh copy. */
		if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
			break;
	}
	close(fd);
	return 0;
}

#endif
