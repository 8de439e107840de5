/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend lookup by the `backend` property, and qubesd's running backend instances. */
#include <string.h>

#include "log.h"
#include "qubesd.h"

const struct hal_backend_ops *hal_find(const char *backend) {
        if (!backend || !*backend || strcmp(backend, "native") == 0)
                return &hal_native_ops;
        if (strncmp(backend, "libvirt:", 8) == 0)
                log_debug("Backend '%s': the libvirt backend is not built yet.", backend);
        return NULL;
}

int qubesd_backend_get(struct qubesd *q, const char *kind, const struct hal_backend_ops **ret_ops,
                       struct hal_backend **ret_backend) {
        const struct hal_backend_ops *ops = hal_find(kind);
        int r;

        if (!ops)
                return strncmp(kind ?: "", "libvirt:", 8) == 0 ? -EOPNOTSUPP : -EINVAL;
        for (size_t i = 0; i < q->n_backends; i++)
                if (q->backends[i].ops == ops) {
                        *ret_ops = ops;
                        *ret_backend = q->backends[i].backend;
                        return 0;
                }
        if (q->n_backends >= QUBESD_BACKEND_MAX)
                return -ENOSPC;
        struct hal_backend *b = NULL;
        r = ops->new(q->event, q->runtime_dir, q->state_dir, lifecycle_on_backend_event, q, &b);
        if (r < 0)
                return r;
        q->backends[q->n_backends].ops = ops;
        q->backends[q->n_backends].backend = b;
        q->n_backends++;
        *ret_ops = ops;
        *ret_backend = b;
        return 0;
}

/* The native backend forks its spawner: open it before the sandbox. */
int qubesd_backends_open(struct qubesd *q) {
        const struct hal_backend_ops *ops;
        struct hal_backend *b;
        int r;

        r = qubesd_backend_get(q, "native", &ops, &b);
        if (r < 0)
                return log_error_errno(r, "Cannot start the native backend");
        return 0;
}

void qubesd_backends_close(struct qubesd *q) {
        for (size_t i = 0; i < q->n_backends; i++)
                q->backends[i].ops->free(q->backends[i].backend);
        q->n_backends = 0;
}
