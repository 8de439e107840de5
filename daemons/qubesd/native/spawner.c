/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The spawner: a small unsandboxed child of qubesd, forked before qubesd's
 * seccomp sandbox, that starts domain monitors on request.  qubesd may not
 * create namespaces or exec anything once sandboxed; the spawner only ever
 * does one thing: "SPAWN DIR" with a connected socket attached becomes
 * `odyssey-domain --qubesd-fd 3 DIR` in a session of its own.  The monitor
 * outlives qubesd: the spawner exits when qubesd closes its end (or dies)
 * and its children, the monitors, go on under their new parent; until then
 * the kernel reaps them for it (SIGCHLD ignored).
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "hal-native-internal.h"
#include "log.h"

#define SPAWNER_FD 3
#define SPAWN_MSG_MAX 4096

/* posix_spawn: a vfork-style child, so the spawner's address space (a copy
 * of qubesd's) is not duplicated for each domain start only to be replaced
 * by the exec at once. */
static void start_monitor(const char *monitor_program, const char *dir, int qubesd_fd) {
        const char *argv[] = { "odyssey-domain", "--qubesd-fd", "3", dir, NULL };
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t all, none;
        pid_t pid;
        int r;

        sigfillset(&all);
        sigemptyset(&none);
        r = posix_spawn_file_actions_init(&actions);
        if (r != 0) {
                log_error_errno(r, "Cannot start a monitor for %s", dir);
                return;
        }
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&actions);
                log_error_errno(r, "Cannot start a monitor for %s", dir);
                return;
        }
        /* qubesd_fd came in close-on-exec and above SPAWNER_FD; the copy at
         * SPAWNER_FD is not close-on-exec, and nothing else stays open. */
        r = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&actions, qubesd_fd, SPAWNER_FD);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&actions, SPAWNER_FD + 1);
        /* Default dispositions (SIGCHLD is ignored here), nothing blocked. */
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                                    POSIX_SPAWN_SETSIGMASK);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawn(&pid, monitor_program, &actions, &attr, (char *const *) argv, environ);
        if (r != 0)
                log_error_errno(r, "Cannot execute %s for %s", monitor_program, dir);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
}

static _Noreturn void spawner_main(const char *monitor_program) {
        char buf[SPAWN_MSG_MAX + 1];
        union {
                struct cmsghdr header;
                uint8_t space[CMSG_SPACE(sizeof(int))];
        } control;

        reset_signals();
        log_setup("odyssey-spawner");
        /* Monitors end before us, or after us under another parent: never wait. */
        (void) signal(SIGCHLD, SIG_IGN);

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
        int n = snprintf(line, sizeof(line), "SPAWN %s", dir);

        if (n < 0 || (size_t) n >= sizeof(line))
                return -ENAMETOOLONG;
        ssize_t k = send_with_fd(spawner_fd, line, (size_t) n, MSG_DONTWAIT, fd);
        return k < 0 ? (int) k : 0;
}
