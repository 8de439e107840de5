/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Qubes policy daemon's line protocol (reference qrexec.md §4.10), pure:
 * parsing a request and writing an answer, no I/O, no logging (fuzzed).
 *
 * Request: `key=value` lines ending with an empty line.  Required: source,
 * intended_target, service_and_arg; optional: assume_yes_for_ask,
 * just_evaluate (yes|no), requested_source.  Anything else, a duplicate, a
 * bad boolean, a NUL, a line without '=' or a request longer than
 * LINE_REQUEST_MAX: refused (the connection is closed without an answer).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define LINE_REQUEST_MAX 65536

struct line_request {
        char *source, *intended_target, *service_and_arg, *requested_source;
        bool assume_yes_for_ask, just_evaluate;
        /* service_and_arg split at its first '+' (argument "+..." or "+"). */
        char *service, *argument;
};

/* Whether buf[0..size) holds a whole request (ends with "\n\n" or is exactly
 * "\n"); *ret_len gets its length including the terminator. */
bool line_request_complete(const char *buf, size_t size, size_t *ret_len);

/* Parse a whole request (as line_request_complete() found it).  0, -EBADMSG
 * (refused: *ret_why says why, a static string), -ENOMEM. */
int line_request_parse(const char *untrusted_buf, size_t size, struct line_request *ret, const char **ret_why);
void line_request_done(struct line_request *r);

/* Split "SERVICE+ARG" at its first '+' into the service and the argument
 * ("+..." or "+" when there is none).  0 or -ENOMEM; free both. */
int line_split_service(const char *service_and_arg, char **ret_service, char **ret_argument);

/* The request for the policy library (points into r). */
void line_request_to_policy(const struct line_request *r, PolicyRequest *ret);

/* The answer to a decision, in the daemon's format: lines joined by '\n',
 * no trailing newline; a deny (or an ask, which the caller must have
 * resolved) is `result=deny`.  A fresh string or NULL. */
char *line_answer_format(const PolicyDecision *d, const char *requested_source);
