/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A 16550A UART (8250 family), as at COM1 (port 0x3f8, IRQ 4). Transmitted
 * bytes go straight to a sink; received bytes wait in a 16-byte FIFO.
 * Thread-safe: the vCPU threads and the main loop may call in concurrently.
 */
#ifndef VMM_HW_SERIAL_H
#define VMM_HW_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "../bus.h"
#include "../irq.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  4
#define SERIAL_NR_PORTS  8
#define SERIAL_FIFO_LEN  16

/* Everything the device remembers; saved and restored as is (version 1). */
struct serial_state {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t thr_ipending;           /* THR-empty interrupt waiting to be seen */
	uint8_t rx_fifo[SERIAL_FIFO_LEN];
	uint8_t rx_head, rx_len;
};

struct serial;

/* Where the bytes the guest transmits go. WRITE runs on vCPU threads with the
 * UART's lock held: it must never block for long. */
struct serial_sink {
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

/* A sink that writes to FD (not owned); FD -1 discards. */
struct serial_sink serial_sink_fd(int fd);

int serial_create(struct irq_line irq, struct serial_sink sink, struct serial **out);
void serial_destroy(struct serial *s);

extern const struct bus_ops serial_bus_ops;

/* Queues up to LEN received bytes; returns how many fitted in the FIFO. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);

void serial_save(struct serial *s, struct serial_state *state);
/* Returns -EINVAL (device unchanged) if STATE is not one a UART can be in. */
int serial_restore(struct serial *s, const struct serial_state *state);

#endif
