/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dispatch of guest port I/O and MMIO accesses to the devices that claim
 * address ranges. One bus for ports, one for MMIO. Ranges may be added and
 * removed while vCPUs run (PCI BAR moves); lookups take a read lock.
 * Handlers run on the vCPU thread that exited and do their own locking.
 */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Reads fill DATA with SIZE bytes (1, 2, 4 or 8) for the access at OFFSET in the range. */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned int size);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned int size);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio" */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, never overlapping */
	unsigned int nr, cap;
	uint64_t unhandled;       /* accesses nobody claimed */
};

int bus_init(struct bus *bus, const char *name);
void bus_fini(struct bus *bus);

/* Claims [base, base + len). Returns -EEXIST if it overlaps a claimed range. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name);
/* Releases the range starting at BASE owned by OPAQUE; -ENOENT if none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque);

/*
 * Performs one access. An access nobody claims reads as all ones and is
 * otherwise ignored; the return value says whether a device handled it.
 */
bool bus_read(struct bus *bus, uint64_t addr, void *data, unsigned int size);
bool bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned int size);

#endif
