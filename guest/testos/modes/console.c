// SPDX-License-Identifier: Apache-2.0
/*
 * console: a virtio-console driver (spec 5.3) for port 0 without
 * MULTIPORT: queue 0 receives, queue 1 transmits. Writes the line
 * "console: hello from testos", then reads lines and writes each back as
 * "console: echo <line>" until a line "quit". Every line also goes to the
 * serial port. timeout_ms=T (default 0: none) fails the run when no line
 * arrives for T ms.
 */
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"
#include "virtio.h"

#define CON_RX_BUFS	8
#define CON_RX_SIZE	256
#define CON_LINE_MAX	256
#define CON_TX_SIZE	(CON_LINE_MAX + 32)
#define CON_TX_TIMEOUT_US 5000000

static struct virtio_dev dev;
static struct virtq rxq, txq;
static uint8_t *rx_bufs, *tx_buf;

static void console_rx_post(unsigned int i)
{
	struct virtq_sg sg = { (uintptr_t)(rx_bufs + i * CON_RX_SIZE), CON_RX_SIZE, true };

	if (virtq_add(&rxq, &sg, 1, i) < 0)
		fail(EXIT_INTERNAL, "console: receive queue full");
}

/* Sends s on the transmit queue and waits until the device took it. */
static void console_write(const char *s)
{
	size_t len = strlen(s);
	struct virtq_sg sg = { (uintptr_t)tx_buf, (uint32_t)len, false };
	uint64_t token, start = rdtsc(), next_check = 0;
	uint32_t used_len;
	int ret;

	if (len > CON_TX_SIZE)
		fail(EXIT_INTERNAL, "console: line too long");
	memcpy(tx_buf, s, len);
	if (virtq_add(&txq, &sg, 1, 0) < 0)
		fail(EXIT_INTERNAL, "console: transmit queue full");
	virtq_kick(&txq);
	while ((ret = virtq_poll(&txq, &token, &used_len)) == 0) {
		if (!tsc_every(&next_check, VIRTIO_STATUS_POLL_US)) {
			cpu_relax();
			continue;
		}
		if (virtio_needs_reset(&dev, "console transmit"))
			fail(EXIT_DEVICE, "console: device needs reset");
		if (rdtsc() - start > tsc_from_us(CON_TX_TIMEOUT_US))
			fail(EXIT_DEVICE, "console: transmit not completed in %u s",
			     CON_TX_TIMEOUT_US / 1000000);
		cpu_relax();
	}
	if (ret < 0)
		fail(EXIT_DEVICE, "console: device broke the transmit ring (%u)", used_len);
}

static void console_run(void)
{
	static char line[CON_LINE_MAX], out[CON_TX_SIZE], feat[256];
	uint64_t timeout_ms, last, next_check = 0;
	size_t len = 0;
	unsigned int i, lines = 0;

	if (cmdline_get_u64("timeout_ms", 0, &timeout_ms) < 0)
		fail(EXIT_USAGE, "console [timeout_ms=T] [pci=BB:DD.F]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	virtio_find_or_fail(VIRTIO_ID_CONSOLE, &dev);
	if (virtio_start(&dev, VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE)) < 0)
		fail(EXIT_DEVICE, "console: %s: setup refused", dev.name);
	if (virtq_setup(&dev, &rxq, 0, 64) < 0 || virtq_setup(&dev, &txq, 1, 64) < 0)
		fail(EXIT_DEVICE, "console: %s: no port 0 queues", dev.name);
	rx_bufs = mem_alloc(CON_RX_BUFS * CON_RX_SIZE, 4096);
	tx_buf = mem_alloc(CON_TX_SIZE, 4096);
	if (!rx_bufs || !tx_buf)
		fail(EXIT_NOMEM, "console: no memory for buffers");
	for (i = 0; i < CON_RX_BUFS; i++)
		console_rx_post(i);
	/* Buffers may be made available before DRIVER_OK (spec 3.1.1). */
	virtq_kick(&rxq);
	virtio_driver_ok(&dev);
	virtio_features_str(VIRTIO_ID_CONSOLE, dev.features, feat, sizeof(feat));
	con_printf("console: dev=%s features=0x%lx %s", dev.name, dev.features, feat);
	if (dev.features & VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE))
		con_printf(" cols=%u rows=%u", virtio_cfg_read16(&dev, VIRTIO_CONSOLE_CFG_COLS),
			   virtio_cfg_read16(&dev, VIRTIO_CONSOLE_CFG_ROWS));
	con_printf("\n");

	console_write("console: hello from testos\n");
	con_printf("console: sent hello\n");
	last = rdtsc();
	for (;;) {
		uint64_t token;
		uint32_t got;
		int ret = virtq_poll(&rxq, &token, &got);
		const uint8_t *p;

		if (ret == 0) {
			if (tsc_every(&next_check, VIRTIO_STATUS_POLL_US) &&
			    virtio_needs_reset(&dev, "console receive"))
				fail(EXIT_DEVICE, "console: device needs reset");
			if (timeout_ms && rdtsc() - last > tsc_from_us(timeout_ms * 1000))
				fail(EXIT_DEVICE, "console: no input for %lu ms", timeout_ms);
			cpu_relax();
			continue;
		}
		if (ret < 0 || token >= CON_RX_BUFS)
			fail(EXIT_DEVICE, "console: device broke the receive ring (%u)", got);
		if (got > CON_RX_SIZE)
			fail(EXIT_DEVICE, "console: used length %u > buffer %u", got, CON_RX_SIZE);
		last = rdtsc();
		p = rx_bufs + token * CON_RX_SIZE;
		for (i = 0; i < got; i++) {
			char c = (char)p[i];

			if (c != '\r' && c != '\n') {
				if (len < CON_LINE_MAX - 1)
					line[len++] = c;
				continue;
			}
			if (len == 0)
				continue;
			line[len] = '\0';
			len = 0;
			lines++;
			con_snprintf(out, sizeof(out), "console: echo %s\n", line);
			console_write(out);
			con_printf("%s", out);
			if (strcmp(line, "quit") == 0) {
				con_printf("console: lines=%u rx_notifies=%lu tx_notifies=%lu\n",
					   lines, rxq.notifies, txq.notifies);
				virtio_reset(&dev);
				return;
			}
		}
		console_rx_post((unsigned int)token);
		virtq_kick(&rxq);
	}
}

static const struct mode console_mode = {
	.name = "console",
	.run = console_run,
	.usage = "virtio-console port 0: hello, then echo lines until 'quit' [timeout_ms=T]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(console_mode);
