/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bus roles, peer ids and busd's route table. */
#include <check.h>
#include <stdlib.h>

#include "check-helpers.h"
#include "bus.h"
#include "util.h"

static const uint16_t catalogue_types[] = {
#define TEST_X_NUM(NAME, lower, num, from, to) num,
        BUS_MESSAGES(TEST_X_NUM)
#undef TEST_X_NUM
};

#define ALL_ROLES ((1u << _BUS_ROLE_MAX) - 1)

START_TEST(test_role_names) {
        static const struct {
                enum bus_role role;
                const char *name;
        } names[] = {
                { BUS_ROLE_BUSD, "busd" },
                { BUS_ROLE_QUBESD, "qubesd" },
                { BUS_ROLE_POLICYD, "qrexec-policyd" },
                { BUS_ROLE_GUID, "guid" },
                { BUS_ROLE_NETVM_MGR, "netvm-mgr" },
                { BUS_ROLE_USBVM_MGR, "usbvm-mgr" },
                { BUS_ROLE_STUBDOM_MGR, "stubdom-qemu-mgr" },
                { BUS_ROLE_GUEST, "guest" },
        };

        ck_assert_uint_eq(ELEMENTSOF(names), _BUS_ROLE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                ck_assert_str_eq(bus_role_to_string(names[i].role), names[i].name);
                ck_assert_int_eq(bus_role_from_string(names[i].name), names[i].role);
        }

        ck_assert_ptr_null(bus_role_to_string(_BUS_ROLE_INVALID));
        ck_assert_ptr_null(bus_role_to_string(_BUS_ROLE_MAX));
        ck_assert_ptr_null(bus_role_to_string((enum bus_role) 1000));

        const char *bad[] = { "", "QUBESD", "qubesd ", " qubesd", "policyd", "qubes", "busdd", "guests" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_int_eq(bus_role_from_string(bad[i]), _BUS_ROLE_INVALID);
        ck_assert_int_eq(bus_role_from_string(NULL), _BUS_ROLE_INVALID);
}
END_TEST

START_TEST(test_peer_ids) {
        /* busd and every daemon role */
        ck_assert(bus_peer_is_daemon(BUS_PEER_BUSD));
        ck_assert_int_eq(bus_peer_role(BUS_PEER_BUSD), BUS_ROLE_BUSD);
        for (enum bus_role r = 0; r < _BUS_ROLE_MAX; r++) {
                if (!(BUS_ROLE_DAEMONS_MASK & (1u << r)))
                        continue;
                ck_assert(bus_peer_is_daemon(BUS_PEER_ROLE(r)));
                ck_assert(!bus_peer_is_guest(BUS_PEER_ROLE(r)));
                ck_assert_int_eq(bus_peer_role(BUS_PEER_ROLE(r)), r);
                ck_assert_uint_eq(bus_peer_domid(BUS_PEER_ROLE(r)), UINT32_MAX);
        }

        /* guests: any domid up to BUS_DOMID_MAX, and only through the guest range */
        const uint32_t domids[] = { 0, 1, 7, 0x7fef, BUS_DOMID_MAX };
        for (size_t i = 0; i < ELEMENTSOF(domids); i++) {
                uint32_t peer = BUS_PEER_GUEST(domids[i]);
                ck_assert(bus_peer_is_guest(peer));
                ck_assert(!bus_peer_is_daemon(peer));
                ck_assert_int_eq(bus_peer_role(peer), BUS_ROLE_GUEST);
                ck_assert_uint_eq(bus_peer_domid(peer), domids[i]);
        }

        /* nobody */
        const uint32_t garbage[] = {
                BUS_PEER_NONE, 1, 0xff,
                BUS_PEER_ROLE(BUS_ROLE_GUEST),  /* a guest is never a local connection */
                BUS_PEER_ROLE(_BUS_ROLE_MAX), BUS_PEER_DAEMON_BASE + 0xff, BUS_PEER_GUEST_BASE - 1,
                BUS_PEER_GUEST(BUS_DOMID_MAX + 1), BUS_PEER_GUEST(0x10000), UINT32_MAX,
        };
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                ck_assert(!bus_peer_is_daemon(garbage[i]));
                ck_assert(!bus_peer_is_guest(garbage[i]));
                ck_assert_int_eq(bus_peer_role(garbage[i]), _BUS_ROLE_INVALID);
                ck_assert_uint_eq(bus_peer_domid(garbage[i]), UINT32_MAX);
        }
}
END_TEST

