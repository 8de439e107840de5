/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd's rings (part of test-busd): every message between busd and a
 * daemon goes through the shared-memory rings WELCOME hands out once the
 * daemon kicks, the socket carrying kicks only; a daemon that corrupts its
 * ring is dropped, nobody else is; a daemon that does not read gets, once
 * it reads, everything its ring did not take, in order.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-ring.h"
#include "busd-harness.h"
#include "util.h"

TCase *busd_rings_tcase(void);

#define SEC BUS_CLIENT_USEC_PER_SEC
#define WAIT_MS 10000

/* The payload of echo seq: len bytes (0: 1 .. BUS_ECHO_MAX, from seq), from seq alone. */
static void echo_fill_len(uint32_t seq, struct bus_msg_echo_request *req, uint32_t len) {
        uint32_t x = seq * 2654435761u + 7;

        req->data_len = len ?: 1 + (seq * 977u) % BUS_ECHO_MAX;
        for (size_t i = 0; i < req->data_len; i++) {
                x = x * 1103515245u + 12345u;
                req->data[i] = (uint8_t) (x >> 16);
        }
}

static void echo_fill(uint32_t seq, struct bus_msg_echo_request *req) {
        echo_fill_len(seq, req, 0);
}

static void assert_echo_data(uint32_t seq, uint32_t data_len, const uint8_t *data) {
        _cleanup_free_ struct bus_msg_echo_request *want = calloc(1, sizeof(*want));

        ck_assert_ptr_nonnull(want);
        echo_fill(seq, want);
        ck_assert_uint_eq(data_len, want->data_len);
        ck_assert_msg(memcmp(data, want->data, data_len) == 0, "echo %u: its data changed", seq);
}

/* Every datagram waiting on a client's socket is a kick: busd sent no
 * message there. */
static void assert_socket_only_kicks(int fd) {
        ck_assert_msg(bus_ring_drain_kicks(fd) == 0, "busd sent a message on the socket, not the ring");
}

/* A daemon that speaks the ring protocol by hand. */
struct ring_client {
        int fd;
        struct bus_rings rings;
        uint8_t *raw;           /* the whole memfd, as the daemon may write it */
        uint8_t buf[BUS_MSG_MAX];
};

/* Connect as uid and read WELCOME with its fds; map the rings; kick to
 * opt in when asked. */
static struct ring_client *ring_client_new(struct busd_harness *h, uid_t uid, bool kick) {
        struct ring_client *rc = calloc(1, sizeof(*rc));
        _cleanup_free_ struct bus_message *m = message_new();
        struct pollfd pfd;
        int fds[FDS_WITH_DATAGRAM_MAX];
        size_t n_fds;

