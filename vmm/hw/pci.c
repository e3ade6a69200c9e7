// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pci.h"
#include "vireo/le.h"
#include "vireo/log.h"
#include "vireo/util.h"

#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x0d57
#define CLASS_HOST_BRIDGE  0x060000

struct pci {
	pthread_mutex_t lock;
	uint32_t config_address;
	struct pci_device *slots[PCI_MAX_SLOTS];
	struct pci_device host_bridge;
	struct bus *pio, *mmio;
	uint64_t mmio32_next, mmio32_end, mmio64_next;
	uint16_t io_next;
	void (*reset)(void *opaque);
	void *reset_opaque;
};

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsystem_vendor, uint16_t subsystem)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	put_le16(&dev->config[PCI_VENDOR_ID], vendor);
	put_le16(&dev->config[PCI_DEVICE_ID], device);
	dev->config[PCI_REVISION_ID] = revision;
	dev->config[PCI_CLASS_PROG] = (uint8_t)class_code;
	dev->config[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	dev->config[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	put_le16(&dev->config[PCI_SUBSYSTEM_VENDOR_ID], subsystem_vendor);
	put_le16(&dev->config[PCI_SUBSYSTEM_ID], subsystem);
	/* Command: I/O, memory, bus master, INTx disable are the guest's. */
	put_le16(&dev->wmask[PCI_COMMAND], PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		 PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->w1cmask[PCI_STATUS + 1] = 0xf9; /* error bits */
	dev->next_cap = 0x40;
}

int pci_device_set_bar(struct pci_device *dev, unsigned int index, enum pci_bar_type type,
		       uint64_t size, const struct bus_ops *ops, void *opaque)
{
	uint64_t mask;
	uint8_t flags;

	if (index >= PCI_NR_BARS || (type == PCI_BAR_MEM64 && index + 1 >= PCI_NR_BARS) ||
	    size == 0 || (size & (size - 1)))
		return -EINVAL;
	if (type == PCI_BAR_IO && (size < 4 || size > 256))
		return -EINVAL;
	if (type != PCI_BAR_IO && size < 4096)
		size = 4096; /* keep every BAR on its own page */
	dev->bars[index] = (struct pci_bar){ .type = type, .size = size, .ops = ops, .opaque = opaque };
	mask = ~(size - 1);
	flags = type == PCI_BAR_IO ? 0x1 : type == PCI_BAR_MEM64 ? 0x4 : 0x0;
	put_le32(&dev->config[PCI_BAR0 + 4 * index], flags);
	put_le32(&dev->wmask[PCI_BAR0 + 4 * index], (uint32_t)mask & (type == PCI_BAR_IO ? ~0x3u : ~0xfu));
	if (type == PCI_BAR_MEM64)
		put_le32(&dev->wmask[PCI_BAR0 + 4 * (index + 1)], (uint32_t)(mask >> 32));
	return 0;
}

int pci_device_add_capability(struct pci_device *dev, const void *cap, unsigned int len)
{
	unsigned int at = dev->next_cap;

	if (len < 2 || at + len > PCI_CONFIG_SIZE)
		return -ENOSPC;
	memcpy(&dev->config[at], cap, len);
	dev->config[at + 1] = dev->config[PCI_CAPABILITY_LIST];
	dev->config[PCI_CAPABILITY_LIST] = (uint8_t)at;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->next_cap = (uint8_t)ALIGN_UP(at + len, 4);
	return (int)at;
}

/* The address a BAR's registers hold now. */
static uint64_t bar_address(const struct pci_device *dev, unsigned int i)
{
	uint64_t lo = get_le32(&dev->config[PCI_BAR0 + 4 * i]);

	switch (dev->bars[i].type) {
	case PCI_BAR_IO:
		return lo & ~0x3ULL;
	case PCI_BAR_MEM32:
		return lo & ~0xfULL;
	case PCI_BAR_MEM64:
		return (lo & ~0xfULL) | (uint64_t)get_le32(&dev->config[PCI_BAR0 + 4 * (i + 1)]) << 32;
	default:
		return 0;
	}
}

/* Maps or unmaps each BAR to follow the command register and BAR values. */
static void pci_update_mappings(struct pci *pci, struct pci_device *dev)
{
	uint16_t cmd = (uint16_t)(dev->config[PCI_COMMAND] | dev->config[PCI_COMMAND + 1] << 8);

	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *bar = &dev->bars[i];
		bool is_io = bar->type == PCI_BAR_IO;
		struct bus *bus = is_io ? pci->pio : pci->mmio;
		uint64_t addr = bar_address(dev, i);
		bool enable;

		if (bar->type == PCI_BAR_NONE)
			continue;
		enable = (cmd & (is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) && addr != 0 &&
			 addr + bar->size > addr && (!is_io || addr + bar->size <= 0x10000);
		if (bar->mapped && (!enable || bar->mapped_at != addr)) {
			bus_unregister(bus, bar->mapped_at, bar->opaque);
			bar->mapped = false;
		}
		if (enable && !bar->mapped) {
			/* A guest may place a BAR over something else: then it stays unmapped. */
			if (bus_register(bus, addr, bar->size, bar->ops, bar->opaque, dev->name) == 0) {
				bar->mapped = true;
				bar->mapped_at = addr;
			}
		}
		if (bar->type == PCI_BAR_MEM64)
			i++;
	}
}

static struct pci_device *pci_device_at(struct pci *pci, uint32_t address)
{
	unsigned int bus = (address >> 16) & 0xff, slot = (address >> 11) & 0x1f,
		     fn = (address >> 8) & 0x7;

	if (bus != 0 || fn != 0)
		return NULL;
	return pci->slots[slot];
}

static uint32_t device_config_read(struct pci_device *dev, unsigned int offset, unsigned int size)
{
	uint32_t v = 0;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)dev->config[offset + i] << (8 * i);
	if (dev->config_read)
		v = dev->config_read(dev, offset, size, v);
	return v;
}

static void device_config_write(struct pci *pci, struct pci_device *dev, unsigned int offset,
				unsigned int size, uint32_t value)
{
	bool remap = false;

	for (unsigned int i = 0; i < size; i++) {
		unsigned int at = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));
		uint8_t wm = dev->wmask[at], w1c = dev->w1cmask[at];
		dev->config[at] = (uint8_t)((dev->config[at] & ~wm) | (b & wm));
		dev->config[at] &= (uint8_t)~(b & w1c);
		if (at == PCI_COMMAND || (at >= PCI_BAR0 && at < PCI_BAR0 + 4 * PCI_NR_BARS))
			remap = true;
	}
	if (remap)
		pci_update_mappings(pci, dev);
	if (dev->config_written)
		dev->config_written(dev, offset, size);
}

