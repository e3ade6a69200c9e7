// SPDX-License-Identifier: Apache-2.0
/*
 * The device-independent part of every virtio device: life cycle, the I/O
 * thread's kick handler, queue helpers, reset, errors and stats. The
 * register interface is in virtio_pci.c, save/restore in virtio_state.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio.h"

const char *const virtio_counter_names[VIRTIO_C_COUNT] = {
	[VIRTIO_C_NOTIFICATIONS] = "notifications",
	[VIRTIO_C_IGNORED_NOTIFICATIONS] = "ignored_notifications",
	[VIRTIO_C_INTERRUPTS] = "interrupts",
	[VIRTIO_C_ERRORS] = "errors",
	[VIRTIO_C_RESETS] = "resets",
	[VIRTIO_C_BAD_ACCESSES] = "bad_accesses",
	[VIRTIO_C_NOTIFY_EXITS] = "notify_mmio_exits",
};

void virtio_count_stat(struct virtio_dev *dev, enum virtio_counter c)
{
	__atomic_add_fetch(&dev->stats[c], 1, __ATOMIC_RELAXED);
}

bool virtio_dev_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) && !dev->broken && !dev->paused &&
	       dev->bus_master;
}

/* Serves whatever is available on every ready queue (lock held). */
static void virtio_kick_all(struct virtio_dev *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		if (dev->queues[i].ready)
			virtio_kick(dev, i);
}

/* Stops queue work while the device may not touch guest memory (lock held). */
static void virtio_stop_dma(struct virtio_dev *dev)
{
	if (dev->ops->pause && (dev->status & VIRTIO_STATUS_DRIVER_OK))
		dev->ops->pause(dev);
}

void virtio_dev_pause(struct virtio_dev *dev)
{
	virtio_dev_lock(dev);
	if (!dev->paused) {
		dev->paused = true;
		virtio_stop_dma(dev);
	}
	virtio_dev_unlock(dev);
}

void virtio_dev_resume(struct virtio_dev *dev)
{
	virtio_dev_lock(dev);
	if (dev->paused) {
		dev->paused = false;
		if (virtio_dev_live(dev))
			virtio_kick_all(dev);
	}
	virtio_dev_unlock(dev);
}

void virtio_dev_set_bus_master(struct virtio_dev *dev, bool on)
{
	virtio_dev_lock(dev);
	if (on != dev->bus_master) {
		dev->bus_master = on;
		if (!on)
			virtio_stop_dma(dev);
		else if (virtio_dev_live(dev))
			virtio_kick_all(dev);
	}
	virtio_dev_unlock(dev);
}

/* Serves queue Q if it was kicked (its eventfd had a count). */
static void virtio_serve(struct virtio_dev *dev, unsigned int q)
{
	struct virtq *vq = &dev->queues[q];
	uint64_t n;

	if (read(dev->kicks[q].src.fd, &n, sizeof(n)) != sizeof(n))
		return; /* spurious wake-up: nothing was written */
	virtio_dev_lock(dev);
	if (!virtio_dev_live(dev) || !vq->ready) {
		virtio_count_stat(dev, VIRTIO_C_IGNORED_NOTIFICATIONS);
	} else {
		virtio_count_stat(dev, VIRTIO_C_NOTIFICATIONS);
		dev->ops->queue_notify(dev, vq);
	}
	virtio_dev_unlock(dev);
}

/* A queue eventfd fired (I/O thread): the driver kicked the queue. */
static void virtio_kick_ready(struct event_source *src, uint32_t events)
{
	struct virtio_kick *k = src->opaque;

	(void)events;
	virtio_serve(k->dev, k->queue);
}

void virtio_dev_poll(struct virtio_dev *dev)
{
	for (unsigned int q = 0; q < dev->nr_queues; q++)
		virtio_serve(dev, q);
}

void virtio_kick(struct virtio_dev *dev, unsigned int i)
{
	uint64_t one = 1;

	if (write(dev->kicks[i].src.fd, &one, sizeof(one)) != sizeof(one))
		log_warn_ratelimited(&dev->rl, "virtio %s: cannot signal queue %u", dev->name, i);
}

