/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts through the file tree: writing the template's root and the
 * agents, host data in /proc and /sys, host devices, and ways above the
 * domain's root (its working directory, inherited directory fds).  Writable
 * files are only opened, never written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"

static const int write_walls[] = { EROFS, EACCES, EPERM, ENOENT, 0 };

/* Create a new file in dir (removed at once should it work). */
static void try_create_in(const char *name, const char *dir) {
        char path[512];

        snprintf(path, sizeof(path), "%s/.escape-battery-%d", dir, (int) getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int err = errno;
        if (fd >= 0) {
                close(fd);
                unlink(path);
                escape_escaped(name, "created %s", path);
                return;
        }
        escape_expect_refused(name, -1, err, write_walls);
}

/* Open existing files for writing; the first that opens is the escape. */
static void try_open_for_write(const char *name, const char *const *paths, const int *walls) {
        char detail[256] = "";

        for (const char *const *p = paths; *p; p++) {
                int fd = open(*p, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                if (fd >= 0) {
                        close(fd);
                        escape_escaped(name, "%s is writable", *p);
                        return;
                }
                bool refused = false;
                for (const int *w = walls; *w; w++)
                        refused = refused || errno == *w;
                if (!refused) {
                        escape_escaped(name, "%s: got past the permission check (%s)", *p, strerrorname_np(errno));
                        return;
                }
                escape_append(detail, sizeof(detail), " %s:%s", *p, strerrorname_np(errno));
        }
        escape_blocked(name, "%s", detail);
}

static void try_template_root(void) {
        static const char *const existing[] = { "/etc/passwd", "/etc/shadow", "/usr/bin/env", NULL };

        try_create_in("write-usr-bin", "/usr/bin");
        try_create_in("write-etc", "/etc");
        try_open_for_write("write-template-files", existing, write_walls);
        try_create_in("write-agents-dir", "/run/odyssey/agents");
}

/* /proc/kallsyms with real addresses gives away the host kernel's layout. */
static void try_kallsyms(void) {
        FILE *f = fopen("/proc/kallsyms", "re");
        char line[256];
        unsigned long long address;
        unsigned long lines = 0;

        if (!f) {
                escape_expect_refused("proc-kallsyms", -1, errno, (const int[]) { ENOENT, EACCES, EPERM, 0 });
                return;
        }
        while (fgets(line, sizeof(line), f)) {
                lines++;
                if (sscanf(line, "%llx", &address) == 1 && address != 0) {
                        fclose(f);
                        escape_escaped("proc-kallsyms", "a real kernel address: %.60s", line);
                        return;
                }
        }
        fclose(f);
        escape_blocked("proc-kallsyms", "all %lu addresses read as 0", lines);
}

static int read_cmdline(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        while (n > 0 && buf[n - 1] == ' ')
                n--;
        buf[n] = '\0';
        return 0;
}

/* Host processes must not show in this /proc at all. */
static void try_host_cmdlines(const struct escape_config *c) {
        static pid_t pids[4096];
        size_t n = escape_visible_pids(pids, 4096);
        char path[64], cmdline[4096];

        if (c->host_init_cmdline && read_cmdline("/proc/1/cmdline", cmdline, sizeof(cmdline)) == 0 &&
            strcmp(cmdline, c->host_init_cmdline) == 0) {
                escape_escaped("proc-host-cmdline", "/proc/1 is the host's init: %.100s", cmdline);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pids[i]);
                if (read_cmdline(path, cmdline, sizeof(cmdline)) < 0)
                        continue;
                for (size_t m = 0; m < c->n_host_markers; m++)
                        if (strstr(cmdline, c->host_markers[m])) {
                                escape_escaped("proc-host-cmdline", "host process %d visible: %.100s", (int) pids[i],
                                               cmdline);
                                return;
                        }
        }
        read_cmdline("/proc/1/cmdline", cmdline, sizeof(cmdline));
        escape_blocked("proc-host-cmdline", "%zu processes visible, none of the host's (pid 1: %.60s)", n, cmdline);
}

static void try_proc_and_sys(const struct escape_config *c) {
        static const char *const proc_sys[] = { "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
                                                "/proc/sys/vm/drop_caches", "/proc/sys/kernel/panic", NULL };
        static const char *const sysrq[] = { "/proc/sysrq-trigger", NULL };
        static const char *const sys_kernel[] = { "/sys/kernel/uevent_helper", "/sys/kernel/profiling",
                                                  "/sys/power/state", "/sys/kernel/mm/transparent_hugepage/enabled",
                                                  NULL };

        try_kallsyms();
        try_host_cmdlines(c);
        try_open_for_write("proc-sys-writable", proc_sys, write_walls);
        try_open_for_write("proc-sysrq-trigger", sysrq, write_walls);
        try_open_for_write("sys-kernel-writable", sys_kernel, write_walls);

        /* The host's kernel memory and log. */
        int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
        int err = errno;
        if (fd >= 0)
                close(fd);
        escape_expect_refused("proc-kcore", fd, err, (const int[]) { ENOENT, EACCES, EPERM, 0 });

        char byte;
        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        long r = fd < 0 ? -1 : read(fd, &byte, 1);
        err = errno;
        if (fd >= 0)
                close(fd);
        /* EAGAIN would mean an empty but readable log; EINVAL a record too big for one byte. */
        escape_expect_refused("dev-kmsg", r, err, (const int[]) { ENOENT, EACCES, EPERM, 0 });

        /* debugfs and tracefs show the host kernel's internals. */
        DIR *d = opendir("/sys/kernel/debug");
        struct dirent *de = NULL;
        while (d && (de = readdir(d)) && de->d_name[0] == '.')
                ;
        if (de)
                escape_escaped("sys-kernel-debug", "debugfs is readable (%s)", de->d_name);
        else
                escape_blocked("sys-kernel-debug", "%s", d ? "empty" : strerrorname_np(errno));
        if (d)
                closedir(d);
}

/* The classic cgroup v1 escape: a release_agent the host runs as root. */
static void try_cgroup_release_agent(void) {
        static const char *fixed[] = { "/sys/fs/cgroup/release_agent", NULL };
        char *found[32];
        const char *paths[34];
        size_t n = 0;
        DIR *d = opendir("/sys/fs/cgroup");

        for (struct dirent *de; d && (de = readdir(d)) && n < 32;) {
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&found[n], "/sys/fs/cgroup/%s/release_agent", de->d_name) >= 0)
                        n++;
        }
        if (d)
                closedir(d);
        for (size_t i = 0; i < n; i++)
                paths[i] = found[i];
        paths[n] = fixed[0];
        paths[n + 1] = NULL;
        try_open_for_write("cgroup-release-agent", paths, write_walls);
        for (size_t i = 0; i < n; i++)
                free(found[i]);
}

