// SPDX-License-Identifier: Apache-2.0
/* ELF64 kernels: PT_LOAD segments at their physical addresses; the PVH note. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "layout.h"
#include "vireo/le.h"
#include "vireo/log.h"
#include "vireo/util.h"

#define ELF_MAX_PHDRS 128
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/*
 * Looks through one PT_NOTE segment for Xen's PHYS32_ENTRY note.
 * Returns 1 and sets *ENTRY when found, 0 when not, -ENOEXEC when malformed.
 */
static int elf_find_pvh_note(const uint8_t *p, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;

	while (size - off >= 12) {
		uint32_t namesz = get_le32(p + off), descsz = get_le32(p + off + 4),
			 type = get_le32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + ALIGN_UP((uint64_t)namesz, 4);
		uint64_t next = desc_off + ALIGN_UP((uint64_t)descsz, 4);

		if (next > size || next <= off)
			return -ENOEXEC;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(p + name_off, "Xen", 4) == 0) {
			if (descsz == 4)
				*entry = get_le32(p + desc_off);
			else if (descsz == 8)
				*entry = get_le64(p + desc_off);
			else
				return -ENOEXEC;
			return 1;
		}
		off = next;
	}
	return 0;
}

/* True when ADDR lies inside one of the loaded segments. */
static bool elf_addr_loaded(const uint8_t *data, const Elf64_Ehdr *eh, uint64_t addr)
{
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && addr >= ph.p_paddr && addr - ph.p_paddr < ph.p_memsz)
			return true;
	}
	return false;
}

int elf_load(struct guest_memory *mem, const uint8_t *data, size_t len,
	     enum boot_protocol want, struct kernel_image *out)
{
	Elf64_Ehdr eh;
	uint64_t pvh_entry = 0, lo = UINT64_MAX, hi = 0;
	bool has_pvh = false;
	unsigned int nr_load = 0;

	if (len < sizeof(eh) || memcmp(data, ELFMAG, SELFMAG) != 0) {
		log_error("kernel: not an ELF file");
		return -ENOEXEC;
	}
	memcpy(&eh, data, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		log_error("kernel: ELF is not a 64-bit little-endian x86-64 executable");
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS ||
	    !range_within(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len)) {
		log_error("kernel: ELF program headers are missing or lie outside the file");
		return -ENOEXEC;
	}

	/* Check everything before writing anything. */
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			if (!range_within(ph.p_offset, ph.p_filesz, len)) {
				log_error("kernel: ELF note segment %u lies outside the file", i);
				return -ENOEXEC;
			}
			int r = elf_find_pvh_note(data + ph.p_offset, ph.p_filesz, &pvh_entry);
			if (r < 0) {
				log_error("kernel: malformed ELF note in segment %u", i);
				return r;
			}
			has_pvh |= r == 1;
			continue;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (!range_within(ph.p_offset, ph.p_filesz, len) || ph.p_filesz > ph.p_memsz) {
			log_error("kernel: ELF segment %u lies outside the file", i);
			return -ENOEXEC;
		}
		if (ph.p_paddr < LAYOUT_HIGH_MEMORY ||
		    !guest_memory_ptr(mem, ph.p_paddr, ph.p_memsz)) {
			log_error("kernel: ELF segment %u (0x%llx+0x%llx) is not in guest RAM above 1 MiB",
				  i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
			return -ENOEXEC;
		}
		lo = MIN(lo, ph.p_paddr);
		hi = MAX(hi, ph.p_paddr + ph.p_memsz);
		nr_load++;
	}
	if (nr_load == 0) {
		log_error("kernel: ELF has nothing to load");
		return -ENOEXEC;
	}

	if (want == BOOT_PROTOCOL_PVH && !has_pvh) {
		log_error("kernel: PVH boot asked for, but the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note");
		return -ENOEXEC;
	}
	out->protocol = (want == BOOT_PROTOCOL_LINUX64 || !has_pvh) ? BOOT_PROTOCOL_LINUX64
								     : BOOT_PROTOCOL_PVH;
	out->entry = out->protocol == BOOT_PROTOCOL_PVH ? pvh_entry : eh.e_entry;
	if (!elf_addr_loaded(data, &eh, out->entry) ||
	    (out->protocol == BOOT_PROTOCOL_PVH && out->entry >= LAYOUT_4GIB)) {
		log_error("kernel: %s entry point 0x%llx is not inside a loaded segment",
			  boot_protocol_name(out->protocol), (unsigned long long)out->entry);
		return -ENOEXEC;
	}

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		uint8_t *dst = guest_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
		memcpy(dst, data + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	out->format = KERNEL_FORMAT_ELF;
	out->load_start = lo;
	out->load_end = hi;
	out->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	out->initrd_addr_max = 0xffffffff;
	out->setup_header_len = 0;
	return 0;
}
