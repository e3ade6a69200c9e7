/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio device framework: what every virtio device of vireo-vmm is made
 * of, and what it is given. A device type (rng.c, console.c, blk, net, ...)
 * is a few hundred lines: a struct that embeds struct virtio_dev, one
 * struct virtio_dev_ops, and its queue handlers. The framework (virtio.c,
 * virtio_pci.c, virtio_state.c) does the rest: the virtio-pci modern
 * transport (registers, capabilities, MSI-X, ioeventfds), feature
 * negotiation, queue setup, reset, errors, counters and save/restore.
 *
 * Writing a device:
 *
 *   struct virtio_foo { struct virtio_dev vdev; ...own state...; };
 *   static const struct virtio_dev_ops foo_ops = {
 *           .type_name = "foo", .device_type = VIRTIO_ID_FOO,
 *           .pci_class = 0x..., .features = VIRTIO_BIT(FOO_F_X),
 *           .config_size = sizeof(struct foo_config),
 *           .config_read = foo_config_read, .queue_notify = foo_notify,
 *           .reset = foo_reset, ...
 *   };
 *   int virtio_foo_create(const struct virtio_host *host, const char *name, ...,
 *                         struct virtio_dev **out)
 *   {
 *           struct virtio_foo *f = calloc(1, sizeof(*f));
 *           ...fill own state...
 *           ret = virtio_dev_init(&f->vdev, &foo_ops, host, name, NR_QUEUES, QUEUE_SIZE);
 *           ...
 *   }
 *
 * Queues: dev->queues[i] (struct virtq, virtqueue.h). ops->queue_notify(dev,
 * vq) runs when the driver kicks queue i, on the device's I/O thread, with
 * the device lock held, only while the device is live (virtio_dev_live():
 * DRIVER_OK set, not broken, VM not paused, bus mastering on) and the queue
 * ready. A handler takes chains with virtio_pop(),
 * completes them with virtio_push() and then calls virtio_notify() once,
 * which interrupts the guest if the driver wants it:
 *
 *   while ((ret = virtio_pop(dev, vq, elem)) > 0) {
 *           len = ...serve elem (virtq_elem_read / virtq_elem_fill)...;
 *           virtio_push(dev, vq, elem, len);
 *   }
 *   virtio_notify(dev, vq);
 *
 * virtio_pop() < 0 means the driver broke a ring rule: the framework has
 * already marked the device broken (DEVICE_NEEDS_RESET, config interrupt,
 * one log line); the handler just returns.
 *
 * Work from other threads (a completion thread, the main loop handing in
 * console input): take the device lock with virtio_dev_lock(), check
 * virtio_dev_live(), then push/notify as above, and unlock.
 *
 * Threading and locks: register accesses run on vCPU threads; queue work on
 * the I/O thread given in struct virtio_host: the VM's shared one, or one the
 * device creates for itself (iothread_create, then a copy of the host with
 * it, and owns_iothread = true after virtio_dev_init). dev->lock serialises them: every ops callback except
 * destroy is called with it held. Lock order: PCI lock, then dev->lock, then
 * the MSI-X lock, then the irq_routing lock. Callbacks must not block for
 * long (they stall the vCPU touching a register), and must not call back
 * into register accesses.
 *
 * Reset: when the driver writes 0 to device_status, ops->reset runs (lock
 * held) and must stop everything the device has in flight before it
 * returns: after reset no buffer of the old rings may be touched. A device
 * that completes requests on another thread must drain them inside reset
 * without needing the device lock (or make its completion path tolerate
 * dev->generation having changed, and still drain). Queues, features,
 * status and vectors are reset by the framework after ops->reset.
 */
#ifndef VMM_VIRTIO_VIRTIO_H
#define VMM_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bus.h"
#include "../hw/msix.h"
#include "../hw/pci.h"
#include "../iothread.h"
#include "../memory.h"
#include "vireo/event_loop.h"
#include "vireo/log.h"
#include "virtio_spec.h"
#include "virtqueue.h"

#define VIRTIO_MAX_QUEUES        64
#define VIRTIO_DEVICE_STATE_MAX  512  /* bytes of device-specific saved state */
#define VIRTIO_MAX_COUNTERS      16   /* device-specific counters */

/* Features the framework offers for every device (on top of ops->features). */
#define VIRTIO_TRANSPORT_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) |           \
				   VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |  \
				   VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))

struct irq_routing;
struct virtio_dev;

/* What the VM gives every device. */
struct virtio_host {
	struct guest_memory *mem;
	struct pci *pci;                 /* the device is added to this bus */
	struct irq_routing *routing;     /* NULL: no KVM; interrupts only reach the vector eventfds */
	int vm_fd;                       /* -1: no ioeventfds; kicks come as MMIO writes */
	struct iothread *iothread;       /* where queue notifications are served; NULL:
					  * only by virtio_dev_poll() (fuzzers) */
};

