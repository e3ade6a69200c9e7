// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "hw/pci.h"

static int resets;
static void record_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static uint32_t bar_reads;
static void bar_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	uint32_t v = 0xab000000u | (uint32_t)offset;
	bar_reads++;
	memcpy(data, &v, size);
}
static const struct bus_ops bar_ops = { .read = bar_read };

struct fixture {
	struct bus pio, mmio;
	struct pci *pci;
	struct pci_device dev;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(bus_init(&f.pio, "pio"), 0);
	assert_int_equal(bus_init(&f.mmio, "mmio"), 0);
	assert_int_equal(pci_create(&f.pio, &f.mmio, 0xc0000000, 0xfec00000, 0x100000000ULL,
				    record_reset, NULL, &f.pci), 0);
	assert_int_equal(bus_register(&f.pio, PCI_PORTS_BASE, PCI_PORTS_LEN, &pci_bus_ops, f.pci, "pci"), 0);
	resets = 0;
	bar_reads = 0;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pci_destroy(f->pci);
	bus_fini(&f->pio);
	bus_fini(&f->mmio);
	return 0;
}

/* Configuration mechanism #1, the way a guest does it. */
static uint32_t cfg_read(struct fixture *f, unsigned int slot, unsigned int off, unsigned int size)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;
	bus_write(&f->pio, 0xcf8, &addr, 4);
	bus_read(&f->pio, 0xcfc + (off & 3), &v, size);
	return v;
}

static void cfg_write(struct fixture *f, unsigned int slot, unsigned int off, unsigned int size, uint32_t v)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);
	bus_write(&f->pio, 0xcf8, &addr, 4);
	bus_write(&f->pio, 0xcfc + (off & 3), &v, size);
}

static void test_host_bridge_and_empty_slots(void **state)
{
	struct fixture *f = *state;
	uint32_t addr = 0x80000000u, back = 0;

	bus_write(&f->pio, 0xcf8, &addr, 4);
	bus_read(&f->pio, 0xcf8, &back, 4);
	assert_int_equal(back, 0x80000000u); /* how Linux detects mechanism #1 */
	assert_int_equal(cfg_read(f, 0, 0, 2), 0x8086);
	assert_int_equal(cfg_read(f, 0, 0x0b, 1), 0x06); /* bridge class */
	assert_int_equal(cfg_read(f, 0, 0x0a, 1), 0x00); /* host bridge subclass */
	assert_int_equal(cfg_read(f, 5, 0, 4), 0xffffffffu);
	cfg_write(f, 0, 0, 2, 0x1234); /* the vendor ID is read-only */
	assert_int_equal(cfg_read(f, 0, 0, 2), 0x8086);
}

static void test_bar_sizing_and_mapping(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;
	uint8_t cap[] = { 0x09, 0, 4, 0xee };

	pci_device_init(&f->dev, "test", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 2);
	assert_int_equal(pci_device_set_bar(&f->dev, 0, PCI_BAR_MEM32, 0x4000, &bar_ops, f), 0);
	assert_int_equal(pci_device_set_bar(&f->dev, 2, PCI_BAR_MEM64, 0x100000, &bar_ops, f), 0);
	assert_int_equal(pci_device_add_capability(&f->dev, cap, sizeof(cap)), 0x40);
	assert_int_equal(pci_add_device(f->pci, &f->dev), 0);
	assert_int_equal(f->dev.slot, 1);

	uint32_t bar0 = cfg_read(f, 1, 0x10, 4);
	assert_int_equal(bar0 & 0xf, 0);
	assert_int_equal(bar0 & 0x3fff, 0); /* aligned to its size */
	assert_true(bar0 >= 0xc0000000u);
	cfg_write(f, 1, 0x10, 4, 0xffffffff); /* sizing */
	assert_int_equal(cfg_read(f, 1, 0x10, 4), 0xffffc000u);
	cfg_write(f, 1, 0x10, 4, bar0);
	assert_int_equal(cfg_read(f, 1, 0x18, 4) & 0x7, 0x4); /* 64-bit */

	/* Not mapped until memory decoding is on. */
	assert_false(bus_read(&f->mmio, bar0 + 8, &v, 4));
	cfg_write(f, 1, 0x04, 2, 0x0002);
	assert_true(bus_read(&f->mmio, bar0 + 8, &v, 4));
	assert_int_equal(v, 0xab000008u);
	/* Moving the BAR moves the mapping. */
	cfg_write(f, 1, 0x10, 4, 0xd0000000u);
	assert_false(bus_read(&f->mmio, bar0 + 8, &v, 4));
	assert_true(bus_read(&f->mmio, 0xd0000010u, &v, 4));
	cfg_write(f, 1, 0x04, 2, 0);
	assert_false(bus_read(&f->mmio, 0xd0000010u, &v, 4));

	/* The capability list. */
	assert_true(cfg_read(f, 1, 0x06, 2) & 0x10);
	assert_int_equal(cfg_read(f, 1, 0x34, 1), 0x40);
	assert_int_equal(cfg_read(f, 1, 0x40, 1), 0x09);
	assert_int_equal(cfg_read(f, 1, 0x41, 1), 0x00);
}

