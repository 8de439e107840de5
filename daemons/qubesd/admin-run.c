/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Run(s user, s command, b just_exec, b autostart) -> (h listen_fd, u port):
 * an admin command in a domain (`qubes-ctl run`).  qubesd picks a data port
 * P (the even ones of 514..768, its own pool per target domain; busd gives
 * the odd ones to that domain's calls to the admin domain), listens on a
 * UNIX socket bound
 * at <vchan dir of B>/vchan.0.<B>.<P>.sock — dom0 is the vchan server, the
 * domain's agent the client, as in Qubes' socket naming — and asks the
 * domain's agent through busd to run "USER:COMMAND" connected to (0, P)
 * (QREXEC_EXEC).  The listening socket goes to the caller, who accepts the
 * agent and runs the qrexec data stream itself: the data never passes
 * through qubesd.  The port is freed and the socket file unlinked when the
 * agent reports the end (QREXEC_TERMINATED) or the domain stops, for a
 * JUST_EXEC too (its agent connects to report the start, as in Qubes; a
 * port freed before would send that connection to the next Run's caller).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "qrexec.h"
#include "qubesd.h"

#define RUN_USER_MAX   32

struct qrexec_run {
        uint32_t domid;
        uint32_t port;
        uint32_t exec_request_id;
        char *socket_path;
        struct qrexec_run *next;
};

/* A Run call waiting for its domain to start. */
struct run_call {
        sd_bus_message *message;
        char *user;             /* "" = the domain's default_user */
        char *command;
        bool just_exec;
};

static void run_call_free(struct run_call *call) {
        if (!call)
                return;
        sd_bus_message_unref(call->message);
        free(call->user);
        free(call->command);
        free(call);
}

static void qrexec_run_free(struct qrexec_run *run) {
        if (!run)
                return;
        if (run->socket_path)
                (void) unlink(run->socket_path);
        free(run->socket_path);
        free(run);
}

/* What the agent accepts as a user name (it sets HOME=/home/USER). */
static bool user_name_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > RUN_USER_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
                        return false;
        return true;
}

static bool port_taken(struct qubesd *q, uint32_t domid, uint32_t port) {
        for (struct qrexec_run *r = q->qrexec_runs; r; r = r->next)
                if (r->domid == domid && r->port == port)
                        return true;
        return false;
}

/* A listening socket on the first free port; the socket's path in *ret_path. */
static int listen_on_free_port(struct qubesd *q, const char *dir, uint32_t domid, uint32_t *ret_port,
                               char **ret_path) {
        for (uint32_t port = QREXEC_ADMIN_RUN_PORT_FIRST; port <= QREXEC_DATA_PORT_LAST; port += 2) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                _cleanup_close_ int fd = -EBADF;

                if (port_taken(q, domid, port))
                        continue;
                if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vchan.0.%" PRIu32 ".%" PRIu32 ".sock",
                                      dir, domid, port) >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        if (errno == EADDRINUSE)
                                continue;       /* a file left there: someone else's */
                        return -errno;
                }
                /* the domain's agent runs as the domain's uid; the directory guards it */
                if (chmod(sa.sun_path, 0666) < 0 || listen(fd, 1) < 0) {
                        int r = -errno;
                        (void) unlink(sa.sun_path);
                        return r;
                }
                *ret_path = strdup(sa.sun_path);
                if (!*ret_path) {
                        (void) unlink(sa.sun_path);
                        return -ENOMEM;
                }
                *ret_port = port;
                return TAKE_FD(fd);
        }
        return -EBUSY;
}

