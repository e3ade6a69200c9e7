// SPDX-License-Identifier: Apache-2.0
/*
 * boot_params (Documentation/arch/x86/boot.rst, zero-page.rst) and PVH
 * hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h) readers.
 * Every address the loader gives is checked against the identity-mapped
 * 4 GiB before it is read.
 */
#include "bootinfo.h"
#include "testos.h"

/* struct boot_params offsets */
#define BP_SIZE			4096
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_HDR_VERSION		0x206
#define BP_RAMDISK_IMAGE	0x218
#define BP_RAMDISK_SIZE		0x21c
#define BP_CMD_LINE_PTR		0x228
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128
#define E820_ENTRY_SIZE		20

/* struct hvm_start_info */
#define PVH_MAGIC		0x336ec578
#define PVH_SIZE_V0		40
#define PVH_SIZE_V1		56
#define PVH_VERSION		4
#define PVH_NR_MODULES		12
#define PVH_MODLIST_PADDR	16
#define PVH_CMDLINE_PADDR	24
#define PVH_RSDP_PADDR		32
#define PVH_MEMMAP_PADDR	40
#define PVH_MEMMAP_ENTRIES	48
#define PVH_MODLIST_ENTRY_SIZE	32
#define PVH_MEMMAP_ENTRY_SIZE	24

struct bootinfo boot;

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Copies the NUL-terminated string at addr (none when addr is 0). */
static int copy_cmdline(uint64_t addr)
{
	const char *s;
	size_t n;

	boot.cmdline[0] = '\0';
	if (addr == 0)
		return 0;
	/* Read only what is mapped: up to CMDLINE_MAX or the 4 GiB edge. */
	n = CMDLINE_MAX - 1;
	if (addr < (1ULL << 32) && (1ULL << 32) - addr < n)
		n = (size_t)((1ULL << 32) - addr);
	s = phys_ptr(addr, n);
	if (!s) {
		con_printf("testos: command line at 0x%lx is above 4 GiB\n", addr);
		return -EINVAL;
	}
	n = strnlen(s, n);
	memcpy(boot.cmdline, s, n);
	boot.cmdline[n] = '\0';
	return 0;
}

static void add_range(uint64_t addr, uint64_t size, uint32_t type)
{
	if (boot.nmem == MEMMAP_MAX || size == 0)
		return;
	boot.mem[boot.nmem].addr = addr;
	boot.mem[boot.nmem].size = size;
	boot.mem[boot.nmem].type = type;
	boot.nmem++;
	if (type == E820_RAM)
		boot.ram_bytes += size;
}

static int parse_boot_params(uint64_t addr)
{
	const uint8_t *bp = phys_ptr(addr, BP_SIZE);
	uint64_t cmdline;
	unsigned int i, n;

	if (!bp) {
		con_printf("testos: boot_params at 0x%lx is not below 4 GiB\n", addr);
		return -EINVAL;
	}
	cmdline = rd32(bp, BP_CMD_LINE_PTR) | (uint64_t)rd32(bp, BP_EXT_CMD_LINE_PTR) << 32;
	if (copy_cmdline(cmdline) < 0)
		return -EINVAL;
	n = bp[BP_E820_ENTRIES];
	if (n > BP_E820_MAX) {
		con_printf("testos: boot_params has %u e820 entries, using %u\n", n, BP_E820_MAX);
		n = BP_E820_MAX;
	}
	for (i = 0; i < n; i++) {
		size_t off = BP_E820_TABLE + i * E820_ENTRY_SIZE;

		add_range(rd64(bp, off), rd64(bp, off + 8), rd32(bp, off + 16));
	}
	/* acpi_rsdp_addr exists from protocol 2.14. */
	if (rd32(bp, 0x202) == 0x53726448 && (rd32(bp, BP_HDR_VERSION) & 0xffff) >= 0x020e)
		boot.rsdp_addr = rd64(bp, BP_ACPI_RSDP_ADDR);
	boot.initrd_addr = rd32(bp, BP_RAMDISK_IMAGE) |
			   (uint64_t)rd32(bp, BP_EXT_RAMDISK_IMAGE) << 32;
	boot.initrd_size = rd32(bp, BP_RAMDISK_SIZE) |
			   (uint64_t)rd32(bp, BP_EXT_RAMDISK_SIZE) << 32;
	return 0;
}

