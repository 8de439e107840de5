/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/bus-client against a scripted busd: the test holds the other end of a
 * SOCK_SEQPACKET socketpair and writes exactly the datagrams it wants the
 * client to see.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-helpers.h"
#include "bus-client.h"
#include "bus-ring.h"
#include "util.h"

#define MSEC (BUS_CLIENT_USEC_PER_SEC / 1000)

static int busd_fd = -1;

static void put(uint16_t type, uint32_t peer, uint32_t request_id, const void *payload) {
        uint8_t buf[BUS_MSG_MAX];
        struct bus_hdr hdr = { .type = type, .peer = peer, .request_id = request_id };
        int n = bus_encode(&hdr, payload, buf, sizeof(buf));

        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(send(busd_fd, buf, (size_t) n, 0), n);
}

static void put_welcome(uint32_t version, uint32_t peer, uint8_t role, uint32_t from) {
        struct bus_msg_welcome w = { .version = version, .peer = peer, .role = role };

        put(BUS_MSG_WELCOME, from, 0, &w);
}

/* The other end of a fresh socketpair, for bus_client_new_from_fd(). */
static int client_end(void) {
        int pair[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), 0);
        busd_fd = pair[0];
        return pair[1];
}

static struct bus_client *connected_as(enum bus_role role) {
        struct bus_client *c = NULL;
        int fd = client_end();

        put_welcome(BUS_PROTOCOL_VERSION, BUS_PEER_ROLE(role), (uint8_t) role, BUS_PEER_BUSD);
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), 0);
        return c;
}

static void take(struct bus_message *m) {
        uint8_t buf[BUS_MSG_MAX];
        ssize_t n = recv(busd_fd, buf, sizeof(buf), MSG_DONTWAIT);

        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(bus_decode(buf, (size_t) n, m), 0);
}

static void teardown(void) {
        if (busd_fd >= 0)
                close(busd_fd);
        busd_fd = -1;
}

START_TEST(test_welcome_accepted) {
        _cleanup_bus_client_ struct bus_client *c = connected_as(BUS_ROLE_POLICYD);

        ck_assert_int_eq(bus_client_role(c), BUS_ROLE_POLICYD);
        ck_assert_uint_eq(bus_client_peer_id(c), BUS_PEER_ROLE(BUS_ROLE_POLICYD));
        ck_assert(bus_client_is_connected(c));
}
END_TEST

START_TEST(test_bad_welcome_refused) {
        struct bus_client *c = NULL;
        struct bus_msg_ping ping = {};
        int fd;

        fd = client_end();
        put(BUS_MSG_PING, BUS_PEER_BUSD, 0, &ping);             /* not WELCOME first */
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -EBADMSG);
        teardown();
        fd = client_end();
        put_welcome(2, 0x102, BUS_ROLE_POLICYD, BUS_PEER_BUSD); /* another protocol version */
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -EBADMSG);
        teardown();
        fd = client_end();
        put_welcome(1, 0x103, BUS_ROLE_POLICYD, BUS_PEER_BUSD); /* peer id not the role's */
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -EBADMSG);
        teardown();
        fd = client_end();
        put_welcome(1, BUS_PEER_ROLE(BUS_ROLE_GUEST), BUS_ROLE_GUEST, BUS_PEER_BUSD); /* not a daemon role */
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -EBADMSG);
        teardown();
        fd = client_end();
        put_welcome(1, 0x102, BUS_ROLE_POLICYD, 0x101);          /* not from busd */
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -EBADMSG);
        teardown();
        fd = client_end();
        close(busd_fd);                                          /* refused: busd hangs up */
        busd_fd = -1;
        ck_assert_int_eq(bus_client_new_from_fd(fd, 500 * MSEC, &c), -ECONNRESET);
        fd = client_end();
        ck_assert_int_eq(bus_client_new_from_fd(fd, 100 * MSEC, &c), -ETIMEDOUT);
        ck_assert_ptr_null(c);
}
END_TEST

static unsigned handled;
static int count_handler(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        handled++;
        return 0;
}

