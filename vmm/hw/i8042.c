// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "i8042.h"

/* Status register. */
#define STS_OBF     0x01 /* output buffer full */
#define STS_SYS     0x04 /* system flag: POST passed */
#define STS_CMD     0x08 /* last write was a command */
#define STS_UNLOCK  0x10 /* keyboard not inhibited */

/* Command byte. */
#define CB_KBD_INT       0x01
#define CB_SYS           0x04
#define CB_KBD_DISABLE   0x10
#define CB_AUX_DISABLE   0x20
#define CB_TRANSLATE     0x40

/* Controller commands. */
#define CMD_READ_CB      0x20
#define CMD_WRITE_CB     0x60
#define CMD_AUX_DISABLE  0xa7
#define CMD_AUX_ENABLE   0xa8
#define CMD_AUX_TEST     0xa9
#define CMD_SELF_TEST    0xaa
#define CMD_KBD_TEST     0xab
#define CMD_KBD_DISABLE  0xad
#define CMD_KBD_ENABLE   0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX    0xd4
#define CMD_PULSE_RESET  0xfe

/* Keyboard commands and replies. */
#define KBD_SET_LEDS     0xed
#define KBD_ECHO         0xee
#define KBD_SCANCODE_SET 0xf0
#define KBD_IDENTIFY     0xf2
#define KBD_TYPEMATIC    0xf3
#define KBD_ENABLE       0xf4
#define KBD_DISABLE      0xf5
#define KBD_DEFAULTS     0xf6
#define KBD_RESET        0xff
#define KBD_ACK          0xfa
#define KBD_RESEND       0xfe
#define KBD_BAT_OK       0xaa

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_state st;
	struct irq_line irq;
	int irq_level;
	void (*reset)(void *opaque);
	void *reset_opaque;
};

static void i8042_update(struct i8042 *k)
{
	struct i8042_state *st = &k->st;
	int level;

	if (!(st->status & STS_OBF) && st->out_len) {
		st->status |= STS_OBF;
	}
	level = (st->status & STS_OBF) && (st->command_byte & CB_KBD_INT);
	if (level != k->irq_level) {
		k->irq_level = level;
		irq_line_set(&k->irq, level);
	}
}

static void queue_byte(struct i8042_state *st, uint8_t b)
{
	if (st->out_len == I8042_QUEUE_LEN)
		return; /* a full controller drops input, as hardware does */
	st->out_queue[(st->out_head + st->out_len) % I8042_QUEUE_LEN] = b;
	st->out_len++;
}

static void queue_clear(struct i8042_state *st)
{
	st->out_head = st->out_len = 0;
	st->status &= (uint8_t)~STS_OBF;
}

static uint8_t read_data(struct i8042_state *st)
{
	uint8_t b;

	if (!st->out_len)
		return 0;
	b = st->out_queue[st->out_head];
	st->out_head = (uint8_t)((st->out_head + 1) % I8042_QUEUE_LEN);
	st->out_len--;
	st->status &= (uint8_t)~STS_OBF;
	return b;
}

static void keyboard_reset_state(struct i8042_state *st)
{
	st->kbd_enabled = 1;
	st->kbd_pending = 0;
}

/* A byte written to the keyboard itself. */
static void keyboard_write(struct i8042_state *st, uint8_t b)
{
	if (st->kbd_pending) {
		uint8_t cmd = st->kbd_pending;
		st->kbd_pending = 0;
		queue_byte(st, KBD_ACK);
		if (cmd == KBD_SCANCODE_SET && b == 0)
			queue_byte(st, (st->command_byte & CB_TRANSLATE) ? 0x41 : 0x02);
		return;
	}
	switch (b) {
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCANCODE_SET:
		st->kbd_pending = b;
		queue_byte(st, KBD_ACK);
		break;
	case KBD_ECHO:
		queue_byte(st, KBD_ECHO);
		break;
	case KBD_IDENTIFY:
		queue_byte(st, KBD_ACK);
		queue_byte(st, 0xab);
		queue_byte(st, (st->command_byte & CB_TRANSLATE) ? 0x41 : 0x83);
		break;
	case KBD_ENABLE:
		st->kbd_enabled = 1;
		queue_byte(st, KBD_ACK);
		break;
	case KBD_DISABLE:
	case KBD_DEFAULTS:
		st->kbd_enabled = b == KBD_DEFAULTS;
		queue_byte(st, KBD_ACK);
		break;
	case KBD_RESET:
		keyboard_reset_state(st);
		queue_byte(st, KBD_ACK);
		queue_byte(st, KBD_BAT_OK);
		break;
	default:
		queue_byte(st, KBD_RESEND);
		break;
	}
}

