// SPDX-License-Identifier: Apache-2.0
/*
 * hostile: misprograms a virtio device on purpose, one step at a time, and
 * checks that the device survives: after each step it either kept working
 * (a normal request still completes) or reported DEVICE_NEEDS_RESET
 * (status bit 0x40). Either way it is then reset and must work again.
 *
 * The spec leaves most of these cases to the device ("MUST NOT" on the
 * driver side), so no particular reaction is expected beyond that. A step
 * after which the device neither worked nor said it needs a reset prints
 * "unresponsive"; that fails the run only with strict=1. What fails the run
 * is a device that does not work again after a reset (or a dead VMM).
 *
 *   hostile: step N <name> -> ok|needs_reset|unresponsive [what happened]
 *   hostile: steps=N ok=A needs_reset=B unresponsive=C
 *
 * dev=rng (default) or dev=blk; only=N runs step N alone.
 */
#include "bootinfo.h"
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"
#include "virtio.h"

#define WAIT_BAD_US	30000		/* for the misprogrammed request */
#define WAIT_PROBE_US	300000		/* for a normal request after a step */
#define WAIT_RECOVER_US	2000000		/* for one after the reset */
#define PROBE_DESCS	3		/* descriptors a normal request needs (blk) */
#define QSIZE		64
#define FAR_ADDR	0x10000000000ULL	/* 1 TiB: no RAM there */
#define BUF_SIZE	4096
#define STATUS_EVERY_US	1000		/* device_status reads while waiting */

enum outcome { OUT_OK, OUT_NEEDS_RESET, OUT_UNRESPONSIVE };

static struct {
	struct virtio_dev dev;
	struct virtq q;
	unsigned int type;
	uint64_t want;			/* features asked for */
	uint8_t *buf;			/* data buffers, 4 KiB each */
	struct virtio_blk_req_hdr *hdr;
	uint8_t *status;
	struct virtq_desc *table;	/* indirect tables */
	uint64_t capacity;
	uint64_t ram_end;		/* end of the highest RAM range below 4 GiB */
	/* what the step saw */
	char note[160];
	unsigned int note_len;
	unsigned int steps, ok, needs_reset, unresponsive;
} h;