/* Exactly the (from, to) pairs given by the two masks are allowed. */
static void assert_routes(uint16_t type, uint32_t senders, uint32_t receivers) {
        ck_assert_uint_eq(bus_route_senders(type), senders);
        ck_assert_uint_eq(bus_route_receivers(type), receivers);
        for (enum bus_role from = 0; from < _BUS_ROLE_MAX; from++)
                for (enum bus_role to = 0; to < _BUS_ROLE_MAX; to++)
                        ck_assert_msg(bus_route_allowed(type, from, to) ==
                                      ((senders & (1u << from)) && (receivers & (1u << to))),
                                      "type 0x%04x from %s to %s", type,
                                      bus_role_to_string(from), bus_role_to_string(to));
}

START_TEST(test_routes) {
        /* Only a guest's channel may ask policyd for a service call. */
        assert_routes(BUS_MSG_QREXEC_TRIGGER, BUS_ROLE_BIT(GUEST), BUS_ROLE_BIT(POLICYD));
        /* Only busd welcomes, and only daemons. */
        assert_routes(BUS_MSG_WELCOME, BUS_ROLE_BIT(BUSD), BUS_ROLE_DAEMONS_MASK);
        ck_assert(!bus_route_allowed(BUS_MSG_WELCOME, BUS_ROLE_QUBESD, BUS_ROLE_GUID));
        ck_assert(!bus_route_allowed(BUS_MSG_WELCOME, BUS_ROLE_BUSD, BUS_ROLE_GUEST));
        assert_routes(BUS_MSG_PING, BUS_ROLE_DAEMONS_MASK, BUS_ROLE_BIT(BUSD));
        assert_routes(BUS_MSG_QREXEC_EXEC, BUS_ROLE_BIT(POLICYD) | BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(GUEST));
        assert_routes(BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(BUSD));
        assert_routes(BUS_MSG_ECHO_REQUEST, BUS_ROLE_DAEMONS_MASK, BUS_ROLE_DAEMONS_MASK);

        /* Bad roles and unknown types go nowhere. */
        ck_assert(!bus_route_allowed(BUS_MSG_PING, _BUS_ROLE_INVALID, BUS_ROLE_BUSD));
        ck_assert(!bus_route_allowed(BUS_MSG_PING, BUS_ROLE_QUBESD, _BUS_ROLE_INVALID));
        ck_assert(!bus_route_allowed(BUS_MSG_PING, _BUS_ROLE_MAX, BUS_ROLE_BUSD));
        ck_assert(!bus_route_allowed(BUS_MSG_PING, BUS_ROLE_QUBESD, _BUS_ROLE_MAX));
        assert_routes(0x0000, 0, 0);
        assert_routes(0x7777, 0, 0);
        assert_routes(0xffff, 0, 0);
}
END_TEST

START_TEST(test_default_receivers) {
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_PING), BUS_ROLE_BUSD);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_DOMAIN_CHANNEL_OPEN), BUS_ROLE_BUSD);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_QREXEC_TRIGGER), BUS_ROLE_POLICYD);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_QREXEC_EXEC), BUS_ROLE_GUEST);
        /* Several receivers: the sender has to name one. */
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_ECHO_REQUEST), _BUS_ROLE_INVALID);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_WELCOME), _BUS_ROLE_INVALID);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_DOMAIN_CHANNEL_UP), _BUS_ROLE_INVALID);
        ck_assert_int_eq(bus_route_default_receiver(BUS_MSG_QREXEC_TERMINATED), _BUS_ROLE_INVALID);
        ck_assert_int_eq(bus_route_default_receiver(0x7777), _BUS_ROLE_INVALID);
}
END_TEST

/* What must hold for any catalogue, whatever is added to it later. */
START_TEST(test_catalogue_invariants) {
        const uint16_t type = catalogue_types[_i];
        uint32_t senders = bus_route_senders(type), receivers = bus_route_receivers(type);

        ck_assert_msg(senders != 0 && receivers != 0, "0x%04x has no route", type);
        ck_assert_uint_eq(senders & ~ALL_ROLES, 0);
        ck_assert_uint_eq(receivers & ~ALL_ROLES, 0);
        /* Guests never talk to guests through busd. */
        ck_assert(!(senders & BUS_ROLE_BIT(GUEST)) || !(receivers & BUS_ROLE_BIT(GUEST)));
        /* A default receiver, when there is one, is a receiver. */
        enum bus_role def = bus_route_default_receiver(type);
        if (def != _BUS_ROLE_INVALID)
                ck_assert_uint_eq(receivers, 1u << def);
        else
                ck_assert_uint_gt(__builtin_popcount(receivers), 1);
}
END_TEST

static Suite *bus_route_suite(void) {
        Suite *s = suite_create("bus-route");
        TCase *tc = tcase_create("route");

        tcase_add_test(tc, test_role_names);
        tcase_add_test(tc, test_peer_ids);
        tcase_add_test(tc, test_routes);
        tcase_add_test(tc, test_default_receivers);
        tcase_add_loop_test(tc, test_catalogue_invariants, 0, (int) ELEMENTSOF(catalogue_types));
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(bus_route_suite());
}
