// SPDX-License-Identifier: Apache-2.0
/*
 * Modes: what a run does, chosen on the command line. A mode is one file
 * under modes/ that defines a struct mode and registers it with
 * MODE_REGISTER(); the linker gathers them (section .modes).
 */
#ifndef TESTOS_MODE_H
#define TESTOS_MODE_H

#include "testos.h"

struct mode {
	const char *name;
	/* Runs the mode; returning means "passed". Failures call fail(). */
	void (*run)(void);
	/* One line: the keys the mode reads. */
	const char *usage;
	/* How a pass ends unless exit= says otherwise. */
	enum exit_method default_exit;
};

#define MODE_REGISTER(m) \
	static const struct mode *const mode_ptr_##m \
		__attribute__((used, section(".modes"))) = &(m)

#endif