static void note(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void note(const char *fmt, ...)
{
	va_list ap;

	if (h.note_len >= sizeof(h.note) - 1)
		return;
	va_start(ap, fmt);
	h.note_len += (unsigned int)con_vsnprintf(h.note + h.note_len,
						  sizeof(h.note) - h.note_len, fmt, ap);
	va_end(ap);
	if (h.note_len > sizeof(h.note) - 1)
		h.note_len = sizeof(h.note) - 1;
}

/* Reset, features, queue 0 of size qsize (exact when exact), no DRIVER_OK. */
static int setup_queue(uint16_t qsize, bool exact)
{
	int ret = virtio_start(&h.dev, h.want);

	if (ret < 0)
		return ret;
	return exact ? virtq_setup_exact(&h.dev, &h.q, 0, qsize) :
		       virtq_setup(&h.dev, &h.q, 0, qsize);
}

/* The normal bring-up. */
static int bring_up(void)
{
	int ret = setup_queue(QSIZE, false);

	if (ret < 0)
		return ret;
	virtio_driver_ok(&h.dev);
	return 0;
}

/* Buffer i of the data area (4 KiB each). */
static uint8_t *buf(unsigned int i)
{
	return h.buf + (size_t)i * BUF_SIZE;
}

/*
 * Adds a normal request (rng: a 64-byte read; blk: read sector 0) with
 * token, not kicked. Returns the head, and in chain[] the descriptors in
 * order (rng 1, blk 3). Returns -ENOSPC when the ring is full.
 */
static int add_normal(uint64_t token, uint16_t chain[PROBE_DESCS], unsigned int *n)
{
	struct virtq_sg sg[3];
	unsigned int slot = (unsigned int)(token & 7), i;
	int head;

	if (h.type == VIRTIO_ID_RNG) {
		sg[0] = (struct virtq_sg){ (uintptr_t)buf(slot), 64, true };
		*n = 1;
	} else {
		h.hdr[slot] = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
		h.status[slot * 16] = 0xff;
		sg[0] = (struct virtq_sg){ (uintptr_t)&h.hdr[slot], sizeof(h.hdr[0]), false };
		sg[1] = (struct virtq_sg){ (uintptr_t)buf(slot), 512, true };
		sg[2] = (struct virtq_sg){ (uintptr_t)&h.status[slot * 16], 1, true };
		*n = 3;
	}
	head = virtq_add(&h.q, sg, *n, token);
	if (head < 0)
		return head;
	chain[0] = (uint16_t)head;
	for (i = 1; i < *n; i++)
		chain[i] = h.q.next[chain[i - 1]];
	return head;
}

/* Did the normal request with this token succeed (given used length)? */
static bool normal_ok(uint64_t token, uint32_t len)
{
	if (h.type == VIRTIO_ID_RNG)
		return len > 0 && len <= 64;
	return h.status[(token & 7) * 16] == VIRTIO_BLK_S_OK;
}

/*
 * Polls for up to us: consumes completions, notes the bad request's
 * (token 1) result. Returns true when the device set NEEDS_RESET. Stops
 * early once the bad request came back (a device that reports an error
 * does so when it processes the request).
 */
static bool wait_bad(uint64_t us)
{
	uint64_t end = rdtsc() + tsc_from_us(us), next_check = 0;

	for (;;) {
		uint64_t token;
		uint32_t len;
		int ret = virtq_poll(&h.q, &token, &len);

		if (ret < 0) {
			note(" bad_used=%u", len);
			return virtio_needs_reset(&h.dev, NULL);
		}
		if (ret > 0) {
			if (token == 1) {
				note(" completed len=%u", len);
				if (h.type == VIRTIO_ID_BLK)
					note(" status=%u", h.status[16]);
				return virtio_needs_reset(&h.dev, NULL);
			}
			continue;
		}
		if (tsc_every(&next_check, STATUS_EVERY_US) && virtio_needs_reset(&h.dev, NULL))
			return true;
		if ((int64_t)(rdtsc() - end) > 0)
			return false;
		cpu_relax();
	}
}

/* A normal request on the current setup: 1 = it worked, 0 = no (or no room
 * for it), -1 = the device set NEEDS_RESET meanwhile. */
static int probe(uint64_t wait_us)
{
	uint16_t chain[PROBE_DESCS];
	unsigned int n;
	uint64_t end, want = 2, next_check = 0;

	if (add_normal(want, chain, &n) < 0) {
		note(" no_room_for_probe");
		return 0;
	}
	virtq_kick(&h.q);
	end = rdtsc() + tsc_from_us(wait_us);
	for (;;) {
		uint64_t token;
		uint32_t len;
		int ret = virtq_poll(&h.q, &token, &len);

		if (ret < 0) {
			note(" probe_bad_used=%u", len);
			return virtio_needs_reset(&h.dev, NULL) ? -1 : 0;
		}
		if (ret > 0) {
			if (token == want)
				return normal_ok(token, len) ? 1 : 0;
			continue;
		}
		if (tsc_every(&next_check, STATUS_EVERY_US) && virtio_needs_reset(&h.dev, NULL))
			return -1;
		if ((int64_t)(rdtsc() - end) > 0)
			return 0;
		cpu_relax();
	}
}

/* After the step: how is the device? */
static enum outcome assess(void)
{
	int p;

	if (wait_bad(WAIT_BAD_US))
		return OUT_NEEDS_RESET;
	if (!(virtio_get_status(&h.dev) & VIRTIO_STATUS_DRIVER_OK)) {
		/* The step left the device short of DRIVER_OK: nothing to probe. */
		note(" status=0x%02x", virtio_get_status(&h.dev));
		return OUT_OK;
	}
	p = probe(WAIT_PROBE_US);
	if (p < 0)
		return OUT_NEEDS_RESET;
	return p ? OUT_OK : OUT_UNRESPONSIVE;
}

/* Publishes what was added and rings the doorbell even if the device
 * said it does not need it (misbehaving requests must reach it). */
static void kick_hard(void)
{
	virtq_kick(&h.q);
	virtq_notify(&h.q);
}

/* --- steps: each leaves the device misprogrammed for assess() --- */

/* The normal request, with its descriptor d (0-based in the chain) changed. */
static int bad_desc(unsigned int which, uint64_t addr, uint32_t len, int flags)
{
	uint16_t chain[PROBE_DESCS];
	unsigned int n;

	if (bring_up() < 0 || add_normal(1, chain, &n) < 0)
		return -EIO;
	if (which >= n)
		which = n - 1;
	h.q.desc[chain[which]].addr = addr;
	h.q.desc[chain[which]].len = len;
	if (flags >= 0)
		h.q.desc[chain[which]].flags = (uint16_t)flags;
	kick_hard();
	return 0;
}

/* The data descriptor: rng's only one, blk's second. */
static unsigned int data_desc(void)
{
	return h.type == VIRTIO_ID_RNG ? 0 : 1;
}

static int step_addr_far(void)
{
	return bad_desc(data_desc(), FAR_ADDR, 64, -1);
}

static int step_addr_straddles_ram_end(void)
{
	return bad_desc(data_desc(), h.ram_end - 8, BUF_SIZE, -1);
}

static int step_addr_zero_len(void)
{
	return bad_desc(data_desc(), (uintptr_t)buf(7), 0, -1);
}

static int step_len_huge(void)
{
	/* 4 GiB from the last page of RAM: nothing of ours lies there, in
	 * case the device writes as far as it can. */
	return bad_desc(data_desc(), h.ram_end - BUF_SIZE, 0xffffffff, -1);
}

static int step_addr_wraps(void)
{
	return bad_desc(data_desc(), 0xfffffffffffff000ULL, 0x2000, -1);
}

static int step_desc_loop(void)
{
	uint16_t chain[PROBE_DESCS];
	unsigned int n;

	if (bring_up() < 0 || add_normal(1, chain, &n) < 0)
		return -EIO;
	/* The last descriptor points back to the first. */
	h.q.desc[chain[n - 1]].flags |= VIRTQ_DESC_F_NEXT;
	h.q.desc[chain[n - 1]].next = chain[0];
	kick_hard();
	return 0;
}

static int step_chain_longer_than_queue(void)
{
	static struct virtq_sg sg[QSIZE];
	unsigned int i, n;
	int head;
	uint16_t d;

	if (bring_up() < 0)
		return -EIO;
	if (h.q.num <= PROBE_DESCS + 1) {
		note(" queue_too_small");
		return 0;
	}
	n = h.q.num - PROBE_DESCS;
	/* All but PROBE_DESCS descriptors, device-writable 16 bytes each,
	 * and the last one pointing back to the head: the walk never ends. */
	for (i = 0; i < n; i++)
		sg[i] = (struct virtq_sg){ (uintptr_t)buf(0) + 16 * i, 16, true };
	head = virtq_add(&h.q, sg, n, 1);
	if (head < 0)
		return -EIO;
	for (d = (uint16_t)head, i = 1; i < n; i++)
		d = h.q.next[d];
	h.q.desc[d].flags |= VIRTQ_DESC_F_NEXT;
	h.q.desc[d].next = (uint16_t)head;
	kick_hard();
	return 0;
}

static int step_next_out_of_range(void)
{
	uint16_t chain[PROBE_DESCS];
	unsigned int n;

	if (bring_up() < 0 || add_normal(1, chain, &n) < 0)
		return -EIO;
	h.q.desc[chain[n - 1]].flags |= VIRTQ_DESC_F_NEXT;
	h.q.desc[chain[n - 1]].next = (uint16_t)(h.q.num + 5);
	kick_hard();
	return 0;
}

static int step_avail_bad_head(void)
{
	if (bring_up() < 0)
		return -EIO;
	/* An avail entry naming a descriptor past the table. */
	h.q.avail->ring[h.q.avail_idx % h.q.num] = 0xfff0;
	h.q.avail_idx++;
	kick_hard();
	return 0;
}

static int step_avail_idx_jump(void)
{
	if (bring_up() < 0)
		return -EIO;
	/* Claim num + 5 new entries at once. */
	barrier();
	h.q.avail->idx = (uint16_t)(h.q.published + h.q.num + 5);
	mb();
	virtq_notify(&h.q);
	/* Our own index goes on from where it was: the probe publishes
	 * published + 1, so the device sees the index go backwards. */
	return 0;
}

static int step_notify_missing_queue(void)
{
	uint64_t off;

	if (bring_up() < 0)
		return -EIO;
	/* The doorbell of queue num_queues + 3, if the notify region has
	 * such a slot; then queue 0's doorbell carrying another queue's
	 * index; then 1- and 4-byte doorbell writes. */
	off = (uint64_t)(h.dev.num_queues + 3) * h.dev.notify_mult;
	if (h.dev.notify_mult && off + 2 <= h.dev.notify_len)
		mmio_write16(h.dev.notify + off, (uint16_t)(h.dev.num_queues + 3));
	mmio_write16(h.q.notify_addr, (uint16_t)(h.dev.num_queues + 3));
	mmio_write16(h.q.notify_addr, 0xffff);
	mmio_write8(h.q.notify_addr, 0);
	mmio_write32(h.q.notify_addr, 0xffffffff);
	/* Past the notify region, when the BAR goes on. */
	if (h.dev.notify_room >= (uint64_t)h.dev.notify_len + 4)
		mmio_write16(h.dev.notify + h.dev.notify_len, 0);
	return 0;
}

static int step_queue_size_not_pow2(void)
{
	uint16_t max;

	virtio_start(&h.dev, h.want);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	max = (uint16_t)virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2);
	if (max < 4)
		return -EIO;
	if (virtq_setup_exact(&h.dev, &h.q, 0, (uint16_t)(max > QSIZE ? QSIZE - 1 : max - 1)) < 0)
		return -EIO;
	note(" size=%u kept=%u", h.q.num,
	     virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2));
	virtio_driver_ok(&h.dev);
	return 0;
}

