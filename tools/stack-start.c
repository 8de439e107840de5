/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-stack start: prepare ROOT, bind the notify socket, and fork the
 * keeper, which starts the daemons one at a time (each must send READY=1
 * before the next starts), reports back, and then stays as their parent.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "log.h"
#include "stack.h"

#define STATUS_TEXT_MAX 160

struct started {
        const struct stack_daemon *daemon;
        pid_t pid;
        bool ready, exited;
        int wait_status;
        char status[STATUS_TEXT_MAX + 1];
};

struct keeper {
        struct stack *stack;
        int notify_fd, sigchld_fd;
        struct started *started;
        size_t n_started;
};

/* ROOT and its parents must let the daemons' uids through to run/notify.sock. */
static int prepare_root(const struct stack *s) {
        struct stat st;
        int r;

        r = mkdir_p(s->root, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s", s->root);
        if (stat(s->root, &st) < 0)
                return log_error_errno(errno, "Cannot stat %s", s->root);
        if ((st.st_mode & 0011) != 0011) {
                if (chmod(s->root, (st.st_mode & 07777) | 0011) < 0)
                        return log_error_errno(errno, "Cannot make %s searchable by the daemons' uids", s->root);
                fprintf(stderr, "odyssey-stack: made %s searchable (o+x) so daemons running as other uids reach run/\n", s->root);
        }
        _cleanup_free_ char *parent = strdup(s->root);
        if (!parent)
                return log_error_errno(ENOMEM, "Out of memory");
        for (char *slash; (slash = strrchr(parent, '/'));) {
                slash[slash == parent ? 1 : 0] = '\0';
                if (stat(parent, &st) < 0)
                        return log_error_errno(errno, "Cannot stat %s", parent);
                if (!(st.st_mode & 0001))
                        return log_error_errno(EACCES, "%s is not searchable by other users, so daemons running as their own uids cannot reach %s; choose a root elsewhere (e.g. under /tmp)", parent, s->root);
                if (slash == parent)
                        break;
        }

        /* run/: root's, group-writable for busd (its bus.sock), sticky so that
         * busd cannot replace the launcher's files (stack.pids, notify.sock). */
        gid_t busd_gid = (gid_t) stack_role_uid(s, BUS_ROLE_BUSD);
        if ((r = mkdir_p(s->run_dir, 0755)) < 0 || (r = mkdir_p(s->state_dir, 0755)) < 0 ||
            (r = mkdir_p(s->log_dir, 0750)) < 0)
                return log_error_errno(r, "Cannot create the directories under %s", s->root);
        if (chown(s->run_dir, 0, busd_gid) < 0 || chmod(s->run_dir, 01775) < 0)
                return log_error_errno(errno, "Cannot set the owner and mode of %s", s->run_dir);
        return stack_prepare_policyd(s);
}

static int bind_notify_socket(const struct stack *s) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->notify_path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create the notify socket");
        /* The kernel then stamps every datagram with its sender's pid. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return log_error_errno(errno, "Cannot set SO_PASSCRED");
        if (unlink(s->notify_path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Cannot remove the old %s", s->notify_path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot bind %s", s->notify_path);
        /* Daemons of every uid write to it. */
        if (chmod(s->notify_path, 0666) < 0)
                return log_error_errno(errno, "Cannot chmod %s", s->notify_path);
        return TAKE_FD(fd);
}

static struct started *find_started(struct keeper *k, pid_t pid) {
        for (size_t i = 0; i < k->n_started; i++)
                if (k->started[i].pid == pid)
                        return &k->started[i];
        return NULL;
}