        ck_assert_ptr_nonnull(rc);
        rc->fd = harness_connect_raw(h, uid);
        pfd = (struct pollfd) { .fd = rc->fd, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
        ssize_t n = recv_with_fds(rc->fd, rc->buf, BUS_MSG_MAX, MSG_DONTWAIT, fds, ELEMENTSOF(fds), &n_fds);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(bus_decode(rc->buf, (size_t) n, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_WELCOME);
        ck_assert_msg(m->u.welcome.fds & BUS_WELCOME_FD_RINGS, "WELCOME brought no rings");
        ck_assert_uint_eq(n_fds, (size_t) __builtin_popcount(m->u.welcome.fds));
        /* The fds come in the order of their bits: the spin slots first. */
        int rings_fd = fds[m->u.welcome.fds & BUS_WELCOME_FD_SPIN_SLOTS ? 1 : 0];
        ck_assert_int_eq(bus_rings_map(rings_fd, false, &rc->rings), 0);
        rc->raw = mmap(NULL, BUS_RINGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rings_fd, 0);
        ck_assert(rc->raw != MAP_FAILED);
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        if (kick)
                ck_assert_int_eq(bus_ring_kick(rc->fd), 0);
        return rc;
}

static void ring_client_free(struct ring_client *rc) {
        bus_rings_unmap(&rc->rings);
        munmap(rc->raw, BUS_RINGS_SIZE);
        if (rc->fd >= 0)
                close(rc->fd);
        free(rc);
}

static void ring_send(struct ring_client *rc, uint16_t type, uint32_t to, uint32_t request_id, const void *payload) {
        struct bus_hdr hdr = { .type = type, .peer = to, .request_id = request_id };
        int n = bus_encode(&hdr, payload, rc->buf, BUS_MSG_MAX);

        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(bus_ring_write(&rc->rings.tx, rc->buf, (size_t) n), 1);
        if (bus_ring_consumer_sleeps(&rc->rings.tx))
                ck_assert_int_eq(bus_ring_kick(rc->fd), 0);
}

/* The next message on the ring within WAIT_MS; the socket meanwhile may
 * carry kicks only. */
static void ring_recv(struct ring_client *rc, struct bus_message *ret) {
        uint64_t deadline = now_usec() + (uint64_t) WAIT_MS * 1000;

        for (;;) {
                ssize_t n = bus_ring_read(&rc->rings.rx, rc->buf, BUS_MSG_MAX);

                ck_assert_int_ge(n, 0);
                if (n > 0) {
                        if (bus_ring_producer_waits(&rc->rings.rx))
                                ck_assert_int_eq(bus_ring_kick(rc->fd), 0);
                        ck_assert_int_eq(bus_decode(rc->buf, (size_t) n, ret), 0);
                        return;
                }
                ck_assert_msg(now_usec() < deadline, "nothing came on the ring");
                struct pollfd pfd = { .fd = rc->fd, .events = POLLIN };
                (void) poll(&pfd, 1, 100);
                assert_socket_only_kicks(rc->fd);
        }
}

/* 5,000 echoes between two daemons through busd, in batches: in order,
 * with the source stamped, and not one message on either socket. */
/* The next message on c: an echo request or reply of `type` from `from`,
 * request id seq, with seq's data. */
static void receive_echo(struct bus_client *c, struct bus_message *m, uint16_t type, uint32_t from, uint32_t seq) {
        ck_assert_int_eq(bus_client_receive(c, 10 * SEC, m), 0);
        ck_assert_uint_eq(m->hdr.type, type);
        ck_assert_uint_eq(m->hdr.peer, from);
        ck_assert_uint_eq(m->hdr.request_id, seq);
        if (type == BUS_MSG_ECHO_REQUEST)
                assert_echo_data(seq, m->u.echo_request.data_len, m->u.echo_request.data);
        else
                assert_echo_data(seq, m->u.echo_reply.data_len, m->u.echo_reply.data);
}

START_TEST(test_echo_5000_through_rings) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *qubesd = NULL, *policyd = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        const uint32_t to_policyd = BUS_PEER_ROLE(BUS_ROLE_POLICYD), to_qubesd = BUS_PEER_ROLE(BUS_ROLE_QUBESD);
        uint32_t seq = 0;

        harness_start(&h, NULL);
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &policyd), 0);
        /* Until busd has a client's kick (or a message on its ring) it may
         * rightly send on the socket: a PING through the ring settles it. */
        assert_ping(qubesd);
        assert_ping(policyd);
        while (seq < 5000) {
                uint32_t first = seq, batch = 1 + (seq / 7) % 97;

                if (batch > 5000 - seq)
                        batch = 5000 - seq;
                for (uint32_t i = 0; i < batch; i++) {
                        echo_fill(first + i, req);
                        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_ECHO_REQUEST, to_policyd, first + i, req), 0);
                }
                /* busd answers PING after it routed what came before it. */
                assert_ping(qubesd);
                assert_socket_only_kicks(bus_client_fd(policyd));
                for (uint32_t i = 0; i < batch; i++) {
                        receive_echo(policyd, m, BUS_MSG_ECHO_REQUEST, to_qubesd, first + i);
                        ck_assert_int_eq(bus_client_reply(policyd, m, BUS_MSG_ECHO_REPLY, &m->u.echo_request), 0);
                }
                assert_ping(policyd);
                assert_socket_only_kicks(bus_client_fd(qubesd));
                for (uint32_t i = 0; i < batch; i++)
                        receive_echo(qubesd, m, BUS_MSG_ECHO_REPLY, to_policyd, first + i);
                seq += batch;
        }
        harness_stop(&h);
}
END_TEST

