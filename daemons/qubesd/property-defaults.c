/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Computed defaults.  Most follow the template chain as Qubes does (a
 * DispVM -> its disposable template -> that AppVM's TemplateVM), then a
 * global property or a built-in value.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "property-internal.h"

/* Deeper than any valid chain (DispVM -> AppVM -> TemplateVM); guards
 * against a chain that loops in a damaged database. */
#define CHAIN_DEPTH_MAX 8

static int copy_text(const char *value, char *buf, size_t size) {
        if (strlen(value) >= size)
                return -ENOBUFS;
        strcpy(buf, value);
        return 0;
}

struct domain *domain_get_template(const struct domain_set *set, const struct domain *d) {
        if (!set || !d || (d->klass != DOMAIN_APPVM && d->klass != DOMAIN_DISPVM))
                return NULL;
        struct domain *t = prop_get_domain(set, d, PROP_ID_TEMPLATE);
        return t == d ? NULL : t;
}

/* The template's effective value of property id, else the fallback (a
 * global property's effective value when global_id >= 0, else the text). */
static int from_template(const struct domain_set *set, const struct domain *d, enum prop_id id, int global_id,
                         const char *fallback, char *buf, size_t size) {
        static _Thread_local unsigned depth;
        struct domain *t = depth < CHAIN_DEPTH_MAX ? domain_get_template(set, d) : NULL;
        int r;

        if (t) {
                depth++;
                r = prop_get(set, t, &prop_table[id], buf, size, NULL);
                depth--;
                return r;
        }
        if (global_id >= 0)
                return prop_get(set, NULL, &prop_table[global_id], buf, size, NULL);
        return copy_text(fallback, buf, size);
}

int default_template(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        if (d->klass == DOMAIN_APPVM)
                return prop_get(set, NULL, PROP(DEFAULT_TEMPLATE), buf, size, NULL);
        if (d->klass == DOMAIN_DISPVM)
                return prop_get(set, NULL, PROP(DEFAULT_DISPVM_GLOBAL), buf, size, NULL);
        return -ENOENT;
}

static void netvm_resolve(const struct domain_set *set, const struct domain *x, const struct domain *changed,
                          const char *changed_netvm, const char *global_netvm, unsigned depth, char *buf,
                          size_t size);

/* Where x's netvm points when x sets none. */
static void netvm_default_resolve(const struct domain_set *set, const struct domain *x, const struct domain *changed,
                                  const char *changed_netvm, const char *global_netvm, unsigned depth, char *buf,
                                  size_t size) {
        struct domain *t;
        const char *value;

        buf[0] = '\0';
        if (x->klass == DOMAIN_TEMPLATEVM || x->klass == DOMAIN_ADMINVM)
                return;         /* templates update through a proxy; dom0 is never networked */
        if (x->klass == DOMAIN_DISPVM) {
                /* a disposable is networked like its disposable template */
                t = domain_get_template(set, x);
                if (t && depth < CHAIN_DEPTH_MAX)
                        netvm_resolve(set, t, changed, changed_netvm, global_netvm, depth + 1, buf, size);
                if (t)
                        return;
        }
        value = global_netvm ?: set->globals[PROP_ID_DEFAULT_NETVM] ?: "";
        if (strcmp(value, x->name) != 0 && strlen(value) < size)       /* the default netvm is not its own client */
                strcpy(buf, value);
}

static void netvm_resolve(const struct domain_set *set, const struct domain *x, const struct domain *changed,
                          const char *changed_netvm, const char *global_netvm, unsigned depth, char *buf,
                          size_t size) {
        const char *value;

        if (x == changed && changed_netvm)
                value = changed_netvm;
        else if (x->values[PROP_ID_NETVM])
                value = x->values[PROP_ID_NETVM];
        else {
                netvm_default_resolve(set, x, changed, changed_netvm, global_netvm, depth, buf, size);
                return;
        }
        buf[0] = '\0';
        if (strlen(value) < size)
                strcpy(buf, value);
}

void netvm_effective(const struct domain_set *set, const struct domain *x, const struct domain *changed,
                     const char *changed_netvm, const char *global_netvm, char *buf, size_t size) {
        netvm_resolve(set, x, changed, changed_netvm, global_netvm, 0, buf, size);
}

int default_netvm(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        char value[DOMAIN_NAME_MAX + 1];

        netvm_default_resolve(set, d, NULL, NULL, NULL, 0, value, sizeof(value));
        return copy_text(value, buf, size);
}

int default_default_dispvm(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        if (d->klass == DOMAIN_DISPVM) {
                struct domain *t = domain_get_template(set, d);
                if (t)
                        return copy_text(t->name, buf, size);
        }
        return prop_get(set, NULL, PROP(DEFAULT_DISPVM_GLOBAL), buf, size, NULL);
}

int default_backend(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_BACKEND, PROP_ID_DEFAULT_BACKEND, NULL, buf, size);
}

int default_memory(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_MEMORY, -1, "400", buf, size);
}

int default_maxmem(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_MAXMEM, -1, "4000", buf, size);
}

int default_vcpus(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_VCPUS, -1, "2", buf, size);
}

int default_virt_mode(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_VIRT_MODE, -1, "pvh", buf, size);
}

int default_kernel(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_KERNEL, PROP_ID_DEFAULT_KERNEL, NULL, buf, size);
}

int default_default_user(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_DEFAULT_USER, -1, "user", buf, size);
}

int default_qrexec_timeout(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_QREXEC_TIMEOUT, PROP_ID_DEFAULT_QREXEC_TIMEOUT, NULL, buf, size);
}

int default_shutdown_timeout(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        return from_template(set, d, PROP_ID_SHUTDOWN_TIMEOUT, PROP_ID_DEFAULT_SHUTDOWN_TIMEOUT, NULL, buf, size);
}

int default_include_in_backups(const struct domain_set *set _unused_, const struct domain *d, char *buf,
                               size_t size) {
        return copy_text(d->klass == DOMAIN_DISPVM ? "False" : "True", buf, size);
}

/*
 * Qubes' vmid_to_ipv4: 10.137.0.<qid> below 255, then spread over the third
 * byte so that no address ends in .0 or .255.  Disposables use 10.138.
 */
int default_ip(const struct domain_set *set, const struct domain *d, char *buf, size_t size) {
        char netvm[DOMAIN_NAME_MAX + 1];
        unsigned third, fourth;

        if (d->klass == DOMAIN_ADMINVM)
                return -ENOENT;
        netvm_effective(set, d, NULL, NULL, NULL, netvm, sizeof(netvm));
        if (netvm[0] == '\0')
                return -ENOENT;
        if (d->qid < 255) {
                third = 0;
                fourth = d->qid;
        } else {
                third = (d->qid - 1) / 254;
                fourth = (d->qid - 1) % 254 + 1;
        }
        if (snprintf(buf, size, "10.%u.%u.%u", d->klass == DOMAIN_DISPVM ? 138 : 137, third, fourth) >= (int) size)
                return -ENOBUFS;
        return 0;
}
