// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "iothread.h"
#include "sandbox.h"
#include "vireo/log.h"

struct iothread {
	struct event_loop *loop;
	struct event_source stop_src;
	pthread_t thread;
	bool running;
	char name[16];
};

static void on_stop(struct event_source *src, uint32_t events)
{
	struct iothread *t = src->opaque;
	(void)events;
	event_loop_quit(t->loop);
}

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	int ret;

	pthread_setname_np(pthread_self(), t->name);
	if (sandbox_apply(SANDBOX_IO) < 0)
		return NULL; /* the VMM is not starting after all */
	ret = event_loop_run(t->loop, 0, NULL, NULL);
	if (ret < 0)
		log_error_errno(ret, "I/O thread %s: event loop failed", t->name);
	return NULL;
}

int iothread_create(const char *name, struct iothread **out)
{
	struct iothread *t = calloc(1, sizeof(*t));
	sigset_t all, old;
	int ret;

	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->stop_src = (struct event_source){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
					     .callback = on_stop, .opaque = t };
	if (t->stop_src.fd < 0) {
		ret = -errno;
		free(t);
		return ret;
	}
	ret = event_loop_create(&t->loop);
	if (ret == 0)
		ret = event_loop_add(t->loop, &t->stop_src, EPOLLIN);
	if (ret < 0)
		goto fail;
	/* Signals are for the main thread and the vCPU kicks: block them all here,
	 * but SIGSYS, which reports a sandbox violation (blocked, it would kill). */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&t->thread, NULL, iothread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		goto fail;
	t->running = true;
	*out = t;
	return 0;
fail:
	log_error_errno(ret, "cannot start I/O thread %s", name);
	event_loop_destroy(t->loop);
	close(t->stop_src.fd);
	free(t);
	return ret;
}

void iothread_stop(struct iothread *t)
{
	uint64_t one = 1;

	if (!t || !t->running)
		return;
	if (write(t->stop_src.fd, &one, sizeof(one)) != sizeof(one))
		log_warn_errno(errno, "stopping I/O thread %s", t->name);
	pthread_join(t->thread, NULL);
	t->running = false;
}

void iothread_destroy(struct iothread *t)
{
	if (!t)
		return;
	iothread_stop(t);
	event_loop_destroy(t->loop);
	close(t->stop_src.fd);
	free(t);
}

int iothread_add(struct iothread *t, struct event_source *src, uint32_t events)
{
	return event_loop_add(t->loop, src, events);
}

struct event_loop *iothread_loop(struct iothread *t)
{
	return t->loop;
}
