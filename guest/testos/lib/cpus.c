// SPDX-License-Identifier: Apache-2.0
/*
 * CPU discovery. ACPI: RSDP (from the loader, or "RSD PTR " in the first
 * KiB of the EBDA or 0xe0000-0xfffff), RSDT/XSDT, MADT processor entries.
 * MP: the "_MP_" floating pointer in the first KiB of the EBDA, the last KiB
 * of base memory (from the BDA, and 639-640 KiB for firmware that leaves the
 * BDA empty), or 0xf0000-0xfffff, then the "PCMP" configuration table.
 * Tables are checksummed and bounds-checked before use.
 */
#include "bootinfo.h"
#include "cpus.h"
#include "io.h"
#include "testos.h"

#define BDA_EBDA_SEG	0x40e
#define BDA_BASE_KB	0x413
#define SDT_HEADER	36
#define SDT_MAX_LEN	(1U << 20)

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int checksum_ok(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len-- > 0)
		sum = (uint8_t)(sum + *p++);
	return sum == 0;
}

/* Scans [start, start + len) in 16-byte steps for a signature that also
 * passes check. Returns the address or 0. */
static uint64_t scan(uint64_t start, uint64_t len, const char *sig, size_t siglen,
		     int (*check)(const uint8_t *p))
{
	uint64_t a;

	for (a = start; a + 16 <= start + len; a += 16) {
		const uint8_t *p = phys_ptr(a, 36);

		if (p && memcmp(p, sig, siglen) == 0 && check(p))
			return a;
	}
	return 0;
}

static uint64_t ebda_base(void)
{
	const uint8_t *bda = phys_ptr(0x400, 0x100);
	uint64_t ebda = (uint64_t)(bda[BDA_EBDA_SEG - 0x400] | bda[BDA_EBDA_SEG - 0x400 + 1] << 8) << 4;

	/* Only trust a value in the usual 0x80000-0x9ffff window. */
	return ebda >= 0x80000 && ebda < 0xa0000 ? ebda : 0;
}

static int rsdp_check(const uint8_t *p)
{
	if (!checksum_ok(p, 20))
		return 0;
	return p[15] < 2 || (rd32(p + 20) >= 36 && rd32(p + 20) <= 64 && checksum_ok(p, 36));
}

static const uint8_t *sdt_map(uint64_t addr)
{
	const uint8_t *h = phys_ptr(addr, SDT_HEADER);
	uint32_t len;

	if (!h)
		return NULL;
	len = rd32(h + 4);
	if (len < SDT_HEADER || len > SDT_MAX_LEN || !phys_ptr(addr, len) || !checksum_ok(h, len))
		return NULL;
	return h;
}

static const uint8_t *find_madt(void)
{
	uint64_t rsdp_addr = boot.rsdp_addr, ebda = ebda_base();
	const uint8_t *rsdp, *sdt;
	unsigned int i, n, width;

	if (rsdp_addr && (!phys_ptr(rsdp_addr, 36) || !rsdp_check(phys_ptr(rsdp_addr, 36))))
		rsdp_addr = 0;
	if (!rsdp_addr && ebda)
		rsdp_addr = scan(ebda, 1024, "RSD PTR ", 8, rsdp_check);
	if (!rsdp_addr)
		rsdp_addr = scan(0xe0000, 0x20000, "RSD PTR ", 8, rsdp_check);
	if (!rsdp_addr)
		return NULL;
	rsdp = phys_ptr(rsdp_addr, 36);
	sdt = NULL;
	width = 4;
	if (rsdp[15] >= 2 && rd64(rsdp + 24)) {
		sdt = sdt_map(rd64(rsdp + 24));
		width = 8;
	}
	if (!sdt) {
		sdt = sdt_map(rd32(rsdp + 16));
		width = 4;
	}
	if (!sdt)
		return NULL;
	n = (rd32(sdt + 4) - SDT_HEADER) / width;
	for (i = 0; i < n; i++) {
		const uint8_t *e = sdt + SDT_HEADER + i * width;
		uint64_t addr = width == 8 ? rd64(e) : rd32(e);
		const uint8_t *t = sdt_map(addr);

		if (t && memcmp(t, "APIC", 4) == 0)
			return t;
	}
	return NULL;
}

static void add_cpu(struct cpu_table *t, uint32_t apic_id)
{
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		if (t->apic_id[i] == apic_id)
			return;
	}
	if (t->count == NCPUS) {
		t->dropped++;
		return;
	}
	t->apic_id[t->count++] = apic_id;
}

