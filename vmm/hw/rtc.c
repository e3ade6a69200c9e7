// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtc.h"
#include "vireo/log.h"

#define REG_SECONDS   0x00
#define REG_MINUTES   0x02
#define REG_HOURS     0x04
#define REG_WEEKDAY   0x06
#define REG_DAY       0x07
#define REG_MONTH     0x08
#define REG_YEAR      0x09
#define REG_A         0x0a
#define REG_B         0x0b
#define REG_C         0x0c
#define REG_D         0x0d
#define REG_CENTURY   0x32

#define B_SET   0x80 /* updates frozen while the guest sets the time */
#define B_INTS  0x70 /* periodic, alarm, update-ended interrupt enables */
#define B_BINARY 0x04
#define B_24H   0x02
#define D_VRT   0x80 /* RAM and time valid */

struct rtc {
	pthread_mutex_t lock;
	struct rtc_state st;
	bool warned_interrupts;
};

static uint8_t to_bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode(const struct rtc_state *st, int v)
{
	return (st->cmos[REG_B] & B_BINARY) ? (uint8_t)v : to_bcd(v);
}

static int decode(const struct rtc_state *st, uint8_t v)
{
	return (st->cmos[REG_B] & B_BINARY) ? v : from_bcd(v);
}

/* Fills the time registers from the host clock plus the guest's offset. */
static void rtc_load_time(struct rtc_state *st)
{
	time_t t = time(NULL) + st->offset_seconds;
	struct tm tm;
	int hour;

	gmtime_r(&t, &tm);
	st->cmos[REG_SECONDS] = encode(st, tm.tm_sec);
	st->cmos[REG_MINUTES] = encode(st, tm.tm_min);
	hour = tm.tm_hour;
	if (!(st->cmos[REG_B] & B_24H)) {
		int h12 = hour % 12 ? hour % 12 : 12;
		st->cmos[REG_HOURS] = (uint8_t)(encode(st, h12) | (hour >= 12 ? 0x80 : 0));
	} else {
		st->cmos[REG_HOURS] = encode(st, hour);
	}
	st->cmos[REG_WEEKDAY] = encode(st, tm.tm_wday + 1);
	st->cmos[REG_DAY] = encode(st, tm.tm_mday);
	st->cmos[REG_MONTH] = encode(st, tm.tm_mon + 1);
	st->cmos[REG_YEAR] = encode(st, tm.tm_year % 100);
	st->cmos[REG_CENTURY] = encode(st, (tm.tm_year + 1900) / 100);
}

/* The guest finished setting the time: remember its offset from the host. */
static void rtc_store_time(struct rtc_state *st)
{
	struct tm tm = { 0 };
	uint8_t hours = st->cmos[REG_HOURS];
	time_t guest;

	tm.tm_sec = decode(st, st->cmos[REG_SECONDS]);
	tm.tm_min = decode(st, st->cmos[REG_MINUTES]);
	if (!(st->cmos[REG_B] & B_24H)) {
		int h = decode(st, hours & 0x7f) % 12;
		tm.tm_hour = h + ((hours & 0x80) ? 12 : 0);
	} else {
		tm.tm_hour = decode(st, hours);
	}
	tm.tm_mday = decode(st, st->cmos[REG_DAY]);
	tm.tm_mon = decode(st, st->cmos[REG_MONTH]) - 1;
	tm.tm_year = decode(st, st->cmos[REG_CENTURY]) * 100 +
		     decode(st, st->cmos[REG_YEAR]) - 1900;
	guest = timegm(&tm);
	if (guest == (time_t)-1)
		return; /* nonsense date: keep the old offset */
	st->offset_seconds = (int64_t)guest - (int64_t)time(NULL);
}

