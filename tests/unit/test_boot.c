// SPDX-License-Identifier: Apache-2.0
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "memory.h"
#include "vireo/le.h"
#include "x86/boot.h"
#include "x86/layout.h"

static struct guest_memory *mem;

static int group_setup(void **state)
{
	(void)state;
	return guest_memory_create(64 << 20, 46, &mem);
}

static int group_teardown(void **state)
{
	(void)state;
	guest_memory_destroy(mem);
	return 0;
}

/* An ELF64 with one PT_LOAD of CODE at PADDR and, if PVH_ENTRY, the Xen note. */
static size_t make_elf(uint8_t *buf, uint64_t paddr, uint64_t entry, uint64_t pvh_entry,
		       const uint8_t *code, size_t code_len, uint64_t memsz)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t off = 0x200;

	memset(buf, 0, 0x1000);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = pvh_entry ? 2 : 1;
	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = off;
	ph[0].p_paddr = paddr;
	ph[0].p_filesz = code_len;
	ph[0].p_memsz = memsz;
	memcpy(buf + off, code, code_len);
	off += code_len;
	if (pvh_entry) {
		off = (off + 3) & ~3UL;
		ph[1].p_type = PT_NOTE;
		ph[1].p_offset = off;
		ph[1].p_filesz = 20;
		put_le32(buf + off, 4);
		put_le32(buf + off + 4, 4);
		put_le32(buf + off + 8, 18);
		memcpy(buf + off + 12, "Xen", 4);
		put_le32(buf + off + 16, (uint32_t)pvh_entry);
		off += 20;
	}
	return off;
}

static void test_elf_linux64_and_pvh(void **state)
{
	static uint8_t img[0x1000];
	const uint8_t code[] = { 0x90, 0x90, 0xf4, 0x11 };
	struct kernel_image k;
	size_t len;
	(void)state;

	len = make_elf(img, 0x200000, 0x200001, 0x200002, code, sizeof(code), 0x3000);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), 0);
	assert_int_equal(k.protocol, BOOT_PROTOCOL_PVH);
	assert_int_equal(k.entry, 0x200002);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_LINUX64, &k), 0);
	assert_int_equal(k.protocol, BOOT_PROTOCOL_LINUX64);
	assert_int_equal(k.entry, 0x200001);
	assert_int_equal(k.load_start, 0x200000);
	assert_int_equal(k.load_end, 0x203000);
	assert_memory_equal(guest_memory_ptr(mem, 0x200000, 4), code, 4);
	assert_int_equal(*(uint8_t *)guest_memory_ptr(mem, 0x202fff, 1), 0); /* bss zeroed */

	len = make_elf(img, 0x200000, 0x200001, 0, code, sizeof(code), 0x3000);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), 0);
	assert_int_equal(k.protocol, BOOT_PROTOCOL_LINUX64);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_PVH, &k), -ENOEXEC);
}