/* The domain runs: open the data socket, ask the agent, answer the call. */
static int run_now(struct qubesd *q, struct domain *d, struct run_call *call) {
        _cleanup_free_ struct bus_msg_qrexec_exec *exec = calloc(1, sizeof(*exec));
        struct domain_run *dr = domain_run_get(q, d);
        char dir[PATH_MAX], user[RUN_USER_MAX + 1];
        _cleanup_close_ int fd = -EBADF;
        enum vchan_backend backend;
        struct qrexec_run *run;
        int r;

        if (!exec || !dr)
                return sd_bus_reply_method_errno(call->message, ENOMEM, NULL);
        if (!q->bus)
                return admin_error_reply(call->message, ADMIN_ERROR_BACKEND, "%s: qubesd lost busd", d->name);
        /* socket domains, and QEMU guests whose vchan mux mirrors the socket
         * into the guest (mux-launch.c); not Xen's libxenvchan */
        if (!dr->ops || dr->ops->control_channel(dr->backend, d->name, &backend, dir, sizeof(dir)) < 0 ||
            (backend != VCHAN_SOCKET && !(backend == VCHAN_VIRTIO && mux_launch_wanted(dr))))
                return admin_error_reply(call->message, ADMIN_ERROR_BACKEND,
                                         "%s: Run needs a domain whose data channels are UNIX sockets", d->name);
        if (call->user[0])
                snprintf(user, sizeof(user), "%s", call->user);
        else
                prop_text(q, d, "default_user", user, sizeof(user));
        if (!user_name_valid(user))
                snprintf(user, sizeof(user), "user");
        if ((size_t) snprintf(exec->cmdline, sizeof(exec->cmdline), "%s:%s", user, call->command) >=
            sizeof(exec->cmdline))
                return admin_error_reply(call->message, ADMIN_ERROR_INVALID_VALUE, "%s: the command is too long",
                                         d->name);

        run = calloc(1, sizeof(*run));
        if (!run)
                return sd_bus_reply_method_errno(call->message, ENOMEM, NULL);
        run->domid = d->qid;
        fd = listen_on_free_port(q, dir, d->qid, &run->port, &run->socket_path);
        if (fd < 0) {
                free(run);
                return admin_error_reply(call->message, fd == -EBUSY ? ADMIN_ERROR_IN_USE : ADMIN_ERROR_BACKEND,
                                         "%s: cannot open a data socket: %s", d->name,
                                         fd == -EBUSY ? "every port (514..768, even) is in use" : strerror(-fd));
        }
        exec->just_exec = call->just_exec;
        exec->connect_domain = 0;
        exec->connect_port = run->port;
        run->exec_request_id = bus_client_new_request_id(q->bus);
        r = bus_client_send(q->bus, BUS_MSG_QREXEC_EXEC, BUS_PEER_GUEST(d->qid), run->exec_request_id, exec);
        if (r < 0) {
                qrexec_run_free(run);
                return admin_error_reply(call->message, ADMIN_ERROR_BACKEND, "%s: cannot reach its agent: %s",
                                         d->name, strerror(-r));
        }
        log_debug("%s: Run on port %" PRIu32 " as %s", d->name, run->port, user);
        /* sd-bus sends a copy of the fd.  A JUST_EXEC's port stays taken
         * too: its agent still connects once, to say the command started. */
        r = sd_bus_reply_method_return(call->message, "hu", fd, run->port);
        run->next = q->qrexec_runs;
        q->qrexec_runs = run;
        return r;
}

static void on_domain_ready(struct qubesd *q, const char *name, int error, const char *message, void *userdata) {
        struct run_call *call = userdata;
        struct domain *d = domain_set_find(q->set, name);

        if (error < 0 || !d)
                (void) admin_error_reply(call->message, error == -ECANCELED ? ADMIN_ERROR_BACKEND : ADMIN_ERROR_NOT_RUNNING,
                                         "%s", message && *message ? message : "The domain did not start");
        else
                (void) run_now(q, d, call);
        run_call_free(call);
}