/* A daemon by hand: before its kick busd writes on the socket, after it
 * on the ring only, both ways. */
START_TEST(test_raw_client_echo_through_its_ring) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *policyd = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        const uint32_t to_policyd = BUS_PEER_ROLE(BUS_ROLE_POLICYD), to_guid = BUS_PEER_ROLE(BUS_ROLE_GUID);

        harness_start(&h, NULL);
        ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &policyd), 0);
        struct ring_client *guid = ring_client_new(&h, UID_GUID, false);

        /* No kick yet: busd does not know guid reads its ring. */
        echo_fill(1, req);
        ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_ECHO_REQUEST, to_guid, 1, req), 0);
        ck_assert_int_eq(raw_recv_msg(guid->fd, WAIT_MS, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(m->hdr.peer, to_policyd);
        ck_assert(bus_ring_empty(&guid->rings.rx));

        ck_assert_int_eq(bus_ring_kick(guid->fd), 0);
        echo_fill(2, req);
        ring_send(guid, BUS_MSG_ECHO_REQUEST, to_policyd, 2, req);
        ck_assert_int_eq(bus_client_receive(policyd, 10 * SEC, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(m->hdr.peer, to_guid);
        ck_assert_uint_eq(m->hdr.request_id, 2);
        assert_echo_data(2, m->u.echo_request.data_len, m->u.echo_request.data);
        ck_assert_int_eq(bus_client_reply(policyd, m, BUS_MSG_ECHO_REPLY, &m->u.echo_request), 0);

        ring_recv(guid, m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REPLY);
        ck_assert_uint_eq(m->hdr.peer, to_policyd);
        ck_assert_uint_eq(m->hdr.request_id, 2);
        assert_echo_data(2, m->u.echo_reply.data_len, m->u.echo_reply.data);

        /* busd itself answers on the ring too. */
        struct bus_msg_ping ping = { .token = 0x1234567890ull };
        ring_send(guid, BUS_MSG_PING, BUS_PEER_BUSD, 9, &ping);
        ring_recv(guid, m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_PONG);
        ck_assert_uint_eq(m->hdr.request_id, 9);
        ck_assert(m->u.pong.token == ping.token);
        assert_socket_only_kicks(guid->fd);
        ring_client_free(guid);
        harness_stop(&h);
}
END_TEST

static void put_u32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, sizeof(v));
}

/* The ring busd reads (tests/test-bus-ring.c checks this layout): its
 * control block at 0, the tail 64 bytes in, its data after the first page. */
#define RING_TAIL 64u
#define RING_DATA 4096u

START_TEST(test_corrupt_ring_drops_only_its_owner) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        const struct {
                const char *what;
                uint32_t length, tail;
        } cases[] = {
                { "tail far ahead", 16, 0x40000000u },
                { "length 0", 0, 8 },
                { "length over BUS_MSG_MAX", BUS_MSG_MAX + 1, BUS_MSG_MAX + 8 },
                { "length beyond the tail", 100, 8 },
        };

        harness_start(&h, NULL);
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct ring_client *bad = ring_client_new(&h, UID_POLICYD, true);

                put_u32(bad->raw + RING_DATA, cases[i].length);
                put_u32(bad->raw + RING_TAIL, cases[i].tail);
                ck_assert_int_eq(bus_ring_kick(bad->fd), 0);
                ck_assert_msg(raw_closed_by_busd(bad->fd, WAIT_MS), "%s: busd did not drop the peer", cases[i].what);
                ck_assert_msg(harness_log_contains(&h, "its ring is corrupt"), "%s: not logged", cases[i].what);
                assert_ping(qubesd);
                ring_client_free(bad);
        }
        /* The role is free again, and its ring as good as new. */
        struct ring_client *good = ring_client_new(&h, UID_POLICYD, true);
        _cleanup_free_ struct bus_message *m = message_new();
        struct bus_msg_ping ping = { .token = 42 };
        ring_send(good, BUS_MSG_PING, BUS_PEER_BUSD, 1, &ping);
        ring_recv(good, m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_PONG);
        ring_client_free(good);
        harness_stop(&h);
}
END_TEST