static void test_elf_rejects_bad_images(void **state)
{
	static uint8_t img[0x1000];
	const uint8_t code[16] = { 0 };
	struct kernel_image k;
	size_t len;
	(void)state;

	/* Below 1 MiB would overwrite the boot tables. */
	len = make_elf(img, 0x8000, 0x8000, 0, code, sizeof(code), 16);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* Past the end of guest RAM. */
	len = make_elf(img, 63 << 20, 63 << 20, 0, code, sizeof(code), 2 << 20);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* Entry outside every segment. */
	len = make_elf(img, 0x200000, 0x900000, 0, code, sizeof(code), 16);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* Truncated: segment data beyond the file. */
	len = make_elf(img, 0x200000, 0x200000, 0, code, sizeof(code), 16);
	assert_int_equal(kernel_load(mem, img, len - 8, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* Program headers beyond the file. */
	assert_int_equal(kernel_load(mem, img, 80, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* A note whose size runs off the segment. */
	len = make_elf(img, 0x200000, 0x200000, 0x200000, code, sizeof(code), 16);
	put_le32(img + 0x200 + 16, 0xfffffff0);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	/* 32-bit ELF. */
	len = make_elf(img, 0x200000, 0x200000, 0, code, sizeof(code), 16);
	img[EI_CLASS] = ELFCLASS32;
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
}

static size_t make_bzimage(uint8_t *buf, uint16_t version, uint16_t xloadflags, uint32_t init_size)
{
	size_t len = 3 * 512;

	memset(buf, 0, len);
	buf[HDR_SETUP_SECTS] = 1;
	put_le16(buf + HDR_BOOT_FLAG, BOOT_FLAG_VALUE);
	buf[HDR_JUMP] = 0xeb;
	buf[HDR_JUMP + 1] = 0x66;
	put_le32(buf + HDR_MAGIC, HDR_MAGIC_VALUE);
	put_le16(buf + HDR_VERSION, version);
	buf[HDR_LOADFLAGS] = LOADFLAGS_LOADED_HIGH;
	put_le32(buf + HDR_CODE32_START, 0x100000);
	put_le32(buf + HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put_le16(buf + HDR_XLOADFLAGS, xloadflags);
	put_le32(buf + HDR_CMDLINE_SIZE, 2048);
	put_le32(buf + HDR_INIT_SIZE, init_size);
	memset(buf + 1024, 0xcc, 512); /* protected-mode payload */
	return len;
}

static void test_bzimage(void **state)
{
	static uint8_t img[3 * 512];
	struct kernel_image k;
	size_t len;
	(void)state;

	len = make_bzimage(img, 0x020f, XLF_KERNEL_64, 0x400000);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), 0);
	assert_int_equal(k.format, KERNEL_FORMAT_BZIMAGE);
	assert_int_equal(k.protocol, BOOT_PROTOCOL_LINUX64);
	assert_int_equal(k.entry, 0x100200);
	assert_int_equal(k.load_end, 0x100000 + 0x400000);
	assert_int_equal(k.cmdline_max, 2048);
	assert_int_equal(k.setup_header_len, 0x268 - 0x1f1);
	assert_int_equal(*(uint8_t *)guest_memory_ptr(mem, 0x100000, 1), 0xcc);

	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_PVH, &k), -ENOEXEC);
	len = make_bzimage(img, 0x020b, XLF_KERNEL_64, 0);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	len = make_bzimage(img, 0x020f, 0, 0);
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	len = make_bzimage(img, 0x020f, XLF_KERNEL_64, 0x10000000); /* 256 MiB to decompress */
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOMEM);
	len = make_bzimage(img, 0x020f, XLF_KERNEL_64, 0);
	img[HDR_SETUP_SECTS] = 200; /* setup longer than the file */
	assert_int_equal(kernel_load(mem, img, len, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
	assert_int_equal(kernel_load(mem, img, 100, BOOT_PROTOCOL_AUTO, &k), -ENOEXEC);
}

static void test_e820_and_zero_page(void **state)
{
	static uint8_t img[3 * 512];
	struct kernel_image k;
	struct e820_entry e[8];
	const uint8_t *zp;
	(void)state;

	unsigned int n = e820_build(mem, e, 8);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, LAYOUT_EBDA_START);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].addr, 1 << 20);
	assert_int_equal(e[2].addr + e[2].size, 64 << 20);

	make_bzimage(img, 0x020f, XLF_KERNEL_64, 0x100000);
	assert_int_equal(kernel_load(mem, img, sizeof(img), BOOT_PROTOCOL_AUTO, &k), 0);
	assert_int_equal(bootparams_write(mem, &k, LAYOUT_CMDLINE, 0x3000000, 12345), 0);
	zp = guest_memory_ptr(mem, LAYOUT_ZERO_PAGE, BP_SIZE);
	assert_int_equal(get_le32(zp + HDR_MAGIC), HDR_MAGIC_VALUE);
	assert_int_equal(zp[HDR_TYPE_OF_LOADER], 0xff);
	assert_int_equal(get_le32(zp + HDR_CMD_LINE_PTR), LAYOUT_CMDLINE);
	assert_int_equal(get_le32(zp + HDR_RAMDISK_IMAGE), 0x3000000);
	assert_int_equal(get_le32(zp + HDR_RAMDISK_SIZE), 12345);
	assert_int_equal(zp[BP_E820_ENTRIES], 3);
	assert_int_equal(get_le64(zp + BP_E820_TABLE + 2 * 20), 1 << 20);
	assert_int_equal(get_le32(zp + BP_E820_TABLE + 2 * 20 + 16), E820_RAM);
}

