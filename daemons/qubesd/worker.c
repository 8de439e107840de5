/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The file worker (see worker.h): both ends. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "hal.h"
#include "log.h"
#include "uid-shift.h"
#include "worker.h"

#define WORKER_JOBS_MAX 64
#define WORKER_ARG_MAX PATH_MAX

/* What the agents need inside a debootstrapped template beyond minbase's libc
 * (ldd of the agents: qrexec-agent links libxenvchan, from libxenmisc4.17, and
 * its Xen libraries; odyssey-init only libc). */
#define WORKER_DEBOOTSTRAP_INCLUDE \
        "libxenmisc4.17,libxenstore4,libxengnttab1,libxenevtchn1,libxentoolcore1,libxentoollog1"

struct worker_request {
        uint32_t id;
        uint32_t op;
        char a[WORKER_ARG_MAX];
        char b[WORKER_ARG_MAX];
        char c[512];
};

struct worker_reply {
        uint32_t id;
        int32_t result;
};

struct worker_job {
        uint32_t id;
        worker_done_fn done;
        void *userdata;
        struct worker_job *next;
};

struct worker {
        int fd;
        pid_t pid;
        uint32_t next_id;
        sd_event_source *io;
        struct worker_job *jobs;
};

/* ---------------------------------------------------------------- the worker process */

/* A path the worker may touch: absolute, below <state>/domains/, and no "."
 * or ".." component anywhere. */
static bool path_allowed(const char *domains_dir, const char *path) {
        size_t l = strlen(domains_dir);

        if (strncmp(path, domains_dir, l) != 0 || path[l] != '/' || path[l + 1] == '\0')
                return false;
        for (const char *p = path; *p; ) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);

                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!slash)
                        break;
                p = slash + 1;
        }
        return true;
}

static bool text_allowed(const char *s, const char *extra) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
                      strchr(extra, *s)))
                        return false;
        return true;
}

/* 0 or a native domain's uid base (hal_native_uid_base()). */
static bool uid_base_allowed(const char *text, uint32_t *ret) {
        uint32_t base;

        if (parse_uint32(text, &base) < 0)
                return false;
        if (base != 0 && (base < HAL_NATIVE_UID_BASE || (base - HAL_NATIVE_UID_BASE) % HAL_NATIVE_UID_RANGE != 0 ||
                          base > UINT32_MAX - HAL_NATIVE_UID_RANGE))
                return false;
        *ret = base;
        return true;
}

/* What a job runs: a program (argv), or, argv[0] NULL, the uid shift walk in
 * a child of the worker. */
struct worker_command {
        const char *argv[8];
        const char *shift_path;
        uint32_t shift_old_base, shift_new_base;
};

/* The command of a request: 0, or -errno when the request is not one the worker runs. */
static int request_command(const char *domains_dir, struct worker_request *req, struct worker_command *cmd) {
        const char **argv = cmd->argv;

        *cmd = (struct worker_command) {};
        req->a[sizeof(req->a) - 1] = req->b[sizeof(req->b) - 1] = req->c[sizeof(req->c) - 1] = '\0';
        switch (req->op) {
        case WORKER_COPY_TREE:
                if (!path_allowed(domains_dir, req->a) || !path_allowed(domains_dir, req->b))
                        return -EPERM;
                if (access(req->b, F_OK) == 0)
                        return -EEXIST;
                argv[0] = "/bin/cp", argv[1] = "-a", argv[2] = "--reflink=auto", argv[3] = "--";
                argv[4] = req->a, argv[5] = req->b, argv[6] = NULL;
                return 0;
        case WORKER_REMOVE_TREE:
                if (!path_allowed(domains_dir, req->a))
                        return -EPERM;
                argv[0] = "/bin/rm", argv[1] = "-rf", argv[2] = "--one-file-system", argv[3] = "--";
                argv[4] = req->a, argv[5] = NULL;
                return 0;
        case WORKER_DEBOOTSTRAP:
                if (!text_allowed(req->a, "-") || !path_allowed(domains_dir, req->b) ||
                    !(strncmp(req->c, "http://", 7) == 0 || strncmp(req->c, "https://", 8) == 0 ||
                      strncmp(req->c, "file:///", 8) == 0) ||
                    !text_allowed(req->c, ":/.-_~+"))
                        return -EPERM;
                argv[0] = "/usr/sbin/debootstrap", argv[1] = "--variant=minbase";
                argv[2] = "--include=" WORKER_DEBOOTSTRAP_INCLUDE, argv[3] = req->a, argv[4] = req->b;
                argv[5] = req->c, argv[6] = NULL;
                return 0;
        case WORKER_SHIFT_IDS:
                if (!path_allowed(domains_dir, req->a) || !uid_base_allowed(req->b, &cmd->shift_old_base) ||
                    !uid_base_allowed(req->c, &cmd->shift_new_base) || cmd->shift_new_base == 0)
                        return -EPERM;
                cmd->shift_path = req->a;
                return 0;
        default:
                return -EINVAL;
        }
}

