/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd and guest control channels: the real busd, qubesd and qrexec-policyd
 * as test peers (uid 0 and the policyd uid), and scripted fake guests that
 * are vchan servers on port 512 speaking the agent side of qrexec.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "busd-harness.h"
#include "fake-guest.h"
#include "util.h"
#include "vchan.h"

#define SEC BUS_CLIENT_USEC_PER_SEC

static struct busd_harness h;
static struct bus_client *qubesd, *policyd;
static struct bus_message *m;

static void start(bool with_policyd) {
        harness_start(&h, NULL);
        m = message_new();
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        if (with_policyd)
                ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &policyd), 0);
}

static void stop(void) {
        bus_client_free(TAKE_PTR(qubesd));
        bus_client_free(TAKE_PTR(policyd));
        free(TAKE_PTR(m));
        harness_stop(&h);
}

static void open_channel(uint32_t domid) {
        struct bus_msg_domain_channel_open req = { .domid = domid, .vchan_backend = VCHAN_SOCKET };

        snprintf(req.name, sizeof(req.name), "dom%u", domid);
        snprintf(req.vchan_dir, sizeof(req.vchan_dir), "%s", h.vchan_dir);
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD,
                                         bus_client_new_request_id(qubesd), &req), 0);
}

/* The next message c gets must be `type` from `from`. */
static void expect(struct bus_client *c, uint16_t type, uint32_t from) {
        ck_assert_int_eq(bus_client_receive(c, 3 * SEC, m), 0);
        ck_assert_msg(m->hdr.type == type, "expected %s, got %s", bus_type_to_string(type),
                      bus_type_to_string(m->hdr.type));
        ck_assert_uint_eq(m->hdr.peer, from);
}

static void expect_up(struct bus_client *c, uint32_t domid, uint32_t version) {
        expect(c, BUS_MSG_DOMAIN_CHANNEL_UP, BUS_PEER_BUSD);
        ck_assert_uint_eq(m->u.domain_channel_up.domid, domid);
        ck_assert_uint_eq(m->u.domain_channel_up.qrexec_version, version);
}

static void expect_down(struct bus_client *c, uint32_t domid, int reason) {
        expect(c, BUS_MSG_DOMAIN_CHANNEL_DOWN, BUS_PEER_BUSD);
        ck_assert_uint_eq(m->u.domain_channel_down.domid, domid);
        ck_assert_int_eq(m->u.domain_channel_down.reason, reason);
}

static void expect_nothing(struct bus_client *c) {
        ck_assert_int_eq(bus_client_receive(c, SEC / 4, m), -ETIMEDOUT);
}

/* A guest whose channel busd opened, HELLO exchanged, UP seen by qubesd (and policyd). */
static struct fake_guest *guest_up(uint32_t domid, uint32_t hello, uint32_t expected) {
        struct fake_guest *g = fake_guest_listen(h.vchan_dir, domid);

        open_channel(domid);
        ck_assert(fake_guest_wait_connected(g, 5000));
        ck_assert_int_eq(fake_guest_handshake(g, hello), (int) expected);
        expect_up(qubesd, domid, expected);
        if (policyd)
                expect_up(policyd, domid, expected);
        return g;
}

static void guest_expect(struct fake_guest *g, uint32_t type, uint8_t *payload, size_t max, uint32_t len) {
        struct qrexec_hdr hdr;

        ck_assert_int_eq(fake_guest_recv(g, 3000, &hdr, payload, max), 0);
        ck_assert_msg(hdr.type == type, "guest got 0x%x, not 0x%x", hdr.type, type);
        ck_assert_uint_eq(hdr.len, len);
}

START_TEST(test_channel_up_with_negotiated_version) {
        struct fake_guest *g4, *g3, *g9, *late;
        struct qrexec_hdr hdr;
        uint8_t buf[64];

        start(true);
        g4 = guest_up(5, 4, 4);
        g3 = guest_up(6, 3, 3);
        g9 = guest_up(7, 9, 4);         /* a newer agent: we speak 4 */

        /* An agent older than protocol 2 is not served. */
        struct fake_guest *g1 = fake_guest_listen(h.vchan_dir, 8);
        open_channel(8);
        ck_assert(fake_guest_wait_connected(g1, 5000));
        ck_assert_int_eq(fake_guest_handshake(g1, 1), -ECONNRESET);
        expect_down(qubesd, 8, -EPROTONOSUPPORT);
        expect_down(policyd, 8, -EPROTONOSUPPORT);
        fake_guest_free(g1);

        /* A domain whose agent starts after the request is still reached. */
        open_channel(9);
        usleep(300000);
        late = fake_guest_listen(h.vchan_dir, 9);
        ck_assert(fake_guest_wait_connected(late, 5000));
        ck_assert_int_eq(fake_guest_handshake(late, 4), 4);
        expect_up(qubesd, 9, 4);

        /* Nothing else arrived on the channels. */
        ck_assert_int_eq(fake_guest_recv(g4, 100, &hdr, buf, sizeof(buf)), -ETIMEDOUT);
        fake_guest_free(g4);
        fake_guest_free(g3);
        fake_guest_free(g9);
        fake_guest_free(late);
        stop();
}
END_TEST

