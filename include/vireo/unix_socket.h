/* SPDX-License-Identifier: Apache-2.0 */
/* Listening unix stream sockets that can be removed again from a sandbox. */
#ifndef VIREO_UNIX_SOCKET_H
#define VIREO_UNIX_SOCKET_H

struct unix_listener {
	int fd;     /* listening, non-blocking, close-on-exec */
	int dir_fd; /* O_PATH fd of the socket's directory, -1 if unavailable */
	char *path;
};

/*
 * Creates a socket at PATH (replacing a stale one) with mode 0600, listening
 * with BACKLOG. The directory fd lets unix_listener_close() remove the file
 * even after chroot. Returns 0 or -errno (logged).
 */
int unix_listener_open(struct unix_listener *l, const char *path, int backlog);
/* Closes the socket and removes its file. */
void unix_listener_close(struct unix_listener *l);

#endif
