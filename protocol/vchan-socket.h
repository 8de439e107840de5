/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * State of the socket vchan backend, shared by its two files:
 *   vchan-socket.c     the connection: naming, listen/accept, connect
 *                      retries, the phases, close;
 *   vchan-socket-io.c  the bytes: how the socket moves them for the rings,
 *                      read/write paths and epoll registration of
 *                      vchan-stream.c.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vchan-stream.h"

enum socket_phase {
        PHASE_LISTENING,        /* server, no client yet */
        PHASE_CONNECTING,       /* client, no server yet */
        PHASE_CONNECTED,
};

struct vchan_socket {
        struct vchan_stream stream;     /* first: its first member is the vchan */
        enum socket_phase phase;
        int listen_fd;
        struct sockaddr_un address;
};

static inline struct vchan_socket *to_socket(struct vchan *v) {
        return (struct vchan_socket *) v;
}

/* vchan-socket.c */
int vchan_socket_process(struct vchan_socket *s);       /* what vchan_wait() does once woken */

/* vchan-socket-io.c */
extern const struct vchan_stream_ops vchan_socket_stream_ops;
ssize_t vchan_socket_pull(struct vchan_socket *s, bool block);

/* Bind the UNIX stream socket fd under a temporary name in the directory of
 * `path`, listen, make the file mode 0666, then rename() it to `path`: the
 * name never exists without a listening socket behind it (a client never
 * gets ECONNREFUSED from a server still setting up) and a stale file there
 * is replaced atomically.  Also used by qrexec-agent's trigger socket. */
int vchan_socket_publish(int fd, const struct sockaddr_un *path, int backlog);

/* A blocking, close-on-exec UNIX stream socket connected to `path` (a
 * socket service, the agent's trigger socket): the fd or -errno. */
int vchan_socket_connect_path(const char *path);
