/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file worker: a small process qubesd forks before it applies its
 * seccomp sandbox, which runs the few file jobs the sandbox refuses (copying
 * a domain's volumes, deleting a domain's directory, debootstrap) as child
 * programs, never through a shell, and only on paths under
 * <state>/domains/.  WORKER_SHIFT_IDS runs no program: a forked child of the
 * worker walks the tree itself (uid-shift.h) and exits 0, or 1 after logging
 * why to the job's output (or the worker's stderr).  qubesd sends one request per job over a SOCK_SEQPACKET
 * socketpair, with an optional fd for the job's output, and gets back
 * {id, result} when the job's program exited (0, -errno, or 128+signal /
 * the exit status as a positive number).
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

enum worker_op {
        WORKER_COPY_TREE,       /* a: source dir, b: destination (must not exist) */
        WORKER_REMOVE_TREE,     /* a: directory */
        WORKER_DEBOOTSTRAP,     /* a: suite, b: target dir, c: mirror URL */
        WORKER_SHIFT_IDS,       /* a: directory, b: old uid base, c: new uid base (decimal; 0 or
                                 * hal_native_uid_base() of a domain, the new one not 0) */
        _WORKER_OP_MAX,
};

struct worker;
typedef void (*worker_done_fn)(void *userdata, int result);

/* Fork the worker; call before the event loop exists and before the sandbox. */
int worker_start(const char *state_dir, struct worker **ret);
int worker_attach_event(struct worker *w, sd_event *event);
/* Queue a job; output_fd (-1: /dev/null) gets the program's stdout and stderr. */
int worker_run(struct worker *w, enum worker_op op, const char *a, const char *b, const char *c, int output_fd,
               worker_done_fn done, void *userdata);
/* WORKER_SHIFT_IDS of path from old_base to new_base. */
int worker_shift_ids(struct worker *w, const char *path, uint32_t old_base, uint32_t new_base, worker_done_fn done,
                     void *userdata);
void worker_free(struct worker *w);
