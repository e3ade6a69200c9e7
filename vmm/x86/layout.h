/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest-physical address map of a Vireo PC, and where the VMM puts the
 * boot structures. Everything below 1 MiB except the VGA window is RAM that
 * the e820 map reports as usable up to EBDA_START and reserved above it.
 */
#ifndef VMM_X86_LAYOUT_H
#define VMM_X86_LAYOUT_H

#define LAYOUT_GDT             0x00000500ULL /* boot GDT (Linux: __BOOT_CS 0x10, __BOOT_DS 0x18) */
#define LAYOUT_PVH_START_INFO  0x00006000ULL /* struct hvm_start_info + memmap */
#define LAYOUT_ZERO_PAGE       0x00007000ULL /* struct boot_params */
#define LAYOUT_BOOT_STACK      0x00008ff0ULL
#define LAYOUT_PML4            0x00009000ULL /* boot page tables, 4 GiB identity map */
#define LAYOUT_PDPT            0x0000a000ULL
#define LAYOUT_PD              0x0000b000ULL /* four page directories, 0xb000-0xefff */
#define LAYOUT_CMDLINE         0x00020000ULL
#define LAYOUT_CMDLINE_MAX     0x00010000ULL /* 64 KiB, more than any kernel accepts */
#define LAYOUT_EBDA_START      0x0009fc00ULL
#define LAYOUT_VGA_START       0x000a0000ULL /* VGA window: not RAM, MMIO */
#define LAYOUT_VGA_END         0x000c0000ULL
#define LAYOUT_BIOS_START      0x000f0000ULL /* MP table and ACPI tables live here */
#define LAYOUT_BIOS_END        0x00100000ULL
#define LAYOUT_HIGH_MEMORY     0x00100000ULL /* 1 MiB: where protected-mode kernels load */

#define LAYOUT_PCI_HOLE_START  0xc0000000ULL /* 3 GiB: RAM above this moves to 4 GiB */
#define LAYOUT_MMIO32_START    0xc0000000ULL /* 32-bit PCI BARs */
#define LAYOUT_MMIO32_END      0xfec00000ULL
#define LAYOUT_IOAPIC_BASE     0xfec00000ULL
#define LAYOUT_LAPIC_BASE      0xfee00000ULL
#define LAYOUT_4GIB            0x100000000ULL

/* KVM private regions for Intel real-mode support; inside the PCI hole, unused by devices. */
#define LAYOUT_KVM_IDENTITY_MAP 0xfeffc000ULL
#define LAYOUT_KVM_TSS          0xfeffd000ULL

#endif
