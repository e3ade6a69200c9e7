// SPDX-License-Identifier: Apache-2.0
/*
 * A guest programming the legacy devices wrongly: the input is a sequence of
 * port accesses (4 bytes each: port selector, size and direction, value) on
 * a bus with the UART, the i8042, the RTC, the PCI host bridge and a device
 * with BARs. Nothing may crash, hang or touch memory it does not own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "vireo/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bar_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0x5a, size);
}
static const struct bus_ops bar_ops = { .read = bar_read };
static void nop_reset(void *opaque)
{
	(void)opaque;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[] = { 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
					  0x60, 0x64, 0x70, 0x71, 0xcf8, 0xcf9, 0xcfc, 0xcfd,
					  0xcfe, 0xcff };
	struct bus pio, mmio;
	struct serial *serial;
	struct i8042 *kbd;
	struct rtc *rtc;
	struct pci *pci;
	struct pci_device dev;
	struct irq_line none = { 0 };

	log_set_level(LOG_LEVEL_NONE);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	serial_create(none, serial_sink_fd(-1), &serial);
	i8042_create(none, nop_reset, NULL, &kbd);
	rtc_create(256 << 20, 0, &rtc);
	pci_create(&pio, &mmio, 0xc0000000, 0xfec00000, 1ULL << 32, nop_reset, NULL, &pci);
	pci_device_init(&dev, "fuzz", 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1);
	pci_device_set_bar(&dev, 0, PCI_BAR_MEM32, 0x4000, &bar_ops, NULL);
	pci_device_set_bar(&dev, 2, PCI_BAR_MEM64, 0x10000, &bar_ops, NULL);
	pci_device_set_bar(&dev, 4, PCI_BAR_IO, 0x40, &bar_ops, NULL);
	pci_add_device(pci, &dev);
	bus_register(&pio, 0x3f8, 8, &serial_bus_ops, serial, "com1");
	bus_register(&pio, 0x60, 5, &i8042_bus_ops, kbd, "i8042");
	bus_register(&pio, 0x70, 2, &rtc_bus_ops, rtc, "rtc");
	bus_register(&pio, 0xcf8, 8, &pci_bus_ops, pci, "pci");

	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint16_t port = ports[data[i] % (sizeof(ports) / sizeof(ports[0]))];
		unsigned int width = 1u << (data[i + 1] & 3) % 3; /* 1, 2 or 4 */
		uint32_t value = (uint32_t)data[i + 2] | (uint32_t)data[i + 3] << 8;
		if (data[i + 1] & 0x80)
			value |= value << 16 | 0x80000000u; /* reach the enable bit of 0xcf8 */
		if (data[i + 1] & 0x40) {
			bus_read(&pio, port, &value, width);
		} else {
			bus_write(&pio, port, &value, width);
		}
		if (data[i + 1] & 0x20) {
			uint64_t v = 0;
			bus_read(&mmio, 0xc0000000u + ((uint64_t)value & 0xfffff), &v, 4);
		}
	}
	pci_destroy(pci);
	rtc_destroy(rtc);
	i8042_destroy(kbd);
	serial_destroy(serial);
	bus_fini(&pio);
	bus_fini(&mmio);
	return 0;
}
