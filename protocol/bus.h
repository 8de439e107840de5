/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Odyssey's internal bus: roles, peer ids, the message header, and the codec
 * and route table made from bus-catalogue.h.
 *
 * Wire format of one message (one SOCK_SEQPACKET datagram between a daemon
 * and busd), all integers little endian:
 *   u16 type | u16 flags (must be 0) | u32 len (payload bytes) |
 *   u32 request_id | u32 peer | payload[len]
 * `peer` is the destination when a daemon sends to busd (BUS_PEER_NONE: the
 * single receiver the route table allows), and the source when busd delivers
 * (stamped by busd from the connection it came in on; what the sender wrote
 * there is never passed on).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus-catalogue.h"

#define BUS_PROTOCOL_VERSION 1

/* What WELCOME brings as fds (SCM_RIGHTS), in this order. */
#define BUS_WELCOME_FD_SPIN_SLOTS 0x01u   /* the page of spin slots the daemons share (spin-slots.h) */
#define BUS_WELCOME_FD_RINGS      0x02u   /* this connection's rings: every later message goes there (bus-ring.h) */

enum bus_role {
        BUS_ROLE_BUSD,
        BUS_ROLE_QUBESD,
        BUS_ROLE_POLICYD,
        BUS_ROLE_GUID,
        BUS_ROLE_NETVM_MGR,
        BUS_ROLE_USBVM_MGR,
        BUS_ROLE_STUBDOM_MGR,
        BUS_ROLE_GUEST,         /* a guest domain's control channel */
        _BUS_ROLE_MAX,
        _BUS_ROLE_INVALID = -1,
};

#define BUS_ROLE_BIT(r) (1u << BUS_ROLE_##r)
#define BUS_ROLE_DAEMONS_MASK                                                   \
        (BUS_ROLE_BIT(QUBESD) | BUS_ROLE_BIT(POLICYD) | BUS_ROLE_BIT(GUID) |   \
         BUS_ROLE_BIT(NETVM_MGR) | BUS_ROLE_BIT(USBVM_MGR) | BUS_ROLE_BIT(STUBDOM_MGR))

const char *bus_role_to_string(enum bus_role role);        /* "qubesd", ... */
enum bus_role bus_role_from_string(const char *s);          /* _BUS_ROLE_INVALID if unknown */

/* Peer ids: who a message comes from or goes to. */
#define BUS_PEER_NONE           UINT32_C(0)
#define BUS_PEER_DAEMON_BASE    UINT32_C(0x100)
#define BUS_PEER_GUEST_BASE     UINT32_C(0x10000)
#define BUS_DOMID_MAX           UINT32_C(0xfffe)
#define BUS_PEER_ROLE(role)     (BUS_PEER_DAEMON_BASE + (uint32_t) (role))
#define BUS_PEER_BUSD           BUS_PEER_ROLE(BUS_ROLE_BUSD)
#define BUS_PEER_GUEST(domid)   (BUS_PEER_GUEST_BASE + (uint32_t) (domid))

bool bus_peer_is_daemon(uint32_t peer);     /* busd or one of the daemon roles */
bool bus_peer_is_guest(uint32_t peer);      /* a valid guest domid */
enum bus_role bus_peer_role(uint32_t peer); /* _BUS_ROLE_INVALID for NONE/garbage */
uint32_t bus_peer_domid(uint32_t peer);     /* only when bus_peer_is_guest() */

/* DOMAIN_INFO.power_state */
enum bus_power_state {
        BUS_POWER_HALTED = 0,
        BUS_POWER_RUNNING = 1,  /* running and its control channel is up */
        BUS_POWER_PAUSED = 2,
        BUS_POWER_TRANSIENT = 3, /* starting or stopping */
};

#define BUS_HEADER_SIZE 16
#define BUS_MSG_MAX     (128u * 1024u)     /* header + largest payload, whole datagram */

struct bus_hdr {
        uint16_t type;
        uint16_t flags;
        uint32_t len;
        uint32_t request_id;
        uint32_t peer;
};

/* enum bus_type: BUS_MSG_<NAME> = number */
enum bus_type {
#define BUS_X_ENUM(NAME, name, num, from, to) BUS_MSG_##NAME = num,
        BUS_MESSAGES(BUS_X_ENUM)
#undef BUS_X_ENUM
};

/* struct bus_msg_<name>: the decoded payload of each type. */
#define BUS_F_MEMBER_U8(n, max)   uint8_t n;
#define BUS_F_MEMBER_U16(n, max)  uint16_t n;
#define BUS_F_MEMBER_U32(n, max)  uint32_t n;
#define BUS_F_MEMBER_I32(n, max)  int32_t n;
#define BUS_F_MEMBER_U64(n, max)  uint64_t n;
#define BUS_F_MEMBER_STR(n, max)  char n[(max) + 1];
#define BUS_F_MEMBER_BLOB(n, max) size_t n##_len; uint8_t n[max];
#define BUS_F_MEMBER(kind, n, max) BUS_F_MEMBER_##kind(n, max)
#define BUS_X_STRUCT(NAME, name, num, from, to) \
        struct bus_msg_##name { BUS_FIELDS_##NAME(BUS_F_MEMBER) };
BUS_MESSAGES(BUS_X_STRUCT)
#undef BUS_X_STRUCT

union bus_payload {
#define BUS_X_UNION(NAME, name, num, from, to) struct bus_msg_##name name;
        BUS_MESSAGES(BUS_X_UNION)
#undef BUS_X_UNION
};

/* A whole decoded message.  Large (the biggest payload is ~64 KiB): allocate it. */
struct bus_message {
        struct bus_hdr hdr;
        union bus_payload u;
};

/* Catalogue queries. */
bool bus_type_known(uint16_t type);
const char *bus_type_to_string(uint16_t type);             /* "PING", NULL if unknown */
size_t bus_payload_max(uint16_t type);                      /* largest encoded payload, 0 if unknown */

/*
 * Encode `payload` (the struct bus_msg_* of hdr->type) after the header into
 * buf.  hdr->len is ignored and computed.  Returns the datagram size, or
 * -ENOMSG unknown type, -EINVAL a string too long or holding a NUL, a blob
 * too long, or flags != 0; -ENOBUFS buf too small.
 */
int bus_encode(const struct bus_hdr *hdr, const void *payload, uint8_t *buf, size_t size);

/*
 * Strictly decode one datagram.  Checks: at least a header, flags == 0,
 * len == size - BUS_HEADER_SIZE, a known type, every field present, every
 * string within its bound with no NUL, every blob within its bound, and no
 * byte left over.  Returns 0, -ENOMSG (unknown type; hdr is filled),
 * -EBADMSG (anything else malformed).  `msg` is fully written on success.
 */
int bus_decode(const uint8_t *buf, size_t size, struct bus_message *msg);

/* Header only (for routing before a full decode): -EBADMSG unless size >= 16,
 * flags == 0 and len == size - 16. */
int bus_decode_header(const uint8_t *buf, size_t size, struct bus_hdr *hdr);

/* Route table, from the catalogue. */
uint32_t bus_route_senders(uint16_t type);      /* role mask, 0 if unknown */
uint32_t bus_route_receivers(uint16_t type);    /* role mask, 0 if unknown */
bool bus_route_allowed(uint16_t type, enum bus_role from, enum bus_role to);
/* The single receiving role for BUS_PEER_NONE, or _BUS_ROLE_INVALID when
 * the type has none or several. */
enum bus_role bus_route_default_receiver(uint16_t type);