/* Returns true when the guest asked for a machine reset. */
static bool controller_command(struct i8042_state *st, uint8_t cmd)
{
	st->pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CB:
		queue_byte(st, st->command_byte);
		break;
	case CMD_WRITE_CB:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		st->pending_cmd = cmd;
		break;
	case CMD_AUX_DISABLE:
		st->command_byte |= CB_AUX_DISABLE;
		break;
	case CMD_AUX_ENABLE:
		st->command_byte &= (uint8_t)~CB_AUX_DISABLE;
		break;
	case CMD_AUX_TEST:
		queue_byte(st, 0xff); /* no auxiliary device: the test fails */
		break;
	case CMD_SELF_TEST:
		queue_clear(st);
		queue_byte(st, 0x55);
		break;
	case CMD_KBD_TEST:
		queue_byte(st, 0x00);
		break;
	case CMD_KBD_DISABLE:
		st->command_byte |= CB_KBD_DISABLE;
		break;
	case CMD_KBD_ENABLE:
		st->command_byte &= (uint8_t)~CB_KBD_DISABLE;
		break;
	case CMD_READ_OUTPORT:
		queue_byte(st, 0x01 | 0x02 | (st->out_len ? 0x10 : 0)); /* no reset, A20 on */
		break;
	case CMD_PULSE_RESET:
		return true;
	default:
		/* 0xf0-0xff pulse output lines; bit 0 of the pulse mask is reset. */
		if (cmd >= 0xf0 && !(cmd & 1))
			return true;
		break;
	}
	return false;
}

/* Returns true when the guest asked for a machine reset. */
static bool data_write(struct i8042_state *st, uint8_t b)
{
	uint8_t cmd = st->pending_cmd;

	st->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CB:
		st->command_byte = b;
		break;
	case CMD_WRITE_OUTPORT:
		return !(b & 1); /* bit 0 low holds the CPU in reset */
	case CMD_WRITE_KBD_OUT:
		queue_byte(st, b);
		break;
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		break; /* no mouse: the byte goes nowhere */
	default:
		keyboard_write(st, b);
		break;
	}
	return false;
}

static void i8042_bus_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct i8042 *k = opaque;
	uint8_t v;

	if (offset != 0 && offset != 4) {
		memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&k->lock);
	v = offset == 0 ? read_data(&k->st) : k->st.status;
	i8042_update(k);
	pthread_mutex_unlock(&k->lock);
	memset(data, 0, size);
	*(uint8_t *)data = v;
}

static void i8042_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct i8042 *k = opaque;
	uint8_t b = *(const uint8_t *)data;
	bool reset;
	(void)size;

	if (offset != 0 && offset != 4)
		return;
	pthread_mutex_lock(&k->lock);
	if (offset == 0) {
		k->st.status &= (uint8_t)~STS_CMD;
		reset = data_write(&k->st, b);
	} else {
		k->st.status |= STS_CMD;
		reset = controller_command(&k->st, b);
	}
	i8042_update(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->reset_opaque);
}

/* Registered on ports 0x60-0x64: offset 0 is data, 4 is status/command; the
 * ports between are not the controller's (0x61 is the PIT's, in KVM). */
const struct bus_ops i8042_bus_ops = {
	.read = i8042_bus_read,
	.write = i8042_bus_write,
};

void i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Set 1 (what the controller delivers when translating) and set 2. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };

	pthread_mutex_lock(&k->lock);
	if (k->st.command_byte & CB_TRANSLATE) {
		for (size_t i = 0; i < sizeof(set1); i++)
			queue_byte(&k->st, set1[i]);
	} else {
		for (size_t i = 0; i < sizeof(set2); i++)
			queue_byte(&k->st, set2[i]);
	}
	i8042_update(k);
	pthread_mutex_unlock(&k->lock);
}

int i8042_create(struct irq_line kbd_irq, void (*reset)(void *opaque), void *opaque,
		 struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	k->st.status = STS_SYS | STS_UNLOCK;
	k->st.command_byte = CB_KBD_INT | CB_SYS | CB_TRANSLATE | CB_AUX_DISABLE;
	keyboard_reset_state(&k->st);
	k->irq = kbd_irq;
	k->reset = reset;
	k->reset_opaque = opaque;
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_save(struct i8042 *k, struct i8042_state *state)
{
	pthread_mutex_lock(&k->lock);
	*state = k->st;
	pthread_mutex_unlock(&k->lock);
}

int i8042_restore(struct i8042 *k, const struct i8042_state *state)
{
	if (state->out_head >= I8042_QUEUE_LEN || state->out_len > I8042_QUEUE_LEN)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->st = *state;
	i8042_update(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
