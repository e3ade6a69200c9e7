/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One virtual machine: its KVM VM, RAM, vCPUs, buses and legacy devices, and
 * its run state. The main thread creates it, starts it and waits on
 * vm->stop_fd; vCPU threads run the guest; any thread may ask it to stop.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "hw/debug_exit.h"
#include "hw/serial.h"
#include "memory.h"
#include "x86/boot.h"

#define VM_MAX_VCPUS 64
#define VM_MAX_VIRTIO 16

struct serial;
struct i8042;
struct rtc;
struct pci;
struct irq_routing;
struct iothread;
struct virtio_dev;

struct vm_config {
	const char *name;        /* for logs; "vm" by default */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	enum boot_protocol protocol;
	uint64_t mem_bytes;
	unsigned int nr_vcpus;
	struct serial_sink serial; /* where COM1 output goes */
	bool virtio_rng;         /* a virtio-rng device */
	bool virtio_console;     /* a virtio-console device (hvc0) */
	int virtio_console_fd;   /* where hvc0 output goes; -1 to discard (not owned) */
};

/* Exit counters; the index names are in vcpu_exit_names. */
enum vcpu_exit_kind {
	EXIT_IO, EXIT_MMIO, EXIT_HLT, EXIT_SHUTDOWN, EXIT_INTERNAL_ERROR,
	EXIT_SYSTEM_EVENT, EXIT_INTR, EXIT_OTHER, EXIT_KINDS
};
extern const char *const vcpu_exit_names[EXIT_KINDS];

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool parked;
	uint64_t exits[EXIT_KINDS]; /* written by the vCPU thread, read relaxed */
};

enum vm_state { VM_STATE_CREATED, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_STOPPING };

struct vm {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	size_t run_size;
	bool pvm_host;
	struct guest_memory *mem;
	struct kvm_cpuid2 *cpuid;
	struct bus pio, mmio;
	struct boot_state boot;
	unsigned int nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];

	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct pci *pci;
	struct debug_exit debug_exit;

	/* virtio devices (vmm/virtio/): MSI routes, their shared I/O thread. */
	struct irq_routing *irq_routing;
	struct iothread *iothread;
	struct virtio_dev *virtio[VM_MAX_VIRTIO];
	unsigned int nr_virtio;
	struct virtio_dev *virtio_console; /* also in virtio[] */

	pthread_mutex_t lock;    /* guards everything below */
	pthread_cond_t cond;
	enum vm_state state;
	bool pause_requested;
	unsigned int nr_parked;  /* vCPU threads waiting in vcpu_park() */
	unsigned int nr_threads; /* vCPU threads not yet finished */
	int exit_status;
	char exit_reason[256];
	int stop_fd;             /* eventfd, readable once the VM must stop */
	uint64_t start_ns;
};

/* Builds the VM from CFG: KVM, RAM, devices, boot tables. Logs what fails and
 * returns a vmm_exit_status (VMM_EXIT_OK on success). */
int vm_create(const struct vm_config *cfg, struct vm **out);
/* Stops the vCPUs (if running) and frees everything. */
void vm_destroy(struct vm *vm);
/*
 * The same, for a VMM about to exit: the kernel's teardown of the KVM VM
 * (20-30 ms on PVM hosts, spent waiting, not computing) happens in a
 * short-lived child process that holds the last references, so whoever waits
 * for this process sees it exit at once.
 */
void vm_destroy_detached(struct vm *vm);

/* Starts every vCPU thread. */
int vm_start(struct vm *vm);

/*
 * Asks the VM to stop with STATUS and a one-line REASON. The first request
 * wins; later ones are ignored. Safe from any thread, including vCPU threads
 * inside device handlers.
 */
void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Waits for every vCPU thread to end (after a stop request). */
void vm_join(struct vm *vm);

/* Parks every vCPU outside KVM_RUN and returns once they all are; -EBUSY when stopping. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
enum vm_state vm_get_state(struct vm *vm);
const char *vm_state_name(enum vm_state s);

/* Types ctrl-alt-del on the guest's keyboard. */
void vm_send_ctrl_alt_del(struct vm *vm);

#endif
