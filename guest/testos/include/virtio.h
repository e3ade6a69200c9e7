// SPDX-License-Identifier: Apache-2.0
/*
 * virtio 1.x over PCI (modern transport only), polled, in CPL3. Written from
 * the OASIS "Virtual I/O Device (VIRTIO)" specification, versions 1.1/1.2:
 * section 4.1 (PCI transport), 2.7 (split virtqueues), 3.1 (initialization).
 *
 * Use:
 *   virtio_find(type, &dev)          find the device, map its structures
 *   virtio_start(&dev, wanted)       reset, ACKNOWLEDGE, DRIVER, features,
 *                                    FEATURES_OK (checked)
 *   virtq_setup(&dev, &q, index, n)  one call per queue the driver uses
 *   virtio_driver_ok(&dev)           DRIVER_OK: the device is live
 *   virtq_add / virtq_kick / virtq_poll
 * No interrupts: MSI-X vectors are set to VIRTIO_MSI_NO_VECTOR, INTx is
 * disabled in the PCI command register, and the driver polls used rings.
 * testos is identity mapped, so buffer addresses are plain pointers.
 */
#ifndef TESTOS_VIRTIO_H
#define TESTOS_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_MODERN_BASE	0x1040		/* device id = 0x1040 + type */

/* Device types (spec 5). */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

/* device_status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Device-independent feature bits (spec 6). */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED	34
#define VIRTIO_F_IN_ORDER	35
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_BIT(b)		(1ULL << (b))

#define VIRTIO_MSI_NO_VECTOR	0xffff

/* How often wait loops look at device_status (DEVICE_NEEDS_RESET). */
#define VIRTIO_STATUS_POLL_US	10000

/* struct virtio_pci_common_cfg (spec 4.1.4.3). */
#define VIRTIO_COMMON_DFSELECT	0x00
#define VIRTIO_COMMON_DF	0x04
#define VIRTIO_COMMON_GFSELECT	0x08
#define VIRTIO_COMMON_GF	0x0c
#define VIRTIO_COMMON_MSIX	0x10
#define VIRTIO_COMMON_NUMQ	0x12
#define VIRTIO_COMMON_STATUS	0x14
#define VIRTIO_COMMON_CFGGEN	0x15
#define VIRTIO_COMMON_Q_SELECT	0x16
#define VIRTIO_COMMON_Q_SIZE	0x18
#define VIRTIO_COMMON_Q_MSIX	0x1a
#define VIRTIO_COMMON_Q_ENABLE	0x1c
#define VIRTIO_COMMON_Q_NOFF	0x1e
#define VIRTIO_COMMON_Q_DESCLO	0x20
#define VIRTIO_COMMON_Q_DESCHI	0x24
#define VIRTIO_COMMON_Q_AVAILLO	0x28
#define VIRTIO_COMMON_Q_AVAILHI	0x2c
#define VIRTIO_COMMON_Q_USEDLO	0x30
#define VIRTIO_COMMON_Q_USEDHI	0x34
#define VIRTIO_COMMON_LEN	0x38		/* the 1.0 layout: what we use */

/* Split virtqueue (spec 2.7). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	1
#define VIRTQ_MAX_SIZE		32768

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then le16 used_event (EVENT_IDX) */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];	/* then le16 avail_event (EVENT_IDX) */
};

/* virtio-blk (spec 5.2). */
#define VIRTIO_BLK_F_SIZE_MAX	1
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_GEOMETRY	4
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_TOPOLOGY	10
#define VIRTIO_BLK_F_CONFIG_WCE	11
#define VIRTIO_BLK_F_MQ		12
#define VIRTIO_BLK_F_DISCARD	13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_CFG_CAPACITY	0	/* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX	8
#define VIRTIO_BLK_CFG_SEG_MAX	12
#define VIRTIO_BLK_CFG_BLK_SIZE	20
#define VIRTIO_BLK_CFG_WRITEBACK 32
#define VIRTIO_BLK_CFG_NUM_QUEUES 34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2
#define VIRTIO_BLK_ID_BYTES	20
#define VIRTIO_BLK_SECTOR	512

struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct virtio_blk_discard_wz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;		/* bit 0: unmap (write zeroes only) */
};

/* virtio-net (spec 5.1). */
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_CFG_MAC	0
#define VIRTIO_NET_CFG_STATUS	6
#define VIRTIO_NET_S_LINK_UP	1
#define VIRTIO_NET_HDR_LEN	12	/* with VERSION_1: num_buffers included */

/* virtio-console (spec 5.3). */
#define VIRTIO_CONSOLE_F_SIZE	0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2
#define VIRTIO_CONSOLE_CFG_COLS	0
#define VIRTIO_CONSOLE_CFG_ROWS	2
#define VIRTIO_CONSOLE_CFG_MAX_PORTS 4

struct virtio_dev {
	struct pci_addr pci;
	char name[12];			/* "BB:DD.F" */
	unsigned int type;		/* VIRTIO_ID_* */
	uint16_t pci_device;		/* 0x1040 + type */
	uintptr_t common, notify, isr, devcfg;	/* mapped structures */
	uint32_t common_len, notify_len, isr_len, devcfg_len;
	uint64_t common_room, notify_room, devcfg_room;	/* bytes to the BAR's end */
	uint32_t notify_mult;		/* notify_off_multiplier */
	uint16_t num_queues;
	uint64_t offered;		/* device features */
	uint64_t features;		/* negotiated */
};

/* One buffer of a descriptor chain. */
struct virtq_sg {
	uint64_t addr;
	uint32_t len;
	bool write;			/* device writes it (VIRTQ_DESC_F_WRITE) */
};

struct virtq {
	struct virtio_dev *dev;
	uint16_t index;
	uint16_t num;			/* queue size in use */
	uint16_t mask;			/* num - 1 when num is a power of two */
	bool pow2;
	bool event_idx;			/* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t cap;			/* size the memory below was allocated for */
	struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *used_event;	/* &avail->ring[num] */
	volatile uint16_t *avail_event;	/* &used->ring[num] */
	uintptr_t notify_addr;
	/* Driver-side state (the device never sees it). */
	uint16_t free_head;		/* free descriptors, linked through next[] */
	uint16_t num_free;
	uint16_t avail_idx;		/* next avail index to fill */
	uint16_t published;		/* avail->idx as last written */
	uint16_t last_used;		/* next used index to read */
	uint16_t *next;			/* free list / chain links */
	uint16_t *chain_len;		/* descriptors of the chain at head; 0 = not in flight */
	uint64_t *token;		/* caller's value per chain head */
	/* Counters. */
	uint64_t notifies;		/* doorbell writes */
	uint64_t kicks;			/* virtq_kick calls that published something */
};

/* Scans PCI buses 0..max_bus for the nth (0-based) modern virtio device of
 * this type, or the one at "BB:DD.F" when at is not NULL. Assigns BARs that
 * are unassigned or above 4 GiB (in 0xc0000000-0xfebfffff), enables memory
 * decoding and bus mastering, disables INTx, and maps the common, notify,
 * ISR and device-specific structures. Returns 0, -ENODEV (none found) or
 * -EIO (found, but unusable; the reason is printed). */
int virtio_find(unsigned int type, unsigned int max_bus, unsigned int nth, const char *at,
		struct virtio_dev *dev);

/* virtio_find with the keys pci=BB:DD.F and max_bus=N from the command line;
 * fails the run (EXIT_DEVICE) when there is no usable device. */
void virtio_find_or_fail(unsigned int type, struct virtio_dev *dev);

/* Resets the device and waits (bounded, 1 s) for status 0. Returns 0 or
 * -ETIMEDOUT. */
