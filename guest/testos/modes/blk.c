// SPDX-License-Identifier: Apache-2.0
/*
 * blk: a virtio-blk driver (spec 5.2) that checks and measures the disk.
 *
 * 1. Prints the configuration, the serial (VIRTIO_BLK_T_GET_ID) and the
 *    features.
 * 2. Writes a pattern over [start, start + mib) MiB (derived from each
 *    sector number and seed=, see pattern_base), flushes, reads it back and
 *    verifies every word; prints the sum of all 64-bit words as a checksum
 *    the host can recompute. With ro, only reads and verifies (a disk the
 *    host wrote).
 * 3. Tries WRITE_ZEROES and DISCARD on a scratch area after the range when
 *    the device offers them.
 * 4. Measures, each phase for seconds= (or ms=): sequential 1 MiB writes
 *    and reads (seq_qd= in flight) in MB/s, random 4 KiB writes and reads
 *    (qd= in flight) in IOPS. Writes carry the pattern, so the range still
 *    verifies afterwards (checked again at the end).
 * Requests: header (device-readable), data (split at size_max), status
 * (device-writable). Several requests stay in flight; completions are
 * polled and the avail index is published in batches.
 */
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"
#include "virtio.h"

#define BLK_SLOTS_MAX	256
#define BLK_SEG_MAX	64		/* data descriptors per request we build */
#define BLK_SEQ_BYTES	(1U << 20)
#define BLK_RAND_BYTES	4096
#define BLK_SCRATCH_SECTORS 128	/* 64 KiB after the range */
#define BLK_IO_TIMEOUT_US 10000000	/* one request may take 10 s */
#define BLK_KICK_BATCH	16
#define SECTOR		VIRTIO_BLK_SECTOR
#define WORDS_PER_SECTOR (SECTOR / 8)
#define PATTERN_STEP	0x9e3779b97f4a7c15ULL

struct blk {
	struct virtio_dev dev;
	struct virtq q;
	uint64_t capacity;		/* sectors */
	uint32_t size_max;		/* bytes per data descriptor, 0 = any */
	uint32_t seg_max;		/* data descriptors per request */
	bool ro;
	struct virtio_blk_req_hdr *hdr;	/* one per slot */
	uint8_t *status;		/* one per slot, 64 bytes apart */
	uint64_t *start_tsc;		/* submit time per slot */
	uint64_t *sector;		/* first sector per slot */
	uint64_t seed_mix;		/* mix64(seed) */
	uint8_t *image;			/* the range's pattern, precomputed, or NULL */
	uint64_t image_first;		/* its first sector */
};

/* One stream of requests (a pass over the range or a timed phase). */
struct blk_job {
	const char *name;
	uint32_t type;			/* VIRTIO_BLK_T_IN or _OUT */
	unsigned int qd;
	uint32_t bytes;			/* per request */
	uint8_t *buf;			/* qd * bytes */
	uint64_t first, sectors;	/* the range */
	bool random;
	uint64_t end_tsc;		/* 0: one pass over the range */
	bool pattern;			/* writes: fill with the pattern */
	bool verify;			/* reads: check the pattern */
	/* progress and results */
	uint64_t pos, rng;
	uint64_t ios, lat_ticks, checksum, bad_sectors, first_bad;
};

static struct blk blk;

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The pattern: word i of sector s is pattern_base(s) + i * PATTERN_STEP
 * (mod 2^64, little endian), pattern_base(s) = mix64(mix64(seed) ^ s). */
static inline uint64_t pattern_base(uint64_t sector)
{
	return mix64(blk.seed_mix ^ sector);
}

static void pattern_fill(uint64_t *w, uint64_t sector, uint64_t n)
{
	uint64_t s;
	unsigned int i;

	for (s = 0; s < n; s++) {
		uint64_t v = pattern_base(sector + s);

		for (i = 0; i < WORDS_PER_SECTOR; i++, v += PATTERN_STEP)
			*w++ = v;
	}
}

/* Checks n sectors at w; adds the words to *sum and the wrong sectors to
 * *bad (the first one goes to *first_bad, the first three are printed). */
