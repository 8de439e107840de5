/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Brokering of qrexec data streams between two domains.
 *
 * qrexec-policyd allows a call and asks (QREXEC_CONNECT); busd picks the data
 * port, tells the source's agent MSG_SERVICE_CONNECT and the target's agent
 * MSG_EXEC_CMDLINE, and then makes the two ends meet without carrying a byte
 * of the data: the source's client binds `vchan.S.T.P.sock` in its own vchan
 * dir (it is the vchan server), busd sees the file appear (inotify) and
 * hard-links it into the target's vchan dir under the same name, where the
 * target's service connects to it as the vchan client.  A UNIX socket is
 * reached by its inode, so both names lead to one socket and the stream runs
 * directly between the two domains.  Each domain still sees only its own
 * directory.
 *
 * A port stays taken until both agents reported MSG_CONNECTION_TERMINATED for
 * it (or one of the channels went away), then both names are removed.  When
 * all ports of a pair are taken, further calls wait here (bounded) for one to
 * free up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busd.h"
#include "log.h"

#define BROKER_WAITING_MAX      4096u
#define BROKER_SETUP_TIMEOUT_USEC (120u * 1000000u)             /* as Qubes' vchan waits */
#define BROKER_WAIT_TIMEOUT_USEC (20u * 1000000u)               /* below policyd's 30 s for CONNECT */

struct broker_call {
        struct busd *busd;
        uint32_t source_domid;          /* vchan server */
        uint32_t target_domid;          /* vchan client */
        uint32_t port;                  /* 0 while waiting for one */
        uint32_t request_id;            /* policyd's, echoed in CONNECTED */
        bool just_exec;
        bool launching;                 /* in broker_launch(): a release only marks it */
        bool released;
        bool linked;
        bool source_done, target_done;
        char ident[BUS_IDENT_MAX + 1];
        char *cmdline;
        sd_event_source *setup_timer;
        struct broker_call *next;
};

static const char *socket_name(const struct broker_call *c, char *buf, size_t size) {
        (void) snprintf(buf, size, "vchan.%" PRIu32 ".%" PRIu32 ".%" PRIu32 ".sock", c->source_domid,
                        c->target_domid, c->port);
        return buf;
}

