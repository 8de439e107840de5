/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt's lifecycle events of our domains, carried from libvirt's event
 * thread to qubesd's loop as notices through the worker: a guest destroyed or
 * crashed behind qubesd's back is reported as soon as libvirt says so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hal-libvirt-internal.h"
#include "log.h"
#include "util.h"

struct event_notice {
        struct libvirt_job job;
        struct libvirt_backend *backend;
        enum power_state state;
        int reason;
        char name[];
};

const char *libvirt_odyssey_name(const char *libvirt_name) {
        size_t n = strlen(LIBVIRT_NAME_PREFIX);

        if (!libvirt_name || strncmp(libvirt_name, LIBVIRT_NAME_PREFIX, n) != 0 || !libvirt_name[n])
                return NULL;
        return libvirt_name + n;
}

static void notice_finish(struct libvirt_job *job) {
        struct event_notice *n = (struct event_notice *) job;
        struct libvirt_domain *d = job->result == 0 ? libvirt_domain_find(n->backend, n->name) : NULL;

        if (d) {
                if (n->state == POWER_HALTED || n->state == POWER_CRASHED)
                        libvirt_domain_stopped(d, n->state, n->reason);
                else
                        libvirt_domain_changed(d, n->state);
        }
        free(n);
}

/* On libvirt's event thread: only copy and post. */
static int on_lifecycle(virConnectPtr conn _unused_, virDomainPtr dom, int event, int detail, void *opaque) {
        struct libvirt_backend *b = opaque;
        const char *name = libvirt_odyssey_name(virDomainGetName(dom));
        enum power_state state;
        int reason = 0;

        if (!name)
                return 0;
        switch (event) {
        case VIR_DOMAIN_EVENT_STOPPED:
                state = POWER_HALTED;
                if (detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED) {
                        state = POWER_CRASHED;
                        reason = -EFAULT;
                } else if (detail == VIR_DOMAIN_EVENT_STOPPED_FAILED) {
                        state = POWER_CRASHED;
                        reason = -EIO;
                }
                break;
        case VIR_DOMAIN_EVENT_CRASHED:
                state = POWER_CRASHED;
                reason = -EFAULT;
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                state = POWER_PAUSED;
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                state = POWER_RUNNING;
                break;
        default:
                return 0;
        }
        struct event_notice *n = calloc(1, sizeof(*n) + strlen(name) + 1);
        if (!n)
                return 0;       /* the next list() or operation sees the truth */
        n->job.finish = notice_finish;
        n->backend = b;
        n->state = state;
        n->reason = reason;
        strcpy(n->name, name);
        libvirt_worker_post(b->worker, &n->job);
        return 0;
}

int libvirt_events_connected(void *userdata, virConnectPtr conn, bool up) {
        struct libvirt_backend *b = userdata;

        if (!up) {
                if (b->callback_id >= 0)
                        (void) virConnectDomainEventDeregisterAny(conn, b->callback_id);
                b->callback_id = -1;
                return 0;
        }
        b->callback_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                          VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), b, NULL);
        return b->callback_id < 0 ? -EIO : 0;
}
