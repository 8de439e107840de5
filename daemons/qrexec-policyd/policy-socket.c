/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.sock: the Qubes policy daemon's line protocol (reference §4.10).
 * One request per connection; a malformed one (line-request.c) closes the
 * connection without an answer.  It only evaluates, with the same policy
 * and system info as the bus side: it never starts a domain.  An ask
 * without assume_yes_for_ask/just_evaluate goes to the ask agent through
 * qubesd; with no agent it is a deny.
 *
 * Bounded: LINE_REQUEST_MAX bytes per request, SOCKET_CLIENTS_MAX
 * connections, and a connection that does not send its request in time is
 * closed.  The socket comes from the service manager (socket activation) or
 * is bound here.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "line-request.h"
#include "log.h"
#include "policyd.h"

#define SOCKET_CLIENTS_MAX 128
#define SOCKET_READ_TIMEOUT_USEC (30 * UINT64_C(1000000))

struct policy_client {
        struct policy_client *prev, *next;
        struct policy_socket *socket;
        int fd;
        sd_event_source *io, *timer;
        char *untrusted_buf;
        size_t size;
        struct line_request request;    /* once parsed */
        struct bus_op *ask;             /* an ask in flight */
        unsigned id;
        char origin[32];
};

struct policy_socket {
        struct policyd *policyd;
        int fd;
        bool bound;                     /* ours to unlink */
        sd_event_source *io;
        struct policy_client *clients;
        size_t n_clients;
        unsigned next_id;
};

static void client_free(struct policy_client *c) {
        struct policy_socket *s = c->socket;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        bus_op_cancel(c->ask);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c->untrusted_buf);
        line_request_done(&c->request);
        free(c);
}

/* Answer and close.  The peer reads until EOF. */
static void client_answer(struct policy_client *c, const PolicyDecision *d) {
        _cleanup_free_ char *answer = line_answer_format(d, c->request.requested_source);
        int r;

        if (!answer)
                log_error("%s: out of memory; closing without an answer", c->origin);
        else if ((r = write_full(c->fd, answer, strlen(answer))) < 0)
                log_debug_errno(r, "%s: cannot write the answer", c->origin);
        client_free(c);
}

static void client_deny(struct policy_client *c) {
        PolicyDecision deny = { .verdict = POLICY_VERDICT_DENY };
        client_answer(c, &deny);
}

static void on_ask_reply(struct policyd *p, int error, const struct bus_message *reply, void *userdata) {
        struct policy_client *c = userdata;
        PolicyRequest req;
        PolicyDecision d = {};

        c->ask = NULL;          /* answered: bus-link frees it */
        line_request_to_policy(&c->request, &req);
        if (error == 0 && reply->u.ask_reply.error < 0)
                error = reply->u.ask_reply.error;
        if (error < 0) {
                policyd_log_ask_failure(c->origin, &req, error);
                return client_deny(c);
        }
        if (policyd_evaluate_choice(p, &req, reply->u.ask_reply.target, c->origin, &d) < 0)
                return client_free(c);
        client_answer(c, &d);
        policy_decision_done(&d);
}

static void client_evaluate(struct policy_client *c) {
        struct policyd *p = c->socket->policyd;
        PolicyRequest req;
        PolicyDecision d = {};
        int r;

        line_request_to_policy(&c->request, &req);
        if (c->request.requested_source) {
                /* Relays (RemoteVM) do not exist here. */
                log_notice("%s: %s -> %s %s: deny: requested source %s is only authorized for RemoteVM",
                           c->origin, req.source, req.target, c->request.service_and_arg,
                           c->request.requested_source);
                return client_deny(c);
        }
        if (policyd_evaluate(p, &req, c->origin, &d) < 0)
                return client_free(c);
        if (d.verdict != POLICY_VERDICT_ASK) {
                client_answer(c, &d);
                return policy_decision_done(&d);
        }
        /* Waiting for the user: no more reading, no read timeout. */
        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
        r = policyd_ask(p, req.source, c->request.service_and_arg, &d, on_ask_reply, c, &c->ask);
        policy_decision_done(&d);
        if (r < 0) {
                policyd_log_ask_failure(c->origin, &req, r == -ENOTCONN ? -EHOSTDOWN : r);
                client_deny(c);
        }
}

