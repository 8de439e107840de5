/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts on the mount tree and the namespaces: mount, remount, umount,
 * pivot_root, the new mount API, file handles, unshare/clone/clone3 with
 * namespace flags and setns.  Each runs in a child, so a success changes
 * nothing for the next attempt.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

static char *scratch(const char *leaf) {
        static char path[4][512];
        static unsigned next;
        char *p = path[next++ % 4];

        snprintf(p, sizeof(path[0]), "%s/%s", escape_scratch_dir(), leaf);
        return p;
}

static long do_mount_tmpfs(void *arg) {
        const char *dir = arg;
        long r = mount("escape-battery", dir, "tmpfs", 0, NULL);
        int err = errno;

        if (r == 0)
                umount2(dir, MNT_DETACH);
        errno = err;
        return r;
}

/* Make the read-only template root writable (the host's /usr when the
 * template is the host's own tree). */
static long do_remount_rw(void *arg) {
        static const char *const paths[] = { "/", "/usr", "/etc" };

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                if (mount(NULL, paths[i], NULL, MS_REMOUNT | MS_BIND, NULL) == 0)
                        return 0;
                if (errno != EPERM && errno != EACCES)
                        return -1;
        }
        return -1;
}

/* Not a mount point: with permission the kernel would say EINVAL. */
static long do_umount(void *arg) {
        return umount2(arg, 0);
}

static long do_pivot_root(void *arg) {
        return syscall(SYS_pivot_root, scratch("new-root"), scratch("new-root/old"));
}

static long do_unshare(void *arg) {
        return unshare((int) (intptr_t) arg);
}

/* A raw clone() with namespace flags (and junk in the high bits, which the
 * kernel drops: the filter must still see the flags). */
static long do_clone(void *arg) {
        unsigned long flags = (unsigned long) (uintptr_t) arg;
        long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, 0);
        return pid;
}

static long do_clone3(void *arg) {
        struct clone_args args = { .flags = CLONE_NEWUSER | CLONE_NEWNS, .exit_signal = SIGCHLD };
        long pid = syscall(SYS_clone3, &args, sizeof(args));

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, 0);
        return pid;
}

/* setns() into every namespace of pid 1 (and of the host pids, should
 * they be visible at all). */
static long do_setns_all(void *arg) {
        const struct escape_config *c = arg;
        long result = -1;
        int err = EPERM;

        for (size_t i = 0; i <= c->n_host_pids; i++) {
                char dir[64];
                snprintf(dir, sizeof(dir), "/proc/%d/ns", i == 0 ? 1 : (int) c->host_pids[i - 1]);
                DIR *d = opendir(dir);
                if (!d)
                        continue;
                for (struct dirent *de; (de = readdir(d));) {
                        if (de->d_name[0] == '.')
                                continue;
                        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                continue;
                        if (setns(fd, 0) == 0)
                                result = 0;
                        else if (errno != EPERM && errno != EINVAL)
                                err = errno;
                        close(fd);
                }
                closedir(d);
        }
        errno = err;
        return result;
}

/* The "shocker" escape: a hand-made handle for inode 2 (an ext4 root) on
 * whatever filesystem holds /. */
static long do_open_by_handle(void *arg) {
        struct {
                struct file_handle h;
                uint32_t ino_gen[2];
        } handle = { .h = { .handle_bytes = 8, .handle_type = 1 }, .ino_gen = { 2, 0 } };
        int mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        long fd = syscall(SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EPERM)
                return fd;

        /* A genuine handle, if name_to_handle_at() is allowed at all. */
        int mount_id;
        handle.h.handle_bytes = sizeof(handle.ino_gen);
        if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/etc", &handle.h, &mount_id, 0) == 0)
                return syscall(SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY | O_CLOEXEC);
        errno = EPERM;
        return -1;
}

static long do_fsopen(void *arg) {
        return syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
}

static long do_open_tree(void *arg) {
        return syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
}

static void attempt(const char *name, long (*fn)(void *), void *arg, const int *walls) {
        int err;
        long r = escape_in_child(fn, arg, &err);

        escape_expect_refused(name, r, err, walls);
}

void escape_run_namespaces(const struct escape_config *c) {
        static const struct {
                const char *name;
                int flag;
        } ns[] = {
                { "unshare-user", CLONE_NEWUSER },     { "unshare-mnt", CLONE_NEWNS },
                { "unshare-pid", CLONE_NEWPID },       { "unshare-net", CLONE_NEWNET },
                { "unshare-ipc", CLONE_NEWIPC },       { "unshare-uts", CLONE_NEWUTS },
                { "unshare-cgroup", CLONE_NEWCGROUP }, { "unshare-time", CLONE_NEWTIME },
        };
        static const int walls[] = { EPERM, EACCES, 0 };

        mkdir(scratch("mnt"), 0700);
        mkdir(scratch("new-root"), 0700);
        mkdir(scratch("new-root/old"), 0700);

        attempt("mount-tmpfs", do_mount_tmpfs, scratch("mnt"), walls);
        attempt("remount-root-rw", do_remount_rw, NULL, walls);
        attempt("umount", do_umount, scratch("mnt"), walls);
        attempt("pivot-root", do_pivot_root, NULL, walls);
        attempt("fsopen", do_fsopen, NULL, walls);
        attempt("open-tree-clone", do_open_tree, NULL, walls);
        attempt("open-by-handle-at", do_open_by_handle, NULL, walls);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
                attempt(ns[i].name, do_unshare, (void *) (intptr_t) ns[i].flag, walls);
        attempt("clone-newuser", do_clone, (void *) (uintptr_t) CLONE_NEWUSER, walls);
        attempt("clone-newnet-highbits", do_clone, (void *) (uintptr_t) (0xdead00000000UL | CLONE_NEWNET), walls);
        /* ENOSYS: refused so that glibc falls back to clone(), where the flags show. */
        attempt("clone3-newuser", do_clone3, NULL, (const int[]) { EPERM, ENOSYS, 0 });
        attempt("setns", do_setns_all, (void *) c, walls);

        rmdir(scratch("new-root/old"));
        rmdir(scratch("new-root"));
        rmdir(scratch("mnt"));
}
