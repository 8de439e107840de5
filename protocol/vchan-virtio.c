/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio vchan backend: one virtio-serial port per vchan port (naming
 * and the two sides in vchan-virtio.h).  Server and client differ only in
 * what "connected" waits for, since a port has no accept: both open their
 * end, retrying on a timer while it is not there (QEMU not started, the
 * port's device not created yet, or still held by a previous opener).
 *
 * The pollable fd is an epoll fd watching, depending on the phase:
 *   opening      the retry timer;
 *   waiting      the port device, edge-triggered: it reports POLLHUP until a
 *                host connects and wakes its waiters when one does;
 *   connected    the transport, as vchan-virtio-io.c needs it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"
#include "vchan-virtio.h"

#define VIRTIO_SYSFS_PORTS "/sys/class/virtio-ports"

/* Host: remote is the guest.  Guest: remote is the host (domid 0).  A
 * guest-to-guest channel has no port of its own: the host relays those. */
static int endpoint_side(const struct vchan_endpoint *ep, enum virtio_side *ret) {
        if (ep->remote_domid == 0)
                *ret = SIDE_GUEST;
        else if (ep->local_domid == 0)
                *ret = SIDE_HOST;
        else
                return -EOPNOTSUPP;
        return 0;
}

static int fill_paths(struct vchan_virtio *s, const struct vchan_endpoint *ep) {
        const char *dir;
        int n;

        if (s->side == SIDE_HOST) {
                if (strlen(ep->socket_dir) + 64 >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return -ENAMETOOLONG;
                n = snprintf(s->path, sizeof(s->path), "%s/virtio.%d.%d.sock", ep->socket_dir,
                             ep->remote_domid, ep->port);
                return n < 0 ? -EINVAL : 0;
        }

        n = snprintf(s->name, sizeof(s->name), VIRTIO_PORT_NAME_PREFIX "%d", ep->port);
        if (n < 0 || (size_t) n >= sizeof(s->name))
                return -EINVAL;
        dir = getenv("VCHAN_VIRTIO_DIR");
        s->path_is_explicit = dir && *dir;
        if (!s->path_is_explicit)
                dir = VIRTIO_GUEST_PORT_DIR;
        n = snprintf(s->path, sizeof(s->path), "%s/%s", dir, s->name);
        if (n < 0 || (size_t) n >= sizeof(s->path))
                return -ENAMETOOLONG;
        return 0;
}

static void virtio_close(struct vchan *v);

static int virtio_new(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                      struct vchan_virtio **ret) {
        struct vchan_virtio *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->phase = PHASE_OPENING;
        r = vchan_stream_init(&s->stream, &vchan_virtio_ops, &vchan_virtio_stream_ops);
        if (r < 0)
                goto fail;
        r = endpoint_side(ep, &s->side);
        if (r < 0)
                goto fail;
        r = fill_paths(s, ep);
        if (r < 0)
                goto fail;
        r = vchan_stream_alloc_rings(&s->stream, read_min, write_min);
        if (r < 0)
                goto fail;
        r = vchan_stream_add_retry_timer(&s->stream);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;

fail:
        virtio_close(&s->stream.base);
        return r;
}

/* 0: connected; 1: QEMU not serving the socket (yet). */
static int open_host(struct vchan_virtio *s) {
        struct sockaddr_un address = { .sun_family = AF_UNIX };

        memcpy(address.sun_path, s->path, strlen(s->path) + 1);        /* length checked */
        return vchan_stream_try_connect(&address, &s->stream.fd);
}

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* Without udev nobody makes /dev/virtio-ports/NAME: find the port whose
 * sysfs name matches and open its device node instead. */
static int open_by_sysfs_name(const char *name) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        d = opendir(VIRTIO_SYSFS_PORTS);
        if (!d)
                return -ENOENT;
        while ((de = readdir(d))) {
                char path[PATH_MAX], found[sizeof(((struct vchan_virtio *) NULL)->name) + 2];
                _cleanup_close_ int name_fd = -1;
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), VIRTIO_SYSFS_PORTS "/%s/name", de->d_name);
                name_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (name_fd < 0)
                        continue;
                n = read(name_fd, found, sizeof(found) - 1);
                if (n <= 0)
                        continue;
                found[n] = '\0';
                found[strcspn(found, "\n")] = '\0';
                if (strcmp(found, name) != 0)
                        continue;
                snprintf(path, sizeof(path), "/dev/%s", de->d_name);
                fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        return -ENOENT;
}

/* 0: the port is open; 1: not there yet, or held by another opener. */
static int open_guest(struct vchan_virtio *s) {
        int fd;

        fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !s->path_is_explicit) {
                fd = open_by_sysfs_name(s->name);
                if (fd < 0)
                        errno = -fd;
        }
        if (fd < 0) {
                if (errno == ENOENT || errno == EBUSY || errno == EINTR)
                        return 1;
                return -errno;
        }
        s->stream.fd = fd;
        return 0;
}

