// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vireo/log.h"
#include "vireo/unix_socket.h"

int unix_listener_open(struct unix_listener *l, const char *path, int backlog)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int ret;

	l->fd = l->dir_fd = -1;
	l->path = NULL;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	l->path = strdup(path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!l->path || l->fd < 0) {
		ret = l->path ? -errno : -ENOMEM;
		goto fail;
	}
	unlink(path); /* a socket left behind by a process that is gone */
	mode_t old = umask(0177);
	ret = bind(l->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	umask(old);
	if (ret == 0 && listen(l->fd, backlog) < 0)
		ret = -errno;
	if (ret < 0)
		goto fail;
	char *slash = strrchr(l->path, '/');
	if (slash && slash != l->path) {
		*slash = '\0';
		l->dir_fd = open(l->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	} else {
		l->dir_fd = open(slash ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	return 0;
fail:
	log_error_errno(ret, "socket %s", path);
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	l->fd = -1;
	l->path = NULL;
	return ret;
}

void unix_listener_close(struct unix_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->dir_fd >= 0 && l->path) {
		const char *base = strrchr(l->path, '/');
		if (unlinkat(l->dir_fd, base ? base + 1 : l->path, 0) < 0)
			log_verbose("cannot remove %s (it is left for its directory's owner)", l->path);
	}
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	free(l->path);
	l->fd = l->dir_fd = -1;
	l->path = NULL;
}