static int step_queue_size_above_max(void)
{
	uint16_t max, num;

	virtio_start(&h.dev, h.want);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	max = (uint16_t)virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2);
	num = max >= 16384 ? 32768 : (uint16_t)(max * 2);
	if (num > 4096)
		num = 4096;	/* memory for the rings */
	if (num <= max)
		return -EIO;
	if (virtq_setup_exact(&h.dev, &h.q, 0, num) < 0)
		return -EIO;
	note(" max=%u wrote=%u kept=%u", max, num,
	     virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2));
	virtio_driver_ok(&h.dev);
	return 0;
}

static int step_queue_select_beyond(void)
{
	uint16_t sel = (uint16_t)(h.dev.num_queues + 7);

	if (virtio_start(&h.dev, h.want) < 0)
		return -EIO;
	/* A queue that does not exist: its size must read 0; program it
	 * anyway, enable it, then set up queue 0 normally. */
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, sel);
	note(" q%u_size=%u", sel, virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SIZE, 2, 8);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_DESCLO, 4, (uint32_t)(uintptr_t)buf(6));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_AVAILLO, 4, (uint32_t)(uintptr_t)buf(6));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_USEDLO, 4, (uint32_t)(uintptr_t)buf(6));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0xffff);
	note(" qffff_size=%u", virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	if (virtq_setup(&h.dev, &h.q, 0, QSIZE) < 0)
		return -EIO;
	virtio_driver_ok(&h.dev);
	return 0;
}