struct virtio_dev_ops {
	const char *type_name;   /* "rng", "console", ...: stats and logs */
	uint16_t device_type;    /* VIRTIO_ID_* */
	uint32_t pci_class;      /* class code: base << 16 | sub << 8 | prog-if */
	uint64_t features;       /* device-specific features offered */
	uint32_t config_size;    /* bytes of device configuration space (<= 4096) */

	/* Device configuration space access, OFFSET + SIZE <= config_size,
	 * SIZE 1, 2, 4 or 8. Lock held. Optional (reads as zeros, writes ignored). */
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, void *data, unsigned int size);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const void *data,
			     unsigned int size);
	/* Whether the driver's FEATURES (already a subset of what was offered,
	 * with VERSION_1) go together. Optional. Lock held. */
	bool (*features_ok)(struct virtio_dev *dev, uint64_t features);
	/* The driver set DRIVER_OK: dev->driver_features and the ready queues
	 * are final. 0, or -errno to mark the device broken. Optional. Lock held. */
	int (*activate)(struct virtio_dev *dev);
	/* The driver kicked VQ (see above). Required. Lock held. */
	void (*queue_notify)(struct virtio_dev *dev, struct virtq *vq);
	/* Stop all I/O and return to the initial state (see above). Lock held. */
	void (*reset)(struct virtio_dev *dev);
	/* The VM is pausing (or bus mastering went off): return only once nothing
	 * the device has in flight can touch guest memory. Optional (a device that
	 * only works inside queue_notify has nothing in flight). Lock held. */
	void (*pause)(struct virtio_dev *dev);
	/* Device-specific state: save writes at most LEN bytes and returns how
	 * many; restore validates (-EINVAL leaves the device unchanged). Both
	 * optional (then the device has no state of its own). Lock held. */
	size_t (*save)(struct virtio_dev *dev, void *buf, size_t len);
	int (*restore)(struct virtio_dev *dev, const void *buf, size_t len);
	/* Frees the device (the container of dev) after virtio_dev_fini. Required. */
	void (*destroy)(struct virtio_dev *dev);

	/* Names of the device-specific counters in dev->counters[]. */
	const char *const *counter_names;
	unsigned int nr_counters;   /* <= VIRTIO_MAX_COUNTERS */
};

/* Framework counters, shown in the API's stats (atomic, relaxed). */
enum virtio_counter {
	VIRTIO_C_NOTIFICATIONS,         /* queue kicks served */
	VIRTIO_C_IGNORED_NOTIFICATIONS, /* kicks of absent, disabled or dead queues */
	VIRTIO_C_INTERRUPTS,            /* queue and config interrupts raised */
	VIRTIO_C_ERRORS,                /* times the device was marked broken */
	VIRTIO_C_RESETS,
	VIRTIO_C_BAD_ACCESSES,          /* register accesses of a wrong size or place */
	VIRTIO_C_NOTIFY_EXITS,          /* kicks that stopped a vCPU (no ioeventfd matched) */
	VIRTIO_C_COUNT
};
extern const char *const virtio_counter_names[VIRTIO_C_COUNT];

/* One queue's notification source on the I/O thread. */
struct virtio_kick {
	struct event_source src;     /* src.fd: eventfd, bound to the notify address */
	struct virtio_dev *dev;
	unsigned int queue;
};

struct virtio_dev {
	/* Constant after virtio_dev_init. */
	const struct virtio_dev_ops *ops;
	char name[32];                 /* "rng0": logs and stats */
	struct virtio_host host;
	struct pci_device pci;
	struct msix *msix;             /* nr_queues + 1 vectors */
	unsigned int nr_queues;
	uint64_t device_features;      /* what is offered: transport + ops->features */
	struct virtio_kick *kicks;     /* one per queue */
	struct virtq *queues;          /* one per queue */
	bool ioeventfd_any_length;
	bool owns_iothread;            /* set by a device that made host.iothread for
					* itself: virtio_dev_destroy stops and frees it */
	uint8_t msix_cap, cfg_cap;     /* where those capabilities are in config space */

	/* Guarded by the PCI lock (only touched from config-space hooks). */
	bool ioeventfds_on;
	uint64_t ioeventfd_base;       /* guest address of the notify region, if on */

	pthread_mutex_t lock;          /* guards everything below */
	uint64_t driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t msix_config, queue_select;
	uint8_t status, isr, config_generation;
	bool broken;                   /* DEVICE_NEEDS_RESET is set; no queue work */
	bool paused;                   /* the VM is paused: no queue work */
	bool bus_master;               /* PCI Bus Master Enable: no DMA without it */
	bool error_logged;             /* one line per broken episode */
	uint32_t generation;           /* bumped by every reset */
	struct log_ratelimit rl;

	uint64_t stats[VIRTIO_C_COUNT];
	uint64_t counters[VIRTIO_MAX_COUNTERS]; /* device-specific, names in ops */
};

