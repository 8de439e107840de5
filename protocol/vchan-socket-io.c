/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bytes of the socket vchan: how the connected UNIX stream socket moves
 * them for vchan-stream.c, which holds the rings and the read/write paths.
 *
 * The rings are skipped when they would only add a copy: an empty write
 * ring sends straight from the caller's buffer, an empty read ring with a
 * large read receives straight into it.  The connected socket is blocking
 * and every call says MSG_DONTWAIT, except a blocking read with nothing of
 * ours to send, which sleeps in recv() as a plain socket reader would, and a
 * blocking write with nothing queued before it, which sleeps in send() as a
 * plain socket writer would (instead of copying what a full socket refuses
 * into the ring, then waiting in epoll to copy it out again).
 */
#include <errno.h>
#include <sys/socket.h>

#include "vchan-socket.h"

/* Receive into iov: bytes received, or 0 when nothing is there now or at EOF
 * (then peer_eof is set). */
static ssize_t receive(struct vchan_socket *s, struct iovec *iov, int iovcnt, bool block) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
        ssize_t n;

        n = recvmsg(s->stream.fd, &mh, block ? 0 : MSG_DONTWAIT);
        if (n > 0)
                return n;
        if (n == 0 || errno == ECONNRESET) {
                s->stream.peer_eof = true;
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        return -errno;
}

/* Send from iov: bytes sent (0 when the socket is full, or a blocking send
 * was interrupted before any), -EPIPE once the peer is gone. */
static ssize_t transmit(struct vchan_socket *s, struct iovec *iov, int iovcnt, bool block) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
        size_t wanted = 0;
        ssize_t n;

        for (int i = 0; i < iovcnt; i++)
                wanted += iov[i].iov_len;
        n = sendmsg(s->stream.fd, &mh, block ? MSG_NOSIGNAL : MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
                s->stream.transport_full = (size_t) n < wanted;
                return n;
        }
        if (errno == EAGAIN || errno == EINTR) {
                s->stream.transport_full = true;
                return 0;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
                vchan_stream_mark_gone(&s->stream);
                return -EPIPE;
        }
        return -errno;
}

/* Socket -> read ring: bytes pulled. */
ssize_t vchan_socket_pull(struct vchan_socket *s, bool block) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || s->stream.peer_eof)
                return 0;
        pieces = vchan_ring_free_iov(&s->stream.rx, iov);
        if (pieces == 0)
                return 0;
        n = receive(s, iov, pieces, block);
        if (n > 0)
                s->stream.rx.produced += (size_t) n;
        return n;
}

static ssize_t socket_pull(struct vchan_stream *st, bool block) {
        return vchan_socket_pull(to_socket(&st->base), block);
}

/* Write ring -> socket. */
static int socket_push(struct vchan_stream *st) {
        struct vchan_socket *s = to_socket(&st->base);
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || st->peer_gone)
                return 0;
        pieces = vchan_ring_filled_iov(&st->tx, iov);
        if (pieces == 0)
                return 0;
        n = transmit(s, iov, pieces, false);
        if (n == -EPIPE)
                return 0;       /* not an error of the call: is_open() tells */
        if (n < 0)
                return (int) n;
        st->tx.consumed += (size_t) n;
        return 0;
}

static ssize_t socket_receive_direct(struct vchan_stream *st, void *buf, size_t n, bool block) {
        struct iovec iov = { .iov_base = buf, .iov_len = n };

        return receive(to_socket(&st->base), &iov, 1, block);
}

static ssize_t socket_transmit_direct(struct vchan_stream *st, const void *buf, size_t n, bool block) {
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = n };

        return transmit(to_socket(&st->base), &iov, 1, block);
}

/* For the blocking read/write loops, which ride out signals and, once
 * connected, move their own bytes: a read goes straight into the caller's
 * buffer rather than through the ring.  The write ring is flushed here so a
 * reader waiting with bytes to send does not spin on EPOLLOUT. */
static int socket_wait_blocking(struct vchan_stream *st) {
        struct vchan_socket *s = to_socket(&st->base);
        int r = vchan_stream_wait_for_event(st);

        if (r < 0 && r != -EINTR)
                return r;
        if (s->phase != PHASE_CONNECTED)
                return vchan_socket_process(s);
        return socket_push(st);
}

const struct vchan_stream_ops vchan_socket_stream_ops = {
        .pull = socket_pull,
        .push = socket_push,
        .receive_direct = socket_receive_direct,
        .transmit_direct = socket_transmit_direct,
        .wait_blocking = socket_wait_blocking,
        .may_block_in_pull = true,
};
