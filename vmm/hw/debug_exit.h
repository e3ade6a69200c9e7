/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A port that ends the VM, compatible with QEMU's isa-debug-exit (iobase
 * 0xf4, iosize 4): writing V makes the VMM exit with status (V << 1) | 1, so
 * a test payload reports the same result under both VMMs.
 */
#ifndef VMM_HW_DEBUG_EXIT_H
#define VMM_HW_DEBUG_EXIT_H

#include <stdint.h>

#include "../bus.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_LEN  4

struct debug_exit {
	void (*exit)(void *opaque, uint32_t value);
	void *opaque;
};

/* Register with a struct debug_exit as the opaque pointer. */
extern const struct bus_ops debug_exit_bus_ops;

#endif
