/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bus rings (bus-ring.h): datagrams round trip byte for byte, wrapping
 * at the ring's end; a full ring refuses and asks for a kick; the polling
 * mark decides who is kicked; positions and lengths a hostile other side
 * wrote are refused, never followed; and two processes exchange 100,000
 * datagrams through one memfd, sleeping on kicks.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bus-ring.h"
#include "check-helpers.h"
#include "util.h"

/* The layout, as seen from outside (test_layout_seen_through_the_api
 * checks these against what the API writes): a control block per ring
 * in the first page, the head first, the tail, the polling and waiting
 * flags each 64 bytes further; the data of each ring after that page. */
#define CTL_TO_BUSD     0u
#define CTL_TO_DAEMON   1024u
#define OFF_HEAD        0u
#define OFF_TAIL        64u
#define OFF_POLLING     128u
#define OFF_WAITING     192u
#define DATA_TO_BUSD    4096u
#define DATA_TO_DAEMON  (4096u + BUS_RING_DATA_SIZE)
#define MASK            (BUS_RING_DATA_SIZE - 1)

/* Both sides of one fresh memfd, and a raw view of it: what a peer could write. */
struct pair {
        int fd;
        struct bus_rings busd, daemon;
        uint8_t *raw;
};

static void pair_open(struct pair *p) {
        p->fd = bus_rings_create();
        ck_assert_int_ge(p->fd, 0);
        ck_assert_int_eq(bus_rings_map(p->fd, true, &p->busd), 0);
        ck_assert_int_eq(bus_rings_map(p->fd, false, &p->daemon), 0);
        p->raw = mmap(NULL, BUS_RINGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
        ck_assert(p->raw != MAP_FAILED);
}

static void pair_close(struct pair *p) {
        bus_rings_unmap(&p->busd);
        bus_rings_unmap(&p->daemon);
        munmap(p->raw, BUS_RINGS_SIZE);
        close(p->fd);
}

static uint32_t raw_get(const struct pair *p, size_t off) {
        uint32_t v;

        memcpy(&v, p->raw + off, sizeof(v));
        return v;
}

static void raw_put(struct pair *p, size_t off, uint32_t v) {
        memcpy(p->raw + off, &v, sizeof(v));
}

/* Message seq: its size (1 .. BUS_RING_DATA_SIZE / 2, mostly small, now and
 * then large or the largest) and its bytes, both from seq alone. */
static size_t msg_size(uint32_t seq) {
        uint32_t x = seq * 2654435761u;

        if (seq % 997 == 0)
                return BUS_RING_DATA_SIZE / 2;
        if (seq % 61 == 0)
                return 1 + x % 20000;
        return 1 + (x >> 7) % 600;
}

static void msg_fill(uint32_t seq, uint8_t *buf, size_t size) {
        uint32_t x = seq * 2246822519u + 1;

        for (size_t i = 0; i < size; i++) {
                x = x * 1103515245u + 12345u;
                buf[i] = (uint8_t) (x >> 16);
        }
}

static bool msg_check(uint32_t seq, const uint8_t *buf, size_t size) {
        uint32_t x = seq * 2246822519u + 1;

        if (size != msg_size(seq))
                return false;
        for (size_t i = 0; i < size; i++) {
                x = x * 1103515245u + 12345u;
                if (buf[i] != (uint8_t) (x >> 16))
                        return false;
        }
        return true;
}

START_TEST(test_layout_seen_through_the_api) {
        struct pair p;
        uint8_t one = 0x7e, got;

        pair_open(&p);
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, &one, 1), 1);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_TAIL), 8);
        ck_assert_uint_eq(raw_get(&p, DATA_TO_BUSD), 1);                /* the length */
        ck_assert_uint_eq(p.raw[DATA_TO_BUSD + 4], 0x7e);
        ck_assert_int_eq(bus_ring_read(&p.busd.rx, &got, 1), 1);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_HEAD), 8);
        bus_ring_set_polling(&p.busd.rx, true);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_POLLING), 1);
        bus_ring_set_polling(&p.busd.rx, false);

        ck_assert_int_eq(bus_ring_write(&p.busd.tx, &one, 1), 1);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_DAEMON + OFF_TAIL), 8);
        ck_assert_uint_eq(raw_get(&p, DATA_TO_DAEMON), 1);
        ck_assert_uint_eq(p.raw[DATA_TO_DAEMON + 4], 0x7e);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_TAIL), 8);      /* the other ring: untouched */
        pair_close(&p);
}
END_TEST

