/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * State of the virtio vchan backend (VCHAN_VIRTIO), shared by its two files:
 *   vchan-virtio.c     naming, opening the transport (with retries), the
 *                      phases, close;
 *   vchan-virtio-io.c  the bytes: how the transport moves them for the
 *                      rings, read/write paths and epoll registration of
 *                      vchan-stream.c.
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

#include "vchan-stream.h"

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

/* The stream's fd is the socket or port device, O_NONBLOCK; its peer_eof
 * (the transport ended) implies peer_gone. */
struct vchan_virtio {
        struct vchan_stream stream;     /* first: its first member is the vchan */
        enum virtio_side side;
        enum virtio_phase phase;
        bool path_is_explicit;  /* guest: $VCHAN_VIRTIO_DIR given, no sysfs lookup */
        char name[64];          /* guest: the port's name */
        char path[PATH_MAX];    /* host: socket path; guest: device path */
};

static inline struct vchan_virtio *to_virtio(struct vchan *v) {
        return (struct vchan_virtio *) v;
}

/* vchan-virtio.c */
int vchan_virtio_process(struct vchan_virtio *s);       /* what vchan_wait() does once woken */

/* vchan-virtio-io.c */
extern const struct vchan_stream_ops vchan_virtio_stream_ops;
int vchan_virtio_exchange(struct vchan_virtio *s);
int vchan_virtio_wait_for_event(struct vchan_virtio *s);
