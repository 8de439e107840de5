/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One domain: identity, property values, tags and features.  Tags and
 * features are small sorted arrays, so listing them is already in order and
 * lookups are binary searches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "domain-internal.h"
#include "property-internal.h"

static const char *const class_names[_DOMAIN_CLASS_MAX] = {
        [DOMAIN_ADMINVM] = "AdminVM",
        [DOMAIN_TEMPLATEVM] = "TemplateVM",
        [DOMAIN_APPVM] = "AppVM",
        [DOMAIN_STANDALONEVM] = "StandaloneVM",
        [DOMAIN_DISPVM] = "DispVM",
};

static const char *const power_state_names[_POWER_STATE_MAX] = {
        [POWER_HALTED] = "Halted",
        [POWER_TRANSIENT] = "Transient",
        [POWER_RUNNING] = "Running",
        [POWER_PAUSED] = "Paused",
        [POWER_HALTING] = "Halting",
        [POWER_DYING] = "Dying",
        [POWER_CRASHED] = "Crashed",
};

const char *domain_class_to_string(enum domain_class c) {
        if ((int) c < 0 || c >= _DOMAIN_CLASS_MAX)
                return NULL;
        return class_names[c];
}

enum domain_class domain_class_from_string(const char *s) {
        if (s)
                for (int c = 0; c < _DOMAIN_CLASS_MAX; c++)
                        if (strcmp(class_names[c], s) == 0)
                                return (enum domain_class) c;
        return _DOMAIN_CLASS_INVALID;
}

const char *power_state_to_string(enum power_state s) {
        if ((int) s < 0 || s >= _POWER_STATE_MAX)
                return NULL;
        return power_state_names[s];
}

int uuid_generate(char ret[static 37]) {
        uint8_t b[16];
        ssize_t n;

        do
                n = getrandom(b, sizeof(b), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n != sizeof(b))
                return -EIO;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);        /* version 4 */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);        /* RFC 4122 variant */
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

struct domain *domain_alloc(const char *name, enum domain_class klass) {
        struct domain *d;

        if (strlen(name) > DOMAIN_NAME_MAX)
                return NULL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->values = calloc(prop_table_size, sizeof(char *));
        if (!d->values) {
                free(d);
                return NULL;
        }
        strcpy(d->name, name);
        d->klass = klass;
        d->state = POWER_HALTED;
        return d;
}

void domain_free(struct domain *d) {
        if (!d)
                return;
        if (d->values)
                for (size_t i = 0; i < prop_table_size; i++)
                        free(d->values[i]);
        free(d->values);
        for (size_t i = 0; i < d->n_tags; i++)
                free(d->tags[i]);
        free(d->tags);
        for (size_t i = 0; i < d->n_features; i++) {
                free(d->features[i].key);
                free(d->features[i].value);
        }
        free(d->features);
        free(d);
}

int domain_set_value(struct domain *d, const struct prop_def *p, const char *value) {
        size_t id;
        char *copy = NULL;

        if (!d || !p || (p->flags & PROP_GLOBAL))
                return -EINVAL;
        if (p->flags & PROP_READ_ONLY)
                return -EPERM;
        id = prop_index(p);
        if (id == PROP_ID_NAME)
                return -EPERM;          /* the set is sorted by name */
        if (id == PROP_ID_UUID) {
                if (!value || strlen(value) != 36)
                        return -EINVAL;
                strcpy(d->uuid, value);
                return 0;
        }
        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(d->values[id]);
        d->values[id] = copy;
        return 0;
}

bool tag_valid(const char *tag) {
        size_t len = tag ? strlen(tag) : 0;

        if (len < 1 || len > TAG_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = tag[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

bool feature_key_valid(const char *key) {
        size_t len = key ? strlen(key) : 0;

        if (len < 1 || len > FEATURE_KEY_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = key[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-'))
                        return false;
        }
        return true;
}

bool feature_value_valid(const char *value) {
        return value && text_printable(value, FEATURE_VALUE_MAX);
}

/* Index of the first tag >= tag; *found when equal. */
static size_t tag_position(const struct domain *d, const char *tag, bool *found) {
        size_t lo = 0, hi = d->n_tags;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(d->tags[mid], tag) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < d->n_tags && strcmp(d->tags[lo], tag) == 0;
        return lo;
}

int domain_add_tag(struct domain *d, const char *tag) {
        bool found;
        size_t at;
        char **tags, *copy;

        if (!d || !tag_valid(tag))
                return -EINVAL;
        at = tag_position(d, tag, &found);
        if (found)
                return 0;
        copy = strdup(tag);
        if (!copy)
                return -ENOMEM;
        tags = realloc(d->tags, (d->n_tags + 1) * sizeof(char *));
        if (!tags) {
                free(copy);
                return -ENOMEM;
        }
        memmove(tags + at + 1, tags + at, (d->n_tags - at) * sizeof(char *));
        tags[at] = copy;
        d->tags = tags;
        d->n_tags++;
        return 0;
}

int domain_remove_tag(struct domain *d, const char *tag) {
        bool found;
        size_t at;

        if (!d || !tag)
                return -EINVAL;
        at = tag_position(d, tag, &found);
        if (!found)
                return -ENOENT;
        free(d->tags[at]);
        memmove(d->tags + at, d->tags + at + 1, (d->n_tags - at - 1) * sizeof(char *));
        d->n_tags--;
        return 0;
}

bool domain_has_tag(const struct domain *d, const char *tag) {
        bool found = false;

        if (d && tag)
                tag_position(d, tag, &found);
        return found;
}

static size_t feature_position(const struct domain *d, const char *key, bool *found) {
        size_t lo = 0, hi = d->n_features;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(d->features[mid].key, key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < d->n_features && strcmp(d->features[lo].key, key) == 0;
        return lo;
}

int domain_set_feature(struct domain *d, const char *key, const char *value) {
        _cleanup_free_ char *key_copy = NULL, *value_copy = NULL;
        struct feature *features;
        bool found;
        size_t at;

        if (!d || !feature_key_valid(key) || !feature_value_valid(value))
                return -EINVAL;
        value_copy = strdup(value);
        if (!value_copy)
                return -ENOMEM;
        at = feature_position(d, key, &found);
        if (found) {
                free(d->features[at].value);
                d->features[at].value = TAKE_PTR(value_copy);
                return 0;
        }
        key_copy = strdup(key);
        if (!key_copy)
                return -ENOMEM;
        features = realloc(d->features, (d->n_features + 1) * sizeof(struct feature));
        if (!features)
                return -ENOMEM;
        memmove(features + at + 1, features + at, (d->n_features - at) * sizeof(struct feature));
        features[at] = (struct feature) { .key = TAKE_PTR(key_copy), .value = TAKE_PTR(value_copy) };
        d->features = features;
        d->n_features++;
        return 0;
}

int domain_remove_feature(struct domain *d, const char *key) {
        bool found;
        size_t at;

        if (!d || !key)
                return -EINVAL;
        at = feature_position(d, key, &found);
        if (!found)
                return -ENOENT;
        free(d->features[at].key);
        free(d->features[at].value);
        memmove(d->features + at, d->features + at + 1, (d->n_features - at - 1) * sizeof(struct feature));
        d->n_features--;
        return 0;
}

const char *domain_get_feature(const struct domain *d, const char *key) {
        bool found;
        size_t at;

        if (!d || !key)
                return NULL;
        at = feature_position(d, key, &found);
        return found ? d->features[at].value : NULL;
}
