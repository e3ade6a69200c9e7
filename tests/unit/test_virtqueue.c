// SPDX-License-Identifier: Apache-2.0
/*
 * The split-ring walker with rings built by hand in real guest memory: good
 * chains (direct, indirect, zero-length parts, index wrap-around), every kind
 * of hostile chain, notification suppression (flags and EVENT_IDX), and
 * the state round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vireo/log.h"
#include "virtio/virtqueue.h"
#include "virtio_guest.h"

#define DESC   0x10000
#define AVAIL  0x20000
#define USED   0x30000
#define INDIR  0x40000
#define BUF    0x100000
#define QSIZE  16

struct fixture {
	struct guest_memory *mem;
	struct guest_ring r;
	struct virtq vq;
	struct virtq_elem elem;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_memory_create(16 << 20, 39, &f->mem), 0);
	ring_init(&f->r, f->mem, QSIZE, DESC, AVAIL, USED);
	virtq_init(&f->vq, 0, 256);
	f->vq.size = QSIZE;
	f->vq.desc_gpa = DESC;
	f->vq.avail_gpa = AVAIL;
	f->vq.used_gpa = USED;
	f->vq.indirect = true;
	assert_int_equal(virtq_start(&f->vq, f->mem), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	guest_memory_destroy(f->mem);
	free(f);
	return 0;
}

static void *host(struct fixture *f, uint64_t gpa)
{
	return gptr(f->mem, gpa, 1);
}

static void test_direct_chain(void **state)
{
	struct fixture *f = *state;

	ring_desc(f->mem, DESC, 3, BUF, 100, VIRTQ_DESC_F_NEXT, 7);
	ring_desc(f->mem, DESC, 7, BUF + 0x1000, 0, VIRTQ_DESC_F_NEXT, 1); /* zero-length: no segment */
	ring_desc(f->mem, DESC, 1, BUF + 0x2000, 50, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	ring_desc(f->mem, DESC, 2, BUF + 0x3000, 60, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0); /* nothing offered yet */
	ring_offer(&f->r, 3);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.head, 3);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 2);
	assert_int_equal(f->elem.out_len, 100);
	assert_int_equal(f->elem.in_len, 110);
	assert_ptr_equal(f->elem.iov[0].iov_base, host(f, BUF));
	assert_ptr_equal(f->elem.iov[1].iov_base, host(f, BUF + 0x2000));
	assert_int_equal(f->elem.iov[2].iov_len, 60);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);

	/* Fill spans both writable segments; read sees the readable one. */
	uint8_t big[110], back[100];
	memset(big, 0xab, sizeof(big));
	assert_int_equal(virtq_elem_fill(&f->elem, 0, big, sizeof(big)), 110);
	assert_int_equal(*(uint8_t *)host(f, BUF + 0x3000 + 59), 0xab);
	assert_int_equal(virtq_elem_fill(&f->elem, 100, big, 50), 10);
	memset(host(f, BUF), 0x5a, 100);
	assert_int_equal(virtq_elem_read(&f->elem, 10, back, sizeof(back)), 90);
	assert_int_equal(back[89], 0x5a);

	virtq_push(&f->vq, f->elem.head, 110);
	uint32_t id, len;
	assert_int_equal(ring_used_idx(&f->r), 1);
	ring_used_elem(&f->r, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 110);
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;

	ring_desc(f->mem, INDIR, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	ring_desc(f->mem, INDIR, 2, BUF + 0x100, 32, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	ring_desc(f->mem, INDIR, 1, BUF + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(f->mem, DESC, 5, INDIR, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&f->r, 5);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.head, 5);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 2);
	assert_int_equal(f->elem.in_len, 33);
	assert_ptr_equal(f->elem.iov[2].iov_base, host(f, BUF + 0x200));
}

static void test_many_chains_and_wraparound(void **state)
{
	struct fixture *f = *state;

	/* Start just below the 16-bit wrap: indices are free-running. */
	f->vq.last_avail_idx = 65530;
	f->vq.used_idx = 65530;
	ring_set_avail_idx(&f->r, 65530);
	for (unsigned int round = 0; round < 3; round++) {
		for (uint16_t i = 0; i < QSIZE; i++) {
			ring_desc(f->mem, DESC, i, BUF + 64ULL * i, 64, VIRTQ_DESC_F_WRITE, 0);
			ring_offer(&f->r, i);
		}
		for (uint16_t i = 0; i < QSIZE; i++) {
			assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
			assert_int_equal(f->elem.head, i);
			virtq_push(&f->vq, f->elem.head, 64);
		}
		assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	}
	assert_int_equal(ring_used_idx(&f->r), (uint16_t)(65530 + 3 * QSIZE));
}

