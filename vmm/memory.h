/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: one memfd, mapped once in the VMM and registered with KVM as
 * memory slots around the PC holes (VGA window, PCI hole below 4 GiB).
 *
 * Every access to guest memory by the VMM goes through guest_memory_ptr() or
 * guest_memory_read()/write(), which check the whole range lies in RAM.
 */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#define GUEST_MEMORY_MAX_REGIONS 3
#define GUEST_MEMORY_MIN_BYTES   (4ULL << 20)

struct guest_region {
	uint64_t gpa;    /* first guest-physical address */
	uint64_t size;   /* bytes */
	uint64_t offset; /* offset in the memfd */
};

struct guest_memory {
	int memfd;
	uint8_t *host;        /* the whole memfd, mapped shared */
	uint64_t ram_bytes;   /* size of the memfd = RAM the guest gets */
	uint64_t low_end;     /* end of RAM below the PCI hole */
	uint64_t high_end;    /* end of RAM above 4 GiB (4 GiB when there is none) */
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
	unsigned int nr_regions;
};

/*
 * Creates RAM_BYTES of guest RAM. Fails with -EINVAL for a size below the
 * minimum or beyond PHYS_BITS of address space, -ENOMEM when the host cannot
 * possibly back it (more than its memory and swap), logging why.
 */
int guest_memory_create(uint64_t ram_bytes, unsigned int phys_bits,
			struct guest_memory **out);
void guest_memory_destroy(struct guest_memory *mem);

/* Registers every region as a KVM memory slot of VM_FD. */
int guest_memory_register(struct guest_memory *mem, int vm_fd);

/* Host pointer for [gpa, gpa + len), or NULL unless it lies inside one region. */
void *guest_memory_ptr(struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Copy to or from guest RAM; -EFAULT unless the range lies inside one region. */
int guest_memory_read(struct guest_memory *mem, uint64_t gpa, void *buf, uint64_t len);
int guest_memory_write(struct guest_memory *mem, uint64_t gpa, const void *buf, uint64_t len);

/* True when [gpa, gpa + len) is RAM. */
bool guest_memory_is_ram(struct guest_memory *mem, uint64_t gpa, uint64_t len);

#endif
