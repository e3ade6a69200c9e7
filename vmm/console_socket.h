/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's serial console on a unix socket (`--serial unix:PATH`), for the
 * host agent's console proxy: every client gets the last 64 KiB the guest
 * printed, then the live output; what any client writes goes to the guest's
 * UART. A client that does not keep up loses output (counted), never stalls
 * the guest. At most CONSOLE_SOCKET_MAX_CLIENTS clients at once.
 */
#ifndef VMM_CONSOLE_SOCKET_H
#define VMM_CONSOLE_SOCKET_H

#include "hw/serial.h"
#include "input_feed.h"
#include "vireo/event_loop.h"

#define CONSOLE_SOCKET_SCROLLBACK (64 * 1024)
#define CONSOLE_SOCKET_MAX_CLIENTS 8

struct console_socket;

/* Listens at PATH (replacing a stale socket), mode 0600. */
int console_socket_create(struct event_loop *loop, const char *path, struct console_socket **out);
/* The sink the UART writes to. */
struct serial_sink console_socket_sink(struct console_socket *cs);
/* Starts accepting clients once the guest's end exists; their input goes to SINK. */
int console_socket_attach(struct console_socket *cs, struct console_sink sink);
void console_socket_tick(struct console_socket *cs);
void console_socket_destroy(struct console_socket *cs);

#endif