/* Write one message, read it on the other side into a buffer of exactly max bytes. */
static void round_trip(struct bus_ring *tx, struct bus_ring *rx, uint32_t seq, size_t size) {
        _cleanup_free_ uint8_t *out = malloc(size), *in = malloc(size);

        ck_assert_ptr_nonnull(out);
        ck_assert_ptr_nonnull(in);
        msg_fill(seq, out, size);
        ck_assert_int_eq(bus_ring_write(tx, out, size), 1);
        ck_assert(!bus_ring_empty(rx));
        ck_assert_int_eq(bus_ring_read(rx, in, size), (ssize_t) size);
        ck_assert_msg(memcmp(in, out, size) == 0, "message %u of %zu bytes changed", seq, size);
        ck_assert(bus_ring_empty(rx));
        ck_assert_int_eq(bus_ring_read(rx, in, size), 0);
}

START_TEST(test_round_trip_sizes) {
        static const size_t sizes[] = { 1, 7, 8, 9, 4096, BUS_RING_DATA_SIZE / 2 };
        struct pair p;
        uint8_t b[16] = {};

        pair_open(&p);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                round_trip(&p.daemon.tx, &p.busd.rx, (uint32_t) i, sizes[i]);
                round_trip(&p.busd.tx, &p.daemon.rx, (uint32_t) i + 100, sizes[i]);
        }
        /* Records are a u32 length and the datagram, padded to 8. */
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_TAIL),
                          8 + 16 + 16 + 16 + 4104 + (4 + BUS_RING_DATA_SIZE / 2 + 4));
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, b, 0), -EMSGSIZE);
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, b, BUS_RING_DATA_SIZE / 2 + 1), -EMSGSIZE);
        ck_assert(bus_ring_empty(&p.busd.rx));
        pair_close(&p);
}
END_TEST

/* Many messages through one ring, several at a time: it wraps many times,
 * records straddle its end, every byte arrives as written, in order. */
START_TEST(test_wraps_in_order) {
        _cleanup_free_ uint8_t *buf = malloc(BUS_RING_DATA_SIZE / 2);
        struct pair p;
        uint32_t wseq = 0, rseq = 0, straddled = 0;

        ck_assert_ptr_nonnull(buf);
        pair_open(&p);
        while (rseq < 20000) {
                /* Fill until refused (or a batch is in), then read all. */
                for (unsigned batch = 0; batch < 1 + wseq % 50; batch++) {
                        size_t size = msg_size(wseq);
                        uint32_t at = p.daemon.tx.pos & MASK;

                        msg_fill(wseq, buf, size);
                        int r = bus_ring_write(&p.daemon.tx, buf, size);
                        ck_assert_int_ge(r, 0);
                        if (r == 0)
                                break;
                        if (at + 4 + size > BUS_RING_DATA_SIZE)
                                straddled++;
                        wseq++;
                }
                for (ssize_t n; (n = bus_ring_read(&p.busd.rx, buf, BUS_RING_DATA_SIZE / 2)) != 0; rseq++) {
                        ck_assert_int_gt(n, 0);
                        ck_assert_msg(msg_check(rseq, buf, (size_t) n), "message %u: %zd bytes, or its bytes, wrong",
                                      rseq, n);
                }
                ck_assert_uint_eq(rseq, wseq);
        }
        ck_assert_uint_gt(p.daemon.tx.pos, 4u * BUS_RING_DATA_SIZE);
        ck_assert_uint_gt(straddled, 10);
        pair_close(&p);
}
END_TEST

