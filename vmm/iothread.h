/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An I/O thread: one thread running an event loop (lib/event_loop.c) for
 * device work, so that guest notifications (ioeventfds) and host I/O are
 * served without stopping a vCPU. The VM has one shared I/O thread for its
 * light devices; a device that needs its own (virtio-blk) creates another.
 *
 * Sources may be added from any thread at any time. They may be removed
 * only by callbacks running on the thread, or after iothread_stop().
 */
#ifndef VMM_IOTHREAD_H
#define VMM_IOTHREAD_H

#include <stdint.h>

#include "vireo/event_loop.h"

struct iothread;

/* Starts a thread called NAME (at most 15 characters are kept). */
int iothread_create(const char *name, struct iothread **out);
/* Stops the thread (after its current callback) and waits for it. Idempotent. */
void iothread_stop(struct iothread *t);
/* Stops it if needed and frees it. NULL is fine. */
void iothread_destroy(struct iothread *t);

/* Watches SRC->fd for EVENTS on the thread (see event_loop_add). */
int iothread_add(struct iothread *t, struct event_source *src, uint32_t events);
/* The loop, for callbacks running on the thread (to add or remove sources). */
struct event_loop *iothread_loop(struct iothread *t);

#endif
