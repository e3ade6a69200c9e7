// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/serial.h"

static int irq_level = -1;
static int irq_changes;

static void record_irq(void *opaque, unsigned int gsi, int level)
{
	(void)opaque;
	assert_int_equal(gsi, SERIAL_COM1_IRQ);
	irq_level = level;
	irq_changes++;
}

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v;
	serial_bus_ops.read(s, reg, &v, 1);
	return v;
}

static void wr(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_bus_ops.write(s, reg, &v, 1);
}

struct fixture {
	struct serial *s;
	int pipe[2];
};

static int setup(void **state)
{
	static struct fixture f;
	struct irq_line line = { record_irq, NULL, SERIAL_COM1_IRQ };

	assert_int_equal(pipe2(f.pipe, O_NONBLOCK), 0);
	assert_int_equal(serial_create(line, serial_sink_fd(f.pipe[1]), &f.s), 0);
	irq_level = 0;
	irq_changes = 0;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	serial_destroy(f->s);
	close(f->pipe[0]);
	close(f->pipe[1]);
	return 0;
}

static void test_transmit_reaches_the_output(void **state)
{
	struct fixture *f = *state;
	char buf[8] = { 0 };

	assert_true(rd(f->s, 5) & 0x60); /* THRE and TEMT */
	wr(f->s, 0, 'o');
	wr(f->s, 0, 'k');
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
}

static void test_thre_interrupt_raised_and_acknowledged(void **state)
{
	struct fixture *f = *state;

	wr(f->s, 1, 0x02); /* enable THRE interrupts with the THR empty */
	assert_int_equal(irq_level, 1);
	assert_int_equal(rd(f->s, 2) & 0x0f, 0x02);
	assert_int_equal(irq_level, 0); /* reading IIR acknowledged it */
	assert_int_equal(rd(f->s, 2) & 0x0f, 0x01);
	wr(f->s, 0, 'x'); /* each transmitted byte raises it again */
	assert_int_equal(irq_level, 1);
}

static void test_receive_and_fifo_overrun(void **state)
{
	struct fixture *f = *state;
	uint8_t many[SERIAL_FIFO_LEN + 4];

	wr(f->s, 1, 0x01); /* received-data interrupts */
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(irq_level, 1);
	assert_int_equal(rd(f->s, 2) & 0x0f, 0x04);
	assert_true(rd(f->s, 5) & 0x01);
	assert_int_equal(rd(f->s, 0), 'h');
	assert_int_equal(rd(f->s, 0), 'i');
	assert_false(rd(f->s, 5) & 0x01);
	assert_int_equal(irq_level, 0);

	memset(many, 'a', sizeof(many));
	assert_int_equal(serial_receive(f->s, many, sizeof(many)), SERIAL_FIFO_LEN);
	assert_int_equal(serial_rx_space(f->s), 0);
}

static void test_loopback_as_linux_probes_it(void **state)
{
	struct fixture *f = *state;
	char buf[4];

	wr(f->s, 7, 0xa5); /* scratch register */
	assert_int_equal(rd(f->s, 7), 0xa5);
	wr(f->s, 4, 0x10 | 0x0a); /* loop, RTS, OUT2 */
	assert_int_equal(rd(f->s, 6) & 0xf0, 0x90); /* CTS and DCD follow RTS and OUT2 */
	wr(f->s, 0, 'L');
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), -1); /* nothing left the UART */
	assert_int_equal(rd(f->s, 0), 'L');
	wr(f->s, 2, 0x01); /* FIFO on: IIR reports 16550A FIFOs */
	assert_int_equal(rd(f->s, 2) & 0xc0, 0xc0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;

	wr(f->s, 3, 0x80);
	wr(f->s, 0, 0x01);
	wr(f->s, 1, 0x00);
	assert_int_equal(rd(f->s, 0), 0x01);
	wr(f->s, 3, 0x03);
	assert_int_equal(rd(f->s, 1), 0x00); /* IER again, not DLM */
}

static void test_save_restore_round_trip(void **state)
{
	struct fixture *f = *state;
	struct serial_state a, b, bad;
	struct serial *other;
	struct irq_line none = { 0 };

	wr(f->s, 1, 0x03);
	wr(f->s, 7, 0x42);
	serial_receive(f->s, (const uint8_t *)"xyz", 3);
	serial_save(f->s, &a);
	assert_int_equal(serial_create(none, serial_sink_fd(-1), &other), 0);
	assert_int_equal(serial_restore(other, &a), 0);
	serial_save(other, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(rd(other, 0), 'x');
	bad = a;
	bad.rx_len = 200;
	assert_int_equal(serial_restore(other, &bad), -EINVAL);
	serial_destroy(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transmit_reaches_the_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt_raised_and_acknowledged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_and_fifo_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_as_linux_probes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_restore_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
