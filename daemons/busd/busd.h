/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd: the message bus.  Shared types of its parts:
 *   main.c      options, setup, the loop
 *   listener.c  the local socket: accept, SO_PEERCRED, WELCOME
 *   peer.c      one local daemon connection: receive, send, outbound queue,
 *               its rings
 *   queue.c     the bounded outbound queue both kinds of connection use
 *   router.c    route table enforcement, forwarding, messages to busd itself
 *   guest.c     a guest's control channel (vchan, qrexec handshake, flood limit)
 *   guest-msg.c qrexec <-> bus translation on a guest channel
 *   broker.c    data streams of allowed calls: ports, and the socket link
 *               that lets the two domains' ends meet
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "bus-ring.h"
#include "bus.h"
#include "qrexec.h"
#include "util.h"
#include "vchan.h"

/*
 * Flood limits (also in busd(8)).
 * A local peer's outbound queue holds what its socket did not take at once.
 * When it is full, a message for that peer is refused with ERROR -ENOBUFS to
 * its sender; when it stays full for the stall timeout (the peer does not
 * read), the peer is dropped.  A guest channel may send BUSD_GUEST_RATE
 * messages a second with bursts of BUSD_GUEST_BURST; past that, or when its
 * own outbound queue passes its cap, the channel is closed.
 */
#define BUSD_PEER_QUEUE_MAX_MSGS        4096u
#define BUSD_PEER_QUEUE_MAX_BYTES       (4u * 1024u * 1024u)
#define BUSD_STALL_TIMEOUT_USEC_DEFAULT (5u * 1000000u)
#define BUSD_GUEST_QUEUE_MAX_MSGS       1024u
#define BUSD_GUEST_QUEUE_MAX_BYTES      (1024u * 1024u)
#define BUSD_GUEST_RATE                 2000u   /* messages per second */
#define BUSD_GUEST_BURST                3000u   /* below a daemon queue (4096): a flood cannot push out DOWN */
#define BUSD_GUEST_CONNECT_TIMEOUT_USEC (60u * 1000000u)
#define BUSD_CONTROL_PORT               QREXEC_VCHAN_BASE_PORT

/* One queued outbound message; `offset` bytes of it are already written. */
struct outq_entry {
        struct outq_entry *next;
        size_t size;
        size_t offset;
        uint8_t data[];
};

struct outq {
        struct outq_entry *head, *tail;
        size_t count;
        size_t bytes;
        size_t max_count;
        size_t max_bytes;
};

void outq_init(struct outq *q, size_t max_count, size_t max_bytes);
/* Copy and append; -ENOBUFS when it would pass a cap, -ENOMEM. */
int outq_push(struct outq *q, const void *data, size_t size);
static inline struct outq_entry *outq_front(const struct outq *q) { return q->head; }
static inline bool outq_empty(const struct outq *q) { return !q->head; }
void outq_pop(struct outq *q);
void outq_clear(struct outq *q);

struct busd;

/* A local daemon connection. */
struct peer {
        struct busd *busd;
        int fd;
        enum bus_role role;
        uint32_t id;            /* BUS_PEER_ROLE(role) */
        pid_t pid;
        uid_t uid;
        sd_event_source *io;
        sd_event_source *stall_timer;   /* armed while the queue refuses messages */
        struct outq queue;
        /* Rings (bus-ring.h), given with WELCOME: map NULL if none.  Messages
         * go to the peer on the socket until it shows it reads its ring (a
         * kick, or a message there), then only there; the queue holds
         * what did not fit either. */
        struct bus_rings rings;
        bool ring_active;
        sd_event_source *ring_defer;    /* on while its ring may hold messages */
        bool dropped;
        struct peer *next_dead;
};

enum guest_state {
        GUEST_CONNECTING,       /* vchan client connect in progress */
        GUEST_HELLO,            /* connected, waiting for the agent's HELLO */
        GUEST_UP,
};

/* A guest domain's control channel: busd is its vchan client on port 512. */
struct guest {
        struct busd *busd;
        uint32_t domid;
        char name[BUS_NAME_MAX + 1];
        char vchan_dir[BUS_PATH_MAX + 1];
        struct vchan *vchan;
        sd_event_source *io;
        sd_event_source *connect_timer;
        enum guest_state state;
        uint32_t version;               /* negotiated qrexec version once UP */
        /* the message being received: header, then payload into rx */
        uint8_t untrusted_hdr[QREXEC_HEADER_SIZE];
        size_t hdr_have;
        struct qrexec_hdr hdr;
        bool have_hdr;
        uint8_t *untrusted_rx;          /* payload buffer, hdr.len bytes */
        size_t rx_have;
        /* token bucket against floods */
        uint64_t tokens_milli;          /* thousandths of a message */
        uint64_t tokens_stamp_usec;
        struct outq queue;
        bool closed;
        int watch;                      /* inotify watch on vchan_dir, -1 = none (broker.c) */
        struct guest *next;
        struct guest *next_dead;
};

