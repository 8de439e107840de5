/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file worker: a small process qubesd forks before it applies its
 * seccomp sandbox, which runs the few file jobs the sandbox refuses (copying
 * a domain's volumes, deleting a domain's directory, debootstrap) as child
 * programs, never through a shell, and only on paths under
 * <state>/domains/.  qubesd sends one request per job over a SOCK_SEQPACKET
 * socketpair, with an optional fd for the job's output, and gets back
 * {id, result} when the job's program exited (0, -errno, or 128+signal /
 * the exit status as a positive number).
 */
#pragma once

#include <systemd/sd-event.h>

enum worker_op {
        WORKER_COPY_TREE,       /* a: source dir, b: destination (must not exist) */
        WORKER_REMOVE_TREE,     /* a: directory */
        WORKER_DEBOOTSTRAP,     /* a: suite, b: target dir, c: mirror URL */
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
void worker_free(struct worker *w);
