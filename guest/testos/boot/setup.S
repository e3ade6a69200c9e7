/* SPDX-License-Identifier: Apache-2.0 */
	.file	"setup.S"
/*
 * The real-mode part of testos.bzImage: boot sector, Linux setup header
 * (boot protocol 2.12) and 16-bit setup code. A loader that boots it the
 * 16-bit way (QEMU -M pc through its linuxboot option ROM, GRUB linux16)
 * loads this at some segment S with the protected-mode payload at
 * code32_start (1 MiB), and jumps to (S + 0x20):0 = the jump at 0x200 with
 * DS = ES = SS = S. We then:
 *   - copy the setup header into a zero page inside this image (at 0x1000;
 *     the first 4 KiB here are code, not a usable boot_params),
 *   - fill its e820 table with BIOS int 0x15/0xe820,
 *   - enable A20, load a flat GDT, enter protected mode and jump to
 *     code32_start with esi = zero page, ebp = SETUP16_MAGIC.
 * mkbzimage.py fills syssize and init_size.
 */
#include "layout.h"

#define BP_OFFSET	0x1000		/* our zero page, inside this image */
#define SETUP_SIZE	0x2000		/* boot sector + setup, in bytes */
#define LOADED_HIGH	0x01
#define CAN_USE_HEAP	0x80
#define XLF_KERNEL_64	0x0001
#define SMAP		0x534d4150
#define BOOT_CS		0x10
#define BOOT_DS		0x18

	.code16
	.section .text, "ax"
	.globl _start
_start:
	/* The boot sector: not bootable by itself. */
	.ascii	"testos: this is a Linux boot protocol image, boot it with a loader\r\n"

	.org	0x1f1
	.globl	syssize, version, code32_start, cmd_line_ptr, xloadflags, pref_address, init_size, hdr_end
hdr:
setup_sects:	.byte	SETUP_SIZE / 512 - 1
root_flags:	.word	0
syssize:	.long	0		/* filled by mkbzimage.py */
ram_size:	.word	0
vid_mode:	.word	0xffff
root_dev:	.word	0
boot_flag:	.word	0xaa55

	.org	0x200
	.byte	0xeb			/* jmp start_of_setup */
	.byte	start_of_setup - 1f
1:
	.ascii	"HdrS"
version:	.word	0x020c
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000
kernel_ver:	.word	kernel_version - 0x200
type_of_loader:	.byte	0
loadflags:	.byte	LOADED_HIGH
setup_move_size: .word	0x8000
code32_start:	.long	LOAD_ADDR
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x100000
relocatable_kernel: .byte 0
min_alignment:	.byte	20
xloadflags:	.word	XLF_KERNEL_64
cmdline_size:	.long	2047
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	LOAD_ADDR
init_size:	.long	0		/* filled by mkbzimage.py */
handover_offset: .long	0
hdr_end:

start_of_setup:
	cli
	cld
	/* Make CS equal DS so that our offsets (linked at 0) work. */
	pushw	%ds
	pushw	$2f
	lretw
2:
	movw	%ds, %ax
	movw	%ax, %es
	movw	%ax, %ss
	movw	$(SETUP_SIZE + 0x400), %sp	/* 1 KiB past the image ... */
	testb	$CAN_USE_HEAP, loadflags
	jz	3f
	movw	heap_end_ptr, %sp		/* ... or the end of the loader's heap */
	addw	$0x200, %sp
3:
	/* Copy the (loader-updated) setup header into our zero page. */
	movw	$hdr, %si
	movw	$(BP_OFFSET + 0x1f1), %di
	movw	$(hdr_end - hdr), %cx
	rep movsb

	/* e820: up to 128 entries of 20 bytes at zero page + 0x2d0. */
	xorl	%ebx, %ebx
	movw	$(BP_OFFSET + 0x2d0), %di
4:
	movl	$0xe820, %eax
	movl	$SMAP, %edx
	movl	$20, %ecx
	int	$0x15
	jc	5f
	cmpl	$SMAP, %eax
	jne	5f
	addw	$20, %di
	incb	BP_OFFSET + 0x1e8
	cmpb	$128, BP_OFFSET + 0x1e8
	jae	5f
	testl	%ebx, %ebx
	jnz	4b
5:
	cli
	/* A20 through the fast gate (port 0x92). */
	inb	$0x92, %al
	orb	$0x02, %al
	andb	$0xfe, %al
	outb	%al, $0x92

	/* Linear address of this image, for the GDT base and the zero page. */
	xorl	%ebx, %ebx
	movw	%ds, %bx
	shll	$4, %ebx
	leal	setup_gdt(%ebx), %eax
	movl	%eax, setup_gdtp + 2
	lgdtl	setup_gdtp
	movl	code32_start, %eax
	movl	%eax, jump32
	leal	BP_OFFSET(%ebx), %esi
	movl	$SETUP16_MAGIC, %ebp
	xorl	%ebx, %ebx
	xorl	%edi, %edi

	movl	%cr0, %eax
	orb	$1, %al
	movl	%eax, %cr0
	movw	$BOOT_DS, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	ljmpl	*%cs:jump32

	.balign	4
jump32:	.long	0
	.word	BOOT_CS

	.balign	8
setup_gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x18: flat data */
setup_gdtp:
	.word	setup_gdtp - setup_gdt - 1
	.long	0			/* filled at run time */

kernel_version:
	.asciz	"testos"

	/* The zero page we hand on: zero in the file, so zero when loaded. */
	.org	BP_OFFSET
	.fill	4096, 1, 0
	.org	SETUP_SIZE

	.section .note.GNU-stack, "", @progbits