static void pattern_check(const uint64_t *w, uint64_t sector, uint64_t n, uint64_t *sum,
			  uint64_t *bad, uint64_t *first_bad)
{
	uint64_t s, acc = *sum;
	unsigned int i;

	for (s = 0; s < n; s++) {
		uint64_t v = pattern_base(sector + s), diff = 0;

		for (i = 0; i < WORDS_PER_SECTOR; i++, v += PATTERN_STEP) {
			diff |= w[i] ^ v;
			acc += w[i];
		}
		if (diff) {
			if ((*bad)++ == 0)
				*first_bad = sector + s;
			if (*bad <= 3)
				con_printf("blk: sector %lu word 0 is 0x%lx, expected 0x%lx\n",
					   sector + s, w[0], pattern_base(sector + s));
		}
		w += WORDS_PER_SECTOR;
	}
	*sum = acc;
}

/* Builds and adds one request in slot: header, data (split at size_max),
 * status. Returns 0 or -ENOSPC/-E2BIG. */
static int blk_submit(unsigned int slot, uint32_t type, uint64_t sector, void *data,
		      uint32_t len, bool device_writes)
{
	struct virtq_sg sg[BLK_SEG_MAX + 2];
	unsigned int n = 0;
	uint32_t off = 0;
	int ret;

	blk.hdr[slot].type = type;
	blk.hdr[slot].reserved = 0;
	blk.hdr[slot].sector = sector;
	blk.status[slot * 64] = 0xff;
	sg[n++] = (struct virtq_sg){ (uintptr_t)&blk.hdr[slot], sizeof(blk.hdr[slot]), false };
	while (off < len) {
		uint32_t chunk = len - off;

		if (blk.size_max && chunk > blk.size_max)
			chunk = blk.size_max;
		if (n - 1 >= blk.seg_max || n - 1 >= BLK_SEG_MAX)
			return -E2BIG;
		sg[n++] = (struct virtq_sg){ (uintptr_t)data + off, chunk, device_writes };
		off += chunk;
	}
	sg[n++] = (struct virtq_sg){ (uintptr_t)&blk.status[slot * 64], 1, true };
	ret = virtq_add(&blk.q, sg, n, slot);
	if (ret < 0)
		return ret;
	blk.start_tsc[slot] = rdtsc();
	blk.sector[slot] = sector;
	return 0;
}

/* Data descriptors a request of len bytes needs. */
static unsigned int blk_segs(uint32_t len)
{
	return blk.size_max ? (len + blk.size_max - 1) / blk.size_max : 1;
}

/* Waits for the next completion. Returns the slot; fails the run on a
 * timeout, a protocol error or DEVICE_NEEDS_RESET. */
static unsigned int blk_wait(const char *what, uint32_t *len)
{
	uint64_t token, start = rdtsc(), limit = tsc_from_us(BLK_IO_TIMEOUT_US);
	uint64_t next_check = start + tsc_from_us(VIRTIO_STATUS_POLL_US);
	int ret;

	for (;;) {
		ret = virtq_poll(&blk.q, &token, len);
		if (ret > 0)
			return (unsigned int)token;
		if (ret < 0)
			fail(EXIT_DEVICE, "blk: %s: device broke the used ring (id/index %u)", what,
			     *len);
		virtq_kick(&blk.q);
		cpu_relax();
		if (tsc_every(&next_check, VIRTIO_STATUS_POLL_US)) {
			if (virtio_needs_reset(&blk.dev, what))
				fail(EXIT_DEVICE, "blk: %s: device needs reset", what);
			if (rdtsc() - start > limit)
				fail(EXIT_DEVICE, "blk: %s: no completion in %u s (%u in flight)",
				     what, BLK_IO_TIMEOUT_US / 1000000, virtq_in_flight(&blk.q));
		}
	}
}

