/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts to gain privilege: host root mapped into the domain, becoming a
 * host uid or another uid, chroot, and exec (a plain one and a setuid-root
 * binary) giving back capabilities or an effective uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

/* Does /proc/self/{uid,gid}_map cover outside id `host_id`?  The inside id in *ret. */
static bool map_covers(const char *map, unsigned long host_id, unsigned long *ret_inside) {
        FILE *f = fopen(map, "re");
        unsigned long inside, outside, count;
        bool found = false;

        if (!f)
                return false;
        while (!found && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
                if (host_id >= outside && host_id - outside < count) {
                        *ret_inside = inside + (host_id - outside);
                        found = true;
                }
        fclose(f);
        return found;
}

static void try_id_maps(void) {
        unsigned long inside;

        if (map_covers("/proc/self/uid_map", 0, &inside))
                escape_escaped("uid-map-host-root", "host root is uid %lu here", inside);
        else
                escape_blocked("uid-map-host-root", "host uid 0 is not mapped");
        if (map_covers("/proc/self/gid_map", 0, &inside))
                escape_escaped("gid-map-host-root", "host gid 0 is gid %lu here", inside);
        else
                escape_blocked("gid-map-host-root", "host gid 0 is not mapped");
}

static long do_setresuid(void *arg) {
        uid_t uid = (uid_t) (uintptr_t) arg;
        return setresuid(uid, uid, uid);
}

static long do_chroot(void *arg) {
        return chroot(escape_scratch_dir());
}

/* The outside id of inside id `inside` in /proc/self/uid_map. */
static bool outside_uid(unsigned long inside_id, unsigned long *ret_outside) {
        FILE *f = fopen("/proc/self/uid_map", "re");
        unsigned long inside, outside, count;
        bool found = false;

        if (!f)
                return false;
        while (!found && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
                if (inside_id >= inside && inside_id - inside < count) {
                        *ret_outside = outside + (inside_id - inside);
                        found = true;
                }
        fclose(f);
        return found;
}

static void try_setresuid(const char *name, uid_t uid) {
        int err;
        long r = escape_in_child(do_setresuid, (void *) (uintptr_t) uid, &err);

        if (r == 0)
                escape_escaped(name, "became uid %u without CAP_SETUID", (unsigned) uid);
        else
                escape_expect_refused(name, r, err, (const int[]) { EINVAL, EPERM, 0 });
}

static void try_become(const struct escape_config *c) {
        unsigned long inside, outside;
        int err;

        /* A host uid is reachable only if it is mapped here; ids inside are
         * other numbers, so an unmapped one has no name to setuid() to. */
        if (c->host_uid >= 0) {
                if (map_covers("/proc/self/uid_map", (unsigned long) c->host_uid, &inside))
                        escape_escaped("setuid-host-uid", "host uid %ld is mapped here as %lu", c->host_uid, inside);
                else if ((uid_t) c->host_uid != geteuid())
                        try_setresuid("setuid-host-uid", (uid_t) c->host_uid);
                else
                        escape_blocked("setuid-host-uid", "host uid %ld is not mapped here", c->host_uid);
        }
        /* The number the host knows this domain's uid by means nothing here. */
        if (outside_uid(geteuid(), &outside) && outside != geteuid())
                try_setresuid("setuid-own-host-uid", (uid_t) outside);

        /* Any uid other than one's own needs CAP_SETUID. */
        try_setresuid("setuid-other-uid", geteuid() == 0 ? 1000 : 0);

        long r = escape_in_child(do_chroot, NULL, &err);
        escape_expect_refused("chroot", r, err, NULL);
}

/* Run `path --print-ids` and parse its line. */
static int exec_print_ids(const char *path, unsigned long ids[6], unsigned long long caps[2]) {
        int pipe_fds[2], status;
        char line[256] = "";

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                dup2(pipe_fds[1], STDOUT_FILENO);
                execl(path, path, "--print-ids", (char *) NULL);
                _exit(127);
        }
        close(pipe_fds[1]);
        ssize_t n = read(pipe_fds[0], line, sizeof(line) - 1);
        close(pipe_fds[0]);
        waitpid(pid, &status, 0);
        if (n <= 0)
                return -EIO;
        line[n] = '\0';
        if (sscanf(line, "ids uid=%lu/%lu/%lu gid=%lu/%lu/%lu CapEff=%llx CapPrm=%llx", &ids[0], &ids[1], &ids[2],
                   &ids[3], &ids[4], &ids[5], &caps[0], &caps[1]) != 8)
                return -EBADMSG;
        return 0;
}

/* After exec, the same ids as before and no capability at all. */
static void try_exec(const char *name, const char *path) {
        unsigned long ids[6];
        unsigned long long caps[2];
        int r = exec_print_ids(path, ids, caps);

        if (r < 0) {
                escape_escaped(name, "could not run %s --print-ids (%s): the check itself failed", path,
                               strerrorname_np(-r));
                return;
        }
        if (ids[1] != geteuid() || ids[2] != geteuid() || ids[4] != getegid() || ids[5] != getegid())
                escape_escaped(name, "%s changed ids to euid %lu/saved %lu, egid %lu/saved %lu", path, ids[1], ids[2],
                               ids[4], ids[5]);
        else if (caps[0] != 0 || caps[1] != 0)
                escape_escaped(name, "%s has capabilities: CapEff=%llx CapPrm=%llx", path, caps[0], caps[1]);
        else
                escape_blocked(name, "%s ran as euid %lu egid %lu with no capabilities", path, ids[1], ids[4]);
}

void escape_run_privileges(const struct escape_config *c) {
        try_id_maps();
        try_become(c);

        if (c->self_path)
                try_exec("exec-regains-caps", c->self_path);
        if (c->setuid_helper) {
                struct stat st;
                if (stat(c->setuid_helper, &st) == 0 && (st.st_mode & S_ISUID))
                        try_exec("setuid-binary", c->setuid_helper);
                else
                        escape_escaped("setuid-binary", "%s is not a setuid binary: the check itself failed",
                                       c->setuid_helper);
        }
}
