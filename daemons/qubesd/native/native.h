/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the pieces of the native backend share: qubesd's side (hal-native.c,
 * the spawner) and the domain monitor (odyssey-domain) agree here on where a
 * domain's files live, how its config is written and read, which host uids
 * it gets, and how its processes are found and measured.
 *
 * A running domain NAME has DIR = RUNTIME/domains/NAME (root only, 0700):
 *   config        key=value lines, every field of struct hal_domain_config
 *                 plus busd_uid (written by qubesd, read by the monitor)
 *   monitor.pid   the monitor's pid
 *   state         starting|running|paused|halting|halted (for people; the
 *                 socket is the interface)
 *   monitor.sock  the monitor's socket (monitor-protocol.h), mode 0600
 *   console.log   the domain's stdout/stderr, only with debug=1
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hal.h"
#include "util.h"

/* Host uids and gids of domain d: [BASE + d * RANGE, BASE + (d + 1) * RANGE),
 * the formula being hal_native_uid_base() (hal.h), which qubesd shares. */
#define NATIVE_UID_BASE  HAL_NATIVE_UID_BASE
#define NATIVE_UID_RANGE HAL_NATIVE_UID_RANGE
#define NATIVE_DOMID_MAX UINT32_C(9999)

static inline uid_t native_domain_uid(uint32_t domid) {
        return (uid_t) hal_native_uid_base(domid);
}

/* The monitor's copy of a domain's struct hal_domain_config. */
struct native_config {
        char *name;
        uint32_t domid;
        char *uuid;
        int klass;                      /* enum domain_class */
        char *template_root;
        char *own_root;                 /* NULL when unset */
        char *private_dir;
        bool volatile_private;
        uint32_t memory_mb;
        uint32_t maxmem_mb;
        uint32_t vcpus;
        bool debug;
        char *default_user;
        char *vchan_dir;
        char *agents_dir;
        char *agents;                   /* NULL = "qrexec-agent" */
        uid_t busd_uid;                 /* who may connect to the domain's vchans */
};

void native_config_done(struct native_config *c);
/* Parse DIR/config: 0, -errno, -EBADMSG for a malformed file. */
int native_config_read(const char *path, struct native_config *ret);
/* Write it atomically (tmp + rename), mode 0600.  -EINVAL for a value with a newline. */
int native_config_write(const char *path, const struct native_config *c);

/* A domain name the backend accepts in paths: [A-Za-z0-9_.-], not starting
 * with '.' or '-', 1..31 bytes (qubesd's own rule is stricter). */
bool native_name_valid(const char *name);

/* DIR of domain `name` under runtime_dir: "RUNTIME/domains/NAME". */
char *native_domain_dir(const char *runtime_dir, const char *name);

/* Where a helper program of ours is: $ODYSSEY_LIBEXECDIR/installed_name, else
 * $ODYSSEY_BUILDDIR/build_path, else the installed pkglibexecdir, else the
 * build tree this was compiled in.  The first that exists; fresh string. */
char *native_program_path(const char *build_path, const char *installed_name);
/* The monitor program (odyssey-domain) and the default agents dir. */
char *native_monitor_program(void);
char *native_agents_dir(void);

/* "uid ROLE N" in RUNTIME/roles (a dev stack's table of role uids): 0 with
 * *ret, -ENOENT when the file or the role is not there. */
int native_role_uid_from_roles(const char *runtime_dir, const char *role, uid_t *ret);
/* busd's uid: "uid busd N" in RUNTIME/roles (a dev stack), else the owner of
 * RUNTIME/bus.sock, else the user odyssey-busd.  -ENOENT if none is known. */
int native_busd_uid(const char *runtime_dir, uid_t *ret);
/* A domain's vchan dir as busd's broker wants it, emptied: owned by busd,
 * group the domain's (what domid's processes run as), 0770.  Also for the
 * VM backends' guests, whose vchan mux runs as that uid (mux-launch.c). */
int native_prepare_vchan_dir_at(const char *vchan_dir, uid_t busd_uid, uint32_t domid);

/* Processes of a domain: the pids in cgroup.procs of `procs_path`, or when
 * that is NULL or unreadable every process in the pid namespace of
 * `init_pid`.  Fresh array. */
int native_domain_pids(const char *procs_path, pid_t init_pid, pid_t **ret, size_t *ret_n);
/* Proportional set size of one process (smaps_rollup), kB. */
int native_pss_kb(pid_t pid, uint64_t *ret_kb);
/* PSS of the monitor plus every process of the domain. */
int native_domain_pss_kb(pid_t monitor_pid, const char *procs_path, pid_t init_pid, uint64_t *ret_kb);
