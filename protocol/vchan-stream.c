/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bytes of the stream vchan backends (socket, virtio; see vchan-stream.h).
 * Two user-space rings of the sizes asked for: bytes from the peer come from
 * the transport into the read ring on demand, bytes for the peer wait in the
 * write ring while the transport cannot take them.  Once connected, the
 * epoll fd watches the transport for EPOLLIN only while the read ring has
 * room (and the peer has not ended) and for EPOLLOUT only while the write
 * ring holds bytes (and the peer can still take them), so it is readable
 * exactly when vchan_wait() has something to do, and a peer that stops
 * reading cannot make a caller spin.
 *
 * A backend may skip the rings where they would only add a copy
 * (receive_direct, transmit_direct): the socket backend does.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"
#include "vchan-stream.h"

#define STREAM_RING_DEFAULT ((size_t) 64 * 1024)
/* A read at least this large goes straight into the caller's buffer when the
 * read ring is empty (with a backend that can). */
#define DIRECT_READ_MIN ((size_t) 4096)
/* vchan_close() in blocking mode hands the write ring over first; it gives
 * up when the peer has taken nothing for this long. */
#define CLOSE_FLUSH_STALL_MSEC 5000
/* Looking for the peer: retries every 100 us for the first 100 ms (the
 * peer of a qrexec call appears within a millisecond or two, and this wait
 * is on every call's path; a failed connect() is one cheap system call),
 * then back off up to 200 ms (a domain's agent that is still starting). */
#define RETRY_MIN_USEC 100
#define RETRY_MAX_USEC (200 * 1000)
#define RETRY_FAST_COUNT 1000

void vchan_stream_close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

int vchan_stream_init(struct vchan_stream *st, const struct vchan_ops *ops,
                      const struct vchan_stream_ops *stream_ops) {
        st->base.ops = ops;
        st->stream_ops = stream_ops;
        st->blocking = true;    /* libvchan's default */
        st->fd = st->retry_timer_fd = -1;
        st->retry_usec = RETRY_MIN_USEC;
        st->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        return st->epoll_fd < 0 ? -errno : 0;
}

static int ring_alloc(struct vchan_ring *r, size_t min) {
        size_t size = 1;

        if (min == 0)
                min = STREAM_RING_DEFAULT;
        while (size < min)
                size <<= 1;
        r->buf = malloc(size);
        if (!r->buf)
                return -ENOMEM;
        r->size = size;
        r->consumed = r->produced = 0;
        return 0;
}

int vchan_stream_alloc_rings(struct vchan_stream *st, size_t read_min, size_t write_min) {
        int r = ring_alloc(&st->rx, read_min);

        return r < 0 ? r : ring_alloc(&st->tx, write_min);
}

void vchan_stream_release(struct vchan_stream *st) {
        vchan_stream_flush(st);
        vchan_stream_close_fd(&st->fd);
        vchan_stream_close_fd(&st->retry_timer_fd);
        vchan_stream_close_fd(&st->epoll_fd);
        free(st->rx.buf);
        free(st->tx.buf);
}

int vchan_stream_epoll_add(struct vchan_stream *st, int fd, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.fd = fd };

        return epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void vchan_stream_epoll_forget(struct vchan_stream *st, int *fd) {
        if (*fd < 0)
                return;
        (void) epoll_ctl(st->epoll_fd, EPOLL_CTL_DEL, *fd, NULL);
        vchan_stream_close_fd(fd);
}

bool vchan_stream_drain(int fd) {
        uint8_t buf[4096] __attribute__((aligned(8)));
        bool any = false;

        if (fd < 0)
                return false;
        while (read(fd, buf, sizeof(buf)) > 0)
                any = true;
        return any;
}

int vchan_stream_add_retry_timer(struct vchan_stream *st) {
        st->retry_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (st->retry_timer_fd < 0)
                return -errno;
        return vchan_stream_epoll_add(st, st->retry_timer_fd, EPOLLIN);
}

