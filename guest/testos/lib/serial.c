// SPDX-License-Identifier: Apache-2.0
/*
 * The console: an 8250/16550 UART at COM1 (0x3f8), written by polling the
 * line status register. Every port access is a VM exit, so with a 16550
 * FIFO we write up to 16 bytes per "transmitter empty" poll.
 */
#include "io.h"
#include "testos.h"

#define COM1		0x3f8
#define UART_THR	0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_FCR	2
#define UART_IIR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define POLL_LIMIT	1000000	/* give up waiting on a UART that never drains */

static unsigned int serial_burst = 1;

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80);	/* DLAB: divisor 1 = 115200 baud */
	outb(COM1 + UART_DLL, 0x01);
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);	/* 8N1 */
	outb(COM1 + UART_FCR, 0x07);	/* enable and clear the FIFOs */
	serial_burst = (inb(COM1 + UART_IIR) & 0xc0) == 0xc0 ? 16 : 1;
	outb(COM1 + UART_MCR, 0x03);	/* DTR RTS, no interrupts (OUT2 off) */
}

void serial_write(const char *s, size_t len)
{
	while (len > 0) {
		unsigned int n;

		for (n = 0; n < POLL_LIMIT; n++) {
			if (inb(COM1 + UART_LSR) & LSR_THRE)
				break;
			cpu_relax();
		}
		for (n = 0; n < serial_burst && len > 0; n++, len--)
			outb(COM1 + UART_THR, (uint8_t)*s++);
	}
}

int serial_read_byte(void)
{
	if (!(inb(COM1 + UART_LSR) & LSR_DR))
		return -1;
	return inb(COM1 + UART_THR);
}
