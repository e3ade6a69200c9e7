/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A guest's side of virtio, for the unit tests: split rings built in guest
 * memory by hand, and a driver that reaches a virtio-pci device only the way
 * a guest does (configuration mechanism #1 on the port bus, BAR accesses on
 * the MMIO bus, capabilities found by walking the list).
 */
#ifndef TESTS_UNIT_VIRTIO_GUEST_H
#define TESTS_UNIT_VIRTIO_GUEST_H

#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "hw/pci.h"
#include "memory.h"
#include "vireo/le.h"
#include "virtio/virtio_spec.h"

/* ---- Rings ---- */

struct guest_ring {
	struct guest_memory *mem;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* the driver's next avail index */
};

static inline void *gptr(struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_memory_ptr(mem, gpa, len);
	if (!p)
		abort();
	return p;
}

/* Descriptor I of the table at TABLE. */
static inline void ring_desc(struct guest_memory *mem, uint64_t table, unsigned int i,
			     uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = gptr(mem, table + 16ULL * i, 16);
	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
}

static inline void ring_init(struct guest_ring *r, struct guest_memory *mem, uint16_t size,
			     uint64_t desc, uint64_t avail, uint64_t used)
{
	*r = (struct guest_ring){ mem, size, desc, avail, used, 0 };
	memset(gptr(mem, desc, 16ULL * size), 0, 16ULL * size);
	memset(gptr(mem, avail, 6 + 2ULL * size), 0, 6 + 2ULL * size);
	memset(gptr(mem, used, 6 + 8ULL * size), 0, 6 + 8ULL * size);
}

/* Makes chain HEAD available and publishes the index. */
static inline void ring_offer(struct guest_ring *r, uint16_t head)
{
	put_le16(gptr(r->mem, r->avail + 4 + 2ULL * (r->avail_idx % r->size), 2), head);
	r->avail_idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	put_le16(gptr(r->mem, r->avail + 2, 2), r->avail_idx);
}

static inline void ring_set_avail_idx(struct guest_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	put_le16(gptr(r->mem, r->avail + 2, 2), idx);
}

static inline uint16_t ring_used_idx(struct guest_ring *r)
{
	return __atomic_load_n((uint16_t *)gptr(r->mem, r->used + 2, 2), __ATOMIC_ACQUIRE);
}

static inline void ring_used_elem(struct guest_ring *r, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = gptr(r->mem, r->used + 4 + 8ULL * (i % r->size), 8);
	*id = get_le32(e);
	*len = get_le32(e + 4);
}

static inline uint16_t ring_avail_event(struct guest_ring *r)
{
	return get_le16(gptr(r->mem, r->used + 4 + 8ULL * r->size, 2));
}

static inline void ring_set_used_event(struct guest_ring *r, uint16_t v)
{
	put_le16(gptr(r->mem, r->avail + 4 + 2ULL * r->size, 2), v);
}

static inline void ring_set_avail_flags(struct guest_ring *r, uint16_t v)
{
	put_le16(gptr(r->mem, r->avail, 2), v);
}

/* ---- Waiting ---- */

static inline uint64_t test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits up to 2 s for the used index to reach WANT. */
static inline bool ring_wait_used(struct guest_ring *r, uint16_t want)
{
	uint64_t end = test_now_ms() + 2000;
	while (ring_used_idx(r) != want) {
		if (test_now_ms() > end)
			return false;
		usleep(200);
	}
	return true;
}

/* Whether FD (an interrupt eventfd) fires within MS; consumes the count. */
static inline bool eventfd_fired(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n;
	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, &n, sizeof(n)) == sizeof(n) && n > 0;
}

/* ---- The driver ---- */

struct guest_pci {
	struct bus *pio, *mmio;
	unsigned int slot;
	uint64_t bar;
	uint64_t common, isr, device, notify; /* guest addresses */
	uint32_t notify_mult, device_len;
	unsigned int msix_cap, cfg_cap;
	bool has_device_cap;
};

static inline uint32_t pci_cfg_read(struct guest_pci *g, unsigned int off, unsigned int size)
{
	uint32_t addr = 0x80000000u | g->slot << 11 | (off & 0xfc), v = 0;
	bus_write(g->pio, 0xcf8, &addr, 4);
	bus_read(g->pio, 0xcfc + (off & 3), &v, size);
	return v;
}

static inline void pci_cfg_write(struct guest_pci *g, unsigned int off, unsigned int size, uint32_t v)
{
	uint32_t addr = 0x80000000u | g->slot << 11 | (off & 0xfc);
	bus_write(g->pio, 0xcf8, &addr, 4);
	bus_write(g->pio, 0xcfc + (off & 3), &v, size);
}

static inline uint64_t mmio_read(struct guest_pci *g, uint64_t addr, unsigned int size)
{
	uint64_t v = 0;
	bus_read(g->mmio, addr, &v, size);
	return v;
}

static inline void mmio_write(struct guest_pci *g, uint64_t addr, unsigned int size, uint64_t v)
{
	bus_write(g->mmio, addr, &v, size);
}

