/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boundary values, a reference encoder and the catalogue, for the bus codec tests. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test-bus-helpers.h"
#include "util.h"

static uint64_t int_value(size_t width, unsigned idx, enum variant v) {
        uint64_t mask = width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;

        switch (v) {
        case VARIANT_ZERO:
                return 0;
        case VARIANT_ALL_ONES:
                return mask;
        case VARIANT_PATTERN:
                return (UINT64_C(0x0102030405060708) + idx * UINT64_C(0x1010101010101010)) & mask;
        case VARIANT_TOP_BIT:
                return UINT64_C(1) << (8 * width - 1);
        case VARIANT_BELOW_TOP:
                return mask >> 1;
        default:
                abort();
        }
}

/* Length of a string or blob field with bound `bound`. */
static size_t var_len(size_t bound, unsigned idx, enum variant v) {
        switch (v) {
        case VARIANT_ZERO:
                return 0;
        case VARIANT_ALL_ONES:
                return bound;
        case VARIANT_PATTERN:
                return 2 + idx % 4 < bound ? 2 + idx % 4 : bound;
        case VARIANT_TOP_BIT:
                return bound - 1;
        case VARIANT_BELOW_TOP:
                return 1;
        default:
                abort();
        }
}

/* Strings carry any byte but NUL; blobs any byte at all. */
static uint8_t str_byte(size_t j, unsigned idx) {
        return (uint8_t) (1 + (j * 7 + idx) % 255);
}

static uint8_t blob_byte(size_t j, unsigned idx) {
        return (uint8_t) (j * 31 + idx * 7);
}

/* ---- Filling the decoded structs ---- */

static void fill_str(char *s, size_t bound, unsigned idx, enum variant v) {
        size_t n = var_len(bound, idx, v);
        for (size_t j = 0; j < n; j++)
                s[j] = (char) str_byte(j, idx);
        s[n] = '\0';
}

static size_t fill_blob(uint8_t *b, size_t bound, unsigned idx, enum variant v) {
        size_t n = var_len(bound, idx, v);
        for (size_t j = 0; j < n; j++)
                b[j] = blob_byte(j, idx);
        return n;
}

#define TEST_FILL_U8(member, bound)   m->member = (uint8_t) int_value(1, idx, v)
#define TEST_FILL_U16(member, bound)  m->member = (uint16_t) int_value(2, idx, v)
#define TEST_FILL_U32(member, bound)  m->member = (uint32_t) int_value(4, idx, v)
#define TEST_FILL_I32(member, bound)  m->member = (int32_t) (uint32_t) int_value(4, idx, v)
#define TEST_FILL_U64(member, bound)  m->member = int_value(8, idx, v)
#define TEST_FILL_STR(member, bound)  fill_str(m->member, bound, idx, v)
#define TEST_FILL_BLOB(member, bound) m->member##_len = fill_blob(m->member, bound, idx, v)
#define TEST_FILL(kind, member, bound) TEST_FILL_##kind(member, bound); idx++;

/* Fills a zeroed struct bus_msg_<lower>. */
#define TEST_X_FILL(NAME, lower, num, from, to)                                 \
        static void fill_##lower(void *payload, enum variant v) {               \
                struct bus_msg_##lower *m = payload;                            \
                unsigned idx = 0;                                               \
                BUS_FIELDS_##NAME(TEST_FILL)                                    \
                (void) m;                                                       \
                (void) idx;                                                     \
        }
BUS_MESSAGES(TEST_X_FILL)
#undef TEST_X_FILL

/* ---- A reference encoder, written from bus.h's wire format ---- */

static enum mutation_kind mutation_at(const struct mutation *mut, unsigned idx) {
        return mut && mut->field == idx ? mut->kind : MUTATION_NONE;
}

uint8_t *put_le(uint8_t *w, size_t width, uint64_t value) {
        for (size_t i = 0; i < width; i++)
                w[i] = (uint8_t) (value >> (8 * i));
        return w + width;
}

static uint8_t *ref_str(uint8_t *w, size_t bound, unsigned idx, enum variant v, enum mutation_kind mut) {
        size_t n = mut == MUTATION_OVER_BOUND ? bound + 1 : var_len(bound, idx, v);

        w = put_le(w, 2, n);
        for (size_t j = 0; j < n; j++)
                w[j] = str_byte(j, idx);
        if (mut == MUTATION_NUL_FIRST)
                w[0] = 0;
        else if (mut == MUTATION_NUL_MIDDLE)
                w[n / 2] = 0;
        else if (mut == MUTATION_NUL_LAST)
                w[n - 1] = 0;
        return w + n;
}

static uint8_t *ref_blob(uint8_t *w, size_t bound, unsigned idx, enum variant v, enum mutation_kind mut) {
        size_t n = mut == MUTATION_OVER_BOUND ? bound + 1 : var_len(bound, idx, v);

        w = put_le(w, 4, n);
        for (size_t j = 0; j < n; j++)
                w[j] = blob_byte(j, idx);
        return w + n;
}

uint32_t test_request_id(enum variant v) {
        return (uint32_t) int_value(4, 100, v);
}