START_TEST(test_trigger_to_policyd_and_answers_to_guest) {
        struct fake_guest *g;
        uint8_t buf[256];
        const struct bus_msg_qrexec_trigger *t;

        start(true);
        g = guest_up(5, 4, 4);

        /* TRIGGER_SERVICE4 claiming another source: the channel says who it is. */
        fake_guest_trigger(g, "sys-evil", "work", "SOCKET12", "qubes.Filecopy+arg");
        expect(policyd, BUS_MSG_QREXEC_TRIGGER, BUS_PEER_GUEST(5));
        t = &m->u.qrexec_trigger;
        ck_assert_uint_eq(t->source_domid, 5);
        ck_assert_uint_eq(t->protocol, 4);
        ck_assert_str_eq(t->source_domain, "sys-evil");
        ck_assert_str_eq(t->target_domain, "work");
        ck_assert_str_eq(t->ident, "SOCKET12");
        ck_assert_str_eq(t->service, "qubes.Filecopy+arg");

        fake_guest_trigger(g, NULL, "@dispvm:dvm", "SOCKET13", "qubes.OpenURL");
        expect(policyd, BUS_MSG_QREXEC_TRIGGER, BUS_PEER_GUEST(5));
        ck_assert_uint_eq(t->protocol, 3);
        ck_assert_str_eq(t->source_domain, "");
        ck_assert_str_eq(t->target_domain, "@dispvm:dvm");

        /* policyd's answers reach the guest as qrexec messages. */
        struct bus_msg_qrexec_service_refused refused = { .ident = "SOCKET12" };
        ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_QREXEC_SERVICE_REFUSED, BUS_PEER_GUEST(5), 1, &refused), 0);
        guest_expect(g, QREXEC_MSG_SERVICE_REFUSED, buf, sizeof(buf), QREXEC_IDENT_SIZE);
        ck_assert_str_eq((char *) buf, "SOCKET12");
        ck_assert_int_eq(buf[QREXEC_IDENT_SIZE - 1], 0);

        struct bus_msg_qrexec_service_connect conn = { .connect_domain = 9, .connect_port = 513, .ident = "SOCKET13" };
        ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_QREXEC_SERVICE_CONNECT, BUS_PEER_GUEST(5), 2, &conn), 0);
        guest_expect(g, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf), 8 + QREXEC_IDENT_SIZE);
        ck_assert_uint_eq(le32_load(buf), 9);
        ck_assert_uint_eq(le32_load(buf + 4), 513);
        ck_assert_str_eq((char *) buf + 8, "SOCKET13");

        struct bus_msg_qrexec_exec *exec = calloc(1, sizeof(*exec));
        exec->connect_domain = 0;
        exec->connect_port = 514;
        strcpy(exec->cmdline, "user:QUBESRPC qubes.VMShell dom0");
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_QREXEC_EXEC, BUS_PEER_GUEST(5), 3, exec), 0);
        guest_expect(g, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf), 8 + (uint32_t) strlen(exec->cmdline) + 1);
        ck_assert_uint_eq(le32_load(buf + 4), 514);
        ck_assert_str_eq((char *) buf + 8, "user:QUBESRPC qubes.VMShell dom0");
        exec->just_exec = 1;
        ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_QREXEC_EXEC, BUS_PEER_GUEST(5), 4, exec), 0);
        guest_expect(g, QREXEC_MSG_JUST_EXEC, buf, sizeof(buf), 8 + (uint32_t) strlen(exec->cmdline) + 1);
        free(exec);

        /* CONNECTION_TERMINATED goes to qubesd and policyd. */
        uint8_t term[16];
        ck_assert_int_eq(qrexec_encode_connection_terminated(term, sizeof(term), 9, 513), 16);
        ck_assert_int_eq(fake_guest_write(g, term, sizeof(term), 2000), 0);
        expect(qubesd, BUS_MSG_QREXEC_TERMINATED, BUS_PEER_GUEST(5));
        ck_assert_uint_eq(m->u.qrexec_terminated.source_domid, 5);
        ck_assert_uint_eq(m->u.qrexec_terminated.connect_domain, 9);
        ck_assert_uint_eq(m->u.qrexec_terminated.connect_port, 513);
        expect(policyd, BUS_MSG_QREXEC_TERMINATED, BUS_PEER_GUEST(5));

        /* A domain with no channel up cannot be reached. */
        ck_assert_int_eq(bus_client_call(policyd, BUS_MSG_QREXEC_SERVICE_REFUSED, BUS_PEER_GUEST(40), &refused,
                                         2 * SEC, m), -EHOSTUNREACH);
        fake_guest_free(g);
        stop();
}
END_TEST

