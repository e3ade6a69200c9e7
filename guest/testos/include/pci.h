// SPDX-License-Identifier: Apache-2.0
/* PCI configuration space through the legacy ports 0xcf8/0xcfc. */
#ifndef TESTOS_PCI_H
#define TESTOS_PCI_H

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

#endif
