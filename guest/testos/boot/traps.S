/* SPDX-License-Identifier: Apache-2.0 */
	.file	"traps.S"
/*
 * CPL0 entry points: one 16-byte stub per IDT vector (at isr_stubs +
 * 16 * vector, which tables.S relies on), a common path that saves the
 * registers and calls trap_handle() (trap.c, reports and stops), and the
 * kcall: the way CPL3 asks CPL0 for something.
 *
 * A kcall is "ud2" followed by the 4 bytes KCALL_MAGIC, with eax = the
 * function (see kcall() in io.h). It is an exception rather than "int n"
 * because PVM hosts cannot emulate a software interrupt from CPL3 (they
 * raise #UD instead), while they deliver exceptions normally. The #UD
 * handler recognises the pattern; any other #UD is reported as a fault.
 * The KCALL_VECTOR gate (DPL 3) does the same for hosts where "int" works.
 */
#include "layout.h"

	.section .text.isr, "ax"
	.code64
	.balign 4096
	.globl isr_stubs
isr_stubs:
	.set	i, 0
	.rept	IDT_ENTRIES
	.org	isr_stubs + i * ISR_STUB_SIZE
	.if	i == KCALL_VECTOR
	jmp	kcall_entry
	.elseif	i == 6
	jmp	ud_entry
	.else
	.if	(i == 8) || ((i >= 10) && (i <= 14)) || (i == 17) || (i == 21) || (i == 29) || (i == 30)
	/* the CPU pushed an error code */
	.else
	pushq	$0
	.endif
	pushq	$i
	jmp	isr_common
	.endif
	.set	i, i + 1
	.endr
	.org	isr_stubs + IDT_ENTRIES * ISR_STUB_SIZE

/* Stack: vector, error code, then the CPU's frame. Builds struct trap_frame. */
isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	trap_handle		/* does not return */
1:	cli
	hlt
	jmp	1b

/* #UD: a kcall from CPL3, or a real invalid opcode. */
ud_entry:
	testb	$3, 8(%rsp)		/* saved CS: from CPL3? */
	jz	1f
	pushq	%rcx
	movq	8(%rsp), %rcx		/* saved RIP */
	cmpl	$KCALL_MAGIC, 2(%rcx)
	popq	%rcx
	jne	1f
	addq	$6, (%rsp)		/* return past ud2 + magic */
	jmp	kcall_entry
1:	pushq	$0
	pushq	$6
	jmp	isr_common

/* eax = function. Unknown functions return. */
kcall_entry:
	cmpl	$KCALL_HALT, %eax
	je	1f
	cmpl	$KCALL_TRIPLE_FAULT, %eax
	je	2f
	iretq
1:	cli
	hlt
	jmp	1b
2:	lidt	idt_null_ptr		/* no IDT: the next fault shuts down */
	ud2
	jmp	2b

	.section .note.GNU-stack, "", @progbits