static int socket_path(const struct guest *g, const struct broker_call *c, char *buf, size_t size) {
        char name[64];
        int n = snprintf(buf, size, "%s/%s", g->vchan_dir, socket_name(c, name, sizeof(name)));

        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static bool same_pair(const struct broker_call *c, uint32_t a, uint32_t b) {
        return (c->source_domid == a && c->target_domid == b) || (c->source_domid == b && c->target_domid == a);
}

/* Ports are unique per unordered pair: an agent names a connection by
 * (peer, port).  With the admin domain, qubesd's Run has the even ones. */
static uint32_t broker_free_port(struct busd *b, uint32_t a, uint32_t d) {
        bool admin = a == 0 || d == 0;

        for (uint32_t port = admin ? QREXEC_ADMIN_CALL_PORT_FIRST : QREXEC_DATA_PORT_FIRST;
             port <= QREXEC_DATA_PORT_LAST; port += admin ? 2 : 1) {
                bool taken = false;

                for (struct broker_call *c = b->calls; c && !taken; c = c->next)
                        taken = c->port == port && same_pair(c, a, d);
                if (!taken)
                        return port;
        }
        return 0;
}

static void broker_unlink_names(struct broker_call *c) {
        struct busd *b = c->busd;
        char path[PATH_MAX];
        struct guest *g;

        g = guest_find(b, c->source_domid);
        if (g && socket_path(g, c, path, sizeof(path)) >= 0)
                (void) unlink(path);
        g = guest_find(b, c->target_domid);
        if (g && socket_path(g, c, path, sizeof(path)) >= 0)
                (void) unlink(path);
}

static void broker_call_free(struct broker_call *c) {
        sd_event_source_disable_unref(c->setup_timer);
        free(c->cmdline);
        free(c);
}

static void broker_reply(struct broker_call *c, int error) {
        struct bus_msg_qrexec_connected reply = { .error = error, .port = error < 0 ? 0 : c->port };

        (void) busd_send(c->busd, BUS_ROLE_POLICYD, BUS_MSG_QREXEC_CONNECTED, c->request_id, BUS_PEER_BUSD,
                         &reply);
}

static void broker_start_waiting(struct busd *b);

/* Take a call out of the list and forget it; its port becomes free. */
static void broker_release(struct broker_call *c) {
        struct busd *b = c->busd;

        for (struct broker_call **pp = &b->calls; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        if (c->port)
                broker_unlink_names(c);
        else
                b->n_waiting--;
        /* Telling an agent may close its channel, and that releases its calls,
         * this one too: broker_launch_or_fail() frees it when back. */
        if (c->launching)
                c->released = true;
        else
                broker_call_free(c);
        broker_start_waiting(b);
}

/* The source's socket exists: give the target a name for it.  Only a socket
 * is linked (never a symlink or a file the source put there instead). */
static int broker_try_link(struct broker_call *c) {
        struct busd *b = c->busd;
        struct guest *src = guest_find(b, c->source_domid), *dst = guest_find(b, c->target_domid);
        char from[PATH_MAX], to[PATH_MAX];
        struct stat st;

        if (c->linked || !c->port)
                return 0;
        if (!src || !dst)
                return -EHOSTUNREACH;
        if (socket_path(src, c, from, sizeof(from)) < 0 || socket_path(dst, c, to, sizeof(to)) < 0)
                return -ENAMETOOLONG;
        if (strcmp(from, to) == 0) {
                /* Both domains share one vchan dir (tests): nothing to link. */
                c->linked = true;
                c->setup_timer = sd_event_source_disable_unref(c->setup_timer);
                return 0;
        }
        if (fstatat(AT_FDCWD, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode)) {
                log_warning("Domain %" PRIu32 " put a non-socket at %s: not linked", c->source_domid, from);
                return -EPERM;
        }
        (void) unlink(to);
        if (linkat(AT_FDCWD, from, AT_FDCWD, to, 0) < 0)
                return log_warning_errno(-errno, "Cannot link %s to %s", from, to);
        c->linked = true;
        c->setup_timer = sd_event_source_disable_unref(c->setup_timer);
        log_debug("Data port %" PRIu32 " of %" PRIu32 " -> %" PRIu32 " linked", c->port, c->source_domid,
                  c->target_domid);
        return 0;
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct broker_call *c = userdata;

        log_notice("Call %" PRIu32 " -> %" PRIu32 ": no data port became free in time", c->source_domid,
                   c->target_domid);
        broker_reply(c, -ETIMEDOUT);
        broker_release(c);
        return 0;
}

static int on_setup_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct broker_call *c = userdata;

        log_notice("Call %" PRIu32 " -> %" PRIu32 " port %" PRIu32 ": the caller never opened its data socket",
                   c->source_domid, c->target_domid, c->port);
        broker_release(c);
        return 0;
}

/* One inotify watch per vchan dir that has a data socket to wait for. */
static int broker_watch(struct busd *b, struct guest *g) {
        int wd;

        if (g->watch >= 0)
                return 0;
        wd = inotify_add_watch(b->inotify_fd, g->vchan_dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
        if (wd < 0)
                return log_warning_errno(-errno, "Cannot watch %s", g->vchan_dir);
        g->watch = wd;
        return 0;
}

/* Give a call its port and tell both agents. */
static int broker_launch(struct broker_call *c, uint32_t port) {
        struct busd *b = c->busd;
        struct guest *src = guest_find(b, c->source_domid), *dst = guest_find(b, c->target_domid);
        int n, r;

        c->port = port;
        if (!src || !dst || src->state != GUEST_UP || dst->state != GUEST_UP)
                return -EHOSTUNREACH;
        broker_unlink_names(c);         /* leftovers of an earlier call on this port */

        r = broker_watch(b, src);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(b->event, &c->setup_timer, CLOCK_MONOTONIC, BROKER_SETUP_TIMEOUT_USEC, 0,
                                       on_setup_timeout, c);
        if (r < 0)
                return r;

        /* The target first: its service then retries until the source's socket is there. */
        n = qrexec_encode_exec(b->guest_tx, BUSD_GUEST_TX_MAX,
                               c->just_exec ? QREXEC_MSG_JUST_EXEC : QREXEC_MSG_EXEC_CMDLINE, c->source_domid,
                               port, c->cmdline);
        if (n < 0)
                return n;
        r = guest_write(dst, b->guest_tx, (size_t) n);
        if (r < 0)
                return r;
        n = qrexec_encode_service_connect(b->guest_tx, BUSD_GUEST_TX_MAX, c->target_domid, port, c->ident);
        if (n < 0)
                return n;
        r = guest_write(src, b->guest_tx, (size_t) n);
        if (r < 0)
                return r;
        return broker_try_link(c) < 0 ? -EIO : 0;
}

static void broker_launch_or_fail(struct broker_call *c, uint32_t port) {
        int r;

        c->setup_timer = sd_event_source_disable_unref(c->setup_timer);        /* the wait's */
        c->launching = true;
        r = broker_launch(c, port);
        c->launching = false;
        if (c->released) {
                broker_reply(c, r < 0 ? r : -EHOSTUNREACH);
                broker_call_free(c);
                return;
        }
        if (r < 0) {
                log_full_errno(LOG_NOTICE, r, "Cannot connect %" PRIu32 " -> %" PRIu32, c->source_domid,
                               c->target_domid);
                broker_reply(c, r);
                broker_release(c);
                return;
        }
        broker_reply(c, 0);
}

static void broker_start_waiting(struct busd *b) {
        struct broker_call *c, *next;

        if (b->starting_waiting || !b->n_waiting)
                return;
        b->starting_waiting = true;     /* broker_release() below comes back here */
        for (c = b->calls; c; c = next) {
                uint32_t port;

                next = c->next;
                if (c->port)
                        continue;
                port = broker_free_port(b, c->source_domid, c->target_domid);
                if (!port)
                        continue;
                b->n_waiting--;
                broker_launch_or_fail(c, port);
                next = b->calls;        /* the list may have changed: start over */
        }
        b->starting_waiting = false;
}

int broker_connect(struct peer *from, uint32_t request_id, const struct bus_msg_qrexec_connect *req) {
        struct busd *b = from->busd;
        struct guest *src = guest_find(b, req->source_domid), *dst = guest_find(b, req->target_domid);
        struct broker_call *c;
        uint32_t port;

        if (!src || !dst || src->state != GUEST_UP || dst->state != GUEST_UP) {
                struct bus_msg_qrexec_connected reply = { .error = -EHOSTUNREACH };

                return busd_send(b, from->role, BUS_MSG_QREXEC_CONNECTED, request_id, BUS_PEER_BUSD, &reply);
        }
        if (req->source_domid == req->target_domid) {
                /* vchan cannot connect a domain to itself (Qubes #951); policy refuses it first. */
                struct bus_msg_qrexec_connected reply = { .error = -ELOOP };

                return busd_send(b, from->role, BUS_MSG_QREXEC_CONNECTED, request_id, BUS_PEER_BUSD, &reply);
        }

        port = broker_free_port(b, req->source_domid, req->target_domid);
        if (!port && b->n_waiting >= BROKER_WAITING_MAX) {
                struct bus_msg_qrexec_connected reply = { .error = -EBUSY };

                return busd_send(b, from->role, BUS_MSG_QREXEC_CONNECTED, request_id, BUS_PEER_BUSD, &reply);
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->busd = b;
        c->source_domid = req->source_domid;
        c->target_domid = req->target_domid;
        c->request_id = request_id;
        c->just_exec = req->just_exec != 0;
        strcpy(c->ident, req->ident);
        c->cmdline = strdup(req->cmdline);
        if (!c->cmdline) {
                free(c);
                return -ENOMEM;
        }
        /* Appended: waiting calls start in the order they came. */
        {
                struct broker_call **pp = &b->calls;

                while (*pp)
                        pp = &(*pp)->next;
                *pp = c;
        }
        if (!port) {
                b->n_waiting++;
                log_debug("All data ports of %" PRIu32 " <-> %" PRIu32 " are taken: call waits",
                          c->source_domid, c->target_domid);
                /* Answered before policyd gives up on it (and refuses it to the
                 * caller): a call is answered once. */
                if (sd_event_add_time_relative(b->event, &c->setup_timer, CLOCK_MONOTONIC,
                                               BROKER_WAIT_TIMEOUT_USEC, 0, on_wait_timeout, c) < 0) {
                        broker_reply(c, -ENOMEM);
                        broker_release(c);
                }
                return 0;
        }
        broker_launch_or_fail(c, port);
        return 0;
}

void broker_on_terminated(struct busd *b, uint32_t domid, uint32_t peer_domid, uint32_t port) {
        for (struct broker_call *c = b->calls; c; c = c->next) {
                if (c->port != port)
                        continue;
                if (c->source_domid == domid && c->target_domid == peer_domid)
                        c->source_done = true;
                else if (c->target_domid == domid && c->source_domid == peer_domid)
                        c->target_done = true;
                else
                        continue;
                if (c->source_done && c->target_done)
                        broker_release(c);
                return;
        }
}

void broker_on_channel_closed(struct busd *b, struct guest *g) {
        struct broker_call *c, *next;

        /* Names in a directory that is going away need no cleaning, but the other side's do. */
        for (c = b->calls; c; c = next) {
                next = c->next;
                if (c->source_domid != g->domid && c->target_domid != g->domid)
                        continue;
                if (!c->port)
                        broker_reply(c, -EHOSTUNREACH);
                broker_release(c);
                next = b->calls;
        }
        if (g->watch >= 0) {
                (void) inotify_rm_watch(b->inotify_fd, g->watch);
                g->watch = -1;
        }
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct busd *b = userdata;
        union {
                struct inotify_event ev;
                uint8_t raw[4096];
        } buf;
        ssize_t n;

        n = read(fd, &buf, sizeof(buf));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_error_errno(-errno, "Reading inotify");

        /* Which dir changed matters little: try every call still waiting for its link. */
        for (struct broker_call *c = b->calls, *next; c; c = next) {
                next = c->next;
                if (c->port && !c->linked && broker_try_link(c) < 0) {
                        broker_release(c);
                        next = b->calls;
                }
        }
        return 0;
}

int broker_init(struct busd *b) {
        int r;

        b->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (b->inotify_fd < 0)
                return log_error_errno(-errno, "inotify_init1");
        r = sd_event_add_io(b->event, &b->inotify_io, b->inotify_fd, EPOLLIN, on_inotify, b);
        if (r < 0)
                return log_error_errno(r, "Cannot watch inotify");
        return 0;
}

void broker_done(struct busd *b) {
        while (b->calls) {
                struct broker_call *c = b->calls;

                b->calls = c->next;
                if (c->port)
                        broker_unlink_names(c);
                broker_call_free(c);
        }
        b->inotify_io = sd_event_source_disable_unref(b->inotify_io);
        if (b->inotify_fd >= 0)
                close(b->inotify_fd);
        b->inotify_fd = -1;
}