START_TEST(test_busd_refuses_bad_requests_itself) {
        struct fake_guest *g;
        uint8_t buf[64];

        start(true);
        g = guest_up(5, 3, 3);

        fake_guest_trigger(g, NULL, "work", "bad/ident!", "qubes.Filecopy");
        guest_expect(g, QREXEC_MSG_SERVICE_REFUSED, buf, sizeof(buf), QREXEC_IDENT_SIZE);
        ck_assert_str_eq((char *) buf, "bad/ident!");
        fake_guest_trigger(g, NULL, "work", "", "qubes.Filecopy");
        guest_expect(g, QREXEC_MSG_SERVICE_REFUSED, buf, sizeof(buf), QREXEC_IDENT_SIZE);
        fake_guest_trigger(g, NULL, "work", "SOCKET3", "+arg-only");
        guest_expect(g, QREXEC_MSG_SERVICE_REFUSED, buf, sizeof(buf), QREXEC_IDENT_SIZE);
        ck_assert_str_eq((char *) buf, "SOCKET3");
        expect_nothing(policyd);

        /* No policy daemon to ask: the answer is no. */
        bus_client_free(TAKE_PTR(policyd));
        ck_assert(harness_log_contains(&h, "uid 60101) disconnected"));
        fake_guest_trigger(g, NULL, "work", "SOCKET4", "qubes.Filecopy");
        guest_expect(g, QREXEC_MSG_SERVICE_REFUSED, buf, sizeof(buf), QREXEC_IDENT_SIZE);
        ck_assert_str_eq((char *) buf, "SOCKET4");
        fake_guest_free(g);
        stop();
}
END_TEST

START_TEST(test_garbage_closes_only_that_channel) {
        struct fake_guest *bystander;
        uint8_t msg[QREXEC_HEADER_SIZE + 200] = {};
        struct {
                const char *what;
                uint32_t type, len;
                bool before_hello;
        } cases[] = {
                { "unknown type", 0x999, 0, false },
                { "data message on the control channel", QREXEC_MSG_DATA_STDOUT, 4, false },
                { "admin-side type from the agent", QREXEC_MSG_SERVICE_REFUSED, QREXEC_IDENT_SIZE, false },
                { "CONNECTION_TERMINATED of the wrong length", QREXEC_MSG_CONNECTION_TERMINATED, 4, false },
                { "TRIGGER_SERVICE4 shorter than its struct", QREXEC_MSG_TRIGGER_SERVICE4, 100, false },
                { "TRIGGER_SERVICE (v2) on protocol 4", QREXEC_MSG_TRIGGER_SERVICE, 128, false },
                { "a second HELLO", QREXEC_MSG_HELLO, 4, false },
                { "a trigger before HELLO", QREXEC_MSG_TRIGGER_SERVICE3, 100, true },
        };

        start(true);
        bystander = guest_up(6, 4, 4);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct fake_guest *g = fake_guest_listen(h.vchan_dir, 5);

                open_channel(5);
                ck_assert(fake_guest_wait_connected(g, 5000));
                if (!cases[i].before_hello) {
                        ck_assert_int_eq(fake_guest_handshake(g, 4), 4);
                        expect_up(qubesd, 5, 4);
                        expect_up(policyd, 5, 4);
                }
                le32_store(msg, cases[i].type);
                le32_store(msg + 4, cases[i].len);
                memset(msg + QREXEC_HEADER_SIZE, 'A', cases[i].len);
                ck_assert_int_eq(fake_guest_write(g, msg, QREXEC_HEADER_SIZE + cases[i].len, 2000), 0);

                ck_assert_msg(fake_guest_wait_closed(g, 3000), "channel not closed after %s", cases[i].what);
                expect_down(qubesd, 5, -EBADMSG);
                expect_down(policyd, 5, -EBADMSG);
                fake_guest_free(g);

                /* Everyone else carries on. */
                fake_guest_trigger(bystander, NULL, "work", "SOCKET1", "qubes.Filecopy");
                expect(policyd, BUS_MSG_QREXEC_TRIGGER, BUS_PEER_GUEST(6));
                ck_assert_uint_eq(m->u.qrexec_trigger.source_domid, 6);
                assert_ping(qubesd);
        }
        ck_assert(harness_log_contains(&h, "Closing the control channel of domain 5 (dom5): invalid message"));
        fake_guest_free(bystander);
        stop();
}
END_TEST

