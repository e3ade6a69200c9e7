// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci modern transport (virtio 1.x, 4.1): the PCI function, its
 * capabilities and the registers in BAR 0 (layout in virtio_pci.h), and the
 * KVM ioeventfds on the notification addresses.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vireo/le.h"
#include "virtio.h"
#include "virtio_pci.h"

static bool valid_vector(struct virtio_dev *dev, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < msix_nr_vectors(dev->msix);
}

static struct virtq *selected_queue(struct virtio_dev *dev)
{
	return dev->queue_select < dev->nr_queues ? &dev->queues[dev->queue_select] : NULL;
}

static void bad_access(struct virtio_dev *dev, const char *what, uint64_t offset, unsigned int size)
{
	virtio_count_stat(dev, VIRTIO_C_BAD_ACCESSES);
	log_warn_ratelimited(&dev->rl, "virtio %s: ignored %s of %u bytes at 0x%llx", dev->name,
			     what, size, (unsigned long long)offset);
}

/* The driver accepted features that go together (2.2, 3.1.1). */
static bool features_acceptable(struct virtio_dev *dev)
{
	uint64_t f = dev->driver_features;

	if (f & ~dev->device_features) {
		log_warn_ratelimited(&dev->rl, "virtio %s: the driver wants features 0x%llx that were not offered",
				     dev->name, (unsigned long long)(f & ~dev->device_features));
		return false;
	}
	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		log_warn_ratelimited(&dev->rl, "virtio %s: the driver did not accept VIRTIO_F_VERSION_1 "
				     "(legacy drivers are not supported)", dev->name);
		return false;
	}
	return !dev->ops->features_ok || dev->ops->features_ok(dev, f);
}

static void status_write(struct virtio_dev *dev, uint8_t v)
{
	uint8_t old = dev->status, now;

	if (v == 0) {
		virtio_dev_reset(dev);
		virtio_count_stat(dev, VIRTIO_C_RESETS);
		return;
	}
	/* The driver only adds bits (3.1.1), and only those it has: DEVICE_NEEDS_RESET
	 * is the device's, 0x10 and 0x20 are reserved. */
	now = (uint8_t)((v & VIRTIO_STATUS_DRIVER_BITS) | old);
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(dev))
		now &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
	dev->status = now;
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(now & VIRTIO_STATUS_FEATURES_OK))
			virtio_dev_fail(dev, "the driver set DRIVER_OK without FEATURES_OK");
		else if (!dev->broken)
			virtio_dev_activate(dev);
	}
}

