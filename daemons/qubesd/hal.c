/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend lookup by the `backend` property, and qubesd's running backend instances. */
#include <string.h>

#include "log.h"
#include "qubesd.h"

#define LIBVIRT_BACKEND_PREFIX "libvirt:"

/* The address part of a `backend` value ("libvirt:URI" → "URI"), NULL when it has none. */
static const char *backend_address(const char *backend) {
        if (backend && strncmp(backend, LIBVIRT_BACKEND_PREFIX, strlen(LIBVIRT_BACKEND_PREFIX)) == 0)
                return backend + strlen(LIBVIRT_BACKEND_PREFIX);
        return NULL;
}

const struct hal_backend_ops *hal_find(const char *backend) {
        const char *address = backend_address(backend);

        if (!backend || !*backend || strcmp(backend, "native") == 0)
                return &hal_native_ops;
        if (address && *address)
                return &hal_libvirt_ops;
        return NULL;
}

int qubesd_backend_get(struct qubesd *q, const char *kind, const struct hal_backend_ops **ret_ops,
                       struct hal_backend **ret_backend) {
        const struct hal_backend_ops *ops = hal_find(kind);
        const char *address = backend_address(kind);
        int r;

        if (!ops)
                return -EINVAL;
        for (size_t i = 0; i < q->n_backends; i++)
                if (q->backends[i].ops == ops &&
                    (!ops->new_at || strcmp(q->backends[i].address ?: "", address ?: "") == 0)) {
                        *ret_ops = ops;
                        *ret_backend = q->backends[i].backend;
                        return 0;
                }
        if (q->n_backends >= QUBESD_BACKEND_MAX)
                return -ENOSPC;
        _cleanup_free_ char *address_copy = NULL;
        if (ops->new_at) {
                address_copy = strdup(address ?: "");
                if (!address_copy)
                        return -ENOMEM;
        }
        struct hal_backend *b = NULL;
        if (ops->new_at)
                r = ops->new_at(q->event, address_copy, q->runtime_dir, q->state_dir, lifecycle_on_backend_event, q,
                                &b);
        else
                r = ops->new(q->event, q->runtime_dir, q->state_dir, lifecycle_on_backend_event, q, &b);
        if (r < 0)
                return r;
        q->backends[q->n_backends].ops = ops;
        q->backends[q->n_backends].backend = b;
        q->backends[q->n_backends].address = TAKE_PTR(address_copy);
        q->n_backends++;
        *ret_ops = ops;
        *ret_backend = b;
        return 0;
}

/* The native backend forks its spawner: open it before the sandbox.  So are
 * the libvirt backends the domains name (their worker threads start before the
 * sandbox, and rediscovery lists what they run). */
int qubesd_backends_open(struct qubesd *q) {
        const struct hal_backend_ops *ops;
        struct hal_backend *b;
        char value[1025];
        int r;

        r = qubesd_backend_get(q, "native", &ops, &b);
        if (r < 0)
                return log_error_errno(r, "Cannot start the native backend");
        for (size_t i = 0; i < q->set->n_domains; i++) {
                const struct domain *d = q->set->domains[i];

                if (d->klass == DOMAIN_ADMINVM ||
                    prop_get(q->set, d, prop_find("backend", false), value, sizeof(value), NULL) < 0 ||
                    !backend_address(value))
                        continue;
                r = qubesd_backend_get(q, value, &ops, &b);
                if (r < 0)
                        log_warning_errno(r, "Cannot open backend %s (domain %s)", value, d->name);
        }
        return 0;
}

void qubesd_backends_close(struct qubesd *q) {
        for (size_t i = 0; i < q->n_backends; i++) {
                q->backends[i].ops->free(q->backends[i].backend);
                free(q->backends[i].address);
        }
        q->n_backends = 0;
}
