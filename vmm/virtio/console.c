// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "vireo/le.h"
#include "vireo/util.h"

#define RX_QUEUE 0
#define TX_QUEUE 1

/* struct virtio_console_config */
#define CFG_COLS         0
#define CFG_ROWS         2
#define CFG_MAX_NR_PORTS 4
#define CFG_EMERG_WR     8
#define CFG_SIZE         12

enum { CON_RX_BYTES, CON_TX_BYTES, CON_TX_DROPPED, CON_EMERG_BYTES, CON_NR_COUNTERS };
static const char *const console_counter_names[CON_NR_COUNTERS] = {
	"rx_bytes", "tx_bytes", "tx_dropped", "emerg_bytes",
};

struct virtio_console {
	struct virtio_dev vdev;
	int out_fd;
	struct virtq_elem elem; /* used under the device lock only */
};

/* Writes LEN bytes to the host side; returns how many were dropped. */
static size_t console_output(struct virtio_console *c, const uint8_t *p, size_t len)
{
	size_t done = 0;

	if (c->out_fd < 0)
		return 0;
	while (done < len) {
		ssize_t n = write(c->out_fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return len - done;
}

static void console_tx(struct virtio_console *c, struct virtq *vq)
{
	struct virtio_dev *dev = &c->vdev;

	while (virtio_pop(dev, vq, &c->elem) > 0) {
		size_t dropped = 0;
		for (unsigned int i = 0; i < c->elem.out_num; i++)
			dropped += console_output(c, c->elem.iov[i].iov_base, c->elem.iov[i].iov_len);
		virtio_count(dev, CON_TX_BYTES, c->elem.out_len - dropped);
		virtio_count(dev, CON_TX_DROPPED, dropped);
		virtio_push(dev, vq, &c->elem, 0);
	}
	virtio_notify(dev, vq);
}

static void console_queue_notify(struct virtio_dev *dev, struct virtq *vq)
{
	struct virtio_console *c = (struct virtio_console *)dev;

	/* New receive buffers wait for host input (virtio_console_receive). */
	if (vq->index == TX_QUEUE)
		console_tx(c, vq);
}

size_t virtio_console_receive(struct virtio_dev *dev, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = (struct virtio_console *)dev;
	struct virtq *vq = &dev->queues[RX_QUEUE];
	size_t done = 0;

	virtio_dev_lock(dev);
	while (done < len && virtio_dev_live(dev) && vq->ready &&
	       virtio_pop(dev, vq, &c->elem) > 0) {
		size_t n = virtq_elem_fill(&c->elem, 0, buf + done, len - done);
		virtio_push(dev, vq, &c->elem, (uint32_t)n);
		done += n;
	}
	if (virtio_dev_live(dev))
		virtio_notify(dev, vq);
	virtio_dev_unlock(dev);
	virtio_count(dev, CON_RX_BYTES, done);
	return done;
}

static void console_config_read(struct virtio_dev *dev, uint32_t offset, void *data,
				unsigned int size)
{
	uint8_t cfg[CFG_SIZE] = { 0 };

	(void)dev;
	put_le32(cfg + CFG_MAX_NR_PORTS, 1); /* meaningful with MULTIPORT only */
	memcpy(data, cfg + offset, size);
}

static void console_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
				 unsigned int size)
{
	struct virtio_console *c = (struct virtio_console *)dev;
	uint8_t ch;

	if (offset != CFG_EMERG_WR || size == 0)
		return;
	memcpy(&ch, data, 1); /* the character is the low byte */
	if (console_output(c, &ch, 1) == 0)
		virtio_count(dev, CON_EMERG_BYTES, 1);
	else
		virtio_count(dev, CON_TX_DROPPED, 1);
}

static void console_destroy(struct virtio_dev *dev)
{
	free(dev);
}

static const struct virtio_dev_ops console_ops = {
	.type_name = "console",
	.device_type = VIRTIO_ID_CONSOLE,
	.pci_class = 0x078000, /* simple communication controller, other */
	.features = VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE),
	.config_size = CFG_SIZE,
	.config_read = console_config_read,
	.config_write = console_config_write,
	.queue_notify = console_queue_notify,
	.destroy = console_destroy,
	.counter_names = console_counter_names,
	.nr_counters = CON_NR_COUNTERS,
};

int virtio_console_create(const struct virtio_host *host, const char *name, int out_fd,
			  struct virtio_dev **out)
{
	struct virtio_console *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	_Static_assert(offsetof(struct virtio_console, vdev) == 0, "vdev first");
	c->out_fd = out_fd;
	ret = virtio_dev_init(&c->vdev, &console_ops, host, name, 2, VIRTIO_CONSOLE_QUEUE_SIZE);
	if (ret < 0) {
		virtio_dev_destroy(&c->vdev);
		return ret;
	}
	*out = &c->vdev;
	return 0;
}