START_TEST(test_blocking_call_matches_request_id_and_source) {
        _cleanup_bus_client_ struct bus_client *c = connected_as(BUS_ROLE_QUBESD);
        _cleanup_free_ struct bus_message *m = calloc(1, sizeof(*m));
        struct bus_msg_echo_request req = { .data_len = 3, .data = "abc" };
        struct bus_msg_echo_reply rep = { .data_len = 3, .data = "xyz" };

        /* Ids start at 1.  Before the real answer: the same id from someone
         * else, and another id from the callee. */
        put(BUS_MSG_ECHO_REPLY, BUS_PEER_ROLE(BUS_ROLE_GUID), 1, &rep);
        put(BUS_MSG_ECHO_REPLY, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 99, &rep);
        put(BUS_MSG_ECHO_REPLY, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 1, &rep);
        bus_client_set_handler(c, count_handler, NULL);
        handled = 0;
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_POLICYD), &req,
                                         500 * MSEC, m), 0);
        ck_assert_uint_eq(m->hdr.request_id, 1);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_POLICYD));
        ck_assert_int_eq(memcmp(m->u.echo_reply.data, "xyz", 3), 0);
        ck_assert_uint_eq(handled, 2);

        /* What went to busd. */
        take(m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_POLICYD));
        ck_assert_uint_eq(m->hdr.request_id, 1);

        /* busd's ERROR answers the call; nonsense errors read as -EIO. */
        struct bus_msg_error e = { .error = -EHOSTUNREACH, .failed_type = BUS_MSG_ECHO_REQUEST };
        put(BUS_MSG_ERROR, BUS_PEER_BUSD, 2, &e);
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_GUID), &req,
                                         500 * MSEC, m), -EHOSTUNREACH);
        e.error = INT32_MIN;
        put(BUS_MSG_ERROR, BUS_PEER_BUSD, 3, &e);
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_GUID), &req,
                                         500 * MSEC, m), -EIO);
        e.error = 5;
        put(BUS_MSG_ERROR, BUS_PEER_BUSD, 4, &e);
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_GUID), &req,
                                         500 * MSEC, m), -EIO);
        /* PING has a default receiver: busd answers it. */
        struct bus_msg_pong pong = { .token = 42 };
        struct bus_msg_ping ping = { .token = 42 };
        put(BUS_MSG_PONG, BUS_PEER_BUSD, 5, &pong);
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_PING, BUS_PEER_NONE, &ping, 500 * MSEC, m), 0);
        ck_assert(m->u.pong.token == 42);
        /* Nobody answers. */
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 100 * MSEC, m), -ETIMEDOUT);
        ck_assert(bus_client_is_connected(c));
}
END_TEST

START_TEST(test_malformed_or_oversize_from_busd_closes) {
        _cleanup_free_ struct bus_message *m = calloc(1, sizeof(*m));
        _cleanup_free_ uint8_t *big = calloc(1, BUS_MSG_MAX + 1);
        struct bus_msg_ping ping = {};
        struct bus_client *c;

        c = connected_as(BUS_ROLE_QUBESD);
        ck_assert_int_eq(send(busd_fd, "\x03\x00\x00\x00\x09", 5, 0), 5);
        ck_assert_int_eq(bus_client_receive(c, 500 * MSEC, m), -EBADMSG);
        ck_assert(!bus_client_is_connected(c));
        ck_assert_int_eq(bus_client_call(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 100 * MSEC, m), -ENOTCONN);
        bus_client_free(c);
        teardown();

        c = connected_as(BUS_ROLE_QUBESD);
        ck_assert_int_eq(send(busd_fd, big, BUS_MSG_MAX + 1, 0), BUS_MSG_MAX + 1);
        ck_assert_int_eq(bus_client_receive(c, 500 * MSEC, m), -EMSGSIZE);
        ck_assert(!bus_client_is_connected(c));
        bus_client_free(c);
        teardown();

        /* A message with a source busd never stamps. */
        c = connected_as(BUS_ROLE_QUBESD);
        put(BUS_MSG_PONG, 0x7777, 0, &ping);
        ck_assert_int_eq(bus_client_receive(c, 500 * MSEC, m), -EBADMSG);
        bus_client_free(c);
}
END_TEST

struct event_state {
        int reply_error;
        unsigned replies;
        unsigned messages;
        int disconnect_error;
        bool disconnected;
};

static void on_reply(struct bus_client *c, int error, const struct bus_message *reply, void *userdata) {
        struct event_state *st = userdata;

        st->replies++;
        st->reply_error = error;
        if (error == 0)
                ck_assert_uint_eq(reply->hdr.type, BUS_MSG_PONG);
}

static int on_message(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        struct event_state *st = userdata;

        st->messages++;
        return 0;
}

static void on_disconnect(struct bus_client *c, int error, void *userdata) {
        struct event_state *st = userdata;

        st->disconnected = true;
        st->disconnect_error = error;
}

static void run_until(sd_event *e, const unsigned *counter, unsigned want) {
        uint64_t deadline = now_usec() + 2 * BUS_CLIENT_USEC_PER_SEC;

        while (*counter < want && now_usec() < deadline)
                ck_assert_int_ge(sd_event_run(e, 50 * MSEC), 0);
        ck_assert_uint_ge(*counter, want);
}

