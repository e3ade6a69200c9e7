// SPDX-License-Identifier: Apache-2.0
/*
 * The Intel MultiProcessor Specification 1.4 table: the floating pointer and
 * the configuration table with processors, buses, the I/O APIC, the ISA
 * interrupt assignments and the local interrupts (ExtINT on LINT0, NMI on
 * LINT1). It lives in the BIOS area at 0xF0000, where kernels search for it.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "layout.h"
#include "vireo/le.h"

#define MP_FLOATING_SIZE   16
#define MP_HEADER_SIZE     44
#define MP_CPU_SIZE        20
#define MP_SMALL_ENTRY     8
#define MP_SPEC_REV        4
#define MP_APIC_VERSION    0x14
#define MP_IOAPIC_VERSION  0x11
#define MP_ISA_IRQS        16

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };
#define BUS_PCI 0
#define BUS_ISA 1

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static size_t mptable_size(unsigned int nr_cpus)
{
	return MP_FLOATING_SIZE + MP_HEADER_SIZE + nr_cpus * MP_CPU_SIZE +
	       (2 + 1 + MP_ISA_IRQS + 2) * MP_SMALL_ENTRY;
}

static uint8_t *put_small(uint8_t *p, uint8_t type, uint8_t b1, uint16_t w, uint8_t b4,
			  uint8_t b5, uint8_t b6, uint8_t b7)
{
	p[0] = type;
	p[1] = b1;
	put_le16(p + 2, w);
	p[4] = b4;
	p[5] = b5;
	p[6] = b6;
	p[7] = b7;
	return p + MP_SMALL_ENTRY;
}

int mptable_write(struct guest_memory *mem, unsigned int nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features)
{
	size_t size = mptable_size(nr_cpus);
	uint8_t *base = guest_memory_ptr(mem, LAYOUT_BIOS_START, size);
	uint8_t *fp = base, *hdr = base + MP_FLOATING_SIZE, *p;
	uint8_t ioapic_id = (uint8_t)nr_cpus;
	uint16_t entries = 0;

	if (!base || nr_cpus == 0 || nr_cpus > 254)
		return -EINVAL;
	memset(base, 0, size);

	p = hdr + MP_HEADER_SIZE;
	for (unsigned int i = 0; i < nr_cpus; i++, entries++) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i;                 /* local APIC ID */
		p[2] = MP_APIC_VERSION;
		p[3] = 0x01 | (i == 0 ? 0x02 : 0); /* enabled, bootstrap processor */
		put_le32(p + 4, cpu_signature);
		put_le32(p + 8, cpu_features);
		p += MP_CPU_SIZE;
	}
	p = put_small(p, MP_BUS, BUS_PCI, 0, 0, 0, 0, 0);
	memcpy(p - 6, "PCI   ", 6);
	p = put_small(p, MP_BUS, BUS_ISA, 0, 0, 0, 0, 0);
	memcpy(p - 6, "ISA   ", 6);
	entries += 2;
	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 0x01; /* enabled */
	put_le32(p + 4, (uint32_t)LAYOUT_IOAPIC_BASE);
	p += MP_SMALL_ENTRY;
	entries++;
	/* ISA IRQ n is I/O APIC pin n, as KVM's default routing wires them. */
	for (unsigned int irq = 0; irq < MP_ISA_IRQS; irq++, entries++)
		p = put_small(p, MP_INTSRC, MP_INT, 0, BUS_ISA, (uint8_t)irq, ioapic_id, (uint8_t)irq);
	p = put_small(p, MP_LINTSRC, MP_EXTINT, 0, BUS_ISA, 0, 0xff, 0);
	p = put_small(p, MP_LINTSRC, MP_NMI, 0, BUS_ISA, 0, 0xff, 1);
	entries += 2;

	memcpy(hdr, "PCMP", 4);
	put_le16(hdr + 4, (uint16_t)(p - hdr));
	hdr[6] = MP_SPEC_REV;
	memcpy(hdr + 8, "VIREO   ", 8);
	memcpy(hdr + 16, "VIREO-PC    ", 12);
	put_le16(hdr + 34, entries);
	put_le32(hdr + 36, (uint32_t)LAYOUT_LAPIC_BASE);
	hdr[7] = checksum(hdr, (size_t)(p - hdr));

	memcpy(fp, "_MP_", 4);
	put_le32(fp + 4, (uint32_t)(LAYOUT_BIOS_START + MP_FLOATING_SIZE));
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = MP_SPEC_REV;
	fp[10] = checksum(fp, MP_FLOATING_SIZE);
	return 0;
}
