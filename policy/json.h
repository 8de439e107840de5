/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small strict JSON reader (RFC 8259) for the policy engine's system info.
 * Bounded: nesting depth, string length and container sizes are limited so
 * that hostile input cannot exhaust the stack or memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_STRING (64 * 1024)
#define JSON_MAX_ITEMS 65536
#define JSON_MAX_INPUT (16 * 1024 * 1024)

typedef enum JsonType {
        JSON_NULL,
        JSON_BOOLEAN,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
        JsonType type;
        bool boolean;
        double number;
        char *string;           /* JSON_STRING: NUL-terminated, NULs inside refused */
        size_t n_items;         /* JSON_ARRAY / JSON_OBJECT */
        char **keys;            /* JSON_OBJECT: keys[i] names items[i] */
        JsonValue **items;
};

/* Parse exactly one JSON value (surrounding whitespace allowed).
 * 0, -EINVAL (syntax; *ret_offset says where), -E2BIG (a limit), -ENOMEM. */
int json_parse(const char *text, size_t size, JsonValue **ret, size_t *ret_offset);
void json_free(JsonValue *v);
static inline void json_freep(JsonValue **v) { json_free(*v); }
#define _cleanup_json_ __attribute__((cleanup(json_freep)))

/* The member named key of an object, NULL if absent or v is not an object.
 * Duplicate keys are refused by the parser, so the answer is unique. */
const JsonValue *json_object_get(const JsonValue *v, const char *key);
