/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting a service or command: its stdio, its environment, its user and
 * working directory, then exec.  Runs in the per-connection process.
 *
 * Without --switch-users (native domains, the admin domain) the process
 * starts with posix_spawn(): glibc's clone(CLONE_VM|CLONE_VFORK) copies no
 * page tables and leaves no copy-on-write faults to the caller, which
 * connects the data vchan meanwhile; the service is on every call's
 * critical path.  The environment is built beforehand, so the child only
 * moves fds, changes directory and execs.  --switch-users needs the passwd
 * and group databases in the child (initgroups), which only fork() makes
 * safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qrexec.h"
#include "service.h"
#include "util.h"

extern char **environ;

static const char *home_base = "/home";

void service_set_home_base(const char *dir) {
        home_base = dir;
}

static bool switch_users;
static char switched_home[PATH_MAX];    /* the forked child's (spawn_switched): its user's home from passwd */

void service_set_switch_users(bool on) {
        switch_users = on;
}

int service_become_user(const char *user, const char **ret_why) {
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(user);
        if (!pw) {
                *ret_why = errno ? strerror(errno) : "no such user in this domain";
                return errno ? -errno : -ESRCH;
        }
        *ret_why = "cannot switch to it";
        if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                return -errno;
        /* Never run as root by mistake: the switch must stick. */
        if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid ||
            getegid() != pw->pw_gid || (pw->pw_uid != 0 && setuid(0) == 0))
                return -EPERM;
        snprintf(switched_home, sizeof(switched_home), "%s",
                 pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
        return 0;
}

static const char *home_of(const char *user, char *buf, size_t size) {
        if (service_is_admin())
                return service_admin_home();
        if (strcmp(user, "root") == 0)
                return "/root";
        snprintf(buf, size, "%s/%s", home_base, user);
        return buf;
}

/* The service's environment: the process's own without any QREXEC_* but
 * QREXEC_SERVICE_PATH and without NOTIFY_SOCKET, plus QREXEC_* as Qubes
 * sets them and HOME, USER, LOGNAME of the user. */
struct service_env {
        char **envp;                    /* NULL-terminated, for execve() */
        size_t n_own;                   /* envp[0..n_own) are ours to free; the rest is environ's */
};

/* An inherited variable the service gets: every QREXEC_* goes except
 * QREXEC_SERVICE_PATH (Qubes' rule), the agent's own plumbing goes, and
 * the ones the call sets are replaced. */
static bool inherited_kept(const char *entry) {
        static const char *const replaced[] = { "HOME", "USER", "LOGNAME", "NOTIFY_SOCKET" };
        size_t n = strcspn(entry, "=");

        if (strncmp(entry, "QREXEC", 6) == 0)
                return n == strlen("QREXEC_SERVICE_PATH") && strncmp(entry, "QREXEC_SERVICE_PATH", n) == 0;
        for (size_t i = 0; i < ELEMENTSOF(replaced); i++)
                if (n == strlen(replaced[i]) && strncmp(entry, replaced[i], n) == 0)
                        return false;
        return true;
}

static int env_add(struct service_env *e, const char *name, const char *value) {
        if (asprintf(&e->envp[e->n_own], "%s=%s", name, value) < 0)
                return -ENOMEM;
        e->n_own++;
        return 0;
}

static void service_env_done(struct service_env *e) {
        for (size_t i = 0; i < e->n_own; i++)
                free(e->envp[i]);
        free(e->envp);
        *e = (struct service_env) {};
}

#define ENV_OWN_MAX 10  /* the variables service_environment() sets, at most */