/* One request, waited for. Returns the status byte. */
static uint8_t blk_do(const char *what, uint32_t type, uint64_t sector, void *data, uint32_t len,
		      bool device_writes)
{
	uint32_t used_len;

	if (blk_submit(0, type, sector, data, len, device_writes) < 0)
		fail(EXIT_INTERNAL, "blk: %s: request does not fit the queue", what);
	virtq_kick(&blk.q);
	blk_wait(what, &used_len);
	return blk.status[0];
}

/* The next request of job j for slot: its sector and data buffer. Writes
 * of the pattern point into the precomputed image when there is one (no
 * CPU work per request), else fill the slot's buffer. */
static bool job_next(struct blk_job *j, unsigned int slot, uint64_t *sector, uint8_t **data)
{
	uint64_t n = j->bytes / SECTOR;

	if (j->end_tsc) {
		if ((int64_t)(rdtsc() - j->end_tsc) >= 0)
			return false;
	} else if (j->pos >= j->first + j->sectors) {
		return false;
	}
	if (j->random) {
		/* xorshift64 */
		j->rng ^= j->rng << 13;
		j->rng ^= j->rng >> 7;
		j->rng ^= j->rng << 17;
		*sector = j->first + (j->rng % (j->sectors / n)) * n;
	} else {
		if (j->pos + n > j->first + j->sectors)
			j->pos = j->first;	/* timed: wrap around */
		*sector = j->pos;
		j->pos += n;
	}
	*data = j->buf + (size_t)slot * j->bytes;
	if (j->type == VIRTIO_BLK_T_OUT && j->pattern) {
		if (blk.image)
			*data = blk.image + (*sector - blk.image_first) * SECTOR;
		else
			pattern_fill((uint64_t *)*data, *sector, n);
	}
	return true;
}

/* Runs a job to its end: keeps qd requests in flight, publishes new ones
 * in batches, and returns the elapsed TSC ticks. */
static uint64_t blk_job_run(struct blk_job *j)
{
	unsigned int slot, in_flight = 0, unkicked = 0;
	uint64_t t0 = rdtsc(), sector;
	uint8_t *data;

	j->pos = j->first;
	for (slot = 0; slot < j->qd; slot++) {
		if (!job_next(j, slot, &sector, &data))
			break;
		if (blk_submit(slot, j->type, sector, data, j->bytes,
			       j->type == VIRTIO_BLK_T_IN) < 0)
			fail(EXIT_INTERNAL, "blk: %s: request does not fit the queue", j->name);
		in_flight++;
	}
	virtq_kick(&blk.q);
	while (in_flight > 0) {
		uint64_t token;
		uint32_t len;
		int ret = virtq_poll(&blk.q, &token, &len);
		uint8_t st;

		if (ret == 0) {
			/* Nothing more completed: publish what we queued. */
			if (unkicked) {
				virtq_kick(&blk.q);
				unkicked = 0;
			}
			/* blk_wait does the timeout and NEEDS_RESET checks. */
			slot = blk_wait(j->name, &len);
		} else if (ret < 0) {
			fail(EXIT_DEVICE, "blk: %s: device broke the used ring (id/index %u)",
			     j->name, len);
		} else {
			slot = (unsigned int)token;
		}
		in_flight--;
		st = blk.status[slot * 64];
		if (st != VIRTIO_BLK_S_OK)
			fail(EXIT_DEVICE, "blk: %s: sector %lu status %u", j->name, blk.sector[slot],
			     st);
		j->ios++;
		j->lat_ticks += rdtsc() - blk.start_tsc[slot];
		if (j->verify)
			pattern_check((uint64_t *)(j->buf + (size_t)slot * j->bytes),
				      blk.sector[slot], j->bytes / SECTOR, &j->checksum,
				      &j->bad_sectors, &j->first_bad);
		if (job_next(j, slot, &sector, &data)) {
			if (blk_submit(slot, j->type, sector, data, j->bytes,
				       j->type == VIRTIO_BLK_T_IN) < 0)
				fail(EXIT_INTERNAL, "blk: %s: resubmit failed", j->name);
			in_flight++;
			if (++unkicked >= BLK_KICK_BATCH || unkicked >= j->qd / 2) {
				virtq_kick(&blk.q);
				unkicked = 0;
			}
		}
	}
	virtq_kick(&blk.q);
	return rdtsc() - t0;
}