static int step_queue_rings_outside_ram(void)
{
	if (setup_queue(QSIZE, false) < 0)
		return -EIO;
	/* Re-point the rings of queue 0 at nothing before DRIVER_OK, and
	 * enable it again (a device may take the addresses at either). */
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_DESCLO, 4, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_DESCHI, 4, (uint32_t)(FAR_ADDR >> 32));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_AVAILLO, 4, 0x1000);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_AVAILHI, 4, (uint32_t)(FAR_ADDR >> 32));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_USEDLO, 4, 0x2000);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_USEDHI, 4, (uint32_t)(FAR_ADDR >> 32));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	virtio_driver_ok(&h.dev);
	virtq_notify(&h.q);
	return 0;
}

static int step_driver_ok_without_features_ok(void)
{
	int ret = virtio_reset(&h.dev);

	if (ret < 0)
		return ret;
	virtio_set_status(&h.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GFSELECT, 4, 1);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GF, 4, 1);	/* VERSION_1 */
	h.dev.features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if (virtq_setup(&h.dev, &h.q, 0, QSIZE) < 0)
		return -EIO;
	virtio_set_status(&h.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK);
	note(" status=0x%02x", virtio_get_status(&h.dev));
	return 0;
}

static int step_features_not_offered(void)
{
	uint64_t bogus = ~h.dev.offered & 0xffffff0000000000ULL;
	int ret = virtio_reset(&h.dev);

	if (ret < 0)
		return ret;
	virtio_set_status(&h.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* Every feature the device did not offer in bits 40-63, plus ours. */
	virtio_common_write(&h.dev, VIRTIO_COMMON_GFSELECT, 4, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GF, 4, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GFSELECT, 4, 1);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GF, 4, (uint32_t)((bogus >> 32) | 1));
	virtio_set_status(&h.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	note(" features_ok=%u",
	     (virtio_get_status(&h.dev) & VIRTIO_STATUS_FEATURES_OK) ? 1 : 0);
	/* Whatever it said, leave it there: assess() sees no DRIVER_OK. */
	return 0;
}

static int step_common_cfg_readonly(void)
{
	uint32_t off;

	if (bring_up() < 0)
		return -EIO;
	/* Read-only fields written, selectors out of range, vectors that
	 * do not exist, odd-width reads and reads past the structure. */
	virtio_common_write(&h.dev, VIRTIO_COMMON_DF, 4, 0xffffffff);
	virtio_common_write(&h.dev, VIRTIO_COMMON_NUMQ, 2, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_CFGGEN, 1, 0x55);
	virtio_common_write(&h.dev, VIRTIO_COMMON_DFSELECT, 4, 0xffffffff);
	note(" df[ffffffff]=0x%x", virtio_common_read(&h.dev, VIRTIO_COMMON_DF, 4));
	virtio_common_write(&h.dev, VIRTIO_COMMON_GFSELECT, 4, 0x12345678);
	virtio_common_write(&h.dev, VIRTIO_COMMON_GF, 4, 0xffffffff);
	virtio_common_write(&h.dev, VIRTIO_COMMON_MSIX, 2, 0x1234);
	note(" msix=0x%x", virtio_common_read(&h.dev, VIRTIO_COMMON_MSIX, 2));
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_MSIX, 2, 0x4321);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_NOFF, 2, 0x7777);
	note(" numq=%u", virtio_common_read(&h.dev, VIRTIO_COMMON_NUMQ, 2));
	for (off = 0; off + 4 <= h.dev.common_len && off < 0x40; off += 4)
		(void)mmio_read32(h.dev.common + off);
	for (off = 1; off + 1 <= h.dev.common_len && off < 0x40; off += 2)
		(void)mmio_read8(h.dev.common + off);
	for (off = h.dev.common_len; off < h.dev.common_len + 64 &&
	     off + 4 <= h.dev.common_room; off += 4)
		(void)mmio_read32(h.dev.common + off);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	return 0;
}

