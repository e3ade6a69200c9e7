/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's sandbox, as ESXi's VMX sandbox and Firecracker's jailer do it.
 * Once everything the VM needs is open (KVM, guest RAM, kernel, disks, tap
 * devices, the control socket), sandbox_enter() moves the process into a
 * private mount namespace whose root is an empty read-only tmpfs and drops
 * to an unprivileged uid/gid with no capabilities. Then every thread loads
 * the seccomp filter of its type (sandbox_apply): a system call outside the
 * list stops the VMM with status VMM_EXIT_SANDBOX and one line naming the
 * thread type and the call.
 */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

enum sandbox_thread {
	SANDBOX_CONTROL, /* main thread: event loop, control API, console */
	SANDBOX_VCPU,    /* vCPU threads: KVM_RUN and device emulation */
	SANDBOX_IO,      /* device I/O threads */
	SANDBOX_THREAD_TYPES
};

struct sandbox_config {
	bool enabled;
	uid_t uid;
	gid_t gid;
	/* For the test suite: after loading its filter, a thread of this type
	 * makes a forbidden call. SANDBOX_THREAD_TYPES: none. */
	enum sandbox_thread selftest;
};

const char *sandbox_thread_name(enum sandbox_thread t);
/* Parses "control", "vcpu" or "io"; -EINVAL otherwise. */
int sandbox_thread_parse(const char *s, enum sandbox_thread *out);

/* Remembers CFG for sandbox_apply and installs the SIGSYS reporter. */
int sandbox_init(const struct sandbox_config *cfg);
/* Mount namespace, empty root, unprivileged ids. Call before vCPU threads
 * start; I/O threads already started wait in sandbox_apply() (below). */
int sandbox_enter(void);
/*
 * Loads the filter for the calling thread (a no-op when the sandbox is off).
 * An I/O thread, which may start before sandbox_enter(), first waits until
 * sandbox_release() is called: with OK false it gets -ECANCELED and must end.
 */
int sandbox_apply(enum sandbox_thread type);
/* Lets waiting I/O threads go on (OK) or end (!OK). Only the first call counts. */
void sandbox_release(bool ok);
bool sandbox_enabled(void);

#endif