/* Positions are free-running u32s: they wrap around 2^32 too. */
START_TEST(test_positions_wrap_around_u32) {
        struct pair p;
        uint8_t buf[600];

        pair_open(&p);
        /* Both sides agree on a position just below 2^32 (as after 16 GiB). */
        uint32_t start = UINT32_MAX - 4095u;
        p.daemon.tx.pos = p.busd.rx.pos = start;
        raw_put(&p, CTL_TO_BUSD + OFF_HEAD, start);
        raw_put(&p, CTL_TO_BUSD + OFF_TAIL, start);
        for (uint32_t seq = 0; seq < 100; seq++) {
                size_t size = msg_size(seq) % 600;
                if (size == 0)
                        size = 1;
                msg_fill(seq, buf, size);
                ck_assert_int_eq(bus_ring_write(&p.daemon.tx, buf, size), 1);
                memset(buf, 0, sizeof(buf));
                ck_assert_int_eq(bus_ring_read(&p.busd.rx, buf, sizeof(buf)), (ssize_t) size);
                uint8_t want[600];
                msg_fill(seq, want, size);
                ck_assert_int_eq(memcmp(buf, want, size), 0);
        }
        ck_assert_uint_lt(p.busd.rx.pos, start);        /* it did wrap */
        pair_close(&p);
}
END_TEST

START_TEST(test_full_ring_waits_for_a_kick) {
        struct pair p;
        uint8_t buf[1000];
        unsigned written = 0;

        pair_open(&p);
        memset(buf, 0xab, sizeof(buf));
        ck_assert(!bus_ring_producer_waits(&p.busd.rx));
        for (;;) {
                int r = bus_ring_write(&p.daemon.tx, buf, sizeof(buf));
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        break;
                written++;
                ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_WAITING), 0);
        }
        /* Records of 1008 bytes: as many as fit, not one fewer. */
        ck_assert_uint_eq(written, BUS_RING_DATA_SIZE / 1008);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_WAITING), 1);
        /* Refused again, and a smaller one that fits still goes in. */
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, buf, sizeof(buf)), 0);
        size_t left = BUS_RING_DATA_SIZE - written * 1008 - 4;
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, buf, left), 1);
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, buf, 1), 0);

        /* Reading frees room: the consumer learns once that it must kick. */
        ck_assert_int_eq(bus_ring_read(&p.busd.rx, buf, sizeof(buf)), (ssize_t) sizeof(buf));
        ck_assert(bus_ring_producer_waits(&p.busd.rx));
        ck_assert(!bus_ring_producer_waits(&p.busd.rx));
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_WAITING), 0);
        ck_assert_int_eq(bus_ring_write(&p.daemon.tx, buf, sizeof(buf)), 1);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_WAITING), 0);
        ck_assert(!bus_ring_producer_waits(&p.busd.rx));

        /* Everything written comes out, then nothing. */
        unsigned n = 1;
        ssize_t k;
        while ((k = bus_ring_read(&p.busd.rx, buf, sizeof(buf))) > 0)
                n++;
        ck_assert_int_eq(k, 0);
        ck_assert_uint_eq(n, written + 2);
        pair_close(&p);
}
END_TEST

START_TEST(test_consumer_sleeps_unless_polling) {
        struct pair p;

        pair_open(&p);
        ck_assert(bus_ring_consumer_sleeps(&p.daemon.tx));
        ck_assert(bus_ring_consumer_sleeps(&p.busd.tx));
        bus_ring_set_polling(&p.busd.rx, true);
        ck_assert(!bus_ring_consumer_sleeps(&p.daemon.tx));
        ck_assert(bus_ring_consumer_sleeps(&p.busd.tx));        /* the other ring: its own mark */
        bus_ring_set_polling(&p.daemon.rx, true);
        ck_assert(!bus_ring_consumer_sleeps(&p.busd.tx));
        bus_ring_set_polling(&p.busd.rx, false);
        ck_assert(bus_ring_consumer_sleeps(&p.daemon.tx));
        ck_assert(!bus_ring_consumer_sleeps(&p.busd.tx));
        bus_ring_set_polling(&p.daemon.rx, false);
        ck_assert(bus_ring_consumer_sleeps(&p.busd.tx));
        pair_close(&p);
}
END_TEST