static void test_reset_control_register(void **state)
{
	struct fixture *f = *state;
	uint8_t v = 0x02;

	bus_write(&f->pio, 0xcf9, &v, 1);
	assert_int_equal(resets, 0);
	v = 0x06;
	bus_write(&f->pio, 0xcf9, &v, 1);
	assert_int_equal(resets, 1);
}

static void test_save_restore(void **state)
{
	struct fixture *f = *state;
	static struct pci_state saved, again;
	struct fixture other;
	struct pci_device dev2;
	uint32_t v = 0;

	pci_device_init(&f->dev, "test", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 2);
	assert_int_equal(pci_device_set_bar(&f->dev, 0, PCI_BAR_MEM32, 0x4000, &bar_ops, f), 0);
	assert_int_equal(pci_add_device(f->pci, &f->dev), 0);
	cfg_write(f, 1, 0x10, 4, 0xd0000000u);
	cfg_write(f, 1, 0x04, 2, 0x0006);
	pci_save(f->pci, &saved);

	/* A second machine with the same device comes up with the BAR mapped there. */
	memset(&other, 0, sizeof(other));
	assert_int_equal(bus_init(&other.pio, "pio"), 0);
	assert_int_equal(bus_init(&other.mmio, "mmio"), 0);
	assert_int_equal(pci_create(&other.pio, &other.mmio, 0xc0000000, 0xfec00000, 1ULL << 32,
				    NULL, NULL, &other.pci), 0);
	pci_device_init(&dev2, "test", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 2);
	assert_int_equal(pci_device_set_bar(&dev2, 0, PCI_BAR_MEM32, 0x4000, &bar_ops, f), 0);
	assert_int_equal(pci_add_device(other.pci, &dev2), 0);
	assert_int_equal(pci_restore(other.pci, &saved), 0);
	assert_true(bus_read(&other.mmio, 0xd0000004u, &v, 4));
	assert_int_equal(pci_config_read(other.pci, 1, 0x04, 2), 0x0006);
	pci_save(other.pci, &again);
	assert_memory_equal(&saved, &again, sizeof(saved));

	/* A different device set is refused. */
	saved.config[1][0] = 0x00;
	assert_int_equal(pci_restore(other.pci, &saved), -EINVAL);
	saved.present &= ~2u;
	assert_int_equal(pci_restore(other.pci, &saved), -EINVAL);
	pci_destroy(other.pci);
	bus_fini(&other.pio);
	bus_fini(&other.mmio);
}

static void test_bad_bar_declarations(void **state)
{
	struct pci_device d;
	(void)state;

	pci_device_init(&d, "bad", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_device_set_bar(&d, 6, PCI_BAR_MEM32, 4096, &bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 5, PCI_BAR_MEM64, 4096, &bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, PCI_BAR_MEM32, 3000, &bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, PCI_BAR_IO, 1024, &bar_ops, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_and_empty_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_control_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_restore, setup, teardown),
		cmocka_unit_test(test_bad_bar_declarations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
