/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vchan: a bidirectional byte stream between two domains with the semantics
 * of Qubes' libvchan (shared/reference/qrexec.md §3), over a backend chosen
 * at run time:
 *   VCHAN_SOCKET  a UNIX stream socket, named and used as Qubes' socket
 *                 emulation names it: DIR/vchan.<server domid>.<client domid>.<port>.sock
 *                 (DIR from the endpoint, else $VCHAN_SOCKET_DIR, else /var/run/vchan).
 *                 No thread: user-space rings filled and drained on demand,
 *                 and fd_for_select is an epoll fd that is readable exactly
 *                 when wait() has something to do.
 *   VCHAN_XEN     libxenvchan (real Xen only).
 *   VCHAN_VIRTIO  a virtio-serial port per vchan port (QEMU/KVM domains): the
 *                 host connects to the UNIX socket QEMU serves for the port,
 *                 DIR/virtio.<guest domid>.<port>.sock; the guest opens
 *                 /dev/virtio-ports/org.odyssey.vchan.<port> (see
 *                 vchan-virtio.h).
 * An endpoint asking for VCHAN_SOCKET gets the backend named by
 * $VCHAN_BACKEND ("socket", "xen", "virtio") when that is set: a domain's
 * init picks the transport, the agents stay the same binaries.  A QEMU
 * guest has few ports, so with $VCHAN_BACKEND=virtio a guest endpoint
 * (local domid != 0) gets a port of its own only for a channel with the host
 * (remote domid 0) on a port listed in $VCHAN_VIRTIO_PORTS (comma-separated
 * numbers, e.g. "512"; unset or empty = every port; malformed = -EINVAL);
 * every other one (other ports, channels with other guests) is a socket in
 * $VCHAN_SOCKET_DIR, which odyssey-vchan-mux carries over the one port
 * org.odyssey.vchan.mux.  The host side (local domid 0) is unchanged.
 *
 * All functions return -errno on failure (never -1 with errno), unlike
 * libvchan; the meaning of the non-negative results is libvchan's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum vchan_backend {
        VCHAN_SOCKET = 0,
        VCHAN_XEN = 1,
        VCHAN_VIRTIO = 2,
        _VCHAN_BACKEND_MAX,
};

const char *vchan_backend_to_string(enum vchan_backend b);  /* "socket", "xen", "virtio" */
int vchan_backend_from_string(const char *s);                /* -EINVAL if unknown */

enum vchan_state {
        VCHAN_DISCONNECTED = 0,
        VCHAN_CONNECTED = 1,
        VCHAN_WAITING = 2,      /* server: no client yet */
};

struct vchan_endpoint {
        enum vchan_backend backend;
        int local_domid;        /* our own domid: -1 = from $VCHAN_DOMAIN, default 0 */
        int remote_domid;       /* the peer domain */
        int port;
        const char *socket_dir; /* VCHAN_SOCKET: NULL = $VCHAN_SOCKET_DIR or /var/run/vchan */
};

struct vchan;

/* Publish a channel for the peer; does not wait for it.  Rings of at least
 * read_min / write_min bytes (0 = backend default, 64 KiB for the socket). */
int vchan_server_init(const struct vchan_endpoint *ep, size_t read_min, size_t write_min,
                      struct vchan **ret);

/* The socket backend's server on a UNIX stream socket that someone else
 * already bound and put in listening state (qubesd creates it in a domain's
 * vchan directory and hands the fd to qubes-ctl).  On success the vchan owns
 * listen_fd (closed with it; the file stays, as for vchan_server_init); on
 * failure the caller keeps it.  -ENOTSOCK / -EINVAL when listen_fd is not a
 * listening AF_UNIX stream socket. */
int vchan_server_adopt(int listen_fd, size_t read_min, size_t write_min, struct vchan **ret);

/* Connect to the peer's server, waiting for it to appear (up to timeout_ms; -1 forever).
 * -ETIMEDOUT when it did not. */
int vchan_client_init(const struct vchan_endpoint *ep, int timeout_ms, struct vchan **ret);

/* Non-blocking connect: *ret is usable for fd_for_select() at once; call
 * vchan_client_init_finish() each time that fd is readable until it returns 0
 * (connected) or < 0 (failed; close it).  > 0: keep waiting. */
int vchan_client_init_async(const struct vchan_endpoint *ep, struct vchan **ret);
int vchan_client_init_finish(struct vchan *v);

/* Stream write: bytes accepted (>= 1 in blocking mode, may be 0 when
 * non-blocking and the ring is full). */
ssize_t vchan_write(struct vchan *v, const void *buf, size_t n);
/* Packet send: all n bytes or nothing (-EAGAIN when non-blocking and there
 * is no room; n larger than the ring is -EMSGSIZE). */
ssize_t vchan_send(struct vchan *v, const void *buf, size_t n);
/* Stream read: bytes read (>= 1 in blocking mode; 0 when non-blocking and
 * nothing is there, or at EOF once the ring is drained). */
ssize_t vchan_read(struct vchan *v, void *buf, size_t n);
/* Packet receive: exactly n bytes or nothing (-EAGAIN non-blocking). */
ssize_t vchan_recv(struct vchan *v, void *buf, size_t n);

/* Exactly n bytes as a stream, whatever the ring sizes (a handshake, a
 * message header and its payload): 0; -EPIPE when the peer ended (read) or
 * is gone (write) first; -errno.  In non-blocking mode they wait in
 * fd_for_select() + vchan_wait() as needed. */
int vchan_read_full(struct vchan *v, void *buf, size_t n);
int vchan_write_full(struct vchan *v, const void *buf, size_t n);

/* Bytes readable / writable right now without blocking. */
size_t vchan_data_ready(struct vchan *v);
size_t vchan_buffer_space(struct vchan *v);

/* Pollable fd: poll it for POLLIN, then call vchan_wait().  Stable for the
 * life of the channel. */
int vchan_fd_for_select(struct vchan *v);
/* Process pending events (move bytes between rings and the transport, accept
 * the server's client, notice the peer closing).  Blocking mode: waits for
 * one event first.  0 or -errno. */
int vchan_wait(struct vchan *v);

enum vchan_state vchan_is_open(struct vchan *v);
void vchan_set_blocking(struct vchan *v, bool blocking);
void vchan_close(struct vchan *v);      /* NULL is fine */
