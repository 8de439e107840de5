/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The client side of busd: see bus-client.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "bus-client.h"
#include "bus-ring.h"
#include "daemon.h"
#include "log.h"
#include "spin-slots.h"

struct bus_call {
        struct bus_call *next;
        struct bus_client *client;
        uint32_t request_id;
        uint32_t expected_peer;         /* who answers: the callee, or busd with an ERROR */
        bus_client_reply_t cb;
        void *userdata;
        sd_event_source *timer;
};

struct bus_client {
        int fd;
        uint32_t peer_id;
        enum bus_role role;
        uint32_t last_request_id;
        uint64_t timeout_usec;          /* for sends that must wait for room */
        uint8_t *untrusted_rx;          /* one datagram as received */
        uint8_t *tx;
        struct bus_message *msg;        /* decoded datagram, event mode */

        sd_event_source *io;
        bus_client_handler_t handler;
        bus_client_disconnect_t on_disconnect;
        void *userdata;
        bool auto_echo;
        bool welcomed;                  /* WELCOME read: fds on later datagrams are dropped */
        int welcome_fds[2];             /* what came with WELCOME (spin slots, rings) */
        size_t n_welcome_fds;
        /* Rings from WELCOME (bus-ring.h), map NULL if none.  busd may send
         * on the socket until it has our first kick; once a message came on
         * the ring, the socket only kicks. */
        struct bus_rings rings;
        bool ring_seen;
        sd_event_source *ring_defer;    /* event mode: on while the ring may hold messages */
        bool hooked;                    /* in daemon_event_loop()'s poll hooks */
        struct bus_call *calls;
};

/* The errno an ERROR reply carries; a sender's nonsense (>= 0, INT32_MIN) reads as -EIO. */
static int reply_error(const struct bus_message *msg) {
        int32_t e = msg->u.error.error;

        return e < 0 && e != INT32_MIN ? e : -EIO;
}

static void close_welcome_fds(struct bus_client *c) {
        for (size_t i = 0; i < c->n_welcome_fds; i++)
                close(c->welcome_fds[i]);
        c->n_welcome_fds = 0;
}

static void bus_call_free(struct bus_call *call) {
        sd_event_source_disable_unref(call->timer);
        free(call);
}

void bus_client_free(struct bus_client *c) {
        if (!c)
                return;
        while (c->calls) {
                struct bus_call *call = c->calls;

                c->calls = call->next;
                bus_call_free(call);
        }
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->ring_defer);
        if (c->hooked)
                daemon_poll_hook_remove(c);
        if (c->fd >= 0)
                close(c->fd);
        close_welcome_fds(c);
        bus_rings_unmap(&c->rings);
        free(c->untrusted_rx);
        free(c->tx);
        free(c->msg);
        free(c);
}

uint32_t bus_client_peer_id(const struct bus_client *c) { return c->peer_id; }
enum bus_role bus_client_role(const struct bus_client *c) { return c->role; }
int bus_client_fd(const struct bus_client *c) { return c->fd; }
bool bus_client_is_connected(const struct bus_client *c) { return c->fd >= 0; }
void bus_client_set_auto_echo(struct bus_client *c, bool answer) { c->auto_echo = answer; }

void bus_client_set_handler(struct bus_client *c, bus_client_handler_t handler, void *userdata) {
        c->handler = handler;
        c->userdata = userdata;
}

uint32_t bus_client_new_request_id(struct bus_client *c) {
        if (++c->last_request_id == 0)
                c->last_request_id = 1;
        return c->last_request_id;
}

