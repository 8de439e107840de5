/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bytes of the socket vchan.  Each side keeps two user-space rings of the
 * sizes asked for: bytes from the peer are pulled from the socket into the
 * read ring on demand, bytes for the peer wait in the write ring while the
 * socket cannot take them.  Once connected, the epoll fd watches the socket
 * for EPOLLIN only while the read ring has room (and no EOF was seen) and
 * for EPOLLOUT only while the write ring holds bytes, so it is readable
 * exactly when vchan_wait() has something to do, and a peer that stops
 * reading cannot make a caller spin.
 *
 * The rings are skipped when they would only add a copy: an empty write
 * ring sends straight from the caller's buffer, an empty read ring with a
 * large read receives straight into it.  The connected socket is blocking
 * and every call says MSG_DONTWAIT, except a blocking read with nothing of
 * ours to send, which sleeps in recv() as a plain socket reader would.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "util.h"
#include "vchan-socket.h"

/* A read at least this large goes straight into the caller's buffer when the
 * read ring is empty. */
#define DIRECT_READ_MIN ((size_t) 4096)
/* vchan_close() in blocking mode hands the write ring to the socket first;
 * it gives up when the peer has taken nothing for this long. */
#define CLOSE_FLUSH_STALL_MSEC 5000

/* Bring sock_fd's epoll registration in line with what the rings need. */
int vchan_socket_update_interest(struct vchan_socket *s) {
        uint32_t want = 0;
        struct epoll_event ev;
        int op;

        if (s->phase != PHASE_CONNECTED)
                return 0;
        if (!s->peer_eof && vchan_ring_room(&s->rx) > 0)
                want |= EPOLLIN;
        if (!s->peer_gone && vchan_ring_used(&s->tx) > 0)
                want |= EPOLLOUT;
        if (want == s->sock_events)
                return 0;

        /* Unregister rather than watch nothing: EPOLLHUP is reported even
         * for an empty event mask. */
        op = want == 0 ? EPOLL_CTL_DEL : s->sock_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        ev = (struct epoll_event) { .events = want, .data.fd = s->sock_fd };
        if (epoll_ctl(s->epoll_fd, op, s->sock_fd, &ev) < 0)
                return -errno;
        s->sock_events = want;
        return 0;
}

/* Receive into iov: bytes received, or 0 when nothing is there now or at EOF
 * (then peer_eof is set). */
static ssize_t receive(struct vchan_socket *s, struct iovec *iov, int iovcnt, bool block) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
        ssize_t n;

        n = recvmsg(s->sock_fd, &mh, block ? 0 : MSG_DONTWAIT);
        if (n > 0)
                return n;
        if (n == 0 || errno == ECONNRESET) {
                s->peer_eof = true;
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        return -errno;
}

/* Send from iov: bytes sent (0 when the socket is full), -EPIPE once the
 * peer is gone. */
static ssize_t transmit(struct vchan_socket *s, struct iovec *iov, int iovcnt) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
        size_t wanted = 0;
        ssize_t n;

        for (int i = 0; i < iovcnt; i++)
                wanted += iov[i].iov_len;
        n = sendmsg(s->sock_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
                s->socket_full = (size_t) n < wanted;
                return n;
        }
        if (errno == EAGAIN || errno == EINTR) {
                s->socket_full = true;
                return 0;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
                s->peer_gone = true;
                s->tx.consumed = s->tx.produced;        /* undeliverable */
                return -EPIPE;
        }
        return -errno;
}

/* Socket -> read ring: bytes pulled. */
ssize_t vchan_socket_pull(struct vchan_socket *s, bool block) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || s->peer_eof)
                return 0;
        pieces = vchan_ring_free_iov(&s->rx, iov);
        if (pieces == 0)
                return 0;
        n = receive(s, iov, pieces, block);
        if (n > 0)
                s->rx.produced += (size_t) n;
        return n;
}

/* Write ring -> socket. */
int vchan_socket_push(struct vchan_socket *s) {
        struct iovec iov[2];
        ssize_t n;
        int pieces;

        if (s->phase != PHASE_CONNECTED || s->peer_gone)
                return 0;
        pieces = vchan_ring_filled_iov(&s->tx, iov);
        if (pieces == 0)
                return 0;
        n = transmit(s, iov, pieces);
        if (n == -EPIPE)
                return 0;       /* not an error of the call: is_open() tells */
        if (n < 0)
                return (int) n;
        s->tx.consumed += (size_t) n;
        return 0;
}

/* Move whatever can move now, then re-register. */
int vchan_socket_exchange(struct vchan_socket *s) {
        int r;

        if (vchan_ring_used(&s->tx) > 0) {
                r = vchan_socket_push(s);
                if (r < 0)
                        return r;
        }
        if (vchan_ring_room(&s->rx) > 0) {
                ssize_t n = vchan_socket_pull(s, false);
                if (n < 0)
                        return (int) n;
        }
        return vchan_socket_update_interest(s);
}

/* Does anything registered in the epoll fd stand for pending work? */
static bool has_interest(struct vchan_socket *s) {
        return s->phase != PHASE_CONNECTED || s->sock_events != 0;
}

int vchan_socket_wait_for_event(struct vchan_socket *s) {
        struct epoll_event events[4];
        int r;

        r = vchan_socket_update_interest(s);
        if (r < 0)
                return r;
        /* Nothing registered: nothing can happen until the caller reads. */
        if (!has_interest(s))
                return 0;
        if (epoll_wait(s->epoll_fd, events, ELEMENTSOF(events), -1) < 0)
                return -errno;
        return 0;
}

/* For the blocking read/write loops, which ride out signals and, once
 * connected, move their own bytes: a read goes straight into the caller's
 * buffer rather than through the ring.  The write ring is flushed here so a
 * reader waiting with bytes to send does not spin on EPOLLOUT. */
