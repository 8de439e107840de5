/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Bus rings: the datagrams between busd and one local daemon, in shared
 * memory instead of the socket.
 *
 * A hop through the socket is a send() and a recv() (and an epoll_wait()),
 * and a call through busd takes four hops where a direct socketpair takes
 * two.  With rings a loop that polls (daemon_event_loop()) finds the next
 * message in memory: no system call on the way.  The socket stays, for
 * what it alone gives: SO_PEERCRED at connect, WELCOME, the end of the
 * connection, and kicks, one-byte datagrams that wake a side that sleeps.
 *
 * busd makes one sealed memfd per connection (bus_rings_create) and hands
 * it out with WELCOME; from then on every message goes through the rings,
 * none through the socket.  The memfd holds two single-producer,
 * single-consumer rings, one each way.  A ring is a control block (the
 * consumer's head, the producer's tail, each on its own cache line, and
 * two flags) and BUS_RING_DATA_SIZE bytes of records: a u32 length, the
 * datagram, padding to 8 bytes; positions are free-running u32 offsets.
 *
 * Waking: a consumer marks its ring polling while it polls; a producer
 * that wrote to a ring not marked polling kicks the consumer.  A producer
 * that finds no room marks the ring waiting; the consumer that frees room
 * in a waiting ring kicks the producer.  Both flags are checked after a
 * full fence on both sides, so a side about to sleep either sees the work
 * or gets the kick.
 *
 * Trust: the other side can write anything into the memfd at any time.
 * busd keeps its own positions and checks the other side's against them
 * (a head beyond the tail, a tail more than a ring ahead, a length that
 * is zero, too large or beyond the tail: -EPROTO, and busd drops the
 * peer); a record is copied out before it is decoded.  The memfd is
 * sealed against shrinking, so a mapping never faults.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BUS_RING_DATA_SIZE (256u * 1024u)       /* two of the largest datagrams (BUS_MSG_MAX) */
#define BUS_RINGS_SIZE (4096u + 2u * BUS_RING_DATA_SIZE)
#define BUS_RING_KICK 0x4b                      /* the kick datagram's one byte */

struct bus_ring_ctl;

/* One direction, as one side sees it. */
struct bus_ring {
        struct bus_ring_ctl *ctl;
        uint8_t *data;
        uint32_t pos;           /* our own position: the tail we write, or the head we read */
};

struct bus_rings {
        void *map;
        struct bus_ring tx, rx;
};

/* A fresh sealed memfd of two empty rings (busd): fd or -errno. */
int bus_rings_create(void);
/* Map rings from fd (not consumed): busd_side picks which ring is tx. */
int bus_rings_map(int fd, bool busd_side, struct bus_rings *ret);
void bus_rings_unmap(struct bus_rings *r);

/* Append one datagram: 1 written, 0 no room (the ring is marked waiting:
 * the consumer kicks once there is), -EMSGSIZE, -EPROTO (the consumer's
 * head is impossible). */
int bus_ring_write(struct bus_ring *tx, const void *buf, size_t size);
/* After a write: does the consumer need a kick (it does not poll)? */
bool bus_ring_consumer_sleeps(struct bus_ring *tx);

/* Take the next datagram into buf: its size, 0 none, -EPROTO (a record
 * or tail the producer could not have written, or one larger than max). */
ssize_t bus_ring_read(struct bus_ring *rx, void *buf, size_t max);
bool bus_ring_empty(struct bus_ring *rx);
/* After reads: was the producer waiting for room (clears it: kick it once)? */
bool bus_ring_producer_waits(struct bus_ring *rx);
/* Mark our reading side polling or not.  Unmarked, check bus_ring_empty()
 * before sleeping: a message written before the mark went is not kicked. */
void bus_ring_set_polling(struct bus_ring *rx, bool polling);

/* Kicks on the socket: send one (EAGAIN is fine: kicks are pending
 * already), read all pending ones (0, or -EPROTO for a datagram that is
 * not a kick, -ECONNRESET at the end). */
int bus_ring_kick(int sock);
int bus_ring_drain_kicks(int sock);
