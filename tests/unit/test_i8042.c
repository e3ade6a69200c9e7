// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "hw/i8042.h"

static int irq_level;
static int resets;

static void record_irq(void *opaque, unsigned int gsi, int level)
{
	(void)opaque;
	assert_int_equal(gsi, I8042_KBD_IRQ);
	irq_level = level;
}

static void record_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static uint8_t rd(struct i8042 *k, unsigned int port)
{
	uint8_t v;
	i8042_bus_ops.read(k, port - I8042_DATA_PORT, &v, 1);
	return v;
}

static void wr(struct i8042 *k, unsigned int port, uint8_t v)
{
	i8042_bus_ops.write(k, port - I8042_DATA_PORT, &v, 1);
}

static int setup(void **state)
{
	struct i8042 *k;
	struct irq_line line = { record_irq, NULL, I8042_KBD_IRQ };

	irq_level = 0;
	resets = 0;
	assert_int_equal(i8042_create(line, record_reset, NULL, &k), 0);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	i8042_destroy(*state);
	return 0;
}

static void expect_bytes(struct i8042 *k, const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(rd(k, 0x64) & 0x01);
		assert_int_equal(rd(k, 0x60), bytes[i]);
	}
	assert_false(rd(k, 0x64) & 0x01);
}

static void test_controller_self_tests(void **state)
{
	struct i8042 *k = *state;

	wr(k, 0x64, 0xaa);
	expect_bytes(k, (const uint8_t[]){ 0x55 }, 1);
	wr(k, 0x64, 0xab);
	expect_bytes(k, (const uint8_t[]){ 0x00 }, 1);
	wr(k, 0x64, 0xa9); /* no mouse */
	expect_bytes(k, (const uint8_t[]){ 0xff }, 1);
}

static void test_command_byte_read_write(void **state)
{
	struct i8042 *k = *state;

	wr(k, 0x64, 0x60);
	wr(k, 0x60, 0x45);
	wr(k, 0x64, 0x20);
	expect_bytes(k, (const uint8_t[]){ 0x45 }, 1);
}

static void test_keyboard_reset_and_identify(void **state)
{
	struct i8042 *k = *state;

	wr(k, 0x60, 0xff);
	expect_bytes(k, (const uint8_t[]){ 0xfa, 0xaa }, 2);
	wr(k, 0x60, 0xf2);
	expect_bytes(k, (const uint8_t[]){ 0xfa, 0xab, 0x41 }, 3);
	wr(k, 0x60, 0xed); /* LEDs take an argument */
	expect_bytes(k, (const uint8_t[]){ 0xfa }, 1);
	wr(k, 0x60, 0x07);
	expect_bytes(k, (const uint8_t[]){ 0xfa }, 1);
	wr(k, 0x60, 0x12); /* unknown: resend */
	expect_bytes(k, (const uint8_t[]){ 0xfe }, 1);
}

static void test_ctrl_alt_del_raises_irq_with_set1_codes(void **state)
{
	struct i8042 *k = *state;
	const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };

	i8042_send_ctrl_alt_del(k);
	assert_int_equal(irq_level, 1);
	expect_bytes(k, set1, sizeof(set1));
	assert_int_equal(irq_level, 0);
}

static void test_ctrl_alt_del_without_translation_uses_set2(void **state)
{
	struct i8042 *k = *state;
	const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };

	wr(k, 0x64, 0x60);
	wr(k, 0x60, 0x01); /* interrupts on, translation off */
	i8042_send_ctrl_alt_del(k);
	expect_bytes(k, set2, sizeof(set2));
}

static void test_reset_line(void **state)
{
	struct i8042 *k = *state;

	wr(k, 0x64, 0xfe);
	assert_int_equal(resets, 1);
	wr(k, 0x64, 0xd1); /* output port with the reset bit low */
	wr(k, 0x60, 0x00);
	assert_int_equal(resets, 2);
	wr(k, 0x64, 0xff); /* pulse nothing */
	assert_int_equal(resets, 2);
}

static void test_save_restore_round_trip(void **state)
{
	struct i8042 *k = *state, *other;
	struct i8042_state a, b;
	struct irq_line none = { 0 };

	wr(k, 0x60, 0xf2);
	i8042_save(k, &a);
	assert_int_equal(i8042_create(none, NULL, NULL, &other), 0);
	assert_int_equal(i8042_restore(other, &a), 0);
	i8042_save(other, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	expect_bytes(other, (const uint8_t[]){ 0xfa, 0xab, 0x41 }, 3);
	a.out_head = 99;
	assert_int_equal(i8042_restore(other, &a), -EINVAL);
	i8042_destroy(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_controller_self_tests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_reset_and_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del_raises_irq_with_set1_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del_without_translation_uses_set2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_restore_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
