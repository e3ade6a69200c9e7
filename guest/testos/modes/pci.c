// SPDX-License-Identifier: Apache-2.0
/* pci: lists the PCI functions on bus 0..max_bus with their memory BARs. */
#include "cmdline.h"
#include "mode.h"
#include "pci.h"

static int pci_print(struct pci_addr a, void *arg)
{
	uint32_t id = pci_read32(a, 0x00), class = pci_read32(a, 0x08) >> 8;
	unsigned int bar, *count = arg;

	con_printf("pci: %02x:%02x.%u %04x:%04x class %06x", a.bus, a.dev, a.fn,
		   id & 0xffff, id >> 16, class);
	if ((pci_read8(a, 0x0e) & 0x7f) == 0) {
		for (bar = 0; bar < 6; bar++) {
			uint64_t addr = pci_bar_addr(a, bar);

			if (addr)
				con_printf(" bar%u=0x%lx", bar, addr);
		}
	}
	con_printf("\n");
	(*count)++;
	return 0;
}

static void pci_run(void)
{
	uint64_t max_bus;
	unsigned int count = 0;

	if (cmdline_get_u64("max_bus", 0, &max_bus) < 0 || max_bus > 255)
		fail(EXIT_USAGE, "pci [max_bus=0]");
	pci_scan((unsigned int)max_bus, pci_print, &count);
	con_printf("pci: %u functions\n", count);
}

static const struct mode pci_mode = {
	.name = "pci",
	.run = pci_run,
	.usage = "list PCI functions and memory BARs [max_bus=0]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(pci_mode);