static int poll_fd(int fd, short events, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                uint64_t now = now_usec();
                struct pollfd pfd = { .fd = fd, .events = events };
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int) ((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

/* One datagram from the socket into untrusted_rx: its size, 0 none, < 0 the end. */
static ssize_t bus_client_recv_socket(struct bus_client *c) {
        ssize_t n;

        /* Only WELCOME may bring fds (the spin slots, the rings). */
        if (c->welcomed) {
                n = recv(c->fd, c->untrusted_rx, BUS_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0)
                        n = -errno;
        } else
                n = recv_with_fds(c->fd, c->untrusted_rx, BUS_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC,
                                  c->welcome_fds, ELEMENTSOF(c->welcome_fds), &c->n_welcome_fds);
        if (n < 0) {
                if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
                        return 0;
                return n == -EPIPE ? -ECONNRESET : n;
        }
        return n == 0 ? -ECONNRESET : n;
}

static bool is_kick(const struct bus_client *c, ssize_t n) {
        return c->rings.map && n == 1 && c->untrusted_rx[0] == BUS_RING_KICK;
}

/* One datagram from the ring into untrusted_rx: its size, 0 none, < 0 broken. */
static ssize_t bus_client_read_ring(struct bus_client *c) {
        ssize_t n = bus_ring_read(&c->rings.rx, c->untrusted_rx, BUS_MSG_MAX);

        if (n < 0)
                return log_error_errno(-EBADMSG, "busd broke its ring");
        if (n > 0)
                c->ring_seen = true;
        if (bus_ring_producer_waits(&c->rings.rx)) {
                int r = bus_ring_kick(c->fd);
                if (r < 0)
                        return r;
        }
        return n;
}

/* Event mode: have the ring read on the loop's next turn if it holds something. */
static void bus_client_ring_pending(struct bus_client *c) {
        if (c->ring_defer && !bus_ring_empty(&c->rings.rx))
                (void) sd_event_source_set_enabled(c->ring_defer, SD_EVENT_ONESHOT);
}

/* Consume the kicks waiting on the socket, and nothing else: 0 it is
 * empty, 1 a message waits there (before busd's first message on the ring,
 * one to read), -ECONNRESET busd hung up. */
static int bus_client_drain_kicks(struct bus_client *c) {
        for (;;) {
                uint8_t untrusted_peek[2];
                ssize_t n = recv(c->fd, untrusted_peek, sizeof(untrusted_peek), MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);

                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
                if (n == 0)
                        return -ECONNRESET;
                if (n != 1 || untrusted_peek[0] != BUS_RING_KICK)
                        return c->ring_seen ? log_error_errno(-EBADMSG, "busd sent on the socket, not the ring") : 1;
                if (recv(c->fd, untrusted_peek, sizeof(untrusted_peek), MSG_DONTWAIT) < 0 && errno != EINTR)
                        return -errno;
        }
}

/*
 * Receive and decode one datagram without blocking: 1 decoded into msg, 0
 * nothing there, < 0 the connection is unusable (-ECONNRESET hung up,
 * -EMSGSIZE/-EBADMSG busd sent something it never would).
 */
static int bus_client_read_one(struct bus_client *c, struct bus_message *msg) {
        ssize_t n = 0;
        int r;

        /* What busd sent on the socket before it took to the ring comes first. */
        if (!c->rings.map || !c->ring_seen) {
                n = bus_client_recv_socket(c);
                if (is_kick(c, n))
                        n = 0;
        }
        if (n == 0 && c->rings.map && c->welcomed)
                n = bus_client_read_ring(c);
        if (n <= 0)
                return (int) n;
        if ((size_t) n > BUS_MSG_MAX)
                return log_error_errno(-EMSGSIZE, "busd sent a datagram of %zd bytes", n);
        r = bus_decode(c->untrusted_rx, (size_t) n, msg);
        if (r < 0)
                return log_error_errno(-EBADMSG, "busd sent a malformed message");
        if (bus_peer_role(msg->hdr.peer) == _BUS_ROLE_INVALID)
                return log_error_errno(-EBADMSG, "busd sent %s with no valid source",
                                       bus_type_to_string(msg->hdr.type));
        return 1;
}

/* Blocking mode: busd hung up or broke the protocol; nothing more is read from it. */
static void bus_client_close_fd(struct bus_client *c) {
        c->io = sd_event_source_disable_unref(c->io);
        c->ring_defer = sd_event_source_disable_unref(c->ring_defer);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
}

/* wait_first: start by waiting, not by a receive that would only find
 * nothing (a reply to a request just sent cannot be there yet). */
static int bus_client_receive_until(struct bus_client *c, uint64_t deadline, bool wait_first,
                                    struct bus_message *ret) {
        if (c->fd < 0)
                return -ENOTCONN;
        for (;;) {
                int r;

                if (!wait_first) {
                        r = bus_client_read_one(c, ret);
                        if (r == 0 && c->rings.map && c->welcomed) {
                                /* Nothing new: take the kicks of what was read, so
                                 * that the socket is readable only for what is
                                 * new, and look once more (a message whose kick
                                 * was just taken). */
                                r = bus_client_drain_kicks(c);
                                if (r >= 0)
                                        r = bus_client_read_one(c, ret);
                        }
                        if (r > 0)
                                return 0;
                        if (r < 0) {
                                bus_client_close_fd(c);
                                return r;
                        }
                }
                wait_first = false;
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll_fd(c->fd, POLLIN, deadline - now);
                if (r == 0 && c->rings.map)
                        r = bus_client_drain_kicks(c);
                /* the end: read_one finds it and closes */
                if (r < 0 && r != -ECONNRESET)
                        return r;
        }
}

int bus_client_receive(struct bus_client *c, uint64_t timeout_usec, struct bus_message *ret) {
        return bus_client_receive_until(c, now_usec() + timeout_usec, false, ret);
}

int bus_client_send(struct bus_client *c, uint16_t type, uint32_t to, uint32_t request_id, const void *payload) {
        struct bus_hdr hdr = { .type = type, .request_id = request_id, .peer = to };
        int n, r;

        if (c->fd < 0)
                return -ENOTCONN;
        n = bus_encode(&hdr, payload, c->tx, BUS_MSG_MAX);
        if (n < 0)
                return n;
        while (c->rings.map) {
                r = bus_ring_write(&c->rings.tx, c->tx, (size_t) n);
                if (r > 0)
                        return bus_ring_consumer_sleeps(&c->rings.tx) ? bus_ring_kick(c->fd) : 0;
                if (r < 0)
                        return log_error_errno(-EBADMSG, "busd broke its ring");
                /* No room: busd kicks once it has read. */
                r = poll_fd(c->fd, POLLIN, c->timeout_usec);
                if (r == 0)
                        r = bus_client_drain_kicks(c);
                if (r < 0)
                        return r;
                /* A message from before the ring keeps the socket readable
                 * (it is a later receive's): poll cannot wait for the kick,
                 * so wait a little while busd reads. */
                if (r == 1)
                        (void) usleep(100);
                bus_client_ring_pending(c);
        }
        for (;;) {
                if (send(c->fd, c->tx, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno == EPIPE || errno == ECONNRESET)
                        return -ECONNRESET;
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                r = poll_fd(c->fd, POLLOUT, c->timeout_usec);
                if (r < 0)
                        return r;
        }
}

int bus_client_reply(struct bus_client *c, const struct bus_message *request, uint16_t type, const void *payload) {
        return bus_client_send(c, type, request->hdr.peer, request->hdr.request_id, payload);
}

static int bus_client_answer_echo(struct bus_client *c, const struct bus_message *msg) {
        struct bus_msg_echo_reply reply = { .data_len = msg->u.echo_request.data_len };

        memcpy(reply.data, msg->u.echo_request.data, reply.data_len);
        return bus_client_reply(c, msg, BUS_MSG_ECHO_REPLY, &reply);
}

int bus_client_new_from_fd(int fd, uint64_t timeout_usec, struct bus_client **ret) {
        struct bus_client *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->timeout_usec = timeout_usec ?: BUS_CLIENT_TIMEOUT_DEFAULT;
        c->auto_echo = true;
        c->untrusted_rx = malloc(BUS_MSG_MAX);
        c->tx = malloc(BUS_MSG_MAX);
        c->msg = malloc(sizeof(*c->msg));
        if (!c->untrusted_rx || !c->tx || !c->msg) {
                r = -ENOMEM;
                goto fail;
        }

        r = bus_client_receive(c, c->timeout_usec, c->msg);
        if (r < 0)
                goto fail;
        const struct bus_msg_welcome *w = &c->msg->u.welcome;
        if (c->msg->hdr.type != BUS_MSG_WELCOME || c->msg->hdr.peer != BUS_PEER_BUSD ||
            w->version != BUS_PROTOCOL_VERSION || w->role >= _BUS_ROLE_MAX ||
            !(BUS_ROLE_DAEMONS_MASK & (1u << w->role)) || w->peer != BUS_PEER_ROLE(w->role)) {
                r = log_error_errno(-EBADMSG, "busd did not start with a valid WELCOME");
                goto fail;
        }
        if ((w->fds & ~(BUS_WELCOME_FD_SPIN_SLOTS | BUS_WELCOME_FD_RINGS)) ||
            c->n_welcome_fds != (size_t) __builtin_popcount(w->fds)) {
                r = log_error_errno(-EBADMSG, "busd's WELCOME came with %zu fds, not those it names",
                                    c->n_welcome_fds);
                goto fail;
        }
        c->role = (enum bus_role) w->role;
        c->peer_id = w->peer;
        c->welcomed = true;
        size_t i = 0;
        if (w->fds & BUS_WELCOME_FD_SPIN_SLOTS) {
                r = spin_slots_map(c->welcome_fds[i++]);
                if (r < 0)
                        log_debug_errno(r, "Cannot map busd's spin slots, polling without them");
        }
        if (w->fds & BUS_WELCOME_FD_RINGS) {
                /* Without our kick busd stays on the socket. */
                r = bus_rings_map(c->welcome_fds[i++], false, &c->rings);
                if (r >= 0)
                        r = bus_ring_kick(c->fd);
                if (r < 0) {
                        log_debug_errno(r, "Cannot map busd's rings, talking on the socket");
                        bus_rings_unmap(&c->rings);
                }
        }
        close_welcome_fds(c);
        *ret = c;
        return 0;
fail:
        bus_client_free(c);
        return r;
}

int bus_client_connect(const char *path, uint64_t timeout_usec, struct bus_client **ret) {
        _cleanup_free_ char *default_path = NULL;
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l;

        if (!path) {
                default_path = daemon_runtime_path(NULL, "bus.sock");
                if (!default_path)
                        return -ENOMEM;
                path = default_path;
        }
        l = strlen(path);
        if (l == 0 || l >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, l);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0)
                return -errno;
        return bus_client_new_from_fd(TAKE_FD(fd), timeout_usec, ret);
}

/* Expected source of the answer to a message sent to `to`. */
static uint32_t answer_source(uint16_t type, uint32_t to) {
        if (to != BUS_PEER_NONE)
                return to;
        enum bus_role r = bus_route_default_receiver(type);
        return r == _BUS_ROLE_INVALID ? BUS_PEER_NONE : BUS_PEER_ROLE(r);
}

static bool is_answer(const struct bus_message *msg, uint32_t request_id, uint32_t expected_peer) {
        if (msg->hdr.request_id != request_id)
                return false;
        return msg->hdr.peer == expected_peer ||
               (msg->hdr.type == BUS_MSG_ERROR && msg->hdr.peer == BUS_PEER_BUSD);
}

int bus_client_call(struct bus_client *c, uint16_t type, uint32_t to, const void *payload,
                    uint64_t timeout_usec, struct bus_message *reply) {
        uint32_t id = bus_client_new_request_id(c);
        uint32_t expected = answer_source(type, to);
        uint64_t deadline = now_usec() + timeout_usec;
        int r;

        r = bus_client_send(c, type, to, id, payload);
        if (r < 0)
                return r;
        for (bool sent_now = true;; sent_now = false) {
                r = bus_client_receive_until(c, deadline, sent_now, reply);
                if (r < 0)
                        return r;
                if (is_answer(reply, id, expected))
                        return reply->hdr.type == BUS_MSG_ERROR ? reply_error(reply) : 0;
                if (reply->hdr.type == BUS_MSG_ECHO_REQUEST && c->auto_echo)
                        r = bus_client_answer_echo(c, reply);
                else if (c->handler)
                        r = c->handler(c, reply, c->userdata);
                if (r < 0)
                        return r;
        }
}

/* --- event mode --- */

static void bus_client_disconnect(struct bus_client *c, int error) {
        bus_client_disconnect_t cb = c->on_disconnect;
        void *userdata = c->userdata;

        if (c->fd < 0)
                return;
        c->io = sd_event_source_disable_unref(c->io);
        c->ring_defer = sd_event_source_disable_unref(c->ring_defer);
        if (c->hooked)
                daemon_poll_hook_remove(c);
        c->hooked = false;
        close(c->fd);
        c->fd = -1;
        while (c->calls) {
                struct bus_call *call = c->calls;

                c->calls = call->next;
                call->cb(c, -ECONNRESET, NULL, call->userdata);
                bus_call_free(call);
        }
        if (cb)
                cb(c, error, userdata);         /* last: it may free c */
}

static struct bus_call *bus_client_take_call(struct bus_client *c, const struct bus_message *msg) {
        for (struct bus_call **pp = &c->calls; *pp; pp = &(*pp)->next)
                if (is_answer(msg, (*pp)->request_id, (*pp)->expected_peer)) {
                        struct bus_call *call = *pp;

                        *pp = call->next;
                        return call;
                }
        return NULL;
}

static int bus_client_dispatch(struct bus_client *c, const struct bus_message *msg) {
        struct bus_call *call;

        if (msg->hdr.request_id != 0 && (call = bus_client_take_call(c, msg))) {
                int error = msg->hdr.type == BUS_MSG_ERROR ? reply_error(msg) : 0;

                call->cb(c, error, msg, call->userdata);
                bus_call_free(call);
                return 0;
        }
        if (msg->hdr.type == BUS_MSG_ECHO_REQUEST && c->auto_echo)
                return bus_client_answer_echo(c, msg);
        if (c->handler)
                return c->handler(c, msg, c->userdata);
        return 0;
}

/* One message per dispatch, as one datagram per readable socket: sd-event
 * serves every other source in between. */
static void bus_client_process_one(struct bus_client *c, bool hung_up) {
        int r = bus_client_read_one(c, c->msg);

        if (r == 0 && hung_up)
                r = -ECONNRESET;
        if (r > 0) {
                /* Before the handler, which may free c. */
                if (c->rings.map)
                        bus_client_ring_pending(c);
                r = bus_client_dispatch(c, c->msg);
                if (r == -ECONNRESET || r == -ENOTCONN)
                        r = -ECONNRESET;
        }
        if (r < 0)
                bus_client_disconnect(c, r);
}

static int bus_client_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct bus_client *c = userdata;

        /* One kick per wake-up, as one datagram was: more, and the socket
         * stays readable. */
        if (c->rings.map && c->ring_seen && (revents & EPOLLIN)) {
                ssize_t n = bus_client_recv_socket(c);
                if (n != 0 && !is_kick(c, n)) {
                        bus_client_disconnect(c, n < 0 ? (int) n : log_error_errno(-EBADMSG, "busd sent on the socket, not the ring"));
                        return 0;
                }
        }
        bus_client_process_one(c, (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN));
        return 0;
}

static int bus_client_on_ring(sd_event_source *s, void *userdata) {
        bus_client_process_one(userdata, false);
        return 0;
}

static void bus_client_poll(void *userdata) {
        bus_client_ring_pending(userdata);
}

static void bus_client_set_polling(bool polling, void *userdata) {
        struct bus_client *c = userdata;

        bus_ring_set_polling(&c->rings.rx, polling);
        /* What came before the mark went was not kicked. */
        if (!polling)
                bus_client_ring_pending(c);
}

int bus_client_attach_event(struct bus_client *c, sd_event *event, bus_client_handler_t handler,
                            bus_client_disconnect_t on_disconnect, void *userdata) {
        int r;

        if (c->fd < 0)
                return -ENOTCONN;
        if (c->io)
                return -EBUSY;
        r = sd_event_add_io(event, &c->io, c->fd, EPOLLIN, bus_client_on_io, c);
        if (r < 0)
                return r;
        if (c->rings.map) {
                r = sd_event_add_defer(event, &c->ring_defer, bus_client_on_ring, c);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->ring_defer, SD_EVENT_OFF);
                /* Without the hook the loop never polls the ring: busd kicks every time. */
                if (r >= 0 && daemon_poll_hook_add(&(struct daemon_poll_hook) {
                            .set_polling = bus_client_set_polling, .poll = bus_client_poll, .userdata = c }) >= 0)
                        c->hooked = true;
                if (r < 0) {
                        c->io = sd_event_source_disable_unref(c->io);
                        c->ring_defer = sd_event_source_disable_unref(c->ring_defer);
                        return r;
                }
                /* Messages may be there already (read by no one yet). */
                bus_client_ring_pending(c);
        }
        c->handler = handler;
        c->on_disconnect = on_disconnect;
        c->userdata = userdata;
        return 0;
}