/* Replaces the 32-bit half HI of *FIELD. */
static void set_half(uint64_t *field, bool hi, uint32_t v)
{
	if (hi)
		*field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

/* The 64-bit queue address register (desc, driver or device area) holding OFFSET. */
static uint64_t *queue_addr(struct virtq *vq, uint64_t offset)
{
	switch (offset & ~7ULL) {
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return &vq->desc_gpa;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return &vq->avail_gpa;
	default:
		return &vq->used_gpa;
	}
}

/* Lock held. Returns false for an access no register matches. */
static bool common_read(struct virtio_dev *dev, uint64_t offset, unsigned int size, uint64_t *v)
{
	struct virtq *vq = selected_queue(dev);

	if (offset >= VIRTIO_PCI_COMMON_Q_DESCLO && offset < VIRTIO_PCI_COMMON_Q_NDATA) {
		uint64_t val = vq ? *queue_addr(vq, offset) : 0;
		if (size == 8 && offset % 8 == 0)
			*v = val;
		else if (size == 4 && offset % 4 == 0)
			*v = offset % 8 ? val >> 32 : (uint32_t)val;
		else
			return false;
		return true;
	}
	switch (offset << 4 | size) {
	case VIRTIO_PCI_COMMON_DFSELECT << 4 | 4:
		*v = dev->device_feature_select;
		return true;
	case VIRTIO_PCI_COMMON_DF << 4 | 4:
		*v = dev->device_feature_select < 2
			     ? (uint32_t)(dev->device_features >> (32 * dev->device_feature_select)) : 0;
		return true;
	case VIRTIO_PCI_COMMON_GFSELECT << 4 | 4:
		*v = dev->driver_feature_select;
		return true;
	case VIRTIO_PCI_COMMON_GF << 4 | 4:
		*v = dev->driver_feature_select < 2
			     ? (uint32_t)(dev->driver_features >> (32 * dev->driver_feature_select)) : 0;
		return true;
	case VIRTIO_PCI_COMMON_MSIX << 4 | 2:
		*v = dev->msix_config;
		return true;
	case VIRTIO_PCI_COMMON_NUMQ << 4 | 2:
		*v = dev->nr_queues;
		return true;
	case VIRTIO_PCI_COMMON_STATUS << 4 | 1:
		*v = dev->status;
		return true;
	case VIRTIO_PCI_COMMON_CFGGENERATION << 4 | 1:
		*v = dev->config_generation;
		return true;
	case VIRTIO_PCI_COMMON_Q_SELECT << 4 | 2:
		*v = dev->queue_select;
		return true;
	case VIRTIO_PCI_COMMON_Q_SIZE << 4 | 2:
		*v = vq ? vq->size : 0; /* 0: no such queue */
		return true;
	case VIRTIO_PCI_COMMON_Q_MSIX << 4 | 2:
		*v = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
		return true;
	case VIRTIO_PCI_COMMON_Q_ENABLE << 4 | 2:
		*v = vq ? vq->ready : 0;
		return true;
	case VIRTIO_PCI_COMMON_Q_NOFF << 4 | 2:
		*v = vq ? vq->index : 0;
		return true;
	case VIRTIO_PCI_COMMON_Q_NDATA << 4 | 2:
	case VIRTIO_PCI_COMMON_Q_RESET << 4 | 2:
		*v = 0; /* VIRTIO_F_NOTIF_CONFIG_DATA and VIRTIO_F_RING_RESET are not offered */
		return true;
	}
	return false;
}

static void queue_enable(struct virtio_dev *dev, struct virtq *vq, uint16_t v)
{
	if (v != 1 || vq->ready)
		return; /* 0 may not be written (no VIRTIO_F_RING_RESET) */
	if (virtq_start(vq, dev->host.mem) < 0) {
		virtio_dev_fail(dev, "queue %u: %s", vq->index, vq->error);
		return;
	}
	if (virtio_dev_live(dev)) {
		/* Enabled after DRIVER_OK (not the spec's order, but harmless): serve it. */
		vq->event_idx = virtio_has_feature(dev, VIRTIO_F_RING_EVENT_IDX);
		vq->indirect = virtio_has_feature(dev, VIRTIO_F_RING_INDIRECT_DESC);
		virtio_kick(dev, vq->index);
	}
}

/* Lock held. Returns false for an access no writable register matches. */
static bool common_write(struct virtio_dev *dev, uint64_t offset, unsigned int size, uint64_t v)
{
	struct virtq *vq = selected_queue(dev);

	if (offset >= VIRTIO_PCI_COMMON_Q_DESCLO && offset < VIRTIO_PCI_COMMON_Q_NDATA) {
		if (!vq || vq->ready)
			return false; /* no such queue, or set up already */
		uint64_t *field = queue_addr(vq, offset);
		if (size == 8 && offset % 8 == 0)
			*field = v;
		else if (size == 4 && offset % 4 == 0)
			set_half(field, offset % 8, (uint32_t)v);
		else
			return false;
		return true;
	}
	switch (offset << 4 | size) {
	case VIRTIO_PCI_COMMON_DFSELECT << 4 | 4:
		dev->device_feature_select = (uint32_t)v;
		return true;
	case VIRTIO_PCI_COMMON_GFSELECT << 4 | 4:
		dev->driver_feature_select = (uint32_t)v;
		return true;
	case VIRTIO_PCI_COMMON_GF << 4 | 4:
		if ((dev->status & VIRTIO_STATUS_FEATURES_OK) || dev->driver_feature_select >= 2)
			return false;
		set_half(&dev->driver_features, dev->driver_feature_select == 1, (uint32_t)v);
		return true;
	case VIRTIO_PCI_COMMON_MSIX << 4 | 2:
		dev->msix_config = valid_vector(dev, (uint16_t)v) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return true;
	case VIRTIO_PCI_COMMON_STATUS << 4 | 1:
		status_write(dev, (uint8_t)v);
		return true;
	case VIRTIO_PCI_COMMON_Q_SELECT << 4 | 2:
		dev->queue_select = (uint16_t)v;
		return true;
	case VIRTIO_PCI_COMMON_Q_SIZE << 4 | 2:
		if (!vq || vq->ready)
			return false;
		if (!v || (v & (v - 1)) || v > vq->max_size) {
			virtio_dev_fail(dev, "queue %u: size %u is not a power of two up to %u",
					vq->index, (unsigned int)v, vq->max_size);
			return true;
		}
		vq->size = (uint16_t)v;
		return true;
	case VIRTIO_PCI_COMMON_Q_MSIX << 4 | 2:
		if (!vq)
			return false;
		vq->msix_vector = valid_vector(dev, (uint16_t)v) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return true;
	case VIRTIO_PCI_COMMON_Q_ENABLE << 4 | 2:
		if (!vq)
			return false;
		queue_enable(dev, vq, (uint16_t)v);
		return true;
	case VIRTIO_PCI_COMMON_Q_RESET << 4 | 2:
		return false; /* VIRTIO_F_RING_RESET is not offered */
	}
	return false;
}

static bool sized(unsigned int size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static void virtio_bar_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct virtio_dev *dev = opaque;
	uint64_t region = offset & ~(uint64_t)(VIRTIO_PCI_REGION_SIZE - 1);
	uint64_t off = offset - region, v = 0;

	switch (region) {
	case VIRTIO_PCI_COMMON_OFFSET:
		virtio_dev_lock(dev);
		if (!common_read(dev, off, size, &v))
			bad_access(dev, "common configuration read", offset, size);
		virtio_dev_unlock(dev);
		break;
	case VIRTIO_PCI_ISR_OFFSET:
		if (off == 0) {
			virtio_dev_lock(dev);
			v = dev->isr;
			dev->isr = 0; /* reading acknowledges */
			virtio_dev_unlock(dev);
		}
		break;
	case VIRTIO_PCI_DEVICE_OFFSET:
		if (sized(size) && off + size <= dev->ops->config_size) {
			virtio_dev_lock(dev);
			if (dev->ops->config_read)
				dev->ops->config_read(dev, (uint32_t)off, &v, size);
			virtio_dev_unlock(dev);
		} else {
			bad_access(dev, "device configuration read", offset, size);
		}
		break;
	case VIRTIO_PCI_MSIX_TABLE:
		msix_table_read(dev->msix, off, data, size);
		return;
	case VIRTIO_PCI_MSIX_PBA:
		msix_pba_read(dev->msix, off, data, size);
		return;
	default: /* notifications read as 0, the rest is empty */
		break;
	}
	memcpy(data, &v, size);
}

static void notify_write(struct virtio_dev *dev, uint64_t off)
{
	unsigned int q = (unsigned int)(off / VIRTIO_PCI_NOTIFY_MULT);

	/* Reached only without an ioeventfd (or for a write it did not match). */
	if (off % VIRTIO_PCI_NOTIFY_MULT || q >= dev->nr_queues) {
		virtio_count_stat(dev, VIRTIO_C_IGNORED_NOTIFICATIONS);
		log_warn_ratelimited(&dev->rl, "virtio %s: notification for queue %llu, which does not exist",
				     dev->name, (unsigned long long)(off / VIRTIO_PCI_NOTIFY_MULT));
		return;
	}
	virtio_count_stat(dev, VIRTIO_C_NOTIFY_EXITS);
	virtio_kick(dev, q);
}

static void virtio_bar_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct virtio_dev *dev = opaque;
	uint64_t region = offset & ~(uint64_t)(VIRTIO_PCI_REGION_SIZE - 1);
	uint64_t off = offset - region, v = 0;

	memcpy(&v, data, size);
	switch (region) {
	case VIRTIO_PCI_COMMON_OFFSET:
		virtio_dev_lock(dev);
		if (!common_write(dev, off, size, v))
			bad_access(dev, "common configuration write", offset, size);
		virtio_dev_unlock(dev);
		break;
	case VIRTIO_PCI_DEVICE_OFFSET:
		if (sized(size) && off + size <= dev->ops->config_size) {
			virtio_dev_lock(dev);
			if (dev->ops->config_write)
				dev->ops->config_write(dev, (uint32_t)off, &v, size);
			virtio_dev_unlock(dev);
		} else {
			bad_access(dev, "device configuration write", offset, size);
		}
		break;
	case VIRTIO_PCI_NOTIFY_OFFSET:
		notify_write(dev, off);
		break;
	case VIRTIO_PCI_MSIX_TABLE:
		msix_table_write(dev->msix, off, data, size);
		break;
	default:
		bad_access(dev, "write", offset, size);
		break;
	}
}