static void test_pvh_start_info(void **state)
{
	const uint8_t *si;
	(void)state;

	assert_int_equal(pvh_start_info_write(mem, LAYOUT_CMDLINE, 0x2000000, 4096), 0);
	si = guest_memory_ptr(mem, LAYOUT_PVH_START_INFO, 56);
	assert_int_equal(get_le32(si), 0x336ec578);
	assert_int_equal(get_le32(si + 4), 1);
	assert_int_equal(get_le32(si + 12), 1);
	assert_int_equal(get_le64(si + 24), LAYOUT_CMDLINE);
	const uint8_t *mod = guest_memory_ptr(mem, get_le64(si + 16), 32);
	assert_non_null(mod);
	assert_int_equal(get_le64(mod), 0x2000000);
	assert_int_equal(get_le64(mod + 8), 4096);
	assert_int_equal(get_le32(si + 48), 3);
	const uint8_t *mm = guest_memory_ptr(mem, get_le64(si + 40), 3 * 24);
	assert_int_equal(get_le64(mm + 2 * 24), 1 << 20);
	assert_int_equal(get_le32(mm + 24 + 16), E820_RESERVED);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void test_mptable(void **state)
{
	(void)state;
	assert_int_equal(mptable_write(mem, 4, 0x000a0678, 0x0f8bfbff), 0);
	const uint8_t *fp = guest_memory_ptr(mem, LAYOUT_BIOS_START, 16);
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum(fp, 16), 0);
	const uint8_t *hdr = guest_memory_ptr(mem, get_le32(fp + 4), 44);
	assert_memory_equal(hdr, "PCMP", 4);
	uint16_t len = get_le16(hdr + 4);
	assert_int_equal(sum(guest_memory_ptr(mem, get_le32(fp + 4), len), len), 0);
	assert_int_equal(get_le16(hdr + 34), 4 + 2 + 1 + 16 + 2);
	const uint8_t *cpu = hdr + 44;
	for (int i = 0; i < 4; i++, cpu += 20) {
		assert_int_equal(cpu[0], 0);
		assert_int_equal(cpu[1], i);
		assert_int_equal(cpu[3], i == 0 ? 3 : 1);
	}
	assert_int_equal(mptable_write(mem, 0, 0, 0), -EINVAL);
}

static void test_memory_accessors(void **state)
{
	struct guest_memory *big;
	uint8_t b = 0;
	(void)state;

	assert_non_null(guest_memory_ptr(mem, 0, 16));
	assert_null(guest_memory_ptr(mem, LAYOUT_VGA_START, 1)); /* VGA window is not RAM */
	assert_null(guest_memory_ptr(mem, (64 << 20) - 4, 8));   /* runs off the end */
	assert_null(guest_memory_ptr(mem, UINT64_MAX - 2, 8));   /* wraps */
	assert_int_equal(guest_memory_read(mem, 64 << 20, &b, 1), -EFAULT);
	/* Above 3 GiB of RAM, the rest moves above 4 GiB. */
	assert_int_equal(guest_memory_create(4ULL << 30, 46, &big), 0);
	assert_int_equal(big->low_end, 3ULL << 30);
	assert_int_equal(big->high_end, 5ULL << 30);
	assert_null(guest_memory_ptr(big, 3ULL << 30, 1));
	assert_non_null(guest_memory_ptr(big, (5ULL << 30) - 1, 1));
	guest_memory_destroy(big);
	assert_int_equal(guest_memory_create(1 << 20, 46, &big), -EINVAL);
	assert_int_equal(guest_memory_create(1ULL << 50, 46, &big), -EINVAL);
	assert_int_equal(guest_memory_create(1ULL << 44, 46, &big), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_linux64_and_pvh),
		cmocka_unit_test(test_elf_rejects_bad_images),
		cmocka_unit_test(test_bzimage),
		cmocka_unit_test(test_e820_and_zero_page),
		cmocka_unit_test(test_pvh_start_info),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_memory_accessors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
