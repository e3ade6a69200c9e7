// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console_socket.h"
#include "vireo/log.h"
#include "vireo/unix_socket.h"

struct cs_client {
	struct input_feed feed; /* input towards the guest */
	struct console_socket *cs;
	int fd;
};

struct console_socket {
	struct unix_listener sock;
	struct event_source listener;
	struct event_loop *loop;
	struct console_sink sink;
	bool attached;
	/* Guarded by lock: vCPU threads write output while the main thread accepts. */
	pthread_mutex_t lock;
	uint8_t ring[CONSOLE_SOCKET_SCROLLBACK];
	size_t ring_start, ring_len;
	struct cs_client *clients[CONSOLE_SOCKET_MAX_CLIENTS];
	uint64_t dropped; /* bytes a slow client did not get */
};

static void send_all_nonblocking(struct console_socket *cs, int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			cs->dropped += len; /* slow or gone: the guest does not wait */
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void cs_sink_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console_socket *cs = opaque;

	pthread_mutex_lock(&cs->lock);
	for (size_t i = 0; i < len; i++) {
		size_t end = (cs->ring_start + cs->ring_len) % CONSOLE_SOCKET_SCROLLBACK;
		cs->ring[end] = buf[i];
		if (cs->ring_len < CONSOLE_SOCKET_SCROLLBACK)
			cs->ring_len++;
		else
			cs->ring_start = (cs->ring_start + 1) % CONSOLE_SOCKET_SCROLLBACK;
	}
	for (int i = 0; i < CONSOLE_SOCKET_MAX_CLIENTS; i++)
		if (cs->clients[i])
			send_all_nonblocking(cs, cs->clients[i]->fd, buf, len);
	pthread_mutex_unlock(&cs->lock);
}

struct serial_sink console_socket_sink(struct console_socket *cs)
{
	return (struct serial_sink){ cs_sink_write, cs };
}

static void client_free(struct cs_client *c)
{
	struct console_socket *cs = c->cs;

	pthread_mutex_lock(&cs->lock);
	for (int i = 0; i < CONSOLE_SOCKET_MAX_CLIENTS; i++)
		if (cs->clients[i] == c)
			cs->clients[i] = NULL;
	pthread_mutex_unlock(&cs->lock);
	input_feed_stop(&c->feed);
	close(c->fd);
	free(c);
}

static void client_closed(struct input_feed *f)
{
	client_free(f->opaque);
}

static void listener_readable(struct event_source *src, uint32_t events)
{
	struct console_socket *cs = src->opaque;
	struct cs_client *c;
	int fd, slot = -1;
	(void)events;

	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->cs = cs;
	c->fd = fd;
	pthread_mutex_lock(&cs->lock);
	for (int i = 0; i < CONSOLE_SOCKET_MAX_CLIENTS && slot < 0; i++)
		if (!cs->clients[i])
			slot = i;
	if (slot >= 0) {
		/* The scrollback first, in its two pieces, then live output. */
		size_t first = CONSOLE_SOCKET_SCROLLBACK - cs->ring_start;
		if (first > cs->ring_len)
			first = cs->ring_len;
		send_all_nonblocking(cs, fd, cs->ring + cs->ring_start, first);
		send_all_nonblocking(cs, fd, cs->ring, cs->ring_len - first);
		cs->clients[slot] = c;
	}
	pthread_mutex_unlock(&cs->lock);
	if (slot < 0) {
		log_warn("console: more than %d clients; refusing one", CONSOLE_SOCKET_MAX_CLIENTS);
		close(fd);
		free(c);
		return;
	}
	c->feed.on_close = client_closed;
	c->feed.opaque = c;
	input_feed_start(&c->feed, cs->loop, fd, cs->sink);
}

int console_socket_create(struct event_loop *loop, const char *path, struct console_socket **out)
{
	struct console_socket *cs = calloc(1, sizeof(*cs));
	int ret;

	if (!cs)
		return -ENOMEM;
	ret = unix_listener_open(&cs->sock, path, 2 * CONSOLE_SOCKET_MAX_CLIENTS);
	if (ret < 0) {
		free(cs);
		return ret;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->loop = loop;
	cs->listener = (struct event_source){ .fd = cs->sock.fd, .callback = listener_readable, .opaque = cs };
	*out = cs;
	return 0;
}

int console_socket_attach(struct console_socket *cs, struct console_sink sink)
{
	int ret;

	cs->sink = sink;
	ret = event_loop_add(cs->loop, &cs->listener, EPOLLIN);
	cs->attached = ret == 0;
	return ret;
}

void console_socket_tick(struct console_socket *cs)
{
	if (!cs)
		return;
	for (int i = 0; i < CONSOLE_SOCKET_MAX_CLIENTS; i++) {
		/* Only the main thread changes the table, and we are on it. */
		struct cs_client *c = cs->clients[i];
		if (c)
			input_feed_tick(&c->feed);
	}
}

void console_socket_destroy(struct console_socket *cs)
{
	if (!cs)
		return;
	for (int i = 0; i < CONSOLE_SOCKET_MAX_CLIENTS; i++)
		if (cs->clients[i])
			client_free(cs->clients[i]);
	if (cs->attached)
		event_loop_del(cs->loop, &cs->listener);
	unix_listener_close(&cs->sock);
	if (cs->dropped)
		log_verbose("console: %llu bytes of output were not delivered to slow clients",
			    (unsigned long long)cs->dropped);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}
