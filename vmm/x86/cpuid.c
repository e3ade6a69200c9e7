// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpuid.h"
#include "vireo/log.h"

#define MAX_ENTRIES 256

/* Leaf 1 ECX/EDX. */
#define F1_ECX_FMA     (1u << 12)
#define F1_ECX_CX16    (1u << 13)
#define F1_ECX_POPCNT  (1u << 23)
#define F1_ECX_XSAVE   (1u << 26)
#define F1_ECX_OSXSAVE (1u << 27)
#define F1_ECX_AVX     (1u << 28)
#define F1_ECX_F16C    (1u << 29)
#define F1_EDX_HTT     (1u << 28)

/* Leaf 7.0: AVX2 and the AVX-512 family (EBX), VEX/EVEX-only features and
 * PKU (ECX), AVX-512 and AMX (EDX); leaf 7.1 EAX: AVX-VNNI, AVX512_BF16. */
#define F7_EBX_XSAVE_FAMILY 0xdc230020u
#define F7_ECX_XSAVE_FAMILY 0x00005e5au
#define F7_EDX_XSAVE_FAMILY 0x03c0010cu
#define F71_EAX_XSAVE_FAMILY 0x00000030u

#define LEAF_TSC_FREQ 0x40000010u

bool cpuid_pvm_host(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

static struct kvm_cpuid_entry2 *cpuid_add(struct kvm_cpuid2 *cpuid, uint32_t function,
					  uint32_t index, uint32_t flags)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, function, index);
	if (e)
		return e;
	if (cpuid->nent >= MAX_ENTRIES)
		return NULL;
	e = &cpuid->entries[cpuid->nent++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	return e;
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

/* One package of NR single-threaded cores: leaves 1, 4, 0xB and 0x1F. */
static void cpuid_topology(struct kvm_cpuid2 *cpuid, unsigned int nr)
{
	unsigned int core_bits = bits_for(nr);
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(cpuid, 1, 0);
	if (e) {
		e->ebx = (e->ebx & 0x0000ffffu) | ((1u << core_bits) & 0xff) << 16;
		if (nr > 1)
			e->edx |= F1_EDX_HTT;
		else
			e->edx &= ~F1_EDX_HTT;
	}
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		if (e->function != 4 || (e->eax & 0x1f) == 0)
			continue;
		unsigned int level = (e->eax >> 5) & 0x7;
		unsigned int sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
		e->eax = (e->eax & 0x3fff) | (sharing & 0xfff) << 14 |
			 (((1u << core_bits) - 1) & 0x3f) << 26;
	}
	for (uint32_t leaf = 0xb; leaf <= 0x1f; leaf += 0x1f - 0xb) {
		struct kvm_cpuid_entry2 *smt = cpuid_add(cpuid, leaf, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		struct kvm_cpuid_entry2 *core = cpuid_add(cpuid, leaf, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		struct kvm_cpuid_entry2 *end = cpuid_add(cpuid, leaf, 2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		if (!smt || !core || !end)
			return;
		smt->eax = 0;              /* no SMT bits in the APIC ID */
		smt->ebx = 1;              /* one thread per core */
		smt->ecx = 0 | (1u << 8);  /* level 0, type SMT */
		core->eax = core_bits;
		core->ebx = nr;            /* logical processors in the package */
		core->ecx = 1 | (2u << 8); /* level 1, type core */
		end->eax = end->ebx = 0;
		end->ecx = 2;              /* level 2, type invalid: the end */
	}
	e = cpuid_find(cpuid, 0, 0);
	if (e && e->eax < 0x1f)
		e->eax = 0x1f;
}

/* Removes what a PVM host cannot emulate in guest kernel mode. */
static void cpuid_hide_for_pvm(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(cpuid, 1, 0);
	if (e)
		e->ecx &= ~(F1_ECX_CX16 | F1_ECX_POPCNT | F1_ECX_XSAVE | F1_ECX_OSXSAVE |
			    F1_ECX_AVX | F1_ECX_FMA | F1_ECX_F16C);
	e = cpuid_find(cpuid, 7, 0);
	if (e) {
		e->ebx &= ~F7_EBX_XSAVE_FAMILY;
		e->ecx &= ~F7_ECX_XSAVE_FAMILY;
		e->edx &= ~F7_EDX_XSAVE_FAMILY;
	}
	e = cpuid_find(cpuid, 7, 1);
	if (e)
		e->eax &= ~F71_EAX_XSAVE_FAMILY;
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		if (e->function == 0xd)
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
}

int cpuid_policy_create(int kvm_fd, const struct cpuid_config *cfg, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *cpuid;
	struct kvm_cpuid_entry2 *e;

	cpuid = calloc(1, sizeof(*cpuid) + MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = MAX_ENTRIES - 4; /* room for the leaves added below */
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		int err = -errno;
		log_error_errno(err, "KVM_GET_SUPPORTED_CPUID");
		free(cpuid);
		return err;
	}
	cpuid_topology(cpuid, cfg->nr_vcpus);
	if (cfg->pvm_host)
		cpuid_hide_for_pvm(cpuid);
	if (cfg->tsc_khz) {
		e = cpuid_add(cpuid, LEAF_TSC_FREQ, 0, 0);
		if (e) {
			e->eax = cfg->tsc_khz;
			e->ebx = 1000000; /* KVM's local APIC timer runs at 1 GHz */
		}
		e = cpuid_find(cpuid, 0x40000000, 0);
		if (e && e->eax < LEAF_TSC_FREQ)
			e->eax = LEAF_TSC_FREQ;
	}
	*out = cpuid;
	return 0;
}

void cpuid_set_vcpu_id(struct kvm_cpuid2 *cpuid, unsigned int vcpu_id)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (vcpu_id & 0xff) << 24;
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = vcpu_id; /* x2APIC ID */
	}
}

unsigned int cpuid_phys_bits(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0x80000008, 0);
	unsigned int bits = e ? (e->eax & 0xff) : 0;
	return bits ? bits : 36;
}
