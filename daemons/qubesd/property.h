/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain property model: every per-domain and global property is
 * declared once, in property.c's table (name, type, flags, default or default
 * function, validator, documentation), and the database (store.c), the Admin
 * API (admin-*.c) and qubes-ctl (through the API) all use that table.
 *
 * Values travel as text in one canonical form per type, which is also what
 * the database stores and what a D-Bus string-typed property carries:
 *   STR     any UTF-8 without control characters, bounded per property
 *   INT     decimal, no sign unless the property allows negatives
 *   BOOL    "True" / "False" (Qubes' spelling; "1"/"0"/"true"/"false" accepted on input)
 *   LABEL   a label name ("red", ...)
 *   DOMAIN  a domain name, or "" for none (only where PROP_NULLABLE)
 *   UUID    36-char lowercase canonical form
 *   ENUM    one of the property's `choices`
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domain;
struct domain_set;

enum prop_type {
        PROP_STR,
        PROP_INT,
        PROP_BOOL,
        PROP_LABEL,
        PROP_DOMAIN,
        PROP_UUID,
        PROP_ENUM,
};

enum prop_flags {
        PROP_WRITE_ONCE = 1 << 0,  /* set at creation, never changed (name, qid, uuid) */
        PROP_READ_ONLY  = 1 << 1,  /* computed; never set through the API (klass, state...) */
        PROP_NULLABLE   = 1 << 2,  /* DOMAIN: "" (none) is a value */
        PROP_CLONE      = 1 << 3,  /* copied by clone and inherited by disposables when set */
        PROP_GLOBAL     = 1 << 4,  /* a global (manager) property, not a domain's */
        PROP_REQUIRED   = 1 << 5,  /* a new domain must end up with a value (label) */
};

#define PROP_VALUE_MAX 4096     /* longest canonical text of any value */

/*
 * A property's default, computed from the domain (its template, the global
 * properties) into buf; NULL domain for globals.  Returns 0, or -ENOENT when
 * the property has no value at all (a DOMAIN with no default is "").
 */
typedef int (*prop_default_fn)(const struct domain_set *set, const struct domain *d, char *buf, size_t size);

/* Extra rule beyond the type's; message names the rule on refusal. */
typedef int (*prop_validate_fn)(const struct domain_set *set, const struct domain *d, const char *value,
                                char *error, size_t error_size);

struct prop_def {
        const char *name;
        enum prop_type type;
        unsigned flags;
        const char *default_value;      /* static default, or NULL */
        prop_default_fn default_fn;     /* computed default, or NULL */
        prop_validate_fn validate;      /* extra rule, or NULL */
        const char *const *choices;     /* ENUM: NULL-terminated */
        int64_t min, max;               /* INT bounds; STR: max length in max */
        const char *doc;                /* one line for --help and the API */
        const char *unit;               /* INT: "MiB", "s"... for messages, or NULL */
};

/* The table.  Domain properties then global ones; index = property id. */
extern const struct prop_def prop_table[];
extern const size_t prop_table_size;

const struct prop_def *prop_find(const char *name, bool global);   /* NULL if none */
const char *prop_type_to_string(enum prop_type t);                 /* "str", "int", "bool", "label", "domain", "uuid", "enum" */
size_t prop_index(const struct prop_def *p);

/*
 * Check and canonicalise `untrusted_value` for property p of domain d (NULL
 * for a global).  Writes the canonical text to out.  On refusal returns
 * -EINVAL (bad value), -ENOENT (a domain or label it names does not exist),
 * -ELOOP (a netvm loop), -EPERM (read-only / write-once), with a message in
 * `error` that names the property and the rule, e.g.
 *   "memory: must be an integer between 32 and 1048576 (MiB)".
 */
int prop_check(const struct domain_set *set, const struct domain *d, const struct prop_def *p,
               const char *untrusted_value, char *out, size_t out_size, char *error, size_t error_size);

/*
 * Check that resetting p of d (NULL for a global) back to its default keeps
 * the rules (a default netvm that would close a loop, provides_network or
 * template_for_dispvms still relied on, a required label).  0 when the
 * property is not set; otherwise the same errors and messages as prop_check.
 */
int prop_check_reset(const struct domain_set *set, const struct domain *d, const struct prop_def *p, char *error,
                     size_t error_size);

/*
 * A domain about to be created is complete when every PROP_REQUIRED property
 * has a value and its class's rules hold (an AppVM or a DispVM has a
 * template, set or by default).  0, or -EINVAL with a message naming the
 * property and the rule.
 */
int prop_check_complete(const struct domain_set *set, const struct domain *d, char *error, size_t error_size);

/* The effective value (set value, else default) as canonical text; "" for none. */
int prop_get(const struct domain_set *set, const struct domain *d, const struct prop_def *p, char *buf,
             size_t size, bool *ret_is_default);

/* Valid domain name (Qubes' rule: 1-31 chars, a letter first, [A-Za-z0-9_.-], not
 * "none"/"default"/"Domain-0"/"dom0" for new domains, not ending in "-dm"). */
bool domain_name_valid(const char *name, char *error, size_t error_size);

/* Labels: the built-in eight (Qubes' indices and colors). */
struct label {
        const char *name;
        unsigned index;
        uint32_t color;         /* 0xRRGGBB */
};
extern const struct label label_table[];
extern const size_t label_table_size;
const struct label *label_find(const char *name);
