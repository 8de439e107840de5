/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd's brokering of qrexec data streams: policyd's QREXEC_CONNECT becomes
 * MSG_EXEC_CMDLINE to the target and MSG_SERVICE_CONNECT to the source, and
 * the source's data socket (in its own vchan dir) becomes reachable from the
 * target's vchan dir, so the two ends talk directly.  Each fake domain has
 * its own vchan dir, as native domains do.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-helpers.h"
#include "busd-harness.h"
#include "fake-guest.h"
#include "util.h"
#include "vchan.h"

#define SEC BUS_CLIENT_USEC_PER_SEC

static struct busd_harness h;
static struct bus_client *qubesd, *policyd;
static struct bus_message *m;

static void start(void) {
        harness_start(&h, NULL);
        m = message_new();
        ck_assert_int_eq(harness_connect(&h, UID_QUBESD, &qubesd), 0);
        ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &policyd), 0);
}

static void stop(void) {
        bus_client_free(TAKE_PTR(qubesd));
        bus_client_free(TAKE_PTR(policyd));
        free(TAKE_PTR(m));
        harness_stop(&h);
}

static void domain_dir(uint32_t domid, char *buf, size_t size) {
        snprintf(buf, size, "%s/%u", h.vchan_dir, domid);
}

/* The next message c gets, skipping channel state changes. */
static void expect(struct bus_client *c, uint16_t type) {
        do
                ck_assert_int_eq(bus_client_receive(c, 5 * SEC, m), 0);
        while (m->hdr.type != type &&
               (m->hdr.type == BUS_MSG_DOMAIN_CHANNEL_UP || m->hdr.type == BUS_MSG_DOMAIN_CHANNEL_DOWN ||
                m->hdr.type == BUS_MSG_QREXEC_TERMINATED));
        ck_assert_msg(m->hdr.type == type, "expected %s, got %s", bus_type_to_string(type),
                      bus_type_to_string(m->hdr.type));
}

static struct fake_guest *guest_up(uint32_t domid) {
        struct bus_msg_domain_channel_open req = { .domid = domid, .vchan_backend = VCHAN_SOCKET };
        struct fake_guest *g;
        char dir[200];

        domain_dir(domid, dir, sizeof(dir));
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        g = fake_guest_listen(dir, domid);
        snprintf(req.name, sizeof(req.name), "dom%u", domid);
        snprintf(req.vchan_dir, sizeof(req.vchan_dir), "%s", dir);
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD,
                                         bus_client_new_request_id(qubesd), &req), 0);
        ck_assert(fake_guest_wait_connected(g, 5000));
        ck_assert_int_eq(fake_guest_handshake(g, 4), 4);
        expect(qubesd, BUS_MSG_DOMAIN_CHANNEL_UP);
        return g;
}

/* policyd asks busd to connect source -> target; returns CONNECTED's error and port. */
static int connect_call(uint32_t source, uint32_t target, const char *ident, uint32_t *ret_port) {
        struct bus_msg_qrexec_connect *req = calloc(1, sizeof(*req));
        int r;

        req->source_domid = source;
        req->target_domid = target;
        snprintf(req->ident, sizeof(req->ident), "%s", ident);
        snprintf(req->cmdline, sizeof(req->cmdline), "user:QUBESRPC test.Echo dom%u", source);
        r = bus_client_call(policyd, BUS_MSG_QREXEC_CONNECT, BUS_PEER_NONE, req, 5 * SEC, m);
        free(req);
        if (r < 0)
                return r;
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_QREXEC_CONNECTED);
        if (ret_port)
                *ret_port = m->u.qrexec_connected.port;
        return m->u.qrexec_connected.error;
}

static void guest_expect(struct fake_guest *g, uint32_t type, uint8_t *payload, size_t max) {
        struct qrexec_hdr hdr;

        ck_assert_int_eq(fake_guest_recv(g, 5000, &hdr, payload, max), 0);
        ck_assert_msg(hdr.type == type, "guest got 0x%x, not 0x%x", hdr.type, type);
}

static void terminated(struct fake_guest *g, uint32_t peer, uint32_t port) {
        uint8_t term[16];

        ck_assert_int_eq(qrexec_encode_connection_terminated(term, sizeof(term), peer, port), 16);
        ck_assert_int_eq(fake_guest_write(g, term, sizeof(term), 2000), 0);
}

