/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's control socket: a unix stream socket speaking the line protocol
 * of api_request.h, served on the main thread's event loop. At most
 * API_MAX_CLIENTS connections at once; a client that sends a line longer
 * than API_MAX_LINE gets an error and is disconnected.
 */
#ifndef VMM_API_H
#define VMM_API_H

#include "vireo/event_loop.h"
#include "vm.h"

#define API_MAX_CLIENTS 16

struct api_server;

/* Creates the socket at PATH (replacing a stale one), mode 0600. */
int api_server_create(struct event_loop *loop, const char *path, struct vm *vm,
		      struct api_server **out);
/* Closes every connection and removes the socket file. */
void api_server_destroy(struct api_server *srv);

#endif
