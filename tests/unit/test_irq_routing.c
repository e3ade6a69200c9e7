// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X delivery through KVM for real: a VM with an in-kernel irqchip and
 * one vCPU, MSI routes at GSI 24+ bound to irqfds, and the guest-visible
 * result checked in the vCPU's local APIC (its interrupt request register).
 * Also checks that the legacy GSIs still reach the IOAPIC and the PIC after
 * our table replaced KVM's default one. Skipped without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/msix.h"
#include "irq_routing.h"
#include "vireo/log.h"
#include "virtio_guest.h"

#define APIC_SVR 0xf0
#define APIC_IRR 0x200

struct fixture {
	int kvm, vm, vcpu;
	struct irq_routing *routing;
	struct msix *msix;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kvm_lapic_state lapic;
	uint64_t identity = 0xfeffc000;

	f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm < 0) {
		free(f);
		*state = NULL; /* each test skips */
		return 0;
	}
	f->vm = ioctl(f->kvm, KVM_CREATE_VM, 0);
	assert_true(f->vm >= 0);
	assert_int_equal(ioctl(f->vm, KVM_SET_IDENTITY_MAP_ADDR, &identity), 0);
	assert_int_equal(ioctl(f->vm, KVM_SET_TSS_ADDR, 0xfeffd000UL), 0);
	assert_int_equal(ioctl(f->vm, KVM_CREATE_IRQCHIP, 0), 0);
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0UL);
	assert_true(f->vcpu >= 0);
	/* Software-enable the local APIC, as the guest's kernel would. */
	assert_int_equal(ioctl(f->vcpu, KVM_GET_LAPIC, &lapic), 0);
	lapic.regs[APIC_SVR + 1] |= 0x1;
	assert_int_equal(ioctl(f->vcpu, KVM_SET_LAPIC, &lapic), 0);
	assert_int_equal(irq_routing_create(f->vm, &f->routing), 0);
	assert_int_equal(msix_create(f->routing, 4, &f->msix), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	msix_destroy(f->msix);
	irq_routing_destroy(f->routing);
	close(f->vcpu);
	close(f->vm);
	close(f->kvm);
	free(f);
	return 0;
}

static bool irr_has(struct fixture *f, unsigned int vector)
{
	struct kvm_lapic_state lapic;
	if (ioctl(f->vcpu, KVM_GET_LAPIC, &lapic) < 0)
		return false;
	uint32_t word = get_le32(&lapic.regs[APIC_IRR + 0x10 * (vector / 32)]);
	return (word >> (vector % 32)) & 1;
}

/* Waits up to MS for VECTOR to be requested in the vCPU's LAPIC. */
static bool wait_irr(struct fixture *f, unsigned int vector, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;
	while (!irr_has(f, vector)) {
		if (test_now_ms() > end)
			return false;
		usleep(200);
	}
	return true;
}

static void program(struct fixture *f, unsigned int vector, uint32_t data, bool masked)
{
	uint32_t w[4] = { 0xfee00000u, 0, data, masked };
	for (unsigned int i = 0; i < 4; i++)
		msix_table_write(f->msix, 16 * vector + 4 * i, &w[i], 4);
}

static void test_msi_reaches_the_lapic(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();

	program(f, 0, 0x41, false);
	assert_int_equal(irq_routing_commits(f->routing), 0); /* MSI-X still disabled */
	msix_set_control(f->msix, true, false);
	assert_int_equal(irq_routing_commits(f->routing), 1);
	assert_false(irr_has(f, 0x41));
	msix_notify(f->msix, 0);
	assert_true(wait_irr(f, 0x41, 1000));

	/* A masked vector waits; unmasking delivers it. */
	program(f, 1, 0x52, true);
	msix_notify(f->msix, 1);
	assert_false(wait_irr(f, 0x52, 50));
	uint64_t pba = 0;
	msix_pba_read(f->msix, 0, &pba, 8);
	assert_int_equal(pba, 0x2);
	uint32_t zero = 0;
	msix_table_write(f->msix, 16 + 12, &zero, 4);
	assert_true(wait_irr(f, 0x52, 1000));

	/* Reprogramming a vector moves its route. */
	uint32_t masked = 1, data = 0x63;
	msix_table_write(f->msix, 12, &masked, 4);
	msix_table_write(f->msix, 8, &data, 4);
	msix_table_write(f->msix, 12, &zero, 4);
	msix_notify(f->msix, 0);
	assert_true(wait_irr(f, 0x63, 1000));
	uint64_t delivered, pended;
	msix_counters(f->msix, &delivered, &pended);
	assert_int_equal(delivered, 3);
	assert_int_equal(pended, 1);
}

static void test_legacy_gsis_still_routed(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	struct kvm_irq_level line = { .irq = 4, .level = 1 };
	struct kvm_irqchip chip;

	program(f, 0, 0x41, false);
	msix_set_control(f->msix, true, false); /* commits a table with our MSI routes */
	assert_true(irq_routing_commits(f->routing) >= 1);
	assert_int_equal(ioctl(f->vm, KVM_IRQ_LINE, &line), 0);
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	assert_int_equal(ioctl(f->vm, KVM_GET_IRQCHIP, &chip), 0);
	assert_true(chip.chip.ioapic.irr & (1u << 4));
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
	assert_int_equal(ioctl(f->vm, KVM_GET_IRQCHIP, &chip), 0);
	assert_true(chip.chip.pic.irr & (1u << 4));
	/* GSI 20 reaches the IOAPIC only; GSI 10 the slave PIC as pin 2. */
	line = (struct kvm_irq_level){ .irq = 20, .level = 1 };
	assert_int_equal(ioctl(f->vm, KVM_IRQ_LINE, &line), 0);
	line = (struct kvm_irq_level){ .irq = 10, .level = 1 };
	assert_int_equal(ioctl(f->vm, KVM_IRQ_LINE, &line), 0);
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	assert_int_equal(ioctl(f->vm, KVM_GET_IRQCHIP, &chip), 0);
	assert_true(chip.chip.ioapic.irr & (1u << 20));
	assert_true(chip.chip.ioapic.irr & (1u << 10));
	chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	assert_int_equal(ioctl(f->vm, KVM_GET_IRQCHIP, &chip), 0);
	assert_true(chip.chip.pic.irr & (1u << 2));
}

static void test_gsi_exhaustion(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	struct msix *more[IRQ_ROUTING_MAX_MSI / MSIX_MAX_VECTORS + 1];
	unsigned int n = 0;
	int ret = 0;

	/* 4 GSIs are taken by the fixture: the table fills up, then refuses. */
	while (n < sizeof(more) / sizeof(more[0]) &&
	       (ret = msix_create(f->routing, MSIX_MAX_VECTORS, &more[n])) == 0)
		n++;
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(n, (IRQ_ROUTING_MAX_MSI - 4) / MSIX_MAX_VECTORS);
	while (n)
		msix_destroy(more[--n]);
}

int main(void)
{
	log_set_level(LOG_LEVEL_NONE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_msi_reaches_the_lapic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_gsis_still_routed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gsi_exhaustion, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