static int step_queue_size_changed_live(void)
{
	if (bring_up() < 0)
		return -EIO;
	/* The driver must not change a queue's size once it is enabled. */
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SIZE, 2, 3);
	note(" kept=%u", virtio_common_read(&h.dev, VIRTIO_COMMON_Q_SIZE, 2));
	return 0;
}

static int step_queue_enable_zero(void)
{
	if (bring_up() < 0)
		return -EIO;
	/* Writing 0 to queue_enable is not allowed to the driver. */
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
	virtio_common_write(&h.dev, VIRTIO_COMMON_Q_ENABLE, 2, 0);
	note(" enable=%u", virtio_common_read(&h.dev, VIRTIO_COMMON_Q_ENABLE, 2));
	return 0;
}

static int step_status_garbage(void)
{
	if (bring_up() < 0)
		return -EIO;
	/* Clearing bits the driver set, and setting the device's own bit. */
	virtio_set_status(&h.dev, VIRTIO_STATUS_DRIVER_OK);
	virtio_set_status(&h.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK | 0x20);
	note(" status=0x%02x", virtio_get_status(&h.dev));
	return 0;
}

static int step_devcfg_out_of_range(void)
{
	uint64_t off;

	if (bring_up() < 0)
		return -EIO;
	if (!h.dev.devcfg) {
		note(" no_device_cfg");
		return 0;
	}
	/* Reads and writes straddling and past the end of the device
	 * configuration (as far as the BAR goes), and writes to fields the
	 * driver may only read. */
	if (h.dev.devcfg_len >= 2)
		(void)mmio_read32(h.dev.devcfg + ((h.dev.devcfg_len - 2) & ~1U));
	for (off = h.dev.devcfg_len; off < (uint64_t)h.dev.devcfg_len + 256 &&
	     off + 4 <= h.dev.devcfg_room; off += 4)
		(void)mmio_read32(h.dev.devcfg + off);
	if (h.type == VIRTIO_ID_BLK) {
		mmio_write32(h.dev.devcfg + VIRTIO_BLK_CFG_CAPACITY, 0xffffffff);
		mmio_write32(h.dev.devcfg + VIRTIO_BLK_CFG_CAPACITY + 4, 0xffffffff);
		note(" capacity_after=%lu", virtio_cfg_read64(&h.dev, VIRTIO_BLK_CFG_CAPACITY));
	}
	for (off = 0; off + 4 <= h.dev.devcfg_len && off < 64; off += 4)
		mmio_write32(h.dev.devcfg + off, 0xdeadbeef);
	if (h.dev.devcfg_room >= (uint64_t)h.dev.devcfg_len + 8)
		mmio_write32(h.dev.devcfg + h.dev.devcfg_len + 4, 0xdeadbeef);
	return 0;
}