void pci_device_save_config(struct pci_device *dev, uint8_t config[PCI_CONFIG_SIZE])
{
	pthread_mutex_lock(&dev->pci->lock);
	memcpy(config, dev->config, PCI_CONFIG_SIZE);
	pthread_mutex_unlock(&dev->pci->lock);
}

int pci_device_restore_config(struct pci_device *dev, const uint8_t config[PCI_CONFIG_SIZE])
{
	struct pci *pci = dev->pci;

	pthread_mutex_lock(&pci->lock);
	for (unsigned int i = 0; i < PCI_CONFIG_SIZE; i++) {
		uint8_t ro = (uint8_t)~(dev->wmask[i] | dev->w1cmask[i]);
		if ((config[i] ^ dev->config[i]) & ro) {
			pthread_mutex_unlock(&pci->lock);
			return -EINVAL;
		}
	}
	for (unsigned int i = 0; i < PCI_CONFIG_SIZE; i++) {
		uint8_t keep = (uint8_t)~(dev->wmask[i] | dev->w1cmask[i]);
		dev->config[i] = (uint8_t)((dev->config[i] & keep) | (config[i] & ~keep));
	}
	pci_update_mappings(pci, dev);
	if (dev->config_written)
		dev->config_written(dev, 0, PCI_CONFIG_SIZE);
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

uint32_t pci_config_read(struct pci *pci, unsigned int slot, unsigned int offset,
			 unsigned int size)
{
	uint32_t v = 0xffffffffu >> (32 - 8 * size);

	if (slot >= PCI_MAX_SLOTS || offset + size > PCI_CONFIG_SIZE)
		return v;
	pthread_mutex_lock(&pci->lock);
	if (pci->slots[slot])
		v = device_config_read(pci->slots[slot], offset, size);
	pthread_mutex_unlock(&pci->lock);
	return v;
}

void pci_config_write(struct pci *pci, unsigned int slot, unsigned int offset,
		      unsigned int size, uint32_t value)
{
	if (slot >= PCI_MAX_SLOTS || offset + size > PCI_CONFIG_SIZE)
		return;
	pthread_mutex_lock(&pci->lock);
	if (pci->slots[slot])
		device_config_write(pci, pci->slots[slot], offset, size, value);
	pthread_mutex_unlock(&pci->lock);
}

static void pci_bus_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pci *pci = opaque;
	uint32_t v = 0xffffffff;

	if (offset == 0 && size == 4) {
		pthread_mutex_lock(&pci->lock);
		v = pci->config_address;
		pthread_mutex_unlock(&pci->lock);
	} else if (offset >= 4 && offset - 4 + size <= 4) {
		pthread_mutex_lock(&pci->lock);
		uint32_t addr = pci->config_address;
		struct pci_device *dev = pci_device_at(pci, addr);
		if ((addr & 0x80000000u) && dev)
			v = device_config_read(dev, (addr & 0xfc) + (unsigned int)(offset - 4), size);
		pthread_mutex_unlock(&pci->lock);
	}
	memcpy(data, &v, size);
}

