/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a kernel the way the Linux x86 boot protocol and the PVH boot ABI
 * describe: a bzImage (setup header, protected-mode kernel at 1 MiB, entered
 * at its 64-bit entry), an ELF vmlinux (segments at their physical addresses,
 * entered in 64-bit mode with page tables made by the VMM), or an ELF with a
 * XEN_ELFNOTE_PHYS32_ENTRY note (entered in 32-bit protected mode).
 *
 * The parsers take the image as bytes and check every field before use: a
 * corrupt image gets a clear error (logged) and -ENOEXEC or -EINVAL, never a
 * write outside guest RAM.
 */
#ifndef VMM_X86_BOOT_H
#define VMM_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "../memory.h"
#include "bootparams.h"

enum boot_protocol {
	BOOT_PROTOCOL_AUTO,    /* PVH when the ELF has the note, else 64-bit Linux */
	BOOT_PROTOCOL_LINUX64, /* Linux 64-bit boot protocol */
	BOOT_PROTOCOL_PVH,     /* Xen PVH direct boot */
};

enum kernel_format { KERNEL_FORMAT_BZIMAGE, KERNEL_FORMAT_ELF };

struct kernel_image {
	enum kernel_format format;
	enum boot_protocol protocol;  /* the one chosen */
	uint64_t entry;               /* 64-bit entry, or 32-bit for PVH */
	uint64_t load_start, load_end; /* guest RAM the kernel needs */
	uint32_t initrd_addr_max;     /* highest byte an initrd may occupy */
	uint32_t cmdline_max;         /* longest command line, without the NUL */
	/* bzImage: the setup header bytes, copied into the zero page. */
	uint8_t setup_header[HDR_END_MAX - BP_SETUP_HEADER];
	size_t setup_header_len;
};

const char *boot_protocol_name(enum boot_protocol p);
/* Parses "auto", "linux64" or "pvh"; -EINVAL otherwise. */
int boot_protocol_parse(const char *s, enum boot_protocol *out);

/* Loads a bzImage or ELF kernel from DATA into guest RAM. */
int kernel_load(struct guest_memory *mem, const uint8_t *data, size_t len,
		enum boot_protocol want, struct kernel_image *out);
int bzimage_load(struct guest_memory *mem, const uint8_t *data, size_t len,
		 struct kernel_image *out);
int elf_load(struct guest_memory *mem, const uint8_t *data, size_t len,
	     enum boot_protocol want, struct kernel_image *out);

/* The guest's memory map; returns the number of entries written (<= MAX). */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};
unsigned int e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned int max);

/* Writes the zero page at LAYOUT_ZERO_PAGE. */
int bootparams_write(struct guest_memory *mem, const struct kernel_image *k,
		     uint64_t cmdline_addr, uint64_t initrd_addr, uint64_t initrd_size);
/* Writes struct hvm_start_info (and its memmap, module list) at LAYOUT_PVH_START_INFO. */
int pvh_start_info_write(struct guest_memory *mem, uint64_t cmdline_addr,
			 uint64_t initrd_addr, uint64_t initrd_size);

/* Writes an MP table for NR_CPUS processors (CPUID leaf 1 EAX/EDX as signature). */
int mptable_write(struct guest_memory *mem, unsigned int nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features);

/* What a VM needs to boot, from files on the host. */
struct boot_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;     /* NULL: empty */
	enum boot_protocol protocol;
	unsigned int nr_cpus;
	uint32_t cpu_signature, cpu_features;
};

struct boot_state {
	enum boot_protocol protocol;
	uint64_t entry;
	uint64_t boot_info; /* zero page or hvm_start_info */
};

/* Loads kernel, initrd and command line and writes every boot table. */
int boot_prepare(struct guest_memory *mem, const struct boot_config *cfg, struct boot_state *out);

#endif
