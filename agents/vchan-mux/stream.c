/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One relayed connection: its local socket (accepted on a mirror, or
 * connected to a real server for the peer's OPEN) and its half of the
 * stream's protocol.  Flow control per direction: we read the socket only
 * while we hold credit and the transport has room; the peer's bytes that
 * the socket does not take at once wait in a buffer of at most VMUX_WINDOW
 * (allocated only while it holds something), and their credit goes back as
 * the socket drains.  A socket that never drains therefore stalls only its
 * own stream.
 *
 * Graceful end: EOF both ways, everything delivered (our credit fully back:
 * the peer wrote our bytes out; its bytes written to our socket): CLOSE.
 * A socket error ends the stream at once (CLOSE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"

#define CREDIT_BATCH (64u * 1024u)

struct stream *stream_get(struct mux *m, uint16_t id) {
        return m->streams[id];
}

static void stream_close_fd(struct stream *s) {
        if (s->fd >= 0) {
                close(s->fd);     /* also leaves the epoll set */
                mirrors_resume(s->mux);
        }
        s->fd = -1;
        s->events = 0;
        free(s->buf);
        s->buf = NULL;
        s->buf_start = s->buf_len = 0;
}

/* The id is free again: no more frames on it either way. */
static void stream_forget(struct stream *s) {
        struct mux *m = s->mux;

        if (s->dead)
                return;
        stream_close_fd(s);
        m->streams[s->id] = NULL;
        if (s->ours)
                m->streams_ours--;
        else
                m->streams_theirs--;
        s->dead = true;
        s->dead_next = m->dead_streams;
        m->dead_streams = s;
}

int stream_new(struct mux *m, uint16_t id, int fd, bool ours, const char *name, struct stream **ret) {
        struct stream *s = calloc(1, sizeof(*s));

        if (!s)
                return log_error_errno(ENOMEM, "Out of memory");
        s->source.kind = SOURCE_STREAM;
        s->mux = m;
        s->id = id;
        s->fd = fd;
        s->ours = ours;
        s->send_credit = VMUX_WINDOW;
        s->recv_allowed = VMUX_WINDOW;
        snprintf(s->name, sizeof(s->name), "%s", name);
        m->streams[id] = s;
        if (ours)
                m->streams_ours++;
        else
                m->streams_theirs++;
        stream_update(s);
        *ret = s;
        return 0;
}

void stream_update(struct stream *s) {
        struct mux *m = s->mux;
        uint32_t want = 0;

        if (s->fd < 0 || s->close_sent)
                return;
        if (!s->read_eof && s->send_credit > 0 && transport_data_room(m) > 0)
                want |= EPOLLIN;
        if (s->buf_len > 0 && !s->local_gone)
                want |= EPOLLOUT;
        /* Out of the set while nothing is wanted: a hung-up socket would
         * otherwise report EPOLLHUP forever. */
        if (epoll_set(m, s->fd, &s->source, s->events, want) >= 0)
                s->events = want;
}

void streams_update_all(struct mux *m) {
        for (unsigned id = 1; id <= UINT16_MAX; id++)
                if (m->streams[id])
                        stream_update(m->streams[id]);
}

int stream_abort(struct stream *s) {
        if (s->close_sent || s->dead)
                return 0;
        s->close_sent = true;
        stream_close_fd(s);
        return transport_send(s->mux, VMUX_CLOSE, s->id, NULL, 0);
}

static int maybe_return_credit(struct stream *s) {
        uint8_t amount[4];
        int r;

        if (s->credit_pending == 0 || (s->credit_pending < CREDIT_BATCH && s->buf_len > 0))
                return 0;
        le32_store(amount, s->credit_pending);
        r = transport_send(s->mux, VMUX_CREDIT, s->id, amount, sizeof(amount));
        if (r < 0)
                return r;
        s->recv_allowed += s->credit_pending;
        s->credit_pending = 0;
        return 0;
}

static int check_finished(struct stream *s) {
        if (s->close_sent || s->dead)
                return 0;
        if (s->peer_eof && s->buf_len == 0 && !s->shut_wr && !s->local_gone) {
                (void) shutdown(s->fd, SHUT_WR);
                s->shut_wr = true;
        }
        if (!s->read_eof || s->send_credit != VMUX_WINDOW)
                return 0;
        if (!s->local_gone && !(s->peer_eof && s->buf_len == 0))
                return 0;
        log_debug("Stream %u (%s) finished.", s->id, s->name);
        return stream_abort(s);
}

/* The socket no longer takes bytes: the peer's bytes are dropped (and their
 * credit returned, so the peer is never stuck). */
static void local_gone(struct stream *s) {
        s->local_gone = true;
        s->credit_pending += s->buf_len;
        s->buf_len = 0;
        free(s->buf);
        s->buf = NULL;
}

static int write_out(struct stream *s, const uint8_t *p, uint32_t n, uint32_t *written) {
        ssize_t w = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

        *written = 0;
        if (w >= 0) {
                *written = (uint32_t) w;
                s->credit_pending += (uint32_t) w;
                return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        log_debug("Stream %u (%s): local socket gone: %m.", s->id, s->name);
        local_gone(s);
        return 0;
}

static int flush_buffer(struct stream *s) {
        uint32_t written;

        (void) write_out(s, s->buf + s->buf_start, s->buf_len, &written);
        if (s->buf) {
                s->buf_start += written;
                s->buf_len -= written;
                if (s->buf_len == 0) {
                        free(s->buf);      /* idle streams hold no buffer */
                        s->buf = NULL;
                        s->buf_start = 0;
                }
        }
        return maybe_return_credit(s);
}

static int read_in(struct stream *s) {
        struct mux *m = s->mux;
        size_t room = transport_data_room(m);
        ssize_t n;

        if (room > s->send_credit)
                room = s->send_credit;
        if (room == 0)
                return 0;
        n = recv(s->fd, transport_data_reserve(m), room, MSG_DONTWAIT);
        if (n > 0) {
                s->send_credit -= (uint32_t) n;
                return transport_data_commit(m, s->id, (uint32_t) n);
        }
        if (n == 0) {
                s->read_eof = true;
                return transport_send(m, VMUX_EOF, s->id, NULL, 0);
        }
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        log_debug("Stream %u (%s): read error: %m.", s->id, s->name);
        return stream_abort(s);
}

int stream_event(struct stream *s, uint32_t events) {
        int r = 0;

        if (s->dead || s->fd < 0)
                return 0;
        if (events & EPOLLERR)
                return stream_abort(s);
        if ((events & (EPOLLOUT | EPOLLHUP)) && s->buf_len > 0)
                r = flush_buffer(s);
        if (r >= 0 && s->fd >= 0 && (events & (EPOLLIN | EPOLLHUP)) && (s->events & EPOLLIN))
                r = read_in(s);
        if (r >= 0)
                r = check_finished(s);
        if (r >= 0 && !s->dead)
                stream_update(s);
        return r;
}

int stream_data(struct stream *s, const uint8_t *data, uint32_t len) {
        uint32_t written = 0;
        int r;

        if (s->close_sent)
                return 0;       /* sent before the peer saw our CLOSE */
        if (s->peer_eof)
                return peer_violation(s->mux, "DATA after EOF on stream %u", s->id);
        if (len > s->recv_allowed)
                return peer_violation(s->mux, "DATA past the granted credit on stream %u (%u > %u)", s->id, len,
                                      s->recv_allowed);
        s->recv_allowed -= len;

        if (s->local_gone) {
                s->credit_pending += len;
                return maybe_return_credit(s);
        }
        if (s->buf_len == 0) {
                (void) write_out(s, data, len, &written);
                if (s->local_gone) {
                        s->credit_pending += len;
                        r = maybe_return_credit(s);
                        return r < 0 ? r : check_finished(s);
                }
                data += written;
                len -= written;
        }
        if (len > 0) {
                if (!s->buf) {
                        s->buf = malloc(VMUX_WINDOW);
                        if (!s->buf) {
                                log_error("Out of memory for stream %u.", s->id);
                                return stream_abort(s);
                        }
                        s->buf_start = 0;
                }
                /* buf_len + len <= VMUX_WINDOW: the credit we granted. */
                if (s->buf_start + s->buf_len + len > VMUX_WINDOW) {
                        memmove(s->buf, s->buf + s->buf_start, s->buf_len);
                        s->buf_start = 0;
                }
                memcpy(s->buf + s->buf_start + s->buf_len, data, len);
                s->buf_len += len;
        }
        r = maybe_return_credit(s);
        if (r >= 0)
                stream_update(s);
        return r;
}

int stream_credit(struct stream *s, uint32_t amount) {
        if (s->close_sent)
                return 0;
        if (amount > VMUX_WINDOW - s->send_credit)
                return peer_violation(s->mux, "CREDIT beyond the window on stream %u", s->id);
        s->send_credit += amount;
        int r = check_finished(s);
        if (r >= 0 && !s->close_sent)
                stream_update(s);
        return r;
}

int stream_peer_eof(struct stream *s) {
        if (s->close_sent)
                return 0;
        if (s->peer_eof)
                return peer_violation(s->mux, "second EOF on stream %u", s->id);
        s->peer_eof = true;
        return check_finished(s);
}

int stream_peer_close(struct stream *s) {
        int r = 0;

        if (!s->close_sent)
                r = transport_send(s->mux, VMUX_CLOSE, s->id, NULL, 0);
        stream_forget(s);
        return r;
}

void streams_drop_all(struct mux *m) {
        for (unsigned id = 1; id <= UINT16_MAX; id++)
                if (m->streams[id])
                        stream_forget(m->streams[id]);
}

void streams_collect(struct mux *m) {
        while (m->dead_streams) {
                struct stream *s = m->dead_streams;
                m->dead_streams = s->dead_next;
                free(s);
        }
}
