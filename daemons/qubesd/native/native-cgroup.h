/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A native domain's cgroups, where the host delegates them: a group
 * odyssey/NAME below the monitor's own group in each hierarchy (cgroup v1:
 * memory, pids, cpu, freezer; or the unified v2 hierarchy when it carries
 * the controllers), with a memory limit, a cpu quota and a pids limit.
 * Missing controllers are logged once per domain start and the domain runs
 * without that limit; pause then falls back to SIGSTOP (the monitor's job).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NATIVE_PIDS_MAX 4096

enum native_controller {
        NATIVE_CG_MEMORY,
        NATIVE_CG_PIDS,
        NATIVE_CG_CPU,
        NATIVE_CG_FREEZER,
        _NATIVE_CG_MAX,
};

struct native_cgroup {
        char *v1[_NATIVE_CG_MAX];       /* the domain's group per v1 controller; NULL = absent */
        char *v2;                       /* the domain's group in the unified hierarchy, or NULL */
        bool v2_has[_NATIVE_CG_MAX];    /* controllers enabled for it (freeze: always on v2) */
        char *procs_path;               /* one cgroup.procs listing the domain's processes */
};

/* Create the groups and set the limits (memory_mb 0: none; vcpus 0: none). */
int native_cgroup_create(struct native_cgroup *cg, const char *name, uint32_t memory_mb, uint32_t vcpus);
/* Moving the domain's first process in, in two halves.  On v1 it moves
 * itself: writing "0" to a v1 `tasks` file moves only the writing thread,
 * which the kernel does without taking the global threadgroup lock for
 * writing, and so without waiting for an RCU grace period (10-25 ms, most
 * of a domain's start).  The monitor opens those files (the open-time
 * credentials are the ones checked) and the child writes to them.
 * native_cgroup_open_tasks: the fds in tasks_fds (-1 where no v1 group),
 * to close with native_cgroup_close_tasks.  native_cgroup_enter_self: in
 * the (single-threaded) child.  native_cgroup_attach: moves pid into the
 * unified hierarchy, if that is where the domain's group is (v2 has no
 * lock-free way for an existing process). */
int native_cgroup_open_tasks(const struct native_cgroup *cg, int tasks_fds[static _NATIVE_CG_MAX]);
void native_cgroup_close_tasks(int tasks_fds[static _NATIVE_CG_MAX]);
int native_cgroup_enter_self(int tasks_fds[static _NATIVE_CG_MAX]);
int native_cgroup_attach(const struct native_cgroup *cg, pid_t pid);
bool native_cgroup_can_freeze(const struct native_cgroup *cg);
/* Freeze or thaw, waiting (briefly) until the kernel reports it done. */
int native_cgroup_freeze(const struct native_cgroup *cg, bool freeze);
/* Remove the groups: 0, or -EBUSY while processes are still leaving. */
int native_cgroup_remove(const struct native_cgroup *cg);
void native_cgroup_done(struct native_cgroup *cg);
