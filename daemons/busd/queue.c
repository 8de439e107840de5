/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bounded outbound queue of a connection: what its socket or ring did not take at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "busd.h"

void outq_init(struct outq *q, size_t max_count, size_t max_bytes) {
        *q = (struct outq) { .max_count = max_count, .max_bytes = max_bytes };
}

int outq_push(struct outq *q, const void *data, size_t size) {
        struct outq_entry *e;

        if (q->count >= q->max_count || size > q->max_bytes - q->bytes)
                return -ENOBUFS;
        e = malloc(sizeof(*e) + size);
        if (!e)
                return -ENOMEM;
        *e = (struct outq_entry) { .size = size };
        memcpy(e->data, data, size);
        if (q->tail)
                q->tail->next = e;
        else
                q->head = e;
        q->tail = e;
        q->count++;
        q->bytes += size;
        return 0;
}

void outq_pop(struct outq *q) {
        struct outq_entry *e = q->head;

        if (!e)
                return;
        q->head = e->next;
        if (!q->head)
                q->tail = NULL;
        q->count--;
        q->bytes -= e->size;
        free(e);
}

void outq_clear(struct outq *q) {
        while (q->head)
                outq_pop(q);
}
