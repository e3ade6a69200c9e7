// SPDX-License-Identifier: Apache-2.0
#include "bootinfo.h"
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

int pci_bar_probe(struct pci_addr a, unsigned int bar, struct pci_bar *out)
{
	unsigned int off = 0x10 + 4 * bar;
	uint16_t cmd;
	uint32_t lo, hi = 0, szlo, szhi = 0xffffffff;

	memset(out, 0, sizeof(*out));
	if (bar > 5)
		return -EINVAL;
	cmd = pci_read16(a, PCI_COMMAND);
	lo = pci_read32(a, off);
	if (lo & 1) {
		out->io = true;
		pci_write16(a, PCI_COMMAND, cmd & (uint16_t)~PCI_COMMAND_IO);
		pci_write32(a, off, 0xffffffff);
		szlo = pci_read32(a, off);
		pci_write32(a, off, lo);
		pci_write16(a, PCI_COMMAND, cmd);
		out->addr = lo & ~3U;
		szlo &= ~3U;
		out->size = szlo ? (uint32_t)(~szlo + 1) & 0xffff : 0;
		return 0;
	}
	out->is64 = ((lo >> 1) & 3) == 2;
	out->prefetch = (lo & 8) != 0;
	if (out->is64 && bar == 5)
		return -EINVAL;
	pci_write16(a, PCI_COMMAND, cmd & (uint16_t)~PCI_COMMAND_MEMORY);
	pci_write32(a, off, 0xffffffff);
	szlo = pci_read32(a, off);
	pci_write32(a, off, lo);
	if (out->is64) {
		hi = pci_read32(a, off + 4);
		pci_write32(a, off + 4, 0xffffffff);
		szhi = pci_read32(a, off + 4);
		pci_write32(a, off + 4, hi);
	}
	pci_write16(a, PCI_COMMAND, cmd);
	out->addr = (uint64_t)hi << 32 | (lo & ~0xfU);
	szlo &= ~0xfU;
	if (szlo == 0 && (!out->is64 || szhi == 0))
		return 0;
	out->size = ~((uint64_t)szhi << 32 | szlo) + 1;
	if (!out->is64)
		out->size &= 0xffffffff;
	return 0;
}

void pci_bar_set(struct pci_addr a, unsigned int bar, const struct pci_bar *b, uint64_t addr)
{
	unsigned int off = 0x10 + 4 * bar;
	uint16_t cmd = pci_read16(a, PCI_COMMAND);
	uint32_t flags = pci_read32(a, off) & 0xf;

	pci_write16(a, PCI_COMMAND, cmd & (uint16_t)~PCI_COMMAND_MEMORY);
	pci_write32(a, off, (uint32_t)addr | flags);
	if (b->is64)
		pci_write32(a, off + 4, (uint32_t)(addr >> 32));
	pci_write16(a, PCI_COMMAND, cmd);
}

#define MMIO_WINDOW_START	0xc0000000ULL
#define MMIO_WINDOW_END		0xfec00000ULL
#define MMIO_USED_MAX		128

struct mmio_used {
	unsigned int n;
	uint64_t start[MMIO_USED_MAX], end[MMIO_USED_MAX];
};

static void mmio_used_add(struct mmio_used *u, uint64_t start, uint64_t size)
{
	if (size == 0 || u->n == MMIO_USED_MAX)
		return;
	u->start[u->n] = start;
	u->end[u->n] = start + size;
	u->n++;
}

static int mmio_collect(struct pci_addr a, void *arg)
{
	struct mmio_used *u = arg;
	unsigned int bar, nbars;

	/* Type 0 headers have 6 BARs, bridges (type 1) 2. */
	nbars = (pci_read8(a, 0x0e) & 0x7f) == 0 ? 6 : (pci_read8(a, 0x0e) & 0x7f) == 1 ? 2 : 0;
	for (bar = 0; bar < nbars; bar++) {
		struct pci_bar b;

		if (pci_bar_probe(a, bar, &b) < 0)
			continue;
		if (!b.io && b.addr && b.size)
			mmio_used_add(u, b.addr, b.size);
		if (b.is64)
			bar++;
	}
	return 0;
}

uint64_t pci_alloc_mmio(uint64_t size, unsigned int max_bus)
{
	static struct mmio_used used;
	uint64_t addr;
	unsigned int i;

	if (size == 0 || (size & (size - 1)))
		return 0;
	used.n = 0;
	pci_scan(max_bus, mmio_collect, &used);
	for (i = 0; i < boot.nmem; i++)
		mmio_used_add(&used, boot.mem[i].addr, boot.mem[i].size);
	if (size < 4096)
		size = 4096;	/* keep every BAR on its own page */
	addr = MMIO_WINDOW_START;
	while (addr + size <= MMIO_WINDOW_END) {
		for (i = 0; i < used.n; i++) {
			if (addr < used.end[i] && addr + size > used.start[i])
				break;
		}
		if (i == used.n)
			return addr;
		/* Skip past the range in the way, keeping the alignment. */
		addr = (used.end[i] + size - 1) & ~(size - 1);
	}
	return 0;
}
