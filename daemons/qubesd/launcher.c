/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Programs qubesd runs for a domain while it runs (helpers): its guid
 * (gui-launch.c) and, for a QEMU guest, the host side of its data vchans,
 * odyssey-vchan-mux (mux-launch.c).
 *
 * qubesd may not exec once sandboxed, so helpers are started by the
 * launcher: a small unsandboxed child forked before the sandbox.  It takes
 * datagrams "START\nKIND\nDOMID\nARG..." and "STOP\nKIND\nDOMID" (fields
 * separated by newlines, KIND a number of enum helper_kind), forks a child
 * that the kind's exec function turns into the helper (its own uid, no
 * supplementary groups) and reaps it.  A helper that ends before its STOP
 * (qubesd sends it once the domain stopped) is started again after
 * RESTART_DELAY_USEC as its kind allows, at most RESTART_MAX times a
 * minute, then given up, logged: the mux after a crash or a failure (status
 * 0 means QEMU closed its port: the domain is going), guid after a crash
 * (one that exits closed its window or refused the domain).  The delay lets
 * the STOP of a domain that just died arrive first.  A START while the
 * domain's old helper is still ending (the domain stopped and started again)
 * starts the new one once the old one is reaped.  When qubesd goes, the
 * launcher stops every helper and exits; a restarted qubesd starts them
 * again for the domains it rediscovers.
 */
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

#define LAUNCHER_FD 3
#define LAUNCH_MSG_MAX 4096
#define LAUNCH_ARGS_MAX 8
#define RESTART_MAX 5                           /* restarts a minute */
#define RESTART_WINDOW_USEC (60 * 1000000ULL)
#define RESTART_DELAY_USEC (1000000ULL)

enum restart_policy {
        RESTART_ON_CRASH,       /* killed by a signal */
        RESTART_ON_FAILURE,     /* killed, or a non-zero status */
};

static const struct {
        const char *name;
        helper_exec_fn exec;
        enum restart_policy restart;
} helper_kinds[_HELPER_KIND_MAX] = {
        [HELPER_GUID] = { "guid", gui_exec, RESTART_ON_CRASH },
        [HELPER_VCHAN_MUX] = { "vchan-mux", mux_exec, RESTART_ON_FAILURE },
};

/* The launcher's view of one helper: running (pid), or waiting to be
 * started again (restart_at); args kept for that. */
struct helper_proc {
        pid_t pid;
        bool stopping;
        bool start_after_stop;          /* its domain started again meanwhile: args are the new ones */
        uint64_t restart_at;            /* 0: none pending */
        uint64_t window_start;          /* of the restarts counted */
        unsigned restarts;
        char **args;
        size_t n_args;
};

struct launcher {
        const struct launcher_config *config;
        struct helper_proc procs[_HELPER_KIND_MAX][DOMAIN_QID_MAX + 1];
        unsigned pending;               /* helpers with restart_at set */
};

/* In the helper's child: what every helper starts from. */
void helper_reset_process(void) {
        reset_signals();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 ||
            syscall(SYS_close_range, (unsigned) STDERR_FILENO + 1, ~0U, 0U) < 0)
                _exit(127);
}

