/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the qrexec codec tests: exact-size payload copies (so
 * ASan sees any read past a payload) and hand-built trigger payloads. */
#pragma once

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "qrexec.h"
#include "util.h"

static inline struct qrexec_trigger *trigger_new(void) {
        struct qrexec_trigger *t = malloc(sizeof(*t));
        ck_assert_ptr_nonnull(t);
        return t;
}

/* A copy of exactly len bytes on the heap, so that ASan sees any read past it. */
static inline uint8_t *exact_copy(const void *p, size_t len) {
        uint8_t *c = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(c);
        if (len)
                memcpy(c, p, len);
        return c;
}

static inline struct qrexec_hdr hdr_of(uint32_t type, uint32_t len) {
        return (struct qrexec_hdr) { .type = type, .len = len };
}

static inline bool accepted(uint32_t type, uint32_t len, enum qrexec_stream stream, uint32_t version) {
        struct qrexec_hdr h = hdr_of(type, len);
        int r = qrexec_check_header(&h, stream, version);
        ck_assert(r == 0 || r == -EBADMSG);
        return r == 0;
}

/* Trigger payloads built by hand: p is zeroed, fields copied in at their offsets. */
static inline size_t build_trigger3(uint8_t *p, const char *target, const void *ident, size_t ident_len,
                             const void *name, size_t name_len) {
        memset(p, 0, 96 + name_len);
        memcpy(p, target, strlen(target));
        memcpy(p + 64, ident, ident_len);
        memcpy(p + 96, name, name_len);
        return 96 + name_len;
}

static inline size_t build_trigger4(uint8_t *p, const char *source, const char *target, const void *ident,
                             size_t ident_len, const void *name, size_t name_len) {
        memset(p, 0, 160 + name_len);
        memcpy(p, source, strlen(source));
        memcpy(p + 64, target, strlen(target));
        memcpy(p + 128, ident, ident_len);
        memcpy(p + 160, name, name_len);
        return 160 + name_len;
}

static inline int decode_trigger_exact(uint32_t type, const uint8_t *payload, size_t len, uint32_t version,
                                struct qrexec_trigger *t) {
        _cleanup_free_ uint8_t *copy = exact_copy(payload, len);
        struct qrexec_hdr h = hdr_of(type, (uint32_t) len);
        return qrexec_decode_trigger(&h, copy, version, t);
}