static int parse_pvh(uint64_t addr)
{
	const uint8_t *si = phys_ptr(addr, PVH_SIZE_V0);
	uint32_t version, i, n;

	if (!si) {
		con_printf("testos: hvm_start_info at 0x%lx is not below 4 GiB\n", addr);
		return -EINVAL;
	}
	if (rd32(si, 0) != PVH_MAGIC) {
		con_printf("testos: hvm_start_info magic is 0x%x, not 0x%x\n",
			   rd32(si, 0), PVH_MAGIC);
		return -EINVAL;
	}
	version = rd32(si, PVH_VERSION);
	if (copy_cmdline(rd64(si, PVH_CMDLINE_PADDR)) < 0)
		return -EINVAL;
	boot.rsdp_addr = rd64(si, PVH_RSDP_PADDR);
	if (rd32(si, PVH_NR_MODULES) > 0) {
		const uint8_t *mod = phys_ptr(rd64(si, PVH_MODLIST_PADDR), PVH_MODLIST_ENTRY_SIZE);

		if (mod) {
			boot.initrd_addr = rd64(mod, 0);
			boot.initrd_size = rd64(mod, 8);
		}
	}
	if (version >= 1 && phys_ptr(addr, PVH_SIZE_V1)) {
		const uint8_t *map;

		n = rd32(si, PVH_MEMMAP_ENTRIES);
		if (n > MEMMAP_MAX) {
			con_printf("testos: PVH memmap has %u entries, using %u\n", n, MEMMAP_MAX);
			n = MEMMAP_MAX;
		}
		map = phys_ptr(rd64(si, PVH_MEMMAP_PADDR), (uint64_t)n * PVH_MEMMAP_ENTRY_SIZE);
		if (n > 0 && !map) {
			con_printf("testos: PVH memmap at 0x%lx is not below 4 GiB\n",
				   rd64(si, PVH_MEMMAP_PADDR));
			return -EINVAL;
		}
		for (i = 0; i < n; i++) {
			const uint8_t *e = map + i * PVH_MEMMAP_ENTRY_SIZE;

			add_range(rd64(e, 0), rd64(e, 8), rd32(e, 16));
		}
	}
	return 0;
}

int bootinfo_parse(unsigned long path, uint64_t info)
{
	boot.path = (unsigned int)path;
	boot.info_addr = info;
	switch (path) {
	case BOOT_LINUX64:
		boot.path_name = "linux64";
		return parse_boot_params(info);
	case BOOT_BZIMAGE16:
		boot.path_name = "bzImage-16bit";
		return parse_boot_params(info);
	case BOOT_BZIMAGE32:
		boot.path_name = "bzImage-32bit";
		return parse_boot_params(info);
	case BOOT_PVH:
		boot.path_name = "pvh";
		return parse_pvh(info);
	}
	boot.path_name = "unknown";
	con_printf("testos: unknown boot path %lu\n", path);
	return -EINVAL;
}

int bootinfo_is_ram(uint64_t addr, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < boot.nmem; i++) {
		const struct mem_range *r = &boot.mem[i];

		if (r->type == E820_RAM && addr >= r->addr && len <= r->size &&
		    addr - r->addr <= r->size - len)
			return 1;
	}
	return 0;
}

uint64_t bootinfo_find_ram(uint64_t len, uint64_t align, uint64_t min)
{
	uint64_t floor = (uintptr_t)_end;
	unsigned int i;

	if (min > floor)
		floor = min;
	for (i = 0; i < boot.nmem; i++) {
		const struct mem_range *r = &boot.mem[i];
		uint64_t start, end;

		if (r->type != E820_RAM)
			continue;
		start = r->addr > floor ? r->addr : floor;
		start = (start + align - 1) & ~(align - 1);
		/* Stay clear of the initrd (or PVH module). */
		if (boot.initrd_size > 0 && start < boot.initrd_addr + boot.initrd_size &&
		    start + len > boot.initrd_addr) {
			start = boot.initrd_addr + boot.initrd_size;
			start = (start + align - 1) & ~(align - 1);
		}
		end = r->addr + r->size;
		if (end > (1ULL << 32))
			end = 1ULL << 32;
		if (start < end && end - start >= len)
			return start;
	}
	return 0;
}
