// SPDX-License-Identifier: Apache-2.0
/*
 * fault: raises a CPU exception on purpose, to check that the CPL0
 * handler reports it (vector, error code, RIP, CR2) and exits with
 * EXIT_EXCEPTION. kind=ud (default), pf, gp or de.
 */
#include "cmdline.h"
#include "mode.h"

static void fault_run(void)
{
	const char *kind = cmdline_get("kind");

	if (!kind)
		kind = "ud";
	con_printf("fault: raising %s\n", kind);
	if (strcmp(kind, "ud") == 0) {
		__asm__ volatile("ud2");
	} else if (strcmp(kind, "pf") == 0) {
		/* Past the 4 GiB identity map: not present. */
		*(volatile uint64_t *)0x100000000ULL = 1;
	} else if (strcmp(kind, "gp") == 0) {
		__asm__ volatile("cli; hlt");	/* privileged at CPL3 */
	} else if (strcmp(kind, "de") == 0) {
		__asm__ volatile("xorl %%edx, %%edx; movl $1, %%eax; xorl %%ecx, %%ecx; divl %%ecx"
				 ::: "eax", "ecx", "edx");
	} else {
		fail(EXIT_USAGE, "fault kind=ud|pf|gp|de");
	}
	fail(EXIT_INTERNAL, "fault %s did not fault", kind);
}

static const struct mode fault_mode = {
	.name = "fault",
	.run = fault_run,
	.usage = "raise an exception on purpose [kind=ud|pf|gp|de]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(fault_mode);
