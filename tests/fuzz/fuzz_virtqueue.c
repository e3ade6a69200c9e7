// SPDX-License-Identifier: Apache-2.0
/*
 * The descriptor-chain walker against a guest that writes anything into its
 * rings. The input is a 16-byte header followed by the bytes of guest memory
 * at 0x10000 (where the rings are):
 *   [0] queue size = 1 << (h[0] % 11) (1 to 1024)
 *   [1] bit 0 EVENT_IDX, bit 1 INDIRECT_DESC negotiated
 *   [2..3] last_avail_idx, [4..5] used_idx (the device's view)
 *   [6] how many chains to take at most
 *   [8..15] unused
 * The rings sit at fixed places: descriptors at 0x10000, available ring at
 * 0x14000, used ring at 0x15000; addresses inside descriptors are whatever
 * the input says. Every segment the walker returns must lie in guest RAM;
 * the target writes the first and last byte of every writable segment and
 * reads those of every readable one, so ASan sees any that does not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "vireo/log.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION 0x10000
#define REGION_LEN 0x10000

static struct guest_memory *mem;
static struct virtq_elem elem;

static bool in_ram(const void *p, size_t len)
{
	const uint8_t *b = p;
	return b >= mem->host && len <= mem->ram_bytes && b - mem->host <= (ptrdiff_t)(mem->ram_bytes - len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	uint8_t sink = 0;

	if (size < 16)
		return 0;
	if (!mem) {
		log_set_level(LOG_LEVEL_NONE);
		if (guest_memory_create(4 << 20, 39, &mem) < 0)
			abort();
	}
	uint8_t *region = guest_memory_ptr(mem, REGION, REGION_LEN);
	memset(region, 0, REGION_LEN);
	memcpy(region, data + 16, size - 16 < REGION_LEN ? size - 16 : REGION_LEN);

	virtq_init(&vq, 0, VIRTQ_MAX_SIZE);
	vq.size = (uint16_t)(1u << (data[0] % 11));
	vq.desc_gpa = REGION;
	vq.avail_gpa = REGION + 0x4000;
	vq.used_gpa = REGION + 0x5000;
	if (virtq_start(&vq, mem) < 0)
		abort(); /* the fixed layout always fits */
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	vq.last_avail_idx = (uint16_t)(data[2] | data[3] << 8);
	vq.used_idx = (uint16_t)(data[4] | data[5] << 8);

	for (unsigned int n = 0; n < data[6]; n++) {
		int ret = virtq_pop(&vq, &elem);
		if (ret < 0) {
			if (!vq.error)
				abort();
			break;
		}
		if (ret == 0)
			break;
		if (elem.out_num + elem.in_num > VIRTQ_MAX_SEGS || elem.head >= vq.size)
			abort();
		for (unsigned int i = 0; i < elem.out_num + elem.in_num; i++) {
			struct iovec *v = &elem.iov[i];
			if (!in_ram(v->iov_base, v->iov_len))
				abort();
			uint8_t *b = v->iov_base;
			if (i < elem.out_num) {
				sink ^= b[0] ^ b[v->iov_len - 1];
			} else {
				b[0] = 0xa5;
				b[v->iov_len - 1] = 0x5a;
			}
		}
		virtq_push(&vq, elem.head, (uint32_t)elem.in_len);
		virtq_should_notify(&vq);
	}
	/* Keep the reads. */
	__asm__ volatile("" : : "r"(sink));
	return 0;
}
