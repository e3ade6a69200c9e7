// SPDX-License-Identifier: Apache-2.0
/*
 * net: a virtio-net driver (spec 5.1), one queue pair, no offloads, that
 * sends, receives or echoes test frames and reports rates.
 *
 * Test frame (after the Ethernet header and an optional 802.1Q tag):
 *   le32 magic NET_MAGIC, le16 kind (DATA, END, READY), le16 0,
 *   le64 seq, le64 total (END: DATA frames sent), le32 frame size, le32 0,
 *   then fill: 64-bit words seq * FILL_STEP + k, then bytes (seq + i).
 * Roles (role=):
 *   send  waits for a READY frame from the peer (wait_ms=, 0: don't), sends
 *         count= DATA frames (or for seconds=/ms=), then END frames; counts
 *         DATA frames that come back (an echo peer) until the END comes
 *         back or linger_ms= passed.
 *   recv  sends READY every 20 ms until the first DATA frame; counts and
 *         checks DATA frames (loss and reordering from seq) until END,
 *         count= frames, seconds= (default 30) in all, or idle_ms= (default
 *         2000) without a frame once frames came.
 *   echo  like recv, and sends every DATA/END frame back with the MAC
 *         addresses swapped (source = our MAC when the destination was a
 *         group address).
 * Every frame: a 12-byte virtio_net_hdr (all zero on transmit), then the
 * frame, in one descriptor of a 2 KiB buffer.
 */
#include "cmdline.h"
#include "io.h"
#include "mode.h"
#include "tsc.h"
#include "virtio.h"

#define NET_BUF_SIZE	2048
#define NET_MAGIC	0x54454e54	/* "TNET" */
#define KIND_DATA	1
#define KIND_END	2
#define KIND_READY	3
#define FILL_STEP	0x9e3779b97f4a7c15ULL
#define PAYLOAD_HDR	32
#define ETH_HDR		14
#define VLAN_TPID	0x8100
#define READY_EVERY_US	20000
#define END_FRAMES	3
#define NET_QMAX	1024
#define NET_STUCK_US	5000000		/* transmit queue full for this long: fail */

enum net_role { ROLE_SEND, ROLE_RECV, ROLE_ECHO };

struct __attribute__((packed, may_alias)) u64_unaligned {
	uint64_t v;
};

struct net_stats {
	uint64_t frames, bytes, lost, reordered, bad, other, next_seq;
	uint64_t t_first, t_last;
	bool end_seen;
	uint64_t end_total;
};

static struct {
	struct virtio_dev dev;
	struct virtq rxq, txq;
	uint8_t *rx_bufs, *tx_bufs;
	uint16_t *tx_free;		/* stack of free tx buffer indexes */
	unsigned int tx_nfree, rx_unkicked;
	uint8_t mac[6], src[6], dst[6];
	uint16_t type;
	int vlan;			/* -1: untagged */
	uint32_t size;			/* frame bytes (no FCS) */
	unsigned int batch;
	uint64_t tx_frames, tx_bytes, tx_full_spins;
} net;

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t rd64(const uint8_t *p)
{
	return ((const struct u64_unaligned *)p)->v;
}

static inline void wr64(uint8_t *p, uint64_t v)
{
	((struct u64_unaligned *)p)->v = v;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i, j;

	for (i = 0; i < 6; i++) {
		unsigned int v = 0;

		for (j = 0; j < 2; j++, s++) {
			char c = *s;

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned int)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned int)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

static void mac_str(const uint8_t *m, char *buf)
{
	con_snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		     m[5]);
}

/* Length of the Ethernet header we send (with the tag when vlan=). */
static inline unsigned int l2_len(void)
{
	return net.vlan >= 0 ? ETH_HDR + 4 : ETH_HDR;
}

/* Writes the test payload for (kind, seq) at p, frame size net.size. */
static void payload_fill(uint8_t *p, uint16_t kind, uint64_t seq, uint64_t total)
{
	uint32_t fill = net.size - l2_len() - PAYLOAD_HDR, k;
	uint64_t w = seq * FILL_STEP;

	wr32(p, NET_MAGIC);
	p[4] = (uint8_t)kind;
	p[5] = (uint8_t)(kind >> 8);
	p[6] = p[7] = 0;
	wr64(p + 8, seq);
	wr64(p + 16, total);
	wr32(p + 24, net.size);
	wr32(p + 28, 0);
	p += PAYLOAD_HDR;
	for (k = 0; k + 8 <= fill; k += 8)
		wr64(p + k, w + k / 8);
	for (; k < fill; k++)
		p[k] = (uint8_t)(seq + k);
}