START_TEST(test_event_mode) {
        _cleanup_bus_client_ struct bus_client *c = connected_as(BUS_ROLE_POLICYD);
        _cleanup_free_ struct bus_message *m = calloc(1, sizeof(*m));
        struct event_state st = {};
        struct bus_msg_ping ping = { .token = 1 };
        struct bus_msg_pong pong = { .token = 1 };
        struct bus_msg_echo_request echo = { .data_len = 4, .data = "ping" };
        uint32_t id;
        sd_event *e = NULL;

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(bus_client_attach_event(c, e, on_message, on_disconnect, &st), 0);

        /* A reply reaches its callback, once. */
        ck_assert_int_eq(bus_client_call_async(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 0, on_reply, &st, &id), 0);
        put(BUS_MSG_PONG, BUS_PEER_BUSD, id, &pong);
        put(BUS_MSG_PONG, BUS_PEER_BUSD, id, &pong);            /* a duplicate is just a message */
        run_until(e, &st.messages, 1);
        ck_assert_uint_eq(st.replies, 1);
        ck_assert_int_eq(st.reply_error, 0);
        take(m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_PING);
        ck_assert_uint_eq(m->hdr.request_id, id);

        /* ECHO_REQUEST is answered by the library, to its sender, with its id. */
        put(BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_GUID), 77, &echo);
        while (recv(busd_fd, m, 1, MSG_PEEK | MSG_DONTWAIT) < 0)
                ck_assert_int_ge(sd_event_run(e, 50 * MSEC), 0);
        take(m);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REPLY);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_GUID));
        ck_assert_uint_eq(m->hdr.request_id, 77);
        ck_assert_int_eq(memcmp(m->u.echo_reply.data, "ping", 4), 0);
        ck_assert_uint_eq(st.messages, 1);

        /* No answer: the timeout. */
        ck_assert_int_eq(bus_client_call_async(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 50 * MSEC, on_reply, &st, NULL), 0);
        run_until(e, &st.replies, 2);
        ck_assert_int_eq(st.reply_error, -ETIMEDOUT);

        /* busd goes away: the pending call fails, then the disconnect callback. */
        ck_assert_int_eq(bus_client_call_async(c, BUS_MSG_PING, BUS_PEER_BUSD, &ping, 0, on_reply, &st, NULL), 0);
        teardown();
        run_until(e, &st.replies, 3);
        ck_assert_int_eq(st.reply_error, -ECONNRESET);
        ck_assert(st.disconnected);
        ck_assert_int_eq(st.disconnect_error, -ECONNRESET);
        ck_assert(!bus_client_is_connected(c));
        bus_client_free(TAKE_PTR(c));
        sd_event_unref(e);
}
END_TEST


/* busd hangs up while the client waits for room in its full ring, with
 * nothing of the client's left unread (a hang-up, not a reset): the send
 * fails at once; the readable socket must not turn the wait into a spin. */
START_TEST(test_full_ring_then_hangup_fails_the_send) {
        struct bus_client *c = NULL;
        struct bus_msg_welcome w = { .version = BUS_PROTOCOL_VERSION, .peer = BUS_PEER_ROLE(BUS_ROLE_POLICYD),
                                     .role = BUS_ROLE_POLICYD, .fds = BUS_WELCOME_FD_RINGS };
        struct bus_hdr hdr = { .type = BUS_MSG_WELCOME, .peer = BUS_PEER_BUSD };
        uint8_t buf[BUS_MSG_MAX];
        int fd = client_end(), rings = bus_rings_create();

        ck_assert_int_ge(rings, 0);
        int n = bus_encode(&hdr, &w, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(send_with_fds(busd_fd, buf, (size_t) n, 0, &rings, 1), n);
        close(rings);
        ck_assert_int_eq(bus_client_new_from_fd(fd, 2000 * MSEC, &c), 0);

        pid_t busd = fork();
        ck_assert_int_ge(busd, 0);
        if (busd == 0) {
                /* long after the ring is full: take every kick, then go */
                usleep(300 * 1000);
                while (recv(busd_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
                        ;
                _exit(0);
        }
        close(busd_fd);
        busd_fd = -1;

        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        req->data_len = 2048;
        uint64_t start = now_usec();
        int r = 0;
        for (uint32_t seq = 0; seq < 1000 && r == 0; seq++)    /* the ring holds ~120 */
                r = bus_client_send(c, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), seq, req);
        ck_assert_int_eq(r, -ECONNRESET);
        ck_assert_uint_lt(now_usec() - start, 1500 * MSEC);
        ck_assert_int_eq(waitpid(busd, NULL, 0), busd);
        bus_client_free(c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("bus-client");
        TCase *tc = tcase_create("client");

        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, test_welcome_accepted);
        tcase_add_test(tc, test_bad_welcome_refused);
        tcase_add_test(tc, test_blocking_call_matches_request_id_and_source);
        tcase_add_test(tc, test_malformed_or_oversize_from_busd_closes);
        tcase_add_test(tc, test_event_mode);
        tcase_add_test(tc, test_full_ring_then_hangup_fails_the_send);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
