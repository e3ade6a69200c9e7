// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hw/serial.h"
#include "serial_feed.h"

static void feed_watch(struct serial_feed *f, bool on)
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
static bool feed_flush(struct serial_feed *f)
{
	while (f->pending_off < f->pending_len) {
		size_t n = serial_receive(f->serial, f->pending + f->pending_off,
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
	struct serial_feed *f = src->opaque;
	uint8_t buf[sizeof(f->pending)];
	ssize_t n;

	(void)events;
	n = read(f->src.fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		serial_feed_stop(f);
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

void serial_feed_start(struct serial_feed *f, struct event_loop *loop, int fd,
		       struct serial *serial)
{
	f->src = (struct event_source){ .fd = fd, .callback = feed_readable, .opaque = f };
	f->loop = loop;
	f->serial = serial;
	f->watching = f->closed = false;
	f->pending_len = f->pending_off = 0;
	feed_watch(f, true);
}

void serial_feed_tick(struct serial_feed *f)
{
	if (!f->watching && !f->closed && feed_flush(f))
		feed_watch(f, true);
}

void serial_feed_stop(struct serial_feed *f)
{
	feed_watch(f, false);
}