/* Indirect descriptors (only when the device offers INDIRECT_DESC). */
static int indirect(unsigned int entries, uint32_t table_len, int nested, int loop)
{
	struct virtq_sg sg = { (uintptr_t)h.table, table_len, false };
	unsigned int i;
	int head;

	if (bring_up() < 0)
		return -EIO;
	if (!(h.dev.features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))) {
		note(" indirect_not_offered");
		return 0;
	}
	/* A table of device-writable buffers (blk: header, ..., status). */
	for (i = 0; i < entries; i++) {
		h.table[i].addr = (uintptr_t)buf(1) + 16 * (i % 256);
		h.table[i].len = 16;
		h.table[i].flags = VIRTQ_DESC_F_WRITE |
			(i + 1 < entries ? VIRTQ_DESC_F_NEXT : 0);
		h.table[i].next = (uint16_t)(i + 1);
	}
	if (h.type == VIRTIO_ID_BLK) {
		h.hdr[1] = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
		h.table[0].addr = (uintptr_t)&h.hdr[1];
		h.table[0].flags = VIRTQ_DESC_F_NEXT;
		h.table[entries - 1].addr = (uintptr_t)&h.status[16];
		h.table[entries - 1].len = 1;
	}
	if (nested >= 0)
		h.table[nested].flags |= VIRTQ_DESC_F_INDIRECT;
	if (loop >= 0) {
		h.table[entries - 1].flags |= VIRTQ_DESC_F_NEXT;
		h.table[entries - 1].next = (uint16_t)loop;
	}
	head = virtq_add(&h.q, &sg, 1, 1);
	if (head < 0)
		return -EIO;
	h.q.desc[head].flags = VIRTQ_DESC_F_INDIRECT;
	kick_hard();
	return 0;
}

static int step_indirect_longer_than_queue(void)
{
	return indirect(QSIZE + 8, (QSIZE + 8) * 16, -1, -1);
}

static int step_indirect_nested(void)
{
	return indirect(4, 4 * 16, 1, -1);
}

static int step_indirect_bad_len(void)
{
	return indirect(4, 4 * 16 + 7, -1, -1);
}

static int step_indirect_loop(void)
{
	return indirect(4, 4 * 16, -1, 1);
}

static int step_indirect_empty(void)
{
	return indirect(1, 0, -1, -1);
}

/* --- virtio-blk requests the driver must not make --- */

/* A blk request: type, sector, header length, data (len, device-writable),
 * status descriptor present and writable. */
static int blk_req(uint32_t type, uint64_t sector, uint32_t hdr_len, bool hdr_writable,
		   uint32_t data_len, bool data_w, bool with_status, bool status_w)
{
	struct virtq_sg sg[3];
	unsigned int n = 0;

	if (bring_up() < 0)
		return -EIO;
	h.hdr[1] = (struct virtio_blk_req_hdr){ type, 0, sector };
	h.status[16] = 0xff;
	/* A write writes sector 0's own content (read by the last probe). */
	if (type == VIRTIO_BLK_T_OUT)
		memcpy(buf(1), buf(2), 512);
	sg[n++] = (struct virtq_sg){ (uintptr_t)&h.hdr[1], hdr_len, hdr_writable };
	if (data_len)
		sg[n++] = (struct virtq_sg){ (uintptr_t)buf(1), data_len, data_w };
	if (with_status)
		sg[n++] = (struct virtq_sg){ (uintptr_t)&h.status[16], 1, status_w };
	if (virtq_add(&h.q, sg, n, 1) < 0)
		return -EIO;
	kick_hard();
	return 0;
}

static int step_blk_header_short(void)
{
	return blk_req(VIRTIO_BLK_T_IN, 0, 8, false, 512, true, true, true);
}

static int step_blk_header_writable(void)
{
	return blk_req(VIRTIO_BLK_T_IN, 0, 16, true, 512, true, true, true);
}

static int step_blk_no_status(void)
{
	/* Nothing device-writable at all: nowhere for the status. */
	return blk_req(VIRTIO_BLK_T_OUT, 0, 16, false, 512, false, false, false);
}

static int step_blk_status_readonly(void)
{
	return blk_req(VIRTIO_BLK_T_IN, 0, 16, false, 512, true, true, false);
}

static int step_blk_beyond_capacity(void)
{
	return blk_req(VIRTIO_BLK_T_IN, h.capacity, 16, false, 512, true, true, true);
}

static int step_blk_sector_overflow(void)
{
	return blk_req(VIRTIO_BLK_T_IN, ~0ULL - 1, 16, false, 1024, true, true, true);
}

static int step_blk_unknown_type(void)
{
	return blk_req(0x7f, 0, 16, false, 512, true, true, true);
}