/* Checks the fill of a DATA frame's payload of len bytes. */
static bool payload_ok(const uint8_t *p, uint32_t len, uint64_t seq)
{
	uint32_t fill = len - PAYLOAD_HDR, k;
	uint64_t w = seq * FILL_STEP, diff = 0;

	p += PAYLOAD_HDR;
	for (k = 0; k + 8 <= fill; k += 8)
		diff |= rd64(p + k) ^ (w + k / 8);
	for (; k < fill; k++)
		diff |= p[k] ^ (uint8_t)(seq + k);
	return diff == 0;
}

static void rx_post(unsigned int i)
{
	struct virtq_sg sg = { (uintptr_t)(net.rx_bufs + (size_t)i * NET_BUF_SIZE),
			       NET_BUF_SIZE, true };

	if (virtq_add(&net.rxq, &sg, 1, i) < 0)
		fail(EXIT_INTERNAL, "net: receive queue full");
	if (++net.rx_unkicked >= net.batch) {
		virtq_kick(&net.rxq);
		net.rx_unkicked = 0;
	}
}

static void tx_reclaim(void)
{
	uint64_t token;
	uint32_t len;
	int ret;

	while ((ret = virtq_poll(&net.txq, &token, &len)) > 0)
		net.tx_free[net.tx_nfree++] = (uint16_t)token;
	if (ret < 0)
		fail(EXIT_DEVICE, "net: device broke the transmit ring (%u)", len);
}

/* A free transmit buffer (its frame area), waiting for one if needed;
 * *idx gets its index for tx_queue. */
static uint8_t *tx_get(unsigned int *idx)
{
	uint64_t start = 0, next_check = 0;

	while (net.tx_nfree == 0) {
		virtq_kick(&net.txq);
		tx_reclaim();
		if (net.tx_nfree)
			break;
		net.tx_full_spins++;
		if (!start) {
			start = rdtsc();
			next_check = start + tsc_from_us(VIRTIO_STATUS_POLL_US);
		} else if (tsc_every(&next_check, VIRTIO_STATUS_POLL_US)) {
			if (rdtsc() - start > tsc_from_us(NET_STUCK_US))
				fail(EXIT_DEVICE, "net: transmit queue stuck full for %u s "
				     "(%u in flight)", NET_STUCK_US / 1000000,
				     virtq_in_flight(&net.txq));
			if (virtio_needs_reset(&net.dev, "transmit"))
				fail(EXIT_DEVICE, "net: device needs reset");
		}
		cpu_relax();
	}
	*idx = net.tx_free[--net.tx_nfree];
	return net.tx_bufs + (size_t)*idx * NET_BUF_SIZE + VIRTIO_NET_HDR_LEN;
}

/* Queues tx buffer idx with a frame of len bytes (not yet kicked). */
static void tx_queue(unsigned int idx, uint32_t len)
{
	struct virtq_sg sg = { (uintptr_t)(net.tx_bufs + (size_t)idx * NET_BUF_SIZE),
			       VIRTIO_NET_HDR_LEN + len, false };

	if (virtq_add(&net.txq, &sg, 1, idx) < 0)
		fail(EXIT_INTERNAL, "net: transmit queue full with a free buffer");
	net.tx_frames++;
	net.tx_bytes += len;
}

/* Builds a test frame of kind/seq into a free tx buffer and queues it. */
static void tx_test_frame(uint16_t kind, uint64_t seq, uint64_t total)
{
	unsigned int idx;
	uint8_t *f = tx_get(&idx);

	memcpy(f, net.dst, 6);
	memcpy(f + 6, net.src, 6);
	if (net.vlan >= 0) {
		put_be16(f + 12, VLAN_TPID);
		put_be16(f + 14, (uint16_t)net.vlan);
	}
	put_be16(f + l2_len() - 2, net.type);
	payload_fill(f + l2_len(), kind, seq, total);
	tx_queue(idx, net.size);
}

/* Sends a frame back with the addresses swapped. */
static void tx_echo(const uint8_t *f, uint32_t len)
{
	unsigned int idx;
	uint8_t *o = tx_get(&idx);

	memcpy(o, f, len);
	memcpy(o, f + 6, 6);
	/* A group destination (broadcast, multicast) is no source address. */
	memcpy(o + 6, f[0] & 1 ? net.mac : f, 6);
	tx_queue(idx, len);
}

