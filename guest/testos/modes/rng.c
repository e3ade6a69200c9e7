// SPDX-License-Identifier: Apache-2.0
/*
 * rng: reads bytes= bytes (default 4096) from a virtio-rng device (spec
 * 5.4: one queue of device-writable buffers) with up to 8 requests of
 * 4 KiB in flight, then checks that they look random: not all zero, not
 * all equal, and (from 4096 bytes on) nearly every byte value present and
 * a byte histogram whose chi-square is plausible. Prints
 *   rng: bytes=N requests=R us=T kib_s=K
 *   rng: distinct=D min=A max=B chi2=X.YY zeros=Z
 * and passes, or fails with EXIT_VERIFY.
 */
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"
#include "virtio.h"

#define RNG_CHUNK	4096
#define RNG_INFLIGHT	8
#define RNG_MAX_BYTES	(64ULL << 20)

static void rng_run(void)
{
	static struct virtio_dev dev;
	static struct virtq q;
	static uint32_t hist[256];
	static bool busy[RNG_INFLIGHT];
	uint64_t bytes, timeout_ms, filled = 0, asked = 0, requests = 0, t0, t1, deadline;
	uint64_t sum_sq = 0, chi2_x100, us, next_check = 0;
	uint8_t *out, *slots;
	unsigned int i, distinct = 0, min = ~0U, max = 0;
	bool all_equal = true;

	if (cmdline_get_u64("bytes", 4096, &bytes) < 0 || bytes == 0 || bytes > RNG_MAX_BYTES ||
	    cmdline_get_u64("timeout_ms", 10000, &timeout_ms) < 0)
		fail(EXIT_USAGE, "rng [bytes=4096 (1..64 MiB)] [timeout_ms=10000] [pci=BB:DD.F]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	virtio_find_or_fail(VIRTIO_ID_RNG, &dev);
	if (virtio_start(&dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) < 0)
		fail(EXIT_DEVICE, "virtio-rng %s: setup refused", dev.name);
	if (virtq_setup(&dev, &q, 0, 64) < 0)
		fail(EXIT_DEVICE, "virtio-rng %s: no request queue", dev.name);
	virtio_driver_ok(&dev);
	out = mem_alloc(bytes, 4096);
	slots = mem_alloc(RNG_CHUNK * RNG_INFLIGHT, 4096);
	if (!out || !slots)
		fail(EXIT_NOMEM, "no memory for %lu bytes", bytes);

	t0 = rdtsc();
	deadline = t0 + tsc_from_us(timeout_ms * 1000);
	while (filled < bytes) {
		uint64_t token;
		uint32_t len;
		int ret;

		/* Keep up to RNG_INFLIGHT requests for what is still missing. */
		while (asked < bytes - filled && virtq_in_flight(&q) < RNG_INFLIGHT) {
			uint64_t want = bytes - filled - asked;
			struct virtq_sg sg;
			unsigned int s = 0;

			while (busy[s])
				s++;
			sg.addr = (uintptr_t)(slots + (size_t)s * RNG_CHUNK);
			sg.len = (uint32_t)(want < RNG_CHUNK ? want : RNG_CHUNK);
			sg.write = true;
			/* token: slot in the low half, length asked in the high */
			if (virtq_add(&q, &sg, 1, s | (uint64_t)sg.len << 32) < 0)
				break;
			busy[s] = true;
			asked += sg.len;
			requests++;
		}
		virtq_kick(&q);
		ret = virtq_poll(&q, &token, &len);
		if (ret < 0)
			fail(EXIT_DEVICE, "virtio-rng %s: bad used ring (id/index %u)", dev.name, len);
		if (ret == 0) {
			if (tsc_every(&next_check, VIRTIO_STATUS_POLL_US) &&
			    virtio_needs_reset(&dev, "rng"))
				fail(EXIT_DEVICE, "virtio-rng %s: device needs reset", dev.name);
			if ((int64_t)(rdtsc() - deadline) > 0)
				fail(EXIT_DEVICE, "virtio-rng %s: %lu of %lu bytes after %lu ms",
				     dev.name, filled, bytes, timeout_ms);
			cpu_relax();
			continue;
		}
		/* The device may fill less than asked (len); keep what it wrote. */
		if (len > (uint32_t)(token >> 32))
			fail(EXIT_DEVICE, "virtio-rng %s: used length %u > buffer %u", dev.name,
			     len, (uint32_t)(token >> 32));
		asked -= token >> 32;
		busy[token & 0xffffffff] = false;
		if (len > bytes - filled)
			len = (uint32_t)(bytes - filled);
		memcpy(out + filled, slots + (token & 0xffffffff) * RNG_CHUNK, len);
		filled += len;
	}
	t1 = rdtsc();
	us = tsc_to_us(t1 - t0);
	con_printf("rng: bytes=%lu requests=%lu us=%lu kib_s=%lu\n", bytes, requests, us,
		   us ? bytes * 1000000 / 1024 / us : 0);

	for (i = 0; i < bytes; i++) {
		hist[out[i]]++;
		if (out[i] != out[0])
			all_equal = false;
	}
	for (i = 0; i < 256; i++) {
		if (hist[i])
			distinct++;
		if (hist[i] < min)
			min = hist[i];
		if (hist[i] > max)
			max = hist[i];
		sum_sq += (uint64_t)hist[i] * hist[i];
	}
	/* chi2 = sum (c - E)^2 / E with E = N / 256, = 256 * sum c^2 / N - N */
	chi2_x100 = 25600 * sum_sq / bytes - 100 * bytes;
	con_printf("rng: distinct=%u min=%u max=%u chi2=%lu.%02lu zeros=%u\n", distinct, min, max,
		   chi2_x100 / 100, chi2_x100 % 100, hist[0]);
	if (hist[0] == bytes)
		fail(EXIT_VERIFY, "rng: all %lu bytes are zero", bytes);
	if (all_equal && bytes > 1)
		fail(EXIT_VERIFY, "rng: all %lu bytes are 0x%02x", bytes, out[0]);
	/* 255 degrees of freedom: mean 255, sd 22.6; 400 is p < 1e-8. With
	 * 4096 bytes the expected number of missing values is 256 * e^-16. */
	if (bytes >= 4096 && distinct < 250)
		fail(EXIT_VERIFY, "rng: only %u distinct byte values in %lu bytes", distinct, bytes);
	if (bytes >= 4096 && chi2_x100 > 40000)
		fail(EXIT_VERIFY, "rng: byte histogram chi2 %lu too high", chi2_x100 / 100);
	con_printf("rng: quality ok\n");
	virtio_reset(&dev);
}

static const struct mode rng_mode = {
	.name = "rng",
	.run = rng_run,
	.usage = "read virtio-rng: bytes=N (4096) timeout_ms=T, checks the bytes look random",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(rng_mode);