/* 1,000 messages of 2 KiB to a daemon that does not read: its ring takes
 * some, busd queues the rest; once it reads, all arrive, in order. */
START_TEST(test_slow_reader_gets_all_in_order) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *qubesd = NULL, *policyd = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        const uint32_t to_policyd = BUS_PEER_ROLE(BUS_ROLE_POLICYD);

        harness_start(&h, NULL);
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &policyd), 0);
        /* Until busd has a client's kick (or a message on its ring) it may
         * rightly send on the socket: a PING through the ring settles it. */
        assert_ping(qubesd);
        assert_ping(policyd);
        for (uint32_t seq = 0; seq < 1000; seq++) {
                echo_fill_len(seq, req, 2048);  /* 1000 of them: eight times what a ring holds */
                ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_ECHO_REQUEST, to_policyd, seq, req), 0);
        }
        assert_ping(qubesd);
        assert_socket_only_kicks(bus_client_fd(policyd));
        for (uint32_t seq = 0; seq < 1000; seq++) {
                ck_assert_int_eq(bus_client_receive(policyd, 10 * SEC, m), 0);
                ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
                ck_assert_uint_eq(m->hdr.request_id, seq);
                echo_fill_len(seq, req, 2048);
                ck_assert_uint_eq(m->u.echo_request.data_len, 2048);
                ck_assert_int_eq(memcmp(m->u.echo_request.data, req->data, 2048), 0);
        }
        /* Nothing more, and nothing was refused: qubesd got no ERROR. */
        ck_assert_int_eq(bus_client_receive(policyd, SEC / 5, m), -ETIMEDOUT);
        ck_assert_int_eq(bus_client_receive(qubesd, SEC / 5, m), -ETIMEDOUT);
        assert_ping(policyd);
        harness_stop(&h);
}
END_TEST


/* busd is killed while a daemon waits for room in its full ring: the send
 * fails at once with -ECONNRESET (test-bus-client has the plain hang-up). */
START_TEST(test_send_into_full_ring_of_dead_busd_fails) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        const uint32_t to_policyd = BUS_PEER_ROLE(BUS_ROLE_POLICYD);
        int r = 0;

        harness_start(&h, NULL);
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        assert_ping(qubesd);
        ck_assert_int_eq(kill(h.pid, SIGSTOP), 0);
        pid_t killer = fork();
        ck_assert_int_ge(killer, 0);
        if (killer == 0) {
                usleep(300 * 1000);
                kill(h.pid, SIGKILL);
                _exit(0);
        }
        uint64_t start = now_usec();
        /* 2 KiB each: the ring is full after ~120 */
        for (uint32_t seq = 0; seq < 1000 && r == 0; seq++) {
                echo_fill_len(seq, req, 2048);
                r = bus_client_send(qubesd, BUS_MSG_ECHO_REQUEST, to_policyd, seq, req);
        }
        ck_assert_int_eq(r, -ECONNRESET);
        ck_assert_uint_lt(now_usec() - start, 5 * SEC);
        ck_assert_int_eq(waitpid(killer, NULL, 0), killer);
        ck_assert_int_eq(waitpid(h.pid, NULL, 0), h.pid);
        h.pid = 0;
        harness_stop(&h);
}
END_TEST

TCase *busd_rings_tcase(void) {
        TCase *tc = tcase_create("rings");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_echo_5000_through_rings);
        tcase_add_test(tc, test_raw_client_echo_through_its_ring);
        tcase_add_test(tc, test_corrupt_ring_drops_only_its_owner);
        tcase_add_test(tc, test_slow_reader_gets_all_in_order);
        tcase_add_test(tc, test_send_into_full_ring_of_dead_busd_fails);
        return tc;
}