/*
 * Classifies a received frame. Returns its kind (0 for not ours) and, for
 * test frames, the payload pointer, its length and the seq.
 */
static int rx_parse(const uint8_t *f, uint32_t len, const uint8_t **pl, uint32_t *pl_len,
		    uint64_t *seq, int *vlan)
{
	uint32_t off = ETH_HDR;
	uint16_t type;

	*vlan = -1;
	if (len < ETH_HDR)
		return -1;
	type = be16(f + 12);
	if (type == VLAN_TPID) {
		if (len < ETH_HDR + 4)
			return -1;
		*vlan = be16(f + 14) & 0xfff;
		type = be16(f + 16);
		off += 4;
	}
	if (type != net.type)
		return 0;
	if (len - off < PAYLOAD_HDR || rd32(f + off) != NET_MAGIC)
		return -1;
	*pl = f + off;
	*pl_len = len - off;
	*seq = rd64(f + off + 8);
	return f[off + 4] | f[off + 5] << 8;
}

/* Counts a DATA frame in st (seq order, payload check). */
static void stats_data(struct net_stats *st, const uint8_t *pl, uint32_t pl_len, uint32_t len,
		       uint64_t seq, uint64_t now)
{
	if (rd32(pl + 24) != len || !payload_ok(pl, pl_len, seq)) {
		st->bad++;
		if (st->bad <= 3)
			con_printf("net: bad frame seq=%lu len=%u (says %u)\n", seq, len,
				   rd32(pl + 24));
		return;
	}
	if (st->frames == 0)
		st->t_first = now;
	st->t_last = now;
	st->frames++;
	st->bytes += len;
	if (seq == st->next_seq) {
		st->next_seq++;
	} else if (seq > st->next_seq) {
		st->lost += seq - st->next_seq;
		st->next_seq = seq + 1;
	} else {
		/* Late: it was counted as lost when the gap opened. */
		st->reordered++;
		if (st->lost)
			st->lost--;
	}
}

static void print_rate(const char *what, uint64_t frames, uint64_t bytes, uint64_t ticks)
{
	uint64_t us = tsc_to_us(ticks);
	uint64_t kpps, mbit;

	if (us == 0)
		us = 1;
	kpps = frames * 1000 / us;		/* thousandths of Mpps */
	mbit = bytes * 8 / us;			/* Mbit/s */
	con_printf(" us=%lu mpps=%lu.%03lu gbps=%lu.%03lu", us, kpps / 1000, kpps % 1000,
		   mbit / 1000, mbit % 1000);
	(void)what;
}

static void print_stats(const char *what, const struct net_stats *st)
{
	con_printf("net: %s frames=%lu bytes=%lu lost=%lu reordered=%lu bad=%lu other=%lu",
		   what, st->frames, st->bytes, st->lost, st->reordered, st->bad, st->other);
	if (st->end_seen)
		con_printf(" sent=%lu", st->end_total);
	print_rate(what, st->frames, st->bytes, st->frames > 1 ? st->t_last - st->t_first : 0);
	con_printf("\n");
}

/* Takes received frames: returns how many were handled (0: none waiting).
 * role ECHO sends them back; everything is counted in st. */
static unsigned int rx_service(enum net_role role, struct net_stats *st, bool *ready_seen,
			       unsigned int max)
{
	unsigned int n = 0;

	while (n < max) {
		uint64_t token, seq;
		uint32_t len, pl_len;
		const uint8_t *f, *pl;
		int kind, vlan, ret = virtq_poll(&net.rxq, &token, &len);

		if (ret == 0)
			break;
		if (ret < 0 || token >= net.rxq.num)
			fail(EXIT_DEVICE, "net: device broke the receive ring (%u)", len);
		if (len < VIRTIO_NET_HDR_LEN || len > NET_BUF_SIZE)
			fail(EXIT_DEVICE, "net: received length %u (buffer %u)", len,
			     NET_BUF_SIZE);
		n++;
		f = net.rx_bufs + token * NET_BUF_SIZE + VIRTIO_NET_HDR_LEN;
		len -= VIRTIO_NET_HDR_LEN;
		kind = rx_parse(f, len, &pl, &pl_len, &seq, &vlan);
		if (kind == KIND_DATA) {
			if (st->frames == 0 && st->bad == 0) {
				char s[18], d[18];

				mac_str(f + 6, s);
				mac_str(f, d);
				con_printf("net: first frame src=%s dst=%s vlan=%d len=%u\n", s, d,
					   vlan, len);
			}
			stats_data(st, pl, pl_len, len, seq, rdtsc());
			if (role == ROLE_ECHO)
				tx_echo(f, len);
		} else if (kind == KIND_END) {
			if (!st->end_seen) {
				st->end_seen = true;
				st->end_total = rd64(pl + 16);
			}
			if (role == ROLE_ECHO)
				tx_echo(f, len);
		} else if (kind == KIND_READY) {
			*ready_seen = true;
		} else if (kind < 0) {
			st->bad++;
		} else {
			st->other++;
		}
		rx_post((unsigned int)token);
	}
	if (n && role == ROLE_ECHO)
		virtq_kick(&net.txq);
	return n;
}

