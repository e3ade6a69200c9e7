/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An interrupt line from a device to the interrupt controllers. Devices hold
 * one by value and call irq_line_set() with the level of their output; the VM
 * wires it to KVM_IRQ_LINE (a unit test wires it to a recorder).
 */
#ifndef VMM_IRQ_H
#define VMM_IRQ_H

struct irq_line {
	void (*set)(void *opaque, unsigned int gsi, int level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->opaque, line->gsi, level);
}

#endif
