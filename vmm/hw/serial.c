// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serial.h"

/* Register offsets. */
#define UART_RBR 0 /* read; THR on write; DLL with DLAB */
#define UART_IER 1 /* DLM with DLAB */
#define UART_IIR 2 /* read; FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI  0x01 /* received data */
#define IER_THRI 0x02 /* transmitter empty */
#define IER_RLSI 0x04 /* line status */
#define IER_MSI  0x08 /* modem status */

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS 0x1e

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
#define MSR_DELTAS 0x0f

struct serial {
	pthread_mutex_t lock;
	struct serial_state st;
	struct irq_line irq;
	struct serial_sink sink;
	int irq_level;
};

/* Highest-priority pending interrupt, as the IIR reports it. */
static uint8_t serial_pending(const struct serial_state *st)
{
	if ((st->ier & IER_RLSI) && (st->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((st->ier & IER_RDI) && (st->lsr & LSR_DR))
		return IIR_RDI;
	if ((st->ier & IER_THRI) && st->thr_ipending)
		return IIR_THRI;
	if ((st->ier & IER_MSI) && (st->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Drives the IRQ line from the state; caller holds the lock. */
static void serial_update_irq(struct serial *s)
{
	int level = serial_pending(&s->st) != IIR_NO_INT;
	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static void rx_push(struct serial_state *st, uint8_t byte)
{
	if (st->rx_len == SERIAL_FIFO_LEN) {
		st->lsr |= LSR_OE;
		return;
	}
	st->rx_fifo[(st->rx_head + st->rx_len) % SERIAL_FIFO_LEN] = byte;
	st->rx_len++;
	st->lsr |= LSR_DR;
}

static uint8_t rx_pop(struct serial_state *st)
{
	uint8_t byte;

	if (st->rx_len == 0)
		return 0;
	byte = st->rx_fifo[st->rx_head];
	st->rx_head = (uint8_t)((st->rx_head + 1) % SERIAL_FIFO_LEN);
	st->rx_len--;
	if (st->rx_len == 0)
		st->lsr &= (uint8_t)~LSR_DR;
	return byte;
}

/* In loopback the modem inputs follow the modem outputs. */
static uint8_t loopback_msr(uint8_t mcr)
{
	uint8_t msr = 0;
	if (mcr & MCR_RTS)
		msr |= MSR_CTS;
	if (mcr & MCR_DTR)
		msr |= MSR_DSR;
	if (mcr & MCR_OUT1)
		msr |= MSR_RI;
	if (mcr & MCR_OUT2)
		msr |= MSR_DCD;
	return msr;
}

static void serial_transmit(struct serial *s, uint8_t byte)
{
	if (s->st.mcr & MCR_LOOP) {
		rx_push(&s->st, byte);
	} else if (s->sink.write) {
		s->sink.write(s->sink.opaque, &byte, 1);
	}
	/* The byte left at once: the holding register is empty again. */
	s->st.thr_ipending = 1;
	s->st.lsr |= LSR_THRE | LSR_TEMT;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	struct serial_state *st = &s->st;
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR:
		if (st->lcr & LCR_DLAB)
			return st->dll;
		v = rx_pop(st);
		break;
	case UART_IER:
		return (st->lcr & LCR_DLAB) ? st->dlm : st->ier;
	case UART_IIR:
		v = serial_pending(st);
		if (v == IIR_THRI)
			st->thr_ipending = 0; /* reading the IIR acknowledges THRE */
		if (st->fcr & FCR_ENABLE)
			v |= IIR_FIFO;
		break;
	case UART_LCR:
		return st->lcr;
	case UART_MCR:
		return st->mcr;
	case UART_LSR:
		v = st->lsr;
		st->lsr &= (uint8_t)~(LSR_OE | LSR_BI); /* error bits clear on read */
		break;
	case UART_MSR:
		v = st->msr;
		st->msr &= (uint8_t)~MSR_DELTAS;
		break;
	case UART_SCR:
		return st->scr;
	}
	serial_update_irq(s);
	return v;
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	struct serial_state *st = &s->st;

	switch (reg) {
	case UART_RBR:
		if (st->lcr & LCR_DLAB) {
			st->dll = v;
			return;
		}
		st->thr_ipending = 0;
		serial_transmit(s, v);
		break;
	case UART_IER:
		if (st->lcr & LCR_DLAB) {
			st->dlm = v;
			return;
		}
		/* Enabling THRE interrupts with the holding register empty raises one. */
		if (!(st->ier & IER_THRI) && (v & IER_THRI) && (st->lsr & LSR_THRE))
			st->thr_ipending = 1;
		st->ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		if (v & FCR_CLEAR_RX) {
			st->rx_head = st->rx_len = 0;
			st->lsr &= (uint8_t)~LSR_DR;
		}
		st->fcr = v & (FCR_ENABLE | 0xc0);
		break;
	case UART_LCR:
		st->lcr = v;
		return;
	case UART_MCR: {
		uint8_t old_msr = st->msr;
		st->mcr = v & 0x1f;
		if (st->mcr & MCR_LOOP) {
			uint8_t msr = loopback_msr(st->mcr);
			uint8_t changed = (uint8_t)(msr ^ (old_msr & 0xf0));
			st->msr = (uint8_t)(msr | (old_msr & MSR_DELTAS));
			if (changed & MSR_CTS)
				st->msr |= MSR_DCTS;
			if (changed & MSR_DSR)
				st->msr |= MSR_DDSR;
			if (changed & MSR_DCD)
				st->msr |= MSR_DDCD;
			if ((old_msr & MSR_RI) && !(msr & MSR_RI))
				st->msr |= MSR_TERI;
		} else {
			st->msr = (uint8_t)(MSR_DCD | MSR_DSR | MSR_CTS | (old_msr & MSR_DELTAS));
		}
		break;
	}
	case UART_LSR:
	case UART_MSR:
		return; /* read-only */
	case UART_SCR:
		st->scr = v;
		return;
	}
	serial_update_irq(s);
}

static void serial_bus_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct serial *s = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&s->lock);
	out[0] = serial_read_reg(s, (unsigned int)offset);
	pthread_mutex_unlock(&s->lock);
	memset(out + 1, 0, size - 1);
}

static void serial_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct serial *s = opaque;
	(void)size; /* wider writes: the low byte goes to the register, as on an ISA bus */

	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, (unsigned int)offset, *(const uint8_t *)data);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

static void serial_reset_state(struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	st->lsr = LSR_THRE | LSR_TEMT;
	st->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	st->dll = 0x0c; /* 9600 baud */
}

static void fd_sink_write(void *opaque, const uint8_t *buf, size_t len)
{
	int fd = (int)(intptr_t)opaque;
	ssize_t n;

	do {
		n = write(fd, buf, len);
	} while (n < 0 && errno == EINTR);
}

struct serial_sink serial_sink_fd(int fd)
{
	return (struct serial_sink){ fd >= 0 ? fd_sink_write : NULL, (void *)(intptr_t)fd };
}

int serial_create(struct irq_line irq, struct serial_sink sink, struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	serial_reset_state(&s->st);
	s->irq = irq;
	s->sink = sink;
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->st.rx_len < SERIAL_FIFO_LEN && !(s->st.mcr & MCR_LOOP))
		rx_push(&s->st, buf[n++]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t space;

	pthread_mutex_lock(&s->lock);
	space = SERIAL_FIFO_LEN - s->st.rx_len;
	pthread_mutex_unlock(&s->lock);
	return space;
}

void serial_save(struct serial *s, struct serial_state *state)
{
	pthread_mutex_lock(&s->lock);
	*state = s->st;
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *state)
{
	if (state->rx_head >= SERIAL_FIFO_LEN || state->rx_len > SERIAL_FIFO_LEN ||
	    (state->ier & 0xf0) || (state->mcr & 0xe0))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->st = *state;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
