/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What protocol/vchan.c dispatches to: each backend fills one ops table and
 * embeds `struct vchan` as the first member of its own state.  The public
 * functions in vchan.c validate arguments and resolve the endpoint once, so
 * backends see a complete endpoint (local_domid >= 0, socket_dir set).
 */
#pragma once

#include "vchan.h"

struct vchan_ops {
        int (*server_init)(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                           struct vchan **ret);
        /* The returned fd_for_select() must become readable at once, so the
         * caller's first vchan_client_init_finish() makes the first attempt. */
        int (*client_init_async)(const struct vchan_endpoint *ep, struct vchan **ret);
        int (*client_init_finish)(struct vchan *v);
        /* all = packet semantics (vchan_send / vchan_recv); n > 0. */
        ssize_t (*write)(struct vchan *v, const void *buf, size_t n, bool all);
        ssize_t (*read)(struct vchan *v, void *buf, size_t n, bool all);
        size_t (*data_ready)(struct vchan *v);
        size_t (*buffer_space)(struct vchan *v);
        int (*fd_for_select)(struct vchan *v);
        int (*wait)(struct vchan *v);
        enum vchan_state (*is_open)(struct vchan *v);
        void (*set_blocking)(struct vchan *v, bool blocking);
        void (*close)(struct vchan *v);
};

struct vchan {
        const struct vchan_ops *ops;
};

extern const struct vchan_ops vchan_socket_ops;
extern const struct vchan_ops vchan_xen_ops;
extern const struct vchan_ops vchan_virtio_ops;

/* Largest ring a caller may ask for; both backends refuse more with -EINVAL. */
#define VCHAN_RING_MAX ((size_t) 1 << 28)
