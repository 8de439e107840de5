/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubesd's link to one domain's monitor: requests, replies and events (monitor-protocol.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hal-native-internal.h"
#include "log.h"
#include "monitor-protocol.h"
#include "native.h"

struct native_domain *native_domain_find(struct hal_backend *b, const char *name) {
        for (struct native_domain *d = b->domains; d; d = d->next)
                if (strcmp(d->name, name) == 0)
                        return d;
        return NULL;
}

static void unlink_domain(struct native_domain *d) {
        for (struct native_domain **p = &d->backend->domains; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        break;
                }
        d->next = NULL;
}

static void request_done(struct native_request *r, int result) {
        if (r->done)
                r->done(r->userdata, result);
}

static void requests_free(struct native_request *r) {
        while (r) {
                struct native_request *next = r->next;
                free(r);
                r = next;
        }
}

void native_domain_free(struct native_domain *d) {
        if (!d)
                return;
        unlink_domain(d);
        sd_event_source_disable_unref(d->source);
        if (d->fd >= 0)
                close(d->fd);
        requests_free(d->replies);
        requests_free(d->stop_waiters);
        free(d->name);
        free(d->vchan_dir);
        free(d->procs_path);
        free(d);
}

static enum power_state power_state_of(const char *s) {
        switch (monitor_state_from_string(s)) {
        case MONITOR_STARTING: return POWER_TRANSIENT;
        case MONITOR_RUNNING:  return POWER_RUNNING;
        case MONITOR_PAUSED:   return POWER_PAUSED;
        case MONITOR_HALTING:  return POWER_HALTING;
        default:               return POWER_HALTED;
        }
}

/* "<domid> <init pid> <start usec> <monitor pid> <procs>" from the monitor. */
static int parse_description(struct native_domain *d, const char *untrusted) {
        unsigned domid;
        int init_pid, monitor_pid, consumed = 0;
        unsigned long long start;

        if (sscanf(untrusted, "%u %d %llu %d %n", &domid, &init_pid, &start, &monitor_pid, &consumed) != 4 ||
            consumed == 0 || monitor_pid <= 0 || init_pid < 0)
                return -EBADMSG;
        const char *procs = untrusted + consumed;
        free(d->procs_path);
        d->procs_path = NULL;
        if (strcmp(procs, "-") != 0 && procs[0] == '/') {
                d->procs_path = strdup(procs);
                if (!d->procs_path)
                        return -ENOMEM;
        }
        d->domid = domid;
        d->init_pid = init_pid;
        d->monitor_pid = monitor_pid;
        d->start_time_usec = start;
        return 0;
}

/* The domain is gone (STOPPED, a failed start, or the monitor vanished):
 * answer everyone who waited, tell qubesd, forget it. */
static void domain_ended(struct native_domain *d, int reason, bool failed_start) {
        struct hal_backend *b = d->backend;
        struct native_request *waiters = TAKE_PTR(d->stop_waiters), *replies = TAKE_PTR(d->replies);
        hal_done_fn start_done = d->start_done;
        bool was_started = d->state != POWER_TRANSIENT || !start_done;

        /* Out of the list first: a callback may start the domain again. */
        unlink_domain(d);
        d->start_done = NULL;
        d->state = POWER_HALTED;
        if (start_done)
                start_done(d->start_userdata, failed_start ? (reason < 0 ? reason : -EIO) : -ECHILD);
        for (struct native_request *r = waiters; r; r = r->next)
                request_done(r, 0);
        for (struct native_request *r = replies; r; r = r->next)
                request_done(r, r->kind == NATIVE_REQUEST_SHUTDOWN || r->kind == NATIVE_REQUEST_KILL ? 0 : -ESRCH);
        if (was_started && !failed_start)
                b->on_event(b->userdata, d->name, POWER_HALTED, reason);
        requests_free(waiters);
        requests_free(replies);
        native_domain_free(d);
}

static void handle_reply(struct native_domain *d, int result) {
        struct hal_backend *b = d->backend;
        struct native_request *r = d->replies;

        if (!r) {
                log_warning("Monitor of %s answered a request nobody made", d->name);
                return;
        }
        d->replies = r->next;
        r->next = NULL;
        if (result >= 0 && (r->kind == NATIVE_REQUEST_SHUTDOWN || r->kind == NATIVE_REQUEST_KILL)) {
                /* Accepted: done when the domain has stopped. */
                if (d->state != POWER_TRANSIENT)
                        d->state = POWER_HALTING;
                r->next = d->stop_waiters;
                d->stop_waiters = r;
                return;
        }
        if (result >= 0 && (r->kind == NATIVE_REQUEST_PAUSE || r->kind == NATIVE_REQUEST_UNPAUSE)) {
                enum power_state state = r->kind == NATIVE_REQUEST_PAUSE ? POWER_PAUSED : POWER_RUNNING;
                bool changed = d->state != state;
                char *name = strdup(d->name);
                d->state = state;
                request_done(r, 0);
                if (changed && name)
                        b->on_event(b->userdata, name, state, 0);
                free(name);
        } else
                request_done(r, result);
        free(r);
}

/* One message from the monitor; false when the record is gone. */
static bool handle_message(struct native_domain *d, char *untrusted) {
        struct hal_backend *b = d->backend;
        int32_t value;

        if (strcmp(untrusted, "OK") == 0 || strncmp(untrusted, "OK ", 3) == 0) {
                handle_reply(d, 0);
                return true;
        }
        if (sscanf(untrusted, "ERR %" SCNd32, &value) == 1 && value > 0) {
                handle_reply(d, -value);
                return true;
        }
        if (strncmp(untrusted, "EVENT STARTED ", 14) == 0) {
                if (parse_description(d, untrusted + 14) < 0) {
                        log_error("Malformed STARTED from the monitor of %s", d->name);
                        return true;
                }
                d->state = POWER_RUNNING;
                hal_done_fn done = TAKE_PTR(d->start_done);
                if (done)
                        done(d->start_userdata, 0);
                b->on_event(b->userdata, d->name, POWER_RUNNING, 0);
                return true;
        }
        if (sscanf(untrusted, "EVENT FAILED %" SCNd32, &value) == 1) {
                domain_ended(d, value > 0 ? -value : -EIO, true);
                return false;
        }
        if (sscanf(untrusted, "EVENT STOPPED %" SCNd32, &value) == 1) {
                domain_ended(d, value, false);
                return false;
        }
        log_warning("Ignoring an unknown message from the monitor of %s", d->name);
        return true;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct native_domain *d = userdata;
        char buf[MONITOR_MSG_MAX + 1];

        for (;;) {
                ssize_t n = recv(fd, buf, MONITOR_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0 || n > MONITOR_MSG_MAX) {
                        /* The monitor exited without STOPPED: it crashed, and its
                         * domain died with it (PR_SET_PDEATHSIG). */
                        log_warning("Lost the monitor of domain %s", d->name);
                        domain_ended(d, n == 0 ? -EPIPE : -EBADMSG, d->state == POWER_TRANSIENT);
                        return 0;
                }
                buf[n] = '\0';
                if (!handle_message(d, buf))
                        return 0;
        }
}

int native_domain_new(struct hal_backend *b, const char *name, int fd, struct native_domain **ret) {
        struct native_domain *d = calloc(1, sizeof(*d));
        int r;

        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        d->backend = b;
        d->fd = fd;
        d->state = POWER_TRANSIENT;
        d->name = strdup(name);
        if (!d->name) {
                native_domain_free(d);
                return -ENOMEM;
        }
        r = sd_event_add_io(b->event, &d->source, fd, EPOLLIN, on_monitor, d);
        if (r < 0) {
                native_domain_free(d);
                return r;
        }
        d->next = b->domains;
        b->domains = d;
        *ret = d;
        return 0;
}

static int send_line(int fd, const char *line) {
        if (send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int native_domain_request(struct native_domain *d, enum native_request_kind kind, uint32_t arg, hal_done_fn done,
                          void *userdata) {
        struct native_request *req;
        char line[64];
        int r;

        switch (kind) {
        case NATIVE_REQUEST_SHUTDOWN: snprintf(line, sizeof(line), "SHUTDOWN %" PRIu32, arg); break;
        case NATIVE_REQUEST_KILL:     snprintf(line, sizeof(line), "KILL"); break;
        case NATIVE_REQUEST_PAUSE:    snprintf(line, sizeof(line), "PAUSE"); break;
        case NATIVE_REQUEST_UNPAUSE:  snprintf(line, sizeof(line), "UNPAUSE"); break;
        default: return -EINVAL;
        }
        req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;
        r = send_line(d->fd, line);
        if (r < 0) {
                free(req);
                return r;
        }
        *req = (struct native_request) { .kind = kind, .done = done, .userdata = userdata };
        struct native_request **tail = &d->replies;
        while (*tail)
                tail = &(*tail)->next;
        *tail = req;
        return 0;
}

static int read_config_vchan_dir(struct hal_backend *b, const char *name, char **ret) {
        _cleanup_free_ char *dir = native_domain_dir(b->runtime_dir, name), *path = NULL;
        struct native_config c;
        int r;

        if (!dir || !(path = path_join(dir, MONITOR_CONFIG)))
                return -ENOMEM;
        r = native_config_read(path, &c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c.vchan_dir);
        native_config_done(&c);
        return 0;
}

int native_domain_attach(struct hal_backend *b, const char *name, struct native_domain **ret) {
        _cleanup_free_ char *dir = native_domain_dir(b->runtime_dir, name), *vchan_dir = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[MONITOR_MSG_MAX + 1], state[16];
        struct native_domain *d;
        _cleanup_close_ int fd = -1;
        int consumed = 0, r;
        ssize_t n;

        if (!dir)
                return -ENOMEM;
        if (!native_name_valid(name))
                return -EINVAL;
        if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, MONITOR_SOCKET) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return errno == ECONNREFUSED || errno == ENOENT ? -ENOENT : -errno;
        r = send_line(fd, "STATE");
        if (r < 0)
                return r;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 1000) <= 0)
                return -ETIMEDOUT;
        n = recv(fd, buf, MONITOR_MSG_MAX, MSG_DONTWAIT);
        if (n <= 0)
                return -ENOENT;         /* the monitor is just exiting */
        buf[n] = '\0';
        /* An event may come before the reply (the domain just started or stopped). */
        if (strncmp(buf, "EVENT ", 6) == 0) {
                if (strncmp(buf, "EVENT STARTED ", 14) != 0)
                        return -ENOENT;
                if (poll(&pfd, 1, 1000) <= 0)
                        return -ETIMEDOUT;
                n = recv(fd, buf, MONITOR_MSG_MAX, MSG_DONTWAIT);
                if (n <= 0)
                        return -ENOENT;
                buf[n] = '\0';
        }
        if (sscanf(buf, "OK %15s %n", state, &consumed) != 1 || consumed == 0)
                return -EBADMSG;
        if (power_state_of(state) == POWER_HALTED)
                return -ENOENT;
        r = read_config_vchan_dir(b, name, &vchan_dir);
        if (r < 0)
                return r;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        r = native_domain_new(b, name, TAKE_FD(fd), &d);
        if (r < 0)
                return r;
        d->state = power_state_of(state);
        d->vchan_dir = TAKE_PTR(vchan_dir);
        r = parse_description(d, buf + consumed);
        if (r < 0) {
                native_domain_free(d);
                return r;
        }
        *ret = d;
        return 0;
}
