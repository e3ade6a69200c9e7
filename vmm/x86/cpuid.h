/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CPUID a guest sees: what KVM supports, with the topology of one socket
 * of NR_VCPUS single-threaded cores, the TSC frequency in the hypervisor leaf
 * 0x40000010, and on PVM hosts (whose KVM emulates guest kernel mode one
 * instruction at a time and cannot emulate some) without the features that
 * would make a kernel pick those instructions.
 */
#ifndef VMM_X86_CPUID_H
#define VMM_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct cpuid_config {
	unsigned int nr_vcpus;
	bool pvm_host;
	uint32_t tsc_khz; /* 0 when unknown: leaf 0x40000010 is left out */
};

/* True when the host's KVM is PVM-backed (module kvm_pvm loaded). */
bool cpuid_pvm_host(void);

/* Builds the template shared by all vCPUs; free() the result. */
int cpuid_policy_create(int kvm_fd, const struct cpuid_config *cfg, struct kvm_cpuid2 **out);

/* Sets the APIC ID of VCPU_ID in a copy of the template. */
void cpuid_set_vcpu_id(struct kvm_cpuid2 *cpuid, unsigned int vcpu_id);

/* The entry for FUNCTION/INDEX, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index);

/* Guest physical address width the policy announces (36 if not stated). */
unsigned int cpuid_phys_bits(struct kvm_cpuid2 *cpuid);

#endif
