/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.x, 2.7): the device side of one queue in guest
 * memory. This layer knows rings, not devices or transports: it takes chains
 * from the available ring and returns them through the used ring, and says
 * when the driver wants an interrupt. Devices use it through virtio.h.
 *
 * Every guest address goes through guest_memory_ptr(), and every value read
 * from the rings is read once into a local copy before it is checked and
 * used, so a guest changing its rings concurrently can only confuse itself.
 * virtq_pop() refuses, without touching anything outside guest RAM:
 *  - an avail index that moved more than the queue size since last time;
 *  - a head or next index not below the table size;
 *  - a chain with more descriptors than its table (queue size, or entries
 *    of the indirect table): that is how loops are caught;
 *  - a buffer not wholly inside guest RAM;
 *  - a device-readable descriptor after a device-writable one;
 *  - indirect descriptors not negotiated, nested, chained (NEXT), not the
 *    head of the chain, of a length that is zero, not a multiple of 16 or
 *    more than VIRTQ_MAX_SIZE entries, or outside guest RAM.
 * On any of these it returns -EINVAL and sets vq->error to a description;
 * the queue's state is unchanged (the chain is not consumed). The caller
 * (the device framework) then marks the device broken.
 *
 * Memory ordering (the driver runs on other CPUs): the avail index is
 * loaded with acquire semantics before the ring entries and descriptors it
 * covers; used elements are written before the used index is stored with
 * release semantics; a full fence separates publishing the used index (or
 * avail_event) from reading the driver's flags/used_event (or avail index),
 * as 2.7.7 and 2.7.10 require.
 *
 * Not thread-safe: one queue is used by one thread at a time (the device
 * framework holds the device lock).
 */
#ifndef VMM_VIRTIO_VIRTQUEUE_H
#define VMM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../memory.h"

#define VIRTQ_MAX_SIZE 1024
/* A chain never has more segments than this (direct: at most the queue size;
 * indirect: the only descriptor of the chain, at most VIRTQ_MAX_SIZE entries). */
#define VIRTQ_MAX_SEGS VIRTQ_MAX_SIZE

/* One chain taken from the available ring: device-readable segments first
 * (iov[0 .. out_num)), then device-writable ones (iov[out_num .. out_num + in_num)).
 * Zero-length descriptors add no segment. About 16 KiB: keep it off small stacks. */
struct virtq_elem {
	uint16_t head;          /* what virtq_push() gives back */
	unsigned int out_num, in_num;
	uint64_t out_len, in_len; /* bytes in each direction */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* What a queue's save/restore carries (part of struct virtio_dev_state). */
struct virtq_state {
	uint64_t desc, avail, used;    /* guest-physical ring addresses */
	uint16_t size;
	uint16_t msix_vector;
	uint16_t last_avail_idx, used_idx, signalled_used;
	uint8_t ready, signalled_used_valid;
};

struct virtq {
	unsigned int index;
	uint16_t max_size;     /* what the device offers (a power of two) */
	/* Set by the driver through the transport while the queue is not ready. */
	uint16_t size;
	uint16_t msix_vector;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	/* Negotiated ring features, set when the device is activated. */
	bool event_idx, indirect;

	/* Ring state. */
	uint16_t last_avail_idx;  /* next available entry to take */
	uint16_t used_idx;        /* our copy of used->idx */
	uint16_t signalled_used;  /* used_idx at the last interrupt decision */
	bool signalled_used_valid;
	bool pushed;              /* something was pushed since the last notify */

	/* Host views of the rings, valid while ready. */
	struct guest_memory *mem;
	uint8_t *desc, *avail, *used;
	const char *error;        /* what virtq_pop()/virtq_start() refused */
};

/* A queue of at most MAX_SIZE (a power of two <= VIRTQ_MAX_SIZE), reset. */
void virtq_init(struct virtq *vq, unsigned int index, uint16_t max_size);
/* Back to the state after init: size = max, not ready, no addresses. */
void virtq_reset(struct virtq *vq);

/*
 * Makes the queue ready with the size and ring addresses the driver set:
 * the size must be a power of two no larger than max_size and each ring
 * inside guest RAM and aligned. Returns -EINVAL with vq->error otherwise.
 */
int virtq_start(struct virtq *vq, struct guest_memory *mem);

/*
 * Takes the next available chain into ELEM. Returns 1 when one was taken,
 * 0 when the ring is empty (with EVENT_IDX, avail_event was then updated so
 * the driver notifies on its next buffer, and the ring re-checked), or
 * -EINVAL when the driver broke a rule (see above).
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);

/* Returns the chain HEAD with LEN bytes written into its writable part. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt for what was pushed since the last
 * call (used_event with EVENT_IDX, else the NO_INTERRUPT flag); false when
 * nothing was pushed. */
bool virtq_should_notify(struct virtq *vq);

/* Copy between a buffer and the chain's writable (fill) or readable (read)
 * segments, starting OFFSET bytes in. Return the bytes copied. */
size_t virtq_elem_fill(const struct virtq_elem *elem, size_t offset, const void *buf, size_t len);
size_t virtq_elem_read(const struct virtq_elem *elem, size_t offset, void *buf, size_t len);

void virtq_save(const struct virtq *vq, struct virtq_state *s);
/* Loads S (sizes and vector are checked by the caller's rules: vector
 * values are the transport's business); -EINVAL if the size is not a power
 * of two within max_size or a ready queue's rings are not in MEM. */
int virtq_restore(struct virtq *vq, const struct virtq_state *s, struct guest_memory *mem);

#endif
