/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Qubes qrexec wire protocol (versions 2-4), byte for byte as Qubes
 * speaks it (shared/reference/qrexec.md §2): an 8-byte header {u32 type,
 * u32 len} in host (little-endian) order and `len` payload bytes.
 *
 * Encoders write header + payload into a caller buffer.  Decoders are
 * strict: a payload whose length is wrong for its type and version, a string
 * that is not NUL-terminated where the protocol requires it, or a type that
 * may not travel on that stream in that direction is -EBADMSG, and the
 * caller drops the peer.  Peer strings come out either checked (ident) or
 * sanitised exactly as Qubes' daemon does (domain and service names).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QREXEC_HEADER_SIZE              8
#define QREXEC_PROTOCOL_VERSION         4       /* what we speak */
#define QREXEC_PROTOCOL_MIN             2       /* oldest agent accepted */
#define QREXEC_CLIENT_PROTOCOL_VERSION  3

enum qrexec_msg_type {
        QREXEC_MSG_DATA_STDIN            = 0x190,
        QREXEC_MSG_DATA_STDOUT           = 0x191,
        QREXEC_MSG_DATA_STDERR           = 0x192,
        QREXEC_MSG_DATA_EXIT_CODE        = 0x193,
        QREXEC_MSG_EXEC_CMDLINE          = 0x200,
        QREXEC_MSG_JUST_EXEC             = 0x201,
        QREXEC_MSG_SERVICE_CONNECT       = 0x202,
        QREXEC_MSG_SERVICE_REFUSED       = 0x203,
        QREXEC_MSG_TRIGGER_SERVICE       = 0x210,
        QREXEC_MSG_CONNECTION_TERMINATED = 0x211,
        QREXEC_MSG_TRIGGER_SERVICE3      = 0x212,
        QREXEC_MSG_TRIGGER_SERVICE4      = 0x213,
        QREXEC_MSG_HELLO                 = 0x300,
};

#define QREXEC_IDENT_SIZE               32      /* service_params.ident */
#define QREXEC_DOMAIN_SIZE_V2           32      /* trigger_service_params.target_domain */
#define QREXEC_DOMAIN_SIZE              64      /* params3/4 target and source */
#define QREXEC_SERVICE_NAME_SIZE_V2     64
#define QREXEC_MAX_SERVICE_NAME_LEN     65000   /* including the NUL */
#define QREXEC_MAX_CMD_LEN              65535
#define QREXEC_MAX_DATA_CHUNK_V2        4096
#define QREXEC_MAX_DATA_CHUNK_V3        65536
#define QREXEC_VCHAN_BASE_PORT          512
#define QREXEC_DATA_PORT_FIRST          513     /* data ports: 513..768, per pair of domains */
#define QREXEC_DATA_PORT_LAST           768
/* With the admin domain (0) as one end, two allocators share a pair's
 * ports: qubesd's Run (admin -> domain) takes the even ones, busd's broker
 * (a domain calling a service of the admin domain) the odd ones, so that
 * an agent's (peer, port) always names one connection. */
#define QREXEC_ADMIN_RUN_PORT_FIRST     514
#define QREXEC_ADMIN_CALL_PORT_FIRST    513
#define QREXEC_MAX_FDS                  256
#define QREXEC_EXIT_PROBLEM             125
#define QREXEC_EXIT_REQUEST_REFUSED     126
#define QREXEC_EXIT_SERVICE_NOT_FOUND   127

struct qrexec_hdr {
        uint32_t type;
        uint32_t len;
};

/*
 * Which stream a message arrived on, seen from the receiver.  The check
 * refuses types that may not travel that way.
 *   FROM_AGENT   control channel, admin side reading what a domain's agent sent
 *   FROM_DAEMON  control channel, agent side reading what the admin side sent
 *   DATA         a data channel (either side)
 */
enum qrexec_stream {
        QREXEC_STREAM_FROM_AGENT,
        QREXEC_STREAM_FROM_DAEMON,
        QREXEC_STREAM_DATA,
};

const char *qrexec_msg_type_to_string(uint32_t type);   /* "MSG_HELLO", NULL if unknown */

/* Header of at least 8 bytes at buf. */
void qrexec_decode_header(const uint8_t buf[QREXEC_HEADER_SIZE], struct qrexec_hdr *hdr);

/*
 * Is this header acceptable on `stream` once `version` is negotiated (0 =
 * before HELLO, when only HELLO is; a second HELLO afterwards is refused, as
 * Qubes' peers do)?  Checks the type and the length bounds of that type
 * (exact sizes, minimums, the data chunk limit of the version,
 * MAX_SERVICE_NAME_LEN, MAX_QREXEC_CMD_LEN).  0 or -EBADMSG.
 */
