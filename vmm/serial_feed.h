/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bytes from one host-side source (a terminal, a console socket) on their
 * way into the guest's UART. While the UART's receive FIFO is full the
 * source is not read; serial_feed_tick() (called every few ms) retries, so
 * a guest that does not read its serial port never loses typed input and
 * never makes the VMM buffer without bound.
 */
#ifndef VMM_SERIAL_FEED_H
#define VMM_SERIAL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/event_loop.h"

struct serial;

struct serial_feed {
	struct event_source src;
	struct event_loop *loop;
	struct serial *serial;
	bool watching, closed;
	uint8_t pending[256];
	size_t pending_len, pending_off;
	/*
	 * Optional: turns LEN bytes read into what goes to the guest (at most
	 * LEN bytes, written to OUT); returns how many. May stop the feed.
	 */
	size_t (*filter)(struct serial_feed *f, const uint8_t *in, size_t len, uint8_t *out);
	/* Called once the source reached its end or failed (may free F). */
	void (*on_close)(struct serial_feed *f);
	void *opaque;
};

/* Starts reading FD (not owned) into SERIAL. A source that cannot be polled
 * (/dev/null, a regular file) is treated as closed at once. */
void serial_feed_start(struct serial_feed *f, struct event_loop *loop, int fd,
		       struct serial *serial);
void serial_feed_tick(struct serial_feed *f);
/* Stops reading (idempotent). */
void serial_feed_stop(struct serial_feed *f);

#endif