/* One sd_notify datagram: which pid sent it, and READY=1 / STATUS= in it. */
static void receive_notify(struct keeper *k) {
        char untrusted_text[4096 + 1];
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 32)];
        } control;
        struct iovec iov = { untrusted_text, sizeof(untrusted_text) - 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        const struct ucred *creds = NULL;

        ssize_t n = recvmsg(k->notify_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        creds = (const struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_type == SCM_RIGHTS)    /* FDSTORE=1: not kept here */
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                close(fd);
                        }
        }
        if (!creds || (size_t) n >= sizeof(untrusted_text) || (msg.msg_flags & MSG_TRUNC))
                return;
        struct started *st = find_started(k, creds->pid);
        if (!st)
                return;         /* not one of ours (e.g. a daemon's helper process) */
        untrusted_text[n] = '\0';

        for (char *saveptr = NULL, *line = strtok_r(untrusted_text, "\n", &saveptr); line;
             line = strtok_r(NULL, "\n", &saveptr)) {
                if (strcmp(line, "READY=1") == 0)
                        st->ready = true;
                else if (strncmp(line, "STATUS=", 7) == 0) {
                        /* Printable ASCII only: it goes to a terminal. */
                        size_t j = 0;
                        for (const char *c = line + 7; *c && j < STATUS_TEXT_MAX; c++)
                                st->status[j++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
                        st->status[j] = '\0';
                        log_debug("%s: %s", st->daemon->name, st->status);
                }
        }
}

static void describe_exit(const char *name, pid_t pid, int status) {
        if (WIFEXITED(status))
                log_info("%s (pid %i) exited with status %i", name, (int) pid, WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                log_info("%s (pid %i) was killed by signal %s", name, (int) pid, sigabbrev_np(WTERMSIG(status)) ?: "?");
}

/* Reap every child that has exited.  -ECHILD when none is left at all. */
static int reap_children(struct keeper *k) {
        struct signalfd_siginfo si;

        while (read(k->sigchld_fd, &si, sizeof(si)) == sizeof(si))
                ;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid < 0)
                        return errno == EINTR ? 0 : -errno;
                if (pid == 0)
                        return 0;
                struct started *st = find_started(k, pid);
                if (st) {
                        st->exited = true;
                        st->wait_status = status;
                }
                describe_exit(st ? st->daemon->name : "a daemon's orphan", pid, status);
        }
}

