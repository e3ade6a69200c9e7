/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exit status of vireo-vmm (documented in docs/vireo-vmm.md):
 *   0            the guest powered off or reset, or the host stopped it
 *   (v << 1) | 1 the guest wrote v to the debug-exit port 0xf4 (odd, as QEMU's)
 *   2..14        even: the VMM failed; one line on stderr says why
 */
#ifndef VMM_EXIT_STATUS_H
#define VMM_EXIT_STATUS_H

enum vmm_exit_status {
	VMM_EXIT_OK = 0,
	VMM_EXIT_USAGE = 2,          /* bad command line */
	VMM_EXIT_BAD_IMAGE = 4,      /* kernel or initrd unusable */
	VMM_EXIT_HOST = 6,           /* KVM or host resources unavailable */
	VMM_EXIT_INTERNAL_ERROR = 8, /* KVM_EXIT_INTERNAL_ERROR: e.g. emulation failure */
	VMM_EXIT_TRIPLE_FAULT = 10,  /* the guest triple-faulted (KVM_EXIT_SHUTDOWN) */
	VMM_EXIT_VCPU_ERROR = 12,    /* any other failure while running a vCPU */
	VMM_EXIT_SANDBOX = 14,       /* a thread made a system call its sandbox forbids */
};

#endif
