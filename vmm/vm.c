// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exit_status.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "iothread.h"
#include "irq_routing.h"
#include "vcpu.h"
#include "vireo/log.h"
#include "vireo/util.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "vm.h"
#include "x86/cpuid.h"
#include "x86/layout.h"
#include "x86/regs.h"

/* Ports the guest may poke that need no device: POST codes and I/O delays. */
#define PORT_POST 0x80

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_STATE_CREATED:
		return "created";
	case VM_STATE_RUNNING:
		return "running";
	case VM_STATE_PAUSED:
		return "paused";
	case VM_STATE_STOPPING:
		return "stopping";
	}
	return "?";
}

static void vm_set_irq(void *opaque, unsigned int gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn_errno(errno, "KVM_IRQ_LINE %u", gsi);
}

static void vm_guest_reset(void *opaque)
{
	vm_request_stop(opaque, VMM_EXIT_OK, "the guest reset the machine");
}

static void vm_debug_exit(void *opaque, uint32_t value)
{
	vm_request_stop(opaque, (int)(((value << 1) | 1) & 0xff),
			"the guest wrote 0x%x to the debug-exit port", value);
}

static void ignore_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)size;
}

static const struct bus_ops post_port_ops = { .write = ignore_write };

void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	bool first = false;
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_STATE_STOPPING) {
		first = true;
		vm->state = VM_STATE_STOPPING;
		vm->exit_status = status;
		va_start(ap, fmt);
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		va_end(ap);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (!first)
		return;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	uint64_t one = 1;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_warn_errno(errno, "waking the main loop");
}

static int vm_open_kvm(struct vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = -errno;
		log_error_errno(err, "cannot open /dev/kvm");
		return err;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_error("/dev/kvm speaks an unknown KVM API version");
		return -ENOTSUP;
	}
	static const struct { int cap; const char *name; } needed[] = {
		{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
		{ KVM_CAP_PIT2, "in-kernel PIT" },
		{ KVM_CAP_IMMEDIATE_EXIT, "immediate exit" },
		{ KVM_CAP_USER_MEMORY, "user memory" },
		{ KVM_CAP_EXT_CPUID, "CPUID2" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
			log_error("KVM on this host lacks %s", needed[i].name);
			return -ENOTSUP;
		}
	}
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max > 0 && vm->nr_vcpus > (unsigned int)max) {
		log_error("KVM on this host allows at most %d vCPUs", max);
		return -EINVAL;
	}
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return -ENOTSUP;
	vm->run_size = (size_t)run_size;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		int err = -errno;
		log_error_errno(err, "KVM_CREATE_VM");
		return err;
	}
	return 0;
}

/* Interrupt controllers and timer in the kernel. Memory slots must exist
 * before this: adding the first slot after the irqchip costs milliseconds. */
static int vm_create_irqchip(struct vm *vm)
{
	uint64_t identity = LAYOUT_KVM_IDENTITY_MAP;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		int err = -errno;
		log_error_errno(err, "creating the in-kernel interrupt controllers");
		return err;
	}
	return 0;
}

static int vm_create_devices(struct vm *vm)
{
	struct irq_line com1 = { vm_set_irq, vm, SERIAL_COM1_IRQ };
	struct irq_line kbd = { vm_set_irq, vm, I8042_KBD_IRQ };
	int ret;

	if ((ret = serial_create(com1, vm->cfg.serial, &vm->serial)) < 0 ||
	    (ret = i8042_create(kbd, vm_guest_reset, vm, &vm->i8042)) < 0 ||
	    (ret = rtc_create(vm->mem->low_end, vm->mem->high_end - LAYOUT_4GIB, &vm->rtc)) < 0 ||
	    (ret = pci_create(&vm->pio, &vm->mmio, LAYOUT_MMIO32_START, LAYOUT_MMIO32_END,
			      ALIGN_UP(vm->mem->high_end, GIB), vm_guest_reset, vm, &vm->pci)) < 0)
		return ret;
	vm->debug_exit = (struct debug_exit){ vm_debug_exit, vm };

	if ((ret = bus_register(&vm->pio, SERIAL_COM1_BASE, SERIAL_NR_PORTS, &serial_bus_ops,
				vm->serial, "com1")) < 0 ||
	    (ret = bus_register(&vm->pio, I8042_DATA_PORT, 5, &i8042_bus_ops, vm->i8042,
				"i8042")) < 0 ||
	    (ret = bus_register(&vm->pio, RTC_PORT_BASE, 2, &rtc_bus_ops, vm->rtc, "rtc")) < 0 ||
	    (ret = bus_register(&vm->pio, PCI_PORTS_BASE, PCI_PORTS_LEN, &pci_bus_ops, vm->pci,
				"pci")) < 0 ||
	    (ret = bus_register(&vm->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_LEN, &debug_exit_bus_ops,
				&vm->debug_exit, "debug-exit")) < 0 ||
	    (ret = bus_register(&vm->pio, PORT_POST, 1, &post_port_ops, NULL, "post")) < 0)
		return ret;
	return 0;
}