static void print_rate(const char *name, const struct blk_job *j, uint64_t ticks,
		       uint64_t notifies)
{
	uint64_t us = tsc_to_us(ticks), bytes = j->ios * j->bytes;
	uint64_t lat_ns = j->ios ? j->lat_ticks / j->ios * 1000000 / tsc_khz : 0;

	if (us == 0)
		us = 1;
	if (j->random) {
		con_printf("blk: %s iops=%lu ios=%lu ms=%lu qd=%u bs=%u lat_us=%lu.%lu "
			   "notifies=%lu\n", name, j->ios * 1000000 / us, j->ios, us / 1000,
			   j->qd, j->bytes, lat_ns / 1000, lat_ns % 1000 / 100, notifies);
	} else {
		/* MB/s (10^6 bytes) with one decimal, and MiB/s */
		uint64_t mbps10 = bytes * 10 / us;

		con_printf("blk: %s mbps=%lu.%lu mib_s=%lu ios=%lu ms=%lu qd=%u bs=%u "
			   "lat_us=%lu notifies=%lu\n", name, mbps10 / 10, mbps10 % 10,
			   bytes * 1000000 / us >> 20, j->ios, us / 1000, j->qd, j->bytes,
			   lat_ns / 1000, notifies);
	}
}

/* A pass over the range: write the pattern or read and verify it. */
static void blk_pass(const char *name, uint32_t type, uint64_t first, uint64_t sectors,
		     unsigned int qd, uint8_t *buf)
{
	struct blk_job j = {
		.name = name, .type = type, .qd = qd, .bytes = BLK_SEQ_BYTES, .buf = buf,
		.first = first, .sectors = sectors, .pattern = true,
		.verify = type == VIRTIO_BLK_T_IN,
	};
	uint64_t ticks = blk_job_run(&j), us = tsc_to_us(ticks);

	if (us == 0)
		us = 1;
	con_printf("blk: %s sectors=%lu ms=%lu mbps=%lu", name, sectors, us / 1000,
		   sectors * SECTOR / us);
	if (j.verify) {
		con_printf(" bad=%lu checksum=0x%016lx\n", j.bad_sectors, j.checksum);
		if (j.bad_sectors)
			fail(EXIT_VERIFY, "blk: %s: %lu of %lu sectors differ from the pattern "
			     "(first: %lu)", name, j.bad_sectors, sectors, j.first_bad);
	} else {
		con_printf("\n");
	}
}

static void blk_phase(const char *name, uint32_t type, bool random, uint64_t first,
		      uint64_t sectors, unsigned int qd, uint8_t *buf, uint64_t ms)
{
	struct blk_job j = {
		.name = name, .type = type, .qd = qd, .random = random,
		.bytes = random ? BLK_RAND_BYTES : BLK_SEQ_BYTES, .buf = buf,
		.first = first, .sectors = sectors, .pattern = true,
		.rng = 0x2545f4914f6cdd1dULL ^ first,
	};
	uint64_t notifies = blk.q.notifies, ticks;

	j.end_tsc = rdtsc() + tsc_from_us(ms * 1000);
	ticks = blk_job_run(&j);
	print_rate(name, &j, ticks, blk.q.notifies - notifies);
}

