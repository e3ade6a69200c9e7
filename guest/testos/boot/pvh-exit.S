/* SPDX-License-Identifier: Apache-2.0 */
	.file	"pvh-exit.S"
/*
 * pvh-exit.elf: the smallest PVH payload, for boot-time benchmarks. Its PVH
 * entry writes 0 to the debug-exit port 0xf4 ("passed") and halts.
 */
	.section .text, "ax"
	.code32
	.globl pvh_exit_entry
pvh_exit_entry:
	xorl	%eax, %eax
	outb	%al, $0xf4
1:	cli
	hlt
	jmp	1b

	.section .note.Xen, "a", @note
	.balign 4
	.long	4
	.long	8
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.balign 4
	.quad	pvh_exit_entry

	.section .note.GNU-stack, "", @progbits