int vchan_stream_arm_retry_timer(struct vchan_stream *st, long usec) {
        struct itimerspec its = {
                .it_value.tv_sec = usec / 1000000,
                .it_value.tv_nsec = usec > 0 ? (usec % 1000000) * 1000L : 1,
        };

        return timerfd_settime(st->retry_timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int vchan_stream_retry_later(struct vchan_stream *st) {
        int r = vchan_stream_arm_retry_timer(st, st->retry_usec);

        if (r < 0)
                return r;
        if (++st->fast_retries > RETRY_FAST_COUNT)
                st->retry_usec = st->retry_usec * 2 > RETRY_MAX_USEC ? RETRY_MAX_USEC : st->retry_usec * 2;
        return 0;
}

int vchan_stream_try_connect(const struct sockaddr_un *address, int *ret_fd) {
        _cleanup_close_ int fd = -1;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) address, sizeof(*address)) < 0) {
                if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN || errno == EINTR)
                        return 1;
                return -errno;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void vchan_stream_mark_gone(struct vchan_stream *st) {
        st->peer_gone = true;
        st->tx.consumed = st->tx.produced;      /* undeliverable */
}

int vchan_stream_update_interest(struct vchan_stream *st) {
        uint32_t want = 0;
        struct epoll_event ev;
        int op;

        if (!st->connected)
                return 0;
        if (!st->peer_eof && vchan_ring_room(&st->rx) > 0)
                want |= EPOLLIN;
        if (!st->peer_gone && vchan_ring_used(&st->tx) > 0)
                want |= EPOLLOUT;
        if (want == st->fd_events)
                return 0;

        /* Unregister rather than watch nothing: EPOLLHUP is reported even
         * for an empty event mask. */
        op = want == 0 ? EPOLL_CTL_DEL : st->fd_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        ev = (struct epoll_event) { .events = want, .data.fd = st->fd };
        if (epoll_ctl(st->epoll_fd, op, st->fd, &ev) < 0)
                return -errno;
        st->fd_events = want;
        return 0;
}

int vchan_stream_exchange(struct vchan_stream *st) {
        int r;

        if (vchan_ring_used(&st->tx) > 0) {
                r = st->stream_ops->push(st);
                if (r < 0)
                        return r;
        }
        if (vchan_ring_room(&st->rx) > 0) {
                ssize_t n = st->stream_ops->pull(st, false);
                if (n < 0)
                        return (int) n;
        }
        return vchan_stream_update_interest(st);
}

int vchan_stream_wait_for_event(struct vchan_stream *st) {
        struct epoll_event events[4];
        int r;

        r = vchan_stream_update_interest(st);
        if (r < 0)
                return r;
        /* Connected with nothing registered: nothing can happen until the
         * caller reads (or the peer is gone for good). */
        if (st->connected && st->fd_events == 0)
                return 0;
        if (epoll_wait(st->epoll_fd, events, ELEMENTSOF(events), -1) < 0)
                return -errno;
        return 0;
}

enum vchan_state vchan_stream_state(struct vchan_stream *st) {
        if (!st->connected)
                return VCHAN_WAITING;
        return st->peer_eof && vchan_ring_used(&st->rx) == 0 ? VCHAN_DISCONNECTED : VCHAN_CONNECTED;
}

static ssize_t read_loop(struct vchan_stream *st, void *buf, size_t n, bool all) {
        const struct vchan_stream_ops *ops = st->stream_ops;
        int r;

        if (all && n > st->rx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t used = vchan_ring_used(&st->rx);

                if (used >= n || (!all && used > 0)) {
                        size_t take = used < n ? used : n;

                        vchan_ring_get(&st->rx, buf, take);
                        return (ssize_t) take;
                }

                if (st->connected && !st->peer_eof) {
                        /* Sleeping in the transport like a plain reader is
                         * cheapest, but only while no bytes of ours wait
                         * to be sent: the peer may need them first. */
                        bool block = ops->may_block_in_pull && st->blocking &&
                                     vchan_ring_used(&st->tx) == 0;
                        ssize_t got;

                        if (ops->receive_direct && !all && used == 0 && n >= DIRECT_READ_MIN) {
                                got = ops->receive_direct(st, buf, n, block);
                                if (got != 0)
                                        return got;
                        } else {
                                got = ops->pull(st, block);
                                if (got < 0)
                                        return got;
                                if (got > 0)
                                        continue;
                        }
                }

                if (st->peer_eof)
                        return all ? -EPIPE : 0;   /* what is left can never make n */
                if (!st->blocking)
                        return all ? -EAGAIN : 0;
                r = ops->wait_blocking(st);
                if (r < 0)
                        return r;
        }
}