static bool pow2(unsigned int n)
{
	return n && !(n & (n - 1));
}

/* The state after power-on and after every reset (lock held or not shared yet). */
static void virtio_transport_reset(struct virtio_dev *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		virtq_reset(&dev->queues[i]);
	dev->driver_features = 0;
	dev->device_feature_select = dev->driver_feature_select = 0;
	dev->msix_config = VIRTIO_MSI_NO_VECTOR;
	dev->queue_select = 0;
	dev->status = 0;
	dev->isr = 0;
	dev->broken = false;
	dev->error_logged = false;
	dev->generation++;
	if (dev->msix)
		msix_clear_pending(dev->msix);
}

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    const struct virtio_host *host, const char *name, unsigned int nr_queues,
		    uint16_t queue_max_size)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->ops = ops;
	dev->host = *host;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	if (nr_queues == 0 || nr_queues > VIRTIO_MAX_QUEUES || !pow2(queue_max_size) ||
	    queue_max_size > VIRTQ_MAX_SIZE || ops->config_size > 4096 ||
	    ops->nr_counters > VIRTIO_MAX_COUNTERS || !ops->queue_notify || !ops->destroy)
		return -EINVAL;
	dev->nr_queues = nr_queues;
	dev->device_features = VIRTIO_TRANSPORT_FEATURES | ops->features;
	dev->queues = calloc(nr_queues, sizeof(*dev->queues));
	dev->kicks = calloc(nr_queues, sizeof(*dev->kicks));
	if (!dev->queues || !dev->kicks)
		return -ENOMEM;
	for (unsigned int i = 0; i < nr_queues; i++) {
		virtq_init(&dev->queues[i], i, queue_max_size);
		dev->kicks[i] = (struct virtio_kick){
			.src = { .fd = -1, .callback = virtio_kick_ready, .opaque = &dev->kicks[i] },
			.dev = dev, .queue = i,
		};
	}
	for (unsigned int i = 0; i < nr_queues; i++) {
		dev->kicks[i].src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->kicks[i].src.fd < 0) {
			ret = -errno;
			goto fail;
		}
	}
	ret = msix_create(host->routing, nr_queues + 1, &dev->msix);
	if (ret < 0)
		goto fail;
	virtio_transport_reset(dev);
	for (unsigned int i = 0; i < nr_queues && host->iothread; i++) {
		ret = iothread_add(host->iothread, &dev->kicks[i].src, EPOLLIN);
		if (ret < 0)
			goto fail;
	}
	/* Last: once on the bus, the guest can reach the device. */
	ret = virtio_pci_init(dev);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	log_error_errno(ret, "virtio %s: cannot create the device", name);
	return ret;
}

void virtio_dev_fini(struct virtio_dev *dev)
{
	virtio_pci_fini(dev);
	msix_destroy(dev->msix);
	dev->msix = NULL;
	for (unsigned int i = 0; dev->kicks && i < dev->nr_queues; i++)
		if (dev->kicks[i].src.fd >= 0)
			close(dev->kicks[i].src.fd); /* leaves the I/O thread's epoll set */
	free(dev->kicks);
	free(dev->queues);
	dev->kicks = NULL;
	dev->queues = NULL;
	pthread_mutex_destroy(&dev->lock);
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	if (!dev)
		return;
	if (dev->owns_iothread) {
		iothread_destroy(dev->host.iothread);
		dev->host.iothread = NULL;
	}
	virtio_dev_fini(dev);
	dev->ops->destroy(dev);
}

void virtio_raise(struct virtio_dev *dev, uint16_t vector, uint8_t isr_bit)
{
	dev->isr |= isr_bit;
	virtio_count_stat(dev, VIRTIO_C_INTERRUPTS);
	if (vector != VIRTIO_MSI_NO_VECTOR)
		msix_notify(dev->msix, vector);
}

