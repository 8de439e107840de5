/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd under floods (part of test-busd): a daemon that never reads while
 * another sends to it, and one that never reads its own replies.  busd must
 * stay responsive to everyone else and do what busd(8) documents: ERROR
 * -ENOBUFS to the sender while the queue is full, then drop the peer that
 * does not read after the stall timeout.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "busd-harness.h"
#include "util.h"

TCase *busd_flood_tcase(void);

/* busd(8): a daemon's outbound queue holds at most 4096 messages and 4 MiB. */
#define DOC_QUEUE_MAX_MSGS 4096u
#define DOC_QUEUE_MAX_BYTES (4u * 1024u * 1024u)

static const char *const stall_1s[] = { "--stall-timeout", "1000", NULL };

/* A PING from c answered within max_usec. */
static void assert_ping_within(struct bus_client *c, uint64_t max_usec) {
        uint64_t start = now_usec();

        assert_ping(c);
        ck_assert_msg(now_usec() - start < max_usec, "busd took %llu us to answer PING",
                      (unsigned long long) (now_usec() - start));
}

START_TEST(test_flood_to_a_peer_that_never_reads) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *guid = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        _cleanup_free_ uint8_t *buf = malloc(BUS_MSG_MAX);
        _cleanup_close_ int sleeper = -1, flooder = -1;
        struct bus_hdr hdr = { .type = BUS_MSG_ECHO_REQUEST, .peer = BUS_PEER_ROLE(BUS_ROLE_POLICYD) };
        unsigned sent = 0, enobufs = 0;
        int n;

        harness_start(&h, stall_1s);
        ck_assert_int_eq(harness_connect(&h, UID_GUID, &guid), 0);
        sleeper = harness_connect_raw(&h, UID_POLICYD);         /* never reads, not even WELCOME */
        flooder = harness_connect_raw(&h, UID_QUBESD);
        ck_assert_int_eq(raw_recv_msg(flooder, 2000, m), 0);

        req->data_len = BUS_ECHO_MAX;
        memset(req->data, 0xee, BUS_ECHO_MAX);
        /* Send until busd has refused a good number of them. */
        while (enobufs < 100 && sent < 20000) {
                hdr.request_id = ++sent;
                n = bus_encode(&hdr, req, buf, BUS_MSG_MAX);
                ck_assert_int_gt(n, 0);
                raw_send(flooder, buf, (size_t) n);
                while (raw_recv_msg(flooder, 0, m) == 0) {
                        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ERROR);
                        ck_assert_int_eq(m->u.error.error, -ENOBUFS);
                        ck_assert_uint_eq(m->u.error.failed_type, BUS_MSG_ECHO_REQUEST);
                        enobufs++;
                }
                if (sent % 500 == 0)
                        assert_ping_within(guid, 500000);
        }
        ck_assert_uint_ge(enobufs, 100);
        /* busd took at least its queue's worth before refusing. */
        ck_assert_uint_ge(sent - enobufs, DOC_QUEUE_MAX_BYTES / (BUS_HEADER_SIZE + 4 + BUS_ECHO_MAX));
        assert_ping_within(guid, 500000);

        /* One stall timeout later the sleeper is gone, and says so in the log. */
        ck_assert(harness_log_contains(&h, "Dropping qrexec-policyd (peer 0x102"));
        ck_assert(harness_log_contains(&h, "outbound queue stayed full: the peer does not read"));
        ck_assert(raw_closed_by_busd(sleeper, 2000));

        /* The flooder was never dropped: it now learns policyd is gone. */
        while (raw_recv_msg(flooder, 100, m) == 0)
                ;
        raw_send_msg(flooder, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 424242, req);
        ck_assert_int_eq(raw_recv_msg(flooder, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.request_id, 424242);
        ck_assert_int_eq(m->u.error.error, -EHOSTUNREACH);
        assert_ping_within(guid, 500000);
        harness_stop(&h);
}
END_TEST

START_TEST(test_sender_that_never_reads_its_replies) {
        struct busd_harness h;
        _cleanup_bus_client_ struct bus_client *guid = NULL;
        _cleanup_close_ int greedy = -1;
        struct bus_msg_ping ping = { .token = 7 };
        uint8_t buf[64];
        struct bus_hdr hdr = { .type = BUS_MSG_PING, .peer = BUS_PEER_BUSD };
        int n;

        harness_start(&h, stall_1s);
        ck_assert_int_eq(harness_connect(&h, UID_GUID, &guid), 0);
        greedy = harness_connect_raw(&h, UID_NETVM_MGR);
        n = bus_encode(&hdr, &ping, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);

        /* More PINGs than its queue holds, never reading a PONG. */
        for (unsigned i = 0; i < DOC_QUEUE_MAX_MSGS * 3; i++) {
                while (send(greedy, buf, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                        if (errno != EAGAIN)
                                goto gone;      /* already dropped */
                        struct pollfd pfd = { .fd = greedy, .events = POLLOUT };
                        (void) poll(&pfd, 1, 100);
                }
                if (i % 1000 == 0)
                        assert_ping_within(guid, 500000);
        }
gone:
        ck_assert(harness_log_contains(&h, "Dropping netvm-mgr (peer 0x104"));
        ck_assert(harness_log_contains(&h, "the peer does not read"));
        ck_assert(raw_closed_by_busd(greedy, 3000));
        assert_ping_within(guid, 500000);
        harness_stop(&h);
}
END_TEST

TCase *busd_flood_tcase(void) {
        TCase *tc = tcase_create("flood");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_flood_to_a_peer_that_never_reads);
        tcase_add_test(tc, test_sender_that_never_reads_its_replies);
        return tc;
}