static ssize_t write_loop(struct vchan_stream *st, const void *buf, size_t n, bool all) {
        const struct vchan_stream_ops *ops = st->stream_ops;
        const uint8_t *p = buf;
        int r;

        if (all && n > st->tx.size)
                return -EMSGSIZE;

        for (;;) {
                size_t sent = 0, room, copy;

                if (st->peer_gone)
                        return -EPIPE;
                /* While bytes wait in the ring for a transport found full,
                 * more go after them until a wait says there is room:
                 * trying the transport meanwhile would only cost a syscall. */
                if (st->connected && !(st->transport_full && vchan_ring_used(&st->tx) > 0)) {
                        /* Older bytes first; then, with the ring empty, skip it. */
                        r = ops->push(st);
                        if (r < 0)
                                return r;
                        if (ops->transmit_direct && vchan_ring_used(&st->tx) == 0 && !st->peer_gone) {
                                /* Blocking: sleep in the transport like a
                                 * plain writer; what it cannot take would
                                 * otherwise be copied in and out of the ring. */
                                ssize_t k = ops->transmit_direct(st, p, n, st->blocking);

                                if (k < 0)
                                        return k;
                                sent = (size_t) k;
                        }
                        if (st->peer_gone)
                                return -EPIPE;
                        /* A blocking stream write may return short: the
                         * caller comes back with the rest, which saves
                         * copying it through the ring. */
                        if (sent > 0 && !all && st->blocking)
                                return (ssize_t) sent;
                }

                /* With sent > 0 the ring was empty, so a packet (n <= ring
                 * size) always fits the rest. */
                room = vchan_ring_room(&st->tx);
                if (all ? sent + room >= n : sent + room > 0) {
                        copy = n - sent < room ? n - sent : room;
                        vchan_ring_put(&st->tx, p + sent, copy);
                        if (ops->push_after_queue) {
                                r = ops->push(st);
                                if (r < 0)
                                        return r;
                        }
                        return (ssize_t) (sent + copy);
                }

                if (!st->blocking)
                        return all ? -EAGAIN : 0;
                r = ops->wait_blocking(st);
                if (r < 0)
                        return r;
        }
}

/* Whatever the outcome, leave the epoll registration matching the rings: the
 * bytes moved are the caller's now, so a failed re-registration is not
 * reported here but retried on the next call. */
ssize_t vchan_stream_read(struct vchan *v, void *buf, size_t n, bool all) {
        struct vchan_stream *st = to_stream(v);
        ssize_t r = read_loop(st, buf, n, all);

        (void) vchan_stream_update_interest(st);
        return r;
}

ssize_t vchan_stream_write(struct vchan *v, const void *buf, size_t n, bool all) {
        struct vchan_stream *st = to_stream(v);
        ssize_t r = write_loop(st, buf, n, all);

        (void) vchan_stream_update_interest(st);
        return r;
}

size_t vchan_stream_data_ready(struct vchan *v) {
        struct vchan_stream *st = to_stream(v);

        if (vchan_ring_room(&st->rx) > 0)
                (void) st->stream_ops->pull(st, false);
        (void) vchan_stream_update_interest(st);
        return vchan_ring_used(&st->rx);
}

size_t vchan_stream_buffer_space(struct vchan *v) {
        struct vchan_stream *st = to_stream(v);

        if (vchan_ring_used(&st->tx) > 0)
                (void) st->stream_ops->push(st);
        (void) vchan_stream_update_interest(st);
        return st->peer_gone ? 0 : vchan_ring_room(&st->tx);
}

int vchan_stream_fd_for_select(struct vchan *v) {
        return to_stream(v)->epoll_fd;
}

void vchan_stream_set_blocking(struct vchan *v, bool blocking) {
        to_stream(v)->blocking = blocking;
}

/* The peer of a Xen vchan can still read what was written before close;
 * here those bytes may still sit in the write ring, so hand them over. */
void vchan_stream_flush(struct vchan_stream *st) {
        while (st->connected && !st->peer_gone && vchan_ring_used(&st->tx) > 0) {
                struct pollfd pfd = { .fd = st->fd, .events = POLLOUT };
                size_t before = vchan_ring_used(&st->tx);
                int r;

                if (st->stream_ops->push(st) < 0)
                        return;
                if (vchan_ring_used(&st->tx) < before)
                        continue;
                if (!st->blocking)
                        return;
                r = poll(&pfd, 1, CLOSE_FLUSH_STALL_MSEC);
                if (r == 0 || (r < 0 && errno != EINTR) || (pfd.revents & (POLLHUP | POLLERR)))
                        return;         /* stalled or gone peer, or poll failed */
        }
}
