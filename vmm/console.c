// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "exit_status.h"
#include "vireo/log.h"

#define CTRL_A 0x01

struct console {
	struct input_feed feed;
	struct vm *vm;
	bool is_tty, escape;
	struct termios saved;
};

/* On a terminal, ctrl-a x stops the VM and ctrl-a ctrl-a sends one ctrl-a. */
static size_t console_filter(struct input_feed *f, const uint8_t *in, size_t len, uint8_t *out)
{
	struct console *c = f->opaque;
	size_t n = 0;

	if (!c->is_tty) {
		for (size_t i = 0; i < len; i++)
			out[n++] = in[i];
		return n;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t b = in[i];
		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				vm_request_stop(c->vm, VMM_EXIT_OK, "stopped from the console (ctrl-a x)");
				input_feed_stop(f);
				f->closed = true;
				return n;
			}
			if (b != CTRL_A)
				continue;
		} else if (b == CTRL_A) {
			c->escape = true;
			continue;
		}
		out[n++] = b;
	}
	return n;
}

void console_tick(struct console *c)
{
	if (c)
		input_feed_tick(&c->feed);
}

int console_create(struct event_loop *loop, struct vm *vm, int in_fd, struct console_sink sink,
		   struct console **out)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->is_tty = isatty(in_fd);
	if (c->is_tty && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(in_fd, TCSANOW, &raw);
		log_info("console: the guest's serial port is on this terminal; ctrl-a x quits");
	} else {
		c->is_tty = false;
	}
	c->feed.filter = console_filter;
	c->feed.opaque = c;
	input_feed_start(&c->feed, loop, in_fd, sink);
	*out = c;
	return 0;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	input_feed_stop(&c->feed);
	if (c->is_tty)
		tcsetattr(c->feed.src.fd, TCSANOW, &c->saved);
	free(c);
}
