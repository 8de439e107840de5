/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libvirt backend's jobs (libvirt-ops.c): one libvirt call each. */
#pragma once

#include "hal-libvirt-internal.h"

enum libvirt_op_kind {
        LIBVIRT_OP_START,       /* virDomainCreateXML(xml): a transient domain */
        LIBVIRT_OP_SHUTDOWN,
        LIBVIRT_OP_DESTROY,
        LIBVIRT_OP_SUSPEND,
        LIBVIRT_OP_RESUME,
        LIBVIRT_OP_LIST,        /* our running domains into found[] */
        LIBVIRT_OP_HOOK,        /* run hook(hook_data) on the worker (tests) */
};

struct libvirt_found {
        char name[64];
        char vchan_dir[256];            /* from our metadata; "" when not there */
        uint32_t domid;
        enum power_state state;
        uint64_t start_time_usec;
};

struct libvirt_op {
        struct libvirt_job job;         /* first: the worker's view */
        struct libvirt_backend *backend;
        enum libvirt_op_kind kind;
        char *name;                     /* Odyssey's name */
        char *xml;                      /* START */
        char *open_sockets[2];          /* START: made reachable (0666) once it runs */
        char *copy_from[2], *copy_to[2];        /* START: its kernel and initramfs, first */
        hal_done_fn done;
        void *userdata;
        struct libvirt_found *found;    /* LIST */
        size_t n_found;
        void (*hook)(void *data);       /* HOOK */
        void *hook_data;
        /* on the loop with job.result; then the op is freed */
        void (*finish)(struct libvirt_op *op);
};

struct libvirt_op *libvirt_op_new(struct libvirt_backend *b, enum libvirt_op_kind kind, const char *name,
                                  void (*finish)(struct libvirt_op *op));
void libvirt_op_free(struct libvirt_op *op);
