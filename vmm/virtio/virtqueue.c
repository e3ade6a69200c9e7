// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "vireo/le.h"
#include "vireo/util.h"
#include "virtio_spec.h"
#include "virtqueue.h"

/* Ring indices are loaded and stored in place as 16-bit atomics. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio rings are little-endian");

#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4

static uint16_t load16(const uint8_t *p, int order)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, order);
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, v, order);
}

static bool is_pow2(unsigned int n)
{
	return n && !(n & (n - 1));
}

void virtq_init(struct virtq *vq, unsigned int index, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->max_size = max_size;
	virtq_reset(vq);
}

void virtq_reset(struct virtq *vq)
{
	unsigned int index = vq->index;
	uint16_t max = vq->max_size;

	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->max_size = max;
	vq->size = max;
	vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
}

/* Host pointer to a ring of LEN bytes at GPA aligned to ALIGN, or NULL. */
static uint8_t *ring_ptr(struct guest_memory *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa % align)
		return NULL;
	return guest_memory_ptr(mem, gpa, len);
}

int virtq_start(struct virtq *vq, struct guest_memory *mem)
{
	if (!is_pow2(vq->size) || vq->size > vq->max_size) {
		vq->error = "queue size is not a power of two within the maximum";
		return -EINVAL;
	}
	vq->desc = ring_ptr(mem, vq->desc_gpa, VIRTQ_DESC_BYTES(vq->size), VIRTQ_DESC_ALIGN);
	vq->avail = ring_ptr(mem, vq->avail_gpa, VIRTQ_AVAIL_BYTES(vq->size), VIRTQ_AVAIL_ALIGN);
	vq->used = ring_ptr(mem, vq->used_gpa, VIRTQ_USED_BYTES(vq->size), VIRTQ_USED_ALIGN);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = vq->avail = vq->used = NULL;
		vq->error = "a ring is not inside guest RAM or is misaligned";
		return -EINVAL;
	}
	vq->mem = mem;
	vq->ready = true;
	vq->signalled_used_valid = false;
	vq->pushed = false;
	return 0;
}