static void net_send(uint64_t count, uint64_t ms, uint64_t wait_ms, uint64_t linger_ms)
{
	struct net_stats echo = { 0 };
	bool ready = false;
	uint64_t seq = 0, t0, t1, end, i, notifies;

	if (wait_ms) {
		uint64_t deadline = rdtsc() + tsc_from_us(wait_ms * 1000);

		con_printf("net: waiting for the peer\n");
		while (!ready) {
			if (!rx_service(ROLE_SEND, &echo, &ready, 64)) {
				virtq_kick(&net.rxq);
				if ((int64_t)(rdtsc() - deadline) > 0)
					fail(EXIT_DEVICE, "net: no READY frame from a peer in %lu ms",
					     wait_ms);
				cpu_relax();
			}
		}
		con_printf("net: peer ready\n");
	}
	notifies = net.txq.notifies;
	t0 = rdtsc();
	end = count ? 0 : t0 + tsc_from_us(ms * 1000);
	for (;;) {
		unsigned int b;

		tx_reclaim();
		for (b = 0; b < net.batch; b++) {
			if (count ? seq >= count : (int64_t)(rdtsc() - end) >= 0)
				break;
			tx_test_frame(KIND_DATA, seq++, 0);
		}
		virtq_kick(&net.txq);
		if (b < net.batch)
			break;
		rx_service(ROLE_SEND, &echo, &ready, 64);
	}
	t1 = rdtsc();
	con_printf("net: tx frames=%lu bytes=%lu size=%u batch=%u", seq,
		   seq * net.size, net.size, net.batch);
	print_rate("tx", seq, seq * net.size, t1 - t0);
	con_printf(" notifies=%lu full_spins=%lu\n", net.txq.notifies - notifies,
		   net.tx_full_spins);
	/* END, a few times (a datagram transport may drop one), 1 ms apart. */
	for (i = 0; i < END_FRAMES; i++) {
		tx_test_frame(KIND_END, seq, seq);
		virtq_kick(&net.txq);
		tsc_delay_us(1000);
		rx_service(ROLE_SEND, &echo, &ready, 1024);
	}
	/* Echoes still on their way back. */
	end = rdtsc() + tsc_from_us(linger_ms * 1000);
	while (!echo.end_seen && (int64_t)(rdtsc() - end) < 0) {
		tx_reclaim();
		if (!rx_service(ROLE_SEND, &echo, &ready, 64)) {
			virtq_kick(&net.rxq);
			cpu_relax();
		}
	}
	if (echo.frames || echo.end_seen) {
		/* Frames that never came back are lost, wherever. */
		if (echo.frames < seq && echo.lost < seq - echo.frames)
			echo.lost = seq - echo.frames;
		print_stats("echo_rx", &echo);
		if (echo.bad)
			fail(EXIT_VERIFY, "net: %lu bad frames came back", echo.bad);
	}
}