int helper_become(uid_t uid, gid_t gid, const gid_t *extra_gid) {
        if (setgroups(extra_gid ? 1 : 0, extra_gid) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
                return -errno;
        return 0;
}

static void free_args(char **args, size_t n_args) {
        for (size_t i = 0; i < n_args; i++)
                free(args[i]);
        free(args);
}

static void helper_forget(struct launcher *l, struct helper_proc *h) {
        if (h->restart_at)
                l->pending--;
        free_args(h->args, h->n_args);
        *h = (struct helper_proc) {};
}

static void spawn_helper(struct launcher *l, enum helper_kind kind, uint32_t domid) {
        struct helper_proc *h = &l->procs[kind][domid];
        const char *what = helper_kinds[kind].name;
        pid_t pid = fork();

        if (pid < 0) {
                log_error_errno(errno, "%s: cannot fork its %s: %m", h->args[0], what);
                helper_forget(l, h);
                return;
        }
        if (pid == 0) {
                helper_reset_process();
                helper_kinds[kind].exec(l->config, domid, h->args, h->n_args);
        }
        h->pid = pid;
        log_info("%s: %s started (pid %d)", h->args[0], what, (int) pid);
}

static char **copy_args(char **args, size_t n_args) {
        char **copy = calloc(n_args + 1, sizeof(char *));

        for (size_t i = 0; copy && i < n_args; i++)
                if (!(copy[i] = strdup(args[i]))) {
                        free_args(copy, i);
                        copy = NULL;
                }
        if (!copy)
                log_error_errno(ENOMEM, "Cannot keep a helper's arguments");
        return copy;
}

static void start_helper(struct launcher *l, enum helper_kind kind, uint32_t domid, char **args, size_t n_args) {
        struct helper_proc *h = &l->procs[kind][domid];

        if (h->stopping) {
                /* the domain stopped and started again before its old helper
                 * ended: the new one starts once the old one is reaped */
                char **copy = copy_args(args, n_args);
                if (!copy)
                        return;
                free_args(h->args, h->n_args);
                h->args = copy;
                h->n_args = n_args;
                h->start_after_stop = true;
                log_info("%s: %s starts once the old one (pid %d) has ended", args[0], helper_kinds[kind].name,
                         (int) h->pid);
                return;
        }
        if (h->pid > 0 || h->restart_at) {
                log_debug("%s already has its %s (pid %d)", args[0], helper_kinds[kind].name, (int) h->pid);
                return;
        }
        helper_forget(l, h);
        if (!(h->args = copy_args(args, n_args)))
                return;
        h->n_args = n_args;
        spawn_helper(l, kind, domid);
}

/* A helper ended that qubesd did not stop: restart it later, or give up. */
static void helper_ended(struct launcher *l, enum helper_kind kind, struct helper_proc *h, int status) {
        const char *what = helper_kinds[kind].name, *name = h->args[0];
        bool crashed = WIFSIGNALED(status);
        uint64_t now = now_usec();

        if (!crashed && (helper_kinds[kind].restart == RESTART_ON_CRASH || WEXITSTATUS(status) == 0)) {
                if (WEXITSTATUS(status) == 0)
                        log_notice("%s: %s ended (the domain closed its end); not restarted", name, what);
                else
                        log_warning("%s: %s ended (status %d: the domain misbehaved or it failed); not restarted",
                                    name, what, WEXITSTATUS(status));
                helper_forget(l, h);
                return;
        }
        if (now - h->window_start > RESTART_WINDOW_USEC) {
                h->window_start = now;
                h->restarts = 0;
        }
        if (h->restarts >= RESTART_MAX) {
                log_error("%s: %s ended (%s %d), restarted %u times within a minute already; giving up", name,
                          what, crashed ? "signal" : "status", crashed ? WTERMSIG(status) : WEXITSTATUS(status),
                          h->restarts);
                helper_forget(l, h);
                return;
        }
        h->restarts++;
        h->pid = 0;
        h->restart_at = now + RESTART_DELAY_USEC;
        l->pending++;
        log_warning("%s: %s ended (%s %d) while its domain runs; restarting it (%u of %u this minute)", name, what,
                    crashed ? "signal" : "status", crashed ? WTERMSIG(status) : WEXITSTATUS(status), h->restarts,
                    RESTART_MAX);
}

static void reap_helpers(struct launcher *l) {
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                for (size_t k = 0; k < _HELPER_KIND_MAX; k++)
                        for (size_t i = 0; i <= DOMAIN_QID_MAX; i++) {
                                struct helper_proc *h = &l->procs[k][i];

                                if (h->pid != pid)
                                        continue;
                                if (h->stopping && h->start_after_stop) {
                                        log_info("%s: old %s stopped", h->args[0], helper_kinds[k].name);
                                        *h = (struct helper_proc) { .args = h->args, .n_args = h->n_args };
                                        spawn_helper(l, (enum helper_kind) k, (uint32_t) i);
                                } else if (h->stopping) {
                                        log_info("%s: %s stopped", h->args[0], helper_kinds[k].name);
                                        helper_forget(l, h);
                                } else
                                        helper_ended(l, (enum helper_kind) k, h, status);
                        }
}

/* Start the helpers whose restart is due; the poll timeout until the next
 * one (-1: none). */
static int run_restarts(struct launcher *l) {
        uint64_t now = now_usec(), next = UINT64_MAX;

        for (size_t k = 0; k < _HELPER_KIND_MAX && l->pending > 0; k++)
                for (size_t i = 0; i <= DOMAIN_QID_MAX; i++) {
                        struct helper_proc *h = &l->procs[k][i];

                        if (!h->restart_at)
                                continue;
                        if (h->restart_at <= now) {
                                h->restart_at = 0;
                                l->pending--;
                                spawn_helper(l, (enum helper_kind) k, (uint32_t) i);
                        } else if (h->restart_at < next)
                                next = h->restart_at;
                }
        if (next == UINT64_MAX)
                return -1;
        return (int) ((next - now + 999) / 1000);
}

static void handle_request(struct launcher *l, char *untrusted_msg) {
        char *fields[3 + LAUNCH_ARGS_MAX] = {};
        uint32_t kind, domid;
        size_t n = 0;

        /* qubesd is trusted, but a garbled request still changes nothing */
        for (char *p = untrusted_msg; p && n < ELEMENTSOF(fields); n++) {
                fields[n] = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = '\0';
        }
        if (n < 3 || parse_uint32(fields[1], &kind) < 0 || kind >= _HELPER_KIND_MAX ||
            parse_uint32(fields[2], &domid) < 0 || domid == 0 || domid > DOMAIN_QID_MAX) {
                log_error("Ignoring a malformed request");
                return;
        }
        if (strcmp(fields[0], "START") == 0 && n > 3 && fields[3][0])
                start_helper(l, kind, domid, fields + 3, n - 3);
        else if (strcmp(fields[0], "STOP") == 0 && n == 3) {
                struct helper_proc *h = &l->procs[kind][domid];
                if (h->restart_at)
                        helper_forget(l, h);    /* its domain stopped: no restart */
                else if (h->stopping)
                        h->start_after_stop = false;    /* stopped again: no new one */
                else if (h->pid > 0) {
                        h->stopping = true;
                        (void) kill(h->pid, SIGTERM);
                }
        } else
                log_error("Ignoring a malformed request");
}

static _Noreturn void launcher_main(struct launcher *l) {
        char buf[LAUNCH_MSG_MAX + 1];
        sigset_t mask;
        int sig_fd;

        log_setup("qubesd-launcher");
        reset_signals();
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_SETMASK, &mask, NULL);
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sig_fd < 0)
                _exit(1);

        for (;;) {
                struct pollfd fds[] = {
                        { .fd = LAUNCHER_FD, .events = POLLIN },
                        { .fd = sig_fd, .events = POLLIN },
                };
                if (poll(fds, ELEMENTSOF(fds), run_restarts(l)) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (fds[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sig_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
                                break;
                        reap_helpers(l);
                }
                if (fds[0].revents) {
                        ssize_t n = recv(LAUNCHER_FD, buf, LAUNCH_MSG_MAX, MSG_DONTWAIT);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0)
                                break;  /* qubesd is gone */
                        buf[n] = '\0';
                        handle_request(l, buf);
                }
        }
        for (size_t k = 0; k < _HELPER_KIND_MAX; k++)
                for (size_t i = 0; i <= DOMAIN_QID_MAX; i++)
                        if (l->procs[k][i].pid > 0)
                                (void) kill(l->procs[k][i].pid, SIGTERM);
        _exit(0);
}

