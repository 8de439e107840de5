/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The spawner: a small unsandboxed child of qubesd, forked before qubesd's
 * seccomp sandbox, that starts domain monitors on request.  qubesd may not
 * create namespaces or exec anything once sandboxed; the spawner only ever
 * does one thing: "SPAWN DIR" with a connected socket attached becomes
 * `odyssey-domain --qubesd-fd 3 DIR`, started through a double fork so that
 * the monitor is nobody's child here and outlives qubesd.  It exits when
 * qubesd closes its end (or dies).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hal-native-internal.h"
#include "log.h"

#define SPAWNER_FD 3
#define SPAWN_MSG_MAX 4096

static void start_monitor(const char *monitor_program, const char *dir, int qubesd_fd) {
        pid_t pid = fork();

        if (pid < 0) {
                log_error_errno(errno, "Cannot fork a monitor for %s", dir);
                return;
        }
        if (pid == 0) {
                /* The intermediate: a new session, then the monitor, then leave. */
                (void) setsid();
                pid = fork();
                if (pid != 0)
                        _exit(pid < 0 ? 1 : 0);
                int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(qubesd_fd, SPAWNER_FD) < 0 ||
                    syscall(SYS_close_range, (unsigned) SPAWNER_FD + 1, ~0U, 0U) < 0)
                        _exit(127);
                const char *argv[] = { "odyssey-domain", "--qubesd-fd", "3", dir, NULL };
                execv(monitor_program, (char *const *) argv);
                log_error_errno(errno, "Cannot execute %s", monitor_program);
                _exit(127);
        }
        (void) waitpid(pid, NULL, 0);
}

static _Noreturn void spawner_main(const char *monitor_program) {
        char buf[SPAWN_MSG_MAX + 1];
        union {
                struct cmsghdr header;
                uint8_t space[CMSG_SPACE(sizeof(int))];
        } control;
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        log_setup("odyssey-spawner");

        for (;;) {
                struct iovec iov = { .iov_base = buf, .iov_len = SPAWN_MSG_MAX };
                struct msghdr msg = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = &control, .msg_controllen = sizeof(control),
                };
                ssize_t n = recvmsg(SPAWNER_FD, &msg, MSG_CMSG_CLOEXEC);
                int fd = -1;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0);       /* qubesd is gone */
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                            c->cmsg_len == CMSG_LEN(sizeof(int)))
                                memcpy(&fd, CMSG_DATA(c), sizeof(int));
                buf[n] = '\0';
                if (fd >= 0 && strncmp(buf, "SPAWN ", 6) == 0 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                        start_monitor(monitor_program, buf + 6, fd);
                else
                        log_error("Ignoring a malformed request");
                if (fd >= 0)
                        close(fd);
        }
}

int native_spawner_start(const char *monitor_program, int *ret_fd, pid_t *ret_pid) {
        int pair[2];
        pid_t parent = getpid(), pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pair[0]);
                close(pair[1]);
                return r;
        }
        if (pid == 0) {
                /* Nothing of qubesd's stays open here but stdio and our socket. */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent ||
                    dup2(pair[1], SPAWNER_FD) < 0 || syscall(SYS_close_range, (unsigned) SPAWNER_FD + 1, ~0U, 0U) < 0)
                        _exit(1);
                spawner_main(monitor_program);
        }
        close(pair[1]);
        *ret_fd = pair[0];
        *ret_pid = pid;
        return 0;
}

int native_spawner_spawn(int spawner_fd, const char *dir, int fd) {
        char line[SPAWN_MSG_MAX];
        union {
                struct cmsghdr header;
                uint8_t space[CMSG_SPACE(sizeof(int))];
        } control = {};
        int n = snprintf(line, sizeof(line), "SPAWN %s", dir);
        struct iovec iov = { .iov_base = line, .iov_len = (size_t) n };
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof(control),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        if (n < 0 || (size_t) n >= sizeof(line))
                return -ENAMETOOLONG;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        if (sendmsg(spawner_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}
