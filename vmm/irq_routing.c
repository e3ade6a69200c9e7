// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "irq_routing.h"
#include "vireo/log.h"
#include "vireo/util.h"

struct msi_route {
	uint64_t address;
	uint32_t data;
};

struct irq_routing {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned int nr_msi;                  /* GSIs FIRST_MSI .. FIRST_MSI + nr_msi - 1 */
	struct msi_route msi[IRQ_ROUTING_MAX_MSI];
	struct kvm_irq_routing *table;        /* scratch buffer for the ioctl */
	uint64_t commits;
};

#define MAX_ENTRIES (IRQ_ROUTING_IOAPIC_PINS + IRQ_ROUTING_PIC_PINS + IRQ_ROUTING_MAX_MSI)

int irq_routing_create(int vm_fd, struct irq_routing **out)
{
	struct irq_routing *r;
	int max_routes;

	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0) {
		log_error("KVM on this host lacks irqfd (KVM_CAP_IRQFD), needed for MSI-X");
		return -ENOTSUP;
	}
	max_routes = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	if (max_routes <= 0) {
		log_error("KVM on this host lacks GSI routing (KVM_CAP_IRQ_ROUTING)");
		return -ENOTSUP;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->table = calloc(1, sizeof(*r->table) + MAX_ENTRIES * sizeof(r->table->entries[0]));
	if (!r->table) {
		free(r);
		return -ENOMEM;
	}
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void irq_routing_destroy(struct irq_routing *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->table);
	free(r);
}

/* Writes the whole table to KVM (lock held). */
static int irq_routing_commit(struct irq_routing *r)
{
	struct kvm_irq_routing_entry *e = r->table->entries;
	unsigned int n = 0;

	memset(r->table, 0, sizeof(*r->table) + MAX_ENTRIES * sizeof(*e));
	/* KVM's default routing (irq_comm.c): both chips for ISA GSIs, IOAPIC above. */
	for (unsigned int gsi = 0; gsi < IRQ_ROUTING_IOAPIC_PINS; gsi++) {
		if (gsi < IRQ_ROUTING_PIC_PINS) {
			e[n].gsi = gsi;
			e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi;
		n++;
	}
	for (unsigned int i = 0; i < r->nr_msi; i++, n++) {
		e[n].gsi = IRQ_ROUTING_FIRST_MSI + i;
		e[n].type = KVM_IRQ_ROUTING_MSI;
		e[n].u.msi.address_lo = (uint32_t)r->msi[i].address;
		e[n].u.msi.address_hi = (uint32_t)(r->msi[i].address >> 32);
		e[n].u.msi.data = r->msi[i].data;
	}
	r->table->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0) {
		int err = -errno;
		log_error_errno(err, "KVM_SET_GSI_ROUTING with %u entries", n);
		return err;
	}
	r->commits++;
	return 0;
}

static int irqfd(struct irq_routing *r, int eventfd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd req = {
		.fd = (uint32_t)eventfd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(r->vm_fd, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

int irq_routing_add_msi(struct irq_routing *r, int eventfd, unsigned int *gsi)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	if (r->nr_msi == IRQ_ROUTING_MAX_MSI) {
		ret = -ENOSPC;
		goto out;
	}
	unsigned int g = IRQ_ROUTING_FIRST_MSI + r->nr_msi;
	r->msi[r->nr_msi] = (struct msi_route){ 0, 0 };
	ret = irqfd(r, eventfd, g, true);
	if (ret < 0) {
		log_error_errno(ret, "KVM_IRQFD for GSI %u", g);
		goto out;
	}
	r->nr_msi++;
	*gsi = g;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_routing_remove_msi(struct irq_routing *r, int eventfd, unsigned int gsi)
{
	pthread_mutex_lock(&r->lock);
	int ret = irqfd(r, eventfd, gsi, false);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_routing_set_msi(struct irq_routing *r, unsigned int gsi, uint64_t address, uint32_t data)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&r->lock);
	if (gsi >= IRQ_ROUTING_FIRST_MSI && gsi - IRQ_ROUTING_FIRST_MSI < r->nr_msi) {
		struct msi_route *m = &r->msi[gsi - IRQ_ROUTING_FIRST_MSI];
		m->address = address;
		m->data = data;
		ret = irq_routing_commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

uint64_t irq_routing_commits(struct irq_routing *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t n = r->commits;
	pthread_mutex_unlock(&r->lock);
	return n;
}
