/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Assembling a native domain's root (see native-root.h).  The new root is a
 * tmpfs (or the domain's own root tree) mounted over /tmp of the domain's
 * private mount namespace, a directory every host has and every uid may
 * reach; mounts there are invisible to the host.  Few mounts, no shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "native-root.h"
#include "util.h"

#define NEW_ROOT "/tmp"

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

void native_root_close(struct native_root_fds *fds) {
        close_fd(&fds->root);
        close_fd(&fds->private_dir);
        close_fd(&fds->vchan_dir);
        close_fd(&fds->agents_dir);
}

static int open_dir(const char *path, int *ret) {
        *ret = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return *ret < 0 ? -errno : 0;
}

int native_root_open(const struct native_config *c, struct native_root_fds *ret) {
        struct native_root_fds fds = { -1, -1, -1, -1 };
        int r;

        r = open_dir(c->own_root ?: (c->template_root && *c->template_root ? c->template_root : "/"), &fds.root);
        if (r >= 0)
                r = open_dir(c->private_dir, &fds.private_dir);
        if (r >= 0)
                r = open_dir(c->vchan_dir, &fds.vchan_dir);
        if (r >= 0)
                r = open_dir(c->agents_dir, &fds.agents_dir);
        if (r < 0) {
                native_root_close(&fds);
                return r;
        }
        *ret = fds;
        return 0;
}

/* Record which step failed, return -errno. */
static int fail(char *what, size_t size, const char *step, const char *path) {
        int r = -errno;
        snprintf(what, size, "%s %s", step, path);
        return r;
}

static void fd_path(char *buf, size_t size, int fd, const char *sub) {
        snprintf(buf, size, "/proc/self/fd/%d%s%s", fd, sub ? "/" : "", sub ?: "");
}

/* Bind src over NEW_ROOT/dst (created as a directory or an empty file);
 * read-only (recursively) when asked.  extra: MS_NOSUID etc. for the bind. */
static int bind_into(const char *src, const char *dst, bool directory, bool read_only, unsigned long extra, char *what,
                size_t what_size) {
        char target[PATH_MAX];

        snprintf(target, sizeof(target), NEW_ROOT "/%s", dst);
        if (directory) {
                if (mkdir(target, 0755) < 0 && errno != EEXIST)
                        return fail(what, what_size, "mkdir", target);
        } else {
                int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0)
                        return fail(what, what_size, "create", target);
                close(fd);
        }
        if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                return fail(what, what_size, "bind", target);
        if (read_only || extra) {
                struct mount_attr attr = {
                        .attr_set = (read_only ? MOUNT_ATTR_RDONLY : 0) |
                                    (extra & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
                                    (extra & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
                                    (extra & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0),
                };
                if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                        return fail(what, what_size, "mount_setattr", target);
        }
        return 0;
}

/* The template's top level: usr and etc read-only, and bin, sbin, lib*
 * as it has them (merged-/usr symlinks are copied as symlinks). */
static int template_tree(const struct native_root_fds *fds, bool writable, char *what, size_t what_size) {
        static const char *const entries[] = { "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt" };
        char src[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
        struct stat st;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                if (fstatat(fds->root, entries[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        ssize_t n = readlinkat(fds->root, entries[i], link, sizeof(link) - 1);
                        if (n < 0)
                                return fail(what, what_size, "readlink", entries[i]);
                        link[n] = '\0';
                        snprintf(target, sizeof(target), NEW_ROOT "/%s", entries[i]);
                        if (symlink(link, target) < 0)
                                return fail(what, what_size, "symlink", target);
                } else if (S_ISDIR(st.st_mode)) {
                        fd_path(src, sizeof(src), fds->root, entries[i]);
                        r = bind_into(src, entries[i], true, !writable, MS_NODEV, what, what_size);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int make_dirs(const char *const *dirs, size_t n, char *what, size_t what_size) {
        char target[PATH_MAX];

        for (size_t i = 0; i < n; i++) {
                const char *name = dirs[i];
                mode_t mode = 0755;
                if (name[0] == '!') {           /* sticky, world-writable */
                        name++;
                        mode = 01777;
                } else if (name[0] == '-') {    /* private */
                        name++;
                        mode = 0700;
                }
                snprintf(target, sizeof(target), NEW_ROOT "/%s", name);
                if (mkdir(target, mode) < 0 && errno != EEXIST)
                        return fail(what, what_size, "mkdir", target);
                if (chmod(target, mode) < 0)
                        return fail(what, what_size, "chmod", target);
        }
        return 0;
}

static int mount_fs(const char *type, const char *dst, unsigned long flags, const char *options, char *what,
                    size_t what_size) {
        char target[PATH_MAX];

        snprintf(target, sizeof(target), NEW_ROOT "/%s", dst);
        if (mount(type, target, type, flags, options) < 0)
                return fail(what, what_size, "mount", target);
        return 0;
}

/* A minimal /dev: a few host device nodes bound in, a private devpts, shm.
 * tty is the caller's own controlling terminal whatever namespace opens it
 * (terminal emulators such as xterm open it after setsid() to check they got
 * their pty as controlling terminal, and fail without it). */
static int make_dev(char *what, size_t what_size) {
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
        };
        static const char *const dirs[] = { "dev/pts", "!dev/shm" };
        char src[64], dst[64], target[PATH_MAX];
        int r;

        r = mount_fs("tmpfs", "dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=256k", what, what_size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
                snprintf(dst, sizeof(dst), "dev/%s", nodes[i]);
                r = bind_into(src, dst, false, false, 0, what, what_size);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(target, sizeof(target), NEW_ROOT "/dev/%s", links[i][0]);
                if (symlink(links[i][1], target) < 0)
                        return fail(what, what_size, "symlink", target);
        }
        r = make_dirs(dirs, ELEMENTSOF(dirs), what, what_size);
        if (r < 0)
                return r;
        /* New ptys get the domain's tty group (5, as in Debian's base-passwd):
         * programs that chown their pty to it (xterm run as the domain's root,
         * which has no CAP_CHOWN) then ask for a change that is no change. */
        return mount_fs("devpts", "dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5",
                        what, what_size);
}

int native_root_assemble(const struct native_config *c, const struct native_root_fds *fds, char *what,
                         size_t what_size) {
        static const char *const dirs[] = { "proc", "dev", "run", "!tmp", "rw", "home", "-root", "var", "!var/tmp",
                                            "run/odyssey" };
        char src[PATH_MAX], options[64];
        int r;

        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return fail(what, what_size, "make-rslave", "/");
        if (c->own_root) {
                fd_path(src, sizeof(src), fds->root, NULL);
                if (mount(src, NEW_ROOT, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return fail(what, what_size, "bind own root at", NEW_ROOT);
        } else {
                snprintf(options, sizeof(options), "mode=0755,size=%um", c->memory_mb > 0 ? c->memory_mb : 256);
                if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, options) < 0)
                        return fail(what, what_size, "mount root tmpfs at", NEW_ROOT);
                r = template_tree(fds, false, what, what_size);
                if (r < 0)
                        return r;
        }
        r = make_dirs(dirs, ELEMENTSOF(dirs), what, what_size);
        if (r < 0)
                return r;
        if (c->own_root) {
                /* On the domain's own disk tree these are fresh tmpfs each start. */
                r = mount_fs("tmpfs", "run", MS_NOSUID | MS_NODEV, "mode=0755,size=16m", what, what_size);
                if (r >= 0)
                        r = mount_fs("tmpfs", "tmp", MS_NOSUID | MS_NODEV, "mode=01777", what, what_size);
                if (r >= 0)
                        r = make_dirs((const char *const []) { "run/odyssey" }, 1, what, what_size);
                if (r < 0)
                        return r;
        }

        fd_path(src, sizeof(src), fds->private_dir, NULL);
        r = bind_into(src, "rw", true, false, MS_NOSUID | MS_NODEV, what, what_size);
        if (r < 0)
                return r;
        fd_path(src, sizeof(src), fds->private_dir, "home");
        r = bind_into(src, "home", true, false, MS_NOSUID | MS_NODEV, what, what_size);
        if (r < 0)
                return r;
        fd_path(src, sizeof(src), fds->vchan_dir, NULL);
        r = bind_into(src, "run/vchan", true, false, MS_NOSUID | MS_NODEV | MS_NOEXEC, what, what_size);
        if (r < 0)
                return r;
        fd_path(src, sizeof(src), fds->agents_dir, NULL);
        r = bind_into(src, "run/odyssey/agents", true, true, MS_NOSUID | MS_NODEV, what, what_size);
        if (r < 0)
                return r;
        r = make_dev(what, what_size);
        if (r < 0)
                return r;
        /* A proc of the domain's pid namespace; mounted before the host's
         * /proc leaves our view, as the kernel requires in a user namespace. */
        r = mount_fs("proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, what, what_size);
        if (r < 0)
                return r;

        if (chdir(NEW_ROOT) < 0)
                return fail(what, what_size, "chdir", NEW_ROOT);
        /* pivot_root(".", "."): the old root ends up on top; detach it. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return fail(what, what_size, "pivot_root", NEW_ROOT);
        if (umount2(".", MNT_DETACH) < 0)
                return fail(what, what_size, "umount", "old root");
        if (chdir("/") < 0)
                return fail(what, what_size, "chdir", "/");
        return 0;
}
