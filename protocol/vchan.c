/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vchan front end: argument checks, endpoint defaults and dispatch to the
 * backend's ops table.  The protocol library does not link the runtime
 * library, so nothing here logs: errors are returned as -errno.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vchan-internal.h"

#define VCHAN_DEFAULT_SOCKET_DIR "/var/run/vchan"

static const char *const backend_names[_VCHAN_BACKEND_MAX] = {
        [VCHAN_SOCKET] = "socket",
        [VCHAN_XEN] = "xen",
        [VCHAN_VIRTIO] = "virtio",
};

static const struct vchan_ops *const backend_ops[_VCHAN_BACKEND_MAX] = {
        [VCHAN_SOCKET] = &vchan_socket_ops,
        [VCHAN_XEN] = &vchan_xen_ops,
        [VCHAN_VIRTIO] = &vchan_virtio_ops,
};

const char *vchan_backend_to_string(enum vchan_backend b) {
        if ((unsigned) b >= _VCHAN_BACKEND_MAX)
                return NULL;
        return backend_names[b];
}

int vchan_backend_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int b = 0; b < _VCHAN_BACKEND_MAX; b++)
                if (strcmp(s, backend_names[b]) == 0)
                        return b;
        return -EINVAL;
}

/* Strict decimal domid: digits only, no sign, fits an int. */
static int parse_domid(const char *s, int *ret) {
        long long value = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                value = value * 10 + (*p - '0');
                if (value > INT_MAX)
                        return -ERANGE;
        }
        *ret = (int) value;
        return 0;
}

/* Is `port` in $VCHAN_VIRTIO_PORTS (comma-separated port numbers; unset or
 * empty = every port)?  1 yes, 0 no, -EINVAL for a malformed list: a typo
 * must not silently move the control channel off its port. */
static int virtio_port_listed(int port) {
        const char *list = getenv("VCHAN_VIRTIO_PORTS");
        bool found = false;

        if (!list || !*list)
                return 1;
        for (const char *p = list;;) {
                size_t n = strcspn(p, ",");
                char item[12];
                int value, r;

                if (n == 0 || n >= sizeof(item))
                        return -EINVAL;
                memcpy(item, p, n);
                item[n] = '\0';
                r = parse_domid(item, &value);
                if (r < 0)
                        return -EINVAL;
                found |= value == port;
                p += n;
                if (*p == '\0')
                        break;
                p++;
        }
        return found;
}

/* A guest whose init says VCHAN_BACKEND=virtio has a port of its own only
 * for its channels with the host on the ports in $VCHAN_VIRTIO_PORTS; its
 * other channels (other ports, other guests) are sockets in its vchan dir,
 * which the vchan mux carries to the host over one more port. */
