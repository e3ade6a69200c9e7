// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci transport with the real virtio-rng and virtio-console
 * devices, driven only the way a guest drives them: configuration mechanism
 * #1 on the port bus, BAR accesses on the MMIO bus, rings in guest memory,
 * and interrupts observed on the MSI-X vectors' eventfds. The device work
 * runs on a real I/O thread. (No KVM here: kicks arrive as MMIO writes to
 * the notify addresses, the path taken when no ioeventfd matched.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>

#include "iothread.h"
#include "vireo/log.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "virtio_guest.h"

#define RNG_ID     (0x1040 + VIRTIO_ID_RNG)
#define CONSOLE_ID (0x1040 + VIRTIO_ID_CONSOLE)
#define RING0      0x10000
#define RING1      0x20000
#define BUF        0x100000
#define INDIR      0x80000
#define QSIZE      64
#define RING_FEATURES VIRTIO_TRANSPORT_FEATURES
/* What the tests' driver takes: without EVENT_IDX it need not move used_event
 * to get every interrupt (EVENT_IDX itself is tested in test_virtqueue.c). */
#define DRIVER_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))

struct machine {
	struct guest_memory *mem;
	struct bus pio, mmio;
	struct pci *pci;
	struct iothread *io;
	struct virtio_dev *rng, *console;
	int console_pipe[2];
};

static void nop_reset(void *opaque)
{
	(void)opaque;
}

/* A machine with a PCI bus, an I/O thread and both devices, on MEM. */
static void machine_create(struct machine *m, struct guest_memory *mem)
{
	struct virtio_host host;

	memset(m, 0, sizeof(*m));
	m->mem = mem;
	assert_int_equal(bus_init(&m->pio, "pio"), 0);
	assert_int_equal(bus_init(&m->mmio, "mmio"), 0);
	assert_int_equal(pci_create(&m->pio, &m->mmio, 0xc0000000, 0xfec00000, 1ULL << 32, nop_reset,
				    NULL, &m->pci), 0);
	assert_int_equal(bus_register(&m->pio, PCI_PORTS_BASE, PCI_PORTS_LEN, &pci_bus_ops, m->pci,
				      "pci"), 0);
	assert_int_equal(iothread_create("test-io", &m->io), 0);
	assert_int_equal(pipe2(m->console_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	host = (struct virtio_host){ .mem = mem, .pci = m->pci, .routing = NULL, .vm_fd = -1,
				     .iothread = m->io };
	assert_int_equal(virtio_rng_create(&host, "rng0", &m->rng), 0);
	assert_int_equal(virtio_console_create(&host, "console0", m->console_pipe[1], &m->console), 0);
}

static void machine_destroy(struct machine *m)
{
	iothread_destroy(m->io);
	virtio_dev_destroy(m->rng);
	virtio_dev_destroy(m->console);
	pci_destroy(m->pci);
	bus_fini(&m->pio);
	bus_fini(&m->mmio);
	close(m->console_pipe[0]);
	close(m->console_pipe[1]);
}

struct fixture {
	struct guest_memory *mem;
	struct machine m;
	struct guest_pci g;
	struct guest_ring r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_memory_create(16 << 20, 39, &f->mem), 0);
	machine_create(&f->m, f->mem);
	assert_true(guest_pci_probe(&f->g, &f->m.pio, &f->m.mmio, RNG_ID));
	ring_init(&f->r, f->mem, QSIZE, RING0, RING0 + 0x1000, RING0 + 0x2000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	machine_destroy(&f->m);
	guest_memory_destroy(f->mem);
	free(f);
	return 0;
}

static uint64_t counter(struct virtio_dev *dev, const char *name)
{
	json_t *o = virtio_dev_stats(dev);
	json_int_t v = json_integer_value(json_object_get(json_object_get(o, "counters"), name));
	json_decref(o);
	return (uint64_t)v;
}

static bool wait_status(struct guest_pci *g, uint8_t bits)
{
	uint64_t end = test_now_ms() + 2000;
	while ((guest_status(g) & bits) != bits) {
		if (test_now_ms() > end)
			return false;
		usleep(200);
	}
	return true;
}

/* The whole bring-up of the rng with MSI-X: config vector 0, queue vector 1. */
static void rng_up(struct fixture *f)
{
	assert_int_equal(guest_negotiate(&f->g, DRIVER_FEATURES) & VIRTIO_STATUS_FEATURES_OK,
			 VIRTIO_STATUS_FEATURES_OK);
	guest_msix_enable(&f->g, false);
	guest_msix_vector(&f->g, 0, 0x30, false);
	guest_msix_vector(&f->g, 1, 0x31, false);
	common_w(&f->g, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	guest_setup_queue(&f->g, 0, &f->r, 1);
	guest_driver_ok(&f->g);
}

static void test_identity_and_capabilities(void **state)
{
	struct fixture *f = *state;
	struct guest_pci *g = &f->g, c;

	assert_int_equal(pci_cfg_read(g, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_cfg_read(g, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_true(pci_cfg_read(g, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(pci_cfg_read(g, PCI_REVISION_ID, 4) >> 8, 0xff0000);
	assert_int_equal(pci_cfg_read(g, PCI_INTERRUPT_PIN, 1), 0); /* MSI-X only */
	assert_true(g->bar >= 0xc0000000 && g->bar < 0xfec00000);
	assert_int_equal(g->common, g->bar + VIRTIO_PCI_COMMON_OFFSET);
	assert_int_equal(g->isr, g->bar + VIRTIO_PCI_ISR_OFFSET);
	assert_int_equal(g->notify_mult, 4);
	assert_false(g->has_device_cap); /* virtio-rng has no configuration */
	assert_true(g->cfg_cap != 0 && g->msix_cap != 0);
	assert_int_equal(pci_cfg_read(g, g->msix_cap + 2, 2) & 0x7ff, 1); /* 2 vectors */
	assert_int_equal(pci_cfg_read(g, g->msix_cap + 4, 4), VIRTIO_PCI_MSIX_TABLE);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTIO_RNG_QUEUE_SIZE);
	/* BAR sizing as firmware does it. */
	uint32_t bar = pci_cfg_read(g, PCI_BAR0, 4);
	pci_cfg_write(g, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(g, PCI_BAR0, 4), (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1));
	pci_cfg_write(g, PCI_BAR0, 4, bar);

	assert_true(guest_pci_probe(&c, &f->m.pio, &f->m.mmio, CONSOLE_ID));
	assert_true(c.has_device_cap);
	assert_int_equal(c.device_len, 12);
	assert_int_equal(common_r(&c, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	assert_int_equal(mmio_read(&c, c.device + 4, 4), 1); /* max_nr_ports */
	assert_int_equal(pci_cfg_read(&c, PCI_REVISION_ID, 4) >> 8, 0x078000);
}

static void test_feature_negotiation(void **state)
{
	struct fixture *f = *state;
	struct guest_pci *g = &f->g;

	uint64_t offered = guest_device_features(g);
	assert_int_equal(offered, RING_FEATURES);
	common_w(g, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_DF, 4), 0);
	/* Something not offered: FEATURES_OK does not stick. */
	assert_int_equal(guest_negotiate(g, RING_FEATURES | VIRTIO_BIT(VIRTIO_F_RING_PACKED)) &
			 VIRTIO_STATUS_FEATURES_OK, 0);
	/* No VERSION_1: a legacy driver, refused. */
	assert_int_equal(guest_negotiate(g, VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) &
			 VIRTIO_STATUS_FEATURES_OK, 0);
	/* The driver may try again without a reset. */
	common_w(g, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_w(g, VIRTIO_PCI_COMMON_GF, 4, 1); /* VERSION_1 */
	common_w(g, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_w(g, VIRTIO_PCI_COMMON_GF, 4, 0);
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	assert_int_equal(guest_status(g), 0x0b);
	/* Features are frozen after FEATURES_OK. */
	common_w(g, VIRTIO_PCI_COMMON_GF, 4, 1u << VIRTIO_F_RING_EVENT_IDX);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* Only VERSION_1: fine, and the ring features stay off. */
	assert_int_equal(guest_negotiate(g, VIRTIO_BIT(VIRTIO_F_VERSION_1)), 0x0b);
	/* The driver cannot set DEVICE_NEEDS_RESET or reserved bits, nor clear bits. */
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0x40 | 0x20 | 0x10 | 0x01);
	assert_int_equal(guest_status(g), 0x0b);
}

static void test_rng_request_and_interrupt(void **state)
{
	struct fixture *f = *state;
	int vec1 = msix_vector_fd(f->m.rng->msix, 1);
	uint32_t id, len;

	rng_up(f);
	assert_int_equal(guest_status(&f->g), 0x0f);
	memset(gptr(f->mem, BUF, 0x3000), 0, 0x3000);
	ring_desc(f->mem, RING0, 0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(f->mem, INDIR, 0, BUF + 0x1000, 32, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, INDIR, 1, BUF + 0x2000, 32, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(f->mem, RING0, 1, INDIR, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&f->r, 0);
	ring_offer(&f->r, 1);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 2));
	ring_used_elem(&f->r, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 64);
	ring_used_elem(&f->r, 1, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 64);
	uint8_t zero[32] = { 0 };
	assert_memory_not_equal(gptr(f->mem, BUF, 32), zero, 32);
	assert_memory_not_equal(gptr(f->mem, BUF + 0x2000, 32), zero, 32);
	assert_true(eventfd_fired(vec1, 2000));
	assert_int_equal(mmio_read(&f->g, f->g.isr, 1), VIRTIO_ISR_QUEUE);
	assert_int_equal(mmio_read(&f->g, f->g.isr, 1), 0); /* read to clear */
	assert_int_equal(counter(f->m.rng, "bytes"), 128);
	assert_int_equal(counter(f->m.rng, "requests"), 2);
	assert_true(counter(f->m.rng, "notifications") >= 1);
	assert_int_equal(counter(f->m.rng, "errors"), 0);
}

static void test_msix_masking(void **state)
{
	struct fixture *f = *state;
	int vec1 = msix_vector_fd(f->m.rng->msix, 1);
	uint64_t entry1 = guest_msix_table(&f->g) + 16;

	rng_up(f);
	mmio_write(&f->g, entry1 + 12, 4, 1); /* mask vector 1 */
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 1));
	assert_false(eventfd_fired(vec1, 50));
	assert_int_equal(mmio_read(&f->g, guest_msix_pba(&f->g), 8), 0x2); /* pending */
	assert_int_equal(mmio_read(&f->g, entry1 + 8, 4), 0x31);
	mmio_write(&f->g, entry1 + 12, 4, 0); /* unmask: delivered now */
	assert_true(eventfd_fired(vec1, 1000));
	assert_int_equal(mmio_read(&f->g, guest_msix_pba(&f->g), 8), 0);

	/* The function mask holds every vector the same way. */
	guest_msix_enable(&f->g, true);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 2));
	assert_false(eventfd_fired(vec1, 50));
	assert_int_equal(mmio_read(&f->g, guest_msix_pba(&f->g), 4), 0x2);
	guest_msix_enable(&f->g, false);
	assert_true(eventfd_fired(vec1, 1000));

	/* With MSI-X off nothing is delivered; the interrupt waits. */
	pci_cfg_write(&f->g, f->g.msix_cap + 2, 2, 0);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 3));
	assert_false(eventfd_fired(vec1, 50));
	guest_msix_enable(&f->g, false);
	assert_true(eventfd_fired(vec1, 1000));

	/* Odd-sized and out-of-table accesses are ignored. */
	mmio_write(&f->g, entry1 + 1, 2, 0xffff);
	mmio_write(&f->g, guest_msix_table(&f->g) + 16 * 2, 4, 0x1234);
	assert_int_equal(mmio_read(&f->g, guest_msix_table(&f->g) + 16 * 2, 4), 0);
	assert_int_equal(mmio_read(&f->g, entry1 + 8, 4), 0x31);
	/* Reserved vector-control bits stay 0. */
	mmio_write(&f->g, entry1 + 12, 4, 0xfffffffe);
	assert_int_equal(mmio_read(&f->g, entry1 + 12, 4), 0);
}

static void test_reset_stops_the_device(void **state)
{
	struct fixture *f = *state;

	rng_up(f);
	/* Let the I/O thread see the kick that DRIVER_OK gave before resetting. */
	uint64_t end = test_now_ms() + 2000;
	while (counter(f->m.rng, "notifications") == 0 && test_now_ms() < end)
		usleep(200);
	common_w(&f->g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(guest_status(&f->g), 0);
	common_w(&f->g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTIO_RNG_QUEUE_SIZE);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(common_r(&f->g, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* Buffers offered to the old rings are not touched any more. */
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	uint64_t ignored = counter(f->m.rng, "ignored_notifications");
	guest_kick(&f->g, 0);
	end = test_now_ms() + 2000;
	while (counter(f->m.rng, "ignored_notifications") == ignored && test_now_ms() < end)
		usleep(200);
	assert_int_equal(counter(f->m.rng, "ignored_notifications"), ignored + 1);
	assert_int_equal(ring_used_idx(&f->r), 0);
	assert_int_equal(counter(f->m.rng, "resets"), 2); /* bring-up resets first, then ours */
	/* And the device comes back up after a new bring-up. */
	ring_init(&f->r, f->mem, QSIZE, RING0, RING0 + 0x1000, RING0 + 0x2000);
	rng_up(f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 1));
}

static void test_hostile_chain_needs_reset(void **state)
{
	struct fixture *f = *state;
	int config_vec = msix_vector_fd(f->m.rng->msix, 0);

	rng_up(f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, RING0, 1, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0); /* loop */
	ring_desc(f->mem, RING0, 2, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	ring_offer(&f->r, 2);
	guest_kick(&f->g, 0);
	assert_true(wait_status(&f->g, VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	assert_true(eventfd_fired(config_vec, 1000)); /* configuration-change interrupt */
	assert_int_equal(mmio_read(&f->g, f->g.isr, 1) & VIRTIO_ISR_CONFIG, VIRTIO_ISR_CONFIG);
	assert_int_equal(ring_used_idx(&f->r), 0);
	assert_int_equal(counter(f->m.rng, "errors"), 1);
	/* A broken device serves nothing, even good chains. */
	guest_kick(&f->g, 0);
	usleep(20000);
	assert_int_equal(ring_used_idx(&f->r), 0);
	/* Setting DRIVER_OK again does not revive it; a reset does. */
	guest_driver_ok(&f->g);
	assert_true(guest_status(&f->g) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ring_init(&f->r, f->mem, QSIZE, RING0, RING0 + 0x1000, RING0 + 0x2000);
	rng_up(f);
	assert_int_equal(guest_status(&f->g), 0x0f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 1));
}

static void test_register_rules(void **state)
{
	struct fixture *f = *state;
	struct guest_pci *g = &f->g;

	/* Vectors beyond the table read back as NO_VECTOR. */
	common_w(g, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	common_w(g, VIRTIO_PCI_COMMON_Q_MSIX, 2, 7);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	/* A queue that does not exist: size 0, writes ignored. */
	common_w(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 3);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	common_w(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* Queue size: smaller powers of two only. */
	common_w(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_w(g, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
	/* Wrongly sized accesses: counted, ignored, read as 0. */
	uint64_t bad = counter(f->m.rng, "bad_accesses");
	common_w(g, VIRTIO_PCI_COMMON_Q_SIZE, 4, 8);
	common_w(g, VIRTIO_PCI_COMMON_Q_SIZE + 1, 1, 8);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	common_w(g, 0x800, 4, 1);
	assert_int_equal(counter(f->m.rng, "bad_accesses"), bad + 4);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
	/* Notifications to queues that do not exist are ignored and counted. */
	uint64_t ignored = counter(f->m.rng, "ignored_notifications");
	mmio_write(g, g->notify + 4 * 5, 2, 5);
	mmio_write(g, g->notify + 2, 2, 0);
	assert_int_equal(counter(f->m.rng, "ignored_notifications"), ignored + 2);
	assert_int_equal(guest_status(g) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* Writes to read-only registers and past the regions change nothing. */
	common_w(g, VIRTIO_PCI_COMMON_NUMQ, 2, 9);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	mmio_write(g, g->bar + 0x6000, 4, 1);
	assert_int_equal(mmio_read(g, g->bar + 0x7ffc, 4), 0);
	/* A queue size that is not a power of two breaks the device. */
	common_w(g, VIRTIO_PCI_COMMON_Q_SIZE, 2, 24);
	assert_true(guest_status(g) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* So does enabling a queue whose rings are not in RAM. */
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_w(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_w(g, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0xfee00000);
	common_w(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_true(guest_status(g) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* And DRIVER_OK without FEATURES_OK. */
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						     VIRTIO_STATUS_DRIVER_OK);
	assert_true(guest_status(g) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	common_w(g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(guest_status(g), 0);
	/* Queue addresses cannot change while the queue is enabled. */
	ring_init(&f->r, f->mem, 16, RING0, RING0 + 0x1000, RING0 + 0x2000);
	rng_up(f);
	common_w(g, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_DESCLO, 4), RING0);
	assert_int_equal(common_r(g, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0);
}

static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	struct guest_pci *g = &f->g;
	unsigned int cap = g->cfg_cap;

	/* Read num_queues, then write and read device_status, through config space. */
	pci_cfg_write(g, cap + 4, 1, 0);
	pci_cfg_write(g, cap + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
	pci_cfg_write(g, cap + 12, 4, 2);
	assert_int_equal(pci_cfg_read(g, cap + 16, 4) & 0xffff, 1);
	pci_cfg_write(g, cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
	pci_cfg_write(g, cap + 12, 4, 1);
	pci_cfg_write(g, cap + 16, 4, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(guest_status(g), VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(pci_cfg_read(g, cap + 16, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	/* A window on another BAR or of a bad length does nothing. */
	pci_cfg_write(g, cap + 4, 1, 3);
	pci_cfg_write(g, cap + 16, 4, 0);
	assert_int_equal(guest_status(g), VIRTIO_STATUS_ACKNOWLEDGE);
	pci_cfg_write(g, cap + 4, 1, 0);
	pci_cfg_write(g, cap + 12, 4, 3);
	pci_cfg_write(g, cap + 16, 4, 0);
	assert_int_equal(guest_status(g), VIRTIO_STATUS_ACKNOWLEDGE);
	pci_cfg_write(g, cap + 8, 4, 0xfffffffc);
	pci_cfg_write(g, cap + 12, 4, 4);
	assert_int_equal(pci_cfg_read(g, cap + 16, 4), 0); /* stored bytes, not a BAR access */
}

static void test_bar_moves(void **state)
{
	struct fixture *f = *state;
	struct guest_pci *g = &f->g;
	uint64_t old = g->bar;

	pci_cfg_write(g, PCI_BAR0, 4, 0xd0000000);
	assert_int_equal(mmio_read(g, old + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff); /* nothing there now */
	assert_true(guest_pci_probe(g, &f->m.pio, &f->m.mmio, RNG_ID));
	assert_int_equal(g->bar, 0xd0000000);
	ring_init(&f->r, f->mem, QSIZE, RING0, RING0 + 0x1000, RING0 + 0x2000);
	rng_up(f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	guest_kick(g, 0);
	assert_true(ring_wait_used(&f->r, 1));
	/* Memory decoding off: the registers disappear. */
	pci_cfg_write(g, PCI_COMMAND, 2, 0);
	assert_int_equal(mmio_read(g, g->common + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
}

static void test_bus_master_and_pause(void **state)
{
	struct fixture *f = *state;

	rng_up(f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	/* No DMA without Bus Master Enable: the buffer waits until it is set. */
	pci_cfg_write(&f->g, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	usleep(20000);
	assert_int_equal(ring_used_idx(&f->r), 0);
	pci_cfg_write(&f->g, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_true(ring_wait_used(&f->r, 1));

	/* While the VM is paused the device leaves guest memory alone... */
	virtio_dev_pause(f->m.rng);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	usleep(20000);
	assert_int_equal(ring_used_idx(&f->r), 1);
	struct virtio_dev_state *s = calloc(1, sizeof(*s));
	virtio_dev_save(f->m.rng, s);
	assert_int_equal(s->queues[0].last_avail_idx, 1); /* consistent with the rings */
	free(s);
	/* ...and serves what came meanwhile on resume, without another kick. */
	virtio_dev_resume(f->m.rng);
	assert_true(ring_wait_used(&f->r, 2));

	/* Host input waits while the console is paused. */
	struct guest_pci c;
	struct guest_ring rx, tx;
	assert_true(guest_pci_probe(&c, &f->m.pio, &f->m.mmio, CONSOLE_ID));
	assert_true(guest_negotiate(&c, DRIVER_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	ring_init(&rx, f->mem, 16, RING1, RING1 + 0x1000, RING1 + 0x2000);
	ring_init(&tx, f->mem, 16, RING1 + 0x4000, RING1 + 0x5000, RING1 + 0x6000);
	guest_setup_queue(&c, 0, &rx, VIRTIO_MSI_NO_VECTOR);
	guest_setup_queue(&c, 1, &tx, VIRTIO_MSI_NO_VECTOR);
	guest_driver_ok(&c);
	ring_desc(f->mem, RING1, 0, BUF + 0x1000, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 0);
	virtio_dev_pause(f->m.console);
	assert_int_equal(virtio_console_receive(f->m.console, (const uint8_t *)"x", 1), 0);
	virtio_dev_resume(f->m.console);
	assert_int_equal(virtio_console_receive(f->m.console, (const uint8_t *)"x", 1), 1);
}

/* Reads what the console wrote to its pipe, waiting up to 2 s for WANT bytes. */
static size_t pipe_read(int fd, char *buf, size_t want)
{
	size_t got = 0;
	uint64_t end = test_now_ms() + 2000;
	while (got < want && test_now_ms() < end) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n > 0)
			got += (size_t)n;
		else
			usleep(200);
	}
	return got;
}

static void test_console(void **state)
{
	struct fixture *f = *state;
	struct guest_pci c;
	struct guest_ring rx, tx;
	char out[64];
	uint32_t id, len;
	uint8_t in[] = "typed on the host\n";

	assert_true(guest_pci_probe(&c, &f->m.pio, &f->m.mmio, CONSOLE_ID));
	/* Not ready: host input is kept by the caller. */
	assert_int_equal(virtio_console_receive(f->m.console, in, sizeof(in) - 1), 0);
	/* Emergency write works before the driver is up. */
	assert_true(guest_device_features(&c) & VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE));
	mmio_write(&c, c.device + 8, 4, '!');
	assert_int_equal(pipe_read(f->m.console_pipe[0], out, 1), 1);
	assert_int_equal(out[0], '!');

	uint64_t feat = RING_FEATURES | VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);
	assert_true(guest_negotiate(&c, feat) & VIRTIO_STATUS_FEATURES_OK);
	ring_init(&rx, f->mem, 16, RING0, RING0 + 0x1000, RING0 + 0x2000);
	ring_init(&tx, f->mem, 16, RING1, RING1 + 0x1000, RING1 + 0x2000);
	guest_setup_queue(&c, 0, &rx, VIRTIO_MSI_NO_VECTOR);
	guest_setup_queue(&c, 1, &tx, VIRTIO_MSI_NO_VECTOR);
	guest_driver_ok(&c);

	/* Output: two readable segments become one line on the host. */
	memcpy(gptr(f->mem, BUF, 6), "hello ", 6);
	memcpy(gptr(f->mem, BUF + 0x100, 7), "hvc0!\r\n", 7);
	ring_desc(f->mem, RING1, 0, BUF, 6, VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, RING1, 1, BUF + 0x100, 7, 0, 0);
	ring_offer(&tx, 0);
	guest_kick(&c, 1);
	assert_true(ring_wait_used(&tx, 1));
	assert_int_equal(pipe_read(f->m.console_pipe[0], out, 13), 13);
	assert_memory_equal(out, "hello hvc0!\r\n", 13);
	ring_used_elem(&tx, 0, &id, &len);
	assert_int_equal(len, 0);

	/* Input: spread over the receive buffers the guest offered. */
	assert_int_equal(virtio_console_receive(f->m.console, in, sizeof(in) - 1), 0); /* none yet */
	ring_desc(f->mem, RING0, 0, BUF + 0x1000, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(f->mem, RING0, 1, BUF + 0x2000, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 0);
	ring_offer(&rx, 1);
	assert_int_equal(virtio_console_receive(f->m.console, in, sizeof(in) - 1), sizeof(in) - 1);
	assert_int_equal(ring_used_idx(&rx), 2);
	ring_used_elem(&rx, 0, &id, &len);
	assert_int_equal(len, 8);
	ring_used_elem(&rx, 1, &id, &len);
	assert_int_equal(len, sizeof(in) - 1 - 8);
	assert_memory_equal(gptr(f->mem, BUF + 0x1000, 8), "typed on", 8);
	assert_memory_equal(gptr(f->mem, BUF + 0x2000, 10), " the host\n", 10);
	assert_int_equal(virtio_console_receive(f->m.console, in, 4), 0); /* out of buffers */
	assert_int_equal(counter(f->m.console, "rx_bytes"), sizeof(in) - 1);
	assert_int_equal(counter(f->m.console, "tx_bytes"), 13);
	assert_int_equal(counter(f->m.console, "emerg_bytes"), 1);
}

/* Brings the rng up, serves a request, saves; restores into a second
 * machine on the same guest memory, which must go on where the first left. */
static void test_save_restore_round_trip(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev_state *s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
	struct machine m2;
	struct guest_pci g2;

	rng_up(f);
	ring_desc(f->mem, RING0, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	guest_kick(&f->g, 0);
	assert_true(ring_wait_used(&f->r, 1));
	guest_msix_vector(&f->g, 1, 0x45, false);
	virtio_dev_save(f->m.rng, s1);
	assert_int_equal(s1->queues[0].used_idx, 1);
	assert_int_equal(s1->queues[0].last_avail_idx, 1);
	assert_int_equal(s1->status, 0x0f);

	machine_create(&m2, f->mem);
	assert_int_equal(virtio_dev_restore(m2.rng, s1), 0);
	virtio_dev_save(m2.rng, s2);
	assert_memory_equal(s1, s2, sizeof(*s1));

	/* The restored device answers where the old one was, and serves the ring. */
	assert_true(guest_pci_probe(&g2, &m2.pio, &m2.mmio, RNG_ID));
	assert_int_equal(g2.bar, f->g.bar);
	assert_int_equal(guest_status(&g2), 0x0f);
	assert_int_equal(mmio_read(&g2, guest_msix_table(&g2) + 16 + 8, 4), 0x45);
	int vec1 = msix_vector_fd(m2.rng->msix, 1);
	ring_desc(f->mem, RING0, 1, BUF + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 1);
	guest_kick(&g2, 0);
	assert_true(ring_wait_used(&f->r, 2));
	uint32_t id, len;
	ring_used_elem(&f->r, 1, &id, &len);
	assert_int_equal(id, 1);
	assert_true(eventfd_fired(vec1, 1000));

	/* Bad states are refused and change nothing. */
	virtio_dev_save(m2.rng, s1);
	struct virtio_dev_state *bad = calloc(1, sizeof(*bad));
	static const char *const cases[] = { "version", "type", "features", "queue size", "rings",
					     "vector", "status", "pci", "msix", "queues", "device" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		*bad = *s1;
		switch (i) {
		case 0: bad->version = 99; break;
		case 1: bad->device_type = VIRTIO_ID_BLOCK; break;
		case 2: bad->driver_features |= VIRTIO_BIT(VIRTIO_F_RING_PACKED); break; /* FEATURES_OK set */
		case 3: bad->queues[0].size = 100; break;
		case 4: bad->queues[0].used = 0xa0000; break;
		case 5: bad->queues[0].msix_vector = 2; break;
		case 6: bad->status = VIRTIO_STATUS_DRIVER_OK; break;
		case 7: bad->pci_config[PCI_DEVICE_ID] ^= 1; break;
		case 8: bad->msix.table[5].data = 1; break;
		case 9: bad->queues[3].size = 16; break;
		case 10: bad->device_len = 4; break;
		}
		if (virtio_dev_restore(m2.rng, bad) != -EINVAL)
			fail_msg("restore with a bad %s was accepted", cases[i]);
		virtio_dev_save(m2.rng, s2);
		if (memcmp(s1, s2, sizeof(*s1)) != 0)
			fail_msg("restore with a bad %s changed the device", cases[i]);
	}
	free(bad);
	machine_destroy(&m2);
	free(s1);
	free(s2);
}

int main(void)
{
	log_set_level(LOG_LEVEL_NONE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_request_and_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops_the_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_master_and_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_restore_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