static int wait_blocking(struct vchan_socket *s) {
        int r = vchan_socket_wait_for_event(s);

        if (r < 0 && r != -EINTR)
                return r;
        if (s->phase != PHASE_CONNECTED)
                return vchan_socket_process(s);
        return vchan_socket_push(s);
}

static ssize_t read_loop(struct vchan_socket *s, void *buf, size_t n, bool all) {
        int r;

        if (all && n > s->rx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t used = vchan_ring_used(&s->rx);

                if (used >= n || (!all && used > 0)) {
                        size_t take = used < n ? used : n;

                        vchan_ring_get(&s->rx, buf, take);
                        return (ssize_t) take;
                }

                if (s->phase == PHASE_CONNECTED && !s->peer_eof) {
                        /* Sleeping in recv() like a plain socket reader
                         * is cheapest, but only while no bytes of ours
                         * wait to be sent: the peer may need them first. */
                        bool block = s->blocking && vchan_ring_used(&s->tx) == 0;
                        ssize_t got;

                        if (!all && used == 0 && n >= DIRECT_READ_MIN) {
                                struct iovec iov = { .iov_base = buf, .iov_len = n };

                                got = receive(s, &iov, 1, block);
                                if (got != 0)
                                        return got;
                        } else {
                                got = vchan_socket_pull(s, block);
                                if (got < 0)
                                        return got;
                                if (got > 0)
                                        continue;
                        }
                }

                if (s->peer_eof)
                        return all ? -EPIPE : 0;   /* what is left can never make n */
                if (!s->blocking)
                        return all ? -EAGAIN : 0;
                r = wait_blocking(s);
                if (r < 0)
                        return r;
        }
}

static ssize_t write_loop(struct vchan_socket *s, const void *buf, size_t n, bool all) {
        const uint8_t *p = buf;
        int r;

        if (all && n > s->tx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t sent = 0, room, copy;

                if (s->peer_gone)
                        return -EPIPE;
                /* While bytes wait in the ring for a socket found full,
                 * more go after them until a wait says there is room:
                 * trying the socket meanwhile would only cost a syscall. */
                if (s->phase == PHASE_CONNECTED &&
                    !(s->socket_full && vchan_ring_used(&s->tx) > 0)) {
                        /* Older bytes first; then, with the ring empty, skip it. */
                        r = vchan_socket_push(s);
                        if (r < 0)
                                return r;
                        if (vchan_ring_used(&s->tx) == 0 && !s->peer_gone) {
                                struct iovec iov = { .iov_base = (void *) p, .iov_len = n };
                                ssize_t k = transmit(s, &iov, 1);

                                if (k < 0)
                                        return k;
                                sent = (size_t) k;
                        }
                        if (s->peer_gone)
                                return -EPIPE;
                        /* A blocking stream write may return short: the
                         * caller comes back with the rest, which saves
                         * copying it through the ring. */
                        if (sent > 0 && !all && s->blocking)
                                return (ssize_t) sent;
                }

                /* With sent > 0 the ring was empty, so a packet (n <= ring
                 * size) always fits the rest. */
                room = vchan_ring_room(&s->tx);
                if (all ? sent + room >= n : sent + room > 0) {
                        copy = n - sent < room ? n - sent : room;
                        vchan_ring_put(&s->tx, p + sent, copy);
                        return (ssize_t) (sent + copy);
                }

                if (!s->blocking)
                        return all ? -EAGAIN : 0;
                r = wait_blocking(s);
                if (r < 0)
                        return r;
        }
}

/* Whatever the outcome, leave the epoll registration matching the rings: the
 * bytes moved are the caller's now, so a failed re-registration is not
 * reported here but retried on the next call. */
ssize_t vchan_socket_read(struct vchan *v, void *buf, size_t n, bool all) {
        struct vchan_socket *s = to_socket(v);
        ssize_t r = read_loop(s, buf, n, all);

        (void) vchan_socket_update_interest(s);
        return r;
}

ssize_t vchan_socket_write(struct vchan *v, const void *buf, size_t n, bool all) {
        struct vchan_socket *s = to_socket(v);
        ssize_t r = write_loop(s, buf, n, all);

        (void) vchan_socket_update_interest(s);
        return r;
}

size_t vchan_socket_data_ready(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);

        if (vchan_ring_room(&s->rx) > 0)
                (void) vchan_socket_pull(s, false);
        (void) vchan_socket_update_interest(s);
        return vchan_ring_used(&s->rx);
}

size_t vchan_socket_buffer_space(struct vchan *v) {
        struct vchan_socket *s = to_socket(v);

        if (vchan_ring_used(&s->tx) > 0)
                (void) vchan_socket_push(s);
        (void) vchan_socket_update_interest(s);
        return s->peer_gone ? 0 : vchan_ring_room(&s->tx);
}

/* The peer of a Xen vchan can still read what was written before close;
 * here those bytes may still sit in the write ring, so hand them over. */
void vchan_socket_flush(struct vchan_socket *s) {
        while (s->phase == PHASE_CONNECTED && !s->peer_gone && vchan_ring_used(&s->tx) > 0) {
                struct pollfd pfd = { .fd = s->sock_fd, .events = POLLOUT };
                size_t before = vchan_ring_used(&s->tx);
                int r;

                if (vchan_socket_push(s) < 0)
                        return;
                if (vchan_ring_used(&s->tx) < before)
                        continue;
                if (!s->blocking)
                        return;
                r = poll(&pfd, 1, CLOSE_FLUSH_STALL_MSEC);
                if (r == 0 || (r < 0 && errno != EINTR))
                        return;         /* stalled peer, or poll failed */
        }
}