static const struct bus_ops virtio_bar_ops = {
	.read = virtio_bar_read,
	.write = virtio_bar_write,
};

/* KVM_IOEVENTFD for queue Q at BASE (assign or deassign). */
static int ioeventfd(struct virtio_dev *dev, uint64_t base, unsigned int q, bool assign)
{
	struct kvm_ioeventfd req = {
		.addr = base + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT,
		.len = dev->ioeventfd_any_length ? 0 : 2, /* else the spec's 16-bit write */
		.fd = dev->kicks[q].src.fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(dev->host.vm_fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

/* Keeps the ioeventfds on the notification addresses wherever BAR 0 is
 * mapped (PCI lock held). Without them kicks still arrive, as MMIO writes. */
static void update_ioeventfds(struct virtio_dev *dev)
{
	const struct pci_bar *bar = &dev->pci.bars[VIRTIO_PCI_BAR];
	bool want = dev->host.vm_fd >= 0 && bar->mapped;
	uint64_t base = bar->mapped_at + VIRTIO_PCI_NOTIFY_OFFSET;
	unsigned int q;
	int ret = 0;

	if (dev->ioeventfds_on && (!want || dev->ioeventfd_base != base)) {
		for (q = 0; q < dev->nr_queues; q++)
			ioeventfd(dev, dev->ioeventfd_base, q, false);
		dev->ioeventfds_on = false;
	}
	if (!want || dev->ioeventfds_on)
		return;
	for (q = 0; q < dev->nr_queues && ret == 0; q++)
		ret = ioeventfd(dev, base, q, true);
	if (ret < 0) {
		log_warn_errno(ret, "virtio %s: KVM_IOEVENTFD at 0x%llx; notifications will stop the vCPU",
			       dev->name, (unsigned long long)base);
		while (--q > 0)
			ioeventfd(dev, base, q - 1, false);
		return;
	}
	dev->ioeventfds_on = true;
	dev->ioeventfd_base = base;
}

/* The window of VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): BAR offset and length. */
static bool cfg_window(struct virtio_dev *dev, uint64_t *offset, unsigned int *len)
{
	const uint8_t *cap = &dev->pci.config[dev->cfg_cap];
	uint32_t off = get_le32(cap + VIRTIO_PCI_CAP_OFFSET), l = get_le32(cap + VIRTIO_PCI_CAP_LENGTH);

	if (cap[VIRTIO_PCI_CAP_BAR] != VIRTIO_PCI_BAR || (l != 1 && l != 2 && l != 4) ||
	    off % l || off >= VIRTIO_PCI_BAR_SIZE)
		return false;
	*offset = off;
	*len = l;
	return true;
}

static uint32_t virtio_config_read(struct pci_device *pdev, unsigned int offset,
				   unsigned int size, uint32_t value)
{
	struct virtio_dev *dev = pdev->opaque;
	uint64_t off;
	unsigned int len;
	uint32_t v = 0;

	if (offset != dev->cfg_cap + (unsigned int)VIRTIO_PCI_CFG_CAP_DATA || !cfg_window(dev, &off, &len))
		return value;
	virtio_bar_read(dev, off, &v, len);
	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static bool overlaps(unsigned int off, unsigned int size, unsigned int start, unsigned int len)
{
	return off < start + len && start < off + size;
}

static void virtio_config_written(struct pci_device *pdev, unsigned int offset, unsigned int size)
{
	struct virtio_dev *dev = pdev->opaque;
	unsigned int ctrl_at = dev->msix_cap + 2;

	if (overlaps(offset, size, ctrl_at, 2)) {
		uint16_t ctrl = get_le16(&pdev->config[ctrl_at]);
		msix_set_control(dev->msix, ctrl & MSIX_FLAGS_ENABLE, ctrl & MSIX_FLAGS_MASKALL);
	}
	if (overlaps(offset, size, PCI_COMMAND, 2))
		virtio_dev_set_bus_master(dev, get_le16(&pdev->config[PCI_COMMAND]) & PCI_COMMAND_MASTER);
	if (offset == dev->cfg_cap + (unsigned int)VIRTIO_PCI_CFG_CAP_DATA) {
		uint64_t off;
		unsigned int len;
		if (cfg_window(dev, &off, &len)) {
			uint32_t v = get_le32(&pdev->config[offset]);
			virtio_bar_write(dev, off, &v, len);
		}
	}
	update_ioeventfds(dev);
}

static int add_virtio_cap(struct virtio_dev *dev, uint8_t type, uint32_t offset, uint32_t length,
			  unsigned int cap_len, uint32_t extra)
{
	uint8_t cap[VIRTIO_PCI_CFG_CAP_SIZE] = { 0 };

	cap[VIRTIO_PCI_CAP_VNDR] = PCI_CAP_ID_VNDR;
	cap[VIRTIO_PCI_CAP_LEN] = (uint8_t)cap_len;
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	cap[VIRTIO_PCI_CAP_BAR] = VIRTIO_PCI_BAR;
	put_le32(cap + VIRTIO_PCI_CAP_OFFSET, offset);
	put_le32(cap + VIRTIO_PCI_CAP_LENGTH, length);
	if (cap_len > VIRTIO_PCI_CAP_SIZE)
		put_le32(cap + VIRTIO_PCI_CAP_SIZE, extra);
	return pci_device_add_capability(&dev->pci, cap, cap_len);
}

int virtio_pci_init(struct virtio_dev *dev)
{
	const struct virtio_dev_ops *ops = dev->ops;
	struct pci_device *p = &dev->pci;
	unsigned int nvec = msix_nr_vectors(dev->msix);
	uint8_t msix[MSIX_CAP_SIZE] = { PCI_CAP_ID_MSIX };
	int ret, at;

	if (dev->host.vm_fd >= 0)
		dev->ioeventfd_any_length =
			ioctl(dev->host.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	pci_device_init(p, dev->name, VIRTIO_PCI_VENDOR_ID,
			(uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + ops->device_type), ops->pci_class,
			VIRTIO_PCI_REVISION, VIRTIO_PCI_VENDOR_ID,
			(uint16_t)(VIRTIO_PCI_SUBSYSTEM_BASE + ops->device_type));
	ret = pci_device_set_bar(p, VIRTIO_PCI_BAR, PCI_BAR_MEM32, VIRTIO_PCI_BAR_SIZE,
				 &virtio_bar_ops, dev);
	if (ret < 0)
		return ret;
	if ((ret = add_virtio_cap(dev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET,
				  VIRTIO_PCI_COMMON_SIZE, VIRTIO_PCI_CAP_SIZE, 0)) < 0 ||
	    (ret = add_virtio_cap(dev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET,
				  dev->nr_queues * VIRTIO_PCI_NOTIFY_MULT, VIRTIO_PCI_NOTIFY_CAP_SIZE,
				  VIRTIO_PCI_NOTIFY_MULT)) < 0 ||
	    (ret = add_virtio_cap(dev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET, 1,
				  VIRTIO_PCI_CAP_SIZE, 0)) < 0 ||
	    (ops->config_size &&
	     (ret = add_virtio_cap(dev, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET,
				   ops->config_size, VIRTIO_PCI_CAP_SIZE, 0)) < 0))
		return ret;
	at = add_virtio_cap(dev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VIRTIO_PCI_CFG_CAP_SIZE, 0);
	if (at < 0)
		return at;
	dev->cfg_cap = (uint8_t)at;
	/* The driver picks the BAR, offset and length of the window, and moves data. */
	p->wmask[at + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(&p->wmask[at + VIRTIO_PCI_CAP_OFFSET], 0xff, 8);
	memset(&p->wmask[at + VIRTIO_PCI_CFG_CAP_DATA], 0xff, 4);

	put_le16(msix + 2, (uint16_t)(nvec - 1));
	put_le32(msix + 4, VIRTIO_PCI_MSIX_TABLE | VIRTIO_PCI_BAR);
	put_le32(msix + 8, VIRTIO_PCI_MSIX_PBA | VIRTIO_PCI_BAR);
	at = pci_device_add_capability(p, msix, sizeof(msix));
	if (at < 0)
		return at;
	dev->msix_cap = (uint8_t)at;
	p->wmask[at + 3] = (MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL) >> 8;

	p->config_written = virtio_config_written;
	p->config_read = virtio_config_read;
	p->opaque = dev;
	return pci_add_device(dev->host.pci, p);
}

void virtio_pci_fini(struct virtio_dev *dev)
{
	if (dev->ioeventfds_on)
		for (unsigned int q = 0; q < dev->nr_queues; q++)
			ioeventfd(dev, dev->ioeventfd_base, q, false);
	dev->ioeventfds_on = false;
}
