// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel images from a hostile source: the first byte picks the boot
 * protocol asked for, the rest is the image (bzImage or ELF). The loader
 * must reject or load it without touching memory outside guest RAM.
 */
#include <stdint.h>
#include <stdlib.h>

#include "vireo/log.h"
#include "x86/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_memory *mem;
	struct kernel_image k;

	if (!mem) {
		log_set_level(LOG_LEVEL_NONE);
		if (guest_memory_create(64 << 20, 46, &mem) < 0)
			abort();
	}
	if (size < 1)
		return 0;
	enum boot_protocol want = (enum boot_protocol)(data[0] % 3);
	if (kernel_load(mem, data + 1, size - 1, want, &k) == 0) {
		/* What it claims to have loaded must be RAM. */
		if (!guest_memory_is_ram(mem, k.load_start, k.load_end - k.load_start) &&
		    k.format == KERNEL_FORMAT_ELF)
			abort();
		bootparams_write(mem, &k, 0x20000, 0, 0);
	}
	return 0;
}
