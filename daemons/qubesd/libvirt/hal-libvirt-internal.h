/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt backend's state, shared by its ops (hal-libvirt.c), its jobs
 * (libvirt-ops.c) and its event callbacks (libvirt-events.c).  Everything
 * here is touched on qubesd's loop only, except where noted.
 */
#pragma once

#include <libvirt/libvirt.h>

#include "hal.h"
#include "libvirt-worker.h"
#include "libvirt-xml.h"

/* A stop (shutdown or kill) waiting for the domain to be gone. */
struct libvirt_waiter {
        hal_done_fn done;
        void *userdata;
        struct libvirt_waiter *next;
};

struct libvirt_domain {
        struct libvirt_backend *backend;
        struct libvirt_domain *next;
        char *name;                     /* Odyssey's name (without the prefix) */
        uint32_t domid;
        enum power_state state;
        uint64_t start_time_usec;
        char *vchan_dir;                /* its ports' sockets; NULL: <channels_dir>/<domid> */
        struct libvirt_waiter *stop_waiters;
        sd_event_source *shutdown_timer;        /* kill when the shutdown takes too long */
};

/* Cast from and to the opaque struct hal_backend of hal.h. */
struct libvirt_backend {
        sd_event *event;
        char *uri;
        char *channels_dir;             /* <runtime>/libvirt: one dir per domain */
        hal_event_fn on_event;
        void *userdata;
        struct libvirt_worker *worker;
        int callback_id;                /* worker thread's */
        struct libvirt_domain *domains;
};

static inline struct libvirt_backend *libvirt_backend(struct hal_backend *b) {
        return (struct libvirt_backend *) b;
}

/* hal-libvirt.c */
struct libvirt_domain *libvirt_domain_find(struct libvirt_backend *b, const char *name);
int libvirt_domain_add(struct libvirt_backend *b, const char *name, uint32_t domid, struct libvirt_domain **ret);
void libvirt_domain_free(struct libvirt_domain *d);
/* The domain stopped (event or operation): report once, answer its waiters. */
void libvirt_domain_stopped(struct libvirt_domain *d, enum power_state state, int reason);
void libvirt_domain_changed(struct libvirt_domain *d, enum power_state state);

/* libvirt-events.c: on the worker thread, after each (re)connection. */
int libvirt_events_connected(void *userdata, virConnectPtr conn, bool up);

/* Odyssey's name for a libvirt domain name, NULL when it is not one of ours. */
const char *libvirt_odyssey_name(const char *libvirt_name);
