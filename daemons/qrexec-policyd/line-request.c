/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy daemon's line protocol: request parser and answer writer (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line-request.h"
#include "util.h"

bool line_request_complete(const char *buf, size_t size, size_t *ret_len) {
        if (size >= 1 && buf[0] == '\n') {
                *ret_len = 1;
                return true;
        }
        for (size_t i = 1; i < size; i++)
                if (buf[i] == '\n' && buf[i - 1] == '\n') {
                        *ret_len = i + 1;
                        return true;
                }
        return false;
}

void line_request_done(struct line_request *r) {
        free(r->source);
        free(r->intended_target);
        free(r->service_and_arg);
        free(r->requested_source);
        free(r->service);
        free(r->argument);
        *r = (struct line_request) {};
}

static int parse_bool(const char *v, bool *ret) {
        if (strcmp(v, "yes") == 0)
                *ret = true;
        else if (strcmp(v, "no") == 0)
                *ret = false;
        else
                return -EBADMSG;
        return 0;
}

static int refuse(struct line_request *r, const char **ret_why, const char *why) {
        line_request_done(r);
        *ret_why = why;
        return -EBADMSG;
}

int line_request_parse(const char *untrusted_buf, size_t size, struct line_request *ret, const char **ret_why) {
        struct line_request r = {};
        bool have_assume = false, have_just = false, ended = false;
        size_t pos = 0;

        *ret_why = NULL;
        if (size > LINE_REQUEST_MAX)
                return refuse(&r, ret_why, "request too long");
        if (memchr(untrusted_buf, '\0', size))
                return refuse(&r, ret_why, "NUL byte in the request");

        while (pos < size) {
                const char *line = untrusted_buf + pos, *nl = memchr(line, '\n', size - pos), *eq;
                size_t len;

                if (!nl)
                        return refuse(&r, ret_why, "unterminated line");
                len = (size_t) (nl - line);
                pos += len + 1;
                if (len == 0) {
                        if (pos != size)
                                return refuse(&r, ret_why, "data after the empty line");
                        ended = true;
                        break;
                }
                eq = memchr(line, '=', len);
                if (!eq)
                        return refuse(&r, ret_why, "line without '='");

                size_t klen = (size_t) (eq - line);
                _cleanup_free_ char *value = strndup(eq + 1, len - klen - 1);
                char **slot = NULL;
                if (!value) {
                        line_request_done(&r);
                        return -ENOMEM;
                }
#define KEY_IS(k) (klen == strlen(k) && memcmp(line, k, klen) == 0)
                if (KEY_IS("source"))
                        slot = &r.source;
                else if (KEY_IS("intended_target"))
                        slot = &r.intended_target;
                else if (KEY_IS("service_and_arg"))
                        slot = &r.service_and_arg;
                else if (KEY_IS("requested_source"))
                        slot = &r.requested_source;
                else if (KEY_IS("assume_yes_for_ask") || KEY_IS("just_evaluate")) {
                        bool *flag = KEY_IS("just_evaluate") ? &r.just_evaluate : &r.assume_yes_for_ask;
                        bool *seen = KEY_IS("just_evaluate") ? &have_just : &have_assume;
                        if (*seen)
                                return refuse(&r, ret_why, "duplicate key");
                        if (parse_bool(value, flag) < 0)
                                return refuse(&r, ret_why, "bad boolean (yes or no)");
                        *seen = true;
                        continue;
                } else
                        return refuse(&r, ret_why, "unknown key");
#undef KEY_IS
                if (*slot)
                        return refuse(&r, ret_why, "duplicate key");
                *slot = TAKE_PTR(value);
        }
        if (!ended)
                return refuse(&r, ret_why, "no empty line at the end");
        if (!r.source || !r.intended_target || !r.service_and_arg)
                return refuse(&r, ret_why, "missing source, intended_target or service_and_arg");

        if (line_split_service(r.service_and_arg, &r.service, &r.argument) < 0) {
                line_request_done(&r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

int line_split_service(const char *service_and_arg, char **ret_service, char **ret_argument) {
        const char *plus = strchr(service_and_arg, '+');
        _cleanup_free_ char *service = plus ? strndup(service_and_arg, (size_t) (plus - service_and_arg))
                                            : strdup(service_and_arg);
        char *argument = strdup(plus ?: "+");

        if (!service || !argument) {
                free(argument);
                return -ENOMEM;
        }
        *ret_service = TAKE_PTR(service);
        *ret_argument = argument;
        return 0;
}

void line_request_to_policy(const struct line_request *r, PolicyRequest *ret) {
        *ret = (PolicyRequest) {
                .source = r->source,
                .target = r->intended_target,
                .service = r->service,
                .argument = r->argument,
                .assume_yes_for_ask = r->assume_yes_for_ask,
                .just_evaluate = r->just_evaluate,
        };
}

char *line_answer_format(const PolicyDecision *d, const char *requested_source) {
        char *out = NULL;
        int n;

        if (d->verdict != POLICY_VERDICT_ALLOW)
                return strdup("result=deny");
        /* The order Qubes' daemon writes them in. */
        n = asprintf(&out, "user=%s\nresult=allow\ntarget=%s%s%s\nautostart=%s\nrequested_target=%s%s%s",
                     d->user ?: "DEFAULT", d->target, d->target_uuid ? "\ntarget_uuid=" : "",
                     d->target_uuid ?: "", d->autostart ? "True" : "False", d->requested_target,
                     requested_source ? "\npolicy_source=" : "", requested_source ?: "");
        return n < 0 ? NULL : out;
}