/* Offers chain HEAD and expects the walker to refuse it without consuming it. */
static void expect_refused(struct fixture *f, uint16_t head, const char *what)
{
	uint16_t before = f->vq.last_avail_idx;

	ring_offer(&f->r, head);
	f->vq.error = NULL;
	int ret = virtq_pop(&f->vq, &f->elem);
	if (ret != -EINVAL)
		fail_msg("%s: virtq_pop returned %d", what, ret);
	assert_non_null(f->vq.error);
	assert_int_equal(f->vq.last_avail_idx, before);
	assert_int_equal(ring_used_idx(&f->r), 0);
	/* Take the offer back so the next case starts clean. */
	ring_set_avail_idx(&f->r, before);
}

static void test_hostile_direct(void **state)
{
	struct fixture *f = *state;
	uint64_t end = f->mem->low_end;

	ring_desc(f->mem, DESC, 0, 0xa0000, 16, 0, 0);
	expect_refused(f, 0, "buffer in the VGA hole");
	ring_desc(f->mem, DESC, 0, end - 8, 16, 0, 0);
	expect_refused(f, 0, "buffer across the end of RAM");
	ring_desc(f->mem, DESC, 0, UINT64_MAX - 8, 64, 0, 0);
	expect_refused(f, 0, "address + length overflows");
	ring_desc(f->mem, DESC, 0, 0xfee00000, 4, 0, 0);
	expect_refused(f, 0, "buffer on the LAPIC");
	ring_desc(f->mem, DESC, 0, 1ULL << 40, 0, 0, 0);
	expect_refused(f, 0, "zero-length buffer outside RAM");
	ring_desc(f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	expect_refused(f, 0, "next out of the table");
	ring_desc(f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_refused(f, 0, "a descriptor pointing at itself");
	ring_desc(f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, DESC, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	ring_desc(f->mem, DESC, 2, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	expect_refused(f, 0, "a loop after two descriptors");
	for (uint16_t i = 0; i < QSIZE; i++) /* every descriptor once, then back to the start */
		ring_desc(f->mem, DESC, i, BUF, 1, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
	expect_refused(f, 0, "a chain longer than the queue");
	ring_desc(f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, DESC, 1, BUF, 16, 0, 0);
	expect_refused(f, 0, "readable after writable");
	ring_desc(f->mem, DESC, 0, BUF, 16, 0, 0);
	expect_refused(f, QSIZE, "head out of the table");
	expect_refused(f, 0xffff, "head far out of the table");

	/* The avail index may not run ahead by more than the queue size. */
	ring_set_avail_idx(&f->r, QSIZE + 1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), -EINVAL);
	assert_non_null(strstr(f->vq.error, "available index"));
	ring_set_avail_idx(&f->r, (uint16_t)-1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), -EINVAL);
	ring_set_avail_idx(&f->r, QSIZE); /* exactly a full ring is fine */
	for (uint16_t i = 0; i < QSIZE; i++)
		put_le16(gptr(f->mem, AVAIL + 4 + 2ULL * i, 2), 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
}

static void test_hostile_indirect(void **state)
{
	struct fixture *f = *state;

	ring_desc(f->mem, INDIR, 0, BUF, 16, 0, 0);
	ring_desc(f->mem, DESC, 0, INDIR, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect length not a multiple of 16");
	ring_desc(f->mem, DESC, 0, INDIR, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "empty indirect table");
	ring_desc(f->mem, DESC, 0, INDIR, 16 * (VIRTQ_MAX_SIZE + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect table over 1024 entries");
	ring_desc(f->mem, DESC, 0, f->mem->low_end - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect table across the end of RAM");
	ring_desc(f->mem, DESC, 0, 0xc0000000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect table in MMIO");
	ring_desc(f->mem, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, DESC, 1, BUF, 16, 0, 0);
	expect_refused(f, 0, "indirect with NEXT");
	ring_desc(f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, DESC, 1, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect after a direct descriptor");
	ring_desc(f->mem, INDIR, 0, INDIR + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_desc(f->mem, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "nested indirect");
	ring_desc(f->mem, INDIR, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, INDIR, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	ring_desc(f->mem, DESC, 0, INDIR, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "loop in the indirect table");
	ring_desc(f->mem, INDIR, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	expect_refused(f, 0, "next beyond the indirect table");
	ring_desc(f->mem, INDIR, 0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(f->mem, INDIR, 1, BUF, 16, 0, 0);
	expect_refused(f, 0, "readable after writable, indirect");
	ring_desc(f->mem, INDIR, 0, 0xa0000, 16, 0, 0);
	ring_desc(f->mem, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(f, 0, "indirect buffer in the VGA hole");
	f->vq.indirect = false;
	ring_desc(f->mem, INDIR, 0, BUF, 16, 0, 0);
	expect_refused(f, 0, "indirect without the feature");

	/* The largest indirect table there may be: 1024 entries, one chain. */
	f->vq.indirect = true;
	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++)
		ring_desc(f->mem, INDIR, i, BUF + i, 1,
			  i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	ring_desc(f->mem, DESC, 0, INDIR, 16 * VIRTQ_MAX_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.out_num, VIRTQ_MAX_SIZE);
}

static void test_start_checks_rings(void **state)
{
	struct fixture *f = *state;
	struct virtq vq;

	virtq_init(&vq, 1, 256);
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.size = 24;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL);
	vq.size = 512;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL);
	vq.size = 0;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL);
	vq.size = 256;
	vq.desc_gpa = DESC + 8;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL); /* descriptors need 16-byte alignment */
	vq.desc_gpa = DESC;
	vq.used_gpa = USED + 2;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL);
	vq.used_gpa = f->mem->low_end - 64;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL); /* runs off the end of RAM */
	vq.used_gpa = 0x9fc00;
	assert_int_equal(virtq_start(&vq, f->mem), -EINVAL); /* runs into the VGA hole */
	assert_false(vq.ready);
	vq.used_gpa = USED;
	assert_int_equal(virtq_start(&vq, f->mem), 0);
	assert_true(vq.ready);
}

static void test_notification_flags(void **state)
{
	struct fixture *f = *state;

	assert_false(virtq_should_notify(&f->vq)); /* nothing pushed */
	ring_desc(f->mem, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8);
	assert_true(virtq_should_notify(&f->vq));
	assert_false(virtq_should_notify(&f->vq));
	ring_set_avail_flags(&f->r, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8);
	assert_false(virtq_should_notify(&f->vq));
}

static void test_event_idx(void **state)
{
	struct fixture *f = *state;

	f->vq.event_idx = true;
	ring_desc(f->mem, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	/* An empty pop asks the driver to notify on its next buffer. */
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	assert_int_equal(ring_avail_event(&f->r), 0);
	for (int i = 0; i < 3; i++)
		ring_offer(&f->r, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
		virtq_push(&f->vq, 0, 8);
	}
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	assert_int_equal(ring_avail_event(&f->r), 3);
	/* The first decision always interrupts. */
	assert_true(virtq_should_notify(&f->vq));
	/* used_event = 4: interrupt once used idx passes 4, i.e. reaches 5. */
	ring_set_used_event(&f->r, 4);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8); /* used idx 4 */
	assert_false(virtq_should_notify(&f->vq));
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8); /* used idx 5 */
	assert_true(virtq_should_notify(&f->vq));
	/* The NO_INTERRUPT flag means nothing with EVENT_IDX. */
	ring_set_avail_flags(&f->r, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ring_set_used_event(&f->r, 5);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8);
	assert_true(virtq_should_notify(&f->vq));
}

static void test_state_round_trip(void **state)
{
	struct fixture *f = *state;
	struct virtq_state s, s2;
	struct virtq vq2;

	ring_desc(f->mem, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&f->r, 0);
	ring_offer(&f->r, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, 0, 8);
	f->vq.msix_vector = 1;
	virtq_save(&f->vq, &s);
	virtq_init(&vq2, 0, 256);
	vq2.indirect = true;
	assert_int_equal(virtq_restore(&vq2, &s, f->mem), 0);
	virtq_save(&vq2, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	/* The restored queue goes on where the first one stopped. */
	assert_int_equal(virtq_pop(&vq2, &f->elem), 1);
	virtq_push(&vq2, 0, 8);
	assert_int_equal(ring_used_idx(&f->r), 2);

	struct virtq_state bad = s;
	bad.size = 12;
	assert_int_equal(virtq_restore(&vq2, &bad, f->mem), -EINVAL);
	bad = s;
	bad.used = 0xfee00000;
	assert_int_equal(virtq_restore(&vq2, &bad, f->mem), -EINVAL);
	bad = s;
	bad.ready = 7;
	assert_int_equal(virtq_restore(&vq2, &bad, f->mem), -EINVAL);
	virtq_save(&vq2, &s2);
	assert_int_equal(s2.used_idx, 2); /* unchanged by the refused restores */
}

int main(void)
{
	log_set_level(LOG_LEVEL_NONE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_direct_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_chains_and_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_checks_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notification_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