/* What a hostile daemon leaves in the ring busd reads: its tail, and the
 * length word of the record at busd's head. */
struct hostile_case {
        const char *what;
        uint32_t tail;          /* relative to busd's head */
        uint32_t length;
        size_t max;
};

static void assert_refused(const struct hostile_case *c, uint32_t head) {
        struct pair p;
        /* Exactly max bytes: ASan sees a copy past them. */
        _cleanup_free_ uint8_t *buf = malloc(c->max);

        ck_assert_ptr_nonnull(buf);
        pair_open(&p);
        p.busd.rx.pos = head;
        raw_put(&p, CTL_TO_BUSD + OFF_HEAD, head);
        raw_put(&p, CTL_TO_BUSD + OFF_TAIL, head + c->tail);
        raw_put(&p, DATA_TO_BUSD + (head & MASK), c->length);
        ck_assert_msg(bus_ring_read(&p.busd.rx, buf, c->max) == -EPROTO, "%s (head %u): not refused", c->what,
                      head);
        /* Refused, not consumed: busd's head stays where it was. */
        ck_assert_uint_eq(p.busd.rx.pos, head);
        ck_assert_uint_eq(raw_get(&p, CTL_TO_BUSD + OFF_HEAD), head);
        pair_close(&p);
}

START_TEST(test_hostile_producer_refused) {
        const uint32_t R = BUS_RING_DATA_SIZE;
        const struct hostile_case cases[] = {
                { "tail more than a ring ahead", R + 8, 8, 4096 },
                { "tail far ahead", 0x80000000u, 8, 4096 },
                { "tail behind the head", (uint32_t) -8, 8, 4096 },
                { "tail not 8-aligned", 12, 1, 4096 },
                { "tail not 8-aligned, short", 4, 1, 4096 },
                { "length 0", 8, 0, 4096 },
                { "length over max", 112, 101, 100 },
                { "length over the largest datagram", R, R / 2 + 1, R },
                { "length of all ones", R, UINT32_MAX, R },
                { "length beyond the tail", 8, 100, 4096 },
                { "length just beyond the tail", 104, 101, 4096 },
                { "length beyond a full ring's tail", R, R - 3, R },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_refused(&cases[i], 0);
                /* At the ring's last record: a copy that did not wrap would run off the map. */
                assert_refused(&cases[i], R - 8);
                assert_refused(&cases[i], 7u * R - 64);
        }
}
END_TEST

/* The same checks let through what an honest producer writes at those
 * spots, in both rings: the second ends where the mapping does, a copy
 * that ran past it would fault. */
static void honest_record_at_the_end(struct bus_ring *tx, struct bus_ring *rx, struct pair *p, size_t ctl,
                                     size_t data) {
        uint8_t buf[100], want[100];
        const uint32_t head = BUS_RING_DATA_SIZE - 8;

        tx->pos = rx->pos = head;
        raw_put(p, ctl + OFF_HEAD, head);
        raw_put(p, ctl + OFF_TAIL, head);
        msg_fill(5, want, sizeof(want));
        ck_assert_int_eq(bus_ring_write(tx, want, sizeof(want)), 1);
        ck_assert_uint_eq(raw_get(p, data + head), sizeof(want));       /* the length, before the end */
        ck_assert_int_eq(memcmp(p->raw + data + head + 4, want, 4), 0);
        ck_assert_int_eq(memcmp(p->raw + data, want + 4, sizeof(want) - 4), 0);   /* the rest, wrapped */
        ck_assert_int_eq(bus_ring_read(rx, buf, sizeof(buf)), (ssize_t) sizeof(buf));
        ck_assert_int_eq(memcmp(buf, want, sizeof(want)), 0);
}

