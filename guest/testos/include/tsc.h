// SPDX-License-Identifier: Apache-2.0
/* Time from the TSC. */
#ifndef TESTOS_TSC_H
#define TESTOS_TSC_H

#include <stdint.h>

extern uint64_t tsc_khz;		/* 0 until tsc_calibrate() succeeds */
extern const char *tsc_source;		/* "cmdline", "cpuid", "pit" */

/* Finds the TSC frequency: tsc_khz= on the command line, else CPUID leaf
 * 0x40000010 (hypervisor timing), else PIT channel 2. Prints
 * "tsc: khz=N source=S" once. Returns 0 or -ENODEV. */
int tsc_calibrate(void);
uint64_t tsc_from_us(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);
void tsc_delay_us(uint64_t us);

#endif