static void blk_scratch(uint64_t sector, uint8_t *buf)
{
	static struct virtio_blk_discard_wz seg;
	const uint32_t n = BLK_SCRATCH_SECTORS, bytes = n * SECTOR;
	uint64_t f = blk.dev.features, i;
	uint8_t st;

	if (sector + n > blk.capacity) {
		con_printf("blk: write_zeroes skipped (no room after the range)\n");
		con_printf("blk: discard skipped (no room after the range)\n");
		return;
	}
	if (f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		uint32_t max = virtio_cfg_read32(&blk.dev, VIRTIO_BLK_CFG_MAX_WZ_SECTORS);
		uint32_t cnt = max && max < n ? max : n;

		pattern_fill((uint64_t *)buf, sector, n);
		if ((st = blk_do("write_zeroes", VIRTIO_BLK_T_OUT, sector, buf, bytes, false)))
			fail(EXIT_DEVICE, "blk: scratch write status %u", st);
		seg = (struct virtio_blk_discard_wz){ sector, cnt, 0 };
		st = blk_do("write_zeroes", VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof(seg), false);
		if (st)
			fail(EXIT_DEVICE, "blk: WRITE_ZEROES of %u sectors at %lu: status %u", cnt,
			     sector, st);
		memset(buf, 0xa5, bytes);
		if ((st = blk_do("write_zeroes", VIRTIO_BLK_T_IN, sector, buf, bytes, true)))
			fail(EXIT_DEVICE, "blk: scratch read status %u", st);
		for (i = 0; i < (uint64_t)cnt * SECTOR; i++) {
			if (buf[i])
				fail(EXIT_VERIFY, "blk: byte %lu after WRITE_ZEROES is 0x%02x", i,
				     buf[i]);
		}
		/* The sectors past cnt must still hold the pattern. */
		for (i = 0; i < (uint64_t)(n - cnt) * SECTOR / 8; i++) {
			uint64_t s = sector + cnt + i / WORDS_PER_SECTOR;

			if (((uint64_t *)(buf + (size_t)cnt * SECTOR))[i] !=
			    pattern_base(s) + (i % WORDS_PER_SECTOR) * PATTERN_STEP)
				fail(EXIT_VERIFY, "blk: WRITE_ZEROES changed sector %lu beyond its "
				     "range", s);
		}
		con_printf("blk: write_zeroes ok sectors=%u\n", cnt);
	} else {
		con_printf("blk: write_zeroes skipped (not offered)\n");
	}
	if (f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) {
		uint32_t max = virtio_cfg_read32(&blk.dev, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS);
		uint32_t cnt = max && max < n ? max : n;

		seg = (struct virtio_blk_discard_wz){ sector, cnt, 0 };
		st = blk_do("discard", VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof(seg), false);
		if (st)
			fail(EXIT_DEVICE, "blk: DISCARD of %u sectors at %lu: status %u", cnt,
			     sector, st);
		/* What discarded sectors read back as is up to the device;
		 * they must still read. */
		if ((st = blk_do("discard", VIRTIO_BLK_T_IN, sector, buf, bytes, true)))
			fail(EXIT_DEVICE, "blk: read after DISCARD: status %u", st);
		con_printf("blk: discard ok sectors=%u\n", cnt);
	} else {
		con_printf("blk: discard skipped (not offered)\n");
	}
}

static bool cmdline_flag(const char *key)
{
	const char *v = cmdline_get(key);

	return v && strcmp(v, "0") != 0;
}

