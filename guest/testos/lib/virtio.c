// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci, modern transport (virtio 1.x spec 4.1), and split virtqueues
 * (spec 2.7), polled from CPL3. See include/virtio.h for the contracts.
 *
 * Memory ordering (x86 is TSO: loads stay in order, stores stay in order,
 * only a store followed by a load can be reordered):
 * - descriptors and avail ring entries are written before avail->idx: a
 *   compiler barrier is enough;
 * - avail->idx is written before used->flags / avail_event are read to
 *   decide whether to notify: full barrier (mb), or the device could go
 *   idle after we read a stale "no notify" and never see the new entries;
 * - used->idx is read before the used entries: compiler barrier.
 */
#include "cmdline.h"
#include "io.h"
#include "virtio.h"
#include "testos.h"
#include "tsc.h"

/* virtio_pci_cap (spec 4.1.4). */
#define CAP_CFG_TYPE		3
#define CAP_BAR			4
#define CAP_OFFSET		8
#define CAP_LENGTH		12
#define CAP_NOTIFY_MULT		16
#define CAP_LEN_MIN		16
#define CAP_NOTIFY_LEN_MIN	20

#define CFG_COMMON		1
#define CFG_NOTIFY		2
#define CFG_ISR			3
#define CFG_DEVICE		4

#define CAPS_MAX		48	/* a loop guard for the capability list */

/* bars=reassign: forget the firmware's BAR addresses and place them
 * ourselves, as on a VMM without firmware (tests the assignment path). */
static bool bars_reassign;
#define RESET_TIMEOUT_US	1000000

struct find_ctx {
	unsigned int type, nth;
	const char *at;
	struct pci_addr found;
	bool have;
};