static void net_receive(enum net_role role, uint64_t count, uint64_t ms, uint64_t idle_ms,
			uint64_t max_lost)
{
	struct net_stats st = { 0 };
	bool ready = false;
	uint64_t deadline = rdtsc() + tsc_from_us(ms * 1000), next_ready = 0;
	uint64_t idle = tsc_from_us(idle_ms * 1000), next_check = 0;
	uint64_t rx_notifies = net.rxq.notifies;

	for (;;) {
		if (rx_service(role, &st, &ready, 64) == 0) {
			uint64_t now = rdtsc();

			if (net.rx_unkicked) {
				virtq_kick(&net.rxq);
				net.rx_unkicked = 0;
			}
			if (st.frames == 0 && !st.end_seen && (int64_t)(now - next_ready) >= 0) {
				tx_test_frame(KIND_READY, 0, 0);
				virtq_kick(&net.txq);
				next_ready = now + tsc_from_us(READY_EVERY_US);
			}
			if ((int64_t)(now - deadline) > 0)
				break;
			if (tsc_every(&next_check, VIRTIO_STATUS_POLL_US) &&
			    virtio_needs_reset(&net.dev, "receive"))
				fail(EXIT_DEVICE, "net: device needs reset");
			/* The sender is gone (its END frames lost?). */
			if (st.frames && now - st.t_last > idle) {
				con_printf("net: no frame for %lu ms, stopping\n", idle_ms);
				break;
			}
			tx_reclaim();
			cpu_relax();
			continue;
		}
		if (st.end_seen || (count && st.frames >= count))
			break;
	}
	if (st.end_seen && st.end_total >= st.frames && st.end_total - st.frames > st.lost)
		st.lost = st.end_total - st.frames;	/* a tail that never arrived */
	print_stats(role == ROLE_ECHO ? "echo" : "rx", &st);
	con_printf("net: rx_notifies=%lu tx_frames=%lu\n", net.rxq.notifies - rx_notifies,
		   net.tx_frames);
	/* Let the echoes leave before the device is reset. */
	if (role == ROLE_ECHO) {
		uint64_t until = rdtsc() + tsc_from_us(100000);

		while (virtq_in_flight(&net.txq) && (int64_t)(rdtsc() - until) < 0) {
			virtq_kick(&net.txq);
			tx_reclaim();
		}
	}
	if (st.frames == 0)
		fail(EXIT_DEVICE, "net: no test frames received in %lu ms", ms);
	if (st.bad)
		fail(EXIT_VERIFY, "net: %lu bad frames", st.bad);
	if (st.lost > max_lost)
		fail(EXIT_VERIFY, "net: %lu frames lost (max_lost=%lu)", st.lost, max_lost);
}

