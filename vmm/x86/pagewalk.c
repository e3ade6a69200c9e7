// SPDX-License-Identifier: Apache-2.0
#include <errno.h>

#include "pagewalk.h"
#include "vireo/le.h"

#define CR0_PG   (1ULL << 31)
#define CR4_PSE  (1ULL << 4)
#define CR4_PAE  (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define EFER_LMA (1ULL << 10)

#define PTE_P  0x1ULL
#define PTE_PS 0x80ULL
#define ADDR_MASK 0x000ffffffffff000ULL

static int read_entry64(struct guest_memory *mem, uint64_t addr, uint64_t *out)
{
	const uint8_t *p = guest_memory_ptr(mem, addr, 8);
	if (!p)
		return -EFAULT;
	*out = get_le64(p);
	return (*out & PTE_P) ? 0 : -EFAULT;
}

static int walk_long(struct guest_memory *mem, const struct kvm_sregs *s, uint64_t la,
		     uint64_t *gpa)
{
	int levels = (s->cr4 & CR4_LA57) ? 5 : 4;
	uint64_t table = s->cr3 & ADDR_MASK, e;

	for (int level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (unsigned int)(level - 1);
		if (read_entry64(mem, table + 8 * ((la >> shift) & 0x1ff), &e) < 0)
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t page = 1ULL << shift;
			*gpa = (e & ADDR_MASK & ~(page - 1)) | (la & (page - 1));
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return -EFAULT;
}

static int walk_pae(struct guest_memory *mem, const struct kvm_sregs *s, uint64_t la,
		    uint64_t *gpa)
{
	uint64_t e;

	if (read_entry64(mem, (s->cr3 & 0xffffffe0ULL) + 8 * ((la >> 30) & 3), &e) < 0 ||
	    read_entry64(mem, (e & ADDR_MASK) + 8 * ((la >> 21) & 0x1ff), &e) < 0)
		return -EFAULT;
	if (e & PTE_PS) {
		*gpa = (e & ADDR_MASK & ~0x1fffffULL) | (la & 0x1fffff);
		return 0;
	}
	if (read_entry64(mem, (e & ADDR_MASK) + 8 * ((la >> 12) & 0x1ff), &e) < 0)
		return -EFAULT;
	*gpa = (e & ADDR_MASK) | (la & 0xfff);
	return 0;
}

static int walk_32(struct guest_memory *mem, const struct kvm_sregs *s, uint64_t la,
		   uint64_t *gpa)
{
	const uint8_t *p = guest_memory_ptr(mem, (s->cr3 & 0xfffff000ULL) + 4 * ((la >> 22) & 0x3ff), 4);
	uint32_t pde, pte;

	if (!p || !((pde = get_le32(p)) & PTE_P))
		return -EFAULT;
	if ((pde & PTE_PS) && (s->cr4 & CR4_PSE)) {
		*gpa = (pde & 0xffc00000ULL) | ((uint64_t)(pde >> 13 & 0xff) << 32) | (la & 0x3fffff);
		return 0;
	}
	p = guest_memory_ptr(mem, (pde & 0xfffff000ULL) + 4 * ((la >> 12) & 0x3ff), 4);
	if (!p || !((pte = get_le32(p)) & PTE_P))
		return -EFAULT;
	*gpa = (pte & 0xfffff000ULL) | (la & 0xfff);
	return 0;
}

int pagewalk_translate(struct guest_memory *mem, const struct kvm_sregs *sregs, uint64_t la,
		       uint64_t *gpa)
{
	if (!(sregs->cr0 & CR0_PG)) {
		*gpa = (sregs->efer & EFER_LMA) ? la : (la & 0xffffffffULL);
		return 0;
	}
	if (sregs->efer & EFER_LMA)
		return walk_long(mem, sregs, la, gpa);
	if (sregs->cr4 & CR4_PAE)
		return walk_pae(mem, sregs, la & 0xffffffffULL, gpa);
	return walk_32(mem, sregs, la & 0xffffffffULL, gpa);
}

size_t pagewalk_read(struct guest_memory *mem, const struct kvm_sregs *sregs, uint64_t la,
		     void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t gpa;
		size_t chunk = 4096 - ((la + done) & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		if (pagewalk_translate(mem, sregs, la + done, &gpa) < 0 ||
		    guest_memory_read(mem, gpa, out + done, chunk) < 0)
			break;
		done += chunk;
	}
	return done;
}