static int virtq_fail(struct virtq *vq, const char *why)
{
	vq->error = why;
	return -EINVAL;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc desc_read(const uint8_t *table, unsigned int i)
{
	uint8_t raw[VIRTQ_DESC_SIZE];

	/* One copy: the checks below look at what we use, not at guest memory. */
	memcpy(raw, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(raw));
	return (struct desc){ get_le64(raw), get_le32(raw + 8), get_le16(raw + 12),
			      get_le16(raw + 14) };
}

/* Walks the chain starting at HEAD into ELEM; 0 or -EINVAL. */
static int virtq_walk(struct virtq *vq, uint16_t head, struct virtq_elem *elem)
{
	const uint8_t *table = vq->desc;
	unsigned int table_size = vq->size, count = 0, i = head, nseg = 0;
	bool in_indirect = false;

	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	for (;;) {
		struct desc d = desc_read(table, i);

		if (++count > table_size)
			return virtq_fail(vq, "descriptor chain longer than its table (a loop?)");
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return virtq_fail(vq, "indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
			if (in_indirect)
				return virtq_fail(vq, "nested indirect descriptor");
			if (count != 1 || (d.flags & VIRTQ_DESC_F_NEXT))
				return virtq_fail(vq, "indirect descriptor chained to others");
			if (d.len == 0 || d.len % VIRTQ_DESC_SIZE ||
			    d.len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE)
				return virtq_fail(vq, "indirect table length not a multiple of 16 within 16 KiB");
			table = guest_memory_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return virtq_fail(vq, "indirect table outside guest RAM");
			table_size = d.len / VIRTQ_DESC_SIZE;
			in_indirect = true;
			count = 0;
			i = 0;
			continue;
		}
		bool writable = d.flags & VIRTQ_DESC_F_WRITE;
		if (!writable && elem->in_num)
			return virtq_fail(vq, "device-readable descriptor after a device-writable one");
		void *p = guest_memory_ptr(vq->mem, d.addr, d.len);
		if (!p)
			return virtq_fail(vq, "buffer outside guest RAM");
		if (d.len) {
			if (nseg == VIRTQ_MAX_SEGS)
				return virtq_fail(vq, "too many segments");
			elem->iov[nseg++] = (struct iovec){ p, d.len };
			if (writable) {
				elem->in_num++;
				elem->in_len += d.len;
			} else {
				elem->out_num++;
				elem->out_len += d.len;
			}
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_size)
			return virtq_fail(vq, "next descriptor index out of the table");
		i = d.next;
	}
}

/* Asks the driver to notify once avail idx passes IDX, then re-reads the
 * avail index (EVENT_IDX only). */
static uint16_t virtq_arm(struct virtq *vq)
{
	store16(vq->used + USED_RING + 8 * (size_t)vq->size, vq->last_avail_idx, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(vq->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (!vq->ready)
		return 0;
	avail_idx = load16(vq->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail_idx && vq->event_idx)
		avail_idx = virtq_arm(vq);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, "available index moved more than the queue size");
	head = load16(vq->avail + AVAIL_RING + 2 * (size_t)(vq->last_avail_idx & (vq->size - 1)),
		      __ATOMIC_RELAXED);
	if (head >= vq->size)
		return virtq_fail(vq, "available ring entry out of the descriptor table");
	ret = virtq_walk(vq, head, elem);
	if (ret < 0)
		return ret;
	vq->last_avail_idx++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (!vq->ready)
		return;
	e = vq->used + USED_RING + VIRTQ_USED_ELEM_SIZE * (size_t)(vq->used_idx & (vq->size - 1));
	put_le32(e, head);
	put_le32(e + 4, len);
	vq->used_idx++;
	/* The element (and the data written before it) before the index. */
	store16(vq->used + USED_IDX, vq->used_idx, __ATOMIC_RELEASE);
	vq->pushed = true;
}

/* 2.7.10.1: true when the driver's event index lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->ready || !vq->pushed)
		return false;
	vq->pushed = false;
	/* The used index must be visible before we read the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(vq->avail + AVAIL_FLAGS, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old_idx = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	uint16_t used_event = load16(vq->avail + AVAIL_RING + 2 * (size_t)vq->size, __ATOMIC_RELAXED);
	return need_event(used_event, new_idx, old_idx);
}

size_t virtq_elem_fill(const struct virtq_elem *elem, size_t offset, const void *buf, size_t len)
{
	const uint8_t *src = buf;
	size_t done = 0;

	for (unsigned int i = elem->out_num; i < elem->out_num + elem->in_num && done < len; i++) {
		const struct iovec *v = &elem->iov[i];
		if (offset >= v->iov_len) {
			offset -= v->iov_len;
			continue;
		}
		size_t n = MIN(v->iov_len - offset, len - done);
		memcpy((uint8_t *)v->iov_base + offset, src + done, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t virtq_elem_read(const struct virtq_elem *elem, size_t offset, void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;

	for (unsigned int i = 0; i < elem->out_num && done < len; i++) {
		const struct iovec *v = &elem->iov[i];
		if (offset >= v->iov_len) {
			offset -= v->iov_len;
			continue;
		}
		size_t n = MIN(v->iov_len - offset, len - done);
		memcpy(dst + done, (const uint8_t *)v->iov_base + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

void virtq_save(const struct virtq *vq, struct virtq_state *s)
{
	memset(s, 0, sizeof(*s));
	s->desc = vq->desc_gpa;
	s->avail = vq->avail_gpa;
	s->used = vq->used_gpa;
	s->size = vq->size;
	s->msix_vector = vq->msix_vector;
	s->last_avail_idx = vq->last_avail_idx;
	s->used_idx = vq->used_idx;
	s->signalled_used = vq->signalled_used;
	s->ready = vq->ready;
	s->signalled_used_valid = vq->signalled_used_valid;
}

int virtq_restore(struct virtq *vq, const struct virtq_state *s, struct guest_memory *mem)
{
	struct virtq tmp = *vq;

	if (!is_pow2(s->size) || s->size > vq->max_size || s->ready > 1 ||
	    s->signalled_used_valid > 1)
		return -EINVAL;
	virtq_reset(&tmp);
	tmp.desc_gpa = s->desc;
	tmp.avail_gpa = s->avail;
	tmp.used_gpa = s->used;
	tmp.size = s->size;
	tmp.msix_vector = s->msix_vector;
	if (s->ready && virtq_start(&tmp, mem) < 0)
		return -EINVAL;
	tmp.event_idx = vq->event_idx;
	tmp.indirect = vq->indirect;
	tmp.last_avail_idx = s->last_avail_idx;
	tmp.used_idx = s->used_idx;
	tmp.signalled_used = s->signalled_used;
	tmp.signalled_used_valid = s->signalled_used_valid;
	*vq = tmp;
	return 0;
}
