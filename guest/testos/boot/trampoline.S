/* SPDX-License-Identifier: Apache-2.0 */
	.file	"trampoline.S"
/*
 * Application processor start-up. The BSP copies [ap_tramp_start,
 * ap_tramp_end) to AP_TRAMPOLINE (below 1 MiB) and sends INIT-SIPI-SIPI
 * with vector AP_TRAMPOLINE >> 12. Each AP enters it in real mode at
 * (AP_TRAMPOLINE >> 4):0, switches to protected mode with the main GDT,
 * jumps to ap_entry32 in the image, enters long mode with the same static
 * page tables, takes the next CPU index, loads its own TSS and stacks, and
 * drops to CPL3 in ap_main(index) (modes/smp.c).
 */
#include "layout.h"

	.text
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	ap_tramp_gdtp - ap_tramp_start
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$KERNEL_CS32, $ap_entry32
	.balign	8
ap_tramp_gdtp:
	.word	GDT_LIMIT
	.long	gdt
ap_tramp_end:

	.code32
ap_entry32:
	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
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
	ljmp	$KERNEL_CS64, $ap_entry64

	.code64
ap_entry64:
	movl	$1, %eax
	lock xaddl %eax, ap_next_index
	cmpl	$NCPUS, %eax
	jae	ap_park
	lidt	idt_ptr
	movl	%eax, %ecx
	shll	$4, %ecx
	addl	$TSS_SEL0, %ecx
	ltr	%cx
	movl	%eax, %edi		/* ap_main(index) */
	leal	1(%rax), %edx
	imull	$KSTACK_SIZE, %edx, %ecx
	leaq	kstacks(%rcx), %rsp
	imull	$USTACK_SIZE, %edx, %ecx
	leaq	ustacks(%rcx), %rcx
	pushq	$USER_DS
	pushq	%rcx
	pushq	$RFLAGS_USER
	pushq	$USER_CS
	pushq	$ap_user_entry
	iretq

ap_park:				/* more CPUs than NCPUS: keep them out */
	cli
	hlt
	jmp	ap_park

ap_user_entry:
	call	ap_main
	ud2

	.data
	.balign 4
	.globl ap_next_index
ap_next_index:
	.long	1			/* the BSP is CPU 0 */

	.section .note.GNU-stack, "", @progbits