static int service_environment(const struct service_request *req, const char *user, const char *home,
                               pid_t agent_pid, struct service_env *ret) {
        struct service_env e = {};
        char pid[16];
        size_t n = 0, k;
        int r;

        while (environ && environ[n])
                n++;
        e.envp = calloc(n + ENV_OWN_MAX + 1, sizeof(char *));
        if (!e.envp)
                return -ENOMEM;
        snprintf(pid, sizeof(pid), "%d", (int) agent_pid);
        r = env_add(&e, "HOME", home);
        if (r >= 0)
                r = env_add(&e, "USER", user);
        if (r >= 0)
                r = env_add(&e, "LOGNAME", user);
        if (r >= 0)
                r = env_add(&e, "QREXEC_AGENT_PID", pid);
        if (r >= 0 && req->rpc) {
                r = env_add(&e, "QREXEC_REMOTE_DOMAIN", req->source);
                if (r >= 0)
                        r = env_add(&e, "QREXEC_SERVICE_FULL_NAME", req->descriptor);
                if (r >= 0)
                        r = env_add(&e, "QREXEC_REQUESTED_TARGET_TYPE", req->target_type ?: "");
                if (r >= 0 && req->target_type)
                        r = env_add(&e, strcmp(req->target_type, "name") == 0 ? "QREXEC_REQUESTED_TARGET"
                                                                              : "QREXEC_REQUESTED_TARGET_KEYWORD",
                                    req->target);
                if (r >= 0 && req->argument)
                        r = env_add(&e, "QREXEC_SERVICE_ARGUMENT", req->argument);
        }
        if (r < 0) {
                service_env_done(&e);
                return r;
        }
        /* The inherited entries are the process's own: pointed to, not copied. */
        k = e.n_own;
        for (size_t i = 0; i < n; i++)
                if (inherited_kept(environ[i]))
                        e.envp[k++] = environ[i];
        *ret = e;
        return 0;
}

static int move_fd(int fd, int target) {
        if (fd < 0) {
                fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
        }
        if (fd == target)
                return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0;
        return dup2(fd, target) < 0 ? -errno : 0;
}

/* --switch-users: the child tells the parent why it gave up (an errno)
 * through the exec-status pipe; EOF, the pipe closed by the exec, means
 * the command runs.  Only a failed execve() may say ENOENT ("not found",
 * 127): anything before it is a refusal (125). */
static _Noreturn void child_fail(int status_fd, int error, bool at_exec) {
        if (!at_exec && error == ENOENT)
                error = ESRCH;
        /* One write, far below PIPE_BUF: the parent reads all of it or nothing. */
        (void) write(status_fd, &error, sizeof(error));
        _exit(error == ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND : QREXEC_EXIT_PROBLEM);
}

/* An O_CLOEXEC pipe kept above 2, so that placing stdio never overwrites it. */
static int status_pipe(int ret[2]) {
        if (pipe2(ret, O_CLOEXEC) < 0)
                return -errno;
        for (int i = 0; i < 2; i++)
                if (ret[i] < 3) {
                        int fd = fcntl(ret[i], F_DUPFD_CLOEXEC, 3);

                        if (fd < 0) {
                                int r = -errno;

                                close(ret[0]);
                                close(ret[1]);
                                return r;
                        }
                        close(ret[i]);
                        ret[i] = fd;
                }
        return 0;
}

/* In the child: stdio, user, environment, working directory, exec; any
 * failure goes to status_fd. */
static _Noreturn void switched_child(const struct service_request *req, const char *path, char *const argv[],
                                     const char *user, pid_t agent_pid, const int fds_in[3], int status_fd) {
        struct service_env env;
        const char *why = NULL;
        int fds[3] = { fds_in[0], fds_in[1], fds_in[2] }, r;
        sigset_t none;

        /* The sources are >= 3 (spawn() saw to it): no dup2 clobbers another. */
        for (int i = 0; i < 3; i++) {
                r = move_fd(fds[i], i);
                if (r < 0)
                        child_fail(status_fd, -r, false);
        }
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        r = service_become_user(user, &why);
        if (r < 0) {
                /* stderr is the caller's now: tell them, not only the console. */
                dprintf(STDERR_FILENO, "qrexec-agent: cannot run as user %s: %s (%s)\n", user, why,
                        strerror(-r));
                child_fail(status_fd, -r, false);
        }
        r = service_environment(req, user, switched_home, agent_pid, &env);
        if (r < 0)
                child_fail(status_fd, -r, false);
        if (chdir(switched_home) < 0)
                (void) chdir("/");
        execve(path, argv, env.envp);
        child_fail(status_fd, errno, true);
}

