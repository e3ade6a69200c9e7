// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exit_status.h"
#include "sandbox.h"
#include "vcpu.h"
#include "vireo/log.h"
#include "x86/cpuid.h"
#include "x86/pagewalk.h"
#include "x86/regs.h"

#define VCPU_KICK_SIGNAL SIGUSR1

const char *const vcpu_exit_names[EXIT_KINDS] = {
	[EXIT_IO] = "io", [EXIT_MMIO] = "mmio", [EXIT_HLT] = "hlt",
	[EXIT_SHUTDOWN] = "shutdown", [EXIT_INTERNAL_ERROR] = "internal_error",
	[EXIT_SYSTEM_EVENT] = "system_event", [EXIT_INTR] = "intr", [EXIT_OTHER] = "other",
};

static __thread struct kvm_run *current_run;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
	if (current_run)
		current_run->immediate_exit = 1;
}

int vcpu_signal_setup(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_init(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	struct kvm_cpuid2 *cpuid;
	size_t cpuid_size = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_error_errno(ret, "KVM_CREATE_VCPU %u", id);
		return ret;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		log_error_errno(ret, "mmap of vCPU %u run area", id);
		return ret;
	}
	cpuid = malloc(cpuid_size);
	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, vm->cpuid, cpuid_size);
	cpuid_set_vcpu_id(cpuid, id);
	ret = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	if (ret < 0) {
		log_error_errno(ret, "KVM_SET_CPUID2 on vCPU %u", id);
		return ret;
	}
	ret = regs_init_vcpu(vcpu->fd);
	if (ret == 0 && id == 0)
		ret = regs_init_boot_cpu(vcpu->fd, &vm->boot);
	if (ret < 0)
		log_error_errno(ret, "setting up the registers of vCPU %u", id);
	return ret;
}

void vcpu_fini(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned int size = run->io.size;

	/* A rep ins/outs comes as COUNT accesses, one after another in DATA. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, size);
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned int len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

/* "at rip 0x... (cpl N, mode): bytes .." for the stop reason, best effort. */
static void vcpu_describe_position(struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[15];
	size_t n, used;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(buf, len, "(registers unavailable)");
		return;
	}
	const char *mode = (sregs.efer & 0x400) ? (sregs.cs.l ? "64-bit" : "compat")
			   : (sregs.cr0 & 1) ? "protected" : "real";
	uint64_t la = ((sregs.efer & 0x400) && sregs.cs.l) ? regs.rip : sregs.cs.base + regs.rip;
	used = (size_t)snprintf(buf, len, "at rip 0x%llx (cpl %u, %s mode)",
				(unsigned long long)regs.rip, sregs.cs.dpl, mode);
	n = pagewalk_read(vcpu->vm->mem, &sregs, la, insn, sizeof(insn));
	if (n == 0 && used < len) {
		snprintf(buf + used, len - used, ", instruction not readable");
		return;
	}
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, ", instruction bytes");
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, " %02x", insn[i]);
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception during exception delivery";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failure";
	default:
		return "internal error";
	}
}

/* Handles one exit; returns false when the vCPU must stop running. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	char where[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu->exits[EXIT_IO]++;
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu->exits[EXIT_MMIO]++;
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		vcpu->exits[EXIT_INTR]++;
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; keep going, KVM will wake us. */
		vcpu->exits[EXIT_HLT]++;
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu->exits[EXIT_SHUTDOWN]++;
		vcpu_describe_position(vcpu, where, sizeof(where));
		vm_request_stop(vm, VMM_EXIT_TRIPLE_FAULT, "vCPU %u: triple fault %s", vcpu->id, where);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu->exits[EXIT_SYSTEM_EVENT]++;
		vm_request_stop(vm, VMM_EXIT_OK, "vCPU %u: system event %u (%s)", vcpu->id,
				run->system_event.type,
				run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset" : "shutdown");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu->exits[EXIT_INTERNAL_ERROR]++;
		vcpu_describe_position(vcpu, where, sizeof(where));
		vm_request_stop(vm, VMM_EXIT_INTERNAL_ERROR, "vCPU %u: KVM %s (suberror %u) %s",
				vcpu->id, internal_error_name(run->internal.suberror),
				run->internal.suberror, where);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vcpu->exits[EXIT_OTHER]++;
		vm_request_stop(vm, VMM_EXIT_VCPU_ERROR,
				"vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)",
				vcpu->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vcpu->exits[EXIT_OTHER]++;
		vcpu_describe_position(vcpu, where, sizeof(where));
		vm_request_stop(vm, VMM_EXIT_VCPU_ERROR, "vCPU %u: unexpected KVM exit %u %s",
				vcpu->id, run->exit_reason, where);
		return false;
	}
}

/* Waits while a pause is requested; returns false when the VM is stopping. */
static bool vcpu_check_requests(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go_on;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_requested && vm->state != VM_STATE_STOPPING) {
		vcpu->parked = true;
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_requested && vm->state != VM_STATE_STOPPING)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->nr_parked--;
		vcpu->parked = false;
	}
	go_on = vm->state != VM_STATE_STOPPING;
	pthread_mutex_unlock(&vm->lock);
	return go_on;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	current_run = vcpu->run;
	if (sandbox_apply(SANDBOX_VCPU) < 0)
		vm_request_stop(vm, VMM_EXIT_HOST, "vCPU %u: cannot load its sandbox filter", vcpu->id);
	for (;;) {
		/* Clear the kick before looking at requests, so none is lost. */
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (!vcpu_check_requests(vcpu))
			break;
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->exits[EXIT_INTR]++;
				continue;
			}
			int err = errno;
			vm_request_stop(vm, VMM_EXIT_VCPU_ERROR, "vCPU %u: KVM_RUN failed: %s",
					vcpu->id, strerror(err));
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	current_run = NULL;
	pthread_mutex_lock(&vm->lock);
	vm->nr_threads--;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	pthread_attr_t attr;
	int ret;

	/* Device emulation runs on this stack; 256 KiB is plenty and keeps RSS low. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = -pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (ret == 0)
		vcpu->started = true;
	else
		log_error_errno(ret, "starting the thread of vCPU %u", vcpu->id);
	return ret;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (vcpu->started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}