static int on_client_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct policy_client *c = userdata;
        const char *why = NULL;
        size_t len;
        ssize_t n;
        int r;

        /* One byte more than allowed: a request that long is refused. */
        n = read(fd, c->untrusted_buf + c->size, LINE_REQUEST_MAX + 1 - c->size);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                log_debug_errno(errno, "%s: read failed", c->origin);
                client_free(c);
                return 0;
        }
        if (n == 0) {
                log_debug("%s: closed before a whole request", c->origin);
                client_free(c);
                return 0;
        }
        c->size += (size_t) n;
        if (!line_request_complete(c->untrusted_buf, c->size, &len)) {
                if (c->size > LINE_REQUEST_MAX) {
                        log_notice("%s: request longer than %u bytes: closed without an answer", c->origin,
                                   LINE_REQUEST_MAX);
                        client_free(c);
                }
                return 0;
        }
        /* Nothing may follow the empty line (a request per connection). */
        r = line_request_parse(c->untrusted_buf, c->size, &c->request, &why);
        if (r < 0) {
                log_notice("%s: malformed request (%s): closed without an answer", c->origin,
                           r == -EBADMSG ? why : strerror(-r));
                client_free(c);
                return 0;
        }
        client_evaluate(c);
        return 0;
}

static int on_client_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        struct policy_client *c = userdata;

        log_notice("%s: no whole request in time: closed", c->origin);
        client_free(c);
        return 0;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct policy_socket *s = userdata;
        _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct policy_client *c;
        int r;

        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "accept on the policy socket failed");
                return 0;
        }
        if (s->n_clients >= SOCKET_CLIENTS_MAX) {
                log_warning("Policy socket: %d connections already; closing a new one", SOCKET_CLIENTS_MAX);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c || !(c->untrusted_buf = malloc(LINE_REQUEST_MAX + 1))) {
                free(c);
                log_error("Out of memory: closing a policy socket connection");
                return 0;
        }
        c->socket = s;
        c->fd = TAKE_FD(cfd);
        c->id = ++s->next_id;
        snprintf(c->origin, sizeof(c->origin), "policy.sock#%u", c->id);
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;

        r = sd_event_add_io(s->policyd->event, &c->io, c->fd, EPOLLIN, on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->policyd->event, &c->timer, CLOCK_MONOTONIC,
                                               SOCKET_READ_TIMEOUT_USEC, 0, on_client_timeout, c);
        if (r < 0) {
                log_error_errno(r, "Cannot watch a policy socket connection");
                client_free(c);
        }
        return 0;
}

static int bind_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Policy socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create the policy socket");
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Cannot remove the old %s", path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot bind %s", path);
        /* Decisions say what the policy allows: its owner's group only (root always can). */
        if (chmod(path, 0660) < 0)
                return log_error_errno(errno, "Cannot chmod %s", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Cannot listen on %s", path);
        return TAKE_FD(fd);
}

int policy_socket_open(struct policyd *p) {
        struct policy_socket *s = calloc(1, sizeof(*s));
        int n, r;

        if (!s)
                return log_error_errno(ENOMEM, "Out of memory");
        s->policyd = p;
        s->fd = -1;
        p->socket = s;
        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Cannot read the sockets passed by the service manager");
        if (n > 1)
                return log_error_errno(EINVAL, "Expected at most one socket from the service manager, got %d", n);
        if (n == 1) {
                if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0)
                        return log_error_errno(EINVAL, "The socket passed is not a listening UNIX stream socket");
                s->fd = SD_LISTEN_FDS_START;
                (void) fcntl(s->fd, F_SETFD, FD_CLOEXEC);
                (void) fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
                log_info("Serving the policy line protocol on the socket from the service manager");
        } else {
                s->fd = bind_socket(p->policy_socket_path);
                if (s->fd < 0)
                        return s->fd;
                s->bound = true;
                log_info("Serving the policy line protocol on %s", p->policy_socket_path);
        }
        r = sd_event_add_io(p->event, &s->io, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the policy socket");
        return 0;
}

void policy_socket_close(struct policyd *p) {
        struct policy_socket *s = p->socket;

        if (!s)
                return;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0)
                close(s->fd);
        if (s->bound)
                (void) unlink(p->policy_socket_path);
        free(s);
        p->socket = NULL;
}
