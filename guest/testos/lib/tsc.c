// SPDX-License-Identifier: Apache-2.0
/*
 * TSC calibration. Preferred: the hypervisor's CPUID leaf 0x40000010
 * (eax = TSC kHz). Otherwise the PIT (1.193182 MHz): we start a channel
 * counting down from 0xffff in mode 0 and read its count (latch command)
 * with a TSC stamp around each read, until PIT_CAL_MS have passed.
 * Channel 2 first (gate through port 0x61, speaker off), as Linux does;
 * channel 0 when channel 2 does not count (a PIT whose port 0x61 is not
 * emulated, as in QEMU microvm with the in-kernel PIT).
 */
#include "cmdline.h"
#include "io.h"
#include "testos.h"
#include "tsc.h"

#define PIT_HZ		1193182
#define PIT_CH0		0x40
#define PIT_CMD		0x43
#define PIT_PORT_B	0x61
#define PORT_B_GATE2	0x01
#define PORT_B_SPEAKER	0x02
#define PIT_CAL_MS	25
#define PIT_CAL_TICKS	(PIT_HZ / 1000 * PIT_CAL_MS)
#define PIT_STALL_READS	2000	/* reads without a change: not counting */

uint64_t tsc_khz;
const char *tsc_source = "none";

static uint64_t tsc_from_cpuid(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1U << 31)))		/* no hypervisor */
		return 0;
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (a < 0x40000010 || a > 0x400000ff)
		return 0;
	cpuid(0x40000010, 0, &a, &b, &c, &d);
	return a;
}

static uint16_t pit_read_count(unsigned int ch)
{
	uint8_t lo, hi;

	outb(PIT_CMD, (uint8_t)(ch << 6));	/* counter latch */
	lo = inb((uint16_t)(PIT_CH0 + ch));
	hi = inb((uint16_t)(PIT_CH0 + ch));
	return (uint16_t)(hi << 8 | lo);
}

/* Returns the TSC kHz measured against PIT channel ch, or 0. */
static uint64_t tsc_from_pit(unsigned int ch)
{
	uint64_t t0, t1, a, b;
	uint16_t c0, c, last;
	unsigned int stall = 0;

	/* mode 0, lobyte/hibyte, binary; count 0xffff (55 ms) */
	outb(PIT_CMD, (uint8_t)(ch << 6 | 0x30));
	outb((uint16_t)(PIT_CH0 + ch), 0xff);
	outb((uint16_t)(PIT_CH0 + ch), 0xff);
	a = rdtsc();
	c0 = last = pit_read_count(ch);
	b = rdtsc();
	t0 = (a + b) / 2;
	for (;;) {
		a = rdtsc();
		c = pit_read_count(ch);
		b = rdtsc();
		if (c != last) {
			stall = 0;
			last = c;
		} else if (++stall > PIT_STALL_READS) {
			return 0;
		}
		if (c > c0)		/* went the wrong way: no real counter */
			return 0;
		if ((uint16_t)(c0 - c) >= PIT_CAL_TICKS)
			break;
	}
	t1 = (a + b) / 2;
	return (t1 - t0) * PIT_HZ / (uint64_t)(uint16_t)(c0 - c) / 1000;
}

int tsc_calibrate(void)
{
	uint64_t khz = 0;

	if (tsc_khz)
		return 0;
	if (cmdline_get_u64("tsc_khz", 0, &khz) == 0 && khz) {
		tsc_source = "cmdline";
	} else if ((khz = tsc_from_cpuid()) != 0) {
		tsc_source = "cpuid";
	} else {
		uint8_t portb = inb(PIT_PORT_B);

		outb(PIT_PORT_B, (uint8_t)((portb & ~PORT_B_SPEAKER) | PORT_B_GATE2));
		khz = tsc_from_pit(2);
		outb(PIT_PORT_B, portb);
		tsc_source = "pit";
		if (!khz) {
			khz = tsc_from_pit(0);
			tsc_source = "pit0";
		}
	}
	/* Anything outside 10 MHz .. 100 GHz is a broken source. */
	if (khz < 10000 || khz > 100000000) {
		con_printf("testos: no usable TSC frequency (got %lu kHz from %s)\n",
			   khz, tsc_source);
		return -ENODEV;
	}
	tsc_khz = khz;
	con_printf("tsc: khz=%lu source=%s\n", tsc_khz, tsc_source);
	return 0;
}

uint64_t tsc_from_us(uint64_t us)
{
	return us * tsc_khz / 1000;
}

uint64_t tsc_to_us(uint64_t ticks)
{
	return ticks * 1000 / tsc_khz;
}

void tsc_delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + tsc_from_us(us);

	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}
