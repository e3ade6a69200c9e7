// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "bus.h"

struct dev {
	uint64_t last_offset;
	uint32_t last_value;
	int reads, writes;
};

static void dev_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct dev *d = opaque;
	uint32_t v = 0x1000 + (uint32_t)offset;
	d->reads++;
	memcpy(data, &v, size);
}

static void dev_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct dev *d = opaque;
	d->last_offset = offset;
	d->last_value = 0;
	memcpy(&d->last_value, data, size);
	d->writes++;
}

static const struct bus_ops ops = { dev_read, dev_write };

static void test_dispatch_by_range(void **state)
{
	struct bus bus;
	struct dev a = { 0 }, b = { 0 };
	uint32_t v = 0x55;
	(void)state;

	assert_int_equal(bus_init(&bus, "pio"), 0);
	assert_int_equal(bus_register(&bus, 0x100, 8, &ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x10, 4, &ops, &b, "b"), 0);
	assert_true(bus_write(&bus, 0x104, &v, 2));
	assert_int_equal(a.last_offset, 4);
	assert_int_equal(a.last_value, 0x55);
	assert_true(bus_read(&bus, 0x12, &v, 2));
	assert_int_equal(v & 0xffff, 0x1002);
	assert_int_equal(b.reads, 1);
	bus_fini(&bus);
}

static void test_overlap_rejected(void **state)
{
	struct bus bus;
	struct dev a = { 0 };
	(void)state;

	assert_int_equal(bus_init(&bus, "mmio"), 0);
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x10ff, 1, &ops, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf00, 0x101, &ops, &a, "y"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x1100, 1, &ops, &a, "z"), 0);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 1, 8, &ops, &a, "wrap"), -EINVAL);
	bus_fini(&bus);
}

static void test_unclaimed_reads_all_ones_and_counts(void **state)
{
	struct bus bus;
	struct dev a = { 0 };
	uint32_t v = 0;
	(void)state;

	assert_int_equal(bus_init(&bus, "pio"), 0);
	assert_int_equal(bus_register(&bus, 0x100, 4, &ops, &a, "a"), 0);
	assert_false(bus_read(&bus, 0x200, &v, 4));
	assert_int_equal(v, 0xffffffff);
	/* An access straddling the end of a range is not the device's. */
	assert_false(bus_read(&bus, 0x102, &v, 4));
	assert_false(bus_write(&bus, 0x300, &v, 1));
	assert_int_equal(bus.unhandled, 3);
	assert_int_equal(a.reads, 0);
	bus_fini(&bus);
}

static void test_unregister(void **state)
{
	struct bus bus;
	struct dev a = { 0 }, b = { 0 };
	uint32_t v = 1;
	(void)state;

	assert_int_equal(bus_init(&bus, "mmio"), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(bus_register(&bus, 0x10000 + 0x1000 * (uint64_t)i, 0x1000, &ops, &a, "many"), 0);
	assert_int_equal(bus_unregister(&bus, 0x15000, &b), -ENOENT); /* not b's */
	assert_int_equal(bus_unregister(&bus, 0x15000, &a), 0);
	assert_false(bus_write(&bus, 0x15000, &v, 4));
	assert_true(bus_write(&bus, 0x16000, &v, 4));
	bus_fini(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_by_range),
		cmocka_unit_test(test_overlap_rejected),
		cmocka_unit_test(test_unclaimed_reads_all_ones_and_counts),
		cmocka_unit_test(test_unregister),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
