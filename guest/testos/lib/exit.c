// SPDX-License-Identifier: Apache-2.0
/*
 * Ending a run. A result goes to the debug-exit port 0xf4 (0 = pass); a
 * "power off" is an i8042 reset pulse (as Linux reboot=k), then a triple
 * fault for machines without an i8042. QEMU with -no-reboot exits with
 * status 0 on either.
 */
#include "io.h"
#include "testos.h"

#define DEBUG_EXIT_PORT	0xf4
#define I8042_STATUS	0x64
#define I8042_CMD	0x64
#define I8042_IBF	0x02
#define I8042_PULSE_RESET 0xfe

static enum exit_method exit_method = EXIT_METHOD_AUTO;
static enum exit_method exit_default = EXIT_METHOD_DEBUG;

int exit_parse_method(const char *name, enum exit_method *out)
{
	static const struct {
		const char *name;
		enum exit_method method;
	} names[] = {
		{ "auto", EXIT_METHOD_AUTO },
		{ "debug", EXIT_METHOD_DEBUG },
		{ "reset", EXIT_METHOD_RESET },
		{ "triple", EXIT_METHOD_TRIPLE },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].method;
			return 0;
		}
	}
	return -EINVAL;
}

void exit_set_method(enum exit_method method, enum exit_method mode_default)
{
	exit_method = method;
	exit_default = mode_default;
}

static NORETURN void triple_fault(void)
{
	kcall(KCALL_TRIPLE_FAULT);
	for (;;)
		kcall(KCALL_HALT);
}

void exit_power_off(void)
{
	unsigned int i;

	/* A machine without an i8042 (QEMU microvm) reads 0xff: go straight
	 * to the triple fault. Otherwise wait (bounded) for the controller's
	 * input buffer to drain, and pulse the reset line. */
	if (inb(I8042_STATUS) != 0xff) {
		for (i = 0; i < 1000; i++) {
			if (!(inb(I8042_STATUS) & I8042_IBF))
				break;
			cpu_relax();
		}
		outb(I8042_CMD, I8042_PULSE_RESET);
		for (i = 0; i < 100000; i++)
			cpu_relax();
	}
	triple_fault();
}

void exit_pass(void)
{
	enum exit_method m = exit_method == EXIT_METHOD_AUTO ? exit_default : exit_method;

	switch (m) {
	case EXIT_METHOD_DEBUG:
	case EXIT_METHOD_AUTO:
		outb(DEBUG_EXIT_PORT, EXIT_PASS);
		/* No debug-exit device: power off instead. */
		exit_power_off();
	case EXIT_METHOD_RESET:
		exit_power_off();
	case EXIT_METHOD_TRIPLE:
		triple_fault();
	}
	triple_fault();
}

void fail(enum exit_code code, const char *fmt, ...)
{
	va_list ap;

	con_printf("testos: FAIL ");
	va_start(ap, fmt);
	con_vprintf(fmt, ap);
	va_end(ap);
	con_printf("\n");
	outb(DEBUG_EXIT_PORT, (uint8_t)code);
	/* Without a debug-exit device, stop here rather than look like a
	 * clean power-off. */
	for (;;)
		kcall(KCALL_HALT);
}
