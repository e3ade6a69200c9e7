// SPDX-License-Identifier: Apache-2.0
/* What the kernel is told at entry: the e820 map, the zero page, PVH start info. */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "layout.h"
#include "vireo/le.h"
#include "vireo/util.h"

#define PVH_MAGIC            0x336ec578
#define PVH_VERSION          1
#define PVH_START_INFO_SIZE  56
#define PVH_MODLIST_ENTRY    32
#define PVH_MEMMAP_ENTRY     24
#define PVH_MAX_MEMMAP       16

unsigned int e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned int max)
{
	struct e820_entry map[4] = {
		{ 0, LAYOUT_EBDA_START, E820_RAM },
		{ LAYOUT_EBDA_START, LAYOUT_HIGH_MEMORY - LAYOUT_EBDA_START, E820_RESERVED },
		{ LAYOUT_HIGH_MEMORY, mem->low_end - LAYOUT_HIGH_MEMORY, E820_RAM },
		{ LAYOUT_4GIB, mem->high_end - LAYOUT_4GIB, E820_RAM },
	};
	unsigned int n = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(map) && n < max; i++)
		if (map[i].size)
			out[n++] = map[i];
	return n;
}

int bootparams_write(struct guest_memory *mem, const struct kernel_image *k,
		     uint64_t cmdline_addr, uint64_t initrd_addr, uint64_t initrd_size)
{
	uint8_t *zp = guest_memory_ptr(mem, LAYOUT_ZERO_PAGE, BP_SIZE);
	struct e820_entry e820[8];
	unsigned int n;

	if (!zp)
		return -EFAULT;
	memset(zp, 0, BP_SIZE);
	if (k->setup_header_len) {
		memcpy(zp + BP_SETUP_HEADER, k->setup_header, k->setup_header_len);
	} else {
		/* An ELF vmlinux has no header: make the one its 64-bit entry reads. */
		put_le16(zp + HDR_BOOT_FLAG, BOOT_FLAG_VALUE);
		put_le32(zp + HDR_MAGIC, HDR_MAGIC_VALUE);
		put_le16(zp + HDR_VERSION, 0x020f);
		zp[HDR_LOADFLAGS] = LOADFLAGS_LOADED_HIGH;
		put_le32(zp + HDR_KERNEL_ALIGNMENT, 0x01000000);
		put_le32(zp + HDR_CMDLINE_SIZE, k->cmdline_max);
	}
	zp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEFINED;
	put_le32(zp + HDR_CMD_LINE_PTR, (uint32_t)cmdline_addr);
	put_le32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(cmdline_addr >> 32));
	put_le32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	put_le32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
	put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));

	n = e820_build(mem, e820, ARRAY_SIZE(e820));
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		put_le64(e, e820[i].addr);
		put_le64(e + 8, e820[i].size);
		put_le32(e + 16, e820[i].type);
	}
	return 0;
}

int pvh_start_info_write(struct guest_memory *mem, uint64_t cmdline_addr,
			 uint64_t initrd_addr, uint64_t initrd_size)
{
	uint64_t modlist = LAYOUT_PVH_START_INFO + PVH_START_INFO_SIZE + 8;
	uint64_t memmap = modlist + PVH_MODLIST_ENTRY;
	uint64_t total = memmap + PVH_MAX_MEMMAP * PVH_MEMMAP_ENTRY - LAYOUT_PVH_START_INFO;
	uint8_t *si = guest_memory_ptr(mem, LAYOUT_PVH_START_INFO, total);
	uint8_t *ml = si + (modlist - LAYOUT_PVH_START_INFO);
	uint8_t *mm = si + (memmap - LAYOUT_PVH_START_INFO);
	struct e820_entry e820[PVH_MAX_MEMMAP];
	unsigned int n;

	if (!si)
		return -EFAULT;
	memset(si, 0, total);
	put_le32(si + 0, PVH_MAGIC);
	put_le32(si + 4, PVH_VERSION);
	if (initrd_size) {
		put_le32(si + 12, 1); /* nr_modules */
		put_le64(si + 16, modlist);
		put_le64(ml + 0, initrd_addr);
		put_le64(ml + 8, initrd_size);
	}
	put_le64(si + 24, cmdline_addr);
	n = e820_build(mem, e820, PVH_MAX_MEMMAP);
	put_le64(si + 40, memmap);
	put_le32(si + 48, n);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = mm + PVH_MEMMAP_ENTRY * i;
		put_le64(e, e820[i].addr);
		put_le64(e + 8, e820[i].size);
		put_le32(e + 16, e820[i].type);
	}
	return 0;
}
