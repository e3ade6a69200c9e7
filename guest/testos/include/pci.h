// SPDX-License-Identifier: Apache-2.0
/* PCI configuration space through the legacy ports 0xcf8/0xcfc. */
#ifndef TESTOS_PCI_H
#define TESTOS_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct pci_addr {
	uint8_t bus, dev, fn;
};

uint32_t pci_read32(struct pci_addr a, unsigned int off);
uint16_t pci_read16(struct pci_addr a, unsigned int off);
uint8_t pci_read8(struct pci_addr a, unsigned int off);
void pci_write32(struct pci_addr a, unsigned int off, uint32_t v);
void pci_write16(struct pci_addr a, unsigned int off, uint16_t v);

/* Calls fn for every function present on buses 0..max_bus (vendor id not
 * 0xffff). Stops and returns fn's value when it is nonzero; else 0. */
int pci_scan(unsigned int max_bus, int (*fn)(struct pci_addr a, void *arg), void *arg);

/* Physical address of a memory BAR (64-bit BARs included); 0 for an I/O
 * BAR or an unassigned one. */
uint64_t pci_bar_addr(struct pci_addr a, unsigned int bar);

#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		0x06
#define PCI_STATUS_CAP_LIST	0x0010
#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_VNDR		0x09

/* What a BAR is and how big, from the standard all-ones probe. */
struct pci_bar {
	uint64_t addr;		/* as programmed (0: unassigned) */
	uint64_t size;		/* 0: not implemented */
	bool io;		/* I/O space */
	bool is64;		/* 64-bit memory BAR (uses bar + 1 too) */
	bool prefetch;
};

/* Probes BAR bar (0-5). Memory decoding is switched off during the probe
 * and restored. Returns 0 or -EINVAL (bar > 5, or the upper half of a
 * 64-bit BAR). */
int pci_bar_probe(struct pci_addr a, unsigned int bar, struct pci_bar *out);

/* Programs memory BAR bar with addr (upper half 0 for 32-bit BARs). */
void pci_bar_set(struct pci_addr a, unsigned int bar, const struct pci_bar *b, uint64_t addr);

/* Finds size bytes of address space, aligned to size (a power of two), in
 * 0xc0000000-0xfebfffff, that no memory BAR of any function on buses
 * 0..max_bus and no range of the memory map uses. Returns 0 when none. */
uint64_t pci_alloc_mmio(uint64_t size, unsigned int max_bus);

#endif
