/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared-memory rings between busd and a daemon (see bus-ring.h). */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-ring.h"
#include "util.h"

/* Each field on its own cache line: the two sides write different ones. */
struct bus_ring_ctl {
        alignas(64) _Atomic uint32_t head;      /* consumer: bytes read */
        alignas(64) _Atomic uint32_t tail;      /* producer: bytes written */
        alignas(64) _Atomic uint32_t polling;   /* consumer: 1 while it polls */
        alignas(64) _Atomic uint32_t waiting;   /* producer: 1 while it waits for room */
};

#define RING_TO_BUSD_CTL 0
#define RING_TO_DAEMON_CTL 1024
#define RECORD_ALIGN 8u
#define RECORD_HEADER 4u

_Static_assert(sizeof(struct bus_ring_ctl) <= 1024, "control blocks fit the first page");
_Static_assert((BUS_RING_DATA_SIZE & (BUS_RING_DATA_SIZE - 1)) == 0, "ring size is a power of two");

static uint32_t record_size(size_t size) {
        return (uint32_t) ((RECORD_HEADER + size + RECORD_ALIGN - 1) & ~(size_t) (RECORD_ALIGN - 1));
}

int bus_rings_create(void) {
        return sealed_memfd_new("odyssey-bus-rings", BUS_RINGS_SIZE);
}

int bus_rings_map(int fd, bool busd_side, struct bus_rings *ret) {
        void *map;
        int r = sealed_memfd_map(fd, BUS_RINGS_SIZE, &map);

        if (r < 0)
                return r;
        uint8_t *p = map;
        struct bus_ring to_busd = { (struct bus_ring_ctl *) (p + RING_TO_BUSD_CTL), p + 4096, 0 };
        struct bus_ring to_daemon = { (struct bus_ring_ctl *) (p + RING_TO_DAEMON_CTL),
                                      p + 4096 + BUS_RING_DATA_SIZE, 0 };
        /* Our own positions start from what is there: 0 in a fresh memfd. */
        to_busd.pos = busd_side ? atomic_load(&to_busd.ctl->head) : atomic_load(&to_busd.ctl->tail);
        to_daemon.pos = busd_side ? atomic_load(&to_daemon.ctl->tail) : atomic_load(&to_daemon.ctl->head);
        *ret = (struct bus_rings) {
                .map = p,
                .tx = busd_side ? to_daemon : to_busd,
                .rx = busd_side ? to_busd : to_daemon,
        };
        return 0;
}

void bus_rings_unmap(struct bus_rings *r) {
        if (r->map)
                munmap(r->map, BUS_RINGS_SIZE);
        *r = (struct bus_rings) {};
}

/* Copy in or out of the ring at pos, wrapping at its end. */
static void ring_copy_in(struct bus_ring *r, uint32_t pos, const void *buf, size_t size) {
        uint32_t at = pos & (BUS_RING_DATA_SIZE - 1);
        size_t first = size < BUS_RING_DATA_SIZE - at ? size : BUS_RING_DATA_SIZE - at;

        memcpy(r->data + at, buf, first);
        memcpy(r->data, (const uint8_t *) buf + first, size - first);
}

static void ring_copy_out(struct bus_ring *r, uint32_t pos, void *buf, size_t size) {
        uint32_t at = pos & (BUS_RING_DATA_SIZE - 1);
        size_t first = size < BUS_RING_DATA_SIZE - at ? size : BUS_RING_DATA_SIZE - at;

        memcpy(buf, r->data + at, first);
        memcpy((uint8_t *) buf + first, r->data, size - first);
}

/* Room left, or -EPROTO when the consumer's head is not between our tail
 * a ring ago and our tail. */
static int64_t ring_room(struct bus_ring *tx) {
        uint32_t used = tx->pos - atomic_load_explicit(&tx->ctl->head, memory_order_acquire);

        if (used > BUS_RING_DATA_SIZE || used % RECORD_ALIGN)
                return -EPROTO;
        return BUS_RING_DATA_SIZE - used;
}

