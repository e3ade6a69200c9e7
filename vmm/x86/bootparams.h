/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offsets into Linux's struct boot_params (the "zero page") and its setup
 * header, as Documentation/arch/x86/boot.rst and zero-page.rst give them.
 * Only what a boot loader reads or writes is named here.
 */
#ifndef VMM_X86_BOOTPARAMS_H
#define VMM_X86_BOOTPARAMS_H

#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_SETUP_HEADER      0x1f1
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128
#define BP_SIZE              0x1000

/* Setup header fields, at their offsets in the zero page (and in a bzImage). */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_SYSSIZE          0x1f4
#define HDR_BOOT_FLAG        0x1fe /* 0xaa55 */
#define HDR_JUMP             0x200
#define HDR_MAGIC            0x202 /* "HdrS" */
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_CODE32_START     0x214
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define HDR_END_MAX          0x290 /* the zero page's next field starts here */

#define HDR_MAGIC_VALUE      0x53726448 /* "HdrS" little-endian */
#define BOOT_FLAG_VALUE      0xaa55
#define LOADFLAGS_LOADED_HIGH 0x01
#define XLF_KERNEL_64        0x0001
#define TYPE_OF_LOADER_UNDEFINED 0xff
#define BZIMAGE_MIN_VERSION  0x020c /* first with xloadflags: 64-bit entry known */
#define BZIMAGE_ENTRY64_OFFSET 0x200

/* E820 memory types (also the PVH memmap's). */
#define E820_RAM      1
#define E820_RESERVED 2

#endif
