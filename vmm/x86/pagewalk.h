/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest linear-to-physical translation in user space, through the guest's
 * own page tables, for every paging mode (none, 32-bit, PAE, 4- and 5-level).
 * Every table read is bounds-checked against guest RAM.
 */
#ifndef VMM_X86_PAGEWALK_H
#define VMM_X86_PAGEWALK_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "../memory.h"

/* Returns 0 and the physical address, or -EFAULT if LA is not mapped to RAM. */
int pagewalk_translate(struct guest_memory *mem, const struct kvm_sregs *sregs, uint64_t la,
		       uint64_t *gpa);

/* Copies up to LEN bytes from linear address LA; returns how many could be read. */
size_t pagewalk_read(struct guest_memory *mem, const struct kvm_sregs *sregs, uint64_t la,
		     void *buf, size_t len);

#endif
