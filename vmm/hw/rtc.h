/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CMOS real-time clock (MC146818) at ports 0x70/0x71: the date and time
 * (host UTC plus whatever offset the guest sets), status registers A-D and
 * the battery-backed CMOS bytes, filled with the memory sizes as a PC BIOS
 * leaves them. No alarm or periodic interrupts: enabling them is logged once.
 */
#ifndef VMM_HW_RTC_H
#define VMM_HW_RTC_H

#include <stdint.h>

#include "../bus.h"

#define RTC_PORT_BASE 0x70
#define RTC_CMOS_SIZE 128

struct rtc_state {
	uint8_t index;             /* selected register, without the NMI-disable bit */
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset_seconds;    /* guest time minus host time */
};

struct rtc;

/* RAM_LOW_BYTES / RAM_HIGH_BYTES: RAM below the PCI hole and above 4 GiB. */
int rtc_create(uint64_t ram_low_bytes, uint64_t ram_high_bytes, struct rtc **out);
void rtc_destroy(struct rtc *rtc);

extern const struct bus_ops rtc_bus_ops;

void rtc_save(struct rtc *rtc, struct rtc_state *state);
int rtc_restore(struct rtc *rtc, const struct rtc_state *state);

#endif
