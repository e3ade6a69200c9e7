// SPDX-License-Identifier: Apache-2.0
/* The CPUs of the machine, from ACPI (MADT) or the MP table, and the LAPIC. */
#ifndef TESTOS_CPUS_H
#define TESTOS_CPUS_H

#include <stdint.h>

#include "layout.h"

#define LAPIC_DEFAULT_BASE 0xfee00000U

struct cpu_table {
	unsigned int count;		/* usable CPUs listed (enabled ones) */
	uint32_t apic_id[NCPUS];
	unsigned int dropped;		/* CPUs past NCPUS */
	unsigned int disabled;		/* entries marked neither enabled nor online-capable */
	uint32_t lapic_base;
	const char *source;		/* "madt", "mptable" or "none" */
};

/* Looks for the MADT (RSDP from boot info or the BIOS areas), then the MP
 * table. Always succeeds: with neither, count is 1 and source "none". */
void cpus_discover(struct cpu_table *out);

/* LAPIC (xAPIC MMIO at the table's base, mapped user-accessible). */
uint32_t lapic_read(uint32_t base, unsigned int reg);
void lapic_write(uint32_t base, unsigned int reg, uint32_t v);
uint32_t lapic_id(uint32_t base);
/* Sets the software-enable bit (spurious vector 0xff). */
void lapic_enable(uint32_t base);
/* Sends an IPI (icr_lo) to apic_id and waits (bounded) for delivery.
 * Returns 0 or -ETIMEDOUT. */
int lapic_send_ipi(uint32_t base, uint32_t apic_id, uint32_t icr_lo);

#define LAPIC_ICR_INIT		0x00004500	/* INIT, level, assert */
#define LAPIC_ICR_STARTUP	0x00004600	/* | vector */

#endif
