// SPDX-License-Identifier: Apache-2.0
/* Time from the TSC. */
#ifndef TESTOS_TSC_H
#define TESTOS_TSC_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"

extern uint64_t tsc_khz;		/* 0 until tsc_calibrate() succeeds */
extern const char *tsc_source;		/* "cmdline", "cpuid", "pit" */

/* Finds the TSC frequency: tsc_khz= on the command line, else CPUID leaf
 * 0x40000010 (hypervisor timing), else PIT channel 2. Prints
 * "tsc: khz=N source=S" once. Returns 0 or -ENODEV. */
int tsc_calibrate(void);
uint64_t tsc_from_us(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);
void tsc_delay_us(uint64_t us);

/*
 * For wait loops: true once the TSC passed *next, which then moves
 * interval_us on (a *next of 0 is due at once). Reading a device register
 * is a VM exit that the VMM serves (QEMU under its big lock), so a spinning
 * loop checks the device's status this way, not on every empty poll.
 */
static inline bool tsc_every(uint64_t *next, uint64_t interval_us)
{
	uint64_t now = rdtsc();

	if (*next && (int64_t)(now - *next) < 0)
		return false;
	*next = now + tsc_from_us(interval_us);
	return true;
}

#endif