static pid_t worker_spawn(const struct worker_command *cmd, int output_fd) {
        pid_t pid = fork();

        if (pid != 0)
                return pid < 0 ? -errno : pid;
        /* the child: its own process group, so that stopping the worker stops it too */
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setpgid(0, 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int out = output_fd >= 0 ? output_fd : null;
        /* the walk's errors go to the worker's stderr (qubesd's) unless the job has an output */
        int err = output_fd >= 0 || cmd->argv[0] ? out : STDERR_FILENO;
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
            (err != STDERR_FILENO && dup2(err, STDERR_FILENO) < 0))
                _exit(127);
        if (!cmd->argv[0]) {
                int r = uid_shift_tree(cmd->shift_path, cmd->shift_old_base, cmd->shift_new_base);
                if (r < 0) {
                        log_error_errno(r, "Cannot move %s from uid base %" PRIu32 " to %" PRIu32,
                                        cmd->shift_path, cmd->shift_old_base, cmd->shift_new_base);
                        _exit(EXIT_FAILURE);
                }
                _exit(EXIT_SUCCESS);
        }
        setenv("LC_ALL", "C", 1);
        setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
        execv(cmd->argv[0], (char *const *) cmd->argv);
        _exit(127);
}

static int worker_receive(int fd, struct worker_request *req, int *ret_fd) {
        ssize_t n = recv_with_fd(fd, req, sizeof(*req), 0, ret_fd);

        if (n < 0)
                return n == -EINTR || n == -EAGAIN ? 0 : (int) n;
        if (n == 0)
                return -ECONNRESET;
        return n == (ssize_t) sizeof(*req) ? 1 : -EBADMSG;
}

static _Noreturn void worker_main(int fd, const char *state_dir) {
        struct { pid_t pid; uint32_t id; } jobs[WORKER_JOBS_MAX] = {};
        char domains_dir[PATH_MAX];
        struct worker_request *req = malloc(sizeof(*req));
        sigset_t chld;
        int sfd;

        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        (void) prctl(PR_SET_NAME, "qubesd-worker");
        snprintf(domains_dir, sizeof(domains_dir), "%s/domains", state_dir);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigaddset(&chld, SIGTERM);      /* stop the jobs too, below */
        (void) sigprocmask(SIG_BLOCK, &chld, NULL);
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0 || !req)
                _exit(EXIT_FAILURE);

        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        bool term = false;
                        while (read(sfd, &si, sizeof(si)) > 0)
                                term = term || si.ssi_signo == SIGTERM;
                        if (term)
                                break;
                        for (;;) {
                                int status;
                                pid_t pid = waitpid(-1, &status, WNOHANG);
                                if (pid <= 0)
                                        break;
                                for (size_t i = 0; i < WORKER_JOBS_MAX; i++)
                                        if (jobs[i].pid == pid) {
                                                struct worker_reply reply = {
                                                        .id = jobs[i].id,
                                                        .result = WIFEXITED(status) ? WEXITSTATUS(status)
                                                                                    : 128 + WTERMSIG(status),
                                                };
                                                (void) send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
                                                jobs[i].pid = 0;
                                        }
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        struct worker_command cmd;
                        int output_fd, r;

                        r = worker_receive(fd, req, &output_fd);
                        if (r < 0 && r != -EBADMSG)
                                break;
                        if (r == 0)
                                continue;
                        if (r > 0)
                                r = request_command(domains_dir, req, &cmd);
                        size_t slot = WORKER_JOBS_MAX;
                        for (size_t i = 0; r >= 0 && i < WORKER_JOBS_MAX && slot == WORKER_JOBS_MAX; i++)
                                if (jobs[i].pid == 0)
                                        slot = i;
                        if (r >= 0 && slot == WORKER_JOBS_MAX)
                                r = -EAGAIN;
                        if (r >= 0) {
                                pid_t pid = worker_spawn(&cmd, output_fd);
                                if (pid < 0)
                                        r = (int) pid;
                                else
                                        jobs[slot].pid = pid, jobs[slot].id = req->id;
                        }
                        if (output_fd >= 0)
                                close(output_fd);
                        if (r < 0) {
                                struct worker_reply reply = { .id = req->id, .result = r };
                                (void) send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
                        }
                }
        }
        /* qubesd is gone or stops us: so are its jobs */
        for (size_t i = 0; i < WORKER_JOBS_MAX; i++)
                if (jobs[i].pid > 0)
                        (void) kill(-jobs[i].pid, SIGTERM);
        _exit(EXIT_SUCCESS);
}