START_TEST(test_honest_record_at_the_end_accepted) {
        struct pair p;

        pair_open(&p);
        honest_record_at_the_end(&p.daemon.tx, &p.busd.rx, &p, CTL_TO_BUSD, DATA_TO_BUSD);
        /* The daemon's view again, mapped (most likely: mmap fills the
         * highest hole) just before a page that is not accessible. */
        uint8_t *area = mmap(NULL, BUS_RINGS_SIZE + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert(area != MAP_FAILED);
        ck_assert_int_eq(munmap(area, BUS_RINGS_SIZE), 0);
        struct bus_rings guarded;
        ck_assert_int_eq(bus_rings_map(p.fd, false, &guarded), 0);
        honest_record_at_the_end(&p.busd.tx, &guarded.rx, &p, CTL_TO_DAEMON, DATA_TO_DAEMON);
        bus_rings_unmap(&guarded);
        munmap(area + BUS_RINGS_SIZE, 4096);
        pair_close(&p);
}
END_TEST

/* A hostile daemon moves the head of the ring busd writes. */
START_TEST(test_hostile_consumer_refused) {
        const uint32_t heads[] = { 8, 1000, 0x80000000u, (uint32_t) -(int32_t) (BUS_RING_DATA_SIZE + 8), 4, (uint32_t) -4 };
        uint8_t b[16] = {};

        for (size_t i = 0; i < ELEMENTSOF(heads); i++) {
                struct pair p;

                pair_open(&p);
                raw_put(&p, CTL_TO_DAEMON + OFF_HEAD, heads[i]);
                ck_assert_msg(bus_ring_write(&p.busd.tx, b, sizeof(b)) == -EPROTO, "head %u accepted", heads[i]);
                ck_assert_uint_eq(raw_get(&p, CTL_TO_DAEMON + OFF_TAIL), 0);
                ck_assert_uint_eq(p.busd.tx.pos, 0);
                pair_close(&p);
        }

        /* A head that went back by no more than what was written is a full ring, no lie. */
        struct pair p;
        pair_open(&p);
        ck_assert_int_eq(bus_ring_write(&p.busd.tx, b, sizeof(b)), 1);
        raw_put(&p, CTL_TO_DAEMON + OFF_HEAD, (uint32_t) (24 - BUS_RING_DATA_SIZE));
        ck_assert_int_eq(bus_ring_write(&p.busd.tx, b, sizeof(b)), 0);
        pair_close(&p);
}
END_TEST

START_TEST(test_map_refuses_unsealed_or_wrong_size) {
        struct bus_rings r = {};
        int fd = memfd_create("not-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        /* The right size, but it could shrink under the mapping. */
        ck_assert_int_eq(ftruncate(fd, BUS_RINGS_SIZE), 0);
        ck_assert_int_eq(bus_rings_map(fd, true, &r), -EBADF);
        ck_assert_int_eq(bus_rings_map(fd, false, &r), -EBADF);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
        ck_assert_int_eq(bus_rings_map(fd, false, &r), -EBADF);
        ck_assert_ptr_null(r.map);
        close(fd);

        /* Sealed, but smaller, or larger. */
        const off_t wrong[] = { BUS_RINGS_SIZE - 4096, 4096, BUS_RINGS_SIZE + 4096, 0 };
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                fd = memfd_create("not-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(ftruncate(fd, wrong[i]), 0);
                ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
                ck_assert_int_eq(bus_rings_map(fd, false, &r), -EBADF);
                ck_assert_ptr_null(r.map);
                close(fd);
        }

        /* What busd makes cannot shrink. */
        fd = bus_rings_create();
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, BUS_RINGS_SIZE / 2), -1);
        ck_assert_int_eq(errno, EPERM);
        ck_assert_int_eq(bus_rings_map(fd, false, &r), 0);
        ck_assert_ptr_nonnull(r.map);
        bus_rings_unmap(&r);
        ck_assert_ptr_null(r.map);
        close(fd);
}
END_TEST