static int step_blk_len_not_sector_multiple(void)
{
	return blk_req(VIRTIO_BLK_T_IN, 0, 16, false, 100, true, true, true);
}

static int step_blk_write_with_writable_data(void)
{
	/* OUT whose data the device would have to write: buffer holds
	 * sector 0 as read, so the disk keeps its content either way. */
	return blk_req(VIRTIO_BLK_T_OUT, 0, 16, false, 512, true, true, true);
}

static int step_blk_get_id_short(void)
{
	return blk_req(VIRTIO_BLK_T_GET_ID, 0, 16, false, 4, true, true, true);
}

static int step_blk_discard_beyond(void)
{
	struct virtio_blk_discard_wz *seg = (struct virtio_blk_discard_wz *)buf(2);

	if (bring_up() < 0)
		return -EIO;
	if (!(h.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD))) {
		note(" discard_not_offered");
		return 0;
	}
	*seg = (struct virtio_blk_discard_wz){ h.capacity - 1, 0xffffffff, 0xfffffffe };
	h.hdr[1] = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_DISCARD, 0, 0 };
	h.status[16] = 0xff;
	{
		struct virtq_sg sg[3] = {
			{ (uintptr_t)&h.hdr[1], 16, false },
			{ (uintptr_t)seg, sizeof(*seg), false },
			{ (uintptr_t)&h.status[16], 1, true },
		};

		if (virtq_add(&h.q, sg, 3, 1) < 0)
			return -EIO;
	}
	kick_hard();
	return 0;
}

struct step {
	const char *name;
	int (*run)(void);
	unsigned int type;	/* 0: any device */
};

static const struct step steps[] = {
	{ "desc_addr_outside_ram", step_addr_far, 0 },
	{ "desc_addr_straddles_ram_end", step_addr_straddles_ram_end, 0 },
	{ "desc_addr_wraps_64bit", step_addr_wraps, 0 },
	{ "desc_len_zero", step_addr_zero_len, 0 },
	{ "desc_len_4gib", step_len_huge, 0 },
	{ "desc_loop", step_desc_loop, 0 },
	{ "chain_longer_than_queue", step_chain_longer_than_queue, 0 },
	{ "desc_next_out_of_range", step_next_out_of_range, 0 },
	{ "avail_head_out_of_range", step_avail_bad_head, 0 },
	{ "avail_idx_jump", step_avail_idx_jump, 0 },
	{ "notify_missing_queue", step_notify_missing_queue, 0 },
	{ "queue_size_not_pow2", step_queue_size_not_pow2, 0 },
	{ "queue_size_above_max", step_queue_size_above_max, 0 },
	{ "queue_select_beyond_num_queues", step_queue_select_beyond, 0 },
	{ "queue_rings_outside_ram", step_queue_rings_outside_ram, 0 },
	{ "driver_ok_without_features_ok", step_driver_ok_without_features_ok, 0 },
	{ "features_not_offered", step_features_not_offered, 0 },
	{ "common_cfg_readonly_and_odd_accesses", step_common_cfg_readonly, 0 },
	{ "queue_size_changed_while_enabled", step_queue_size_changed_live, 0 },
	{ "queue_enable_zero", step_queue_enable_zero, 0 },
	{ "status_bits_out_of_order", step_status_garbage, 0 },
	{ "device_cfg_out_of_range", step_devcfg_out_of_range, 0 },
	{ "indirect_longer_than_queue", step_indirect_longer_than_queue, 0 },
	{ "indirect_nested", step_indirect_nested, 0 },
	{ "indirect_len_not_multiple_of_16", step_indirect_bad_len, 0 },
	{ "indirect_loop", step_indirect_loop, 0 },
	{ "indirect_empty_table", step_indirect_empty, 0 },
	{ "blk_header_too_short", step_blk_header_short, VIRTIO_ID_BLK },
	{ "blk_header_device_writable", step_blk_header_writable, VIRTIO_ID_BLK },
	{ "blk_no_status_descriptor", step_blk_no_status, VIRTIO_ID_BLK },
	{ "blk_status_read_only", step_blk_status_readonly, VIRTIO_ID_BLK },
	{ "blk_sector_beyond_capacity", step_blk_beyond_capacity, VIRTIO_ID_BLK },
	{ "blk_sector_overflow", step_blk_sector_overflow, VIRTIO_ID_BLK },
	{ "blk_unknown_type", step_blk_unknown_type, VIRTIO_ID_BLK },
	{ "blk_len_not_sector_multiple", step_blk_len_not_sector_multiple, VIRTIO_ID_BLK },
	{ "blk_write_with_writable_data", step_blk_write_with_writable_data, VIRTIO_ID_BLK },
	{ "blk_get_id_buffer_short", step_blk_get_id_short, VIRTIO_ID_BLK },
	{ "blk_discard_beyond_capacity", step_blk_discard_beyond, VIRTIO_ID_BLK },
};