/* ---------------------------------------------------------------- qubesd's side */

int worker_start(const char *state_dir, struct worker **ret) {
        _cleanup_free_ struct worker *w = calloc(1, sizeof(*w));
        int pair[2];

        if (!w)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        w->pid = fork();
        if (w->pid < 0) {
                int r = -errno;
                close(pair[0]);
                close(pair[1]);
                return r;
        }
        if (w->pid == 0) {
                close(pair[0]);
                worker_main(pair[1], state_dir);
        }
        close(pair[1]);
        w->fd = pair[0];
        w->next_id = 1;
        *ret = TAKE_PTR(w);
        return 0;
}

static int worker_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct worker *w = userdata;
        struct worker_reply reply;

        for (;;) {
                ssize_t n = recv(w->fd, &reply, sizeof(reply), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n != (ssize_t) sizeof(reply)) {
                        log_error("The file worker went away; file jobs fail from now on.");
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        while (w->jobs) {
                                struct worker_job *j = w->jobs;
                                w->jobs = j->next;
                                j->done(j->userdata, -ECONNRESET);
                                free(j);
                        }
                        return 0;
                }
                for (struct worker_job **j = &w->jobs; *j; j = &(*j)->next)
                        if ((*j)->id == reply.id) {
                                struct worker_job *done = *j;
                                *j = done->next;
                                done->done(done->userdata, reply.result);
                                free(done);
                                break;
                        }
        }
}

int worker_attach_event(struct worker *w, sd_event *event) {
        return sd_event_add_io(event, &w->io, w->fd, EPOLLIN, worker_on_io, w);
}

int worker_run(struct worker *w, enum worker_op op, const char *a, const char *b, const char *c, int output_fd,
               worker_done_fn done, void *userdata) {
        _cleanup_free_ struct worker_request *req = calloc(1, sizeof(*req));
        _cleanup_free_ struct worker_job *job = calloc(1, sizeof(*job));
        ssize_t n;

        if (!req || !job)
                return -ENOMEM;
        if (strlen(a ?: "") >= sizeof(req->a) || strlen(b ?: "") >= sizeof(req->b) || strlen(c ?: "") >= sizeof(req->c))
                return -ENAMETOOLONG;
        req->id = w->next_id++;
        req->op = op;
        strcpy(req->a, a ?: "");
        strcpy(req->b, b ?: "");
        strcpy(req->c, c ?: "");
        if (output_fd >= 0)
                n = send_with_fd(w->fd, req, sizeof(*req), 0, output_fd);
        else
                n = send(w->fd, req, sizeof(*req), MSG_NOSIGNAL) < 0 ? -errno : 0;
        if (n < 0)
                return (int) n;
        *job = (struct worker_job) { .id = req->id, .done = done, .userdata = userdata, .next = w->jobs };
        w->jobs = TAKE_PTR(job);
        return 0;
}

int worker_shift_ids(struct worker *w, const char *path, uint32_t old_base, uint32_t new_base, worker_done_fn done,
                     void *userdata) {
        char old_text[16], new_text[16];

        snprintf(old_text, sizeof(old_text), "%" PRIu32, old_base);
        snprintf(new_text, sizeof(new_text), "%" PRIu32, new_base);
        return worker_run(w, WORKER_SHIFT_IDS, path, old_text, new_text, -1, done, userdata);
}

void worker_free(struct worker *w) {
        if (!w)
                return;
        sd_event_source_disable_unref(w->io);
        while (w->jobs) {
                struct worker_job *j = w->jobs;
                w->jobs = j->next;
                free(j);
        }
        if (w->fd >= 0)
                close(w->fd);       /* the worker exits on EOF ... */
        if (w->pid > 0) {
                /* ... unless another process (the backend's spawner) inherited our end */
                (void) kill(w->pid, SIGTERM);
                (void) waitpid(w->pid, NULL, 0);
        }
        free(w);
}
