/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * State of the socket vchan backend, shared by its two files:
 *   vchan-socket.c     the connection: naming, listen/accept, connect
 *                      retries, the phases, close;
 *   vchan-socket-io.c  the bytes: rings <-> socket, read/write/send/recv,
 *                      and the epoll registration that follows the rings.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vchan-internal.h"
#include "vchan-ring.h"

enum socket_phase {
        PHASE_LISTENING,        /* server, no client yet */
        PHASE_CONNECTING,       /* client, no server yet */
        PHASE_CONNECTED,
};

struct vchan_socket {
        struct vchan base;
        enum socket_phase phase;
        bool blocking;
        bool peer_eof;          /* recv() returned 0: nothing more will come */
        bool peer_gone;         /* send() failed: the peer can take nothing more */
        bool socket_full;       /* the last send() came back short */
        int epoll_fd;
        int listen_fd;
        int retry_timer_fd;
        int dir_watch_fd;
        int sock_fd;            /* blocking; see vchan-socket-io.c */
        uint32_t sock_events;   /* sock_fd's events in epoll_fd; 0 = not registered */
        int retry_msec;
        unsigned fast_retries;          /* attempts made at RETRY_MIN_MSEC */
        struct sockaddr_un address;
        struct vchan_ring rx, tx;
};

static inline struct vchan_socket *to_socket(struct vchan *v) {
        return (struct vchan_socket *) v;
}

/* vchan-socket.c */
int vchan_socket_process(struct vchan_socket *s);       /* what vchan_wait() does once woken */

/* vchan-socket-io.c */
int vchan_socket_update_interest(struct vchan_socket *s);
ssize_t vchan_socket_pull(struct vchan_socket *s, bool block);
int vchan_socket_push(struct vchan_socket *s);
int vchan_socket_exchange(struct vchan_socket *s);
int vchan_socket_wait_for_event(struct vchan_socket *s);
void vchan_socket_flush(struct vchan_socket *s);
ssize_t vchan_socket_read(struct vchan *v, void *buf, size_t n, bool all);
ssize_t vchan_socket_write(struct vchan *v, const void *buf, size_t n, bool all);
size_t vchan_socket_data_ready(struct vchan *v);
size_t vchan_socket_buffer_space(struct vchan *v);

/* Bind the UNIX stream socket fd under a temporary name in the directory of
 * `path`, listen, make the file mode 0666, then rename() it to `path`: the
 * name never exists without a listening socket behind it (a client never
 * gets ECONNREFUSED from a server still setting up) and a stale file there
 * is replaced atomically.  Also used by qrexec-agent's trigger socket. */
int vchan_socket_publish(int fd, const struct sockaddr_un *path, int backlog);

/* A blocking, close-on-exec UNIX stream socket connected to `path` (a
 * socket service, the agent's trigger socket): the fd or -errno. */
int vchan_socket_connect_path(const char *path);
