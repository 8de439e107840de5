/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-vchan-mux (docs/man/odyssey-vchan-mux.8): state shared by its files.
 *   main.c       options, the loop, the host's seccomp filter;
 *   transport.c  the virtio port / socket to the other side: connect, frame
 *                in, frame out (bounded buffers), reset;
 *   peer.c       what a received frame does (the protocol's rules);
 *   stream.c     one relayed connection: local socket <-> DATA/CREDIT/EOF;
 *   mirror.c     the listening sockets standing for the other side's servers;
 *   watch.c      our directory's real servers: inotify, scan, LISTEN/UNLISTEN;
 *   loop.c       set-up and tear-down, the epoll set, one round of the loop.
 * Single-threaded, every fd non-blocking.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"
#include "vchan-mux.h"

enum mux_side {
        SIDE_HOST,
        SIDE_GUEST,
};

enum transport_kind {
        TRANSPORT_FD,
        TRANSPORT_CONNECT,
        TRANSPORT_DEVICE,
};

enum transport_state {
        TRANSPORT_DOWN,         /* retry timer armed (connect / device) */
        TRANSPORT_WAITING,      /* device open, no host on the other end yet */
        TRANSPORT_UP,           /* HELLO sent */
};

/* What an epoll event's data.ptr points to: the first member of each owner. */
enum source_kind {
        SOURCE_TRANSPORT,
        SOURCE_TIMER,
        SOURCE_SIGNAL,
        SOURCE_INOTIFY,
        SOURCE_MIRROR,
        SOURCE_STREAM,
};

struct source {
        enum source_kind kind;
};

struct stream {
        struct source source;
        struct mux *mux;
        uint16_t id;
        int fd;                 /* the local socket; -1 once closed */
        bool ours;              /* we opened it (our parity) */
        bool close_sent;        /* closing: waiting for the peer's CLOSE */
        bool read_eof;          /* local EOF read, EOF sent */
        bool peer_eof;          /* peer's EOF received */
        bool shut_wr;           /* SHUT_WR done on fd */
        bool local_gone;        /* fd cannot take bytes any more: discard */
        bool dead;              /* forgotten; freed after this epoll batch */
        uint32_t events;        /* epoll interest registered (0: not in epoll) */
        uint32_t send_credit;   /* DATA bytes we may still send */
        uint32_t recv_allowed;  /* DATA bytes the peer may still send */
        uint32_t credit_pending;/* drained into fd, not yet returned */
        uint8_t *buf;           /* peer's bytes not yet written to fd (VMUX_WINDOW) */
        uint32_t buf_start, buf_len;
        char name[VMUX_NAME_MAX + 1];
        struct stream *dead_next;
};

struct mirror {
        struct source source;
        struct mux *mux;
        int fd;                 /* -1 when it could not be created */
        ino_t ino;              /* of the socket file we bound */
        bool dead;
        bool paused;            /* out of fds: not accepting until a stream ends */
        char name[VMUX_NAME_MAX + 1];
        struct mirror *dead_next;
};

struct txbuf {
        uint8_t *data;
        size_t start, end, cap;
};

struct mux {
        enum mux_side side;
        unsigned domid;
        const char *dir;
        int dir_fd;
        int epoll_fd;
        bool quit;
        int exit_status;
        bool fatal;             /* host: violation, exit non-zero */

        /* transport */
        enum transport_kind kind;
        const char *path;
        int inherited_fd;
        unsigned timeout_sec;
        uint64_t connect_deadline;
        struct source transport_source;
        struct source timer_source;
        int transport_fd;
        int timer_fd;
        enum transport_state state;
        uint32_t transport_events;
        bool hello_received;    /* a session runs (protocol/vchan-mux.h: Sessions) */
        bool syncing;           /* guest: skipping bytes until the HELLO(session) echo */
        uint32_t session;       /* guest: this session's id; host: the guest's last */
        uint8_t *rx;
        size_t rx_len;
        struct txbuf tx;

        struct source signal_source;
        int signal_fd;
        struct source inotify_source;
        int inotify_fd;

        struct stream **streams;        /* indexed by id */
        unsigned streams_ours, streams_theirs;
        uint16_t next_id;
        struct stream *dead_streams;

        struct mirror *mirrors[VMUX_MIRRORS_MAX];
        unsigned n_mirrors;
        struct mirror *dead_mirrors;
        bool mirrors_paused;

        char (*announced)[VMUX_NAME_MAX + 1];
        unsigned n_announced;
};

/* transport.c */
int transport_start(struct mux *m);
int transport_event(struct mux *m, uint32_t events);
int transport_timer(struct mux *m);
int transport_flush(struct mux *m);
void transport_update(struct mux *m);
int transport_send(struct mux *m, enum vmux_type type, uint16_t stream, const void *payload, uint32_t len);
size_t transport_data_room(struct mux *m);
uint8_t *transport_data_reserve(struct mux *m);
int transport_data_commit(struct mux *m, uint16_t stream, uint32_t len);
void transport_lost(struct mux *m, const char *why);
void transport_free(struct mux *m);

/* peer.c */
int peer_frame(struct mux *m, const struct vmux_frame *f);
int peer_violation(struct mux *m, const char *fmt, ...) _printf_(2, 3);
bool name_is_real(const struct mux *m, const struct vmux_name *n, bool ours);
int session_start(struct mux *m);       /* guest: HELLO(new id), announce, sync */

/* stream.c */
struct stream *stream_get(struct mux *m, uint16_t id);
int stream_new(struct mux *m, uint16_t id, int fd, bool ours, const char *name, struct stream **ret);
int stream_event(struct stream *s, uint32_t events);
int stream_data(struct stream *s, const uint8_t *data, uint32_t len);
int stream_credit(struct stream *s, uint32_t amount);
int stream_peer_eof(struct stream *s);
int stream_peer_close(struct stream *s);
int stream_abort(struct stream *s);
void stream_update(struct stream *s);
void streams_update_all(struct mux *m);
void streams_drop_all(struct mux *m);
void streams_collect(struct mux *m);

/* mirror.c */
struct mirror *mirror_find(struct mux *m, const char *name);
int mirror_add(struct mux *m, const char *name);
void mirror_remove(struct mux *m, struct mirror *mi);
int mirror_event(struct mirror *mi);
void mirrors_drop_all(struct mux *m);
void mirrors_collect(struct mux *m);
void mirrors_resume(struct mux *m);

/* watch.c */
int watch_start(struct mux *m);
int watch_event(struct mux *m);
int watch_announce_all(struct mux *m);
void watch_forget_all(struct mux *m);

/* loop.c */
int mux_init(struct mux *m);            /* side, dir set; fds -1 */
void mux_done(struct mux *m);
struct epoll_event;
int mux_dispatch(struct mux *m, const struct epoll_event *ev);
/* Wait up to timeout_ms (-1: for ever), handle what came: events handled or -errno. */
int mux_run_once(struct mux *m, int timeout_ms);
int epoll_set(struct mux *m, int fd, struct source *src, uint32_t old_events, uint32_t new_events);
