/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One local daemon connection: receive a datagram, hand it to the router;
 * send datagrams, queueing only what the socket refuses; drop the peer when
 * it misbehaves or stops reading.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "busd.h"
#include "log.h"

const char *peer_name(const struct peer *p) {
        return bus_role_to_string(p->role) ?: "?";
}

void peer_free(struct peer *p) {
        if (!p)
                return;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->stall_timer);
        outq_clear(&p->queue);
        if (p->fd >= 0)
                close(p->fd);
        free(p);
}

void peer_drop(struct peer *p, const char *reason, int error) {
        struct busd *b = p->busd;

        if (p->dropped)
                return;
        /* error 0: an orderly end, not a drop. */
        if (error != 0)
                log_warning_errno(error, "Dropping %s (peer 0x%x, pid %d, uid %u): %s",
                                  peer_name(p), p->id, (int) p->pid, (unsigned) p->uid, reason);
        else
                log_info("%s (peer 0x%x, pid %d, uid %u) %s",
                         peer_name(p), p->id, (int) p->pid, (unsigned) p->uid, reason);

        p->dropped = true;
        if (b->peers[p->role] == p)
                b->peers[p->role] = NULL;
        p->io = sd_event_source_disable_unref(p->io);
        p->stall_timer = sd_event_source_disable_unref(p->stall_timer);
        outq_clear(&p->queue);
        if (p->fd >= 0) {
                close(p->fd);
                p->fd = -1;
        }
        /* Someone up the stack may still hold p: free it from the loop. */
        p->next_dead = b->dead_peers;
        b->dead_peers = p;
        busd_schedule_reap(b);
}

/* A socket error: the peer hanging up is an orderly end, anything else a failure. */
static void peer_drop_on_socket_error(struct peer *p, const char *what, int error) {
        if (error == -EPIPE || error == -ECONNRESET)
                peer_drop(p, "disconnected", 0);
        else
                peer_drop(p, what, error);
}

static int peer_on_stall(sd_event_source *s, uint64_t usec, void *userdata) {
        struct peer *p = userdata;

        peer_drop(p, "outbound queue stayed full: the peer does not read", -ENOBUFS);
        return 0;
}

/* The queue refused a message: give the peer stall_timeout to start reading again. */
static void peer_arm_stall_timer(struct peer *p) {
        int r;

        if (p->stall_timer) {
                int enabled = SD_EVENT_OFF;

                (void) sd_event_source_get_enabled(p->stall_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time_relative(p->stall_timer, p->busd->stall_timeout_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->stall_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(p->busd->event, &p->stall_timer, CLOCK_MONOTONIC,
                                               p->busd->stall_timeout_usec, 0, peer_on_stall, p);
        if (r < 0) {
                peer_drop(p, "cannot arm the stall timer", r);
                return;
        }
        /* Once per stall, not once per refused message: a flood must not flood the log. */
        log_warning("Outbound queue of %s (peer 0x%x) is full (%zu messages, %zu bytes): refusing messages "
                    "for it; dropping it unless it reads within %llu ms", peer_name(p), p->id, p->queue.count,
                    p->queue.bytes, (unsigned long long) (p->busd->stall_timeout_usec / 1000));
}

static int peer_set_want_write(struct peer *p, bool want) {
        return sd_event_source_set_io_events(p->io, want ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

int peer_send(struct peer *p, const uint8_t *buf, size_t size) {
        ssize_t n;
        int r;

        if (p->dropped)
                return -ENOTCONN;

        if (outq_empty(&p->queue)) {
                n = send(p->fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n >= 0)
                        return 0;       /* SEQPACKET: all or nothing */
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        r = -errno;
                        peer_drop_on_socket_error(p, "send failed", r);
                        return r;
                }
        }

        r = outq_push(&p->queue, buf, size);
        if (r == -ENOBUFS) {
                peer_arm_stall_timer(p);
                return r;
        }
        if (r < 0) {
                peer_drop(p, "cannot queue a message", r);
                return r;
        }
        if (p->queue.count == 1) {
                r = peer_set_want_write(p, true);
                if (r < 0) {
                        peer_drop(p, "cannot watch the socket", r);
                        return r;
                }
        }
        return 0;
}

/* The socket takes more: write queued datagrams until it refuses again. */
static void peer_flush(struct peer *p) {
        bool progress = false;
        int r;

        while (!outq_empty(&p->queue)) {
                struct outq_entry *e = outq_front(&p->queue);
                ssize_t n = send(p->fd, e->data, e->size, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                                break;
                        peer_drop_on_socket_error(p, "send failed", -errno);
                        return;
                }
                outq_pop(&p->queue);
                progress = true;
        }
        if (progress && p->stall_timer)
                (void) sd_event_source_set_enabled(p->stall_timer, SD_EVENT_OFF);
        if (outq_empty(&p->queue)) {
                r = peer_set_want_write(p, false);
                if (r < 0)
                        peer_drop(p, "cannot watch the socket", r);
        }
}

static void peer_receive(struct peer *p) {
        struct busd *b = p->busd;
        ssize_t n;
        int r;

        /* MSG_TRUNC: n is the real datagram size even when it did not fit. */
        n = recv(p->fd, b->untrusted_rx, BUS_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        return;
                peer_drop_on_socket_error(p, "receive failed", -errno);
                return;
        }
        if (n == 0) {
                peer_drop(p, "disconnected", 0);
                return;
        }
        if ((size_t) n > BUS_MSG_MAX) {
                peer_drop(p, "datagram larger than BUS_MSG_MAX", -EMSGSIZE);
                return;
        }

        r = router_handle(p, (size_t) n);
        if (r < 0 && !p->dropped)
                peer_drop(p, "protocol violation", r);
}

static int peer_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct peer *p = userdata;

        if (revents & EPOLLOUT)
                peer_flush(p);
        /* One datagram per dispatch: sd-event then serves every other ready peer in turn. */
        if (!p->dropped && (revents & EPOLLIN))
                peer_receive(p);
        else if (!p->dropped && (revents & (EPOLLHUP | EPOLLERR)))
                peer_drop(p, "hung up", 0);
        return 0;
}

int peer_new(struct busd *b, int fd, enum bus_role role, pid_t pid, uid_t uid, struct peer **ret) {
        struct peer *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (struct peer) {
                .busd = b,
                .fd = fd,
                .role = role,
                .id = BUS_PEER_ROLE(role),
                .pid = pid,
                .uid = uid,
        };
        outq_init(&p->queue, BUSD_PEER_QUEUE_MAX_MSGS, BUSD_PEER_QUEUE_MAX_BYTES);

        r = sd_event_add_io(b->event, &p->io, fd, EPOLLIN, peer_on_io, p);
        if (r < 0) {
                p->fd = -1;     /* the caller still owns fd */
                peer_free(p);
                return r;
        }
        *ret = p;
        return 0;
}
