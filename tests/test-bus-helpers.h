/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the bus codec tests share: boundary values for every field kind, a
 * reference encoder written from bus.h's wire format independently of the
 * codec, and the catalogue as the tests see it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

/* Room for the largest datagram plus a few bytes of deliberate excess. */
#define TEST_BUF_SIZE (BUS_MSG_MAX + 64)

/* The values every field gets; each message round-trips in every variant. */
enum variant {
        VARIANT_ZERO,           /* 0, "", empty blob */
        VARIANT_ALL_ONES,       /* UINT*_MAX (-1 for I32), strings and blobs at their bound */
        VARIANT_PATTERN,        /* distinct bytes per field and position, short strings */
        VARIANT_TOP_BIT,        /* only the top bit (INT32_MIN), one below the bound */
        VARIANT_BELOW_TOP,      /* all but the top bit (INT32_MAX), one byte */
        _VARIANT_MAX,
};

/* Damage the reference encoder can do to one string or blob field. */
enum mutation_kind {
        MUTATION_NONE,
        MUTATION_OVER_BOUND,    /* string/blob of bound + 1 bytes */
        MUTATION_NUL_FIRST,     /* string with its first byte NUL */
        MUTATION_NUL_MIDDLE,
        MUTATION_NUL_LAST,
};

struct mutation {
        unsigned field;         /* index in wire order */
        enum mutation_kind kind;
};

enum test_kind { TEST_KIND_U8, TEST_KIND_U16, TEST_KIND_U32, TEST_KIND_I32, TEST_KIND_U64,
                 TEST_KIND_STR, TEST_KIND_BLOB };

struct test_type {
        uint16_t type;
        const char *name;
        size_t struct_size;
        size_t payload_max;             /* computed from the catalogue by the tests */
        const enum test_kind *kinds;
        size_t n_fields;
        /* Fill a zeroed struct bus_msg_* with the values of variant v. */
        void (*fill)(void *payload, enum variant v);
        /* Write the datagram of variant v (mut may be NULL); returns its size. */
        size_t (*ref_encode)(uint8_t *out, enum variant v, const struct mutation *mut);
};

extern const struct test_type test_types[];
extern const size_t n_test_types;

/* Scratch datagrams of TEST_BUF_SIZE bytes. */
extern uint8_t wire[TEST_BUF_SIZE], ref[TEST_BUF_SIZE];

uint32_t test_request_id(enum variant v);
uint32_t test_peer(enum variant v);
bool catalogue_has(uint16_t type);
/* Store `width` bytes of value, little endian; returns w + width. */
uint8_t *put_le(uint8_t *w, size_t width, uint64_t value);

/* A heap struct bus_message with every byte set to `fill`. */
struct bus_message *new_message(uint8_t fill);
/* bus_decode() from an exact-size copy, so a sanitizer build sees any read past the end. */
int decode_exact(const uint8_t *bytes, size_t size, struct bus_message *msg);
/* Encode type t in variant v through the codec into `wire`; returns the size. */
size_t encode_variant(const struct test_type *t, enum variant v);
/* Set the header's len to match a datagram of `size` bytes. */
void patch_len(uint8_t *buf, size_t size);
