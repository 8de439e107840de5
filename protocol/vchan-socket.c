/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket vchan backend: a UNIX stream socket named as Qubes' socket
 * emulation names it (DIR/vchan.<server domid>.<client domid>.<port>.sock),
 * with libvchan's semantics on top and no thread.  This file sets up the
 * connection: the server binds a temporary name, listens, makes it mode
 * 0666 and renames it to the path, then accepts exactly one client (then
 * closes the listening socket; the file stays); the client
 * retries connect() while it gets ENOENT or ECONNREFUSED.
 *
 * The pollable fd is an epoll fd watching, depending on the phase:
 *   server waiting   the listening socket (a client to accept);
 *   client waiting   a retry timer (100 us for the first 100 ms, then
 *                    backing off): no inotify watch, because closing an
 *                    inotify fd waits for an SRCU grace period (~10 ms
 *                    measured here), which every connect would then pay;
 *   connected        the socket, as vchan-socket-io.c needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vchan-socket.h"

static int socket_address(const struct vchan_endpoint *ep, int server_domid, int client_domid,
                          struct sockaddr_un *ret) {
        int n;

        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        n = snprintf(ret->sun_path, sizeof(ret->sun_path), "%s/vchan.%d.%d.%d.sock",
                     ep->socket_dir, server_domid, client_domid, ep->port);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;
        return 0;
}

static void socket_close(struct vchan *v);

static int socket_new(size_t read_min, size_t write_min, struct vchan_socket **ret) {
        struct vchan_socket *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->listen_fd = -1;
        r = vchan_stream_init(&s->stream, &vchan_socket_ops, &vchan_socket_stream_ops);
        if (r >= 0)
                r = vchan_stream_alloc_rings(&s->stream, read_min, write_min);
        if (r < 0) {
                socket_close(&s->stream.base);
                return r;
        }
        *ret = s;
        return 0;
}

static void raise_buffer(int fd, int option, size_t ring_size) {
        int current = 0, wanted = (int) ring_size;
        socklen_t len = sizeof(current);

        /* getsockopt() reports the doubled value setsockopt() stores. */
        if (getsockopt(fd, SOL_SOCKET, option, &current, &len) == 0 && current / 2 >= wanted)
                return;
        (void) setsockopt(fd, SOL_SOCKET, option, &wanted, sizeof(wanted));
}

static void become_connected(struct vchan_socket *s, int fd) {
        vchan_stream_epoll_forget(&s->stream, &s->listen_fd);
        vchan_stream_epoll_forget(&s->stream, &s->stream.retry_timer_fd);
        s->stream.fd = fd;
        s->stream.fd_events = 0;
        s->phase = PHASE_CONNECTED;
        s->stream.connected = true;

        /* Socket buffers of at least a ring's worth, so large rings keep the
         * socket busy; never below the system default, which the raw-socket
         * throughput depends on.  The kernel doubles and clamps the values. */
        raise_buffer(fd, SO_SNDBUF, s->stream.tx.size);
        raise_buffer(fd, SO_RCVBUF, s->stream.rx.size);
}

/* 1: a client was accepted; 0: none yet. */
static int accept_client(struct vchan_socket *s) {
        int fd;

        fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                        return 0;
                return -errno;
        }
        /* Exactly one client: the listening socket goes, its file stays. */
        become_connected(s, fd);
        return 1;
}

/* 0: connected; 1: no server yet (ENOENT: no file; ECONNREFUSED: nobody
 * listening on it; EAGAIN: its one-slot backlog is taken). */
static int try_connect(struct vchan_socket *s) {
        _cleanup_close_ int fd = -1;
        int r;

        r = vchan_stream_try_connect(&s->address, &fd);
        if (r != 0)
                return r;
        /* Non-blocking only for connect(): see vchan-socket-io.c. */
        if (fcntl(fd, F_SETFL, 0) < 0)
                return -errno;
        become_connected(s, TAKE_FD(fd));
        return 0;
}

static int socket_client_init_finish(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);
        int r;

        if (s->phase == PHASE_CONNECTED)
                return 0;
        if (s->phase != PHASE_CONNECTING)
                return -EINVAL;

        (void) vchan_stream_drain(s->stream.retry_timer_fd);

        r = try_connect(s);
        if (r < 0)
                return r;
        if (r == 0)
                return vchan_stream_exchange(&s->stream);  /* bytes written while connecting go out now */

        r = vchan_stream_retry_later(&s->stream);
        return r < 0 ? r : 1;
}

int vchan_socket_publish(int fd, const struct sockaddr_un *final, int backlog) {
        struct sockaddr_un tmp = *final;
        const char *slash = strrchr(final->sun_path, '/');
        size_t dir_len = slash ? (size_t) (slash - final->sun_path) + 1 : 0;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                uint32_t random_id;

                if (getrandom(&random_id, sizeof(random_id), 0) != (ssize_t) sizeof(random_id))
                        return -errno;
                /* ".vs" + 8 hex digits: shorter than any final "vchan.S.C.P.sock". */
                snprintf(tmp.sun_path + dir_len, sizeof(tmp.sun_path) - dir_len, ".vs%08x", random_id);
                if (bind(fd, (const struct sockaddr *) &tmp, sizeof(tmp)) >= 0)
                        break;
                if (errno != EADDRINUSE || attempt >= 16)
                        return -errno;
        }
        if (listen(fd, backlog) < 0 || chmod(tmp.sun_path, 0666) < 0 || rename(tmp.sun_path, final->sun_path) < 0) {
                r = -errno;
                (void) unlink(tmp.sun_path);
                return r;
        }
        return 0;
}