uint32_t test_peer(enum variant v) {
        return (uint32_t) int_value(4, 101, v);
}

#define TEST_REF_U8(bound)   put_le(w, 1, int_value(1, idx, v))
#define TEST_REF_U16(bound)  put_le(w, 2, int_value(2, idx, v))
#define TEST_REF_U32(bound)  put_le(w, 4, int_value(4, idx, v))
#define TEST_REF_I32(bound)  put_le(w, 4, int_value(4, idx, v))
#define TEST_REF_U64(bound)  put_le(w, 8, int_value(8, idx, v))
#define TEST_REF_STR(bound)  ref_str(w, bound, idx, v, mutation_at(mut, idx))
#define TEST_REF_BLOB(bound) ref_blob(w, bound, idx, v, mutation_at(mut, idx))
#define TEST_REF(kind, member, bound) w = TEST_REF_##kind(bound); idx++;

/* Writes the whole datagram of type NAME; returns its size. */
#define TEST_X_REF(NAME, lower, num, from, to)                                          \
        static size_t ref_encode_##lower(uint8_t *out, enum variant v,                  \
                                         const struct mutation *mut) {                  \
                uint8_t *w = out + BUS_HEADER_SIZE;                                     \
                unsigned idx = 0;                                                       \
                BUS_FIELDS_##NAME(TEST_REF)                                             \
                (void) mut;                                                             \
                (void) idx;                                                             \
                uint8_t *h = out;                                                       \
                h = put_le(h, 2, num);                                                  \
                h = put_le(h, 2, 0);                                                    \
                h = put_le(h, 4, (size_t) (w - out) - BUS_HEADER_SIZE);                 \
                h = put_le(h, 4, test_request_id(v));                                   \
                put_le(h, 4, test_peer(v));                                             \
                return (size_t) (w - out);                                              \
        }
BUS_MESSAGES(TEST_X_REF)
#undef TEST_X_REF

/* ---- The catalogue, as the tests see it ---- */

#define TEST_KIND(kind, member, bound) TEST_KIND_##kind,
#define TEST_X_KINDS(NAME, lower, num, from, to) \
        static const enum test_kind kinds_##lower[] = { BUS_FIELDS_##NAME(TEST_KIND) };
BUS_MESSAGES(TEST_X_KINDS)
#undef TEST_X_KINDS

#define TEST_WIRE_U8(bound)   1
#define TEST_WIRE_U16(bound)  2
#define TEST_WIRE_U32(bound)  4
#define TEST_WIRE_I32(bound)  4
#define TEST_WIRE_U64(bound)  8
#define TEST_WIRE_STR(bound)  (2 + (bound))
#define TEST_WIRE_BLOB(bound) (4 + (bound))
#define TEST_WIRE_MAX(kind, member, bound) + TEST_WIRE_##kind(bound)

const struct test_type test_types[] = {
#define TEST_X_TYPE(NAME, lower, num, from, to)                                 \
        {                                                                       \
                .type = num,                                                    \
                .name = #NAME,                                                  \
                .struct_size = sizeof(struct bus_msg_##lower),                  \
                .payload_max = 0 BUS_FIELDS_##NAME(TEST_WIRE_MAX),              \
                .kinds = kinds_##lower,                                         \
                .n_fields = ELEMENTSOF(kinds_##lower),                          \
                .fill = fill_##lower,                                           \
                .ref_encode = ref_encode_##lower,                               \
        },
        BUS_MESSAGES(TEST_X_TYPE)
#undef TEST_X_TYPE
};

bool catalogue_has(uint16_t type) {
        for (size_t i = 0; i < ELEMENTSOF(test_types); i++)
                if (test_types[i].type == type)
                        return true;
        return false;
}

const size_t n_test_types = ELEMENTSOF(test_types);

/* ---- Helpers ---- */

uint8_t wire[TEST_BUF_SIZE], ref[TEST_BUF_SIZE];

struct bus_message *new_message(uint8_t fill) {
        struct bus_message *m = malloc(sizeof *m);
        ck_assert_ptr_nonnull(m);
        memset(m, fill, sizeof *m);
        return m;
}

int decode_exact(const uint8_t *bytes, size_t size, struct bus_message *msg) {
        uint8_t *copy = malloc(size ? size : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, bytes, size);
        int r = bus_decode(copy, size, msg);
        free(copy);
        return r;
}

size_t encode_variant(const struct test_type *t, enum variant v) {
        _cleanup_free_ struct bus_message *in = new_message(0);
        struct bus_hdr hdr = {
                .type = t->type,
                .len = 0xdeadbeef,      /* computed by the encoder, whatever we pass */
                .request_id = test_request_id(v),
                .peer = test_peer(v),
        };

        t->fill(&in->u, v);
        int r = bus_encode(&hdr, &in->u, wire, sizeof wire);
        ck_assert_int_gt(r, 0);
        return (size_t) r;
}

void patch_len(uint8_t *buf, size_t size) {
        put_le(buf + 4, 4, size - BUS_HEADER_SIZE);
}
