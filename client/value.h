/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Any D-Bus value read from a message into a small tree, so the commands can
 * print what qubesd sends without one reader per signature: as text (the form
 * a user types: "True"/"False", decimal numbers, list items joined by ",",
 * dict entries as key=value) or as JSON (a{s*} dicts become objects).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

struct value {
        char type;              /* the D-Bus type code: 's', 'b', 'x', ..., 'a', 'r', 'e', 'v' */
        bool dict;              /* 'a' whose items are dict entries */
        union {
                char *str;      /* s, o, g */
                int64_t i;      /* n, i, x, h */
                uint64_t u;     /* y, q, u, t */
                bool b;
                double d;
        };
        struct value *items;    /* a: elements; r: fields; e: key, value; v: the content */
        size_t n_items;
};

/* Read the next complete value of m into ret.  0, or -errno (-EBADMSG for a
 * message that ends early). */
int value_read(sd_bus_message *m, struct value *ret);
void value_done(struct value *v);
static inline void value_donep(struct value *v) { value_done(v); }
#define _cleanup_value_ __attribute__((cleanup(value_donep)))

/* In a dict (a{s*}), the value for key (variants unwrapped); NULL if absent. */
const struct value *value_dict_get(const struct value *dict, const char *key);
/* Variants unwrapped. */
const struct value *value_unwrap(const struct value *v);
/* For as: whether s is one of the strings. */
bool value_strv_contains(const struct value *v, const char *s);

/* Text form as described above, newly allocated; NULL on ENOMEM. */
char *value_to_text(const struct value *v);
/* JSON on f (strings escaped, UTF-8 kept as is). */
void value_print_json(FILE *f, const struct value *v);
void json_print_string(FILE *f, const char *s);
