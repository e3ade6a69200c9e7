// SPDX-License-Identifier: Apache-2.0
/*
 * smp: starts every CPU listed by the MADT / MP table with INIT-SIPI-SIPI
 * from CPL3 (LAPIC MMIO is user-accessible), through the real-mode
 * trampoline in boot/trampoline.S copied to AP_TRAMPOLINE. Each AP enters
 * long mode on the static tables, drops to CPL3 in ap_main() and counts.
 * Prints "smp: aps_up_us=T" (INIT to the last AP in CPL3, or the timeout),
 * "smp: N of M cpus running" and one "smp: cpu I apic=A count=C" line per
 * running CPU (the BSP, cpu 0, does not count: C=0), and passes when all
 * started within timeout_ms and every AP counted.
 */
#include "bootinfo.h"
#include "cmdline.h"
#include "cpus.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"

void ap_main(unsigned int index);

extern struct cpu_table boot_cpus;
extern char ap_tramp_start[], ap_tramp_end[];

struct ap_slot {
	volatile uint32_t apic_id;
	volatile uint32_t running;
	volatile uint64_t count;
} __attribute__((aligned(64)));

static struct ap_slot ap_slots[NCPUS];
static volatile uint32_t ap_lapic_base;

/* CPL3 on an application processor: say hello, then count forever. */
void ap_main(unsigned int index)
{
	struct ap_slot *s = &ap_slots[index];

	s->apic_id = lapic_id(ap_lapic_base);
	barrier();
	s->running = 1;
	for (;;) {
		s->count++;
		cpu_relax();
	}
}

static unsigned int smp_running(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < NCPUS; i++)
		n += ap_slots[i].running ? 1 : 0;
	return n;
}

static void smp_run(void)
{
	uint32_t base = boot_cpus.lapic_base, self;
	uint64_t timeout_ms, settle_ms, deadline, start;
	unsigned int i, want = boot_cpus.count, aps = 0;
	size_t tramp_len = (size_t)(ap_tramp_end - ap_tramp_start);

	if (cmdline_get_u64("timeout_ms", 5000, &timeout_ms) < 0 ||
	    cmdline_get_u64("settle_ms", 100, &settle_ms) < 0)
		fail(EXIT_USAGE, "smp [timeout_ms=5000] [settle_ms=100]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	if (!bootinfo_is_ram(AP_TRAMPOLINE, 4096))
		fail(EXIT_NOMEM, "0x%x is not RAM: no room for the AP trampoline", AP_TRAMPOLINE);
	ap_lapic_base = base;
	self = lapic_id(base);
	con_printf("smp: bsp apic=%u lapic=0x%x source=%s cpus=%u\n", self, base,
		   boot_cpus.source, want);
	ap_slots[0].apic_id = self;
	ap_slots[0].running = 1;
	memcpy((void *)(uintptr_t)AP_TRAMPOLINE, ap_tramp_start, tramp_len);
	lapic_enable(base);
	start = rdtsc();
	for (i = 0; i < boot_cpus.count; i++) {
		uint32_t id = boot_cpus.apic_id[i];

		if (id == self || id > 0xfe)
			continue;
		if (lapic_send_ipi(base, id, LAPIC_ICR_INIT) < 0)
			fail(EXIT_SMP, "INIT to apic %u not delivered", id);
		aps++;
	}
	if (aps > 0) {
		tsc_delay_us(10000);
		for (i = 0; i < boot_cpus.count; i++) {
			uint32_t id = boot_cpus.apic_id[i];
			unsigned int k;

			if (id == self || id > 0xfe)
				continue;
			for (k = 0; k < 2; k++) {
				if (lapic_send_ipi(base, id, LAPIC_ICR_STARTUP | AP_TRAMPOLINE >> 12) < 0)
					fail(EXIT_SMP, "SIPI to apic %u not delivered", id);
				tsc_delay_us(200);
			}
		}
	}
	deadline = rdtsc() + tsc_from_us(timeout_ms * 1000);
	while (smp_running() < want && (int64_t)(rdtsc() - deadline) < 0)
		cpu_relax();
	con_printf("smp: aps_up_us=%lu\n", tsc_to_us(rdtsc() - start));
	tsc_delay_us(settle_ms * 1000);
	con_printf("smp: %u of %u cpus running\n", smp_running(), want);
	for (i = 0; i < NCPUS; i++) {
		if (ap_slots[i].running)
			con_printf("smp: cpu %u apic=%u count=%lu\n", i, ap_slots[i].apic_id,
				   i == 0 ? 0 : ap_slots[i].count);
	}
	if (smp_running() < want)
		fail(EXIT_SMP, "only %u of %u cpus started within %lu ms", smp_running(), want,
		     timeout_ms);
	for (i = 1; i < NCPUS; i++) {
		if (ap_slots[i].running && ap_slots[i].count == 0)
			fail(EXIT_SMP, "cpu %u started but does not count", i);
	}
}

static const struct mode smp_mode = {
	.name = "smp",
	.run = smp_run,
	.usage = "start all CPUs, count on each [timeout_ms=5000] [settle_ms=100]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(smp_mode);
