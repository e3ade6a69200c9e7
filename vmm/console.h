/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of the guest's console when it is on stdio: keys typed on
 * stdin go to the guest, through a sink: COM1's UART, or the virtio-console
 * (hvc0) when that is on stdio. On a terminal, stdin is put in raw mode
 * (restored at exit) and ctrl-a x stops the VM; ctrl-a ctrl-a sends ctrl-a.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include "input_feed.h"
#include "vireo/event_loop.h"
#include "vm.h"

struct console;

int console_create(struct event_loop *loop, struct vm *vm, int in_fd, struct console_sink sink,
		   struct console **out);
void console_destroy(struct console *c);
/* Called every few milliseconds: resumes reading once the guest made room. */
void console_tick(struct console *c);

#endif
