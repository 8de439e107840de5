/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bus roles by name, and what a peer id says about who is behind it. */
#include <string.h>

#include "bus.h"
#include "util.h"

static const char *const bus_role_names[_BUS_ROLE_MAX] = {
        [BUS_ROLE_BUSD]        = "busd",
        [BUS_ROLE_QUBESD]      = "qubesd",
        [BUS_ROLE_POLICYD]     = "qrexec-policyd",
        [BUS_ROLE_GUID]        = "guid",
        [BUS_ROLE_NETVM_MGR]   = "netvm-mgr",
        [BUS_ROLE_USBVM_MGR]   = "usbvm-mgr",
        [BUS_ROLE_STUBDOM_MGR] = "stubdom-qemu-mgr",
        [BUS_ROLE_GUEST]       = "guest",
};

/* Roles are bits of a uint32_t mask everywhere. */
_Static_assert(_BUS_ROLE_MAX <= 32, "bus roles must fit a 32-bit mask");

/* The roles a local connection (not a guest channel) can have. */
#define BUS_PEER_DAEMON_ROLES (BUS_ROLE_BIT(BUSD) | BUS_ROLE_DAEMONS_MASK)

const char *bus_role_to_string(enum bus_role role) {
        if (role < 0 || role >= _BUS_ROLE_MAX)
                return NULL;
        return bus_role_names[role];
}

enum bus_role bus_role_from_string(const char *s) {
        if (!s)
                return _BUS_ROLE_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(bus_role_names); i++)
                if (strcmp(bus_role_names[i], s) == 0)
                        return (enum bus_role) i;
        return _BUS_ROLE_INVALID;
}

bool bus_peer_is_daemon(uint32_t peer) {
        if (peer < BUS_PEER_DAEMON_BASE || peer - BUS_PEER_DAEMON_BASE >= _BUS_ROLE_MAX)
                return false;
        return BUS_PEER_DAEMON_ROLES & (1u << (peer - BUS_PEER_DAEMON_BASE));
}

bool bus_peer_is_guest(uint32_t peer) {
        return peer >= BUS_PEER_GUEST_BASE && peer - BUS_PEER_GUEST_BASE <= BUS_DOMID_MAX;
}

enum bus_role bus_peer_role(uint32_t peer) {
        if (bus_peer_is_daemon(peer))
                return (enum bus_role) (peer - BUS_PEER_DAEMON_BASE);
        if (bus_peer_is_guest(peer))
                return BUS_ROLE_GUEST;
        return _BUS_ROLE_INVALID;
}

uint32_t bus_peer_domid(uint32_t peer) {
        /* Never a valid domid, so a caller that forgot to check cannot alias one. */
        if (!bus_peer_is_guest(peer))
                return UINT32_MAX;
        return peer - BUS_PEER_GUEST_BASE;
}
