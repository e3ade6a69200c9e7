/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MSI-X table and pending-bit array of one PCI function (PCI Local Bus
 * 3.0, section 6.8.2), with KVM delivery.
 *
 * Each vector has an eventfd. With an irq_routing, the eventfd is bound by
 * KVM_IRQFD to an MSI route that follows the vector's table entry, so
 * msix_notify() raises the guest interrupt from any thread without stopping
 * a vCPU. Without one (unit tests, fuzzers), the eventfd is simply written,
 * and whoever holds msix_vector_fd() sees each delivered interrupt.
 *
 * Masking: while MSI-X is disabled, the function is masked or the vector is
 * masked, msix_notify() sets the vector's pending bit instead; the interrupt
 * is delivered (and the bit cleared) when the vector becomes deliverable
 * again. The route is re-committed lazily: when a vector whose address or
 * data changed becomes deliverable, or when a deliverable vector's entry is
 * written (which software should not do, but may).
 *
 * The table and the PBA are reached through msix_table_read/write and
 * msix_pba_read, which the owner calls from its BAR handlers with offsets
 * relative to the table or PBA. Accesses must be 4 or 8 bytes, naturally
 * aligned (the PCI rule); others read as 0 and are ignored.
 *
 * Thread-safe (one internal lock). Lock order: callers may hold their own
 * locks; msix takes irq_routing's lock inside its own.
 */
#ifndef VMM_HW_MSIX_H
#define VMM_HW_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#define MSIX_MAX_VECTORS   128
#define MSIX_ENTRY_SIZE    16
#define MSIX_CTRL_MASKBIT  0x1
/* Message control register of the capability. */
#define MSIX_FLAGS_QSIZE   0x07ff
#define MSIX_FLAGS_MASKALL 0x4000
#define MSIX_FLAGS_ENABLE  0x8000
#define MSIX_CAP_SIZE      12 /* id, next, message control, table, PBA */

struct irq_routing;

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/* What msix_save() records; the enable and function-mask bits live in the
 * capability (PCI configuration space) and are restored with it. */
struct msix_state {
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending[MSIX_MAX_VECTORS / 64];
};

struct msix;

/* NR_VECTORS (1 to MSIX_MAX_VECTORS), all masked. ROUTING may be NULL. */
int msix_create(struct irq_routing *routing, unsigned int nr_vectors, struct msix **out);
/* Closes the vectors' eventfds, which detaches their irqfds in KVM; their
 * GSIs stay reserved. */
void msix_destroy(struct msix *m);

unsigned int msix_nr_vectors(const struct msix *m);
/* Bytes the table and PBA occupy in a BAR. */
#define MSIX_TABLE_BYTES(n) ((uint64_t)(n) * MSIX_ENTRY_SIZE)
#define MSIX_PBA_BYTES(n)   (((uint64_t)(n) + 63) / 64 * 8)

void msix_table_read(struct msix *m, uint64_t offset, void *data, unsigned int size);
void msix_table_write(struct msix *m, uint64_t offset, const void *data, unsigned int size);
void msix_pba_read(struct msix *m, uint64_t offset, void *data, unsigned int size);

/* The capability's message control changed: MSI-X enable and function mask. */
void msix_set_control(struct msix *m, bool enabled, bool function_masked);

/* Raises VECTOR (ignored if out of range): delivered now, or left pending. */
void msix_notify(struct msix *m, unsigned int vector);
/* Forgets every pending interrupt (the owning device was reset). */
void msix_clear_pending(struct msix *m);

/* The eventfd behind VECTOR (owned by the msix); -1 if out of range. */
int msix_vector_fd(const struct msix *m, unsigned int vector);

/* Interrupts delivered, and notifications that found the vector masked. */
void msix_counters(struct msix *m, uint64_t *delivered, uint64_t *pended);

void msix_save(struct msix *m, struct msix_state *s);
/* 0 if S fits M (no entries or pending bits beyond its table, no reserved
 * control bits), else -EINVAL. */
int msix_check_state(const struct msix *m, const struct msix_state *s);
/* -EINVAL (nothing changed) unless msix_check_state() accepts S; else loads
 * it and re-commits the routes of deliverable vectors. */
int msix_restore(struct msix *m, const struct msix_state *s);

#endif
