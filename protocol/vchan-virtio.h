/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * State of the virtio vchan backend (VCHAN_VIRTIO), shared by its two files:
 *   vchan-virtio.c     naming, opening the transport (with retries), the
 *                      phases, close;
 *   vchan-virtio-io.c  the bytes: rings <-> transport, read/write/send/recv,
 *                      and the epoll registration that follows the rings.
 *
 * One virtio-serial port carries one vchan port; there is no framing, so the
 * bytes on the port are exactly the bytes of the channel (qrexec's, for the
 * control channel).  The two sides:
 *   host   (local domid 0, remote = the guest's domid): a UNIX stream socket
 *          that QEMU serves for the port's chardev,
 *          DIR/virtio.<guest domid>.<port>.sock (DIR as for the socket backend);
 *   guest  (remote domid 0): the port's character device, found as
 *          $VCHAN_VIRTIO_DIR/org.odyssey.vchan.<port> (default /dev/virtio-ports;
 *          without udev, by the port's name in /sys/class/virtio-ports).
 * virtio-serial has no connect/accept: either side may open its end at any
 * time; QEMU holds the host's bytes until the guest opens the port, and the
 * guest's writes wait until a host is connected.  The guest sees the host
 * come and go (the device reports POLLHUP and EOF while no host is
 * connected); the host sees only QEMU, never the guest program closing.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "vchan-internal.h"
#include "vchan-ring.h"

#define VIRTIO_PORT_NAME_PREFIX "org.odyssey.vchan."
#define VIRTIO_GUEST_PORT_DIR "/dev/virtio-ports"

enum virtio_side {
        SIDE_HOST,
        SIDE_GUEST,
};

enum virtio_phase {
        PHASE_OPENING,          /* transport not there yet: a retry timer runs */
        PHASE_WAITING,          /* guest: port open, no host connected yet */
        PHASE_CONNECTED,
};

struct vchan_virtio {
        struct vchan base;
        enum virtio_side side;
        enum virtio_phase phase;
        bool blocking;
        bool peer_eof;          /* the transport ended: nothing more will come */
        bool peer_gone;         /* nothing more can be sent (implied by peer_eof) */
        bool path_is_explicit;  /* guest: $VCHAN_VIRTIO_DIR given, no sysfs lookup */
        int epoll_fd;
        int retry_timer_fd;
        int fd;                 /* socket or port device, O_NONBLOCK */
        uint32_t fd_events;     /* fd's registration in epoll_fd; 0 = none */
        unsigned retry_msec;
        unsigned fast_retries;
        char name[64];          /* guest: the port's name */
        char path[PATH_MAX];    /* host: socket path; guest: device path */
        struct vchan_ring rx, tx;
};

static inline struct vchan_virtio *to_virtio(struct vchan *v) {
        return (struct vchan_virtio *) v;
}

/* vchan-virtio.c */
int vchan_virtio_process(struct vchan_virtio *s);       /* what vchan_wait() does once woken */

/* vchan-virtio-io.c */
int vchan_virtio_update_interest(struct vchan_virtio *s);
int vchan_virtio_exchange(struct vchan_virtio *s);
int vchan_virtio_wait_for_event(struct vchan_virtio *s);
void vchan_virtio_flush(struct vchan_virtio *s);
ssize_t vchan_virtio_read(struct vchan *v, void *buf, size_t n, bool all);
ssize_t vchan_virtio_write(struct vchan *v, const void *buf, size_t n, bool all);
size_t vchan_virtio_data_ready(struct vchan *v);
size_t vchan_virtio_buffer_space(struct vchan *v);