/* The virtio devices: MSI-X through irqfds, kicks through ioeventfds, work
 * on one shared I/O thread ("virtio-io"). */
static int vm_create_virtio(struct vm *vm)
{
	struct virtio_host host;
	struct virtio_dev *dev;
	int ret;

	if (!vm->cfg.virtio_rng && !vm->cfg.virtio_console)
		return 0;
	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0) {
		log_error("KVM on this host lacks ioeventfd (KVM_CAP_IOEVENTFD), needed for virtio");
		return -ENOTSUP;
	}
	if ((ret = irq_routing_create(vm->vm_fd, &vm->irq_routing)) < 0 ||
	    (ret = iothread_create("virtio-io", &vm->iothread)) < 0)
		return ret;
	host = (struct virtio_host){ .mem = vm->mem, .pci = vm->pci, .routing = vm->irq_routing,
				     .vm_fd = vm->vm_fd, .iothread = vm->iothread };
	if (vm->cfg.virtio_rng) {
		if ((ret = virtio_rng_create(&host, "rng0", &dev)) < 0)
			return ret;
		vm->virtio[vm->nr_virtio++] = dev;
	}
	if (vm->cfg.virtio_console) {
		if ((ret = virtio_console_create(&host, "console0", vm->cfg.virtio_console_fd, &dev)) < 0)
			return ret;
		vm->virtio[vm->nr_virtio++] = dev;
		vm->virtio_console = dev;
	}
	return 0;
}

/* Stops the I/O thread, then frees the devices: after this nothing touches guest RAM. */
static void vm_destroy_virtio(struct vm *vm)
{
	iothread_destroy(vm->iothread);
	vm->iothread = NULL;
	for (unsigned int i = 0; i < vm->nr_virtio; i++)
		virtio_dev_destroy(vm->virtio[i]);
	vm->nr_virtio = 0;
	vm->virtio_console = NULL;
	irq_routing_destroy(vm->irq_routing);
	vm->irq_routing = NULL;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct cpuid_config cc;
	struct boot_config bc;
	int ret;

	if (!vm)
		return VMM_EXIT_HOST;
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->start_ns = time_now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	*out = vm;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0 || bus_init(&vm->pio, "pio") < 0 || bus_init(&vm->mmio, "mmio") < 0)
		return VMM_EXIT_HOST;
	if (vcpu_signal_setup() < 0 || vm_open_kvm(vm) < 0)
		return VMM_EXIT_HOST;

	vm->pvm_host = cpuid_pvm_host();
	cc = (struct cpuid_config){ .nr_vcpus = cfg->nr_vcpus, .pvm_host = vm->pvm_host };
	int khz = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0
			  ? ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0) : 0;
	cc.tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	if (cpuid_policy_create(vm->kvm_fd, &cc, &vm->cpuid) < 0)
		return VMM_EXIT_HOST;
	if (vm->pvm_host)
		log_info("PVM host (kvm_pvm): asking KVM to hide CX16, POPCNT, XSAVE and the AVX families from "
			 "the guest, because this host's KVM cannot emulate them in guest kernel mode");

	ret = guest_memory_create(cfg->mem_bytes, cpuid_phys_bits(vm->cpuid), &vm->mem);
	if (ret < 0)
		return ret == -EINVAL ? VMM_EXIT_USAGE : VMM_EXIT_HOST;
	if (guest_memory_register(vm->mem, vm->vm_fd) < 0 || vm_create_irqchip(vm) < 0)
		return VMM_EXIT_HOST;

	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(vm->cpuid, 1, 0);
	bc = (struct boot_config){
		.kernel_path = cfg->kernel, .initrd_path = cfg->initrd, .cmdline = cfg->cmdline,
		.protocol = cfg->protocol, .nr_cpus = cfg->nr_vcpus,
		.cpu_signature = leaf1 ? leaf1->eax : 0, .cpu_features = leaf1 ? leaf1->edx : 0,
	};
	if (regs_write_boot_tables(vm->mem) < 0)
		return VMM_EXIT_HOST;
	if (boot_prepare(vm->mem, &bc, &vm->boot) < 0)
		return VMM_EXIT_BAD_IMAGE;

	if (vm_create_devices(vm) < 0 || vm_create_virtio(vm) < 0)
		return VMM_EXIT_HOST;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vcpu_init(vm, &vm->vcpus[i], i) < 0)
			return VMM_EXIT_HOST;
	}
	return VMM_EXIT_OK;
}

