/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The system info the engine evaluates against: {"domains": {NAME: {...}}}. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"
#include "util.h"

static void domain_done(PolicyDomain *d) {
        free(d->name);
        free(d->type);
        for (size_t i = 0; i < d->n_tags; i++)
                free(d->tags[i]);
        free(d->tags);
        free(d->default_dispvm);
        free(d->uuid);
        free(d->icon);
        free(d->guivm);
}

void policy_system_free(PolicySystem *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_domains; i++)
                domain_done(&s->domains[i]);
        free(s->domains);
        free(s);
}

static int compare_domains(const void *a, const void *b) {
        return strcmp(((const PolicyDomain *) a)->name, ((const PolicyDomain *) b)->name);
}

const PolicyDomain *policy_system_find(const PolicySystem *s, const char *name_or_uuid) {
        if (!s || !name_or_uuid)
                return NULL;
        if (strncmp(name_or_uuid, "uuid:", 5) == 0) {
                for (size_t i = 0; i < s->n_domains; i++)
                        if (s->domains[i].uuid && strcmp(s->domains[i].uuid, name_or_uuid + 5) == 0)
                                return &s->domains[i];
                return NULL;
        }
        PolicyDomain key = { .name = (char *) name_or_uuid };
        return bsearch(&key, s->domains, s->n_domains, sizeof(PolicyDomain), compare_domains);
}

bool policy_domain_has_tag(const PolicyDomain *d, const char *tag) {
        for (size_t i = 0; d && i < d->n_tags; i++)
                if (strcmp(d->tags[i], tag) == 0)
                        return true;
        return false;
}

_printf_(2, 3) static int fail(char **ret_error, const char *fmt, ...) {
        va_list ap;
        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* A string member or null/absent (→ NULL). */
static int get_optional_string(const JsonValue *o, const char *key, char **ret) {
        const JsonValue *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_STRING)
                return -EINVAL;
        *ret = strdup(v->string);
        return *ret ? 0 : -ENOMEM;
}

/* Booleans may arrive as true/false, "1"/"" or null: taken by truth. */
static int get_truth(const JsonValue *o, const char *key, bool *ret) {
        const JsonValue *v = json_object_get(o, key);
        *ret = false;
        if (!v || v->type == JSON_NULL)
                return 0;
        switch (v->type) {
        case JSON_BOOLEAN: *ret = v->boolean; return 0;
        case JSON_STRING: *ret = v->string[0] != '\0'; return 0;
        case JSON_NUMBER: *ret = v->number != 0; return 0;
        default: return -EINVAL;
        }
}

static int domain_from_json(const char *name, const JsonValue *o, PolicyDomain *d, char **ret_error) {
        _cleanup_free_ char *power = NULL;
        const JsonValue *tags;
        int r;

        if (o->type != JSON_OBJECT)
                return fail(ret_error, "domain '%s' is not an object", name);
        if (!name[0] || name[0] == '@' || strncmp(name, "uuid:", 5) == 0)
                return fail(ret_error, "invalid domain name '%s'", name);
        d->name = strdup(name);
        if (!d->name)
                return -ENOMEM;
        static const char *const strings[] = { "type", "default_dispvm", "power_state", "uuid", "icon", "guivm" };
        char **fields[] = { &d->type, &d->default_dispvm, &power, &d->uuid, &d->icon, &d->guivm };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                r = get_optional_string(o, strings[i], fields[i]);
                if (r == -EINVAL)
                        return fail(ret_error, "domain '%s': '%s' must be a string or null", name, strings[i]);
                if (r < 0)
                        return r;
        }
        if (!d->type)
                return fail(ret_error, "domain '%s' has no type", name);
        d->running = power && strcmp(power, "Running") == 0;
        if (get_truth(o, "template_for_dispvms", &d->template_for_dispvms) < 0 ||
            get_truth(o, "internal", &d->internal) < 0)
                return fail(ret_error, "domain '%s': a flag must be a boolean", name);

        tags = json_object_get(o, "tags");
        if (tags && tags->type != JSON_NULL) {
                if (tags->type != JSON_ARRAY)
                        return fail(ret_error, "domain '%s': 'tags' must be an array", name);
                d->tags = calloc(tags->n_items ? tags->n_items : 1, sizeof(char *));
                if (!d->tags)
                        return -ENOMEM;
                for (size_t i = 0; i < tags->n_items; i++) {
                        if (tags->items[i]->type != JSON_STRING)
                                return fail(ret_error, "domain '%s': tags must be strings", name);
                        d->tags[i] = strdup(tags->items[i]->string);
                        if (!d->tags[i])
                                return -ENOMEM;
                        d->n_tags++;
                }
        }
        return 0;
}

int policy_system_parse(const char *json, size_t size, PolicySystem **ret, char **ret_error) {
        _cleanup_json_ JsonValue *root = NULL;
        PolicySystem *s;
        const JsonValue *domains;
        size_t offset = 0;
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = json_parse(json, size, &root, &offset);
        if (r == -ENOMEM)
                return r;
        if (r == -E2BIG)
                return fail(ret_error, "system info exceeds a size limit (near byte %zu)", offset);
        if (r < 0)
                return fail(ret_error, "system info is not valid JSON (byte %zu)", offset);
        domains = json_object_get(root, "domains");
        if (!domains || domains->type != JSON_OBJECT)
                return fail(ret_error, "system info has no \"domains\" object");

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->domains = calloc(domains->n_items ? domains->n_items : 1, sizeof(PolicyDomain));
        if (!s->domains) {
                free(s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < domains->n_items; i++) {
                r = domain_from_json(domains->keys[i], domains->items[i], &s->domains[i], ret_error);
                s->n_domains++;
                if (r < 0) {
                        policy_system_free(s);
                        return r;
                }
        }
        qsort(s->domains, s->n_domains, sizeof(PolicyDomain), compare_domains);
        *ret = s;
        return 0;
}
