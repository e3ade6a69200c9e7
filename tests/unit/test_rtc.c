// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "hw/rtc.h"

static uint8_t cmos_read(struct rtc *rtc, uint8_t reg)
{
	uint8_t v;
	rtc_bus_ops.write(rtc, 0, &reg, 1);
	rtc_bus_ops.read(rtc, 1, &v, 1);
	return v;
}

static void cmos_write(struct rtc *rtc, uint8_t reg, uint8_t v)
{
	rtc_bus_ops.write(rtc, 0, &reg, 1);
	rtc_bus_ops.write(rtc, 1, &v, 1);
}

static int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* Seconds since the epoch as the RTC shows them (BCD, 24 h). */
static time_t rtc_now(struct rtc *rtc)
{
	struct tm tm = { 0 };
	tm.tm_sec = bcd(cmos_read(rtc, 0));
	tm.tm_min = bcd(cmos_read(rtc, 2));
	tm.tm_hour = bcd(cmos_read(rtc, 4));
	tm.tm_mday = bcd(cmos_read(rtc, 7));
	tm.tm_mon = bcd(cmos_read(rtc, 8)) - 1;
	tm.tm_year = bcd(cmos_read(rtc, 0x32)) * 100 + bcd(cmos_read(rtc, 9)) - 1900;
	return timegm(&tm);
}

static void test_time_follows_host_clock(void **state)
{
	struct rtc *rtc;
	(void)state;

	assert_int_equal(rtc_create(512 << 20, 0, &rtc), 0);
	assert_int_equal(cmos_read(rtc, 0x0d) & 0x80, 0x80); /* valid */
	assert_int_equal(cmos_read(rtc, 0x0a) & 0x80, 0);    /* never updating */
	assert_true(labs((long)(rtc_now(rtc) - time(NULL))) <= 2);
	rtc_destroy(rtc);
}

static void test_guest_sets_the_clock(void **state)
{
	struct rtc *rtc;
	struct rtc_state saved;
	(void)state;

	assert_int_equal(rtc_create(512 << 20, 0, &rtc), 0);
	cmos_write(rtc, 0x0b, 0x82); /* SET, 24 h, BCD */
	cmos_write(rtc, 0x00, 0x00);
	cmos_write(rtc, 0x02, 0x00);
	cmos_write(rtc, 0x04, 0x12);
	cmos_write(rtc, 0x07, 0x01);
	cmos_write(rtc, 0x08, 0x01);
	cmos_write(rtc, 0x09, 0x30);
	cmos_write(rtc, 0x32, 0x20);
	cmos_write(rtc, 0x0b, 0x02);
	/* 2030-01-01 12:00:00 UTC */
	assert_true(labs((long)(rtc_now(rtc) - 1893499200)) <= 2);
	rtc_save(rtc, &saved);
	assert_true(saved.offset_seconds > 0);
	rtc_destroy(rtc);
}

static void test_binary_mode(void **state)
{
	struct rtc *rtc;
	(void)state;

	assert_int_equal(rtc_create(512 << 20, 0, &rtc), 0);
	cmos_write(rtc, 0x0b, 0x06);
	assert_true(cmos_read(rtc, 0x08) >= 1 && cmos_read(rtc, 0x08) <= 12);
	assert_true(cmos_read(rtc, 0x00) < 60);
	rtc_destroy(rtc);
}

static void test_cmos_memory_sizes(void **state)
{
	struct rtc *rtc;
	(void)state;

	assert_int_equal(rtc_create(64 << 20, 1ULL << 32, &rtc), 0);
	assert_int_equal(cmos_read(rtc, 0x15) | cmos_read(rtc, 0x16) << 8, 640);
	assert_int_equal(cmos_read(rtc, 0x34) | cmos_read(rtc, 0x35) << 8, (48 << 20) >> 16);
	assert_int_equal(cmos_read(rtc, 0x5b) | cmos_read(rtc, 0x5c) << 8 | cmos_read(rtc, 0x5d) << 16,
			 (1 << 16));
	cmos_write(rtc, 0x40, 0x99); /* plain CMOS byte */
	assert_int_equal(cmos_read(rtc, 0x40), 0x99);
	rtc_destroy(rtc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_follows_host_clock),
		cmocka_unit_test(test_guest_sets_the_clock),
		cmocka_unit_test(test_binary_mode),
		cmocka_unit_test(test_cmos_memory_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