int vchan_socket_connect_path(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int socket_server_init(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                              struct vchan **ret) {
        struct vchan_socket *s = NULL;
        int r;

        r = socket_new(read_min, write_min, &s);
        if (r < 0)
                return r;
        r = socket_address(ep, ep->local_domid, ep->remote_domid, &s->address);
        if (r < 0)
                goto fail;

        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->listen_fd < 0) {
                r = -errno;
                goto fail;
        }
        /* Mode 0666: the peer domain's uid differs; the directory is what
         * guards access. */
        r = vchan_socket_publish(s->listen_fd, &s->address, 1);
        if (r < 0)
                goto fail;
        r = vchan_stream_epoll_add(&s->stream, s->listen_fd, EPOLLIN);
        if (r < 0)
                goto fail;

        s->phase = PHASE_LISTENING;
        *ret = &s->stream.base;
        return 0;

fail:
        socket_close(&s->stream.base);
        return r;
}

/* Only the listening socket is taken over: its address is whatever its
 * creator bound, and nothing here needs it (a server never connects). */
int vchan_server_adopt(int listen_fd, size_t read_min, size_t write_min, struct vchan **ret) {
        struct vchan_socket *s = NULL;
        int domain = 0, type = 0, listening = 0, flags, r;
        socklen_t len;

        if (listen_fd < 0 || !ret || read_min > VCHAN_RING_MAX || write_min > VCHAN_RING_MAX)
                return -EINVAL;
        len = sizeof(domain);
        if (getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
                return -errno;
        len = sizeof(type);
        if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return -errno;
        len = sizeof(listening);
        if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
                return -errno;
        if (domain != AF_UNIX || type != SOCK_STREAM || !listening)
                return -EINVAL;

        /* accept_client() relies on a non-blocking socket: a client that
         * gave up between the wake-up and accept() must not hang us. */
        flags = fcntl(listen_fd, F_GETFL);
        if (flags < 0)
                return -errno;
        if (!(flags & O_NONBLOCK) && fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        if (fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;

        r = socket_new(read_min, write_min, &s);
        if (r < 0)
                return r;
        r = vchan_stream_epoll_add(&s->stream, listen_fd, EPOLLIN);
        if (r < 0) {
                socket_close(&s->stream.base);
                return r;
        }
        s->listen_fd = listen_fd;
        s->phase = PHASE_LISTENING;
        *ret = &s->stream.base;
        return 0;
}

static int socket_client_init_async(const struct vchan_endpoint *ep, struct vchan **ret) {
        struct vchan_socket *s = NULL;
        int r;

        r = socket_new(0, 0, &s);
        if (r < 0)
                return r;
        r = socket_address(ep, ep->remote_domid, ep->local_domid, &s->address);
        if (r < 0)
                goto fail;
        s->phase = PHASE_CONNECTING;

        r = vchan_stream_add_retry_timer(&s->stream);
        if (r < 0)
                goto fail;
        r = vchan_stream_arm_retry_timer(&s->stream, 0);        /* readable at once: the first attempt */
        if (r < 0)
                goto fail;

        *ret = &s->stream.base;
        return 0;

fail:
        socket_close(&s->stream.base);
        return r;
}

int vchan_socket_process(struct vchan_socket *s) {
        int r;

        switch (s->phase) {
        case PHASE_LISTENING:
                r = accept_client(s);
                if (r <= 0)
                        return r;
                break;
        case PHASE_CONNECTING:
                r = socket_client_init_finish(&s->stream.base);
                return r < 0 ? r : 0;
        case PHASE_CONNECTED:
                break;
        }
        return vchan_stream_exchange(&s->stream);
}

static int socket_wait(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);
        int r;

        if (s->stream.blocking) {
                r = vchan_stream_wait_for_event(&s->stream);
                if (r < 0)
                        return r;
        }
        return vchan_socket_process(s);
}

static enum vchan_state socket_is_open(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);

        /* A failed send means the peer closed; look for its EOF (or the
         * bytes it sent before) so the answer does not lag behind.  Until
         * connected: waiting, also a client still looking for its server. */
        if (s->phase == PHASE_CONNECTED && s->stream.peer_gone && !s->stream.peer_eof &&
            vchan_ring_used(&s->stream.rx) == 0) {
                (void) vchan_socket_pull(s, false);
                (void) vchan_stream_update_interest(&s->stream);
        }
        return vchan_stream_state(&s->stream);
}

static void socket_close(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);

        vchan_stream_release(&s->stream);
        vchan_stream_close_fd(&s->listen_fd);
        free(s);
}

const struct vchan_ops vchan_socket_ops = {
        .server_init = socket_server_init,
        .client_init_async = socket_client_init_async,
        .client_init_finish = socket_client_init_finish,
        .write = vchan_stream_write,
        .read = vchan_stream_read,
        .data_ready = vchan_stream_data_ready,
        .buffer_space = vchan_stream_buffer_space,
        .fd_for_select = vchan_stream_fd_for_select,
        .wait = socket_wait,
        .is_open = socket_is_open,
        .set_blocking = vchan_stream_set_blocking,
        .close = socket_close,
};