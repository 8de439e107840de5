/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Work that waits for a domain to run or to stop (a start asked for by
 * qrexec-policyd, a disposable being made, a Run with autostart, a kill
 * request, the removal of a stopped DispVM), and what every power state
 * change means for qrexec (system info for policyd, the data sockets of Run).
 *
 * domain_set_state() is called from inside the lifecycle's callbacks, which
 * keep using the domain's run record afterwards; so waiters are never called
 * from there: a state change only arms a defer source, and the waiters look at
 * the domain's state when it fires.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

enum waiter_kind {
        WAIT_RUNNING,
        WAIT_STOPPED,
        WAIT_REMOVE,            /* no callback: remove the (DispVM) domain once halted */
};

struct domain_waiter {
        enum waiter_kind kind;
        char name[DOMAIN_NAME_MAX + 1];
        domain_wait_fn fn;
        void *userdata;
        struct domain_waiter *next;
};

static bool is_stopped(enum power_state s) {
        return s == POWER_HALTED || s == POWER_CRASHED;
}

static int dispatch_waiters(sd_event_source *s, void *userdata);

static int waiter_add(struct qubesd *q, enum waiter_kind kind, const char *name, domain_wait_fn fn, void *userdata) {
        struct domain_waiter *w;
        int r;

        if (strlen(name) > DOMAIN_NAME_MAX)
                return -EINVAL;
        if (!q->waiter_dispatch) {
                r = sd_event_add_defer(q->event, &q->waiter_dispatch, dispatch_waiters, q);
                if (r < 0)
                        return r;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (struct domain_waiter) { .kind = kind, .fn = fn, .userdata = userdata, .next = q->waiters };
        strcpy(w->name, name);
        q->waiters = w;
        /* the condition may hold already: look at once */
        return sd_event_source_set_enabled(q->waiter_dispatch, SD_EVENT_ONESHOT);
}

int domain_wait_running(struct qubesd *q, const char *name, domain_wait_fn fn, void *userdata) {
        return waiter_add(q, WAIT_RUNNING, name, fn, userdata);
}

int domain_wait_stopped(struct qubesd *q, const char *name, domain_wait_fn fn, void *userdata) {
        return waiter_add(q, WAIT_STOPPED, name, fn, userdata);
}

int domain_wait_remove(struct qubesd *q, const char *name) {
        for (struct domain_waiter *w = q->waiters; w; w = w->next)
                if (w->kind == WAIT_REMOVE && strcmp(w->name, name) == 0)
                        return 0;
        return waiter_add(q, WAIT_REMOVE, name, NULL, NULL);
}

/* > 0: done (error in *ret_error), 0: keep waiting. */
static int waiter_ready(struct qubesd *q, const struct domain_waiter *w, int *ret_error, char *message,
                        size_t size) {
        struct domain *d = domain_set_find(q->set, w->name);

        *ret_error = 0;
        switch (w->kind) {
        case WAIT_RUNNING:
                if (!d) {
                        snprintf(message, size, "%s was removed before it ran", w->name);
                        *ret_error = -ENOENT;
                        return 1;
                }
                if (d->state == POWER_RUNNING)
                        return 1;
                if (d->state == POWER_TRANSIENT)
                        return 0;
                snprintf(message, size, "%s did not start (it is %s)", d->name, power_state_to_string(d->state));
                *ret_error = -EHOSTDOWN;
                return 1;
        case WAIT_STOPPED:
        case WAIT_REMOVE:
                return !d || is_stopped(d->state);
        }
        return 1;
}

static void remove_halted(struct qubesd *q, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct domain *d = domain_set_find(q->set, name);

        if (!d || d->klass != DOMAIN_DISPVM)
                return;
        if (domain_remove(q, NULL, name, &e) < 0)
                log_warning("%s: cannot remove the disposable: %s", name, e.message ?: "error");
        else
                log_info("%s: disposable removed", name);
}

static int dispatch_waiters(sd_event_source *s, void *userdata) {
        struct qubesd *q = userdata;
        struct domain_waiter *ready = NULL;
        char message[256];

        /* Take the ready ones out first: their callbacks may add waiters. */
        for (struct domain_waiter **p = &q->waiters; *p;) {
                struct domain_waiter *w = *p;
                int error;

                message[0] = '\0';
                if (waiter_ready(q, w, &error, message, sizeof(message)) == 0) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                w->next = ready;
                ready = w;
        }
        while (ready) {
                struct domain_waiter *w = ready;
                int error;

                ready = w->next;
                message[0] = '\0';
                (void) waiter_ready(q, w, &error, message, sizeof(message));
                if (w->kind == WAIT_REMOVE)
                        remove_halted(q, w->name);
                else
                        w->fn(q, w->name, error, message, w->userdata);
                free(w);
        }
        return 0;
}

void domain_state_changed(struct qubesd *q, struct domain *d, enum power_state old_state) {
        policy_link_domain_changed(q, d);
        if (is_stopped(d->state)) {
                admin_run_domain_gone(q, d->qid);
                /* its private data was volatile: nothing of it may stay */
                if (d->klass == DOMAIN_DISPVM && !is_stopped(old_state))
                        (void) domain_wait_remove(q, d->name);
        }
        if (q->waiters && q->waiter_dispatch)
                (void) sd_event_source_set_enabled(q->waiter_dispatch, SD_EVENT_ONESHOT);
}

void domain_waiters_free(struct qubesd *q) {
        while (q->waiters) {
                struct domain_waiter *w = q->waiters;
                q->waiters = w->next;
                /* the callbacks own what their userdata holds */
                if (w->fn)
                        w->fn(q, w->name, -ECANCELED, "qubesd is stopping", w->userdata);
                free(w);
        }
        q->waiter_dispatch = sd_event_source_disable_unref(q->waiter_dispatch);
}
