/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disposables: a DispVM named disp<N> made from a disposable template (an
 * AppVM with template_for_dispvms=True), started at once, for one call (a
 * qrexec-policyd request, CreateDisposable, `qubes-ctl run --dispvm`).  Its
 * private data is volatile, so a DispVM that stops, for any reason, is removed
 * (domain-wait.c), and DispVMs left halted by a crash of qubesd are removed
 * when qubesd starts: nothing of a disposable outlives it.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"

struct dispvm_job {
        dispvm_done_fn done;
        void *userdata;
};

/* The first free disp<N>, N in 1..DOMAIN_QID_MAX. */
static int pick_name(struct qubesd *q, char *name, size_t size) {
        for (unsigned n = 1; n <= DOMAIN_QID_MAX; n++) {
                snprintf(name, size, "disp%u", n);
                if (!domain_set_find(q->set, name) && !qubesd_name_reserved(q, name))
                        return 0;
        }
        return -ENOSPC;
}

static void on_dispvm_running(struct qubesd *q, const char *name, int error, const char *message, void *userdata) {
        _cleanup_free_ struct dispvm_job *job = userdata;

        if (error == 0)
                log_info("%s: disposable running", name);
        /* a failed one stopped, and so is being removed already */
        job->done(q, error, name, message, job->userdata);
}

static int set_checked(struct qubesd *q, struct domain *d, const char *property, const char *untrusted_value,
                       sd_bus_error *error) {
        const struct prop_def *p = prop_find(property, false);
        _cleanup_free_ char *value = malloc(PROP_VALUE_MAX);
        char message[512] = "";
        int r;

        if (!p || !value)
                return -ENOMEM;
        r = prop_check(q->set, d, p, untrusted_value, value, PROP_VALUE_MAX, message, sizeof(message));
        if (r < 0)
                return admin_error_from_errno(error, r, message[0] ? message : p->name);
        return domain_set_value(d, p, value);
}

int dispvm_create(struct qubesd *q, const char *untrusted_template, dispvm_done_fn done, void *userdata,
                  sd_bus_error *error) {
        char name[DOMAIN_NAME_MAX + 1], template[DOMAIN_NAME_MAX + 1], label[64], message[512] = "";
        struct dispvm_job *job;
        struct domain *d = NULL, *t;
        int r;

        if (untrusted_template[0])
                snprintf(template, sizeof(template), "%s", untrusted_template);
        else
                prop_text(q, NULL, "default_dispvm", template, sizeof(template));
        if (!template[0])
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "No disposable template given and the global default_dispvm is not set");
        t = domain_set_find(q->set, template);
        if (!t || strlen(untrusted_template) > DOMAIN_NAME_MAX)
                return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "No domain named '%s'", untrusted_template[0] ?
                                    untrusted_template : template);
        r = pick_name(q, name, sizeof(name));
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_IN_USE, "No free disposable name (disp1..disp%d)",
                                    DOMAIN_QID_MAX);
        r = domain_new(q->set, name, DOMAIN_DISPVM, &d, message, sizeof(message));
        if (r < 0)
                return admin_error_from_errno(error, r, message[0] ? message : "cannot make a disposable");
        /* the template's checks say whether it may make disposables */
        r = set_checked(q, d, "template", t->name, error);
        prop_text(q, t, "label", label, sizeof(label));
        if (r >= 0 && label[0])
                r = set_checked(q, d, "label", label, error);
        if (r < 0) {
                domain_free(d);
                return r;
        }
        r = domain_commit_new(q, d, NULL, error);       /* takes d */
        if (r < 0)
                return r;
        d = domain_set_find(q->set, name);
        if (!d)
                return -ENOENT;

        r = lifecycle_start(q, d, NULL, error);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                (void) domain_remove(q, NULL, name, &e);
                return r;
        }
        log_info("%s: disposable from %s, starting", name, t->name);
        job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;         /* it runs; it is removed when it stops */
        *job = (struct dispvm_job) { .done = done, .userdata = userdata };
        r = domain_wait_running(q, name, on_dispvm_running, job);
        if (r < 0) {
                free(job);
                return r;
        }
        return 0;
}

void dispvm_remove_leftovers(struct qubesd *q) {
        for (size_t i = 0; i < q->set->n_domains; i++) {
                struct domain *d = q->set->domains[i];

                if (d->klass == DOMAIN_DISPVM && (d->state == POWER_HALTED || d->state == POWER_CRASHED)) {
                        log_info("%s: disposable left halted by an earlier run, removing it", d->name);
                        (void) domain_wait_remove(q, d->name);
                }
        }
}

/* ---------------------------------------------------------------- CreateDisposable */

static void on_disposable_created(struct qubesd *q, int error, const char *name, const char *message,
                                  void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata;
        _cleanup_free_ char *path = NULL;

        if (error < 0) {
                (void) admin_error_reply(m, ADMIN_ERROR_BACKEND, "%s",
                                         message && *message ? message : strerror(-error));
                return;
        }
        path = admin_domain_path(name);
        if (!path) {
                (void) sd_bus_reply_method_errno(m, ENOMEM, NULL);
                return;
        }
        (void) sd_bus_reply_method_return(m, "so", name, path);
}

int admin_method_create_disposable(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct qubesd *q = userdata;
        const char *untrusted_template;
        int r;

        r = sd_bus_message_read(m, "s", &untrusted_template);
        if (r < 0)
                return r;
        sd_bus_message_ref(m);
        r = dispvm_create(q, untrusted_template, on_disposable_created, m, error);
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        return 1;
}