static int virtio_guest_backend(const struct vchan_endpoint *ep, enum vchan_backend *backend) {
        int r;

        if (ep->local_domid == 0)
                return 0;               /* the host side: one socket per port, as ever */
        if (ep->remote_domid == 0) {
                r = virtio_port_listed(ep->port);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
        *backend = VCHAN_SOCKET;
        return 0;
}

/* Fill in the defaults: the backend of a VCHAN_SOCKET endpoint from
 * $VCHAN_BACKEND (for virtio in a guest, see virtio_guest_backend()), our
 * domid from $VCHAN_DOMAIN (else 0) and the socket directory from
 * $VCHAN_SOCKET_DIR (else /var/run/vchan).  The returned socket_dir may
 * point into the environment; backends copy what they keep. */
static int endpoint_resolve(const struct vchan_endpoint *ep, struct vchan_endpoint *ret,
                            const struct vchan_ops **ret_ops) {
        struct vchan_endpoint resolved;
        int r;

        if (!ep || (unsigned) ep->backend >= _VCHAN_BACKEND_MAX)
                return -EINVAL;
        if (ep->remote_domid < 0 || ep->port < 0 || ep->local_domid < -1)
                return -EINVAL;
        resolved = *ep;
        if (resolved.local_domid < 0) {
                const char *env = getenv("VCHAN_DOMAIN");

                resolved.local_domid = 0;
                if (env && *env) {
                        r = parse_domid(env, &resolved.local_domid);
                        if (r < 0)
                                return -EINVAL;
                }
        }
        /* The domain's init says which transport it really has, so one
         * agent binary serves native (socket) and QEMU (virtio) domains. */
        if (resolved.backend == VCHAN_SOCKET) {
                const char *env = getenv("VCHAN_BACKEND");

                if (env && *env) {
                        r = vchan_backend_from_string(env);
                        if (r < 0)
                                return r;
                        resolved.backend = r;
                        if (resolved.backend == VCHAN_VIRTIO) {
                                r = virtio_guest_backend(&resolved, &resolved.backend);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (!backend_ops[resolved.backend])
                return -EOPNOTSUPP;

        if (!resolved.socket_dir || !*resolved.socket_dir) {
                const char *env = getenv("VCHAN_SOCKET_DIR");

                resolved.socket_dir = env && *env ? env : VCHAN_DEFAULT_SOCKET_DIR;
        }

        *ret = resolved;
        *ret_ops = backend_ops[resolved.backend];
        return 0;
}

int vchan_server_init(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                      struct vchan **ret) {
        struct vchan_endpoint resolved;
        const struct vchan_ops *ops;
        int r;

        if (!ret)
                return -EINVAL;
        if (read_min > VCHAN_RING_MAX || write_min > VCHAN_RING_MAX)
                return -EINVAL;
        r = endpoint_resolve(ep, &resolved, &ops);
        if (r < 0)
                return r;
        return ops->server_init(&resolved, read_min, write_min, ret);
}

int vchan_client_init_async(const struct vchan_endpoint *ep, struct vchan **ret) {
        struct vchan_endpoint resolved;
        const struct vchan_ops *ops;
        int r;

        if (!ret)
                return -EINVAL;
        r = endpoint_resolve(ep, &resolved, &ops);
        if (r < 0)
                return r;
        return ops->client_init_async(&resolved, ret);
}

int vchan_client_init_finish(struct vchan *v) {
        if (!v)
                return -EINVAL;
        return v->ops->client_init_finish(v);
}

static long long monotonic_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The blocking connect is the asynchronous one driven by poll(), so every
 * backend gets the timeout handling for free. */
int vchan_client_init(const struct vchan_endpoint *ep, int timeout_ms, struct vchan **ret) {
        struct vchan *v = NULL;
        long long deadline = 0;
        int r;

        if (!ret)
                return -EINVAL;
        if (timeout_ms >= 0)
                deadline = monotonic_msec() + timeout_ms;

        r = vchan_client_init_async(ep, &v);
        if (r < 0)
                return r;

        for (;;) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                int wait_ms = -1;

                r = vchan_client_init_finish(v);
                if (r == 0)
                        break;
                if (r < 0)
                        goto fail;

                if (timeout_ms >= 0) {
                        long long left = deadline - monotonic_msec();

                        if (left <= 0) {
                                r = -ETIMEDOUT;
                                goto fail;
                        }
                        wait_ms = left > INT_MAX ? INT_MAX : (int) left;
                }
                if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
                        r = -errno;
                        goto fail;
                }
        }

        *ret = v;
        return 0;

fail:
        vchan_close(v);
        return r;
}

ssize_t vchan_write(struct vchan *v, const void *buf, size_t n) {
        if (!v || (!buf && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;
        return v->ops->write(v, buf, n, false);
}

ssize_t vchan_send(struct vchan *v, const void *buf, size_t n) {
        if (!v || (!buf && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;
        return v->ops->write(v, buf, n, true);
}

ssize_t vchan_read(struct vchan *v, void *buf, size_t n) {
        if (!v || (!buf && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;
        return v->ops->read(v, buf, n, false);
}

ssize_t vchan_recv(struct vchan *v, void *buf, size_t n) {
        if (!v || (!buf && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;
        return v->ops->read(v, buf, n, true);
}

/* Exactly n bytes one way.  Nothing moved means the end of the stream
 * (reading) or, in non-blocking mode only, a wait until the channel may
 * move again (blocking reads and writes move or fail on their own).  The
 * buffer is only written when reading. */
static int transfer_full(struct vchan *v, uint8_t *p, size_t n, bool reading) {
        while (n > 0) {
                ssize_t k = reading ? vchan_read(v, p, n) : vchan_write(v, p, n);

                if (k < 0)
                        return (int) k;
                if (k == 0) {
                        struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                        int r;

                        if (reading && vchan_is_open(v) == VCHAN_DISCONNECTED)
                                return -EPIPE;
                        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                                return -errno;
                        r = vchan_wait(v);
                        if (r < 0)
                                return r;
                        continue;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int vchan_read_full(struct vchan *v, void *buf, size_t n) {
        return transfer_full(v, buf, n, true);
}

int vchan_write_full(struct vchan *v, const void *buf, size_t n) {
        return transfer_full(v, (uint8_t *) buf, n, false);
}

size_t vchan_data_ready(struct vchan *v) {
        return v ? v->ops->data_ready(v) : 0;
}

size_t vchan_buffer_space(struct vchan *v) {
        return v ? v->ops->buffer_space(v) : 0;
}

int vchan_fd_for_select(struct vchan *v) {
        return v ? v->ops->fd_for_select(v) : -EINVAL;
}

int vchan_wait(struct vchan *v) {
        return v ? v->ops->wait(v) : -EINVAL;
}

enum vchan_state vchan_is_open(struct vchan *v) {
        return v ? v->ops->is_open(v) : VCHAN_DISCONNECTED;
}

void vchan_set_blocking(struct vchan *v, bool blocking) {
        if (v)
                v->ops->set_blocking(v, blocking);
}

void vchan_close(struct vchan *v) {
        if (v)
                v->ops->close(v);
}
