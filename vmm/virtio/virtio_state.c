// SPDX-License-Identifier: Apache-2.0
/*
 * Save and restore of a virtio device: PCI configuration space, transport
 * registers, queues, MSI-X table and the device's own part. Restore checks
 * everything before it changes anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

#define STATUS_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
		     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET |              \
		     VIRTIO_STATUS_FAILED)

void virtio_dev_save(struct virtio_dev *dev, struct virtio_dev_state *s)
{
	memset(s, 0, sizeof(*s));
	s->version = VIRTIO_STATE_VERSION;
	s->device_type = dev->ops->device_type;
	s->nr_queues = (uint16_t)dev->nr_queues;
	pci_device_save_config(&dev->pci, s->pci_config); /* PCI lock before the device's */
	msix_save(dev->msix, &s->msix);
	virtio_dev_lock(dev);
	s->driver_features = dev->driver_features;
	s->device_feature_select = dev->device_feature_select;
	s->driver_feature_select = dev->driver_feature_select;
	s->msix_config = dev->msix_config;
	s->queue_select = dev->queue_select;
	s->status = dev->status;
	s->isr = dev->isr;
	s->config_generation = dev->config_generation;
	s->broken = dev->broken;
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		virtq_save(&dev->queues[i], &s->queues[i]);
	if (dev->ops->save)
		s->device_len = (uint32_t)dev->ops->save(dev, s->device, sizeof(s->device));
	virtio_dev_unlock(dev);
}

static bool vector_ok(struct virtio_dev *dev, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < msix_nr_vectors(dev->msix);
}

static const char *check_state(struct virtio_dev *dev, const struct virtio_dev_state *s)
{
	if (s->version != VIRTIO_STATE_VERSION)
		return "unknown state version";
	if (s->device_type != dev->ops->device_type || s->nr_queues != dev->nr_queues)
		return "state of another kind of device";
	/* A driver may write anything; only FEATURES_OK says it was accepted. */
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) && (s->driver_features & ~dev->device_features))
		return "features that were not offered";
	if (s->status & ~STATUS_BITS || s->isr & ~(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG) ||
	    s->broken > 1)
		return "invalid status";
	/* A driver may set DRIVER_OK without FEATURES_OK, which breaks the device. */
	if ((s->status & VIRTIO_STATUS_DRIVER_OK) && !(s->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !s->broken)
		return "DRIVER_OK without FEATURES_OK";
	if (!!(s->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) != s->broken)
		return "DEVICE_NEEDS_RESET and the broken flag disagree";
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(s->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return "FEATURES_OK without VIRTIO_F_VERSION_1";
	if (!vector_ok(dev, s->msix_config))
		return "configuration vector out of the MSI-X table";
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		if (!vector_ok(dev, s->queues[i].msix_vector))
			return "queue vector out of the MSI-X table";
	for (unsigned int i = dev->nr_queues; i < VIRTIO_MAX_QUEUES; i++) {
		static const struct virtq_state zero;
		if (memcmp(&s->queues[i], &zero, sizeof(zero)) != 0)
			return "state for queues the device does not have";
	}
	if (s->device_len > sizeof(s->device))
		return "device state too long";
	if (msix_check_state(dev->msix, &s->msix) < 0)
		return "MSI-X table entries out of range";
	/* Read-only PCI bits must be ours (the same device type and options). */
	for (unsigned int i = 0; i < PCI_CONFIG_SIZE; i++) {
		uint8_t ro = (uint8_t)~(dev->pci.wmask[i] | dev->pci.w1cmask[i]);
		if ((s->pci_config[i] ^ dev->pci.config[i]) & ro)
			return "PCI configuration of another device";
	}
	return NULL;
}

int virtio_dev_restore(struct virtio_dev *dev, const struct virtio_dev_state *s)
{
	struct virtq *queues = calloc(dev->nr_queues, sizeof(*queues));
	const char *why;

	if (!queues)
		return -ENOMEM;
	why = check_state(dev, s);
	if (why)
		goto out;
	/* Queues are checked on copies; the device's part is the last check
	 * (ops->restore validates before it loads). */
	bool event_idx = s->driver_features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	bool indirect = s->driver_features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	virtio_dev_lock(dev);
	for (unsigned int i = 0; i < dev->nr_queues && !why; i++) {
		queues[i] = dev->queues[i];
		queues[i].event_idx = event_idx;
		queues[i].indirect = indirect;
		if (virtq_restore(&queues[i], &s->queues[i], dev->host.mem) < 0)
			why = "a queue's size or rings are invalid";
	}
	if (!why && !dev->ops->restore && s->device_len)
		why = "device state for a device that has none";
	if (!why && dev->ops->restore && dev->ops->restore(dev, s->device, s->device_len) < 0)
		why = "the device's own state is invalid";
	virtio_dev_unlock(dev);
	if (why)
		goto out;

	/* Nothing below can fail any more. The PCI lock comes before ours. */
	pci_device_restore_config(&dev->pci, s->pci_config);
	msix_restore(dev->msix, &s->msix);
	virtio_dev_lock(dev);
	memcpy(dev->queues, queues, dev->nr_queues * sizeof(*queues));
	dev->driver_features = s->driver_features;
	dev->device_feature_select = s->device_feature_select;
	dev->driver_feature_select = s->driver_feature_select;
	dev->msix_config = s->msix_config;
	dev->queue_select = s->queue_select;
	dev->status = s->status;
	dev->isr = s->isr;
	dev->config_generation = s->config_generation;
	dev->broken = s->broken;
	dev->error_logged = s->broken;
	dev->generation++;
	/* Buffers the driver already announced must not wait for another kick
	 * (a paused device gets them at resume). */
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		if (virtio_dev_live(dev) && dev->queues[i].ready)
			virtio_kick(dev, i);
	virtio_dev_unlock(dev);
out:
	free(queues);
	if (why)
		log_error("virtio %s: cannot restore: %s", dev->name, why);
	return why ? -EINVAL : 0;
}
