/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU threads: each runs KVM_RUN in a loop and handles port I/O and MMIO
 * exits on the buses. vcpu_kick() makes a vCPU leave KVM_RUN promptly (a
 * signal that sets kvm_run.immediate_exit), so it sees pause and stop requests.
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include "vm.h"

/* Creates vCPU ID of VM with its CPUID and initial registers. */
int vcpu_init(struct vm *vm, struct vcpu *vcpu, unsigned int id);
void vcpu_fini(struct vcpu *vcpu);

/* Installs the kick signal handler; call once before starting threads. */
int vcpu_signal_setup(void);

int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);

#endif
