// SPDX-License-Identifier: Apache-2.0
/*
 * dirty: writes rate MiB per second (0 = as fast as it can) over a working
 * set of mib MiB, one 8-byte tag per 4 KiB page, page after page, wrapping
 * around. Before overwriting a tag it checks that the page still holds the
 * tag of the previous pass, so memory lost across a migration fails the
 * run. Prints "dirty: t=S pages=P mib_s=X total=T" every second; stops and
 * passes after seconds=S (0 = never).
 */
#include "bootinfo.h"
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"

#define PAGE_SIZE	4096
#define PAGES_PER_MIB	256
#define CLOCK_EVERY	64	/* pages between TSC reads */

static inline uint64_t dirty_tag(uint64_t page, uint64_t pass)
{
	return (pass << 32 | page) ^ 0x5a5a000000000000ULL;
}

static void dirty_run(void)
{
	uint64_t mib, rate, seconds, base, npages, page = 0, pass = 0;
	uint64_t total = 0, second = 0, win_pages = 0, win_start, sec_ticks;

	if (cmdline_get_u64("mib", 64, &mib) < 0 || cmdline_get_u64("rate", 0, &rate) < 0 ||
	    cmdline_get_u64("seconds", 0, &seconds) < 0 || mib == 0 || mib > 4096 ||
	    rate > 1000000)
		fail(EXIT_USAGE, "dirty [mib=64] [rate=MiB/s, 0=max] [seconds=S]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	npages = mib * PAGES_PER_MIB;
	base = bootinfo_find_ram(mib << 20, 1 << 21, 1 << 21);
	if (!base)
		fail(EXIT_NOMEM, "no %lu MiB of RAM below 4 GiB for the working set", mib);
	con_printf("dirty: mib=%lu rate=%lu base=0x%lx pages=%lu\n", mib, rate, base, npages);
	sec_ticks = tsc_khz * 1000;
	win_start = rdtsc();
	for (;;) {
		uint64_t now = rdtsc(), elapsed = now - win_start;
		unsigned int i;

		if (elapsed >= sec_ticks) {
			/* KiB/s with two decimals of MiB/s: 4 KiB per page. */
			uint64_t kib_s = win_pages * 4 * tsc_khz * 1000 / elapsed;

			second++;
			con_printf("dirty: t=%lu pages=%lu mib_s=%lu.%02lu total=%lu\n", second,
				   win_pages, kib_s / 1024, kib_s % 1024 * 100 / 1024, total);
			if (seconds && second >= seconds)
				return;
			win_start = now;
			win_pages = 0;
			continue;
		}
		if (rate && win_pages >= rate * PAGES_PER_MIB * elapsed / sec_ticks) {
			cpu_relax();
			continue;
		}
		for (i = 0; i < CLOCK_EVERY; i++) {
			volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(base + page * PAGE_SIZE);

			if (pass > 0 && *p != dirty_tag(page, pass - 1))
				fail(EXIT_DIRTY, "page 0x%lx holds 0x%lx, expected 0x%lx (pass %lu)",
				     base + page * PAGE_SIZE, (uint64_t)*p,
				     dirty_tag(page, pass - 1), pass);
			*p = dirty_tag(page, pass);
			if (++page == npages) {
				page = 0;
				pass++;
			}
		}
		win_pages += CLOCK_EVERY;
		total += CLOCK_EVERY;
	}
}

static const struct mode dirty_mode = {
	.name = "dirty",
	.run = dirty_run,
	.usage = "dirty memory: mib=N (working set) rate=R (MiB/s, 0=max) seconds=S",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(dirty_mode);
