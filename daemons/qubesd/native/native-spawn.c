/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Creating a native domain's init: namespaces, maps, privileges, exec (see native-root.h). */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "domain-seccomp.h"
#include "log.h"
#include "native-root.h"

#define INIT_NAMESPACES (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* What the child reports when a step fails (nothing at all: it exec'd). */
struct spawn_error {
        int error;
        char what[200];
};

static int write_proc_file(pid_t pid, const char *file, const char *value) {
        char path[64];
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, value, strlen(value)) < 0)
                return -errno;
        return 0;
}

static int write_id_maps(pid_t pid, uint32_t domid) {
        char map[64];
        int r;

        snprintf(map, sizeof(map), "0 %u %u\n", (unsigned) native_domain_uid(domid), (unsigned) NATIVE_UID_RANGE);
        r = write_proc_file(pid, "uid_map", map);
        if (r < 0)
                return log_error_errno(r, "Cannot write the uid map of %d", (int) pid);
        r = write_proc_file(pid, "setgroups", "deny");
        if (r < 0)
                return log_error_errno(r, "Cannot deny setgroups to %d", (int) pid);
        r = write_proc_file(pid, "gid_map", map);
        if (r < 0)
                return log_error_errno(r, "Cannot write the gid map of %d", (int) pid);
        return 0;
}

/* No capability left in any set, none to regain: securebits locked, the
 * bounding and ambient sets empty, no_new_privs. */
static int drop_privileges(char *what, size_t what_size) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                             SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                             SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                  0, 0, 0) < 0) {
                snprintf(what, what_size, "PR_SET_SECUREBITS");
                return -errno;
        }
        for (unsigned long cap = 0; cap < 64; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break;  /* past the last capability this kernel has */
                        snprintf(what, what_size, "PR_CAPBSET_DROP %lu", cap);
                        return -errno;
                }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
                snprintf(what, what_size, "PR_CAP_AMBIENT_CLEAR_ALL");
                return -errno;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                snprintf(what, what_size, "PR_SET_NO_NEW_PRIVS");
                return -errno;
        }
        if (syscall(SYS_capset, &header, data) < 0) {
                snprintf(what, what_size, "capset");
                return -errno;
        }
        return 0;
}

static int setup_stdio(int console_fd, char *what, size_t what_size) {
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null_fd < 0) {
                snprintf(what, what_size, "open /dev/null");
                return -errno;
        }
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(console_fd >= 0 ? console_fd : null_fd, STDOUT_FILENO) < 0 ||
            dup2(console_fd >= 0 ? console_fd : null_fd, STDERR_FILENO) < 0) {
                snprintf(what, what_size, "dup2");
                return -errno;
        }
        close(null_fd);
        return 0;
}

