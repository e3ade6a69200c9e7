// SPDX-License-Identifier: Apache-2.0
/*
 * What the loader told us, from either a Linux struct boot_params (zero
 * page) or a PVH struct hvm_start_info, copied into our own memory so that
 * low memory can be reused afterwards.
 */
#ifndef TESTOS_BOOTINFO_H
#define TESTOS_BOOTINFO_H

#include <stdint.h>

#include "cmdline.h"

#define MEMMAP_MAX	128
#define E820_RAM	1

struct mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;		/* e820 type: 1 RAM, 2 reserved, 3 ACPI, ... */
};

struct bootinfo {
	unsigned int path;		/* BOOT_* (layout.h) */
	const char *path_name;		/* linux64, pvh, bzImage-16bit, bzImage-32bit */
	uint64_t info_addr;		/* boot_params or hvm_start_info */
	char cmdline[CMDLINE_MAX];
	unsigned int nmem;
	struct mem_range mem[MEMMAP_MAX];
	uint64_t ram_bytes;		/* sum of the RAM ranges */
	uint64_t rsdp_addr;		/* ACPI RSDP if the loader gave one, else 0 */
	uint64_t initrd_addr;		/* initrd / first PVH module, else 0 */
	uint64_t initrd_size;
};

extern struct bootinfo boot;

/* Fills boot from what the entry received. Returns 0 or -EINVAL after
 * printing why. */
int bootinfo_parse(unsigned long path, uint64_t info);

/* Finds len bytes of RAM, aligned to align, at or above min and below
 * 4 GiB, outside the image and below-1-MiB areas. Returns the address,
 * or 0 when no RAM range fits. */
uint64_t bootinfo_find_ram(uint64_t len, uint64_t align, uint64_t min);

/* True when [addr, addr + len) lies inside one RAM range. */
int bootinfo_is_ram(uint64_t addr, uint64_t len);

#endif
