/* SPDX-License-Identifier: Apache-2.0 */
	.file	"tables.S"
/*
 * Static system tables, built at assembly/link time so that CPL0 never loops:
 * - page tables identity-mapping the first 4 GiB with 2 MiB pages, U/S=1 and
 *   R/W=1 everywhere (CPL3 reaches RAM, the LAPIC, the IOAPIC and PCI BARs);
 *   the top 512 MiB (MMIO) is uncached;
 * - the GDT (flat kernel and user segments, one TSS descriptor per CPU);
 * - one 64-bit TSS per CPU (rsp0 = that CPU's exception stack) and one
 *   shared I/O bitmap allowing every port;
 * - the IDT: every vector goes to its stub in traps.S, only KCALL_VECTOR is
 *   callable from CPL3.
 * Descriptor base fields are split bit fields, so their values come from
 * symbols computed in testos.ld (TSS_*, ISR_*).
 */
#include "layout.h"

	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad	pdpt + 0x7
	.fill	511, 8, 0
pdpt:
	.quad	pd + 0x0000 + 0x7
	.quad	pd + 0x1000 + 0x7
	.quad	pd + 0x2000 + 0x7
	.quad	pd + 0x3000 + 0x7
	.fill	508, 8, 0
pd:
	.set	i, 0
	.rept	2048
	.if	i >= 1792
	.quad	(i << 21) | 0x9f	/* P RW US PWT PCD PS */
	.else
	.quad	(i << 21) | 0x87	/* P RW US PS */
	.endif
	.set	i, i + 1
	.endr

	.section .data.tss, "aw"
	.balign 8192			/* so TSS_LO + n * TSS_STRIDE never carries */
	.globl tss_array
tss_array:
	.set	i, 0
	.rept	NCPUS
	.long	0
	.quad	kstacks + (i + 1) * KSTACK_SIZE	/* rsp0 */
	.fill	88, 1, 0			/* rsp1, rsp2, ist1-7 */
	.word	0
	.word	io_bitmap - tss_array - i * TSS_STRIDE	/* I/O bitmap base */
	.fill	TSS_STRIDE - 104, 1, 0
	.set	i, i + 1
	.endr
	/*
	 * One I/O permission bitmap shared by all TSSs: every port allowed
	 * at CPL3. IOPL=3 alone is not enough: PVM hosts keep the hardware
	 * IOPL at 0 and emulate I/O from CPL3 by checking this bitmap.
	 */
	.globl io_bitmap, io_bitmap_end
io_bitmap:
	.fill	8192, 1, 0
	.byte	0xff
io_bitmap_end:

	.section .data.tables, "aw"
	.balign 16
	.globl gdt, gdt_end
gdt:
	.quad	0			/* 0x00 */
	.quad	0x00cf9a000000ffff	/* 0x08 kernel code, 32-bit */
	.quad	0x00af9a000000ffff	/* 0x10 kernel code, 64-bit */
	.quad	0x00cf92000000ffff	/* 0x18 kernel data */
	.quad	0x00cff2000000ffff	/* 0x20 user data */
	.quad	0x00affa000000ffff	/* 0x28 user code, 64-bit */
	.quad	0			/* 0x30 */
	.quad	0			/* 0x38 */
	.set	i, 0
	.rept	NCPUS			/* 0x40 + 16 * n: TSS of CPU n */
	.word	TSS_LIMIT0 - i * TSS_STRIDE	/* up to the end of io_bitmap */
	.word	TSS_LO + i * TSS_STRIDE
	.byte	TSS_MID
	.byte	0x89			/* present, 64-bit TSS (available) */
	.byte	0
	.byte	TSS_HI
	.long	0
	.long	0
	.set	i, i + 1
	.endr
gdt_end:

	.balign 16
	.globl idt
idt:
	.set	i, 0
	.rept	IDT_ENTRIES
	.word	ISR_LO + i * ISR_STUB_SIZE
	.word	KERNEL_CS64
	.byte	0
	.if	i == KCALL_VECTOR
	.byte	0xee			/* interrupt gate, DPL 3 */
	.else
	.byte	0x8e			/* interrupt gate, DPL 0 */
	.endif
	.word	ISR_HI
	.long	0
	.long	0
	.set	i, i + 1
	.endr
idt_end:

	/* 10-byte pseudo-descriptors; lgdt/lidt in 32-bit mode read 6 of them. */
	.balign 16
	.globl gdt_ptr, idt_ptr, idt_null_ptr
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt
	.balign 16
idt_ptr:
	.word	idt_end - idt - 1
	.quad	idt
	.balign 16
idt_null_ptr:
	.word	0
	.quad	0

/* Stacks: not loaded, not zeroed. */
	.section .stacks, "aw", @nobits
	.balign 4096
	.globl kstacks, ustacks
kstacks:
	.skip	NCPUS * KSTACK_SIZE
ustacks:
	.skip	NCPUS * USTACK_SIZE

	.section .note.GNU-stack, "", @progbits
