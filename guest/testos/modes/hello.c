// SPDX-License-Identifier: Apache-2.0
/*
 * hello: the banner (printed by main) and a power-off; for boot tests and
 * boot-time measurements. verbose=1 also lists the memory map and tables.
 */
#include "bootinfo.h"
#include "cmdline.h"
#include "cpus.h"
#include "mode.h"

extern struct cpu_table boot_cpus;

static void hello_run(void)
{
	uint64_t verbose = 0;
	unsigned int i;

	if (cmdline_get_u64("verbose", 0, &verbose) < 0)
		fail(EXIT_USAGE, "verbose= takes a number");
	if (!verbose)
		return;
	for (i = 0; i < boot.nmem; i++)
		con_printf("hello: mem 0x%lx-0x%lx type %u\n", boot.mem[i].addr,
			   boot.mem[i].addr + boot.mem[i].size, boot.mem[i].type);
	con_printf("hello: cpus source=%s lapic=0x%x disabled=%u dropped=%u apic_ids", boot_cpus.source,
		   boot_cpus.lapic_base, boot_cpus.disabled, boot_cpus.dropped);
	for (i = 0; i < boot_cpus.count && boot_cpus.source[0] != 'n'; i++)
		con_printf(" %u", boot_cpus.apic_id[i]);
	con_printf("\n");
	if (boot.initrd_size) {
		/* FNV-1a over the initrd, so a test can check every byte arrived. */
		const volatile uint8_t *p = (const volatile uint8_t *)boot.initrd_addr;
		uint32_t hash = 2166136261u;
		uint64_t n;

		if (boot.initrd_addr + boot.initrd_size > 0x100000000ULL)
			fail(EXIT_BOOTINFO, "initrd above 4 GiB is not mapped");
		for (n = 0; n < boot.initrd_size; n++)
			hash = (hash ^ p[n]) * 16777619u;
		con_printf("hello: initrd 0x%lx size %lu fnv1a 0x%08x\n", boot.initrd_addr,
			   boot.initrd_size, hash);
	}
	if (boot.rsdp_addr)
		con_printf("hello: rsdp 0x%lx\n", boot.rsdp_addr);
}

static const struct mode hello_mode = {
	.name = "hello",
	.run = hello_run,
	.usage = "print the banner and power off [verbose=1]",
	.default_exit = EXIT_METHOD_RESET,
};
MODE_REGISTER(hello_mode);
