/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small epoll loop: file descriptors with callbacks, run on one thread.
 * Callbacks may add and remove sources (including their own) while running.
 */
#ifndef VIREO_EVENT_LOOP_H
#define VIREO_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_source;
typedef void event_callback(struct event_source *src, uint32_t events);

struct event_source {
	int fd;
	event_callback *callback;
	void *opaque;
};

struct event_loop;

int event_loop_create(struct event_loop **out);
void event_loop_destroy(struct event_loop *loop);

/* Watches SRC->fd for EVENTS (EPOLLIN, ...). SRC must outlive its registration. */
int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events);
int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events);
/* Stops watching; SRC may be freed after the current callback returns. */
int event_loop_del(struct event_loop *loop, struct event_source *src);

/* Runs callbacks until event_loop_quit(); TICK (if set) runs every TICK_MS. */
int event_loop_run(struct event_loop *loop, int tick_ms, void (*tick)(void *opaque),
		   void *tick_opaque);
void event_loop_quit(struct event_loop *loop);

#endif