START_TEST(test_kicks_on_the_socket) {
        int sv[2];
        uint8_t junk[2] = { BUS_RING_KICK, BUS_RING_KICK };

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), 0);                      /* none */
        /* A kick is one byte, 0x4b, in a datagram of its own. */
        ck_assert_int_eq(bus_ring_kick(sv[0]), 0);
        ck_assert_int_eq(recv(sv[1], junk, 2, MSG_DONTWAIT | MSG_TRUNC), 1);
        ck_assert_uint_eq(junk[0], 0x4b);
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(bus_ring_kick(sv[0]), 0);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), 0);
        ck_assert_int_eq(recv(sv[1], junk, 1, MSG_DONTWAIT), -1);               /* all taken */
        ck_assert_int_eq(errno, EAGAIN);

        /* A datagram that is not a kick: two bytes, or another byte. */
        ck_assert_int_eq(bus_ring_kick(sv[0]), 0);
        ck_assert_int_eq(send(sv[0], junk, 2, 0), 2);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), -EPROTO);
        junk[0] = 0;
        ck_assert_int_eq(send(sv[0], junk, 1, 0), 1);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), -EPROTO);

        /* A full socket of kicks is fine: the other side will wake. */
        for (int i = 0; i < 100000; i++)
                ck_assert_int_eq(bus_ring_kick(sv[0]), 0);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), 0);

        ck_assert_int_eq(bus_ring_kick(sv[0]), 0);
        close(sv[0]);
        ck_assert_int_eq(bus_ring_drain_kicks(sv[1]), -ECONNRESET);
        ck_assert_int_eq(bus_ring_kick(sv[1]), -ECONNRESET);
        close(sv[1]);
}
END_TEST

#define N_MESSAGES 100000u
#define WAIT_MS 60000

/* One side of the exchange, as a daemon runs it: polling now and then. */
struct side {
        struct bus_ring *tx, *rx;
        int sock;
        unsigned kicks_sent, sleeps;
        uint8_t *buf;
        /* The echo exits once it sent the last message back, maybe before
         * our last kick: that kick finds no one, which is fine. */
        bool peer_may_leave, peer_gone;
};

static int side_kick(struct side *s) {
        int r = bus_ring_kick(s->sock);

        s->kicks_sent++;
        return r == -ECONNRESET && s->peer_may_leave ? 0 : r;
}

static int side_kick_if_needed(struct side *s, bool wrote) {
        if (wrote && bus_ring_consumer_sleeps(s->tx))
                return side_kick(s);
        return 0;
}

/* Nothing to do: sleep until kicked (a timeout means a lost wake-up). */
static int side_sleep(struct side *s) {
        struct pollfd pfd = { .fd = s->sock, .events = POLLIN };

        s->sleeps++;
        int r = poll(&pfd, 1, WAIT_MS);
        if (r <= 0)
                return r == 0 ? -ETIMEDOUT : -errno;
        r = bus_ring_drain_kicks(s->sock);
        /* Its last kick and its end may come together: look at the ring
         * once more, but do not wait on a socket that is over. */
        if (r == -ECONNRESET && s->peer_may_leave && !s->peer_gone) {
                s->peer_gone = true;
                return 0;
        }
        return r;
}

/* After reads: kick a producer that waits for room. */
static int side_after_reads(struct side *s) {
        if (bus_ring_producer_waits(s->rx))
                return side_kick(s);
        return 0;
}

/* The echoing side (the child): every message back, as it came.  In
 * blocks of 5,000 it marks its ring polling and spins instead of sleeping. */
static int echo_side(struct side *s) {
        uint32_t seq = 0;
        bool polling = false;
        int r;

        while (seq < N_MESSAGES) {
                bool want_poll = (seq / 5000) % 2 == 1;
                if (want_poll != polling) {
                        bus_ring_set_polling(s->rx, want_poll);
                        polling = want_poll;
                }
                ssize_t n = bus_ring_read(s->rx, s->buf, BUS_RING_DATA_SIZE / 2);
                if (n < 0)
                        return (int) n;
                if ((r = side_after_reads(s)) < 0)
                        return r;
                if (n == 0) {
                        if (polling) {
                                sched_yield();
                                continue;
                        }
                        if ((r = side_sleep(s)) < 0)
                                return r;
                        continue;
                }
                if (!msg_check(seq, s->buf, (size_t) n))
                        return -EBADMSG;
                for (;;) {
                        r = bus_ring_write(s->tx, s->buf, (size_t) n);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                        if ((r = side_sleep(s)) < 0)
                                return r;
                }
                if ((r = side_kick_if_needed(s, true)) < 0)
                        return r;
                seq++;
        }
        return 0;
}