/* Finds the device with DEVICE_ID, turns on memory decoding and bus
 * mastering, and reads its capabilities. Returns false if absent. */
static inline bool guest_pci_probe(struct guest_pci *g, struct bus *pio, struct bus *mmio,
				   uint16_t device_id)
{
	memset(g, 0, sizeof(*g));
	g->pio = pio;
	g->mmio = mmio;
	for (g->slot = 0; g->slot < 32; g->slot++)
		if (pci_cfg_read(g, 0, 4) == (uint32_t)(device_id << 16 | 0x1af4))
			break;
	if (g->slot == 32)
		return false;
	pci_cfg_write(g, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	g->bar = pci_cfg_read(g, PCI_BAR0, 4) & ~0xfULL;
	for (unsigned int at = pci_cfg_read(g, PCI_CAPABILITY_LIST, 1), n = 0; at && n < 48;
	     at = pci_cfg_read(g, at + 1, 1), n++) {
		unsigned int id = pci_cfg_read(g, at, 1);
		if (id == 0x11) {
			g->msix_cap = at;
			continue;
		}
		if (id != 0x09)
			continue;
		unsigned int type = pci_cfg_read(g, at + 3, 1);
		uint64_t addr = g->bar + pci_cfg_read(g, at + 8, 4);
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			g->common = addr;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			g->notify = addr;
			g->notify_mult = pci_cfg_read(g, at + 16, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			g->isr = addr;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			g->device = addr;
			g->device_len = pci_cfg_read(g, at + 12, 4);
			g->has_device_cap = true;
			break;
		case VIRTIO_PCI_CAP_PCI_CFG:
			g->cfg_cap = at;
			break;
		}
	}
	return true;
}

static inline uint64_t common_r(struct guest_pci *g, unsigned int off, unsigned int size)
{
	return mmio_read(g, g->common + off, size);
}

static inline void common_w(struct guest_pci *g, unsigned int off, unsigned int size, uint64_t v)
{
	mmio_write(g, g->common + off, size, v);
}

static inline uint8_t guest_status(struct guest_pci *g)
{
	return (uint8_t)common_r(g, VIRTIO_PCI_COMMON_STATUS, 1);
}

static inline uint64_t guest_device_features(struct guest_pci *g)
{
	common_w(g, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t lo = common_r(g, VIRTIO_PCI_COMMON_DF, 4);
	common_w(g, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	return lo | common_r(g, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read back. */
static inline uint8_t guest_negotiate(struct guest_pci *g, uint64_t features)
{
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (unsigned int sel = 0; sel < 2; sel++) {
		common_w(g, VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
		common_w(g, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> (32 * sel)));
	}
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						     VIRTIO_STATUS_FEATURES_OK);
	return guest_status(g);
}

/* Sets queue Q up on ring R with VECTOR and enables it (addresses as two 32-bit writes, as Linux does). */
static inline void guest_setup_queue(struct guest_pci *g, unsigned int q, struct guest_ring *r,
				     uint16_t vector)
{
	common_w(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	common_w(g, VIRTIO_PCI_COMMON_Q_SIZE, 2, r->size);
	common_w(g, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
	common_w(g, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)r->desc);
	common_w(g, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)(r->desc >> 32));
	common_w(g, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)r->avail);
	common_w(g, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (uint32_t)(r->avail >> 32));
	common_w(g, VIRTIO_PCI_COMMON_Q_USEDLO, 8, r->used); /* and one 64-bit write */
	common_w(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static inline void guest_driver_ok(struct guest_pci *g)
{
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static inline void guest_kick(struct guest_pci *g, unsigned int q)
{
	common_w(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	uint64_t off = common_r(g, VIRTIO_PCI_COMMON_Q_NOFF, 2);
	mmio_write(g, g->notify + off * g->notify_mult, 2, q);
}

/* MSI-X: enables it and programs VECTOR (unmasked unless MASKED). */
static inline void guest_msix_enable(struct guest_pci *g, bool function_mask)
{
	pci_cfg_write(g, g->msix_cap + 2, 2, 0x8000 | (function_mask ? 0x4000 : 0));
}

static inline uint64_t guest_msix_table(struct guest_pci *g)
{
	uint32_t t = pci_cfg_read(g, g->msix_cap + 4, 4);
	return g->bar + (t & ~7u);
}

static inline uint64_t guest_msix_pba(struct guest_pci *g)
{
	uint32_t t = pci_cfg_read(g, g->msix_cap + 8, 4);
	return g->bar + (t & ~7u);
}

static inline void guest_msix_vector(struct guest_pci *g, unsigned int vector, uint32_t data,
				     bool masked)
{
	uint64_t e = guest_msix_table(g) + 16ULL * vector;
	mmio_write(g, e, 4, 0xfee00000u);
	mmio_write(g, e + 4, 4, 0);
	mmio_write(g, e + 8, 4, data);
	mmio_write(g, e + 12, 4, masked ? 1 : 0);
}

#endif