static int parse_madt(const uint8_t *madt, struct cpu_table *t)
{
	uint32_t len = rd32(madt + 4), off = 44;

	if (len < 44)
		return -EINVAL;
	t->lapic_base = rd32(madt + 36);
	while (off + 2 <= len) {
		const uint8_t *e = madt + off;
		uint8_t type = e[0], elen = e[1];

		if (elen < 2 || off + elen > len)
			break;
		if (type == 0 && elen >= 8) {
			if (rd32(e + 4) & 3)
				add_cpu(t, e[3]);
			else
				t->disabled++;
		} else if (type == 9 && elen >= 16) {
			if (rd32(e + 8) & 3)
				add_cpu(t, rd32(e + 4));
			else
				t->disabled++;
		}
		if (type == 5 && elen >= 12 && rd64(e + 4) < (1ULL << 32))
			t->lapic_base = (uint32_t)rd64(e + 4);
		off += elen;
	}
	return t->count > 0 ? 0 : -ENOENT;
}

static int mpf_check(const uint8_t *p)
{
	return p[8] == 1 && checksum_ok(p, 16);
}

static int parse_mptable(struct cpu_table *t)
{
	uint64_t ebda = ebda_base(), mpf_addr = 0, base_kb;
	const uint8_t *bda = phys_ptr(0x400, 0x100), *mpf, *cfg;
	unsigned int len, count, i, off;

	if (ebda)
		mpf_addr = scan(ebda, 1024, "_MP_", 4, mpf_check);
	base_kb = bda[BDA_BASE_KB - 0x400] | bda[BDA_BASE_KB - 0x400 + 1] << 8;
	if (!mpf_addr && base_kb >= 512 && base_kb <= 640)
		mpf_addr = scan(base_kb * 1024 - 1024, 1024, "_MP_", 4, mpf_check);
	/* Firmware that leaves the BDA empty (qboot) uses 639 KiB as well. */
	if (!mpf_addr)
		mpf_addr = scan(639 * 1024, 1024, "_MP_", 4, mpf_check);
	if (!mpf_addr)
		mpf_addr = scan(0xf0000, 0x10000, "_MP_", 4, mpf_check);
	if (!mpf_addr)
		return -ENOENT;
	mpf = phys_ptr(mpf_addr, 16);
	cfg = phys_ptr(rd32(mpf + 4), 44);
	if (!cfg || memcmp(cfg, "PCMP", 4) != 0)
		return -ENOENT;
	len = cfg[4] | cfg[5] << 8;
	if (len < 44 || !phys_ptr(rd32(mpf + 4), len) || !checksum_ok(cfg, len))
		return -EINVAL;
	count = cfg[34] | cfg[35] << 8;
	t->lapic_base = rd32(cfg + 36);
	for (i = 0, off = 44; i < count && off < len; i++) {
		const uint8_t *e = cfg + off;

		if (e[0] == 0) {
			if (off + 20 > len)
				break;
			if (e[3] & 1)
				add_cpu(t, e[1]);
			else
				t->disabled++;
			off += 20;
		} else if (e[0] <= 4) {
			off += 8;
		} else {
			break;
		}
	}
	return t->count > 0 ? 0 : -ENOENT;
}

void cpus_discover(struct cpu_table *out)
{
	const uint8_t *madt;

	memset(out, 0, sizeof(*out));
	madt = find_madt();
	if (madt && parse_madt(madt, out) == 0) {
		out->source = "madt";
	} else {
		memset(out, 0, sizeof(*out));
		if (parse_mptable(out) == 0) {
			out->source = "mptable";
		} else {
			memset(out, 0, sizeof(*out));
			out->source = "none";
			out->count = 1;
		}
	}
	if (out->lapic_base == 0)
		out->lapic_base = LAPIC_DEFAULT_BASE;
}

uint32_t lapic_read(uint32_t base, unsigned int reg)
{
	return mmio_read32(base + reg);
}

void lapic_write(uint32_t base, unsigned int reg, uint32_t v)
{
	mmio_write32(base + reg, v);
}

uint32_t lapic_id(uint32_t base)
{
	return lapic_read(base, 0x20) >> 24;
}

void lapic_enable(uint32_t base)
{
	lapic_write(base, 0xf0, lapic_read(base, 0xf0) | 0x1ff);
}

int lapic_send_ipi(uint32_t base, uint32_t apic_id, uint32_t icr_lo)
{
	unsigned int i;

	lapic_write(base, 0x310, apic_id << 24);
	lapic_write(base, 0x300, icr_lo);
	for (i = 0; i < 1000000; i++) {
		if (!(lapic_read(base, 0x300) & (1U << 12)))
			return 0;
		cpu_relax();
	}
	return -ETIMEDOUT;
}
