// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "exit_status.h"
#include "vireo/log.h"

#define CTRL_A 0x01

struct console {
	struct event_source src;
	struct event_loop *loop;
	struct vm *vm;
	struct console_sink sink;
	bool is_tty, watching, escape, eof;
	struct termios saved;
	uint8_t pending[64]; /* read from stdin, not yet taken by the UART */
	size_t pending_len, pending_off;
};

static void console_watch(struct console *c, bool on)
{
	if (on == c->watching || c->eof)
		return;
	if (on && event_loop_add(c->loop, &c->src, EPOLLIN) < 0) {
		c->eof = true; /* not pollable (/dev/null, a regular file): no input */
		return;
	}
	if (!on)
		event_loop_del(c->loop, &c->src);
	c->watching = on;
}

/* Hands buffered input to the UART; returns true when all of it went. */
static bool console_flush(struct console *c)
{
	while (c->pending_off < c->pending_len) {
		size_t n = c->sink.receive(c->sink.opaque, c->pending + c->pending_off,
					   c->pending_len - c->pending_off);
		if (n == 0)
			return false;
		c->pending_off += n;
	}
	c->pending_off = c->pending_len = 0;
	return true;
}

static void console_readable(struct event_source *src, uint32_t events)
{
	struct console *c = src->opaque;
	uint8_t buf[64];
	ssize_t n;

	(void)events;
	n = read(c->src.fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		console_watch(c, false);
		c->eof = true;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t b = buf[i];
		if (c->is_tty && c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				vm_request_stop(c->vm, VMM_EXIT_OK, "stopped from the console (ctrl-a x)");
				return;
			}
			if (b != CTRL_A)
				continue;
		} else if (c->is_tty && b == CTRL_A) {
			c->escape = true;
			continue;
		}
		c->pending[c->pending_len++] = b;
	}
	if (!console_flush(c))
		console_watch(c, false); /* the guest is not reading: wait for room */
}

void console_tick(struct console *c)
{
	if (c && !c->watching && !c->eof && console_flush(c))
		console_watch(c, true);
}

int console_create(struct event_loop *loop, struct vm *vm, int in_fd, struct console_sink sink,
		   struct console **out)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->vm = vm;
	c->sink = sink;
	c->src = (struct event_source){ .fd = in_fd, .callback = console_readable, .opaque = c };
	c->is_tty = isatty(in_fd);
	if (c->is_tty && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(in_fd, TCSANOW, &raw);
		log_info("console: the guest's console is on this terminal; ctrl-a x quits");
	} else {
		c->is_tty = false;
	}
	console_watch(c, true);
	*out = c;
	return 0;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	console_watch(c, false);
	if (c->is_tty)
		tcsetattr(c->src.fd, TCSANOW, &c->saved);
	free(c);
}