static int become_connected(struct vchan_virtio *s) {
        struct vchan_stream *st = &s->stream;

        if (st->fd_events != 0 && epoll_ctl(st->epoll_fd, EPOLL_CTL_DEL, st->fd, NULL) < 0)
                return -errno;
        st->fd_events = 0;
        s->phase = PHASE_CONNECTED;
        st->connected = true;
        return vchan_virtio_exchange(s);      /* bytes written meanwhile go out now */
}

/* Guest, port open: has a host connected? */
static int check_waiting(struct vchan_virtio *s) {
        struct pollfd pfd = { .fd = s->stream.fd, .events = POLLIN | POLLOUT };

        if (poll(&pfd, 1, 0) < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd.revents & POLLNVAL)
                return -EBADF;
        if (pfd.revents & (POLLHUP | POLLERR))
                return 0;
        return become_connected(s);
}

static int try_open(struct vchan_virtio *s) {
        const uint32_t waiting_events = EPOLLIN | EPOLLOUT | EPOLLET;
        int r;

        (void) vchan_stream_drain(s->stream.retry_timer_fd);
        r = s->side == SIDE_HOST ? open_host(s) : open_guest(s);
        if (r < 0)
                return r;
        if (r > 0)
                return vchan_stream_retry_later(&s->stream);

        (void) epoll_ctl(s->stream.epoll_fd, EPOLL_CTL_DEL, s->stream.retry_timer_fd, NULL);
        if (s->side == SIDE_HOST)
                return become_connected(s);

        /* Edge-triggered: a port without host is always POLLHUP; the
         * wake-up that matters is the host's arrival. */
        r = vchan_stream_epoll_add(&s->stream, s->stream.fd, waiting_events);
        if (r < 0)
                return r;
        s->stream.fd_events = waiting_events;
        s->phase = PHASE_WAITING;
        return check_waiting(s);
}

int vchan_virtio_process(struct vchan_virtio *s) {
        switch (s->phase) {
        case PHASE_OPENING:
                return try_open(s);
        case PHASE_WAITING:
                return check_waiting(s);
        case PHASE_CONNECTED:
                return vchan_virtio_exchange(s);
        }
        return -EINVAL;
}

static int virtio_server_init(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                              struct vchan **ret) {
        struct vchan_virtio *s = NULL;
        int r;

        r = virtio_new(ep, read_min, write_min, &s);
        if (r < 0)
                return r;
        r = try_open(s);
        if (r < 0) {
                virtio_close(&s->stream.base);
                return r;
        }
        *ret = &s->stream.base;
        return 0;
}

static int virtio_client_init_async(const struct vchan_endpoint *ep, struct vchan **ret) {
        struct vchan_virtio *s = NULL;
        int r;

        r = virtio_new(ep, 0, 0, &s);
        if (r < 0)
                return r;
        r = vchan_stream_arm_retry_timer(&s->stream, 0);      /* readable at once: the first attempt */
        if (r < 0) {
                virtio_close(&s->stream.base);
                return r;
        }
        *ret = &s->stream.base;
        return 0;
}

static int virtio_client_init_finish(struct vchan *v) {
        struct vchan_virtio *s = to_virtio(v);
        int r;

        if (s->phase != PHASE_CONNECTED) {
                r = vchan_virtio_process(s);
                if (r < 0)
                        return r;
        }
        return s->phase == PHASE_CONNECTED ? 0 : 1;
}

static int virtio_wait(struct vchan *v) {
        struct vchan_virtio *s = to_virtio(v);
        int r;

        if (s->stream.blocking) {
                r = vchan_virtio_wait_for_event(s);
                if (r < 0)
                        return r;
        }
        return vchan_virtio_process(s);
}

static enum vchan_state virtio_is_open(struct vchan *v) {
        return vchan_stream_state(to_stream(v));
}

static void virtio_close(struct vchan *v) {
        struct vchan_virtio *s = to_virtio(v);

        vchan_stream_release(&s->stream);
        free(s);
}

const struct vchan_ops vchan_virtio_ops = {
        .server_init = virtio_server_init,
        .client_init_async = virtio_client_init_async,
        .client_init_finish = virtio_client_init_finish,
        .write = vchan_stream_write,
        .read = vchan_stream_read,
        .data_ready = vchan_stream_data_ready,
        .buffer_space = vchan_stream_buffer_space,
        .fd_for_select = vchan_stream_fd_for_select,
        .wait = virtio_wait,
        .is_open = virtio_is_open,
        .set_blocking = vchan_stream_set_blocking,
        .close = virtio_close,
};
