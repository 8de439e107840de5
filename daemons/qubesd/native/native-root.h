/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The root file system of a native domain and the start of its init.
 *
 * The domain's first process opens the host directories the domain needs
 * (native_root_open) right after clone, while it still has host root's
 * kernel uid (so host paths such as /var/lib/qubes, 0750, resolve as for the
 * monitor) and is already in its new mount namespace (a bind mount's source
 * must belong to the caller's namespace).  It then reaches them through
 * these fds (/proc/self/fd/N) once it is the domain's root, never by their
 * host path.
 *
 * native_init_spawn(): clone with new user, mount, pid, ipc, uts and net
 * namespaces; the monitor writes the uid/gid maps and puts the child into
 * the domain's cgroups; the child then makes its cgroup namespace (so the
 * domain's group is its root), sets the hostname, assembles the root
 * (native_root_assemble), pivots into it, drops every privilege, applies the
 * domain seccomp filter and execs /run/odyssey/agents/odyssey-init.
 */
#pragma once

#include <sys/types.h>

#include "native-cgroup.h"
#include "native.h"

#define NATIVE_AGENTS_MOUNT "/run/odyssey/agents"
#define NATIVE_VCHAN_MOUNT  "/run/vchan"
#define NATIVE_INIT_PATH    NATIVE_AGENTS_MOUNT "/odyssey-init"

struct native_root_fds {
        int root;               /* template_root, or own_root (O_PATH directory) */
        int private_dir;
        int vchan_dir;
        int agents_dir;
};

int native_root_open(const struct native_config *c, struct native_root_fds *ret);
void native_root_close(struct native_root_fds *fds);

/* In the domain's first process, in its new mount namespace: build the root
 * and pivot_root into it.  0 or -errno, with what failed in `what`. */
int native_root_assemble(const struct native_config *c, const struct native_root_fds *fds, char *what,
                         size_t what_size);

/* Start the domain's init; its host pid in *ret_pid.  console_fd: the init's
 * stdout/stderr (-1: /dev/null). */
int native_init_spawn(const struct native_config *c, const struct native_cgroup *cg, int console_fd,
                      pid_t *ret_pid);
