/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What qubesd needs to know about the native backend beyond hal.h:
 *  - hal_native_ops.new() forks the spawner, so call it before the sandbox;
 *  - the system calls the backend makes from qubesd's loop, for its allowlist;
 *  - the default agents dir (build tree or installed).
 */
#pragma once

/* NULL-terminated; add to qubesd's sandbox profile. */
extern const char *const hal_native_syscalls[];

/* The directory holding odyssey-init and the agents: $ODYSSEY_LIBEXECDIR/agents,
 * $ODYSSEY_BUILDDIR/agents/bin, PKGLIBEXECDIR/agents, or the build tree's. Fresh
 * string, NULL when none exists. */
char *hal_native_agents_dir(void);