/* Until the newest daemon is ready: 0, or -ECHILD when any daemon exits, or -ETIMEDOUT. */
static int wait_ready(struct keeper *k, struct started *newest) {
        uint64_t deadline = now_usec() + k->stack->start_timeout_usec;

        for (;;) {
                for (size_t i = 0; i < k->n_started; i++)
                        if (k->started[i].exited)
                                return -ECHILD;
                if (newest->ready)
                        return 0;
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;

                struct pollfd pfds[2] = {
                        { .fd = k->notify_fd, .events = POLLIN },
                        { .fd = k->sigchld_fd, .events = POLLIN },
                };
                if (poll(pfds, 2, (int) ((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
                        return -errno;
                if (pfds[0].revents)
                        receive_notify(k);
                if (pfds[1].revents)
                        (void) reap_children(k);
        }
}

static int write_pids(struct keeper *k) {
        struct stack_entry entries[k->n_started + 1];

        for (size_t i = 0; i < k->n_started; i++) {
                snprintf(entries[i].name, sizeof(entries[i].name), "%s", k->started[i].daemon->name);
                entries[i].pid = k->started[i].pid;
        }
        return stack_write_pids(k->stack->pids_path, entries, k->n_started);
}

/* A failed start takes down what it started: all or nothing. */
static void undo_start(struct keeper *k) {
        pid_t pids[k->n_started + 1];
        const char *names[k->n_started + 1];
        size_t n = 0;

        for (size_t i = 0; i < k->n_started; i++)
                if (!k->started[i].exited) {
                        pids[n] = k->started[i].pid;
                        names[n++] = k->started[i].daemon->name;
                }
        (void) stack_terminate(pids, names, n, k->stack->stop_timeout_usec);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        unlink(k->stack->pids_path);
        unlink(k->stack->keeper_path);
}

/* "unix:path=..." with D-Bus address escaping of the path. */
static void print_admin_address(const struct stack *s) {
        _cleanup_free_ char *path = path_join(s->run_dir, "admin.sock");

        if (!path)
                return;
        fputs("QUBES_ADMIN_ADDRESS=unix:path=", stdout);
        for (const unsigned char *c = (const unsigned char *) path; *c; c++)
                if (strchr("-_/.\\*", *c) || (*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z'))
                        putchar(*c);
                else
                        printf("%%%02x", *c);
        putchar('\n');
}

static int start_all(struct keeper *k) {
        struct stack *s = k->stack;
        int r;

        for (size_t i = 0; i < s->n_daemons; i++) {
                const struct stack_daemon *d = &s->daemons[i];
                if (!d->selected)
                        continue;

                struct started *st = &k->started[k->n_started];
                *st = (struct started) { .daemon = d };
                r = stack_spawn(s, d, &st->pid);
                if (r < 0)
                        return r;
                k->n_started++;
                /* Recorded before it is ready, so `stop` finds it even if we die. */
                r = write_pids(k);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s", s->pids_path);

                r = wait_ready(k, st);
                if (r == -ETIMEDOUT) {
                        log_error("%s did not report READY=1 within %" PRIu64 " s", d->name, s->start_timeout_usec / 1000000);
                        stack_print_log_tail(s, d->name, 20);
                        return r;
                }
                if (r < 0) {
                        for (size_t j = 0; j < k->n_started; j++)
                                if (k->started[j].exited) {
                                        log_error("%s exited while the stack was starting", k->started[j].daemon->name);
                                        stack_print_log_tail(s, k->started[j].daemon->name, 20);
                                }
                        return r;
                }
                fprintf(stderr, "odyssey-stack: %s is ready (pid %i)\n", d->name, (int) st->pid);
        }
        return 0;
}

/* After start: parent of the daemons until the last one is gone. */
static _Noreturn void supervise(struct keeper *k) {
        for (;;) {
                struct pollfd pfds[2] = {
                        { .fd = k->notify_fd, .events = POLLIN },
                        { .fd = k->sigchld_fd, .events = POLLIN },
                };
                if (poll(pfds, 2, -1) < 0 && errno != EINTR)
                        break;
                if (pfds[0].revents)
                        receive_notify(k);
                if (pfds[1].revents && reap_children(k) == -ECHILD)
                        break;
        }
        log_info("No daemon left, the keeper exits.");
        pid_t recorded;
        if (stack_read_pid_file(k->stack->keeper_path, &recorded) >= 0 && recorded == getpid())
                unlink(k->stack->keeper_path);
        _exit(0);
}

static _Noreturn void run_keeper(struct stack *s, int notify_fd, int report_fd) {
        struct keeper k = { .stack = s, .notify_fd = notify_fd };
        struct sigaction ignore = { .sa_handler = SIG_IGN };
        sigset_t chld;
        char result = 1;
        int r;

        log_setup("odyssey-stack");
        /* Survive the terminal; adopt anything the daemons leave behind. */
        setsid();
        sigaction(SIGHUP, &ignore, NULL);
        sigaction(SIGPIPE, &ignore, NULL);
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        (void) prctl(PR_SET_NAME, "stack-keeper");
        /* run/ as cwd marks this process as this stack's keeper (see stack_process_ours). */
        if (chdir(s->run_dir) < 0) {
                log_error_errno(errno, "Cannot enter %s", s->run_dir);
                goto report;
        }
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        k.sigchld_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        k.started = calloc(s->n_daemons, sizeof(*k.started));
        if (k.sigchld_fd < 0 || !k.started) {
                log_error_errno(errno, "Cannot set up the keeper");
                goto report;
        }
        r = stack_write_pid_file(s->keeper_path, getpid());
        if (r < 0) {
                log_error_errno(r, "Cannot write %s", s->keeper_path);
                goto report;
        }

        r = start_all(&k);
        if (r < 0) {
                undo_start(&k);
                goto report;
        }

        print_admin_address(s);
        for (size_t i = 0; i < k.n_started; i++)
                printf("# %s: pid %i, uid %u, %s\n", k.started[i].daemon->name, (int) k.started[i].pid,
                       (unsigned) stack_daemon_uid(s, k.started[i].daemon),
                       k.started[i].status[0] ? k.started[i].status : "ready");
        fflush(stdout);
        result = 0;

report:
        /* Let go of the caller's terminal or pipe before saying we are done, so
         * that `$(stack start ...)` and `stack start | tee` finish. */
        if (result == 0) {
                _cleanup_free_ char *log_path = path_join(s->log_dir, "stack.log");
                int log_fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640) : -1;
                int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (log_fd < 0 || null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
                    dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                        result = 1;
        }
        (void) write_full(report_fd, &result, 1);
        close(report_fd);
        if (result != 0)
                _exit(1);
        supervise(&k);
}

static bool stack_is_running(struct stack *s) {
        _cleanup_free_ struct stack_entry *entries = NULL;
        size_t n = 0;

        if (stack_read_pids(s->pids_path, &entries, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (stack_process_alive(entries[i].pid) && stack_process_ours(s, entries[i].pid))
                        return true;
        return false;
}

int stack_start(struct stack *s) {
        size_t n_selected = 0;
        int report[2], r;

        if (geteuid() != 0) {
                log_error("start must run as root: it runs each daemon under its role's uid.");
                return 1;
        }
        for (size_t i = 0; i < s->n_daemons; i++) {
                struct stack_daemon *d = &s->daemons[i];
                _cleanup_free_ char *path = stack_program_path(s, d);
                if (!d->selected)
                        continue;
                if (!path)
                        return log_error_errno(ENOMEM, "Out of memory"), 1;
                if (access(path, X_OK) < 0) {
                        if (s->only_given || !d->builtin || errno != ENOENT) {
                                log_error_errno(errno, "Cannot run %s: %s", d->name, path);
                                return 1;
                        }
                        fprintf(stderr, "odyssey-stack: skipping %s (%s is not built)\n", d->name, path);
                        d->selected = false;
                        continue;
                }
                n_selected++;
        }
        if (n_selected == 0) {
                log_error("Nothing to start: no daemon is built in %s (run make there).", s->build_dir);
                return 1;
        }

        /* Create it first, so that its canonical name is known from now on. */
        r = mkdir_p(s->root, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s", s->root), 1;
        _cleanup_free_ char *root = strdup(s->root);
        if (!root || stack_set_root(s, root) < 0)
                return 1;
        if (stack_is_running(s)) {
                log_error("A stack is already running in %s (stop it first: stack stop --root %s)", s->root, s->root);
                return 1;
        }
        r = prepare_root(s);
        if (r < 0)
                return 1;
        r = stack_write_roles(s);
        if (r < 0)
                return 1;
        _cleanup_close_ int notify_fd = bind_notify_socket(s);
        if (notify_fd < 0)
                return 1;

        if (pipe2(report, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Cannot create a pipe"), 1;
        fflush(NULL);
        pid_t keeper = fork();
        if (keeper < 0) {
                log_error_errno(errno, "Cannot fork the keeper");
                close(report[0]);
                close(report[1]);
                return 1;
        }
        if (keeper == 0) {
                close(report[0]);
                run_keeper(s, TAKE_FD(notify_fd), report[1]);
        }
        close(report[1]);

        char result = 1;
        r = read_full(report[0], &result, 1);
        close(report[0]);
        if (r < 0) {
                log_error("The keeper process died while starting the stack (logs in %s).", s->log_dir);
                return 1;
        }
        return result == 0 ? 0 : 1;
}