int bus_ring_write(struct bus_ring *tx, const void *buf, size_t size) {
        if (size == 0 || size > BUS_RING_DATA_SIZE / 2)
                return -EMSGSIZE;
        uint32_t need = record_size(size), length = (uint32_t) size;
        int64_t room = ring_room(tx);

        if (room >= 0 && room < need) {
                /* Ask for a kick, then look again: the consumer may have read
                 * in between, without seeing the mark. */
                atomic_store_explicit(&tx->ctl->waiting, 1, memory_order_relaxed);
                atomic_thread_fence(memory_order_seq_cst);
                room = ring_room(tx);
                if (room >= 0 && room < need)
                        return 0;
                atomic_store_explicit(&tx->ctl->waiting, 0, memory_order_relaxed);
        }
        if (room < 0)
                return (int) room;
        /* Written: no longer waiting, whatever an earlier refusal marked. */
        if (atomic_load_explicit(&tx->ctl->waiting, memory_order_relaxed))
                atomic_store_explicit(&tx->ctl->waiting, 0, memory_order_relaxed);
        /* Records start 8-aligned: the length never wraps, the datagram may. */
        memcpy(tx->data + (tx->pos & (BUS_RING_DATA_SIZE - 1)), &length, RECORD_HEADER);
        ring_copy_in(tx, tx->pos + RECORD_HEADER, buf, size);
        tx->pos += need;
        atomic_store_explicit(&tx->ctl->tail, tx->pos, memory_order_release);
        return 1;
}

bool bus_ring_consumer_sleeps(struct bus_ring *tx) {
        atomic_thread_fence(memory_order_seq_cst);
        return !atomic_load_explicit(&tx->ctl->polling, memory_order_relaxed);
}

bool bus_ring_empty(struct bus_ring *rx) {
        return atomic_load_explicit(&rx->ctl->tail, memory_order_acquire) == rx->pos;
}

ssize_t bus_ring_read(struct bus_ring *rx, void *buf, size_t max) {
        uint32_t untrusted_tail = atomic_load_explicit(&rx->ctl->tail, memory_order_acquire);
        uint32_t avail = untrusted_tail - rx->pos, untrusted_length;

        if (avail == 0)
                return 0;
        if (avail > BUS_RING_DATA_SIZE || avail % RECORD_ALIGN)
                return -EPROTO;
        memcpy(&untrusted_length, rx->data + (rx->pos & (BUS_RING_DATA_SIZE - 1)), RECORD_HEADER);
        if (untrusted_length == 0 || untrusted_length > max || untrusted_length > BUS_RING_DATA_SIZE / 2 ||
            record_size(untrusted_length) > avail)
                return -EPROTO;
        ring_copy_out(rx, rx->pos + RECORD_HEADER, buf, untrusted_length);
        rx->pos += record_size(untrusted_length);
        atomic_store_explicit(&rx->ctl->head, rx->pos, memory_order_release);
        return untrusted_length;
}

bool bus_ring_producer_waits(struct bus_ring *rx) {
        atomic_thread_fence(memory_order_seq_cst);
        if (!atomic_load_explicit(&rx->ctl->waiting, memory_order_relaxed))
                return false;
        return atomic_exchange_explicit(&rx->ctl->waiting, 0, memory_order_relaxed) != 0;
}

void bus_ring_set_polling(struct bus_ring *rx, bool polling) {
        atomic_store_explicit(&rx->ctl->polling, polling, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
}

int bus_ring_kick(int sock) {
        uint8_t kick = BUS_RING_KICK;

        if (send(sock, &kick, 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;       /* the socket is full of kicks already */
        return errno == EPIPE ? -ECONNRESET : -errno;
}

int bus_ring_drain_kicks(int sock) {
        for (;;) {
                uint8_t untrusted_kick[2];
                ssize_t n = recv(sock, untrusted_kick, sizeof(untrusted_kick), MSG_DONTWAIT | MSG_TRUNC);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        if (errno == EINTR)
                                continue;
                        return errno == EPIPE ? -ECONNRESET : -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                if (n != 1 || untrusted_kick[0] != BUS_RING_KICK)
                        return -EPROTO;
        }
}
