/* SPDX-License-Identifier: GPL-2.0-or-later */
/* odyssey-stack: starting one daemon (environment, uid, log file), and its log's tail. */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "stack.h"

extern char **environ;

/* Variables a service manager sets for its own child: never pass them on. */
static bool env_is_managers(const char *entry) {
        static const char *const prefixes[] = {
                "NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=", "LISTEN_FDS=", "LISTEN_PID=",
                "LISTEN_FDNAMES=", "JOURNAL_STREAM=", "INVOCATION_ID=",
                "ODYSSEY_RUNTIME_DIR=", "ODYSSEY_STATE_DIR=",
        };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* The launcher's environment, without the manager's variables, with the stack's. */
static char **stack_environment(const struct stack *s) {
        size_t n = 0, n_environ = 0;

        while (environ[n_environ])
                n_environ++;
        char **envp = calloc(n_environ + 4, sizeof(char *));
        if (!envp)
                return NULL;
        for (size_t i = 0; i < n_environ; i++)
                if (!env_is_managers(environ[i]) && !(envp[n++] = strdup(environ[i])))
                        goto fail;
        if (asprintf(&envp[n++], "NOTIFY_SOCKET=%s", s->notify_path) < 0 ||
            asprintf(&envp[n++], "ODYSSEY_RUNTIME_DIR=%s", s->run_dir) < 0 ||
            asprintf(&envp[n++], "ODYSSEY_STATE_DIR=%s", s->state_dir) < 0) {
                envp[n - 1] = NULL;
                goto fail;
        }
        return envp;

fail:
        stack_strv_free(envp);
        return NULL;
}

/* Keep the capabilities in `caps` (a CAP_* bit mask) across the change of
 * uid and the exec, as systemd's AmbientCapabilities= does.  Child only. */
static int keep_ambient_caps(uint64_t caps) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        for (int i = 0; i < 2; i++)
                data[i].effective = data[i].permitted = data[i].inheritable = (uint32_t) (caps >> (32 * i));
        if (syscall(SYS_capset, &header, data) < 0)
                return -errno;
        for (int cap = 0; cap < 64; cap++)
                if ((caps >> cap) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return -errno;
        return 0;
}

/* In the child, between fork and exec: only plain system calls from here. */
static _Noreturn void exec_daemon(const char *path, char **argv, char **envp, int null_fd, int log_fd, uid_t uid,
                                  uint64_t caps) {
        sigset_t none;

        /* Signals: the keeper blocks some and ignores others; a daemon starts clean. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);

        /* Own session: a terminal's ^C or hang-up is not for the daemons. */
        setsid();
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                _exit(126);
        /* Whatever the launcher's caller left open without O_CLOEXEC stays here. */
        close_range(3, ~0U, 0);
        umask(0022);
        if (chdir("/") < 0)
                _exit(126);

        if (geteuid() == 0) {
                gid_t gid = (gid_t) uid;
                int r;

                if ((caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) || setgroups(0, NULL) < 0 ||
                    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
                        dprintf(STDERR_FILENO, "odyssey-stack: cannot become uid %u: %s\n", (unsigned) uid, strerror(errno));
                        _exit(126);
                }
                if (caps && uid != 0 && (r = keep_ambient_caps(caps)) < 0) {
                        dprintf(STDERR_FILENO, "odyssey-stack: cannot keep capabilities: %s\n", strerror(-r));
                        _exit(126);
                }
        }
        execve(path, argv, envp);
        dprintf(STDERR_FILENO, "odyssey-stack: cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
}

int stack_spawn(const struct stack *s, const struct stack_daemon *d, pid_t *ret_pid) {
        _cleanup_free_ char *log_name = NULL, *log_path = NULL;
        _cleanup_close_ int log_fd = -1, null_fd = -1;
        char **argv = NULL, **envp = NULL;
        int r = 0;

        if (asprintf(&log_name, "%s.log", d->name) < 0 || !(log_path = path_join(s->log_dir, log_name)))
                return log_error_errno(ENOMEM, "Out of memory");
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (log_fd < 0)
                return log_error_errno(errno, "Cannot create %s", log_path);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return log_error_errno(errno, "Cannot open /dev/null");

        argv = stack_daemon_argv(s, d);
        envp = stack_environment(s);
        if (!argv || !envp) {
                r = log_error_errno(ENOMEM, "Out of memory");
                goto finish;
        }

        pid_t pid = fork();
        if (pid < 0) {
                r = log_error_errno(errno, "Cannot fork for %s", d->name);
                goto finish;
        }
        if (pid == 0)
                exec_daemon(argv[0], argv, envp, null_fd, log_fd, stack_daemon_uid(s, d),
                            stack_role_ambient_caps(d->role));
        *ret_pid = pid;

finish:
        stack_strv_free(argv);
        stack_strv_free(envp);
        return r;
}

void stack_print_log_tail(const struct stack *s, const char *name, unsigned lines) {
        _cleanup_free_ char *log_name = NULL, *log_path = NULL, *text = NULL;
        struct stat st;
        off_t start;

        if (asprintf(&log_name, "%s.log", name) < 0 || !(log_path = path_join(s->log_dir, log_name)))
                return;
        _cleanup_close_ int fd = open(log_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return;
        /* The last 16 KiB hold the last lines of any sane log. */
        start = st.st_size > 16384 ? st.st_size - 16384 : 0;
        text = calloc(1, (size_t) (st.st_size - start) + 1);
        if (!text || pread(fd, text, (size_t) (st.st_size - start), start) < 0)
                return;

        size_t len = strlen(text);
        const char *p = text + len;
        if (len > 0 && p[-1] == '\n')
                p--;
        for (unsigned n = 0; p > text; p--)
                if (p[-1] == '\n' && ++n == lines)
                        break;
        fprintf(stderr, "---- last lines of %s ----\n%s%s---- end of %s ----\n", log_path, p,
                len > 0 && text[len - 1] != '\n' ? "\n" : "", log_path);
}