static void pci_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pci *pci = opaque;
	uint32_t v = 0;

	memcpy(&v, data, size);
	if (offset == 0 && size == 4) {
		pthread_mutex_lock(&pci->lock);
		pci->config_address = v & 0x80fffffc;
		pthread_mutex_unlock(&pci->lock);
	} else if (offset == 1 && size == 1) {
		/* Reset control register: bit 2 starts a reset (bit 1 makes it hard). */
		if ((v & 0x04) && pci->reset)
			pci->reset(pci->reset_opaque);
	} else if (offset >= 4 && offset - 4 + size <= 4) {
		pthread_mutex_lock(&pci->lock);
		uint32_t addr = pci->config_address;
		struct pci_device *dev = pci_device_at(pci, addr);
		if ((addr & 0x80000000u) && dev)
			device_config_write(pci, dev, (addr & 0xfc) + (unsigned int)(offset - 4),
					    size, v);
		pthread_mutex_unlock(&pci->lock);
	}
}

const struct bus_ops pci_bus_ops = {
	.read = pci_bus_read,
	.write = pci_bus_write,
};

int pci_create(struct bus *pio, struct bus *mmio, uint64_t mmio32_base,
	       uint64_t mmio32_end, uint64_t mmio64_base,
	       void (*reset)(void *opaque), void *opaque, struct pci **out)
{
	struct pci *pci = calloc(1, sizeof(*pci));

	if (!pci)
		return -ENOMEM;
	pthread_mutex_init(&pci->lock, NULL);
	pci->pio = pio;
	pci->mmio = mmio;
	pci->mmio32_next = mmio32_base;
	pci->mmio32_end = mmio32_end;
	pci->mmio64_next = mmio64_base;
	pci->io_next = 0xc000;
	pci->reset = reset;
	pci->reset_opaque = opaque;
	pci_device_init(&pci->host_bridge, "host-bridge", HOST_BRIDGE_VENDOR,
			HOST_BRIDGE_DEVICE, CLASS_HOST_BRIDGE, 0, 0, 0);
	pci->host_bridge.wmask[PCI_INTERRUPT_LINE] = 0;
	pci->host_bridge.slot = 0;
	pci->host_bridge.pci = pci;
	pci->slots[0] = &pci->host_bridge;
	*out = pci;
	return 0;
}

