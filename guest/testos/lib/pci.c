// SPDX-License-Identifier: Apache-2.0
#include "io.h"
#include "pci.h"
#include "testos.h"

#define PCI_CONFIG_ADDR	0xcf8
#define PCI_CONFIG_DATA	0xcfc

static void pci_select(struct pci_addr a, unsigned int off)
{
	outl(PCI_CONFIG_ADDR, 0x80000000U | (uint32_t)a.bus << 16 |
	     (uint32_t)(a.dev & 0x1f) << 11 | (uint32_t)(a.fn & 7) << 8 | (off & 0xfc));
}

uint32_t pci_read32(struct pci_addr a, unsigned int off)
{
	pci_select(a, off);
	return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(struct pci_addr a, unsigned int off)
{
	pci_select(a, off);
	return inw((uint16_t)(PCI_CONFIG_DATA + (off & 2)));
}

uint8_t pci_read8(struct pci_addr a, unsigned int off)
{
	pci_select(a, off);
	return inb((uint16_t)(PCI_CONFIG_DATA + (off & 3)));
}

void pci_write32(struct pci_addr a, unsigned int off, uint32_t v)
{
	pci_select(a, off);
	outl(PCI_CONFIG_DATA, v);
}

void pci_write16(struct pci_addr a, unsigned int off, uint16_t v)
{
	pci_select(a, off);
	outw((uint16_t)(PCI_CONFIG_DATA + (off & 2)), v);
}

int pci_scan(unsigned int max_bus, int (*fn)(struct pci_addr a, void *arg), void *arg)
{
	unsigned int bus, dev, func;

	for (bus = 0; bus <= max_bus && bus < 256; bus++) {
		for (dev = 0; dev < 32; dev++) {
			for (func = 0; func < 8; func++) {
				struct pci_addr a = { (uint8_t)bus, (uint8_t)dev, (uint8_t)func };
				int ret;

				if (pci_read16(a, 0x00) == 0xffff) {
					if (func == 0)
						break;
					continue;
				}
				ret = fn(a, arg);
				if (ret)
					return ret;
				/* Single-function device: skip functions 1-7. */
				if (func == 0 && !(pci_read8(a, 0x0e) & 0x80))
					break;
			}
		}
	}
	return 0;
}

uint64_t pci_bar_addr(struct pci_addr a, unsigned int bar)
{
	unsigned int off = 0x10 + 4 * bar;
	uint32_t lo;
	uint64_t addr;

	if (bar > 5)
		return 0;
	lo = pci_read32(a, off);
	if (lo & 1)			/* I/O space */
		return 0;
	addr = lo & ~0xfULL;
	if (((lo >> 1) & 3) == 2 && bar < 5)	/* 64-bit */
		addr |= (uint64_t)pci_read32(a, off + 4) << 32;
	return addr;
}
