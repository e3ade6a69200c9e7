// SPDX-License-Identifier: Apache-2.0
/*
 * A guest doing anything to the virtio-pci devices: the input is a sequence
 * of 12-byte operations on a machine with virtio-rng (slot 1, BAR 0 at
 * 0xc0000000) and virtio-console (slot 2, BAR 0 at 0xc0008000), without KVM
 * and without an I/O thread, so that kicks are served in order by
 * virtio_dev_poll() and every run is the same:
 *   [0] % 8: 0 BAR write, 1 BAR read (address 0xc0000000 + le16 [2..3],
 *            1/2/4/8 bytes by [1] % 4, value le64 [4..11]);
 *            2 config write, 3 config read (slot 1 + ([1] >> 4 & 1), offset [2],
 *            1/2/4 bytes by [1] % 3);
 *            4 guest memory write (8 bytes at 0x10000 + (le16 [2..3] & ~7));
 *            5 serve kicks; 6 console input ([1] bytes);
 *            7 save, then restore the state (must work), then restore a copy
 *            with byte le16 [2..3] set to [4] (may be refused, must not crash).
 * Guest RAM is 4 MiB; descriptors may point anywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "hw/pci.h"
#include "vireo/le.h"
#include "vireo/log.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_memory *mem;
static struct virtio_dev_state saved, spoiled;

static void nop_reset(void *opaque)
{
	(void)opaque;
}

static void cfg_access(struct bus *pio, unsigned int slot, unsigned int off, unsigned int size,
		       bool write, uint32_t *v)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);

	bus_write(pio, 0xcf8, &addr, 4);
	if (write)
		bus_write(pio, 0xcfc + (off & 3), v, size);
	else
		bus_read(pio, 0xcfc + (off & 3), v, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus pio, mmio;
	struct pci *pci;
	struct virtio_dev *rng, *con;
	struct virtio_host host;

	if (!mem) {
		log_set_level(getenv("FUZZ_LOG") ? LOG_LEVEL_TRIVIA : LOG_LEVEL_NONE);
		if (guest_memory_create(4 << 20, 39, &mem) < 0)
			abort();
	}
	memset(mem->host, 0, mem->ram_bytes);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	if (pci_create(&pio, &mmio, 0xc0000000, 0xfec00000, 1ULL << 32, nop_reset, NULL, &pci) < 0)
		abort();
	bus_register(&pio, PCI_PORTS_BASE, PCI_PORTS_LEN, &pci_bus_ops, pci, "pci");
	host = (struct virtio_host){ .mem = mem, .pci = pci, .routing = NULL, .vm_fd = -1,
				     .iothread = NULL };
	if (virtio_rng_create(&host, "rng0", &rng) < 0 ||
	    virtio_console_create(&host, "console0", -1, &con) < 0)
		abort();

	for (size_t i = 0; i + 12 <= size; i += 12) {
		const uint8_t *op = data + i;
		uint16_t off = get_le16(op + 2);
		uint64_t value = get_le64(op + 4);
		unsigned int bytes = 1u << (op[1] % 4);
		unsigned int slot = 1 + ((op[1] >> 4) & 1), cfg_size = 1u << (op[1] % 3);
		uint32_t v32 = (uint32_t)value;

		switch (op[0] % 8) {
		case 0:
			bus_write(&mmio, 0xc0000000ULL + off, &value, bytes);
			break;
		case 1:
			bus_read(&mmio, 0xc0000000ULL + off, &value, bytes);
			break;
		case 2:
			cfg_access(&pio, slot, op[2], cfg_size, true, &v32);
			break;
		case 3:
			cfg_access(&pio, slot, op[2], cfg_size, false, &v32);
			break;
		case 4:
			put_le64(guest_memory_ptr(mem, 0x10000 + (off & ~7u), 8), value);
			break;
		case 5:
			virtio_dev_poll(rng);
			virtio_dev_poll(con);
			break;
		case 6:
			virtio_console_receive(con, op + 4, op[1] % 9);
			break;
		case 7: {
			struct virtio_dev *d = slot == 1 ? rng : con;
			virtio_dev_save(d, &saved);
			if (virtio_dev_restore(d, &saved) < 0)
				abort(); /* a state the device was in must load */
			spoiled = saved;
			((uint8_t *)&spoiled)[off % sizeof(spoiled)] = op[4];
			virtio_dev_restore(d, &spoiled);
			break;
		}
		}
	}
	virtio_dev_destroy(rng);
	virtio_dev_destroy(con);
	pci_destroy(pci);
	bus_fini(&pio);
	bus_fini(&mmio);
	return 0;
}