/* The child, from clone to exec.  Returns only on failure. */
static int init_child(const struct native_config *c, int sync_fd, int tasks_fds[static _NATIVE_CG_MAX],
                      int console_fd, int *error_fd, char *what, size_t what_size) {
        struct native_root_fds fds_storage, *fds = &fds_storage;
        char domid[16];
        char *env_domid = NULL, *env_name = NULL, *env_agents = NULL;
        sigset_t all;
        char go;
        int r;

        /* Default dispositions; blocked only what odyssey-init waits for, so
         * that a SIGTERM arriving before it runs stays pending: a namespace's
         * init drops a signal it neither handles nor blocks. */
        sigemptyset(&all);
        sigaddset(&all, SIGTERM);
        sigaddset(&all, SIGINT);
        sigaddset(&all, SIGCHLD);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);

        /* Into the domain's v1 cgroups, by ourselves (see native-cgroup.h). */
        r = native_cgroup_enter_self(tasks_fds);
        if (r < 0) {
                snprintf(what, what_size, "entering the domain's cgroups");
                return r;
        }

        /* Still host root's kernel uid (until setresuid below), so host paths
         * resolve as for the monitor; and already in the new mount namespace,
         * so the mounts the fds point to are the ones we may bind from. */
        r = native_root_open(c, fds);
        if (r < 0) {
                snprintf(what, what_size, "opening the domain's directories");
                return r;
        }
        /* Wait for the uid and gid maps. */
        if (read(sync_fd, &go, 1) != 1) {
                snprintf(what, what_size, "waiting for the monitor");
                return -EPIPE;
        }
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                snprintf(what, what_size, "becoming root of the user namespace");
                return -errno;
        }
        if (sethostname(c->name, strlen(c->name)) < 0) {
                snprintf(what, what_size, "sethostname");
                return -errno;
        }
        r = native_root_assemble(c, fds, what, what_size);
        if (r < 0)
                return r;
        r = setup_stdio(console_fd, what, what_size);
        if (r < 0)
                return r;
        /* Meanwhile the monitor moved us into the domain's group of the
         * unified hierarchy, if that is the one in use.  Now our groups become
         * the root of the domain's cgroup namespace. */
        if (read(sync_fd, &go, 1) != 1) {
                snprintf(what, what_size, "waiting for the domain's cgroups");
                return -EPIPE;
        }
        close(sync_fd);
        if (unshare(CLONE_NEWCGROUP) < 0) {
                snprintf(what, what_size, "unshare(CLONE_NEWCGROUP)");
                return -errno;
        }
        umask(0022);
        /* Keep only stdio and the error pipe (close-on-exec) open. */
        if (dup2(*error_fd, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
                snprintf(what, what_size, "moving the error pipe");
                return -errno;
        }
        *error_fd = 3;
        if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0) {
                snprintf(what, what_size, "closing file descriptors");
                return -errno;
        }
        r = drop_privileges(what, what_size);
        if (r < 0)
                return r;
        /* The domain dies with its monitor: nothing is left behind unwatched. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
                snprintf(what, what_size, "PR_SET_PDEATHSIG");
                return -errno;
        }
        r = domain_seccomp_apply();
        if (r < 0) {
                snprintf(what, what_size, "domain_seccomp_apply");
                return r;
        }

        snprintf(domid, sizeof(domid), "%u", (unsigned) c->domid);
        if (asprintf(&env_domid, "VCHAN_DOMAIN=%s", domid) < 0 ||
            asprintf(&env_name, "QUBES_DOMAIN_NAME=%s", c->name) < 0 ||
            asprintf(&env_agents, "ODYSSEY_AGENTS=%s", c->agents ?: "qrexec-agent") < 0) {
                snprintf(what, what_size, "environment");
                return -ENOMEM;
        }
        char *const argv[] = { (char *) "odyssey-init", NULL };
        char *const envp[] = {
                env_domid, env_name, env_agents,
                (char *) "VCHAN_SOCKET_DIR=" NATIVE_VCHAN_MOUNT,
                (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                (char *) "HOME=/root",
                NULL,
        };
        execve(NATIVE_INIT_PATH, argv, envp);
        snprintf(what, what_size, "execve %s", NATIVE_INIT_PATH);
        return -errno;
}

int native_init_spawn(const struct native_config *c, const struct native_cgroup *cg, int console_fd,
                      pid_t *ret_pid) {
        _cleanup_close_ int sync_read = -1, sync_write = -1, error_read = -1, error_write = -1;
        struct spawn_error report = {};
        int pipe_sync[2], pipe_error[2], tasks_fds[_NATIVE_CG_MAX];
        ssize_t n;
        pid_t pid;
        int r;

        if (pipe2(pipe_sync, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Cannot create pipes");
        if (pipe2(pipe_error, O_CLOEXEC) < 0) {
                r = -errno;
                close(pipe_sync[0]);
                close(pipe_sync[1]);
                return log_error_errno(r, "Cannot create pipes");
        }
        sync_read = pipe_sync[0];
        sync_write = pipe_sync[1];
        error_read = pipe_error[0];
        error_write = pipe_error[1];

        /* The domain keeps the supplementary groups it is created with (its
         * user namespace denies setgroups, and its filter makes setgroups a
         * no-op): let that be none, whoever started us. */
        if (setgroups(0, NULL) < 0)
                return log_error_errno(errno, "Cannot drop supplementary groups");
        r = native_cgroup_open_tasks(cg, tasks_fds);
        if (r < 0)
                return r;

        /* Like fork(), with the new namespaces; the cgroup namespace comes
         * later, once the child is in the domain's groups. */
        pid = (pid_t) syscall(SYS_clone, (unsigned long) INIT_NAMESPACES | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid != 0)
                native_cgroup_close_tasks(tasks_fds);
        if (pid < 0) {
                r = -errno;
                return log_error_errno(r, "Cannot create the namespaces of domain %s", c->name);
        }
        if (pid == 0) {
                close(sync_write);
                close(error_read);
                int report_fd = error_write;
                report.error = -init_child(c, sync_read, tasks_fds, console_fd, &report_fd, report.what,
                                           sizeof(report.what));
                (void) !write(report_fd, &report, sizeof(report));
                _exit(127);
        }
        close(TAKE_FD(sync_read));
        close(TAKE_FD(error_write));

        /* Two go-aheads: after the id maps (the child then builds the root),
         * and after the v2 cgroup (it then enters its cgroup namespace). */
        r = write_id_maps(pid, c->domid);
        if (r >= 0 && write(sync_write, "1", 1) != 1)
                r = log_error_errno(errno, "Cannot wake the domain's first process");
        if (r >= 0)
                r = native_cgroup_attach(cg, pid);
        if (r >= 0 && write(sync_write, "2", 1) != 1)
                r = log_error_errno(errno, "Cannot wake the domain's first process");
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        /* EOF: the exec closed the pipe, the init runs. */
        do
                n = read(error_read, &report, sizeof(report));
        while (n < 0 && errno == EINTR);
        if (n == 0) {
                *ret_pid = pid;
                return 0;
        }
        (void) waitpid(pid, NULL, 0);
        if (n != (ssize_t) sizeof(report) || report.error <= 0)
                return log_error_errno(EIO, "The first process of domain %s failed without saying why", c->name);
        report.what[sizeof(report.what) - 1] = '\0';
        return log_error_errno(report.error, "Cannot start domain %s: %s", c->name, report.what);
}
