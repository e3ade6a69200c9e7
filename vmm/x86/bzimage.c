// SPDX-License-Identifier: Apache-2.0
/* bzImage loading: the setup header and the protected-mode kernel at 1 MiB. */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "../x86/layout.h"
#include "vireo/le.h"
#include "vireo/log.h"
#include "vireo/util.h"

int bzimage_load(struct guest_memory *mem, const uint8_t *data, size_t len,
		 struct kernel_image *out)
{
	uint32_t setup_sects, init_size, cmdline_size, initrd_max;
	uint16_t version, xloadflags;
	size_t pm_offset, pm_size, hdr_end;
	uint64_t need;
	void *dst;

	if (len < HDR_END_MAX || get_le16(data + HDR_BOOT_FLAG) != BOOT_FLAG_VALUE ||
	    get_le32(data + HDR_MAGIC) != HDR_MAGIC_VALUE) {
		log_error("kernel: not a bzImage (no setup header)");
		return -ENOEXEC;
	}
	version = get_le16(data + HDR_VERSION);
	if (version < BZIMAGE_MIN_VERSION) {
		log_error("kernel: boot protocol %u.%02u is older than 2.12, which has the 64-bit entry",
			  version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	xloadflags = get_le16(data + HDR_XLOADFLAGS);
	if (!(xloadflags & XLF_KERNEL_64)) {
		log_error("kernel: bzImage has no 64-bit entry point (xloadflags 0x%x)", xloadflags);
		return -ENOEXEC;
	}
	if (!(data[HDR_LOADFLAGS] & LOADFLAGS_LOADED_HIGH)) {
		log_error("kernel: a zImage (loaded low) is not supported, only bzImage");
		return -ENOEXEC;
	}
	setup_sects = data[HDR_SETUP_SECTS] ? data[HDR_SETUP_SECTS] : 4;
	pm_offset = (size_t)(setup_sects + 1) * 512;
	if (pm_offset >= len) {
		log_error("kernel: bzImage setup (%zu bytes) is as long as the file", pm_offset);
		return -ENOEXEC;
	}
	pm_size = len - pm_offset;
	init_size = get_le32(data + HDR_INIT_SIZE);
	need = MAX((uint64_t)pm_size, (uint64_t)init_size);
	dst = guest_memory_ptr(mem, LAYOUT_HIGH_MEMORY, need);
	if (!dst || LAYOUT_HIGH_MEMORY + need > mem->low_end) {
		log_error("kernel: needs %llu MiB above 1 MiB to decompress, the guest has less RAM",
			  (unsigned long long)((need + MIB - 1) >> 20));
		return -ENOMEM;
	}
	memcpy(dst, data + pm_offset, pm_size);

	/* The header runs to the end of the jump at 0x200 (a short jmp over it). */
	hdr_end = 0x202 + (size_t)data[HDR_JUMP + 1];
	if (data[HDR_JUMP] != 0xeb || hdr_end > HDR_END_MAX)
		hdr_end = HDR_END_MAX;
	out->setup_header_len = hdr_end - BP_SETUP_HEADER;
	memcpy(out->setup_header, data + BP_SETUP_HEADER, out->setup_header_len);

	cmdline_size = get_le32(data + HDR_CMDLINE_SIZE);
	initrd_max = get_le32(data + HDR_INITRD_ADDR_MAX);
	out->format = KERNEL_FORMAT_BZIMAGE;
	out->protocol = BOOT_PROTOCOL_LINUX64;
	out->entry = LAYOUT_HIGH_MEMORY + BZIMAGE_ENTRY64_OFFSET;
	out->load_start = LAYOUT_HIGH_MEMORY;
	out->load_end = LAYOUT_HIGH_MEMORY + need;
	out->cmdline_max = cmdline_size ? cmdline_size : 255;
	/* 64-bit kernels accept an initrd anywhere when XLF_CAN_BE_LOADED_ABOVE_4G is set;
	 * we keep it below the PCI hole either way. */
	out->initrd_addr_max = initrd_max ? initrd_max : 0x37ffffff;
	return 0;
}