/* Raw host memory, ports and disks. */
static void try_devices(void) {
        static const char *const raw[] = { "/dev/mem", "/dev/kmem", "/dev/port", NULL };
        char detail[256] = "";
        size_t n_tried = 0;

        for (const char *const *p = raw; *p; p++) {
                int fd = open(*p, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        close(fd);
                        escape_escaped("dev-raw", "%s opened", *p);
                        return;
                }
                n_tried++;
        }
        DIR *d = opendir("/dev");
        for (struct dirent *de; d && (de = readdir(d));) {
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISBLK(st.st_mode))
                        continue;
                n_tried++;
                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) {
                        close(fd);
                        escape_escaped("dev-raw", "block device /dev/%s opened", de->d_name);
                        closedir(d);
                        return;
                }
                escape_append(detail, sizeof(detail), " %s:%s", de->d_name, strerrorname_np(errno));
        }
        if (d)
                closedir(d);
        escape_blocked("dev-raw", "none of %zu raw devices opened%s", n_tried, detail);
}

/* Climb ".." from fd as far as it goes: the top must be this domain's root. */
static bool climbs_above_root(int start_fd, struct stat *ret_top) {
        struct stat root, here;
        int fd = dup(start_fd);

        if (fd < 0 || stat("/", &root) < 0)
                return false;
        for (int i = 0; i < 256; i++) {
                int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                close(fd);
                if (up < 0)
                        return false;
                fd = up;
        }
        bool above = fstat(fd, &here) == 0 && (here.st_dev != root.st_dev || here.st_ino != root.st_ino);
        close(fd);
        *ret_top = here;
        return above;
}

static void try_climb_out(void) {
        struct stat top;
        int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (cwd >= 0 && climbs_above_root(cwd, &top))
                escape_escaped("cwd-outside-root", "\"..\" from the working directory leads to %lu:%lu, not /",
                               (unsigned long) top.st_dev, (unsigned long) top.st_ino);
        else
                escape_blocked("cwd-outside-root", "\"..\" from the working directory stops at /");
        if (cwd >= 0)
                close(cwd);

        /* Directory fds inherited from outside (this program opens none before here
         * but its output and /proc listings, which are not directories left open). */
        unsigned n_dirs = 0;
        for (int fd = 0; fd < 1024; fd++) {
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                n_dirs++;
                if (climbs_above_root(fd, &top)) {
                        escape_escaped("inherited-dir-fd", "fd %d leads above the domain's root", fd);
                        return;
                }
        }
        escape_blocked("inherited-dir-fd", "%u inherited directory fds, none leads above /", n_dirs);
}

void escape_run_files(const struct escape_config *c) {
        try_template_root();
        try_proc_and_sys(c);
        try_cgroup_release_agent();
        try_devices();
        try_climb_out();
}
