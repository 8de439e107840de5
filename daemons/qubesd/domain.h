/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domains as qubesd holds them in memory: identity, class, the values set
 * for properties in prop_table (unset = default), tags, features, and the
 * run-time state reported by the backend.  The set of all domains plus the
 * global properties is a struct domain_set.  Persistence is store.h's job;
 * this file knows nothing of SQLite or D-Bus.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "property.h"

#define DOMAIN_NAME_MAX 31
#define DOMAIN_QID_MAX  9999
#define TAG_MAX         64      /* bytes of one tag, [A-Za-z0-9_-] */
#define FEATURE_KEY_MAX 64      /* [A-Za-z0-9_.-] */
#define FEATURE_VALUE_MAX 1024

enum domain_class {
        DOMAIN_ADMINVM,
        DOMAIN_TEMPLATEVM,
        DOMAIN_APPVM,
        DOMAIN_STANDALONEVM,
        DOMAIN_DISPVM,
        _DOMAIN_CLASS_MAX,
        _DOMAIN_CLASS_INVALID = -1,
};
const char *domain_class_to_string(enum domain_class c);    /* "AppVM", ... */
enum domain_class domain_class_from_string(const char *s);

/* Qubes' power states. */
enum power_state {
        POWER_HALTED,
        POWER_TRANSIENT,        /* starting */
        POWER_RUNNING,
        POWER_PAUSED,
        POWER_HALTING,
        POWER_DYING,
        POWER_CRASHED,
        _POWER_STATE_MAX,
};
const char *power_state_to_string(enum power_state s);      /* "Running", ... */

struct feature {
        char *key;
        char *value;
};

struct domain {
        char name[DOMAIN_NAME_MAX + 1];
        uint32_t qid;                   /* also the domid on the native backend */
        char uuid[37];
        enum domain_class klass;
        char **values;                  /* [prop_table_size]: set value or NULL = default */
        char **tags;                    /* sorted, n_tags */
        size_t n_tags;
        struct feature *features;       /* sorted by key, n_features */
        size_t n_features;
        /* run time, never stored */
        enum power_state state;
        uint64_t start_time_usec;       /* CLOCK_REALTIME of the last start, 0 when halted */
        void *backend_data;             /* owned by the domain's HAL backend */
};

struct domain_set {
        struct domain **domains;        /* sorted by name */
        size_t n_domains;
        char **globals;                 /* [prop_table_size]: set global values, NULL = default */
};

struct domain_set *domain_set_new(void);   /* with dom0 (AdminVM, qid 0, black) */
void domain_set_free(struct domain_set *set);

struct domain *domain_set_find(const struct domain_set *set, const char *name);
struct domain *domain_set_find_qid(const struct domain_set *set, uint32_t qid);
uint32_t domain_set_free_qid(const struct domain_set *set);     /* 0 when full */

/* New domain (not yet in the set), with a fresh uuid; validates the name. */
int domain_new(const struct domain_set *set, const char *name, enum domain_class klass, struct domain **ret,
               char *error, size_t error_size);
void domain_free(struct domain *d);
int domain_set_add(struct domain_set *set, struct domain *d);     /* takes ownership; -EEXIST */
/* Detach (not free) a domain; -EBUSY with a message if another domain's
 * property or the globals reference it (template, netvm, default_dispvm...). */
int domain_set_remove(struct domain_set *set, struct domain *d, char *error, size_t error_size);

/* Property values (already checked with prop_check): NULL value = reset to default. */
int domain_set_value(struct domain *d, const struct prop_def *p, const char *value);
int domain_set_global(struct domain_set *set, const struct prop_def *p, const char *value);

int domain_add_tag(struct domain *d, const char *tag);          /* -EINVAL bad tag; 0 also if present */
int domain_remove_tag(struct domain *d, const char *tag);       /* -ENOENT */
bool domain_has_tag(const struct domain *d, const char *tag);
int domain_set_feature(struct domain *d, const char *key, const char *value);   /* -EINVAL bad key/value */
int domain_remove_feature(struct domain *d, const char *key);   /* -ENOENT */
const char *domain_get_feature(const struct domain *d, const char *key);        /* NULL if unset */
bool tag_valid(const char *tag);
bool feature_key_valid(const char *key);
bool feature_value_valid(const char *value);   /* printable UTF-8, at most FEATURE_VALUE_MAX bytes */

/* The domain's effective template (set or default; AppVM -> TemplateVM,
 * DispVM -> its disposable template), NULL for classes without one. */
struct domain *domain_get_template(const struct domain_set *set, const struct domain *d);
