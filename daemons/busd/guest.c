/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A guest domain's control channel.  busd is the vchan client of the
 * domain's agent on port 512 (as Qubes' qrexec-daemon is), reads qrexec
 * messages off it with the bounds of the qrexec codec, and closes the
 * channel on anything invalid or on a flood.  Nothing here can block: the
 * channel is non-blocking and what the ring does not take waits in a
 * bounded queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "busd.h"
#include "log.h"

/* A channel that is closing is gone already: nothing may be sent on it,
 * not even by what its closing sets off (the broker starting waiting calls). */
struct guest *guest_find(struct busd *b, uint32_t domid) {
        for (struct guest *g = b->guests; g; g = g->next)
                if (g->domid == domid && !g->closed)
                        return g;
        return NULL;
}

void guest_free(struct guest *g) {
        if (!g)
                return;
        sd_event_source_disable_unref(g->io);
        sd_event_source_disable_unref(g->connect_timer);
        vchan_close(g->vchan);
        outq_clear(&g->queue);
        free(g->untrusted_rx);
        free(g);
}

void guest_close(struct guest *g, int reason, const char *why) {
        struct busd *b = g->busd;

        if (g->closed)
                return;
        if (reason < 0)
                log_warning_errno(reason, "Closing the control channel of domain %u (%s): %s",
                                  g->domid, g->name, why);
        else
                log_info("Closing the control channel of domain %u (%s): %s", g->domid, g->name, why);

        g->closed = true;
        broker_on_channel_closed(b, g);
        for (struct guest **pp = &b->guests; *pp; pp = &(*pp)->next)
                if (*pp == g) {
                        *pp = g->next;
                        break;
                }
        g->io = sd_event_source_disable_unref(g->io);
        g->connect_timer = sd_event_source_disable_unref(g->connect_timer);
        vchan_close(g->vchan);
        g->vchan = NULL;
        outq_clear(&g->queue);

        guest_notify_down(b, g->domid, reason);

        g->next_dead = b->dead_guests;
        b->dead_guests = g;
        busd_schedule_reap(b);
}

/* Write what the ring takes now; keep the rest (in order) in the queue. */
static int guest_flush(struct guest *g) {
        while (!outq_empty(&g->queue)) {
                struct outq_entry *e = outq_front(&g->queue);
                ssize_t n = vchan_write(g->vchan, e->data + e->offset, e->size - e->offset);

                if (n < 0) {
                        guest_close(g, (int) n, "write failed");
                        return (int) n;
                }
                if (n == 0)
                        break;
                e->offset += (size_t) n;
                if (e->offset == e->size)
                        outq_pop(&g->queue);
        }
        return 0;
}

int guest_write(struct guest *g, const uint8_t *buf, size_t size) {
        size_t done = 0;
        int r;

        if (g->closed)
                return -ENOTCONN;
        if (outq_empty(&g->queue)) {
                ssize_t n = vchan_write(g->vchan, buf, size);

                if (n < 0) {
                        guest_close(g, (int) n, "write failed");
                        return (int) n;
                }
                done = (size_t) n;
                if (done == size)
                        return 0;
        }
        r = outq_push(&g->queue, buf + done, size - done);
        if (r < 0) {
                guest_close(g, r, r == -ENOBUFS ? "outbound queue full: the guest does not read"
                                                : "cannot queue a message");
                return r;
        }
        return 0;
}

/* One token per message; BUSD_GUEST_RATE a second, up to BUSD_GUEST_BURST saved. */
static bool guest_take_token(struct guest *g) {
        uint64_t now = now_usec();
        uint64_t cap = (uint64_t) BUSD_GUEST_BURST * 1000;

        g->tokens_milli += (now - g->tokens_stamp_usec) * BUSD_GUEST_RATE / 1000;
        if (g->tokens_milli > cap)
                g->tokens_milli = cap;
        g->tokens_stamp_usec = now;
        if (g->tokens_milli < 1000)
                return false;
        g->tokens_milli -= 1000;
        return true;
}