struct role_uid {
        uid_t uid;
        enum bus_role role;
};

struct busd {
        sd_event *event;
        char *socket_path;
        int listen_fd;
        sd_event_source *listen_io;
        struct role_uid role_uids[_BUS_ROLE_MAX];
        size_t n_role_uids;
        uint64_t stall_timeout_usec;
        uint32_t spin_usec;             /* adaptive polling window, daemon_event_loop() */
        int spin_slots_fd;              /* the page of spin slots every daemon gets with WELCOME, or -1 */
        bool polling;                   /* daemon_event_loop() polls: peers need not kick */

        struct peer *peers[_BUS_ROLE_MAX];      /* connected daemons, by role */
        struct guest *guests;                    /* open control channels */

        /* Dropped connections are freed here, outside any callback of theirs. */
        struct peer *dead_peers;
        struct guest *dead_guests;
        sd_event_source *reaper;

        /* Scratch space, allocated once (the hot path allocates nothing). */
        uint8_t *untrusted_rx;          /* BUS_MSG_MAX: one datagram as received (bus_decode checks it) */
        uint8_t *tx;                    /* BUS_MSG_MAX: one datagram busd writes */
        uint8_t *guest_tx;              /* one qrexec message busd writes */
        struct bus_message *msg;        /* the decoded datagram */
        struct qrexec_trigger *trigger; /* a decoded guest trigger */

        /* broker.c: brokered calls (with a port, or waiting for one) */
        struct broker_call *calls;
        size_t n_waiting;               /* calls without a port yet */
        bool starting_waiting;
        int inotify_fd;
        sd_event_source *inotify_io;
};

#define BUSD_GUEST_TX_MAX (QREXEC_HEADER_SIZE + 8 + QREXEC_MAX_CMD_LEN + 1)
/* The largest message an agent may send on its control channel: TRIGGER_SERVICE4. */
#define BUSD_GUEST_RX_MAX (160 + QREXEC_MAX_SERVICE_NAME_LEN)

/* main.c */
void busd_schedule_reap(struct busd *b);

/* listener.c */
int listener_open(struct busd *b);
void listener_close(struct busd *b);

/* peer.c */
int peer_new(struct busd *b, int fd, enum bus_role role, pid_t pid, uid_t uid, struct peer **ret);
void peer_drop(struct peer *p, const char *reason, int error);
void peer_free(struct peer *p);
/* 0 sent or queued; -ENOBUFS the queue is full (nothing sent; the stall
 * timer runs); other errors: the peer is gone and has been dropped. */
int peer_send(struct peer *p, const uint8_t *buf, size_t size);
const char *peer_name(const struct peer *p);
/* Read the peer's ring from now on (after WELCOME gave it): takes r. */
int peer_attach_rings(struct peer *p, struct bus_rings *r);
/* daemon_event_loop()'s poll hook over every peer's ring. */
int peers_add_poll_hook(struct busd *b);

/* router.c */
int router_handle(struct peer *from, size_t size);
/* Encode a message from busd (source `from_peer`) and send it to a connected role.
 * -EHOSTUNREACH when that role is not connected. */
int busd_send(struct busd *b, enum bus_role to, uint16_t type, uint32_t request_id, uint32_t from_peer,
              const void *payload);
void busd_send_error(struct busd *b, struct peer *to, uint32_t request_id, uint16_t failed_type, int error,
                     const char *fmt, ...) _printf_(6, 7);

/* guest.c */
int guest_open(struct busd *b, const struct bus_msg_domain_channel_open *req);
struct guest *guest_find(struct busd *b, uint32_t domid);
/* Close, notify DOMAIN_CHANNEL_DOWN {domid, reason}, free later. */
void guest_close(struct guest *g, int reason, const char *why);
void guest_free(struct guest *g);
/* Queue or write one encoded qrexec message; closes the channel when its queue overflows. */
int guest_write(struct guest *g, const uint8_t *buf, size_t size);

/* broker.c */
struct broker_call;
int broker_init(struct busd *b);
void broker_done(struct busd *b);
/* QREXEC_CONNECT from policyd: answered with QREXEC_CONNECTED (maybe later,
 * when the pair's ports are all taken). */
int broker_connect(struct peer *from, uint32_t request_id, const struct bus_msg_qrexec_connect *req);
/* MSG_CONNECTION_TERMINATED {peer_domid, port} from domain domid. */
void broker_on_terminated(struct busd *b, uint32_t domid, uint32_t peer_domid, uint32_t port);
void broker_on_channel_closed(struct busd *b, struct guest *g);

/* guest-msg.c */
int guest_handle_message(struct guest *g, const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload);
int guest_send_from_bus(struct guest *g, struct peer *from, const struct bus_message *msg);
int guest_send_refused(struct guest *g, const char *ident);
void guest_notify_up(struct guest *g);
void guest_notify_down(struct busd *b, uint32_t domid, int reason);
