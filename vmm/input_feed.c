// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "input_feed.h"

static void feed_watch(struct input_feed *f, bool on)
{
	if (on == f->watching || f->closed)
		return;
	if (on && event_loop_add(f->loop, &f->src, EPOLLIN) < 0) {
		f->closed = true; /* not pollable: no input */
		return;
	}
	if (!on)
		event_loop_del(f->loop, &f->src);
	f->watching = on;
}

/* Hands buffered input to the UART; returns true when all of it went. */
static bool feed_flush(struct input_feed *f)
{
	while (f->pending_off < f->pending_len) {
		size_t n = f->sink.receive(f->sink.opaque, f->pending + f->pending_off,
					   f->pending_len - f->pending_off);
		if (n == 0)
			return false;
		f->pending_off += n;
	}
	f->pending_off = f->pending_len = 0;
	return true;
}

static void feed_readable(struct event_source *src, uint32_t events)
{
	struct input_feed *f = src->opaque;
	uint8_t buf[sizeof(f->pending)];
	ssize_t n;

	(void)events;
	n = read(f->src.fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		input_feed_stop(f);
		f->closed = true;
		if (f->on_close)
			f->on_close(f); /* may free f */
		return;
	}
	if (f->filter) {
		f->pending_len = f->filter(f, buf, (size_t)n, f->pending);
	} else {
		for (ssize_t i = 0; i < n; i++)
			f->pending[i] = buf[i];
		f->pending_len = (size_t)n;
	}
	f->pending_off = 0;
	if (!f->closed && !feed_flush(f))
		feed_watch(f, false); /* the guest is not reading: wait for room */
}

void input_feed_start(struct input_feed *f, struct event_loop *loop, int fd,
		      struct console_sink sink)
{
	f->src = (struct event_source){ .fd = fd, .callback = feed_readable, .opaque = f };
	f->loop = loop;
	f->sink = sink;
	f->watching = f->closed = false;
	f->pending_len = f->pending_off = 0;
	feed_watch(f, true);
}

void input_feed_tick(struct input_feed *f)
{
	if (!f->watching && !f->closed && feed_flush(f))
		feed_watch(f, true);
}

void input_feed_stop(struct input_feed *f)
{
	feed_watch(f, false);
}