START_TEST(test_close_hangup_and_open_errors) {
        struct fake_guest *g;

        start(false);
        g = guest_up(5, 4, 4);

        /* qubesd closes it. */
        struct bus_msg_domain_channel_close close_req = { .domid = 5 };
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_CHANNEL_CLOSE, BUS_PEER_BUSD, 1, &close_req), 0);
        expect_down(qubesd, 5, 0);
        ck_assert(fake_guest_wait_closed(g, 3000));
        fake_guest_free(g);
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_DOMAIN_CHANNEL_CLOSE, BUS_PEER_BUSD, &close_req,
                                         2 * SEC, m), -ENOENT);

        /* The agent goes away. */
        g = guest_up(5, 4, 4);
        fake_guest_free(g);
        expect_down(qubesd, 5, -ECONNRESET);

        /* Requests busd refuses outright. */
        struct bus_msg_domain_channel_open req = { .domid = BUS_DOMID_MAX + 1, .vchan_backend = VCHAN_SOCKET };
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, &req, 2 * SEC, m),
                         -EINVAL);
        ck_assert_uint_eq(m->u.error.failed_type, BUS_MSG_DOMAIN_CHANNEL_OPEN);
        req.domid = 5;
        req.vchan_backend = 77;
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, &req, 2 * SEC, m),
                         -EINVAL);
        g = guest_up(5, 4, 4);
        req.vchan_backend = VCHAN_SOCKET;
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, &req, 2 * SEC, m),
                         -EEXIST);
        fake_guest_free(g);
        expect_down(qubesd, 5, -ECONNRESET);
        stop();
}
END_TEST

START_TEST(test_guest_flood_closes_channel) {
        struct fake_guest *g;
        uint8_t term[16];
        unsigned terminated = 0;
        int r = 0;

        start(false);
        g = guest_up(5, 4, 4);
        ck_assert_int_eq(qrexec_encode_connection_terminated(term, sizeof(term), 9, 513), 16);

        /* Far more than the burst of 3000, as fast as the ring takes them. */
        for (unsigned i = 0; i < 20000 && r == 0; i++)
                r = fake_guest_write(g, term, sizeof(term), 2000);
        ck_assert(fake_guest_wait_closed(g, 3000));

        /* qubesd saw at most the burst (and what refilled meanwhile), then DOWN. */
        for (;;) {
                ck_assert_int_eq(bus_client_receive(qubesd, 3 * SEC, m), 0);
                if (m->hdr.type != BUS_MSG_QREXEC_TERMINATED)
                        break;
                terminated++;
        }
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_DOMAIN_CHANNEL_DOWN);
        ck_assert_int_eq(m->u.domain_channel_down.reason, -EDQUOT);
        ck_assert_uint_ge(terminated, 3000);
        ck_assert_uint_lt(terminated, 4096);
        ck_assert(harness_log_contains(&h, "message rate over its limit"));
        assert_ping(qubesd);
        fake_guest_free(g);
        stop();
}
END_TEST

START_TEST(test_guest_that_never_reads_is_closed) {
        struct fake_guest *g;
        struct bus_msg_qrexec_service_refused refused = { .ident = "SOCKET1" };
        bool down = false;

        start(true);
        g = guest_up(5, 4, 4);
        /* The guest reads nothing while policyd keeps answering it. */
        for (uint32_t i = 1; i <= 200000 && !down; i++) {
                ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_QREXEC_SERVICE_REFUSED, BUS_PEER_GUEST(5), i,
                                                 &refused), 0);
                if (i % 500 == 0)
                        while (bus_client_receive(qubesd, 0, m) == 0)
                                if (m->hdr.type == BUS_MSG_DOMAIN_CHANNEL_DOWN)
                                        down = true;
        }
        ck_assert(down);
        ck_assert_uint_eq(m->u.domain_channel_down.domid, 5);
        ck_assert_int_eq(m->u.domain_channel_down.reason, -ENOBUFS);
        ck_assert(harness_log_contains(&h, "outbound queue full: the guest does not read"));
        assert_ping(qubesd);
        fake_guest_free(g);
        stop();
}
END_TEST

int main(void) {
        Suite *s;
        TCase *tc;

        if (!check_running_as_root("it takes the roles' uids"))
                return 77;
        s = suite_create("busd-guest");
        tc = tcase_create("guest");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_channel_up_with_negotiated_version);
        tcase_add_test(tc, test_trigger_to_policyd_and_answers_to_guest);
        tcase_add_test(tc, test_busd_refuses_bad_requests_itself);
        tcase_add_test(tc, test_garbage_closes_only_that_channel);
        tcase_add_test(tc, test_close_hangup_and_open_errors);
        tcase_add_test(tc, test_guest_flood_closes_channel);
        tcase_add_test(tc, test_guest_that_never_reads_is_closed);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