void pci_destroy(struct pci *pci)
{
	if (!pci)
		return;
	pthread_mutex_destroy(&pci->lock);
	free(pci);
}

/* Gives each BAR an address in its window, aligned to its size. */
static int pci_assign_bars(struct pci *pci, struct pci_device *dev)
{
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *bar = &dev->bars[i];
		unsigned int reg = PCI_BAR0 + 4 * i;
		uint64_t addr;

		switch (bar->type) {
		case PCI_BAR_NONE:
			continue;
		case PCI_BAR_IO:
			addr = ALIGN_UP((uint64_t)pci->io_next, bar->size);
			if (addr + bar->size > 0x10000)
				return -ENOSPC;
			pci->io_next = (uint16_t)(addr + bar->size);
			put_le32(&dev->config[reg], (uint32_t)addr | 0x1);
			break;
		case PCI_BAR_MEM32:
			addr = ALIGN_UP(pci->mmio32_next, bar->size);
			if (addr + bar->size > pci->mmio32_end)
				return -ENOSPC;
			pci->mmio32_next = addr + bar->size;
			put_le32(&dev->config[reg], (uint32_t)addr);
			break;
		case PCI_BAR_MEM64:
			addr = ALIGN_UP(pci->mmio64_next, bar->size);
			pci->mmio64_next = addr + bar->size;
			put_le32(&dev->config[reg], (uint32_t)addr | 0x4);
			put_le32(&dev->config[reg + 4], (uint32_t)(addr >> 32));
			i++;
			break;
		}
	}
	return 0;
}

int pci_add_device(struct pci *pci, struct pci_device *dev)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&pci->lock);
	for (unsigned int slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		if (pci->slots[slot])
			continue;
		ret = pci_assign_bars(pci, dev);
		if (ret < 0)
			break;
		dev->slot = slot;
		dev->pci = pci;
		dev->config[PCI_INTERRUPT_LINE] = 0xff;
		pci->slots[slot] = dev;
		break;
	}
	pthread_mutex_unlock(&pci->lock);
	if (ret < 0)
		log_error("pci: no room for %s", dev->name);
	return ret;
}

void pci_save(struct pci *pci, struct pci_state *state)
{
	memset(state, 0, sizeof(*state));
	pthread_mutex_lock(&pci->lock);
	state->config_address = pci->config_address;
	for (unsigned int slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		if (!pci->slots[slot])
			continue;
		state->present |= 1u << slot;
		memcpy(state->config[slot], pci->slots[slot]->config, PCI_CONFIG_SIZE);
	}
	pthread_mutex_unlock(&pci->lock);
}

int pci_restore(struct pci *pci, const struct pci_state *state)
{
	int ret = 0;

	pthread_mutex_lock(&pci->lock);
	for (unsigned int slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		struct pci_device *dev = pci->slots[slot];
		bool saved = state->present & (1u << slot);
		/* Same device: same vendor, device and class in the same slot. */
		if ((dev != NULL) != saved ||
		    (dev && (memcmp(dev->config, state->config[slot], 4) != 0 ||
			     memcmp(dev->config + PCI_CLASS_PROG, state->config[slot] + PCI_CLASS_PROG, 3) != 0))) {
			ret = -EINVAL;
			goto out;
		}
	}
	pci->config_address = state->config_address & 0x80fffffc;
	for (unsigned int slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		struct pci_device *dev = pci->slots[slot];
		if (!dev)
			continue;
		memcpy(dev->config, state->config[slot], PCI_CONFIG_SIZE);
		pci_update_mappings(pci, dev);
	}
out:
	pthread_mutex_unlock(&pci->lock);
	return ret;
}