/* Read whole messages while the ring has bytes; 0, or < 0 when the channel was closed. */
static int guest_read_messages(struct guest *g) {
        for (;;) {
                ssize_t n;
                int r;

                if (!g->have_hdr) {
                        n = vchan_read(g->vchan, g->untrusted_hdr + g->hdr_have,
                                       QREXEC_HEADER_SIZE - g->hdr_have);
                        if (n < 0) {
                                guest_close(g, (int) n, "read failed");
                                return (int) n;
                        }
                        if (n == 0)
                                return 0;
                        g->hdr_have += (size_t) n;
                        if (g->hdr_have < QREXEC_HEADER_SIZE)
                                continue;

                        qrexec_decode_header(g->untrusted_hdr, &g->hdr);
                        r = qrexec_check_header(&g->hdr, QREXEC_STREAM_FROM_AGENT,
                                                g->state == GUEST_UP ? g->version : 0);
                        if (r < 0 || g->hdr.len > BUSD_GUEST_RX_MAX) {
                                log_warning("Domain %u sent an invalid header: type 0x%x len %u",
                                            g->domid, g->hdr.type, g->hdr.len);
                                guest_close(g, -EBADMSG, "invalid message");
                                return -EBADMSG;
                        }
                        if (!guest_take_token(g)) {
                                guest_close(g, -EDQUOT, "message rate over its limit");
                                return -EDQUOT;
                        }
                        g->have_hdr = true;
                        g->rx_have = 0;
                }

                if (g->rx_have < g->hdr.len) {
                        n = vchan_read(g->vchan, g->untrusted_rx + g->rx_have, g->hdr.len - g->rx_have);
                        if (n < 0) {
                                guest_close(g, (int) n, "read failed");
                                return (int) n;
                        }
                        if (n == 0)
                                return 0;
                        g->rx_have += (size_t) n;
                        continue;
                }

                g->have_hdr = false;
                g->hdr_have = 0;
                r = guest_handle_message(g, &g->hdr, g->untrusted_rx);
                if (g->closed)
                        return -ECONNRESET;
                if (r < 0) {
                        guest_close(g, r, "invalid message");
                        return r;
                }
        }
}

static void guest_connected(struct guest *g) {
        log_info("Control channel of domain %u (%s) connected, waiting for HELLO", g->domid, g->name);
        g->state = GUEST_HELLO;
        vchan_set_blocking(g->vchan, false);
}

static int guest_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct guest *g = userdata;
        int r;

        if (g->state == GUEST_CONNECTING) {
                r = vchan_client_init_finish(g->vchan);
                if (r < 0) {
                        guest_close(g, r, "cannot connect");
                        return 0;
                }
                if (r > 0)
                        return 0;
                guest_connected(g);
        } else {
                r = vchan_wait(g->vchan);
                if (r < 0) {
                        guest_close(g, r, "channel failed");
                        return 0;
                }
        }

        /* What the guest sent before it hung up still counts. */
        if (guest_read_messages(g) < 0)
                return 0;
        if (guest_flush(g) < 0)
                return 0;
        if (vchan_is_open(g->vchan) != VCHAN_CONNECTED)
                guest_close(g, -ECONNRESET, "the guest closed its channel");
        return 0;
}

static int guest_on_connect_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct guest *g = userdata;

        guest_close(g, -ETIMEDOUT, "no HELLO in time");
        return 0;
}

int guest_open(struct busd *b, const struct bus_msg_domain_channel_open *req) {
        struct guest *g;
        int r;

        /* Domain 0 is the admin domain's own qrexec agent (services that
         * domains call in the admin domain): a channel like any other. */
        if (req->domid > BUS_DOMID_MAX || req->vchan_backend >= _VCHAN_BACKEND_MAX)
                return -EINVAL;
        if (guest_find(b, req->domid))
                return -EEXIST;

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        *g = (struct guest) {
                .busd = b,
                .domid = req->domid,
                .state = GUEST_CONNECTING,
                .watch = -1,
                .tokens_milli = (uint64_t) BUSD_GUEST_BURST * 1000,
                .tokens_stamp_usec = now_usec(),
        };
        memcpy(g->name, req->name, sizeof(g->name));
        memcpy(g->vchan_dir, req->vchan_dir, sizeof(g->vchan_dir));
        outq_init(&g->queue, BUSD_GUEST_QUEUE_MAX_MSGS, BUSD_GUEST_QUEUE_MAX_BYTES);
        g->next = b->guests;
        b->guests = g;

        g->untrusted_rx = malloc(BUSD_GUEST_RX_MAX);
        if (!g->untrusted_rx) {
                guest_close(g, -ENOMEM, "out of memory");
                return 0;
        }

        struct vchan_endpoint ep = {
                .backend = (enum vchan_backend) req->vchan_backend,
                .local_domid = 0,
                .remote_domid = (int) req->domid,
                .port = BUSD_CONTROL_PORT,
                .socket_dir = g->vchan_dir[0] ? g->vchan_dir : NULL,
        };
        log_info("Opening the control channel of domain %u (%s, %s)", g->domid, g->name,
                 vchan_backend_to_string(ep.backend));
        r = vchan_client_init_async(&ep, &g->vchan);
        if (r < 0) {
                guest_close(g, r, "cannot start connecting");
                return 0;
        }
        vchan_set_blocking(g->vchan, false);
        r = sd_event_add_io(b->event, &g->io, vchan_fd_for_select(g->vchan), EPOLLIN, guest_on_io, g);
        if (r >= 0)
                r = sd_event_add_time_relative(b->event, &g->connect_timer, CLOCK_MONOTONIC,
                                               BUSD_GUEST_CONNECT_TIMEOUT_USEC, 0, guest_on_connect_timeout, g);
        if (r < 0) {
                guest_close(g, r, "cannot watch the channel");
                return 0;
        }
        return 0;
}
