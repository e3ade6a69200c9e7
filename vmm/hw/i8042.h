/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PS/2 keyboard controller (i8042) at ports 0x60 and 0x64, with a
 * keyboard behind it and no mouse. Enough of both for Linux's i8042 and
 * atkbd drivers: self-tests, the command byte, keyboard identify/reset/LED
 * commands, scancode translation. Its reset line (command 0xFE, as Linux's
 * `reboot=k` uses) resets the machine; the host can type ctrl-alt-del.
 */
#ifndef VMM_HW_I8042_H
#define VMM_HW_I8042_H

#include <stdint.h>

#include "../bus.h"
#include "../irq.h"

#define I8042_DATA_PORT    0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ      1
#define I8042_QUEUE_LEN    16

struct i8042_state {
	uint8_t status;
	uint8_t command_byte;
	uint8_t pending_cmd;    /* controller command waiting for its data byte */
	uint8_t kbd_pending;    /* keyboard command waiting for its argument */
	uint8_t kbd_enabled;
	uint8_t out_queue[I8042_QUEUE_LEN];
	uint8_t out_head, out_len;
};

struct i8042;

/* RESET is called (from a vCPU thread) when the guest pulses the reset line. */
int i8042_create(struct irq_line kbd_irq, void (*reset)(void *opaque), void *opaque,
		 struct i8042 **out);
void i8042_destroy(struct i8042 *k);

extern const struct bus_ops i8042_bus_ops;

/* Queues the key presses and releases of ctrl-alt-del, in the scancode set in use. */
void i8042_send_ctrl_alt_del(struct i8042 *k);

void i8042_save(struct i8042 *k, struct i8042_state *state);
int i8042_restore(struct i8042 *k, const struct i8042_state *state);

#endif
