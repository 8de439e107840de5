/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bytes of the virtio vchan: how the transport moves them for
 * vchan-stream.c, which holds the rings and the read/write paths.  The
 * transport fd is non-blocking and used with readv/writev only, which a
 * socket and a port device both understand.  Once the peer is gone the fd
 * is not watched at all (a port device without host reports POLLHUP for
 * ever), so the epoll fd stays readable exactly when vchan_wait() has
 * something to do.
 */
#include <errno.h>
#include <poll.h>
#include <sys/uio.h>

#include "vchan-virtio.h"

/* Transport -> read ring: bytes pulled, 0 when nothing is there now or at
 * the end (then peer_eof).  EOF is a socket closed by QEMU, or a port device
 * whose host went away (a pty standing in for a port says EIO).  The fd
 * never blocks. */
static ssize_t virtio_pull(struct vchan_stream *st, bool block) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        (void) block;
        if (!st->connected || st->peer_eof)
                return 0;
        pieces = vchan_ring_free_iov(&st->rx, iov);
        if (pieces == 0)
                return 0;
        n = readv(st->fd, iov, pieces);
        if (n > 0) {
                st->rx.produced += (size_t) n;
                return n;
        }
        if (n == 0 || errno == ECONNRESET || errno == EIO || errno == ENODEV) {
                st->peer_eof = true;
                vchan_stream_mark_gone(st);
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        return -errno;
}

/* Write ring -> transport. */
static int virtio_push(struct vchan_stream *st) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (!st->connected || st->peer_gone)
                return 0;
        pieces = vchan_ring_filled_iov(&st->tx, iov);
        if (pieces == 0)
                return 0;
        n = writev(st->fd, iov, pieces);
        if (n >= 0) {
                st->tx.consumed += (size_t) n;
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        if (errno == EPIPE || errno == ECONNRESET || errno == EIO || errno == ENODEV) {
                vchan_stream_mark_gone(st);     /* not an error of the call: is_open() tells */
                return 0;
        }
        return -errno;
}

/* A port device whose host left reports POLLHUP: take what it still holds
 * and stop writing, or an EPOLLOUT interest would spin on the HUP. */
static int check_hangup(struct vchan_virtio *s) {
        struct pollfd pfd = { .fd = s->stream.fd, .events = POLLIN | POLLOUT };

        if (s->side != SIDE_GUEST || s->stream.peer_gone)
                return 0;
        if (poll(&pfd, 1, 0) < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd.revents & (POLLHUP | POLLERR))
                vchan_stream_mark_gone(&s->stream);
        return 0;
}

int vchan_virtio_exchange(struct vchan_virtio *s) {
        int r;

        if (!s->stream.connected)
                return 0;
        r = check_hangup(s);
        if (r < 0)
                return r;
        return vchan_stream_exchange(&s->stream);
}

/* A signal only ends the wait early. */
int vchan_virtio_wait_for_event(struct vchan_virtio *s) {
        int r = vchan_stream_wait_for_event(&s->stream);

        return r == -EINTR ? 0 : r;
}

static int virtio_wait_blocking(struct vchan_stream *st) {
        struct vchan_virtio *s = to_virtio(&st->base);
        int r = vchan_virtio_wait_for_event(s);

        if (r < 0)
                return r;
        return vchan_virtio_process(s);
}

const struct vchan_stream_ops vchan_virtio_stream_ops = {
        .pull = virtio_pull,
        .push = virtio_push,
        .wait_blocking = virtio_wait_blocking,
        .push_after_queue = true,
};