int admin_method_run(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct domain_run *dr = userdata;
        struct qubesd *q = dr->q;
        struct domain *d = dr->domain;
        const char *untrusted_user, *untrusted_command;
        int just_exec, autostart, r;
        struct run_call *call;

        r = sd_bus_message_read(m, "ssbb", &untrusted_user, &untrusted_command, &just_exec, &autostart);
        if (r < 0)
                return r;
        if (d->klass == DOMAIN_ADMINVM)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: Run is for other domains", d->name);
        if (untrusted_user[0] && !user_name_valid(untrusted_user))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "Invalid user name '%s' (1-%d of a-z 0-9 _ -, not starting with a digit or -)",
                                    untrusted_user, RUN_USER_MAX);
        if (!untrusted_command[0])
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "An empty command");
        if (strlen(untrusted_command) > BUS_CMDLINE_MAX - RUN_USER_MAX - 1)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "The command is too long");

        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (struct run_call) {
                .message = sd_bus_message_ref(m),
                .user = strdup(untrusted_user),
                .command = strdup(untrusted_command),
                .just_exec = just_exec,
        };
        if (!call->user || !call->command) {
                run_call_free(call);
                return -ENOMEM;
        }
        if (d->state == POWER_RUNNING) {
                r = run_now(q, d, call);
                run_call_free(call);
                return r < 0 ? r : 1;
        }
        if (d->state == POWER_HALTED || d->state == POWER_CRASHED) {
                if (!autostart) {
                        run_call_free(call);
                        return admin_errorf(error, ADMIN_ERROR_NOT_RUNNING, "%s is not running", d->name);
                }
                r = lifecycle_start(q, d, NULL, error);
                if (r < 0) {
                        run_call_free(call);
                        return r;
                }
        } else if (d->state != POWER_TRANSIENT) {
                run_call_free(call);
                return admin_errorf(error, ADMIN_ERROR_NOT_RUNNING, "%s is %s", d->name,
                                    power_state_to_string(d->state));
        }
        r = domain_wait_running(q, d->name, on_domain_ready, call);
        if (r < 0) {
                run_call_free(call);
                return r;
        }
        return 1;
}

static void remove_runs(struct qubesd *q, bool (*match)(const struct qrexec_run *run, const void *what),
                        const void *what) {
        for (struct qrexec_run **p = &q->qrexec_runs; *p;) {
                struct qrexec_run *run = *p;

                if (!match(run, what)) {
                        p = &run->next;
                        continue;
                }
                *p = run->next;
                qrexec_run_free(run);
        }
}

struct port_key {
        uint32_t domid, port;
};

static bool match_port(const struct qrexec_run *run, const void *what) {
        const struct port_key *key = what;
        return run->domid == key->domid && run->port == key->port;
}

static bool match_domid(const struct qrexec_run *run, const void *what) {
        return run->domid == *(const uint32_t *) what;
}

void admin_run_on_terminated(struct qubesd *q, const struct bus_message *msg) {
        const struct bus_msg_qrexec_terminated *t = &msg->u.qrexec_terminated;
        struct port_key key = { .domid = t->source_domid, .port = t->connect_port };

        /* only the domain itself ends its own calls, and ours are with dom0 */
        if (msg->hdr.peer != BUS_PEER_GUEST(t->source_domid) || t->connect_domain != 0)
                return;
        remove_runs(q, match_port, &key);
}

void admin_run_domain_gone(struct qubesd *q, uint32_t domid) {
        remove_runs(q, match_domid, &domid);
}

bool admin_run_on_bus_error(struct qubesd *q, uint32_t request_id, int error, const char *text) {
        for (struct qrexec_run *run = q->qrexec_runs; run && request_id; run = run->next)
                if (run->exec_request_id == request_id) {
                        struct port_key key = { .domid = run->domid, .port = run->port };
                        log_warning("Run in domid %" PRIu32 ": busd could not pass the command on: %s", run->domid,
                                    text);
                        remove_runs(q, match_port, &key);
                        return true;
                }
        return false;
}

void admin_run_free(struct qubesd *q) {
        while (q->qrexec_runs) {
                struct qrexec_run *run = q->qrexec_runs;
                q->qrexec_runs = run->next;
                qrexec_run_free(run);
        }
}