/* 48 bits that differ from boot to boot, for a MAC of our own. */
static uint64_t mix_tsc_mac(void)
{
	uint64_t x = rdtsc() * FILL_STEP;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void net_run(void)
{
	static char feat[512];
	const char *role_s = cmdline_get("role"), *v;
	uint64_t size, count, seconds, ms, wait_ms, linger_ms, vlan, type, batch, qsize;
	uint64_t max_lost, idle_ms;
	enum net_role role;
	char buf[18];
	unsigned int i;

	if (!role_s || strcmp(role_s, "recv") == 0)
		role = ROLE_RECV;
	else if (strcmp(role_s, "send") == 0)
		role = ROLE_SEND;
	else if (strcmp(role_s, "echo") == 0)
		role = ROLE_ECHO;
	else
		fail(EXIT_USAGE, "net: role=send|recv|echo");
	if (cmdline_get_u64("size", 1514, &size) < 0 || cmdline_get_u64("count", 0, &count) < 0 ||
	    cmdline_get_u64("seconds", role == ROLE_SEND ? 1 : 30, &seconds) < 0 ||
	    cmdline_get_u64("ms", seconds * 1000, &ms) < 0 ||
	    cmdline_get_u64("wait_ms", 30000, &wait_ms) < 0 ||
	    cmdline_get_u64("linger_ms", 500, &linger_ms) < 0 ||
	    cmdline_get_u64("vlan", 0xffff, &vlan) < 0 ||
	    cmdline_get_u64("type", 0x88b5, &type) < 0 ||
	    cmdline_get_u64("batch", 32, &batch) < 0 || cmdline_get_u64("qsize", 256, &qsize) < 0 ||
	    cmdline_get_u64("max_lost", ~0ULL, &max_lost) < 0 ||
	    cmdline_get_u64("idle_ms", 2000, &idle_ms) < 0 ||
	    (vlan != 0xffff && vlan > 4095) || type < 0x600 || type > 0xffff ||
	    type == VLAN_TPID || batch == 0 || batch > 256 || qsize < 2 || qsize > NET_QMAX)
		fail(EXIT_USAGE, "net role=send|recv|echo [size=1514] [count=N] [seconds=S|ms=M] "
		     "[dst=MAC] [src=MAC] [type=0x88b5] [vlan=ID] [wait_ms=30000] "
		     "[linger_ms=500] [idle_ms=2000] [batch=32] [qsize=256] [max_lost=N]");
	net.vlan = vlan == 0xffff ? -1 : (int)vlan;
	net.type = (uint16_t)type;
	net.batch = (unsigned int)batch;
	if (size < 60 || size < l2_len() + PAYLOAD_HDR || size > 1514 + (net.vlan >= 0 ? 4 : 0))
		fail(EXIT_USAGE, "net: size=%lu: 60..1514 (1518 with vlan=)", size);
	net.size = (uint32_t)size;
	if (tsc_calibrate() < 0)
		fail(EXIT_TIMER, "no TSC frequency");

	virtio_find_or_fail(VIRTIO_ID_NET, &net.dev);
	if (virtio_start(&net.dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			 VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS)) < 0)
		fail(EXIT_DEVICE, "net: %s: setup refused", net.dev.name);
	if (virtq_setup(&net.dev, &net.rxq, 0, (uint16_t)qsize) < 0 ||
	    virtq_setup(&net.dev, &net.txq, 1, (uint16_t)qsize) < 0)
		fail(EXIT_DEVICE, "net: %s: no receiveq1/transmitq1", net.dev.name);
	net.rx_bufs = mem_alloc((uint64_t)net.rxq.num * NET_BUF_SIZE, 4096);
	net.tx_bufs = mem_alloc((uint64_t)net.txq.num * NET_BUF_SIZE, 4096);
	net.tx_free = mem_alloc(2ULL * net.txq.num, 64);
	if (!net.rx_bufs || !net.tx_bufs || !net.tx_free)
		fail(EXIT_NOMEM, "net: no memory for %u + %u buffers", net.rxq.num, net.txq.num);
	for (i = 0; i < net.txq.num; i++)
		net.tx_free[net.tx_nfree++] = (uint16_t)i;
	if (net.batch > net.txq.num)
		net.batch = net.txq.num;
	for (i = 0; i < net.rxq.num; i++)
		rx_post(i);
	virtq_kick(&net.rxq);
	net.rx_unkicked = 0;
	virtio_driver_ok(&net.dev);

	if (net.dev.features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) {
		for (i = 0; i < 6; i++)
			net.mac[i] = virtio_cfg_read8(&net.dev, VIRTIO_NET_CFG_MAC + i);
	} else {
		/* No MAC from the device: a random locally administered one. */
		uint64_t r = mix_tsc_mac();

		for (i = 0; i < 6; i++)
			net.mac[i] = (uint8_t)(r >> (8 * i));
		net.mac[0] = (uint8_t)((net.mac[0] & 0xfe) | 0x02);
	}
	memcpy(net.src, net.mac, 6);
	memset(net.dst, 0xff, 6);
	if ((v = cmdline_get("src")) && parse_mac(v, net.src) < 0)
		fail(EXIT_USAGE, "net: src=%s: want xx:xx:xx:xx:xx:xx", v);
	if ((v = cmdline_get("dst")) && parse_mac(v, net.dst) < 0)
		fail(EXIT_USAGE, "net: dst=%s: want xx:xx:xx:xx:xx:xx", v);
	virtio_features_str(VIRTIO_ID_NET, net.dev.features, feat, sizeof(feat));
	mac_str(net.mac, buf);
	con_printf("net: dev=%s mac=%s link=%s queues=%u/%u features=0x%lx %s\n", net.dev.name,
		   buf, net.dev.features & VIRTIO_BIT(VIRTIO_NET_F_STATUS) ?
		   (virtio_cfg_read16(&net.dev, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP ?
		    "up" : "down") : "unknown",
		   net.rxq.num, net.txq.num, net.dev.features, feat);
	mac_str(net.src, buf);
	con_printf("net: role=%s size=%u type=0x%04x vlan=%d src=%s", role == ROLE_SEND ? "send" :
		   role == ROLE_ECHO ? "echo" : "recv", net.size, net.type, net.vlan, buf);
	mac_str(net.dst, buf);
	con_printf(" dst=%s\n", buf);

	if (role == ROLE_SEND)
		net_send(count, ms, wait_ms, linger_ms);
	else
		net_receive(role, count, ms, idle_ms, max_lost);
	con_printf("net: pass\n");
	virtio_reset(&net.dev);
}

static const struct mode net_mode = {
	.name = "net",
	.run = net_run,
	.usage = "virtio-net: role=send|recv|echo size= count= seconds=|ms= dst= src= type= "
		 "vlan= wait_ms= linger_ms= idle_ms= batch= qsize= max_lost=",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(net_mode);