static int bus_call_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct bus_call *call = userdata;
        struct bus_client *c = call->client;

        for (struct bus_call **pp = &c->calls; *pp; pp = &(*pp)->next)
                if (*pp == call) {
                        *pp = call->next;
                        break;
                }
        call->cb(c, -ETIMEDOUT, NULL, call->userdata);
        bus_call_free(call);
        return 0;
}

int bus_client_call_async(struct bus_client *c, uint16_t type, uint32_t to, const void *payload,
                          uint64_t timeout_usec, bus_client_reply_t cb, void *userdata, uint32_t *ret_request_id) {
        struct bus_call *call;
        int r;

        if (!c->io)
                return -EINVAL;         /* attach_event first */
        if (!cb)
                return -EINVAL;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (struct bus_call) {
                .client = c,
                .request_id = bus_client_new_request_id(c),
                .expected_peer = answer_source(type, to),
                .cb = cb,
                .userdata = userdata,
        };
        r = sd_event_add_time_relative(sd_event_source_get_event(c->io), &call->timer, CLOCK_MONOTONIC,
                                       timeout_usec ?: BUS_CLIENT_TIMEOUT_DEFAULT, 0, bus_call_on_timeout, call);
        if (r < 0) {
                free(call);
                return r;
        }
        r = bus_client_send(c, type, to, call->request_id, payload);
        if (r < 0) {
                bus_call_free(call);
                return r;
        }
        call->next = c->calls;
        c->calls = call;
        if (ret_request_id)
                *ret_request_id = call->request_id;
        return 0;
}