int vm_start(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->state = VM_STATE_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->lock);
		vm->nr_threads++;
		pthread_mutex_unlock(&vm->lock);
		int ret = vcpu_start(&vm->vcpus[i]);
		if (ret < 0) {
			pthread_mutex_lock(&vm->lock);
			vm->nr_threads--;
			pthread_mutex_unlock(&vm->lock);
			vm_request_stop(vm, VMM_EXIT_HOST, "cannot start vCPU %u", i);
			return ret;
		}
	}
	return 0;
}

void vm_join(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		if (!vcpu->started)
			continue;
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}

int vm_pause(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_STATE_STOPPING || vm->state == VM_STATE_CREATED) {
		ret = -EBUSY;
		goto out;
	}
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->lock);
	while (vm->nr_parked < vm->nr_threads && vm->state != VM_STATE_STOPPING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (vm->state == VM_STATE_STOPPING)
		ret = -EBUSY;
	else
		vm->state = VM_STATE_PAUSED;
out:
	pthread_mutex_unlock(&vm->lock);
	/* The devices too: nothing writes guest memory while paused. */
	for (unsigned int i = 0; ret == 0 && i < vm->nr_virtio; i++)
		virtio_dev_pause(vm->virtio[i]);
	return ret;
}

int vm_resume(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_STATE_STOPPING || vm->state == VM_STATE_CREATED) {
		ret = -EBUSY;
	} else {
		for (unsigned int i = 0; i < vm->nr_virtio; i++)
			virtio_dev_resume(vm->virtio[i]);
		vm->pause_requested = false;
		vm->state = VM_STATE_RUNNING;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

enum vm_state vm_get_state(struct vm *vm)
{
	enum vm_state s;

	pthread_mutex_lock(&vm->lock);
	s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

void vm_send_ctrl_alt_del(struct vm *vm)
{
	i8042_send_ctrl_alt_del(vm->i8042);
}

/* The child of vm_destroy_detached: raw system calls only, on its own stack,
 * in the parent's address space. ARG is a pipe: it waits for the write end to
 * close, which happens when the parent exits. */
static int vm_teardown_child(void *arg)
{
	const int *pipe_fds = arg;
	char b;

	/* Let go of stdio at once: whoever reads our output must not wait for us. */
	for (long i = 0; i <= STDERR_FILENO; i++)
		syscall(SYS_close, i);
	syscall(SYS_close, pipe_fds[1]);
	while (syscall(SYS_read, pipe_fds[0], &b, 1) < 0 && errno == EINTR)
		;
	syscall(SYS_exit_group, 0); /* the last KVM references and the mm go with us */
	return 0;
}

void vm_destroy_detached(struct vm *vm)
{
	static uint8_t child_stack[16384] __attribute__((aligned(16)));
	static int p[2]; /* read by the child, in our address space, after we returned */

	if (!vm || vm->vm_fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		vm_destroy(vm);
		return;
	}
	vm_join(vm);
	vm_destroy_virtio(vm);
	guest_memory_destroy(vm->mem);
	vm->mem = NULL;
	/*
	 * The child shares our address space (CLONE_VM) and has a copy of our
	 * fds: when we exit, neither the KVM VM nor our mm is the last reference,
	 * so the exit is quick; the child, woken by the pipe closing, pays for
	 * both teardowns.
	 */
	if (clone(vm_teardown_child, child_stack + sizeof(child_stack), CLONE_VM | SIGCHLD, p) < 0)
		log_verbose("clone for the detached teardown: %s", strerror(errno));
	close(p[0]);
	vm_destroy(vm);
	/* p[1] stays open until this process exits; that wakes the child. */
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm_get_state(vm) != VM_STATE_STOPPING)
		vm_request_stop(vm, VMM_EXIT_OK, "the VMM is shutting down");
	vm_join(vm);
	vm_destroy_virtio(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].vm)
			vcpu_fini(&vm->vcpus[i]);
	serial_destroy(vm->serial);
	i8042_destroy(vm->i8042);
	rtc_destroy(vm->rtc);
	pci_destroy(vm->pci);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	guest_memory_destroy(vm->mem);
	free(vm->cpuid);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
