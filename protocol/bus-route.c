/* SPDX-License-Identifier: GPL-2.0-or-later */
/* busd's route table: who may send each message type to whom, from the catalogue. */
#include "bus.h"

uint32_t bus_route_senders(uint16_t type) {
        switch (type) {
#define BUS_X_SENDERS(NAME, name, num, from, to) \
        case num:                                \
                return (from);
        BUS_MESSAGES(BUS_X_SENDERS)
#undef BUS_X_SENDERS
        default:
                return 0;
        }
}

uint32_t bus_route_receivers(uint16_t type) {
        switch (type) {
#define BUS_X_RECEIVERS(NAME, name, num, from, to) \
        case num:                                  \
                return (to);
        BUS_MESSAGES(BUS_X_RECEIVERS)
#undef BUS_X_RECEIVERS
        default:
                return 0;
        }
}

static bool bus_role_valid(enum bus_role role) {
        return role >= 0 && role < _BUS_ROLE_MAX;
}

bool bus_route_allowed(uint16_t type, enum bus_role from, enum bus_role to) {
        if (!bus_role_valid(from) || !bus_role_valid(to))
                return false;
        return (bus_route_senders(type) & (1u << from)) && (bus_route_receivers(type) & (1u << to));
}

enum bus_role bus_route_default_receiver(uint16_t type) {
        uint32_t receivers = bus_route_receivers(type);

        /* Zero or several receivers: the sender must name one. */
        if (receivers == 0 || (receivers & (receivers - 1)) != 0)
                return _BUS_ROLE_INVALID;
        return (enum bus_role) __builtin_ctz(receivers);
}