int qrexec_check_header(const struct qrexec_hdr *hdr, enum qrexec_stream stream, uint32_t version);

/* Negotiated version: min(ours, theirs); -EPROTONOSUPPORT if below QREXEC_PROTOCOL_MIN. */
int qrexec_negotiate(uint32_t ours, uint32_t theirs);

/* --- decoders: payload (after the header) of hdr->len bytes --- */

int qrexec_decode_hello(const uint8_t *payload, size_t len, uint32_t *version);

/* TRIGGER_SERVICE (v2), TRIGGER_SERVICE3 and TRIGGER_SERVICE4, agent -> admin side. */
struct qrexec_trigger {
        uint32_t type;                          /* which of the three it was */
        char source_domain[QREXEC_DOMAIN_SIZE]; /* v4 only, else ""; sanitised */
        char target_domain[QREXEC_DOMAIN_SIZE]; /* sanitised: [A-Za-z0-9_.-@:], others -> '_' */
        char ident[QREXEC_IDENT_SIZE];          /* as received (NUL-forced), echo it when refusing */
        char service[QREXEC_MAX_SERVICE_NAME_LEN]; /* sanitised: [A-Za-z0-9_.-+], others -> '_' */
        bool refuse;            /* well-formed but must be answered with SERVICE_REFUSED:
                                 * bad ident bytes, empty ident, empty service, leading '+',
                                 * service name not NUL-terminated exactly at its end
                                 * (Qubes refuses that too; service is then "") */
};
/* 0 (check ->refuse), or -EBADMSG: wrong length, a trigger type not allowed
 * at `version`.  `out` is large: heap. */
int qrexec_decode_trigger(const struct qrexec_hdr *hdr, const uint8_t *payload, uint32_t version,
                          struct qrexec_trigger *out);

/* EXEC_CMDLINE, JUST_EXEC (exec_params + NUL-terminated cmdline) and
 * SERVICE_CONNECT (exec_params + ident[32]), admin side -> agent.  The port
 * must be a data port (513..768); the command one non-empty string filling
 * the payload exactly; the ident NUL-terminated. */
struct qrexec_exec {
        uint32_t type;
        uint32_t connect_domain;
        uint32_t connect_port;
        const char *cmdline;    /* points into the payload; EXEC/JUST_EXEC only */
        char ident[QREXEC_IDENT_SIZE]; /* SERVICE_CONNECT only */
};
int qrexec_decode_exec(const struct qrexec_hdr *hdr, const uint8_t *payload, struct qrexec_exec *out);

/* SERVICE_REFUSED: ident[32]; must be NUL-terminated. */
int qrexec_decode_service_refused(const uint8_t *payload, size_t len, char ident[QREXEC_IDENT_SIZE]);

/* CONNECTION_TERMINATED: exec_params with an empty command (8 bytes); the
 * port must be a data port (513..768), as qrexec-daemon insists. */
int qrexec_decode_connection_terminated(const uint8_t *payload, size_t len,
                                        uint32_t *connect_domain, uint32_t *connect_port);

/* DATA_EXIT_CODE: shorter than 4 bytes reads as 255, as Qubes does. */
int qrexec_decode_exit_code(const uint8_t *payload, size_t len, int32_t *code);

/* Is `ident` (NUL-terminated within 32 bytes, NUL-padded) acceptable? */
bool qrexec_ident_valid(const char ident[QREXEC_IDENT_SIZE]);

/* --- encoders: header + payload into buf; return total bytes, -ENOBUFS, -EINVAL --- */
int qrexec_encode_hello(uint8_t *buf, size_t size, uint32_t version);
int qrexec_encode_exec(uint8_t *buf, size_t size, uint32_t type /* EXEC_CMDLINE or JUST_EXEC */,
                       uint32_t connect_domain, uint32_t connect_port, const char *cmdline);
int qrexec_encode_service_connect(uint8_t *buf, size_t size, uint32_t connect_domain,
                                  uint32_t connect_port, const char *ident);
int qrexec_encode_service_refused(uint8_t *buf, size_t size, const char *ident);
int qrexec_encode_trigger3(uint8_t *buf, size_t size, const char *target, const char *ident,
                           const char *service);
int qrexec_encode_trigger4(uint8_t *buf, size_t size, const char *source, const char *target,
                           const char *ident, const char *service);
int qrexec_encode_connection_terminated(uint8_t *buf, size_t size, uint32_t connect_domain,
                                        uint32_t connect_port);
int qrexec_encode_data(uint8_t *buf, size_t size, uint32_t type, const void *data, size_t n);
int qrexec_encode_exit_code(uint8_t *buf, size_t size, int32_t code);
