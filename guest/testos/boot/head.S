/* SPDX-License-Identifier: Apache-2.0 */
	.file	"head.S"
/*
 * The entries. This is the start of the image, linked at LOAD_ADDR:
 *   +0x000  entry32: 32-bit Linux boot protocol entry (bzImage code32_start),
 *           esi = boot_params, also reached from our real-mode setup code
 *   +0x200  entry64: 64-bit Linux boot protocol entry (e_entry of testos.elf,
 *           and the XLF_KERNEL_64 entry of testos.bzImage), rsi = boot_params
 *   pvh_entry32: the PVH entry named by the Xen ELF note, ebx = hvm_start_info
 * Each loads the static page tables, GDT, IDT and TSS and drops to CPL3 with
 * IOPL=3 in a few dozen instructions: CPL0 code is slow on PVM hosts, so no
 * loops run here.
 */
#include "layout.h"

	.section .text.head, "ax"
	.code32
	.globl entry32
entry32:
	cli
	cld
	movl	$BOOT_BZIMAGE32, %edi
	cmpl	$SETUP16_MAGIC, %ebp
	jne	common32
	movl	$BOOT_BZIMAGE16, %edi
	jmp	common32

	.globl pvh_entry32
pvh_entry32:
	cli
	cld
	movl	%ebx, %esi
	movl	$BOOT_PVH, %edi
	/* fall through */

/* edi = boot path, esi = boot information; paging off, flat segments. */
common32:
	lgdt	gdt_ptr
	movl	$CR4_BOOT, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	$CR0_BOOT, %eax
	movl	%eax, %cr0
	ljmp	$KERNEL_CS64, $common64_from32

	.org	ENTRY64_OFFSET
	.code64
	.globl entry64
entry64:
	cli
	cld
	movl	$CR4_BOOT, %eax		/* keeps PAE; drops SMEP/SMAP/PGE */
	movq	%rax, %cr4
	movl	$pml4, %eax
	movq	%rax, %cr3
	lgdt	gdt_ptr
	movl	$BOOT_LINUX64, %edi
	jmp	common64		/* CS 0x10 is 64-bit code in our GDT too */

common64_from32:
	movl	%edi, %edi		/* upper halves are undefined after 32-bit code */
	movl	%esi, %esi
common64:
	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	lidt	idt_ptr
	movl	$TSS_SEL0, %eax
	ltr	%ax
	movq	$kstacks + KSTACK_SIZE, %rsp
	pushq	$USER_DS
	pushq	$ustacks + USTACK_SIZE
	pushq	$RFLAGS_USER
	pushq	$USER_CS
	pushq	$user_entry
	iretq

/* CPL3 from here on. rdi = boot path, rsi = boot information. */
	.text
	.globl user_entry
user_entry:
	movq	%rdi, %r12
	movq	%rsi, %r13
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	movq	%r12, %rdi
	movq	%r13, %rsi
	call	testos_main
	ud2

/* The PVH note: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen", 8-byte address. */
	.section .note.Xen, "a", @note
	.balign 4
	.long	4
	.long	8
	.long	18
	.asciz	"Xen"
	.balign 4
	.quad	pvh_entry32

	.section .note.GNU-stack, "", @progbits
