// SPDX-License-Identifier: Apache-2.0
/*
 * testos_main: the first C code, in CPL3 on the boot CPU. Reads the boot
 * information and the command line, prints the banner, runs the mode.
 */
#include "bootinfo.h"
#include "cmdline.h"
#include "cpus.h"
#include "mode.h"
#include "testos.h"

void testos_main(unsigned long path, uint64_t info);

extern const struct mode *const __modes_start[], *const __modes_end[];

struct cpu_table boot_cpus;

static const struct mode *mode_find(const char *name)
{
	const struct mode *const *m;

	for (m = __modes_start; m < __modes_end; m++) {
		if (strcmp((*m)->name, name) == 0)
			return *m;
	}
	return NULL;
}

/* "mode=NAME", else the first bare word naming a mode, else hello. */
static const struct mode *mode_select(void)
{
	const char *name = cmdline_get("mode");
	const struct mode *m;
	unsigned int i;

	if (name) {
		m = mode_find(name);
		if (!m) {
			const struct mode *const *p;

			con_printf("testos: modes:\n");
			for (p = __modes_start; p < __modes_end; p++)
				con_printf("testos:   %-8s %s\n", (*p)->name, (*p)->usage);
			fail(EXIT_USAGE, "unknown mode %s", name);
		}
		return m;
	}
	for (i = 0; (name = cmdline_word(i)) != NULL; i++) {
		m = mode_find(name);
		if (m)
			return m;
	}
	m = mode_find("hello");
	if (!m)
		fail(EXIT_INTERNAL, "no hello mode linked in");
	return m;
}

void testos_main(unsigned long path, uint64_t info)
{
	const struct mode *m;
	enum exit_method method = EXIT_METHOD_AUTO;
	const char *v;

	serial_init();
	if (bootinfo_parse(path, info) < 0)
		fail(EXIT_BOOTINFO, "bad boot information (path %lu at 0x%lx)", path, info);
	if (cmdline_parse(boot.cmdline) < 0)
		con_printf("testos: command line has more than %u words, extra ignored\n",
			   CMDLINE_TOKENS);
	m = mode_select();
	v = cmdline_get("exit");
	if (v && exit_parse_method(v, &method) < 0)
		fail(EXIT_USAGE, "exit=%s: use auto, debug, reset or triple", v);
	exit_set_method(method, m->default_exit);
	cpus_discover(&boot_cpus);
	con_printf("testos: %s boot=%s mem_mib=%lu cpus=%u cmdline=\"%s\"\n",
		   m->name, boot.path_name, boot.ram_bytes >> 20, boot_cpus.count, boot.cmdline);
	m->run();
	exit_pass();
}
