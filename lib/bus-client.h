/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of busd, for every daemon and tool: connect, read WELCOME,
 * send typed messages, receive them strictly decoded (from an sd-event loop
 * or blocking), and match replies to requests by request id.
 *
 * A malformed datagram from busd, or busd hanging up, is an error that closes
 * the connection: the disconnect callback (event mode) or the blocking call
 * reports it, and every later call fails with -ENOTCONN.
 *
 * Typical daemon:
 *     bus_client_connect(NULL, 5 * USEC_PER_SEC, &bus);    // default path
 *     bus_client_attach_event(bus, event, on_message, on_disconnect, userdata);
 *     ...
 *     bus_client_call_async(bus, BUS_MSG_PING, BUS_PEER_BUSD, &ping, timeout, on_pong, userdata);
 * Typical tool:
 *     bus_client_call(bus, BUS_MSG_PING, BUS_PEER_BUSD, &ping, timeout, reply);
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "bus.h"

#define BUS_CLIENT_USEC_PER_SEC UINT64_C(1000000)
#define BUS_CLIENT_TIMEOUT_DEFAULT (5 * BUS_CLIENT_USEC_PER_SEC)

struct bus_client;

/* A message that is not the reply to a pending call.  Return < 0 to close the connection. */
typedef int (*bus_client_handler_t)(struct bus_client *c, const struct bus_message *msg, void *userdata);
/* The connection closed: error is why (-ECONNRESET busd hung up, -EBADMSG it sent garbage, ...). */
typedef void (*bus_client_disconnect_t)(struct bus_client *c, int error, void *userdata);
/* The reply to an async call: error 0 and the reply, the ERROR busd or the
 * callee answered (error = its negative errno, reply = the ERROR message),
 * or -ETIMEDOUT / -ECONNRESET with reply NULL. */
typedef void (*bus_client_reply_t)(struct bus_client *c, int error, const struct bus_message *reply,
                                   void *userdata);

/* Connect to busd at path (NULL: daemon_runtime_path(NULL, "bus.sock")) and
 * wait up to timeout_usec for WELCOME.  -ECONNRESET when busd closed the
 * connection instead (uid not in its role table, or the role is taken). */
int bus_client_connect(const char *path, uint64_t timeout_usec, struct bus_client **ret);
/* Same on a SOCK_SEQPACKET socket already connected to busd (takes fd, also on failure). */
int bus_client_new_from_fd(int fd, uint64_t timeout_usec, struct bus_client **ret);
void bus_client_free(struct bus_client *c);
static inline void bus_client_freep(struct bus_client **c) { bus_client_free(*c); }
#define _cleanup_bus_client_ __attribute__((cleanup(bus_client_freep)))

uint32_t bus_client_peer_id(const struct bus_client *c);   /* what WELCOME said */
enum bus_role bus_client_role(const struct bus_client *c);
/* The socket: readable when a message may be there (with rings, a kick may
 * come for a message already taken: receive with timeout 0 until -ETIMEDOUT). */
int bus_client_fd(const struct bus_client *c);
bool bus_client_is_connected(const struct bus_client *c);
/* A fresh request id, never 0 (0 marks messages that answer nothing). */
uint32_t bus_client_new_request_id(struct bus_client *c);

/* Encode and send one message (waits up to the connect timeout for room). */
int bus_client_send(struct bus_client *c, uint16_t type, uint32_t to, uint32_t request_id, const void *payload);
/* Send a reply to `request`: same request id, to its sender. */
int bus_client_reply(struct bus_client *c, const struct bus_message *request, uint16_t type, const void *payload);

/* --- event mode --- */
/* Watch the connection from `event`: each datagram is decoded strictly;
 * replies go to their call's callback, other messages to `handler`.  ECHO_REQUEST
 * is answered with ECHO_REPLY by the library unless bus_client_set_auto_echo(c, false). */
int bus_client_attach_event(struct bus_client *c, sd_event *event, bus_client_handler_t handler,
                            bus_client_disconnect_t on_disconnect, void *userdata);
void bus_client_set_auto_echo(struct bus_client *c, bool answer);
/* Send a request with a fresh request id; `cb` gets the reply or the error
 * once (timeout_usec 0: BUS_CLIENT_TIMEOUT_DEFAULT).  The id in *ret_request_id if non-NULL. */
int bus_client_call_async(struct bus_client *c, uint16_t type, uint32_t to, const void *payload,
                          uint64_t timeout_usec, bus_client_reply_t cb, void *userdata, uint32_t *ret_request_id);

/* --- blocking mode (tools, tests, benchmarks; not with attach_event) --- */
/* Wait up to timeout_usec for the next message.  -ETIMEDOUT, -ECONNRESET, -EBADMSG. */
int bus_client_receive(struct bus_client *c, uint64_t timeout_usec, struct bus_message *ret);
/* Send a request and wait for the message with its request id (messages in
 * between go to the handler given to bus_client_set_handler(), else are
 * dropped).  0 with *reply filled, the negative errno of an ERROR reply (also
 * in *reply), -ETIMEDOUT. `reply` is large (struct bus_message): allocate it. */
int bus_client_call(struct bus_client *c, uint16_t type, uint32_t to, const void *payload,
                    uint64_t timeout_usec, struct bus_message *reply);
void bus_client_set_handler(struct bus_client *c, bus_client_handler_t handler, void *userdata);