static void blk_run(void)
{
	static char feat[512];
	static uint8_t id[VIRTIO_BLK_ID_BYTES + 1];
	uint64_t start_mib, mib, seed, qd, seq_qd, seconds, ms, qsize, first, sectors;
	unsigned int per_req, max_qd, i;
	uint8_t *seq_buf, *rand_buf, st;
	bool ro = cmdline_flag("ro");

	if (cmdline_get_u64("start", 0, &start_mib) < 0 || cmdline_get_u64("mib", 16, &mib) < 0 ||
	    cmdline_get_u64("seed", 1, &seed) < 0 || cmdline_get_u64("qd", 32, &qd) < 0 ||
	    cmdline_get_u64("seq_qd", 4, &seq_qd) < 0 ||
	    cmdline_get_u64("seconds", 1, &seconds) < 0 ||
	    cmdline_get_u64("ms", seconds * 1000, &ms) < 0 ||
	    cmdline_get_u64("qsize", 256, &qsize) < 0 || mib == 0 || mib > (1ULL << 30) ||
	    start_mib > (1ULL << 30) || qd == 0 || qd > BLK_SLOTS_MAX || seq_qd == 0 ||
	    seq_qd > 64 || qsize < 4 || qsize > VIRTQ_MAX_SIZE)
		fail(EXIT_USAGE, "blk [start=MiB] [mib=16] [seed=1] [ro] [qd=32] [seq_qd=4] "
		     "[seconds=1 | ms=M] [qsize=256] [pci=BB:DD.F]");
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");
	blk.seed_mix = mix64(seed);
	virtio_find_or_fail(VIRTIO_ID_BLK, &blk.dev);
	if (virtio_start(&blk.dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			 VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			 VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			 VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |
			 VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
			 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) < 0)
		fail(EXIT_DEVICE, "blk: %s: setup refused", blk.dev.name);
	if (virtq_setup(&blk.dev, &blk.q, 0, (uint16_t)(qsize > 32768 ? 32768 : qsize)) < 0)
		fail(EXIT_DEVICE, "blk: %s: no request queue", blk.dev.name);
	virtio_driver_ok(&blk.dev);

	blk.capacity = virtio_cfg_read64(&blk.dev, VIRTIO_BLK_CFG_CAPACITY);
	blk.ro = (blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_RO)) != 0;
	blk.size_max = blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) ?
		virtio_cfg_read32(&blk.dev, VIRTIO_BLK_CFG_SIZE_MAX) : 0;
	blk.seg_max = blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) ?
		virtio_cfg_read32(&blk.dev, VIRTIO_BLK_CFG_SEG_MAX) : BLK_SEG_MAX;
	if (blk.seg_max == 0)
		blk.seg_max = 1;
	if (blk.size_max && blk.size_max < SECTOR)
		fail(EXIT_DEVICE, "blk: size_max %u is below one sector", blk.size_max);
	virtio_features_str(VIRTIO_ID_BLK, blk.dev.features, feat, sizeof(feat));
	con_printf("blk: dev=%s capacity=%lu mib=%lu blk_size=%u ro=%u size_max=%u seg_max=%u "
		   "writeback=%u queue=%u\n", blk.dev.name, blk.capacity, blk.capacity >> 11,
		   blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) ?
		   virtio_cfg_read32(&blk.dev, VIRTIO_BLK_CFG_BLK_SIZE) : SECTOR,
		   blk.ro, blk.size_max, blk.seg_max,
		   virtio_cfg_read8(&blk.dev, VIRTIO_BLK_CFG_WRITEBACK), blk.q.num);
	con_printf("blk: features=0x%lx %s\n", blk.dev.features, feat);
	virtio_features_str(VIRTIO_ID_BLK, blk.dev.offered, feat, sizeof(feat));
	con_printf("blk: offered=0x%lx %s\n", blk.dev.offered, feat);

	/* Per-slot headers and status bytes. */
	blk.hdr = mem_alloc(sizeof(*blk.hdr) * BLK_SLOTS_MAX, 4096);
	blk.status = mem_alloc(64 * BLK_SLOTS_MAX, 4096);
	blk.start_tsc = mem_alloc(8 * BLK_SLOTS_MAX, 64);
	blk.sector = mem_alloc(8 * BLK_SLOTS_MAX, 64);
	seq_buf = mem_alloc((uint64_t)seq_qd * BLK_SEQ_BYTES, 4096);
	rand_buf = mem_alloc(qd * BLK_RAND_BYTES, 4096);
	if (!blk.hdr || !blk.status || !blk.start_tsc || !blk.sector || !seq_buf || !rand_buf)
		fail(EXIT_NOMEM, "blk: no memory for %lu x 1 MiB and %lu x 4 KiB buffers", seq_qd,
		     qd);

	/* GET_ID: up to 20 bytes, NUL-terminated only when shorter. */
	st = blk_do("get_id", VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, true);
	if (st == VIRTIO_BLK_S_OK) {
		for (i = 0; i < VIRTIO_BLK_ID_BYTES && id[i]; i++) {
			if (id[i] < 0x20 || id[i] > 0x7e || id[i] == '"')
				id[i] = '?';
		}
		id[i] = '\0';
		con_printf("blk: serial=\"%s\"\n", (char *)id);
	} else {
		con_printf("blk: serial unavailable (status %u)\n", st);
	}

	first = start_mib << 11;
	sectors = mib << 11;
	if (first + sectors > blk.capacity)
		fail(EXIT_USAGE, "blk: start=%lu mib=%lu goes past the disk (%lu MiB)", start_mib,
		     mib, blk.capacity >> 11);
	if (blk.ro && !ro)
		fail(EXIT_USAGE, "blk: the device is read-only (VIRTIO_BLK_F_RO): add ro");
	/* Writes take their data straight from a precomputed copy of the
	 * range's pattern when it fits in RAM (keeping 8 MiB spare). */
	if (!ro && mem_free_bytes() >= (mib << 20) + (8ULL << 20)) {
		blk.image = mem_alloc(mib << 20, 4096);
		blk.image_first = first;
		if (blk.image)
			pattern_fill((uint64_t *)blk.image, first, sectors);
	}
	con_printf("blk: range start_mib=%lu mib=%lu seed=%lu pattern=%s\n", start_mib, mib, seed,
		   ro ? "none" : blk.image ? "memory" : "generated");
	/* Requests of 1 MiB must fit the device's segment limits. */
	if (blk_segs(BLK_SEQ_BYTES) > blk.seg_max || blk_segs(BLK_SEQ_BYTES) > BLK_SEG_MAX)
		fail(EXIT_DEVICE, "blk: 1 MiB needs %u segments, device allows %u",
		     blk_segs(BLK_SEQ_BYTES), blk.seg_max);
	per_req = 2 + blk_segs(BLK_SEQ_BYTES);
	max_qd = blk.q.num / per_req;
	if (seq_qd > max_qd)
		seq_qd = max_qd;
	per_req = 2 + blk_segs(BLK_RAND_BYTES);
	max_qd = blk.q.num / per_req;
	if (qd > max_qd)
		qd = max_qd;
	if (seq_qd == 0 || qd == 0)
		fail(EXIT_DEVICE, "blk: queue of %u is too small", blk.q.num);

	if (!ro) {
		blk_pass("write", VIRTIO_BLK_T_OUT, first, sectors, (unsigned int)seq_qd, seq_buf);
		if (blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) {
			st = blk_do("flush", VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
			if (st)
				fail(EXIT_DEVICE, "blk: flush status %u", st);
			con_printf("blk: flush ok\n");
		} else {
			con_printf("blk: flush skipped (not offered)\n");
		}
	}
	blk_pass("verify", VIRTIO_BLK_T_IN, first, sectors, (unsigned int)seq_qd, seq_buf);
	if (!ro)
		blk_scratch(first + sectors, seq_buf);

	if (ms > 0) {
		if (!ro)
			blk_phase("seq_write", VIRTIO_BLK_T_OUT, false, first, sectors,
				  (unsigned int)seq_qd, seq_buf, ms);
		blk_phase("seq_read", VIRTIO_BLK_T_IN, false, first, sectors,
			  (unsigned int)seq_qd, seq_buf, ms);
		if (!ro)
			blk_phase("rand_write", VIRTIO_BLK_T_OUT, true, first, sectors,
				  (unsigned int)qd, rand_buf, ms);
		blk_phase("rand_read", VIRTIO_BLK_T_IN, true, first, sectors, (unsigned int)qd,
			  rand_buf, ms);
		if (!ro) {
			if (blk.dev.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) &&
			    (st = blk_do("flush", VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false)))
				fail(EXIT_DEVICE, "blk: flush status %u", st);
			blk_pass("verify_after", VIRTIO_BLK_T_IN, first, sectors,
				 (unsigned int)seq_qd, seq_buf);
		}
	}
	con_printf("blk: pass\n");
	virtio_reset(&blk.dev);
}

static const struct mode blk_mode = {
	.name = "blk",
	.run = blk_run,
	.usage = "virtio-blk: pattern write/verify, then MB/s and IOPS "
		 "[start=MiB mib=16 seed=1 ro qd=32 seq_qd=4 seconds=1|ms=M qsize=256]",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(blk_mode);
