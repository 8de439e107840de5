/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wire format of odyssey-vchan-mux (docs/man/odyssey-vchan-mux.8): the
 * data vchans of a QEMU guest, multiplexed over one virtio-serial port.
 *
 * A frame is an 8-byte little-endian header
 *     u8 type | u8 flags (0) | u16 stream | u32 length
 * and `length` payload bytes.  Per type (anything else is a violation):
 *   HELLO     stream 0, payload u32 version (2) | u32 session; first frame
 *             of each side (see Sessions)
 *   LISTEN    stream 0, payload a socket name: "announce my real server"
 *   UNLISTEN  stream 0, payload a socket name: "it is gone"
 *   OPEN      stream s, payload a socket name: "connect s to your real one"
 *   DATA      stream s, 1..VMUX_DATA_MAX bytes, within the granted credit
 *   CREDIT    stream s, payload u32 1..VMUX_WINDOW: "I drained that much"
 *   EOF       stream s, empty: no more DATA from me on s
 *   CLOSE     stream s, empty
 * A socket name is exactly "vchan.<dom>.<dom>.<port>.sock", decimal without
 * leading zeros, domids 0..32767, port 1..65535.
 *
 * Streams: the opener picks the id, host even (>= 2), guest odd, so ids
 * never collide.  Each side may send DATA on a stream up to its credit,
 * VMUX_WINDOW at OPEN, raised by CREDIT.  CLOSE is a handshake: a side that
 * sends CLOSE first keeps the id until the peer's CLOSE arrives, ignoring
 * DATA/CREDIT/EOF meanwhile (sent before the peer saw ours); a side that
 * receives CLOSE first answers CLOSE and forgets the id.  So an id is free
 * again on both sides only after both CLOSEs, and its opener may reuse it
 * from then on.  A frame for an id that is neither open nor closing is a
 * violation.
 *
 * Sessions: the guest's mux may start again (crash, restart) under a host
 * mux that stays, and bytes of the old session may still be on their way
 * to it (a frame cut anywhere).  So the guest starts each session with
 * HELLO(session s), s a fresh non-zero random number, and skips every byte
 * until the host's HELLO(s) echo; only then does it parse frames.  The
 * host says HELLO(0) when it connects ("say HELLO") and answers each guest
 * HELLO(s) with HELLO(s): a HELLO after the first ends the old session on
 * the host (its streams closed without CLOSE, its mirrors removed, our
 * servers announced again).  The guest takes a HELLO(0) in a session as a
 * new host and starts a new session; any other HELLO it gets is a
 * violation, as is a guest's HELLO(0).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMUX_VERSION 2
#define VMUX_HELLO_SIZE (VMUX_HEADER_SIZE + 8)
#define VMUX_HEADER_SIZE 8
#define VMUX_DATA_MAX (64u * 1024u)
#define VMUX_WINDOW (256u * 1024u)
#define VMUX_NAME_MAX 32                /* "vchan.32767.32767.65535.sock" is 28 */
#define VMUX_FRAME_MAX (VMUX_HEADER_SIZE + VMUX_DATA_MAX)
#define VMUX_STREAMS_MAX 1024           /* streams one side opens (closing ones included) */
#define VMUX_MIRRORS_MAX 1024           /* names one side announces */
#define VMUX_DOMID_MAX 32767
#define VMUX_PORT_DEVICE "/dev/virtio-ports/org.odyssey.vchan.mux"

enum vmux_type {
        VMUX_HELLO = 1,
        VMUX_LISTEN = 2,
        VMUX_UNLISTEN = 3,
        VMUX_OPEN = 4,
        VMUX_DATA = 5,
        VMUX_CREDIT = 6,
        VMUX_EOF = 7,
        VMUX_CLOSE = 8,
};

struct vmux_header {
        uint8_t type;
        uint8_t flags;
        uint16_t stream;
        uint32_t length;
};

/* The three numbers of a socket name: DIR/vchan.<server>.<client>.<port>.sock */
struct vmux_name {
        uint16_t server;
        uint16_t client;
        uint16_t port;
};

/* A decoded frame; the pointers point into the caller's buffer. */
struct vmux_frame {
        struct vmux_header header;
        uint32_t value;                 /* HELLO: version; CREDIT: amount */
        uint32_t session;               /* HELLO */
        struct vmux_name name;          /* LISTEN, UNLISTEN, OPEN */
        char name_text[VMUX_NAME_MAX + 1];
        const uint8_t *data;            /* DATA */
};

const char *vmux_type_to_string(uint8_t type);         /* NULL when unknown */

void vmux_header_encode(uint8_t out[VMUX_HEADER_SIZE], enum vmux_type type, uint16_t stream, uint32_t length);

/* A whole HELLO frame of this version. */
void vmux_hello_encode(uint8_t out[VMUX_HELLO_SIZE], uint32_t session);

/* The header alone: known type, flags 0, the stream rule and the exact (or
 * bounded) length of its type.  0, or -EBADMSG with *reason set. */
int vmux_header_decode(const uint8_t untrusted_in[VMUX_HEADER_SIZE], struct vmux_header *ret, const char **reason);

/* A whole frame whose header vmux_header_decode() accepted: the payload of
 * exactly header.length bytes checked (version, credit range, names). */
int vmux_frame_decode(const struct vmux_header *h, const uint8_t *untrusted_payload, struct vmux_frame *ret,
                      const char **reason);

/* Parse a socket name of exactly n bytes (no NUL needed): 0 or -EINVAL. */
int vmux_name_parse(const char *untrusted_s, size_t n, struct vmux_name *ret);