/* Reset and a normal request: the device must work again. */
static void recover(unsigned int n, const char *name)
{
	int ret;

	if (bring_up() < 0)
		fail(EXIT_DEVICE, "hostile: step %u %s: device does not come back after reset",
		     n, name);
	h.note_len = 0;
	ret = probe(WAIT_RECOVER_US);
	if (ret <= 0)
		fail(EXIT_DEVICE, "hostile: step %u %s: device %s after reset%s", n, name,
		     ret < 0 ? "needs reset again" : "does not work", h.note);
}

static uint64_t highest_ram_end(void)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < boot.nmem; i++) {
		uint64_t e = boot.mem[i].addr + boot.mem[i].size;

		if (boot.mem[i].type == E820_RAM && e <= (1ULL << 32) && e > end)
			end = e;
	}
	return end;
}

static void hostile_run(void)
{
	const char *dev_s = cmdline_get("dev");
	uint64_t only, strict;
	unsigned int i, n = 0;

	if (cmdline_get_u64("only", 0, &only) < 0 || cmdline_get_u64("strict", 0, &strict) < 0)
		fail(EXIT_USAGE, "hostile [dev=rng|blk] [only=N] [strict=1]");
	if (!dev_s || strcmp(dev_s, "rng") == 0)
		h.type = VIRTIO_ID_RNG;
	else if (strcmp(dev_s, "blk") == 0)
		h.type = VIRTIO_ID_BLK;
	else
		fail(EXIT_USAGE, "hostile: dev=rng|blk");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	virtio_find_or_fail(h.type, &h.dev);
	h.want = VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (h.type == VIRTIO_ID_BLK)
		h.want |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_RO);
	h.buf = mem_alloc(8 * BUF_SIZE, 4096);
	h.hdr = mem_alloc(8 * sizeof(*h.hdr), 64);
	h.status = mem_alloc(8 * 16, 64);
	h.table = mem_alloc(4096 * 16, 4096);
	h.ram_end = highest_ram_end();
	if (!h.buf || !h.hdr || !h.status || !h.table)
		fail(EXIT_NOMEM, "hostile: no memory");
	/* A baseline: the device works before anything is done to it. */
	recover(0, "baseline");
	if (h.type == VIRTIO_ID_BLK) {
		h.capacity = virtio_cfg_read64(&h.dev, VIRTIO_BLK_CFG_CAPACITY);
		if (h.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_RO))
			con_printf("hostile: blk is read-only\n");
	}
	con_printf("hostile: dev=%s type=%u features=0x%lx ram_end=0x%lx\n", h.dev.name, h.type,
		   h.dev.features, h.ram_end);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		const struct step *s = &steps[i];
		enum outcome o;

		if (s->type && s->type != h.type)
			continue;
		n++;
		if (only && only != n)
			continue;
		h.note_len = 0;
		h.note[0] = '\0';
		if (s->run() < 0)
			fail(EXIT_DEVICE, "hostile: step %u %s: could not set the device up", n,
			     s->name);
		o = assess();
		con_printf("hostile: step %u %s -> %s%s\n", n, s->name,
			   o == OUT_OK ? "ok" : o == OUT_NEEDS_RESET ? "needs_reset" :
			   "unresponsive", h.note);
		h.steps++;
		if (o == OUT_OK)
			h.ok++;
		else if (o == OUT_NEEDS_RESET)
			h.needs_reset++;
		else
			h.unresponsive++;
		recover(n, s->name);
	}
	con_printf("hostile: steps=%u ok=%u needs_reset=%u unresponsive=%u\n", h.steps, h.ok,
		   h.needs_reset, h.unresponsive);
	if (strict && h.unresponsive)
		fail(EXIT_DEVICE, "hostile: %u steps left the device unresponsive without "
		     "DEVICE_NEEDS_RESET", h.unresponsive);
	virtio_reset(&h.dev);
}

static const struct mode hostile_mode = {
	.name = "hostile",
	.run = hostile_run,
	.usage = "misprogram a virtio device step by step; it must work after each reset "
		 "[dev=rng|blk] [only=N] [strict=1]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(hostile_mode);