void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (!dev->error_logged) {
		dev->error_logged = true;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		log_warn_ratelimited(&dev->rl, "virtio %s: %s; the device needs a reset",
				     dev->name, why);
	}
	if (dev->broken)
		return;
	dev->broken = true;
	dev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	virtio_count_stat(dev, VIRTIO_C_ERRORS);
	/* 2.1.2: a driver that is running must hear about it. */
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(dev, dev->msix_config, VIRTIO_ISR_CONFIG);
}

void virtio_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(dev, dev->msix_config, VIRTIO_ISR_CONFIG);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	virtio_transport_reset(dev);
}

void virtio_dev_activate(struct virtio_dev *dev)
{
	bool event_idx = virtio_has_feature(dev, VIRTIO_F_RING_EVENT_IDX);
	bool indirect = virtio_has_feature(dev, VIRTIO_F_RING_INDIRECT_DESC);
	int ret;

	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		dev->queues[i].event_idx = event_idx;
		dev->queues[i].indirect = indirect;
	}
	if (dev->ops->activate && (ret = dev->ops->activate(dev)) < 0) {
		virtio_dev_fail(dev, "cannot start: %s", strerror(-ret));
		return;
	}
	/* Buffers made available before DRIVER_OK get served now. */
	virtio_kick_all(dev);
}

int virtio_pop(struct virtio_dev *dev, struct virtq *vq, struct virtq_elem *elem)
{
	int ret;

	if (dev->broken)
		return -EIO;
	ret = virtq_pop(vq, elem);
	if (ret < 0)
		virtio_dev_fail(dev, "queue %u: %s", vq->index, vq->error);
	return ret;
}

void virtio_push(struct virtio_dev *dev, struct virtq *vq, const struct virtq_elem *elem,
		 uint32_t len)
{
	(void)dev;
	/* Never claim more than the driver gave us room for. */
	if (len > elem->in_len)
		len = (uint32_t)elem->in_len;
	virtq_push(vq, elem->head, len);
}

void virtio_notify(struct virtio_dev *dev, struct virtq *vq)
{
	if (virtq_should_notify(vq))
		virtio_raise(dev, vq->msix_vector, VIRTIO_ISR_QUEUE);
}

struct json_t *virtio_dev_stats(struct virtio_dev *dev)
{
	json_t *o = json_object(), *c = json_object(), *qs = json_array();
	uint64_t delivered, pended;
	char hex[24];

	virtio_dev_lock(dev);
	json_object_set_new(o, "name", json_string(dev->name));
	json_object_set_new(o, "type", json_string(dev->ops->type_name));
	json_object_set_new(o, "pci_slot", json_integer(dev->pci.slot));
	json_object_set_new(o, "status", json_integer(dev->status));
	json_object_set_new(o, "driver_ok", json_boolean(dev->status & VIRTIO_STATUS_DRIVER_OK));
	json_object_set_new(o, "needs_reset", json_boolean(dev->broken));
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)dev->driver_features);
	json_object_set_new(o, "features", json_string(hex));
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		struct virtq *vq = &dev->queues[i];
		json_array_append_new(qs, json_pack("{s:i, s:i, s:b, s:i, s:i}", "index", i,
						    "size", vq->size, "ready", vq->ready,
						    "last_avail_idx", vq->last_avail_idx,
						    "used_idx", vq->used_idx));
	}
	virtio_dev_unlock(dev);
	json_object_set_new(o, "queues", qs);
	for (unsigned int i = 0; i < VIRTIO_C_COUNT; i++)
		json_object_set_new(c, virtio_counter_names[i],
				    json_integer((json_int_t)__atomic_load_n(&dev->stats[i], __ATOMIC_RELAXED)));
	msix_counters(dev->msix, &delivered, &pended);
	json_object_set_new(c, "msix_delivered", json_integer((json_int_t)delivered));
	json_object_set_new(c, "msix_pended", json_integer((json_int_t)pended));
	for (unsigned int i = 0; i < dev->ops->nr_counters; i++)
		json_object_set_new(c, dev->ops->counter_names[i],
				    json_integer((json_int_t)__atomic_load_n(&dev->counters[i], __ATOMIC_RELAXED)));
	json_object_set_new(o, "counters", c);
	return o;
}
