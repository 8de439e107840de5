/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The xen vchan backend: libxenvchan with Qubes' xenstore layout.  The
 * server advertises under /local/domain/<self>/data/vchan/<peer>/<port>
 * (libxenvchan resolves the relative "data/vchan/<peer>/<port>" against our
 * own domain); the client reads /local/domain/<peer>/data/vchan/<self>/<port>.
 *
 * Qubes' client watches xenstore for the server; this backend polls with a
 * timer instead (it links libxenvchan only).  fd_for_select is an epoll fd
 * holding the retry timer while a client waits and the event channel after,
 * so it stays the same fd for the life of the channel.
 *
 * Without Xen (no /dev/xen/evtchn) every init fails at once with -ENOENT.
 *
 * Built with VCHAN_XEN_SONAME (the agents), libxenvchan is loaded with
 * dlopen() when the first xen channel is asked for, not at every start:
 * agents start for every qrexec call, and mapping libxenvchan and its five
 * Xen libraries cost each start ~0.3 ms on the socket backend, which never
 * uses them.  A library that cannot be loaded fails that init with
 * -ELIBACC (-ELIBBAD: a symbol is missing), said once on stderr.
 */
#include <errno.h>
#include <limits.h>
#ifdef VCHAN_XEN_SONAME
#include <dlfcn.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "util.h"
#include "vchan-internal.h"

#define XEN_EVTCHN_DEVICE "/dev/xen/evtchn"
#define CLIENT_RETRY_MSEC 100

struct vchan_xen {
        struct vchan base;
        struct libxenvchan *xv;         /* NULL while a client waits for its server */
        bool blocking;
        int epoll_fd;
        int retry_timer_fd;
        int remote_domid;
        char xs_path[96];
};

/* The libxenvchan calls this backend makes, typed by the library's header. */
#define XENVCHAN_CALLS(X) \
        X(server_init) X(client_init) X(close) X(fd_for_select) X(is_open) X(write) X(send) \
        X(read) X(recv) X(data_ready) X(buffer_space) X(wait)

static struct {
#define X(name) __typeof__(libxenvchan_##name) *name;
        XENVCHAN_CALLS(X)
#undef X
} xv_api;

#ifdef VCHAN_XEN_SONAME
_Static_assert(sizeof(VCHAN_XEN_SONAME) > 1, "libxenvchan's soname was not found at build time");

static int load_library(void) {
        static int result = 1;          /* 1: not tried yet; an agent has one thread */
        void *h;

        if (result <= 0)
                return result;
        h = dlopen(VCHAN_XEN_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "vchan: the xen backend needs %s: %s\n", VCHAN_XEN_SONAME, dlerror());
                return result = -ELIBACC;
        }