/* --switch-users: fork, the child switches and execs.  Like posix_spawn()
 * the parent returns only once the exec happened or failed, so a refusal
 * reaches the caller as -errno (a JUST_EXEC's answer) rather than as an
 * exit status nobody waits for: -ENOENT only when execve() found nothing
 * to run. */
static pid_t spawn_switched(const struct service_request *req, const char *path, char *const argv[],
                            const char *user, pid_t agent_pid, const int fds[3]) {
        int status[2], error, r;
        pid_t pid;

        r = status_pipe(status);
        if (r < 0)
                return r;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(status[0]);
                close(status[1]);
                return r;
        }
        if (pid == 0) {
                close(status[0]);
                switched_child(req, path, argv, user, agent_pid, fds, status[1]);
        }
        close(status[1]);
        r = read_full(status[0], &error, sizeof(error));
        close(status[0]);
        if (r == -EPIPE)
                return pid;             /* EOF: the exec closed the pipe */
        (void) waitpid(pid, NULL, 0);
        if (r < 0)
                return r;
        return error > 0 ? -error : -EPROTO;
}

static bool usable_dir(const char *dir) {
        struct stat st;

        return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, X_OK) == 0;
}

static pid_t spawn_direct(const struct service_request *req, const char *path, char *const argv[],
                          const char *user, pid_t agent_pid, const int fds[3]) {
        char buf[PATH_MAX];
        const char *home = home_of(user, buf, sizeof(buf));
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        struct service_env env;
        sigset_t none, dfl;
        pid_t pid;
        int r;

        if (!service_is_admin())
                (void) mkdir(home, 0700);       /* native domains: the home may not exist yet */
        r = service_environment(req, user, home, agent_pid, &env);
        if (r < 0)
                return r;
        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        r = posix_spawn_file_actions_init(&actions);
        if (r != 0) {
                service_env_done(&env);
                return -r;
        }
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&actions);
                service_env_done(&env);
                return -r;
        }
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) ?:
            posix_spawnattr_setsigmask(&attr, &none) ?:
            posix_spawnattr_setsigdefault(&attr, &dfl);
        for (int i = 0; i < 3 && r == 0; i++)
                r = fds[i] < 0 ? posix_spawn_file_actions_addopen(&actions, i, "/dev/null", O_RDWR, 0)
                               : posix_spawn_file_actions_adddup2(&actions, fds[i], i);
        if (r == 0)
                r = posix_spawn_file_actions_addchdir_np(&actions, usable_dir(home) ? home : "/");
        if (r == 0)
                r = posix_spawn(&pid, path, &actions, &attr, argv, env.envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
        service_env_done(&env);
        return r != 0 ? -r : pid;
}

/* The stdio sources moved above 2 first, so that placing one on 0..2 never
 * overwrites another. */
static pid_t spawn(const struct service_request *req, const char *path, char *const argv[], const char *user,
                   pid_t agent_pid, int in_fd, int out_fd, int err_fd) {
        int fds[3] = { in_fd, out_fd, err_fd }, moved[3] = { -1, -1, -1 };
        pid_t pid;

        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0 && fds[i] < 3) {
                        fds[i] = moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                        if (fds[i] < 0) {
                                pid = -errno;
                                goto out;
                        }
                }
        pid = switch_users ? spawn_switched(req, path, argv, user, agent_pid, fds)
                           : spawn_direct(req, path, argv, user, agent_pid, fds);
out:
        for (int i = 0; i < 3; i++)
                if (moved[i] >= 0)
                        close(moved[i]);
        return pid;
}

pid_t service_spawn_executable(const struct service_request *req, const char *path, const char *user,
                               pid_t agent_pid, int in_fd, int out_fd, int err_fd) {
        char *argv[3] = { (char *) path, NULL, NULL };

        if (req->argument && *req->argument)
                argv[1] = (char *) req->argument;
        return spawn(req, path, argv, user, agent_pid, in_fd, out_fd, err_fd);
}

pid_t service_spawn_command(const struct service_request *req, const char *user, pid_t agent_pid,
                            int in_fd, int out_fd, int err_fd) {
        char *argv[4] = { (char *) "sh", (char *) "-c", (char *) req->command, NULL };

        return spawn(req, "/bin/sh", argv, user, agent_pid, in_fd, out_fd, err_fd);
}