/*
 * Builds the transport for DEV (embedded in its device struct, whose own
 * fields must be ready: the guest may use the device as soon as this
 * returns): NR_QUEUES queues (1 to VIRTIO_MAX_QUEUES) of at most
 * QUEUE_MAX_SIZE entries (a power of two <= VIRTQ_MAX_SIZE), MSI-X with
 * NR_QUEUES + 1 vectors, the PCI function (added to host->pci), the kick
 * eventfds (added to host->iothread). Returns 0 or -errno (logged); on
 * failure nothing is left registered but DEV still needs virtio_dev_fini.
 */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    const struct virtio_host *host, const char *name, unsigned int nr_queues,
		    uint16_t queue_max_size);
/*
 * Undoes virtio_dev_init (ioeventfds, irqfds, eventfds). The device's I/O
 * thread must be stopped and no vCPU running. Does not free DEV.
 */
void virtio_dev_fini(struct virtio_dev *dev);
/* Stops the device's own I/O thread (owns_iothread), virtio_dev_fini, then
 * ops->destroy. A shared I/O thread must be stopped before. NULL is fine. */
void virtio_dev_destroy(struct virtio_dev *dev);

/* Serves, on the calling thread, every queue that was kicked: for fuzzers and
 * tests of devices built without an I/O thread (host.iothread NULL). */
void virtio_dev_poll(struct virtio_dev *dev);

static inline void virtio_dev_lock(struct virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
}
static inline void virtio_dev_unlock(struct virtio_dev *dev)
{
	pthread_mutex_unlock(&dev->lock);
}

/* Lock held: the device may do queue work and touch guest memory: DRIVER_OK
 * is set, it is not broken, the VM is not paused and bus mastering is on. */
bool virtio_dev_live(const struct virtio_dev *dev);

/* VM pause and resume (any thread but the device's I/O thread): after
 * virtio_dev_pause() returns, no queue work is running or will start, and
 * ops->pause has drained what was in flight, until virtio_dev_resume(),
 * which serves whatever the driver made available meanwhile. */
void virtio_dev_pause(struct virtio_dev *dev);
void virtio_dev_resume(struct virtio_dev *dev);
/* Lock held: whether the driver accepted feature bit BIT. */
static inline bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return (dev->driver_features >> bit) & 1;
}

/* Queue helpers, lock held (see the top of this file). */
int virtio_pop(struct virtio_dev *dev, struct virtq *vq, struct virtq_elem *elem);
void virtio_push(struct virtio_dev *dev, struct virtq *vq, const struct virtq_elem *elem,
		 uint32_t len);
void virtio_notify(struct virtio_dev *dev, struct virtq *vq);

/*
 * Marks the device broken (lock held): sets DEVICE_NEEDS_RESET, stops queue
 * work until the driver resets the device, raises a configuration-change
 * interrupt, and logs REASON once per episode (rate-limited). The VMM runs on.
 */
void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The device configuration changed (lock held): config_generation moves on
 * and the driver gets a configuration-change interrupt. */
void virtio_config_changed(struct virtio_dev *dev);

/* Adds N to device-specific counter I (any thread). */
static inline void virtio_count(struct virtio_dev *dev, unsigned int i, uint64_t n)
{
	__atomic_add_fetch(&dev->counters[i], n, __ATOMIC_RELAXED);
}

/* Everything the device and its transport remember (version 1). */
#define VIRTIO_STATE_VERSION 1
struct virtio_dev_state {
	uint32_t version;
	uint16_t device_type, nr_queues;
	uint8_t pci_config[PCI_CONFIG_SIZE];
	uint64_t driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t msix_config, queue_select;
	uint8_t status, isr, config_generation, broken;
	struct virtq_state queues[VIRTIO_MAX_QUEUES];
	struct msix_state msix;
	uint32_t device_len;
	uint8_t device[VIRTIO_DEVICE_STATE_MAX];
};

/* Records DEV (takes the lock). */
void virtio_dev_save(struct virtio_dev *dev, struct virtio_dev_state *s);
/*
 * Loads S into DEV, a device of the same type and queue count built with the
 * same options, whose guest is not running. Everything is validated before
 * anything changes: -EINVAL (logged) leaves DEV as it was.
 */
int virtio_dev_restore(struct virtio_dev *dev, const struct virtio_dev_state *s);

/* Stats for the control API: a JSON object (jansson json_t *) with name,
 * type, PCI slot, status, features and every counter. */
struct json_t;
struct json_t *virtio_dev_stats(struct virtio_dev *dev);

/* Transport internals shared by virtio.c, virtio_pci.c and virtio_state.c. */
int virtio_pci_init(struct virtio_dev *dev);
void virtio_pci_fini(struct virtio_dev *dev);
void virtio_dev_reset(struct virtio_dev *dev);
void virtio_dev_activate(struct virtio_dev *dev);
void virtio_dev_set_bus_master(struct virtio_dev *dev, bool on);
void virtio_raise(struct virtio_dev *dev, uint16_t vector, uint8_t isr_bit);
/* Makes the I/O thread look at queue I, as a driver kick does (any thread). */
void virtio_kick(struct virtio_dev *dev, unsigned int i);
void virtio_count_stat(struct virtio_dev *dev, enum virtio_counter c);

#endif