static int parse_bdf(const char *s, struct pci_addr *a)
{
	/* BB:DD.F in hex */
	unsigned int v[3] = { 0, 0, 0 }, i = 0, digits = 0;

	for (; *s; s++) {
		char c = *s;

		if ((c == ':' && i == 0) || (c == '.' && i == 1)) {
			if (!digits)
				return -EINVAL;
			i++;
			digits = 0;
			continue;
		}
		if (c >= '0' && c <= '9')
			v[i] = v[i] * 16 + (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v[i] = v[i] * 16 + (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v[i] = v[i] * 16 + (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
		if (++digits > 2)
			return -EINVAL;
	}
	if (i != 2 || !digits || v[1] > 31 || v[2] > 7)
		return -EINVAL;
	a->bus = (uint8_t)v[0];
	a->dev = (uint8_t)v[1];
	a->fn = (uint8_t)v[2];
	return 0;
}

static int find_one(struct pci_addr a, void *arg)
{
	struct find_ctx *c = arg;
	uint32_t id = pci_read32(a, 0x00);

	if ((id & 0xffff) != VIRTIO_PCI_VENDOR || (id >> 16) != VIRTIO_PCI_MODERN_BASE + c->type)
		return 0;
	if (c->nth-- > 0)
		return 0;
	c->found = a;
	c->have = true;
	return 1;
}

/* Makes memory BAR bar usable below 4 GiB; returns its address, size in
 * *size, or 0 after printing why not. */
static uint64_t map_bar(struct virtio_dev *d, unsigned int bar, unsigned int max_bus,
			uint64_t *size)
{
	struct pci_bar b;
	uint64_t addr;

	/* The upper half of a 64-bit BAR is no BAR of its own. */
	if (bar > 0 && (pci_read32(d->pci, 0x10 + 4 * (bar - 1)) & 7) == 4) {
		con_printf("virtio: %s: BAR%u is the upper half of 64-bit BAR%u\n", d->name, bar,
			   bar - 1);
		return 0;
	}
	if (bars_reassign && pci_bar_probe(d->pci, bar, &b) == 0 && !b.io && b.size)
		pci_bar_set(d->pci, bar, &b, 0);
	if (pci_bar_probe(d->pci, bar, &b) < 0 || b.size == 0) {
		con_printf("virtio: %s: BAR%u is not implemented\n", d->name, bar);
		return 0;
	}
	if (b.io) {
		con_printf("virtio: %s: BAR%u is an I/O BAR (unsupported)\n", d->name, bar);
		return 0;
	}
	*size = b.size;
	if (b.addr != 0 && b.addr + b.size <= (1ULL << 32) && b.addr + b.size > b.addr)
		return b.addr;
	addr = pci_alloc_mmio(b.size, max_bus);
	if (!addr) {
		con_printf("virtio: %s: no room below 4 GiB for BAR%u (%lu bytes)\n", d->name,
			   bar, b.size);
		return 0;
	}
	pci_bar_set(d->pci, bar, &b, addr);
	con_printf("virtio: %s: BAR%u was 0x%lx, assigned 0x%lx size 0x%lx\n", d->name, bar,
		   b.addr, addr, b.size);
	return addr;
}

/* Walks the vendor capabilities and maps the four structures we use. */
static int map_structures(struct virtio_dev *d, unsigned int max_bus)
{
	uint64_t bar_addr[6] = { 0 }, bar_size[6] = { 0 };
	bool seen[5] = { false };
	unsigned int ptr, n;
	uint16_t cmd;

	if (!(pci_read16(d->pci, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		con_printf("virtio: %s: no capability list\n", d->name);
		return -EIO;
	}
	/* Decoding off while BARs are probed and placed. */
	cmd = pci_read16(d->pci, PCI_COMMAND);
	pci_write16(d->pci, PCI_COMMAND, cmd & (uint16_t)~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
	ptr = pci_read8(d->pci, PCI_CAP_PTR) & 0xfc;
	for (n = 0; ptr >= 0x40 && n < CAPS_MAX; n++) {
		unsigned int id = pci_read8(d->pci, ptr), next = pci_read8(d->pci, ptr + 1) & 0xfc;
		unsigned int len = pci_read8(d->pci, ptr + 2), type, bar;
		uint32_t off, length;
		uint64_t base;

		if (id != PCI_CAP_ID_VNDR || len < CAP_LEN_MIN)
			goto next;
		type = pci_read8(d->pci, ptr + CAP_CFG_TYPE);
		bar = pci_read8(d->pci, ptr + CAP_BAR);
		off = pci_read32(d->pci, ptr + CAP_OFFSET);
		length = pci_read32(d->pci, ptr + CAP_LENGTH);
		/* Use the first capability of each type we understand; bar > 5
		 * is reserved (spec 4.1.4: ignore the capability). */
		if (type < CFG_COMMON || type > CFG_DEVICE || seen[type] || bar > 5)
			goto next;
		if (type == CFG_NOTIFY && len < CAP_NOTIFY_LEN_MIN)
			goto next;
		if (!bar_size[bar]) {
			bar_addr[bar] = map_bar(d, bar, max_bus, &bar_size[bar]);
			if (!bar_addr[bar])
				goto fail;
		}
		if ((uint64_t)off + length > bar_size[bar]) {
			con_printf("virtio: %s: capability type %u (0x%x + 0x%x) exceeds BAR%u "
				   "(size 0x%lx)\n", d->name, type, off, length, bar, bar_size[bar]);
			goto fail;
		}
		base = bar_addr[bar] + off;
		seen[type] = true;
		switch (type) {
		case CFG_COMMON:
			d->common = (uintptr_t)base;
			d->common_len = length;
			d->common_room = bar_size[bar] - off;
			break;
		case CFG_NOTIFY:
			d->notify = (uintptr_t)base;
			d->notify_len = length;
			d->notify_room = bar_size[bar] - off;
			d->notify_mult = pci_read32(d->pci, ptr + CAP_NOTIFY_MULT);
			break;
		case CFG_ISR:
			d->isr = (uintptr_t)base;
			d->isr_len = length;
			break;
		case CFG_DEVICE:
			d->devcfg = (uintptr_t)base;
			d->devcfg_len = length;
			d->devcfg_room = bar_size[bar] - off;
			break;
		}
next:
		ptr = next;
	}
	if (!seen[CFG_COMMON] || !seen[CFG_NOTIFY] || d->common_len < VIRTIO_COMMON_LEN) {
		con_printf("virtio: %s: missing common or notify capability\n", d->name);
		goto fail;
	}
	/* Memory decoding and bus mastering on; INTx off: we poll. */
	cmd = (uint16_t)((cmd & ~PCI_COMMAND_IO) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			 PCI_COMMAND_INTX_DISABLE);
	pci_write16(d->pci, PCI_COMMAND, cmd);
	return 0;
fail:
	pci_write16(d->pci, PCI_COMMAND, cmd);
	return -EIO;
}

int virtio_find(unsigned int type, unsigned int max_bus, unsigned int nth, const char *at,
		struct virtio_dev *dev)
{
	struct find_ctx c = { .type = type, .nth = nth, .at = at };

	memset(dev, 0, sizeof(*dev));
	if (at) {
		uint32_t id;

		if (parse_bdf(at, &c.found) < 0) {
			con_printf("virtio: pci=%s: want BB:DD.F (hex)\n", at);
			return -ENODEV;
		}
		id = pci_read32(c.found, 0x00);
		if ((id & 0xffff) != VIRTIO_PCI_VENDOR ||
		    (id >> 16) != VIRTIO_PCI_MODERN_BASE + type) {
			con_printf("virtio: %s is %04x:%04x, not a modern virtio device of type %u\n",
				   at, id & 0xffff, id >> 16, type);
			return -ENODEV;
		}
	} else {
		pci_scan(max_bus, find_one, &c);
		if (!c.have)
			return -ENODEV;
	}
	dev->pci = c.found;
	dev->type = type;
	dev->pci_device = (uint16_t)(VIRTIO_PCI_MODERN_BASE + type);
	con_snprintf(dev->name, sizeof(dev->name), "%02x:%02x.%u", c.found.bus, c.found.dev,
		     c.found.fn);
	if (map_structures(dev, max_bus) < 0)
		return -EIO;
	dev->num_queues = (uint16_t)virtio_common_read(dev, VIRTIO_COMMON_NUMQ, 2);
	return 0;
}

void virtio_find_or_fail(unsigned int type, struct virtio_dev *dev)
{
	static const char *const names[] = { "?", "net", "blk", "console", "rng" };
	const char *bars = cmdline_get("bars");
	uint64_t max_bus;
	int ret;

	if (cmdline_get_u64("max_bus", 0, &max_bus) < 0 || max_bus > 255)
		fail(EXIT_USAGE, "max_bus=N: 0..255");
	if (bars && strcmp(bars, "reassign") != 0 && strcmp(bars, "keep") != 0)
		fail(EXIT_USAGE, "bars=keep|reassign");
	bars_reassign = bars && strcmp(bars, "reassign") == 0;
	ret = virtio_find(type, (unsigned int)max_bus, 0, cmdline_get("pci"), dev);
	if (ret == -ENODEV)
		fail(EXIT_DEVICE, "no modern virtio-%s PCI device (vendor 1af4 device %04x) on "
		     "buses 0..%lu", type < ARRAY_SIZE(names) ? names[type] : "?",
		     VIRTIO_PCI_MODERN_BASE + type, max_bus);
	if (ret < 0)
		fail(EXIT_DEVICE, "virtio device at %s is unusable", dev->name);
	con_printf("virtio: %s %04x:%04x type=%u queues=%u notify_mult=%u devcfg_len=%u\n",
		   dev->name, VIRTIO_PCI_VENDOR, dev->pci_device, type, dev->num_queues,
		   dev->notify_mult, dev->devcfg_len);
}

uint32_t virtio_common_read(struct virtio_dev *d, uint32_t off, unsigned int size)
{
	uintptr_t a = d->common + off;

	switch (size) {
	case 1:
		return mmio_read8(a);
	case 2:
		return mmio_read16(a);
	default:
		return mmio_read32(a);
	}
}

void virtio_common_write(struct virtio_dev *d, uint32_t off, unsigned int size, uint32_t v)
{
	uintptr_t a = d->common + off;

	switch (size) {
	case 1:
		mmio_write8(a, (uint8_t)v);
		break;
	case 2:
		mmio_write16(a, (uint16_t)v);
		break;
	default:
		mmio_write32(a, v);
		break;
	}
}

uint8_t virtio_get_status(struct virtio_dev *d)
{
	return mmio_read8(d->common + VIRTIO_COMMON_STATUS);
}

void virtio_set_status(struct virtio_dev *d, uint8_t status)
{
	mmio_write8(d->common + VIRTIO_COMMON_STATUS, status);
}

bool virtio_needs_reset(struct virtio_dev *d, const char *who)
{
	uint8_t s = virtio_get_status(d);

	if (!(s & VIRTIO_STATUS_NEEDS_RESET))
		return false;
	if (who)
		con_printf("virtio: %s: DEVICE_NEEDS_RESET (status 0x%02x) during %s\n", d->name,
			   s, who);
	return true;
}

int virtio_reset(struct virtio_dev *d)
{
	uint64_t start = rdtsc(), limit = tsc_khz ? tsc_from_us(RESET_TIMEOUT_US) : 0;
	unsigned long spins = 0;

	virtio_set_status(d, 0);
	/* The device may take time to reset: wait until it reads back 0
	 * (spec 4.1.4.3.2). Without a TSC frequency, bound by iterations. */
	while (virtio_get_status(d) != 0) {
		cpu_relax();
		if (limit ? rdtsc() - start > limit : ++spins > 10000000UL) {
			con_printf("virtio: %s: reset did not complete (status 0x%02x)\n", d->name,
				   virtio_get_status(d));
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static uint64_t read_features(struct virtio_dev *d)
{
	uint64_t f;

	virtio_common_write(d, VIRTIO_COMMON_DFSELECT, 4, 0);
	f = virtio_common_read(d, VIRTIO_COMMON_DF, 4);
	virtio_common_write(d, VIRTIO_COMMON_DFSELECT, 4, 1);
	f |= (uint64_t)virtio_common_read(d, VIRTIO_COMMON_DF, 4) << 32;
	return f;
}

static void write_features(struct virtio_dev *d, uint64_t f)
{
	virtio_common_write(d, VIRTIO_COMMON_GFSELECT, 4, 0);
	virtio_common_write(d, VIRTIO_COMMON_GF, 4, (uint32_t)f);
	virtio_common_write(d, VIRTIO_COMMON_GFSELECT, 4, 1);
	virtio_common_write(d, VIRTIO_COMMON_GF, 4, (uint32_t)(f >> 32));
}

int virtio_start(struct virtio_dev *d, uint64_t wanted)
{
	int ret = virtio_reset(d);

	if (ret < 0)
		return ret;
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	d->offered = read_features(d);
	if (!(d->offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		con_printf("virtio: %s: device does not offer VERSION_1 (features 0x%lx)\n",
			   d->name, d->offered);
		virtio_set_status(d, VIRTIO_STATUS_FAILED);
		return -ENODEV;
	}
	d->features = d->offered & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	write_features(d, d->features);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		con_printf("virtio: %s: device refused features 0x%lx (FEATURES_OK cleared)\n",
			   d->name, d->features);
		virtio_set_status(d, VIRTIO_STATUS_FAILED);
		return -EIO;
	}
	/* No configuration-change interrupt either. */
	virtio_common_write(d, VIRTIO_COMMON_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	return 0;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	virtio_set_status(d, (uint8_t)(virtio_get_status(d) | VIRTIO_STATUS_DRIVER_OK));
}

void virtq_clear(struct virtq *q)
{
	unsigned int i;

	memset(q->desc, 0, (size_t)q->num * sizeof(struct virtq_desc));
	memset((void *)q->avail, 0, sizeof(struct virtq_avail) + 2 * (size_t)q->num + 2);
	memset((void *)q->used, 0, sizeof(struct virtq_used) +
	       sizeof(struct virtq_used_elem) * (size_t)q->num + 2);
	for (i = 0; i < q->num; i++) {
		q->next[i] = (uint16_t)(i + 1);
		q->chain_len[i] = 0;
		q->token[i] = 0;
	}
	q->free_head = 0;
	q->num_free = q->num;
	q->avail_idx = q->published = q->last_used = 0;
	q->used_event = &q->avail->ring[q->num];
	q->avail_event = (volatile uint16_t *)&q->used->ring[q->num];
	/* We never want interrupts. With EVENT_IDX the device looks at
	 * used_event instead; keep it far from the used index (virtq_poll
	 * moves it along). */
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	*q->used_event = 0x8000;
}

static int virtq_alloc(struct virtq *q, uint16_t num)
{
	if (q->desc && q->cap >= num)
		return 0;
	/* desc: 16-byte aligned, avail: 2, used: 4 (spec 2.7); we use pages. */
	q->desc = mem_alloc(16ULL * num, 4096);
	q->avail = mem_alloc(6 + 2ULL * num, 4096);
	q->used = mem_alloc(6 + 8ULL * num, 4096);
	q->next = mem_alloc(2ULL * num, 64);
	q->chain_len = mem_alloc(2ULL * num, 64);
	q->token = mem_alloc(8ULL * num, 64);
	if (!q->desc || !q->avail || !q->used || !q->next || !q->chain_len || !q->token) {
		q->desc = NULL;
		return -ENOMEM;
	}
	q->cap = num;
	return 0;
}

static void write64(struct virtio_dev *d, uint32_t lo, uint64_t v)
{
	virtio_common_write(d, lo, 4, (uint32_t)v);
	virtio_common_write(d, lo + 4, 4, (uint32_t)(v >> 32));
}

static int queue_setup(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t want,
		       bool exact)
{
	uint16_t max, num, noff;
	int ret;

	if (index >= d->num_queues && !exact)
		return -ENOENT;
	virtio_common_write(d, VIRTIO_COMMON_Q_SELECT, 2, index);
	max = (uint16_t)virtio_common_read(d, VIRTIO_COMMON_Q_SIZE, 2);
	if (exact) {
		num = want;
	} else {
		if (max == 0)
			return -ENOENT;
		num = want && want < max ? want : max;
		if (num > VIRTQ_MAX_SIZE)
			num = VIRTQ_MAX_SIZE;
		/* Split rings: a power of two. */
		while (num & (num - 1))
			num &= (uint16_t)(num - 1);
	}
	if (num == 0)
		return -EINVAL;
	ret = virtq_alloc(q, num);
	if (ret < 0)
		return ret;
	q->dev = d;
	q->index = index;
	q->num = num;
	q->pow2 = (num & (num - 1)) == 0;
	q->mask = (uint16_t)(num - 1);
	q->event_idx = (d->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
	q->notifies = q->kicks = 0;
	virtq_clear(q);
	noff = (uint16_t)virtio_common_read(d, VIRTIO_COMMON_Q_NOFF, 2);
	if ((uint64_t)noff * d->notify_mult + 2 > d->notify_len) {
		con_printf("virtio: %s: queue %u notify offset %u x %u is outside the notify "
			   "region (%u bytes)\n", d->name, index, noff, d->notify_mult,
			   d->notify_len);
		return -EIO;
	}
	q->notify_addr = d->notify + (uintptr_t)noff * d->notify_mult;
	virtio_common_write(d, VIRTIO_COMMON_Q_SIZE, 2, num);
	virtio_common_write(d, VIRTIO_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	write64(d, VIRTIO_COMMON_Q_DESCLO, (uintptr_t)q->desc);
	write64(d, VIRTIO_COMMON_Q_AVAILLO, (uintptr_t)q->avail);
	write64(d, VIRTIO_COMMON_Q_USEDLO, (uintptr_t)q->used);
	virtio_common_write(d, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	return 0;
}

int virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t want)
{
	return queue_setup(d, q, index, want, false);
}

int virtq_setup_exact(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t num)
{
	return queue_setup(d, q, index, num, true);
}

static inline uint16_t slot(const struct virtq *q, uint16_t idx)
{
	return q->pow2 ? (uint16_t)(idx & q->mask) : (uint16_t)(idx % q->num);
}

int virtq_add(struct virtq *q, const struct virtq_sg *sg, unsigned int n, uint64_t token)
{
	uint16_t head, d;
	unsigned int i;

	if (n == 0)
		return -EINVAL;
	if (n > q->num_free)
		return -ENOSPC;
	head = d = q->free_head;
	for (i = 0; i < n; i++) {
		struct virtq_desc *desc = &q->desc[d];

		desc->addr = sg[i].addr;
		desc->len = sg[i].len;
		desc->flags = (uint16_t)((sg[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		desc->next = i + 1 < n ? q->next[d] : 0;
		d = q->next[d];
	}
	q->free_head = d;
	q->num_free = (uint16_t)(q->num_free - n);
	q->chain_len[head] = (uint16_t)n;
	q->token[head] = token;
	q->avail->ring[slot(q, q->avail_idx)] = head;
	q->avail_idx++;
	return head;
}

void virtq_notify(struct virtq *q)
{
	mmio_write16(q->notify_addr, q->index);
	q->notifies++;
}

void virtq_kick(struct virtq *q)
{
	uint16_t old = q->published, new = q->avail_idx;
	bool need;

	if (old == new)
		return;
	barrier();		/* ring entries before the index */
	q->avail->idx = new;
	q->published = new;
	q->kicks++;
	mb();			/* the index before reading the device's wishes */
	if (q->event_idx) {
		uint16_t ev = *q->avail_event;

		/* Notify when avail_event lies in [old, new) (spec 2.7.10). */
		need = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		need = !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	if (need)
		virtq_notify(q);
}

int virtq_poll(struct virtq *q, uint64_t *token, uint32_t *len)
{
	uint16_t used_idx = q->used->idx, id16, d;
	struct virtq_used_elem e;
	unsigned int n;

	if (used_idx == q->last_used)
		return 0;
	if ((uint16_t)(used_idx - q->last_used) > q->num) {
		*len = used_idx;
		return -EPROTO;
	}
	barrier();		/* the index before the entry */
	e = *(volatile struct virtq_used_elem *)&q->used->ring[slot(q, q->last_used)];
	if (e.id >= q->num || q->chain_len[e.id] == 0) {
		*len = e.id;
		return -EPROTO;
	}
	id16 = (uint16_t)e.id;
	q->last_used++;
	*token = q->token[id16];
	*len = e.len;
	/* Return the chain to the free list: walk our own links, not the
	 * descriptors (which the device could have scribbled on). */
	n = q->chain_len[id16];
	q->chain_len[id16] = 0;
	q->num_free = (uint16_t)(q->num_free + n);
	d = id16;
	while (--n > 0)
		d = q->next[d];
	q->next[d] = q->free_head;
	q->free_head = id16;
	/* EVENT_IDX: keep used_event half the index space ahead, so that the
	 * device never finds a reason to interrupt. */
	if (q->event_idx && (uint16_t)(*q->used_event - q->last_used) < 0x4000)
		*q->used_event = (uint16_t)(q->last_used + 0x8000);
	return 1;
}

/* Reads size bytes of device configuration at off, consistent across a
 * config_generation change (spec 4.1.4.3.1 / 2.5.1). */
static uint64_t cfg_read(struct virtio_dev *d, uint32_t off, unsigned int size)
{
	uint64_t v = 0;
	unsigned int tries;
	uint8_t gen;

	if (!d->devcfg || off > d->devcfg_len || size > d->devcfg_len - off)
		return 0;
	for (tries = 0; tries < 100; tries++) {
		uintptr_t a = d->devcfg + off;

		gen = (uint8_t)virtio_common_read(d, VIRTIO_COMMON_CFGGEN, 1);
		switch (size) {
		case 1:
			v = mmio_read8(a);
			break;
		case 2:
			v = mmio_read16(a);
			break;
		case 4:
			v = mmio_read32(a);
			break;
		default:
			/* Two 32-bit accesses (the spec allows drivers that). */
			v = mmio_read32(a) | (uint64_t)mmio_read32(a + 4) << 32;
			break;
		}
		if ((uint8_t)virtio_common_read(d, VIRTIO_COMMON_CFGGEN, 1) == gen)
			break;
	}
	return v;
}

uint8_t virtio_cfg_read8(struct virtio_dev *d, uint32_t off)
{
	return (uint8_t)cfg_read(d, off, 1);
}

uint16_t virtio_cfg_read16(struct virtio_dev *d, uint32_t off)
{
	return (uint16_t)cfg_read(d, off, 2);
}

uint32_t virtio_cfg_read32(struct virtio_dev *d, uint32_t off)
{
	return (uint32_t)cfg_read(d, off, 4);
}

uint64_t virtio_cfg_read64(struct virtio_dev *d, uint32_t off)
{
	return cfg_read(d, off, 8);
}

struct feature_name {
	unsigned int type;	/* 0: every type */
	unsigned int bit;
	const char *name;
};

static const struct feature_name feature_names[] = {
	{ VIRTIO_ID_NET, 0, "CSUM" }, { VIRTIO_ID_NET, 1, "GUEST_CSUM" },
	{ VIRTIO_ID_NET, 2, "CTRL_GUEST_OFFLOADS" }, { VIRTIO_ID_NET, 3, "MTU" },
	{ VIRTIO_ID_NET, 5, "MAC" }, { VIRTIO_ID_NET, 7, "GUEST_TSO4" },
	{ VIRTIO_ID_NET, 8, "GUEST_TSO6" }, { VIRTIO_ID_NET, 9, "GUEST_ECN" },
	{ VIRTIO_ID_NET, 10, "GUEST_UFO" }, { VIRTIO_ID_NET, 11, "HOST_TSO4" },
	{ VIRTIO_ID_NET, 12, "HOST_TSO6" }, { VIRTIO_ID_NET, 13, "HOST_ECN" },
	{ VIRTIO_ID_NET, 14, "HOST_UFO" }, { VIRTIO_ID_NET, 15, "MRG_RXBUF" },
	{ VIRTIO_ID_NET, 16, "STATUS" }, { VIRTIO_ID_NET, 17, "CTRL_VQ" },
	{ VIRTIO_ID_NET, 18, "CTRL_RX" }, { VIRTIO_ID_NET, 19, "CTRL_VLAN" },
	{ VIRTIO_ID_NET, 21, "GUEST_ANNOUNCE" }, { VIRTIO_ID_NET, 22, "MQ" },
	{ VIRTIO_ID_NET, 23, "CTRL_MAC_ADDR" },
	{ VIRTIO_ID_BLK, 1, "SIZE_MAX" }, { VIRTIO_ID_BLK, 2, "SEG_MAX" },
	{ VIRTIO_ID_BLK, 4, "GEOMETRY" }, { VIRTIO_ID_BLK, 5, "RO" },
	{ VIRTIO_ID_BLK, 6, "BLK_SIZE" }, { VIRTIO_ID_BLK, 9, "FLUSH" },
	{ VIRTIO_ID_BLK, 10, "TOPOLOGY" }, { VIRTIO_ID_BLK, 11, "CONFIG_WCE" },
	{ VIRTIO_ID_BLK, 12, "MQ" }, { VIRTIO_ID_BLK, 13, "DISCARD" },
	{ VIRTIO_ID_BLK, 14, "WRITE_ZEROES" }, { VIRTIO_ID_BLK, 15, "LIFETIME" },
	{ VIRTIO_ID_BLK, 16, "SECURE_ERASE" },
	{ VIRTIO_ID_CONSOLE, 0, "SIZE" }, { VIRTIO_ID_CONSOLE, 1, "MULTIPORT" },
	{ VIRTIO_ID_CONSOLE, 2, "EMERG_WRITE" },
	{ 0, 24, "NOTIFY_ON_EMPTY" }, { 0, 27, "ANY_LAYOUT" },
	{ 0, VIRTIO_F_INDIRECT_DESC, "INDIRECT_DESC" }, { 0, VIRTIO_F_EVENT_IDX, "EVENT_IDX" },
	{ 0, VIRTIO_F_VERSION_1, "VERSION_1" }, { 0, VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ 0, VIRTIO_F_RING_PACKED, "RING_PACKED" }, { 0, VIRTIO_F_IN_ORDER, "IN_ORDER" },
	{ 0, 36, "ORDER_PLATFORM" }, { 0, 37, "SR_IOV" },
	{ 0, VIRTIO_F_NOTIFICATION_DATA, "NOTIFICATION_DATA" }, { 0, 40, "RING_RESET" },
};

void virtio_features_str(unsigned int type, uint64_t f, char *buf, unsigned int size)
{
	unsigned int bit, len = 0, i;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (bit = 0; bit < 64; bit++) {
		const char *name = NULL;
		char num[8];

		if (!(f & (1ULL << bit)))
			continue;
		for (i = 0; i < ARRAY_SIZE(feature_names); i++) {
			if (feature_names[i].bit == bit &&
			    (feature_names[i].type == 0 || feature_names[i].type == type)) {
				name = feature_names[i].name;
				break;
			}
		}
		if (!name) {
			con_snprintf(num, sizeof(num), "bit%u", bit);
			name = num;
		}
		len += (unsigned int)con_snprintf(buf + len, len < size ? size - len : 0, "%s%s",
						  len ? "," : "", name);
		if (len >= size)
			break;
	}
}