int launcher_open(struct qubesd *q) {
        int pair[2];
        pid_t parent = getpid(), pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "Cannot create the launcher's socket: %m");
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pair[0]);
                close(pair[1]);
                return log_error_errno(r, "Cannot fork the launcher: %m");
        }
        if (pid == 0) {
                static struct launcher l;       /* the child's own: large, not on the stack */

                if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent ||
                    dup2(pair[1], LAUNCHER_FD) < 0 ||
                    syscall(SYS_close_range, (unsigned) LAUNCHER_FD + 1, ~0U, 0U) < 0)
                        _exit(1);
                l.config = &q->launcher_config;
                launcher_main(&l);
        }
        close(pair[1]);
        q->launcher_fd = pair[0];
        q->launcher_pid = pid;
        return 0;
}

void launcher_close(struct qubesd *q) {
        if (q->launcher_fd >= 0)
                close(q->launcher_fd);  /* the launcher stops the helpers and exits */
        q->launcher_fd = -1;
        if (q->launcher_pid > 0)
                (void) waitpid(q->launcher_pid, NULL, 0);
        q->launcher_pid = 0;
}

static void launcher_send(struct qubesd *q, const char *msg, size_t len) {
        struct iovec iov = { .iov_base = (void *) msg, .iov_len = len };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (sendmsg(q->launcher_fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_error_errno(errno, "Cannot reach the launcher: %m");
}

int launcher_start(struct qubesd *q, enum helper_kind kind, uint32_t domid, const char *const *args,
                   size_t n_args) {
        char msg[LAUNCH_MSG_MAX];
        size_t len;
        int n;

        if (q->launcher_fd < 0)
                return -ENOTCONN;
        if (n_args == 0 || n_args > LAUNCH_ARGS_MAX)
                return -EINVAL;
        n = snprintf(msg, sizeof(msg), "START\n%d\n%" PRIu32, (int) kind, domid);
        len = (size_t) n;
        for (size_t i = 0; i < n_args; i++) {
                if (strchr(args[i], '\n'))
                        return -EINVAL;
                n = snprintf(msg + len, sizeof(msg) - len, "\n%s", args[i]);
                if (n < 0 || (size_t) n >= sizeof(msg) - len)
                        return -ENAMETOOLONG;
                len += (size_t) n;
        }
        launcher_send(q, msg, len);
        return 0;
}

void launcher_stop(struct qubesd *q, enum helper_kind kind, uint32_t domid) {
        char msg[64];

        if (q->launcher_fd < 0)
                return;
        int n = snprintf(msg, sizeof(msg), "STOP\n%d\n%" PRIu32, (int) kind, domid);
        launcher_send(q, msg, (size_t) n);
}