static void rtc_bus_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct rtc *rtc = opaque;
	struct rtc_state *st = &rtc->st;
	uint8_t v;

	memset(data, 0, size);
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0) {
		v = 0xff; /* the index register is write-only */
	} else {
		uint8_t reg = st->index;
		if (reg <= REG_YEAR || reg == REG_CENTURY) {
			if (!(st->cmos[REG_B] & B_SET))
				rtc_load_time(st);
			v = st->cmos[reg];
		} else if (reg == REG_C) {
			v = 0; /* no interrupt flags: none are ever raised */
		} else {
			v = st->cmos[reg];
		}
	}
	pthread_mutex_unlock(&rtc->lock);
	*(uint8_t *)data = v;
}

static void rtc_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct rtc *rtc = opaque;
	struct rtc_state *st = &rtc->st;
	uint8_t v = *(const uint8_t *)data;
	(void)size;

	pthread_mutex_lock(&rtc->lock);
	if (offset == 0) {
		st->index = v & 0x7f; /* bit 7 masks NMIs; there are none to mask */
		goto out;
	}
	switch (st->index) {
	case REG_A:
		st->cmos[REG_A] = v & 0x7f; /* UIP is read-only and always clear */
		break;
	case REG_B:
		if ((st->cmos[REG_B] & B_SET) && !(v & B_SET))
			rtc_store_time(st);
		else if (!(st->cmos[REG_B] & B_SET) && (v & B_SET))
			rtc_load_time(st);
		if ((v & B_INTS) && !rtc->warned_interrupts) {
			rtc->warned_interrupts = true;
			log_warn("rtc: the guest enabled RTC interrupts (0x%02x), which this RTC does not raise", v);
		}
		st->cmos[REG_B] = v;
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		if ((st->index <= REG_YEAR || st->index == REG_CENTURY) &&
		    !(st->cmos[REG_B] & B_SET)) {
			/* Setting one field of a running clock: the others stay current. */
			rtc_load_time(st);
			st->cmos[st->index] = v;
			rtc_store_time(st);
		} else {
			st->cmos[st->index] = v;
		}
		break;
	}
out:
	pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops rtc_bus_ops = {
	.read = rtc_bus_read,
	.write = rtc_bus_write,
};

/* CMOS bytes a PC BIOS leaves behind: memory sizes in the usual places. */
static void rtc_fill_cmos(struct rtc_state *st, uint64_t low, uint64_t high)
{
	uint64_t ext_kib = low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0;
	uint64_t above16m = low > (16 << 20) ? (low - (16 << 20)) >> 16 : 0;
	uint64_t above4g = high >> 16;

	if (ext_kib > 0xffff)
		ext_kib = 0xffff;
	if (above16m > 0xffff)
		above16m = 0xffff;
	st->cmos[0x15] = 640 & 0xff; /* base memory in KiB */
	st->cmos[0x16] = 640 >> 8;
	st->cmos[0x17] = st->cmos[0x30] = (uint8_t)ext_kib;
	st->cmos[0x18] = st->cmos[0x31] = (uint8_t)(ext_kib >> 8);
	st->cmos[0x34] = (uint8_t)above16m;
	st->cmos[0x35] = (uint8_t)(above16m >> 8);
	st->cmos[0x5b] = (uint8_t)above4g;
	st->cmos[0x5c] = (uint8_t)(above4g >> 8);
	st->cmos[0x5d] = (uint8_t)(above4g >> 16);
}

int rtc_create(uint64_t ram_low_bytes, uint64_t ram_high_bytes, struct rtc **out)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));

	if (!rtc)
		return -ENOMEM;
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->st.cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	rtc->st.cmos[REG_B] = B_24H;
	rtc->st.cmos[REG_D] = D_VRT;
	rtc_fill_cmos(&rtc->st, ram_low_bytes, ram_high_bytes);
	*out = rtc;
	return 0;
}

void rtc_destroy(struct rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

void rtc_save(struct rtc *rtc, struct rtc_state *state)
{
	pthread_mutex_lock(&rtc->lock);
	*state = rtc->st;
	pthread_mutex_unlock(&rtc->lock);
}

int rtc_restore(struct rtc *rtc, const struct rtc_state *state)
{
	if (state->index >= RTC_CMOS_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&rtc->lock);
	rtc->st = *state;
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
