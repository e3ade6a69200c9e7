// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vireo/event_loop.h"
#include "vireo/util.h"

#define EVENTS_PER_ROUND 32

struct event_loop {
	int epfd;
	bool quit;
	/* Sources reported in the round being dispatched, to skip removed ones. */
	struct epoll_event round[EVENTS_PER_ROUND];
	int round_len;
};

int event_loop_create(struct event_loop **out)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;
		free(loop);
		return err;
	}
	*out = loop;
	return 0;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

int event_loop_del(struct event_loop *loop, struct event_source *src)
{
	int ret = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL) < 0 ? -errno : 0;

	/* Forget it in the current round so a freed source is never called. */
	for (int i = 0; i < loop->round_len; i++)
		if (loop->round[i].data.ptr == src)
			loop->round[i].data.ptr = NULL;
	return ret;
}

void event_loop_quit(struct event_loop *loop)
{
	loop->quit = true;
}

int event_loop_run(struct event_loop *loop, int tick_ms, void (*tick)(void *opaque),
		   void *tick_opaque)
{
	uint64_t next_tick = tick ? time_now_ns() + (uint64_t)tick_ms * 1000000 : 0;

	loop->quit = false;
	while (!loop->quit) {
		int timeout = -1;
		if (tick) {
			uint64_t now = time_now_ns();
			timeout = next_tick > now ? (int)((next_tick - now + 999999) / 1000000) : 0;
		}
		int n = epoll_wait(loop->epfd, loop->round, EVENTS_PER_ROUND, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop->round_len = n;
		for (int i = 0; i < n && !loop->quit; i++) {
			struct event_source *src = loop->round[i].data.ptr;
			if (src)
				src->callback(src, loop->round[i].events);
		}
		loop->round_len = 0;
		if (tick && time_now_ns() >= next_tick) {
			tick(tick_opaque);
			next_tick = time_now_ns() + (uint64_t)tick_ms * 1000000;
		}
	}
	return 0;
}