static bool exists(uint32_t dir_domid, uint32_t server, uint32_t client, uint32_t port) {
        char dir[PATH_MAX], path[PATH_MAX + 64];

        domain_dir(dir_domid, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/vchan.%u.%u.%u.sock", dir, server, client, port);
        return access(path, F_OK) == 0;
}

static bool wait_gone(uint32_t dir_domid, uint32_t server, uint32_t client, uint32_t port) {
        for (int i = 0; i < 500; i++) {
                if (!exists(dir_domid, server, client, port))
                        return true;
                usleep(10000);
        }
        return false;
}

START_TEST(test_call_is_brokered_and_data_flows_directly) {
        struct fake_guest *g5, *g6;
        struct vchan *server = NULL, *client = NULL;
        uint8_t buf[256];
        char dir5[PATH_MAX], dir6[PATH_MAX];
        uint32_t port, port2;
        char got[16] = "";

        start();
        g5 = guest_up(5);
        g6 = guest_up(6);
        domain_dir(5, dir5, sizeof(dir5));
        domain_dir(6, dir6, sizeof(dir6));

        ck_assert_int_eq(connect_call(5, 6, "SOCKET7", &port), 0);
        ck_assert_uint_eq(port, 513);

        /* The target is told to run the command and whom to connect to ... */
        guest_expect(g6, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf));
        ck_assert_uint_eq(le32_load(buf), 5);
        ck_assert_uint_eq(le32_load(buf + 4), port);
        ck_assert_str_eq((char *) buf + 8, "user:QUBESRPC test.Echo dom5");
        /* ... the source that its call is allowed, on which port. */
        guest_expect(g5, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));
        ck_assert_uint_eq(le32_load(buf), 6);
        ck_assert_uint_eq(le32_load(buf + 4), port);
        ck_assert_str_eq((char *) buf + 8, "SOCKET7");

        /* The source's client is the vchan server in its own dir; the target's
         * service connects from its own dir and reaches it. */
        struct vchan_endpoint src_ep = { .backend = VCHAN_SOCKET, .local_domid = 5, .remote_domid = 6,
                                         .port = (int) port, .socket_dir = dir5 };
        struct vchan_endpoint dst_ep = { .backend = VCHAN_SOCKET, .local_domid = 6, .remote_domid = 5,
                                         .port = (int) port, .socket_dir = dir6 };
        ck_assert_int_eq(vchan_server_init(&src_ep, 4096, 4096, &server), 0);
        ck_assert_int_eq(vchan_client_init(&dst_ep, 10000, &client), 0);
        ck_assert_int_eq(vchan_send(client, "ping", 4), 4);
        ck_assert_int_eq(vchan_recv(server, got, 4), 4);
        ck_assert_str_eq(got, "ping");
        ck_assert_int_eq(vchan_send(server, "pong", 4), 4);
        ck_assert_int_eq(vchan_recv(client, got, 4), 4);
        ck_assert_str_eq(got, "pong");
        ck_assert(exists(6, 5, 6, port));

        /* A second call between the same two domains gets another port. */
        ck_assert_int_eq(connect_call(6, 5, "SOCKET8", &port2), 0);
        ck_assert_uint_eq(port2, 514);
        guest_expect(g5, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf));
        guest_expect(g6, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));

        /* The port is free again only when both ends reported the end. */
        vchan_close(client);
        vchan_close(server);
        terminated(g5, 6, port);
        ck_assert(exists(6, 5, 6, port));
        terminated(g6, 5, port);
        ck_assert(wait_gone(6, 5, 6, port));
        ck_assert(wait_gone(5, 5, 6, port));
        ck_assert_int_eq(connect_call(5, 6, "SOCKET9", &port), 0);
        ck_assert_uint_eq(port, 513);

        /* A loop to oneself and a domain without a channel are refused. */
        ck_assert_int_eq(connect_call(5, 5, "SOCKET1", NULL), -ELOOP);
        ck_assert_int_eq(connect_call(5, 44, "SOCKET1", NULL), -EHOSTUNREACH);

        fake_guest_free(g5);
        fake_guest_free(g6);
        stop();
}
END_TEST

/* The admin domain's agent is domain 0: calls to it get the odd ports
 * (qubesd's Run takes the even ones towards each domain). */
START_TEST(test_calls_to_the_admin_domain_take_odd_ports) {
        struct fake_guest *g0, *g5;
        uint8_t buf[256];
        uint32_t port;

        start();
        g0 = guest_up(0);
        g5 = guest_up(5);
        ck_assert_int_eq(connect_call(5, 0, "SOCKET7", &port), 0);
        ck_assert_uint_eq(port, 513);
        guest_expect(g0, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf));
        ck_assert_uint_eq(le32_load(buf), 5);
        guest_expect(g5, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));
        ck_assert_uint_eq(le32_load(buf), 0);
        ck_assert_int_eq(connect_call(5, 0, "SOCKET8", &port), 0);
        ck_assert_uint_eq(port, 515);
        fake_guest_free(g0);
        fake_guest_free(g5);
        stop();
}
END_TEST

