// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "regs.h"
#include "vireo/le.h"
#include "vireo/log.h"

/* Boot GDT: selectors 0x08 code32, 0x10 code64, 0x18 data, 0x20 TSS. */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18
#define SEL_TSS    0x20
static const uint64_t boot_gdt[] = {
	0,
	0x00cf9b000000ffffULL, /* code, 32-bit, flat */
	0x00af9b000000ffffULL, /* code, 64-bit */
	0x00cf93000000ffffULL, /* data, flat */
	0x00008b0000000067ULL, /* busy TSS at 0, limit 0x67 */
};

#define CR0_PE 0x00000001ULL
#define CR0_ET 0x00000010ULL
#define CR0_NE 0x00000020ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x00000020ULL
#define EFER_LME 0x00000100ULL
#define EFER_LMA 0x00000400ULL

#define PTE_P   0x001ULL
#define PTE_RW  0x002ULL
#define PTE_PS  0x080ULL

#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_ENABLE_WB    0x806 /* enabled, default type write-back */

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI    0x400
#define APIC_MODE_EXTINT 0x700

int regs_write_boot_tables(struct guest_memory *mem)
{
	uint8_t *gdt = guest_memory_ptr(mem, LAYOUT_GDT, sizeof(boot_gdt));
	uint8_t *pml4 = guest_memory_ptr(mem, LAYOUT_PML4, 4096);
	uint8_t *pdpt = guest_memory_ptr(mem, LAYOUT_PDPT, 4096);
	uint8_t *pd = guest_memory_ptr(mem, LAYOUT_PD, 4 * 4096);

	if (!gdt || !pml4 || !pdpt || !pd)
		return -EFAULT;
	for (size_t i = 0; i < sizeof(boot_gdt) / sizeof(boot_gdt[0]); i++)
		put_le64(gdt + 8 * i, boot_gdt[i]);
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	put_le64(pml4, LAYOUT_PDPT | PTE_P | PTE_RW);
	for (unsigned int i = 0; i < 4; i++)
		put_le64(pdpt + 8 * i, (LAYOUT_PD + 4096ULL * i) | PTE_P | PTE_RW);
	/* 2048 2 MiB pages: the first 4 GiB, RAM and MMIO alike. */
	for (unsigned int i = 0; i < 4 * 512; i++)
		put_le64(pd + 8 * i, ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

static struct kvm_segment segment_from_gdt(uint16_t selector)
{
	uint64_t d = boot_gdt[selector >> 3];
	struct kvm_segment s = {
		.base = (d >> 16 & 0xffffff) | (d >> 32 & 0xff000000),
		.limit = (uint32_t)((d & 0xffff) | (d >> 32 & 0xf0000)),
		.selector = selector,
		.type = (uint8_t)(d >> 40 & 0xf),
		.present = (uint8_t)(d >> 47 & 1),
		.dpl = (uint8_t)(d >> 45 & 3),
		.db = (uint8_t)(d >> 54 & 1),
		.s = (uint8_t)(d >> 44 & 1),
		.l = (uint8_t)(d >> 53 & 1),
		.g = (uint8_t)(d >> 55 & 1),
		.avl = (uint8_t)(d >> 52 & 1),
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

int regs_init_vcpu(int vcpu_fd)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	/* struct kvm_msrs ends in a flexible array: room for one entry after it. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs = { .hdr.nmsrs = 1 };
	struct kvm_lapic_state lapic;

	msrs.hdr.entries[0] = (struct kvm_msr_entry){ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE_WB };

	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (ioctl(vcpu_fd, KVM_SET_MSRS, &msrs) != 1)
		log_warn("KVM_SET_MSRS: the guest keeps MTRRs disabled");
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	/* Virtual wire mode: the PIC's output on LINT0, NMIs on LINT1. */
	uint32_t lvt0 = get_le32(lapic.regs + APIC_LVT0), lvt1 = get_le32(lapic.regs + APIC_LVT1);
	put_le32(lapic.regs + APIC_LVT0, (lvt0 & ~0x700u) | APIC_MODE_EXTINT);
	put_le32(lapic.regs + APIC_LVT1, (lvt1 & ~0x700u) | APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int regs_init_boot_cpu(int vcpu_fd, const struct boot_state *boot)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2 };
	bool pvh = boot->protocol == BOOT_PROTOCOL_PVH;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = segment_from_gdt(pvh ? SEL_CODE32 : SEL_CODE64);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment_from_gdt(SEL_DATA);
	sregs.tr = segment_from_gdt(SEL_TSS);
	if (pvh) {
		/* PVH: 32-bit protected mode, paging off, EBX = hvm_start_info. */
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = boot->boot_info;
	} else {
		/* Linux 64-bit: long mode, identity-mapped, RSI = boot_params. */
		sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
		sregs.cr3 = LAYOUT_PML4;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsi = boot->boot_info;
		regs.rsp = regs.rbp = LAYOUT_BOOT_STACK;
	}
	regs.rip = boot->entry;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