int virtio_reset(struct virtio_dev *dev);

/* Reset, ACKNOWLEDGE, DRIVER, then accepts offered & (wanted | VERSION_1),
 * sets FEATURES_OK and checks the device kept it. Returns 0, -ENODEV
 * (no VERSION_1: legacy only), -EIO (FEATURES_OK refused) or -ETIMEDOUT. */
int virtio_start(struct virtio_dev *dev, uint64_t wanted);

/* Sets up queue index with size min(device maximum, want) (rounded down to
 * a power of two), MSI-X vector NO_VECTOR, rings in fresh memory, and
 * enables it. Reuses q's memory when it was set up before with at least
 * that size. Returns 0, -ENOENT (no such queue), -ENOMEM or -EIO. */
int virtq_setup(struct virtio_dev *dev, struct virtq *q, uint16_t index, uint16_t want);

/* Like virtq_setup, but writes exactly num as the queue size (no power of
 * two, no device maximum): for hostile only. */
int virtq_setup_exact(struct virtio_dev *dev, struct virtq *q, uint16_t index, uint16_t num);

/* Sets DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *dev);

uint8_t virtio_get_status(struct virtio_dev *dev);
void virtio_set_status(struct virtio_dev *dev, uint8_t status);
/* True when the device set DEVICE_NEEDS_RESET (prints it once per call). */
bool virtio_needs_reset(struct virtio_dev *dev, const char *who);

/* Device-specific configuration, read with the config_generation loop so
 * that multi-byte values are consistent. Out-of-range reads give 0. */
uint8_t virtio_cfg_read8(struct virtio_dev *dev, uint32_t off);
uint16_t virtio_cfg_read16(struct virtio_dev *dev, uint32_t off);
uint32_t virtio_cfg_read32(struct virtio_dev *dev, uint32_t off);
uint64_t virtio_cfg_read64(struct virtio_dev *dev, uint32_t off);

/* Common configuration registers, for code that misprograms them on purpose
 * (hostile); drivers use the functions above. */
uint32_t virtio_common_read(struct virtio_dev *dev, uint32_t off, unsigned int size);
void virtio_common_write(struct virtio_dev *dev, uint32_t off, unsigned int size, uint32_t v);

/* Feature names for messages: writes the set bits of f as a list. */
void virtio_features_str(unsigned int type, uint64_t f, char *buf, unsigned int size);

/* Adds a chain of n buffers (device-readable ones first, then writable
 * ones, as the spec requires) and places it in the avail ring, without
 * publishing it: virtq_kick does. token comes back from virtq_poll.
 * Returns the head descriptor index, or -ENOSPC when fewer than n
 * descriptors are free, -EINVAL for n == 0. */
int virtq_add(struct virtq *q, const struct virtq_sg *sg, unsigned int n, uint64_t token);

/* Publishes the chains added since the last kick (avail->idx) and writes
 * the doorbell unless the device said it does not need it (used->flags
 * NO_NOTIFY, or avail_event with EVENT_IDX). */
void virtq_kick(struct virtq *q);

/* Writes the doorbell unconditionally. */
void virtq_notify(struct virtq *q);

/* Takes the next used element: returns 1 with *token and *len set (the
 * chain's descriptors are free again), 0 when there is none, or -EPROTO
 * when the device broke the protocol (used index moved by more than the
 * queue size, unknown or idle descriptor id); *len then holds the bad
 * id or index and the queue is unusable until reset. */
int virtq_poll(struct virtq *q, uint64_t *token, uint32_t *len);

/* Chains in flight (added, not yet returned as used). */
static inline unsigned int virtq_in_flight(const struct virtq *q)
{
	return (unsigned int)(q->num - q->num_free);
}

/* Re-initializes the driver-side ring state of a queue that was set up
 * before (after a reset), with fresh (zeroed) rings. */
void virtq_clear(struct virtq *q);

#endif