#define X(name)                                                                                      \
        xv_api.name = (__typeof__(xv_api.name)) dlsym(h, "libxenvchan_" #name);                    \
        if (!xv_api.name) {                                                                          \
                fprintf(stderr, "vchan: %s has no libxenvchan_" #name "\n", VCHAN_XEN_SONAME);      \
                memset(&xv_api, 0, sizeof(xv_api));                                                 \
                dlclose(h);                                                                          \
                return result = -ELIBBAD;                                                            \
        }
        XENVCHAN_CALLS(X)
#undef X
        return result = 0;
}
#else
static int load_library(void) {
#define X(name) xv_api.name = libxenvchan_##name;
        XENVCHAN_CALLS(X)
#undef X
        return 0;
}
#endif

static struct vchan_xen *to_xen(struct vchan *v) {
        return (struct vchan_xen *) v;
}

/* libxenvchan reports failures as NULL/-1 with errno, not always set. */
static int xen_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static int check_endpoint(const struct vchan_endpoint *ep) {
        /* One domain cannot grant pages to itself ("loopback vchan"). */
        if (ep->local_domid == ep->remote_domid)
                return -EINVAL;
        if (access(XEN_EVTCHN_DEVICE, F_OK) < 0)
                return -errno;  /* not running on Xen */
        return 0;
}

static int epoll_add(int epoll_fd, int fd) {
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

        return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int arm_retry_timer(struct vchan_xen *x, long msec) {
        struct itimerspec its = {
                .it_value.tv_sec = msec / 1000,
                .it_value.tv_nsec = msec > 0 ? (msec % 1000) * 1000000L : 1,
        };

        return timerfd_settime(x->retry_timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void xen_close(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);

        if (x->xv)
                xv_api.close(x->xv);    /* a server also drops its xenstore entries */
        if (x->retry_timer_fd >= 0)
                close(x->retry_timer_fd);
        if (x->epoll_fd >= 0)
                close(x->epoll_fd);
        free(x);
}

static int xen_new(const struct vchan_endpoint *ep, struct vchan_xen **ret) {
        struct vchan_xen *x;
        int r;

        r = check_endpoint(ep);
        if (r < 0)
                return r;
        r = load_library();
        if (r < 0)
                return r;
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->base.ops = &vchan_xen_ops;
        x->blocking = true;
        x->retry_timer_fd = -1;
        x->remote_domid = ep->remote_domid;
        x->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (x->epoll_fd < 0) {
                r = -errno;
                free(x);
                return r;
        }
        *ret = x;
        return 0;
}

/* Hand the connected libxenvchan over: blocking by default, as libvchan. */
static int adopt(struct vchan_xen *x, struct libxenvchan *xv) {
        x->xv = xv;
        x->xv->blocking = x->blocking;
        return epoll_add(x->epoll_fd, xv_api.fd_for_select(xv));
}

static int xen_server_init(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                           struct vchan **ret) {
        struct vchan_xen *x = NULL;
        struct libxenvchan *xv;
        int r;

        r = xen_new(ep, &x);
        if (r < 0)
                return r;
        snprintf(x->xs_path, sizeof(x->xs_path), "data/vchan/%d/%d", ep->remote_domid, ep->port);

        errno = 0;
        xv = xv_api.server_init(NULL, ep->remote_domid, x->xs_path, read_min, write_min);
        if (!xv) {
                r = xen_errno();
                goto fail;
        }
        r = adopt(x, xv);
        if (r < 0)
                goto fail;
        *ret = &x->base;
        return 0;

fail:
        xen_close(&x->base);
        return r;
}

static int xen_client_init_async(const struct vchan_endpoint *ep, struct vchan **ret) {
        struct vchan_xen *x = NULL;
        int r;

        r = xen_new(ep, &x);
        if (r < 0)
                return r;
        snprintf(x->xs_path, sizeof(x->xs_path), "/local/domain/%d/data/vchan/%d/%d",
                 ep->remote_domid, ep->local_domid, ep->port);

        x->retry_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (x->retry_timer_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = epoll_add(x->epoll_fd, x->retry_timer_fd);
        if (r < 0)
                goto fail;
        r = arm_retry_timer(x, 0);      /* readable at once: the first attempt */
        if (r < 0)
                goto fail;
        *ret = &x->base;
        return 0;

fail:
        xen_close(&x->base);
        return r;
}

static int xen_client_init_finish(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);
        struct libxenvchan *xv;
        uint64_t expirations;
        int r;

        if (x->xv)
                return 0;
        if (read(x->retry_timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                return -errno;

        errno = 0;
        xv = xv_api.client_init(NULL, x->remote_domid, x->xs_path);
        if (!xv) {
                /* ENOENT: the server has not advertised the channel yet. */
                if (errno != ENOENT)
                        return xen_errno();
                r = arm_retry_timer(x, CLIENT_RETRY_MSEC);
                return r < 0 ? r : 1;
        }

        (void) epoll_ctl(x->epoll_fd, EPOLL_CTL_DEL, x->retry_timer_fd, NULL);
        close(x->retry_timer_fd);
        x->retry_timer_fd = -1;
        return adopt(x, xv);
}

static ssize_t xen_write(struct vchan *v, const void *buf, size_t n, bool all) {
        struct vchan_xen *x = to_xen(v);
        int r;

        if (!x->xv)
                return -ENOTCONN;
        if (all && n > ((size_t) 1 << x->xv->write.order))
                return -EMSGSIZE;
        if (n > INT_MAX)
                n = INT_MAX;    /* libxenvchan counts in int */

        errno = 0;
        r = all ? xv_api.send(x->xv, buf, n) : xv_api.write(x->xv, buf, n);
        if (r < 0)
                return xv_api.is_open(x->xv) ? xen_errno() : -EPIPE;
        if (all && r == 0)
                return -EAGAIN;
        return r;
}

static ssize_t xen_read(struct vchan *v, void *buf, size_t n, bool all) {
        struct vchan_xen *x = to_xen(v);
        int r;

        if (!x->xv)
                return all ? -EAGAIN : 0;
        if (all && n > ((size_t) 1 << x->xv->read.order))
                return -EMSGSIZE;
        if (n > INT_MAX)
                n = INT_MAX;

        errno = 0;
        r = all ? xv_api.recv(x->xv, buf, n) : xv_api.read(x->xv, buf, n);
        if (r < 0) {
                if (!xv_api.is_open(x->xv))
                        return all ? -EPIPE : 0;        /* EOF, ring drained */
                return xen_errno();
        }
        if (all && r == 0)
                return -EAGAIN;
        return r;
}

static size_t xen_data_ready(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);
        int n = x->xv ? xv_api.data_ready(x->xv) : 0;

        return n > 0 ? (size_t) n : 0;
}

static size_t xen_buffer_space(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);
        int n = x->xv ? xv_api.buffer_space(x->xv) : 0;

        return n > 0 ? (size_t) n : 0;
}

static int xen_fd_for_select(struct vchan *v) {
        return to_xen(v)->epoll_fd;
}

static int xen_wait(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);
        struct pollfd pfd = { .fd = x->epoll_fd, .events = POLLIN };

        /* libxenvchan_wait() reads the event channel, which blocks: in
         * non-blocking mode only call it when there is an event. */
        if (poll(&pfd, 1, x->blocking ? -1 : 0) < 0)
                return -errno;
        if (!(pfd.revents & POLLIN))
                return 0;

        if (!x->xv) {
                int r = xen_client_init_finish(v);
                return r < 0 ? r : 0;
        }
        errno = 0;
        return xv_api.wait(x->xv) < 0 ? xen_errno() : 0;
}

static enum vchan_state xen_is_open(struct vchan *v) {
        struct vchan_xen *x = to_xen(v);

        if (!x->xv)
                return VCHAN_WAITING;
        switch (xv_api.is_open(x->xv)) {
        case 1:
                return VCHAN_CONNECTED;
        case 2:
                return VCHAN_WAITING;
        default:
                return VCHAN_DISCONNECTED;
        }
}

static void xen_set_blocking(struct vchan *v, bool blocking) {
        struct vchan_xen *x = to_xen(v);

        x->blocking = blocking;
        if (x->xv)
                x->xv->blocking = blocking;
}

const struct vchan_ops vchan_xen_ops = {
        .server_init = xen_server_init,
        .client_init_async = xen_client_init_async,
        .client_init_finish = xen_client_init_finish,
        .write = xen_write,
        .read = xen_read,
        .data_ready = xen_data_ready,
        .buffer_space = xen_buffer_space,
        .fd_for_select = xen_fd_for_select,
        .wait = xen_wait,
        .is_open = xen_is_open,
        .set_blocking = xen_set_blocking,
        .close = xen_close,
};
