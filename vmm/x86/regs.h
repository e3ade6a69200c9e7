/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state a vCPU starts in. The boot processor enters the kernel as its
 * boot protocol says (64-bit mode with the VMM's 4 GiB identity map, or
 * 32-bit protected mode for PVH); application processors stay in KVM's reset
 * state until the guest wakes them with INIT and SIPI.
 */
#ifndef VMM_X86_REGS_H
#define VMM_X86_REGS_H

#include <stdbool.h>

#include "../memory.h"
#include "boot.h"

/* Writes the boot GDT and the identity-map page tables into guest RAM. */
int regs_write_boot_tables(struct guest_memory *mem);

/* State every vCPU needs (FPU control words, MTRRs, LAPIC LINT0/LINT1). */
int regs_init_vcpu(int vcpu_fd);

/* Points the boot processor at the kernel entry. */
int regs_init_boot_cpu(int vcpu_fd, const struct boot_state *boot);

#endif
