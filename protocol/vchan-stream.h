/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the socket and virtio vchan backends share: a byte-stream transport
 * fd with two user-space rings in front of it, an epoll fd (the vchan's
 * pollable fd) whose registration follows the rings, and a retry timer for
 * finding the peer.  Each backend embeds `struct vchan_stream` as the first
 * member of its state and fills a `struct vchan_stream_ops` with how its
 * transport moves bytes; vchan-stream.c holds the read/write/send/recv
 * paths, the epoll and timer helpers, and the ops-table entries that are the
 * same for both.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vchan-internal.h"
#include "vchan-ring.h"

struct vchan_stream;

struct vchan_stream_ops {
        /* Transport -> read ring: bytes pulled, 0 when nothing is there now
         * or at the end (then peer_eof).  block: may sleep for bytes. */
        ssize_t (*pull)(struct vchan_stream *st, bool block);
        /* Write ring -> transport; a gone peer is not an error of the call. */
        int (*push)(struct vchan_stream *st);
        /* Optional: a large read with an empty read ring goes straight into
         * the caller's buffer (same results as pull, bytes into buf). */
        ssize_t (*receive_direct)(struct vchan_stream *st, void *buf, size_t n, bool block);
        /* Optional: with the write ring empty, send straight from the
         * caller's buffer: bytes sent, or -errno (-EPIPE: peer gone).
         * block: may sleep until the transport takes them. */
        ssize_t (*transmit_direct)(struct vchan_stream *st, const void *buf, size_t n, bool block);
        /* The blocking read/write loops' wait: until something may move. */
        int (*wait_blocking)(struct vchan_stream *st);
        /* Bytes put into the write ring are offered to the transport at
         * once (no direct transmit to take the fast path instead). */
        bool push_after_queue;
        /* A blocking read may sleep in the transport while nothing of ours
         * waits to be sent. */
        bool may_block_in_pull;
};

struct vchan_stream {
        struct vchan base;
        const struct vchan_stream_ops *stream_ops;
        bool connected;         /* the transport is up (for good: never goes back) */
        bool blocking;
        bool peer_eof;          /* nothing more will come */
        bool peer_gone;         /* nothing more can be sent */
        bool transport_full;    /* the last direct or ring send came back short */
        int epoll_fd;
        int fd;                 /* the transport, once there */
        uint32_t fd_events;     /* fd's registration in epoll_fd; 0 = none */
        int retry_timer_fd;
        unsigned retry_usec;
        unsigned fast_retries;  /* attempts made at the minimum interval */
        struct vchan_ring rx, tx;
};

static inline struct vchan_stream *to_stream(struct vchan *v) {
        return (struct vchan_stream *) v;
}

/* Set up what every stream has (blocking, no fds, an epoll fd); the rest
 * is -1/0 so vchan_stream_release() is safe at any point after. */
int vchan_stream_init(struct vchan_stream *st, const struct vchan_ops *ops,
                      const struct vchan_stream_ops *stream_ops);
/* Rings of at least the sizes asked for (0: the default), powers of two. */
int vchan_stream_alloc_rings(struct vchan_stream *st, size_t read_min, size_t write_min);
/* Flush the write ring (see vchan_stream_flush), close the stream's fds and
 * free the rings; the backend closes its own fds and frees the state. */
void vchan_stream_release(struct vchan_stream *st);
void vchan_stream_flush(struct vchan_stream *st);

void vchan_stream_close_fd(int *fd);
int vchan_stream_epoll_add(struct vchan_stream *st, int fd, uint32_t events);
/* Unregister before closing: a forked child may share the file, and epoll
 * keeps watching a file as long as anyone holds it open. */
void vchan_stream_epoll_forget(struct vchan_stream *st, int *fd);
/* Empty a non-blocking timerfd or inotify fd; true when it had something. */
bool vchan_stream_drain(int fd);

/* The retry timer: created and registered, armed (0: readable at once), the
 * next attempt scheduled with back-off. */
int vchan_stream_add_retry_timer(struct vchan_stream *st);
int vchan_stream_arm_retry_timer(struct vchan_stream *st, long usec);
int vchan_stream_retry_later(struct vchan_stream *st);

/* A non-blocking UNIX stream connect(): 0 with *ret_fd (still
 * non-blocking), 1 while nobody serves `address` (no file, nobody
 * listening, backlog full), or -errno. */
int vchan_stream_try_connect(const struct sockaddr_un *address, int *ret_fd);

/* The peer can take nothing more: what waits for it is dropped. */
void vchan_stream_mark_gone(struct vchan_stream *st);
/* Bring fd's epoll registration in line with what the rings need. */
int vchan_stream_update_interest(struct vchan_stream *st);
/* Move whatever can move now, then re-register. */
int vchan_stream_exchange(struct vchan_stream *st);
/* Sleep in the epoll fd unless nothing registered stands for pending work;
 * -EINTR is passed on. */
int vchan_stream_wait_for_event(struct vchan_stream *st);
/* VCHAN_WAITING until connected; after the end, the bytes still in the read
 * ring stay readable. */
enum vchan_state vchan_stream_state(struct vchan_stream *st);

/* struct vchan_ops entries. */
ssize_t vchan_stream_read(struct vchan *v, void *buf, size_t n, bool all);
ssize_t vchan_stream_write(struct vchan *v, const void *buf, size_t n, bool all);
size_t vchan_stream_data_ready(struct vchan *v);
size_t vchan_stream_buffer_space(struct vchan *v);
int vchan_stream_fd_for_select(struct vchan *v);
void vchan_stream_set_blocking(struct vchan *v, bool blocking);
