// SPDX-License-Identifier: Apache-2.0
/*
 * counter: prints "counter N" every 100 ms, N = 0, 1, 2, ... The value
 * lives in memory (with its complement beside it), so a VMM that loses or
 * corrupts guest memory across pause, snapshot or migration shows up as a
 * skip or as "FAIL counter corrupted". After a pause the next line comes
 * at once and the 100 ms rhythm restarts from there (no burst of lines).
 * Typing ctrl-alt-del on the keyboard prints "counter: ctrl-alt-del" and
 * powers off, as a guest OS would reboot.
 */
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"

static volatile uint64_t counter_value;
static volatile uint64_t counter_check = ~0ULL;

static void counter_run(void)
{
	uint64_t count, period_ms, period, next, kbd_next, kbd_period;

	if (cmdline_get_u64("count", 0, &count) < 0 ||
	    cmdline_get_u64("period_ms", 100, &period_ms) < 0 || period_ms == 0)
		fail(EXIT_USAGE, "counter [count=K] [period_ms=100]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	period = tsc_from_us(period_ms * 1000);
	kbd_period = tsc_from_us(10000);
	next = kbd_next = rdtsc();
	for (;;) {
		uint64_t n = counter_value, now;

		if (counter_check != ~n)
			fail(EXIT_COUNTER, "counter corrupted: value %lu check 0x%lx", n,
			     (uint64_t)counter_check);
		con_printf("counter %lu\n", n);
		if (count && n + 1 >= count)
			return;
		counter_value = n + 1;
		counter_check = ~(n + 1);
		next += period;
		while ((int64_t)((now = rdtsc()) - next) < 0) {
			/* Look at the keyboard every 10 ms: each look is a VM exit. */
			if ((int64_t)(now - kbd_next) >= 0) {
				if (kbd_ctrl_alt_del()) {
					con_printf("counter: ctrl-alt-del\n");
					exit_power_off();
				}
				kbd_next = now + kbd_period;
			}
			cpu_relax();
		}
		if (now - next > period)	/* we were stopped: resynchronize */
			next = now;
	}
}

static const struct mode counter_mode = {
	.name = "counter",
	.run = counter_run,
	.usage = "print 'counter N' every 100 ms [count=K] [period_ms=100]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(counter_mode);
