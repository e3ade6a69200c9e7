/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bytes from one host-side source (a terminal, a console socket) on their
 * way into the guest (COM1's UART or hvc0). While the guest has no room the
 * source is not read; input_feed_tick() (called every few ms) retries, so a
 * guest that does not read its console never loses typed input and never
 * makes the VMM buffer without bound.
 */
#ifndef VMM_INPUT_FEED_H
#define VMM_INPUT_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/event_loop.h"

/* Where typed bytes go: RECEIVE takes up to LEN of them and returns how many
 * it took (0 while the guest has no room). */
struct console_sink {
	size_t (*receive)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

struct input_feed {
	struct event_source src;
	struct event_loop *loop;
	struct console_sink sink;
	bool watching, closed;
	uint8_t pending[256];
	size_t pending_len, pending_off;
	/*
	 * Optional: turns LEN bytes read into what goes to the guest (at most
	 * LEN bytes, written to OUT); returns how many. May stop the feed.
	 */
	size_t (*filter)(struct input_feed *f, const uint8_t *in, size_t len, uint8_t *out);
	/* Called once the source reached its end or failed (may free F). */
	void (*on_close)(struct input_feed *f);
	void *opaque;
};

/* Starts reading FD (not owned) into SINK. A source that cannot be polled
 * (/dev/null, a regular file) is treated as closed at once. */
void input_feed_start(struct input_feed *f, struct event_loop *loop, int fd,
		      struct console_sink sink);
void input_feed_tick(struct input_feed *f);
/* Stops reading (idempotent). */
void input_feed_stop(struct input_feed *f);

#endif