START_TEST(test_only_a_socket_is_linked) {
        struct fake_guest *g5, *g6;
        char dir5[PATH_MAX], path[PATH_MAX + 64];
        uint8_t buf[256];
        uint32_t port;

        start();
        g5 = guest_up(5);
        g6 = guest_up(6);
        domain_dir(5, dir5, sizeof(dir5));

        ck_assert_int_eq(connect_call(5, 6, "SOCKET7", &port), 0);
        guest_expect(g6, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf));
        guest_expect(g5, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));

        /* A hostile source puts a symlink where its socket should be: once
         * busd has looked at it, the target's dir has no name for it. */
        snprintf(path, sizeof(path), "%s/vchan.5.6.%u.sock", dir5, port);
        ck_assert_int_eq(symlink("/run/vchan/vchan.0.6.512.sock", path), 0);
        ck_assert(harness_log_contains(&h, "non-socket"));
        ck_assert(!exists(6, 5, 6, port));
        /* busd carries on: the pair's next call is brokered. */
        ck_assert_int_eq(connect_call(5, 6, "SOCKET8", NULL), 0);

        fake_guest_free(g5);
        fake_guest_free(g6);
        stop();
}
END_TEST

START_TEST(test_calls_wait_for_a_free_port_and_end_with_the_channel) {
        struct fake_guest *g5, *g6;
        uint8_t buf[256];
        uint32_t port;
        char ident[32];

        start();
        g5 = guest_up(5);
        g6 = guest_up(6);

        /* 256 data ports per pair (513..768): all taken. */
        for (unsigned i = 0; i < 256; i++) {
                snprintf(ident, sizeof(ident), "SOCKET%u", i);
                ck_assert_int_eq(connect_call(5, 6, ident, &port), 0);
                ck_assert_uint_eq(port, 513 + i);
                guest_expect(g6, QREXEC_MSG_EXEC_CMDLINE, buf, sizeof(buf));
                guest_expect(g5, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));
        }

        /* The next call waits, answered once a port frees up. */
        struct bus_msg_qrexec_connect *req = calloc(1, sizeof(*req));
        req->source_domid = 5;
        req->target_domid = 6;
        strcpy(req->ident, "SOCKET999");
        strcpy(req->cmdline, "user:QUBESRPC test.Echo dom5");
        ck_assert_int_eq(bus_client_send(policyd, BUS_MSG_QREXEC_CONNECT, BUS_PEER_NONE, 4242, req), 0);
        free(req);
        ck_assert_int_eq(bus_client_receive(policyd, SEC / 2, m), -ETIMEDOUT);
        terminated(g5, 6, 600);
        terminated(g6, 5, 600);
        expect(policyd, BUS_MSG_QREXEC_CONNECTED);
        ck_assert_uint_eq(m->hdr.request_id, 4242);
        ck_assert_int_eq(m->u.qrexec_connected.error, 0);
        ck_assert_uint_eq(m->u.qrexec_connected.port, 600);
        guest_expect(g5, QREXEC_MSG_SERVICE_CONNECT, buf, sizeof(buf));
        ck_assert_str_eq((char *) buf + 8, "SOCKET999");

        /* A terminated report for a call that is not the reporter's changes nothing. */
        terminated(g5, 9, 513);

        /* The target's channel goes away: its calls are gone, the ports free. */
        struct bus_msg_domain_channel_close close_req = { .domid = 6 };
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_CHANNEL_CLOSE, BUS_PEER_BUSD, 77, &close_req), 0);
        fake_guest_free(g6);
        expect(qubesd, BUS_MSG_DOMAIN_CHANNEL_DOWN);
        ck_assert_int_eq(connect_call(5, 6, "SOCKET1", NULL), -EHOSTUNREACH);
        /* busd is fine. */
        assert_ping(policyd);

        fake_guest_free(g5);
        stop();
}
END_TEST

int main(void) {
        Suite *s;
        TCase *tc;

        if (!check_running_as_root("it takes the roles' uids"))
                return 77;
        s = suite_create("busd-broker");
        tc = tcase_create("broker");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_call_is_brokered_and_data_flows_directly);
        tcase_add_test(tc, test_calls_to_the_admin_domain_take_odd_ports);
        tcase_add_test(tc, test_only_a_socket_is_linked);
        tcase_add_test(tc, test_calls_wait_for_a_free_port_and_end_with_the_channel);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
