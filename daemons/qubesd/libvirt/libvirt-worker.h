/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One thread per libvirt connection makes every libvirt call, so none ever
 * blocks qubesd's sd-event loop: a hung hypervisor only delays the jobs of
 * its own backend.  Jobs run in order on the thread; their finish() runs on
 * the loop, woken through an eventfd.  libvirt's own event loop (lifecycle
 * callbacks, keep-alives) runs in one more thread shared by all connections.
 */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

struct libvirt_worker;
struct libvirt_job;

/* run: on the worker thread, with the open connection (NULL when it cannot
 * be opened: job->result is then already the error), sets job->result.
 * finish: on the loop; it owns (and frees) the job. */
typedef void (*libvirt_job_run_fn)(struct libvirt_job *job, virConnectPtr conn);
typedef void (*libvirt_job_finish_fn)(struct libvirt_job *job);

struct libvirt_job {
        libvirt_job_run_fn run;         /* NULL: a notice, only finished */
        libvirt_job_finish_fn finish;
        int result;
        bool ran;                       /* set by the worker, under its lock */
        struct libvirt_job *next;
};

/* Called on the worker thread after each (re)connection (up: register event
 * callbacks; a failure is logged, the connection kept) and before the
 * connection is closed (!up: drop them). */
typedef int (*libvirt_connected_fn)(void *userdata, virConnectPtr conn, bool up);

int libvirt_worker_new(sd_event *event, const char *uri, libvirt_connected_fn connected, void *userdata,
                       struct libvirt_worker **ret);
/* Waits for the job under way, drops the queued ones (unfinished). */
void libvirt_worker_free(struct libvirt_worker *w);
/* Queue a job; the worker takes it. */
void libvirt_worker_submit(struct libvirt_worker *w, struct libvirt_job *job);
/* From any thread (libvirt's event callbacks): finish job on the loop. */
void libvirt_worker_post(struct libvirt_worker *w, struct libvirt_job *job);
/* Run pending finish() calls now (the loop does it by itself). */
void libvirt_worker_dispatch(struct libvirt_worker *w);
/* Wait up to timeout_usec for a submitted job to have run (not finished);
 * for the synchronous list().  -ETIMEDOUT when it has not. */
int libvirt_worker_wait_run(struct libvirt_worker *w, struct libvirt_job *job, uint64_t timeout_usec);

/* The -errno for libvirt's last error on this thread. */
int libvirt_last_errno(void);
