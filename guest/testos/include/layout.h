// SPDX-License-Identifier: Apache-2.0
/*
 * The static machine layout of testos, shared by the assembly and the C code.
 * Everything here is fixed at link time: testos runs at the physical address
 * it is linked at (1 MiB) with page tables, GDT, IDT and TSSs built as data.
 */
#ifndef TESTOS_LAYOUT_H
#define TESTOS_LAYOUT_H

#define LOAD_ADDR	0x100000	/* code32_start / pref_address / p_paddr */
#define ENTRY64_OFFSET	0x200		/* 64-bit entry, from the load address */

#define NCPUS		64		/* static per-CPU arrays */
#define KSTACK_SIZE	4096		/* CPL0 stack per CPU (exceptions only) */
#define USTACK_SIZE	16384		/* CPL3 stack per CPU */
#define TSS_STRIDE	128		/* bytes between the per-CPU TSSs */
#define IDT_ENTRIES	256
#define ISR_STUB_SIZE	16		/* bytes per exception stub */

/* GDT selectors. 0x10 and 0x18 are the boot protocol's __BOOT_CS/__BOOT_DS. */
#define KERNEL_CS32	0x08
#define KERNEL_CS64	0x10
#define KERNEL_DS	0x18
#define USER_DS		0x23		/* 0x20 | RPL 3 */
#define USER_CS		0x2b		/* 0x28 | RPL 3 */
#define TSS_SEL0	0x40		/* CPU n uses TSS_SEL0 + 16 * n */

/* CPL3 -> CPL0 calls: "ud2; .long KCALL_MAGIC" with eax = function
 * (boot/traps.S), or int $KCALL_VECTOR where the host supports it. */
#define KCALL_MAGIC	0x4c4c434b	/* "KCLL" */
#define KCALL_VECTOR	0x80
#define KCALL_HALT	1		/* cli; hlt forever */
#define KCALL_TRIPLE_FAULT 2		/* load an empty IDT and fault */

/* How we were entered (rdi of testos_main). */
#define BOOT_LINUX64	1		/* Linux 64-bit entry, rsi = boot_params */
#define BOOT_PVH	2		/* PVH 32-bit entry, ebx = hvm_start_info */
#define BOOT_BZIMAGE16	3		/* our real-mode setup, then the 32-bit entry */
#define BOOT_BZIMAGE32	4		/* 32-bit entry from a loader, esi = boot_params */

/* Left in %ebp by our real-mode setup code before it jumps to the 32-bit entry. */
#define SETUP16_MAGIC	0x36314253

/* Where the BSP copies the AP start-up code (SIPI vector 0x08). */
#define AP_TRAMPOLINE	0x8000

#define CR0_BOOT	0x80010033	/* PG WP NE ET MP PE */
#define CR4_BOOT	0x00000020	/* PAE only: no SMEP/SMAP, all pages are U */
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100
#define RFLAGS_USER	0x00003002	/* IOPL=3, IF=0 */

#endif
