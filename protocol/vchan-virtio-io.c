/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bytes of the virtio vchan.  Two user-space rings of the sizes asked for:
 * bytes from the peer are read from the transport into the read ring on
 * demand, bytes for the peer wait in the write ring until the transport
 * takes them.  The transport fd is non-blocking and used with readv/writev
 * only, which a socket and a port device both understand.  Once connected,
 * the epoll fd watches it for EPOLLIN only while the read ring has room and
 * for EPOLLOUT only while the write ring holds bytes, and not at all after
 * the peer is gone (a port device without host reports POLLHUP for ever), so
 * the epoll fd is readable exactly when vchan_wait() has something to do.
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"
#include "vchan-virtio.h"

/* vchan_close() in blocking mode hands the write ring over first; it gives
 * up when the peer has taken nothing for this long. */
#define CLOSE_FLUSH_STALL_MSEC 5000

static void mark_gone(struct vchan_virtio *s) {
        s->peer_gone = true;
        s->tx.consumed = s->tx.produced;        /* undeliverable */
}

int vchan_virtio_update_interest(struct vchan_virtio *s) {
        uint32_t want = 0;
        struct epoll_event ev;
        int op;

        if (s->phase != PHASE_CONNECTED)
                return 0;
        if (!s->peer_eof && vchan_ring_room(&s->rx) > 0)
                want |= EPOLLIN;
        if (!s->peer_gone && vchan_ring_used(&s->tx) > 0)
                want |= EPOLLOUT;
        if (want == s->fd_events)
                return 0;

        /* Unregister rather than watch nothing: EPOLLHUP is reported even
         * for an empty event mask. */
        op = want == 0 ? EPOLL_CTL_DEL : s->fd_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        ev = (struct epoll_event) { .events = want, .data.fd = s->fd };
        if (epoll_ctl(s->epoll_fd, op, s->fd, &ev) < 0)
                return -errno;
        s->fd_events = want;
        return 0;
}

/* Transport -> read ring: bytes pulled, 0 when nothing is there now or at
 * the end (then peer_eof).  EOF is a socket closed by QEMU, or a port device
 * whose host went away (a pty standing in for a port says EIO). */
static ssize_t pull(struct vchan_virtio *s) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || s->peer_eof)
                return 0;
        pieces = vchan_ring_free_iov(&s->rx, iov);
        if (pieces == 0)
                return 0;
        n = readv(s->fd, iov, pieces);
        if (n > 0) {
                s->rx.produced += (size_t) n;
                return n;
        }
        if (n == 0 || errno == ECONNRESET || errno == EIO || errno == ENODEV) {
                s->peer_eof = true;
                mark_gone(s);
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        return -errno;
}

/* Write ring -> transport. */
static int push(struct vchan_virtio *s) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || s->peer_gone)
                return 0;
        pieces = vchan_ring_filled_iov(&s->tx, iov);
        if (pieces == 0)
                return 0;
        n = writev(s->fd, iov, pieces);
        if (n >= 0) {
                s->tx.consumed += (size_t) n;
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        if (errno == EPIPE || errno == ECONNRESET || errno == EIO || errno == ENODEV) {
                mark_gone(s);   /* not an error of the call: is_open() tells */
                return 0;
        }
        return -errno;
}

/* A port device whose host left reports POLLHUP: take what it still holds
 * and stop writing, or an EPOLLOUT interest would spin on the HUP. */
static int check_hangup(struct vchan_virtio *s) {
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN | POLLOUT };

        if (s->side != SIDE_GUEST || s->peer_gone)
                return 0;
        if (poll(&pfd, 1, 0) < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd.revents & (POLLHUP | POLLERR))
                mark_gone(s);
        return 0;
}

int vchan_virtio_exchange(struct vchan_virtio *s) {
        ssize_t n;
        int r;

        if (s->phase != PHASE_CONNECTED)
                return 0;
        r = check_hangup(s);
        if (r < 0)
                return r;
        r = push(s);
        if (r < 0)
                return r;
        n = pull(s);
        if (n < 0)
                return (int) n;
        return vchan_virtio_update_interest(s);
}

