/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's GSI routing table (KVM keeps exactly one per VM) and the irqfds
 * bound to it.
 *
 * The table always holds KVM's default irqchip entries: GSI n goes to
 * IOAPIC pin n (n < 24) and, for n < 16, also to PIC pin n (master for 0-7,
 * slave for 8-15), so the legacy devices' KVM_IRQ_LINE calls keep working.
 * MSI routes are added at GSI 24 and up, one per MSI-X vector of a device.
 * A route is bound to an eventfd with KVM_IRQFD: writing the eventfd, from
 * any thread, raises that MSI in the kernel without stopping a vCPU.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so every change rewrites it;
 * nothing is written until the first MSI route is set, so a VM without
 * MSI-capable devices keeps KVM's own default table untouched.
 *
 * Thread-safe: calls from vCPU threads (MSI-X table writes) and I/O threads
 * are serialised by an internal lock.
 */
#ifndef VMM_IRQ_ROUTING_H
#define VMM_IRQ_ROUTING_H

#include <stdint.h>

#define IRQ_ROUTING_IOAPIC_PINS 24
#define IRQ_ROUTING_PIC_PINS    16
#define IRQ_ROUTING_FIRST_MSI   24
#define IRQ_ROUTING_MAX_MSI     1024

struct irq_routing;

/*
 * Checks that VM_FD's KVM supports GSI routing and irqfds (-ENOTSUP and a log
 * line otherwise). VM_FD must already have its in-kernel irqchip.
 */
int irq_routing_create(int vm_fd, struct irq_routing **out);
/* Detaches nothing: the irqfds go with the VM fd. NULL is fine. */
void irq_routing_destroy(struct irq_routing *r);

/*
 * Reserves the next free GSI for an MSI route (address 0, data 0 until set)
 * and binds EVENTFD (not owned) to it with KVM_IRQFD. -ENOSPC when all
 * IRQ_ROUTING_MAX_MSI are taken.
 */
int irq_routing_add_msi(struct irq_routing *r, int eventfd, unsigned int *gsi);
/* Unbinds EVENTFD from GSI (the route itself stays reserved). Slow (KVM
 * waits for its irqfd clean-up, ~4 ms); closing the eventfd unbinds it too. */
int irq_routing_remove_msi(struct irq_routing *r, int eventfd, unsigned int gsi);

/* Points GSI's route at the MSI (ADDRESS, DATA) and commits the table. */
int irq_routing_set_msi(struct irq_routing *r, unsigned int gsi, uint64_t address,
			uint32_t data);

/* Number of KVM_SET_GSI_ROUTING calls made (for stats and tests). */
uint64_t irq_routing_commits(struct irq_routing *r);

#endif
