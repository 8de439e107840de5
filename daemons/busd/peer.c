/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One local daemon connection: receive a datagram, hand it to the router;
 * send datagrams, queueing only what the socket (or the ring) refuses; drop
 * the peer when it misbehaves or stops reading.  With rings (bus-ring.h)
 * the socket carries kicks; the peer may still send whole datagrams on it
 * (a raw client), they are routed all the same.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "busd.h"
#include "daemon.h"
#include "log.h"

const char *peer_name(const struct peer *p) {
        return bus_role_to_string(p->role) ?: "?";
}

void peer_free(struct peer *p) {
        if (!p)
                return;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->stall_timer);
        sd_event_source_disable_unref(p->ring_defer);
        outq_clear(&p->queue);
        bus_rings_unmap(&p->rings);
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
        p->ring_defer = sd_event_source_disable_unref(p->ring_defer);
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

/* One datagram to the peer's ring: 1 written, 0 no room (the peer kicks
 * once there is), < 0 the peer broke its ring and has been dropped. */
static int peer_ring_write(struct peer *p, const uint8_t *buf, size_t size) {
        int r = bus_ring_write(&p->rings.tx, buf, size);

        if (r < 0) {
                peer_drop(p, "its ring is corrupt", r);
                return r;
        }
        if (r > 0 && bus_ring_consumer_sleeps(&p->rings.tx)) {
                int k = bus_ring_kick(p->fd);
                if (k < 0) {
                        peer_drop_on_socket_error(p, "kick failed", k);
                        return k;
                }
        }
        return r;
}

/* 1 sent, 0 no room now, < 0 the peer has been dropped. */
static int peer_write(struct peer *p, const uint8_t *buf, size_t size) {
        if (p->ring_active)
                return peer_ring_write(p, buf, size);
        if (send(p->fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                return 1;       /* SEQPACKET: all or nothing */
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
        int r = -errno;
        peer_drop_on_socket_error(p, "send failed", r);
        return r;
}

int peer_send(struct peer *p, const uint8_t *buf, size_t size) {
        int r;

        if (p->dropped)
                return -ENOTCONN;

        if (outq_empty(&p->queue)) {
                r = peer_write(p, buf, size);
                if (r != 0)
                        return r < 0 ? r : 0;
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
        /* A ring with no room asked for a kick; a socket is watched. */
        if (p->queue.count == 1 && !p->ring_active) {
                r = peer_set_want_write(p, true);
                if (r < 0) {
                        peer_drop(p, "cannot watch the socket", r);
                        return r;
                }
        }
        return 0;
}

/* The socket or ring takes more: write queued datagrams until it refuses again. */
static void peer_flush(struct peer *p) {
        bool progress = false;
        int r;

        while (!outq_empty(&p->queue)) {
                struct outq_entry *e = outq_front(&p->queue);

                r = peer_write(p, e->data, e->size);
                if (r < 0)
                        return;
                if (r == 0)
                        break;
                outq_pop(&p->queue);
                progress = true;
        }
        if (progress && p->stall_timer)
                (void) sd_event_source_set_enabled(p->stall_timer, SD_EVENT_OFF);
        if (outq_empty(&p->queue) || p->ring_active) {
                r = peer_set_want_write(p, false);
                if (r < 0)
                        peer_drop(p, "cannot watch the socket", r);
        }
}

/* Route one datagram of n bytes in b->untrusted_rx. */
static void peer_route(struct peer *p, ssize_t n) {
        int r = router_handle(p, (size_t) n);

        if (r < 0 && !p->dropped)
                peer_drop(p, "protocol violation", r);
}

/* The peer reads its ring: from now on everything goes there, what the
 * socket did not take too (the peer reads the socket's first). */
static void peer_activate_ring(struct peer *p) {
        if (p->ring_active || !p->rings.map)
                return;
        p->ring_active = true;
        peer_flush(p);
}

static void peer_ring_pending(struct peer *p) {
        if (p->ring_defer && !p->dropped)
                (void) sd_event_source_set_enabled(p->ring_defer, SD_EVENT_ONESHOT);
}

/* A few datagrams from the ring per dispatch: sd-event serves every other
 * ready source in between. */
#define PEER_RING_BATCH 16

static int peer_on_ring(sd_event_source *s, void *userdata) {
        struct peer *p = userdata;
        struct busd *b = p->busd;

        for (unsigned i = 0; i < PEER_RING_BATCH && !p->dropped; i++) {
                ssize_t n = bus_ring_read(&p->rings.rx, b->untrusted_rx, BUS_MSG_MAX);

                if (n == 0)
                        break;
                if (n < 0) {
                        peer_drop(p, "its ring is corrupt", (int) n);
                        return 0;
                }
                peer_activate_ring(p);
                peer_route(p, n);
        }
        if (p->dropped)
                return 0;
        if (bus_ring_producer_waits(&p->rings.rx)) {
                int k = bus_ring_kick(p->fd);
                if (k < 0) {
                        peer_drop_on_socket_error(p, "kick failed", k);
                        return 0;
                }
        }
        if (!bus_ring_empty(&p->rings.rx))
                peer_ring_pending(p);
        return 0;
}

static void peer_receive(struct peer *p) {
        struct busd *b = p->busd;
        ssize_t n;

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
        if (n == 1 && p->rings.map && b->untrusted_rx[0] == BUS_RING_KICK) {
                /* Room in its ring, or messages there, or it reads it from now on. */
                peer_activate_ring(p);
                peer_flush(p);
                if (!p->dropped)
                        (void) peer_on_ring(NULL, p);
                return;
        }
        peer_route(p, n);
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

int peer_attach_rings(struct peer *p, struct bus_rings *r) {
        int k = sd_event_add_defer(p->busd->event, &p->ring_defer, peer_on_ring, p);

        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(p->ring_defer, SD_EVENT_OFF);
        p->rings = *r;
        *r = (struct bus_rings) {};
        bus_ring_set_polling(&p->rings.rx, p->busd->polling);
        return 0;
}

/* daemon_event_loop() polls busd: no kicks wanted, every ring looked at on each turn. */
static void peers_poll(void *userdata) {
        struct busd *b = userdata;

        for (size_t i = 0; i < _BUS_ROLE_MAX; i++) {
                struct peer *p = b->peers[i];
                if (p && p->ring_defer && !bus_ring_empty(&p->rings.rx))
                        peer_ring_pending(p);
        }
}

static void peers_set_polling(bool polling, void *userdata) {
        struct busd *b = userdata;

        b->polling = polling;
        for (size_t i = 0; i < _BUS_ROLE_MAX; i++) {
                struct peer *p = b->peers[i];
                if (p && p->ring_defer)
                        bus_ring_set_polling(&p->rings.rx, polling);
        }
        /* What came before the mark went was not kicked. */
        if (!polling)
                peers_poll(b);
}

int peers_add_poll_hook(struct busd *b) {
        return daemon_poll_hook_add(&(struct daemon_poll_hook) {
                .set_polling = peers_set_polling,
                .poll = peers_poll,
                .userdata = b,
        });
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