int vchan_virtio_wait_for_event(struct vchan_virtio *s) {
        struct epoll_event events[4];
        int r;

        r = vchan_virtio_update_interest(s);
        if (r < 0)
                return r;
        /* Connected with nothing registered: nothing can happen until the
         * caller reads (or the peer is gone for good). */
        if (s->phase == PHASE_CONNECTED && s->fd_events == 0)
                return 0;
        if (epoll_wait(s->epoll_fd, events, ELEMENTSOF(events), -1) < 0)
                return errno == EINTR ? 0 : -errno;
        return 0;
}

static int wait_blocking(struct vchan_virtio *s) {
        int r = vchan_virtio_wait_for_event(s);

        if (r < 0)
                return r;
        return vchan_virtio_process(s);
}

static ssize_t read_loop(struct vchan_virtio *s, void *buf, size_t n, bool all) {
        int r;

        if (all && n > s->rx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t used = vchan_ring_used(&s->rx);
                ssize_t got;

                if (used >= n || (!all && used > 0)) {
                        size_t take = used < n ? used : n;

                        vchan_ring_get(&s->rx, buf, take);
                        return (ssize_t) take;
                }
                got = pull(s);
                if (got < 0)
                        return got;
                if (got > 0)
                        continue;
                if (s->peer_eof)
                        return all ? -EPIPE : 0;   /* what is left can never make n */
                if (!s->blocking)
                        return all ? -EAGAIN : 0;
                r = wait_blocking(s);
                if (r < 0)
                        return r;
        }
}

static ssize_t write_loop(struct vchan_virtio *s, const void *buf, size_t n, bool all) {
        int r;

        if (all && n > s->tx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t room;

                if (s->peer_gone)
                        return -EPIPE;
                r = push(s);                    /* older bytes first */
                if (r < 0)
                        return r;
                if (s->peer_gone)
                        return -EPIPE;
                room = vchan_ring_room(&s->tx);
                if (all ? room >= n : room > 0) {
                        size_t copy = n < room ? n : room;

                        vchan_ring_put(&s->tx, buf, copy);
                        r = push(s);
                        if (r < 0)
                                return r;
                        return (ssize_t) copy;
                }
                if (!s->blocking)
                        return all ? -EAGAIN : 0;
                r = wait_blocking(s);
                if (r < 0)
                        return r;
        }
}

/* The bytes moved are the caller's now: a failed re-registration is retried
 * on the next call rather than reported. */
ssize_t vchan_virtio_read(struct vchan *v, void *buf, size_t n, bool all) {
        struct vchan_virtio *s = to_virtio(v);
        ssize_t r = read_loop(s, buf, n, all);

        (void) vchan_virtio_update_interest(s);
        return r;
}

ssize_t vchan_virtio_write(struct vchan *v, const void *buf, size_t n, bool all) {
        struct vchan_virtio *s = to_virtio(v);
        ssize_t r = write_loop(s, buf, n, all);

        (void) vchan_virtio_update_interest(s);
        return r;
}

size_t vchan_virtio_data_ready(struct vchan *v) {
        struct vchan_virtio *s = to_virtio(v);

        (void) pull(s);
        (void) vchan_virtio_update_interest(s);
        return vchan_ring_used(&s->rx);
}

size_t vchan_virtio_buffer_space(struct vchan *v) {
        struct vchan_virtio *s = to_virtio(v);

        (void) push(s);
        (void) vchan_virtio_update_interest(s);
        return s->peer_gone ? 0 : vchan_ring_room(&s->tx);
}

/* Like a Xen vchan's peer, ours can still read what was written before
 * close: hand over what waits in the write ring. */
void vchan_virtio_flush(struct vchan_virtio *s) {
        while (s->phase == PHASE_CONNECTED && !s->peer_gone && vchan_ring_used(&s->tx) > 0) {
                struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
                size_t before = vchan_ring_used(&s->tx);
                int r;

                if (push(s) < 0)
                        return;
                if (vchan_ring_used(&s->tx) < before)
                        continue;
                if (!s->blocking)
                        return;
                r = poll(&pfd, 1, CLOSE_FLUSH_STALL_MSEC);
                if (r == 0 || (r < 0 && errno != EINTR) || (pfd.revents & (POLLHUP | POLLERR)))
                        return;         /* stalled or gone peer, or poll failed */
        }
}