/* The sending side (the parent): write while there is room, read all
 * that came back, sleep when neither moves. */
static int send_side(struct side *s) {
        _cleanup_free_ uint8_t *out = malloc(BUS_RING_DATA_SIZE / 2);
        uint32_t wseq = 0, rseq = 0;
        int r;

        if (!out)
                return -ENOMEM;
        while (rseq < N_MESSAGES) {
                bool progress = false;

                while (wseq < N_MESSAGES) {
                        size_t size = msg_size(wseq);
                        msg_fill(wseq, out, size);
                        r = bus_ring_write(s->tx, out, size);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                break;
                        if ((r = side_kick_if_needed(s, true)) < 0)
                                return r;
                        wseq++;
                        progress = true;
                        if (wseq % 64 == 0)
                                break;  /* read now and then: the echo may wait for room */
                }
                for (ssize_t n; (n = bus_ring_read(s->rx, s->buf, BUS_RING_DATA_SIZE / 2)) != 0; rseq++) {
                        if (n < 0)
                                return (int) n;
                        if (!msg_check(rseq, s->buf, (size_t) n)) {
                                fprintf(stderr, "message %u came back wrong (%zd bytes)\n", rseq, n);
                                return -EBADMSG;
                        }
                        progress = true;
                }
                if ((r = side_after_reads(s)) < 0)
                        return r;
                if (!progress && (r = side_sleep(s)) < 0)
                        return r;
        }
        return 0;
}

START_TEST(test_two_processes_exchange_100000) {
        _cleanup_free_ uint8_t *buf = malloc(BUS_RING_DATA_SIZE / 2);
        int sv[2], fd, status;
        struct bus_rings busd = {};

        ck_assert_ptr_nonnull(buf);
        fd = bus_rings_create();
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct bus_rings daemon;

                close(sv[0]);
                if (bus_rings_map(fd, false, &daemon) < 0)
                        _exit(2);
                struct side s = { &daemon.tx, &daemon.rx, sv[1], 0, 0, buf, false, false };
                int r = echo_side(&s);
                if (r < 0)
                        fprintf(stderr, "echo side: %s\n", strerror(-r));
                _exit(r < 0 ? 1 : 0);
        }
        close(sv[1]);
        ck_assert_int_eq(bus_rings_map(fd, true, &busd), 0);
        close(fd);

        struct side s = { &busd.tx, &busd.rx, sv[0], 0, 0, buf, true, false };
        int r = send_side(&s);
        if (r < 0)
                kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(r == 0, "sending side: %s", strerror(-r));
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "echo side failed: status %d", status);
        ck_assert_uint_gt(s.kicks_sent, 0);
        ck_assert(bus_ring_empty(&busd.rx));
        bus_rings_unmap(&busd);
        close(sv[0]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("bus-ring");
        TCase *tc = tcase_create("ring");

        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_layout_seen_through_the_api);
        tcase_add_test(tc, test_round_trip_sizes);
        tcase_add_test(tc, test_wraps_in_order);
        tcase_add_test(tc, test_positions_wrap_around_u32);
        tcase_add_test(tc, test_full_ring_waits_for_a_kick);
        tcase_add_test(tc, test_consumer_sleeps_unless_polling);
        tcase_add_test(tc, test_hostile_producer_refused);
        tcase_add_test(tc, test_honest_record_at_the_end_accepted);
        tcase_add_test(tc, test_hostile_consumer_refused);
        tcase_add_test(tc, test_map_refuses_unsealed_or_wrong_size);
        tcase_add_test(tc, test_kicks_on_the_socket);
        tcase_add_test(tc, test_two_processes_exchange_100000);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
