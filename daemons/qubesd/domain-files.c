/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CreateDomain, CloneDomain, RemoveDomain: the database first (a change is
 * acknowledged only once committed), the domain's directory
 * <state>/domains/<name> through the file worker (copies and deletions
 * never run in the event loop).  A name being created, cloned or removed is
 * reserved until the job ended.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"
#include "worker.h"


bool qubesd_name_reserved(struct qubesd *q, const char *name) {
        for (size_t i = 0; i < q->n_reserved; i++)
                if (strcmp(q->reserved_names[i], name) == 0)
                        return true;
        return false;
}

int qubesd_reserve_name(struct qubesd *q, const char *name) {
        char **grown = reallocarray(q->reserved_names, q->n_reserved + 1, sizeof(char *));
        if (!grown)
                return -ENOMEM;
        q->reserved_names = grown;
        if (!(grown[q->n_reserved] = strdup(name)))
                return -ENOMEM;
        q->n_reserved++;
        return 0;
}

void qubesd_release_name(struct qubesd *q, const char *name) {
        for (size_t i = 0; i < q->n_reserved; i++)
                if (strcmp(q->reserved_names[i], name) == 0) {
                        free(q->reserved_names[i]);
                        q->reserved_names[i] = q->reserved_names[--q->n_reserved];
                        return;
                }
}

/* The a{sv} of CreateDomain/CloneDomain, each checked by the table, onto d. */
static int apply_properties(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error) {
        _cleanup_free_ char *untrusted_text = malloc(PROP_VALUE_MAX), *value = malloc(PROP_VALUE_MAX);
        const char *untrusted_key;
        char message[512];
        int r;

        if (!untrusted_text || !value)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const struct prop_def *p;

                r = sd_bus_message_read(m, "s", &untrusted_key);
                if (r < 0)
                        return r;
                p = prop_find(untrusted_key, false);
                if (!p || (p->flags & PROP_GLOBAL))
                        return admin_errorf(error, ADMIN_ERROR_NO_SUCH_PROPERTY, "%s: no property '%s'", d->name,
                                            untrusted_key);
                if (p->flags & (PROP_READ_ONLY | PROP_WRITE_ONCE))
                        return admin_errorf(error, ADMIN_ERROR_READ_ONLY, "%s: %s cannot be set", d->name, p->name);
                r = admin_read_value(m, p, true, untrusted_text, PROP_VALUE_MAX);
                if (r < 0)
                        return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: %s: expected a %s value", d->name,
                                            p->name, admin_type_signature(p->type));
                message[0] = '\0';
                r = prop_check(q->set, d, p, untrusted_text, value, PROP_VALUE_MAX, message, sizeof(message));
                if (r < 0)
                        return admin_error_from_errno(error, r, message[0] ? message : p->name);
                r = domain_set_value(d, p, value);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Commit and publish a new domain; answers m with its path. */
int domain_commit_new(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error) {
        _cleanup_free_ char *path = admin_domain_path(d->name);
        int r;

        if (!path) {
                domain_free(d);
                return -ENOMEM;
        }
        r = store_add_domain(q->store, d);
        if (r < 0) {
                log_error_errno(r, "%s: cannot save the new domain", d->name);
                domain_free(d);
                return sd_bus_error_set_errnof(error, r, "Cannot save the new domain: %s", strerror(-r));
        }
        r = domain_set_add(q->set, d);
        if (r < 0) {
                /* the database has it: it comes back at the next load */
                domain_free(d);
                return sd_bus_error_set_errnof(error, r, "Cannot add the new domain: %s", strerror(-r));
        }
        log_info("%s: created (%s, qid %u)", d->name, domain_class_to_string(d->klass), d->qid);
        admin_emit_domain_added(q, d);
        return m ? sd_bus_reply_method_return(m, "o", path) : 0;
}

/* A creation that waits for a copy. */
struct create_job {
        struct qubesd *q;
        struct domain *domain;
        sd_bus_message *message;
        struct domain_run *source;      /* busy while it is copied */
        char *copy_target;
        char *shift_path;               /* a root tree in the copy to move into the new domain's uids */
        uint32_t shift_from;            /* the uid base of the tree's old domain */
};

static void on_remove_partial_done(void *userdata, int result) {
        char *path = userdata;
        if (result != 0)
                log_warning("Cannot remove the partial copy %s (%d)", path, result);
        free(path);
}

/* The copy (and the shift) ended: commit, or undo. */
static void create_job_finish(struct create_job *job, int result, const char *what) {
        struct qubesd *q = job->q;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (job->source && job->source->busy > 0)
                job->source->busy--;
        qubesd_release_name(q, job->domain->name);
        if (result != 0) {
                log_error("%s: %s its files failed (%d)", job->domain->name, what, result);
                (void) admin_error_reply(job->message, ADMIN_ERROR_BACKEND, "%s: %s the files failed (%s %d)",
                                         job->domain->name, what, result < 0 ? "error" : "status", result);
                if (worker_run(q->worker, WORKER_REMOVE_TREE, job->copy_target, NULL, NULL, -1,
                               on_remove_partial_done, job->copy_target) >= 0)
                        job->copy_target = NULL;
                domain_free(job->domain);
        } else if (domain_commit_new(q, job->domain, job->message, &e) < 0)
                (void) sd_bus_reply_method_error(job->message, &e);
        sd_bus_message_unref(job->message);
        free(job->copy_target);
        free(job->shift_path);
        free(job);
}

static void on_shift_done(void *userdata, int result) {
        create_job_finish(userdata, result, "giving the domain");
}

static void on_copy_done(void *userdata, int result) {
        struct create_job *job = userdata;

        /* the copy's root tree belongs to the source's uids: make it the new domain's */
        if (result == 0 && job->shift_path) {
                int r = worker_shift_ids(job->q->worker, job->shift_path, job->shift_from,
                                         hal_native_uid_base(job->domain->qid), on_shift_done, job);
                if (r >= 0)
                        return;
                result = r;
        }
        create_job_finish(job, result, "copying");
}

/* Copy from to to (taken), then, when shift_path (taken) is set, move that
 * tree from the uid base shift_from to d's. */
static int start_copy(struct qubesd *q, struct domain *d, sd_bus_message *m, struct domain_run *source,
                      const char *from, char *to, char *shift_path, uint32_t shift_from, sd_bus_error *error) {
        struct create_job *job = calloc(1, sizeof(*job));
        int r;

        if (!job) {
                free(to);
                free(shift_path);
                domain_free(d);
                return -ENOMEM;
        }
        *job = (struct create_job) { .q = q, .domain = d, .message = sd_bus_message_ref(m), .source = source,
                                     .copy_target = to, .shift_path = shift_path, .shift_from = shift_from };
        r = qubesd_reserve_name(q, d->name);
        if (r >= 0)
                r = mkdir_p(q->state_dir, 0750);
        if (r >= 0) {
                _cleanup_free_ char *domains = NULL;
                if (asprintf(&domains, "%s/domains", q->state_dir) < 0)
                        r = -ENOMEM;
                else
                        r = mkdir_p(domains, 0750);
        }
        if (r >= 0)
                r = worker_run(q->worker, WORKER_COPY_TREE, from, to, NULL, -1, on_copy_done, job);
        if (r < 0) {
                qubesd_release_name(q, d->name);
                sd_bus_message_unref(job->message);
                free(job->copy_target);
                free(job->shift_path);
                free(job);
                domain_free(d);
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "Cannot start copying %s: %s", from, strerror(-r));
        }
        if (source)
                source->busy++;
        return 0;
}

static int check_new_name(struct qubesd *q, const char *untrusted_name, sd_bus_error *error) {
        if (domain_set_find(q->set, untrusted_name) || qubesd_name_reserved(q, untrusted_name))
                return admin_errorf(error, ADMIN_ERROR_ALREADY_EXISTS, "A domain named '%s' already exists",
                                    untrusted_name);
        return 0;
}

int domain_create(struct qubesd *q, sd_bus_message *m, const char *untrusted_name, const char *untrusted_klass,
                  sd_bus_error *error) {
        enum domain_class klass = domain_class_from_string(untrusted_klass);
        struct domain *d = NULL;
        const struct prop_def *label = prop_find("label", false);
        char message[512] = "";
        int r;

        if (klass != DOMAIN_APPVM && klass != DOMAIN_TEMPLATEVM && klass != DOMAIN_STANDALONEVM &&
            klass != DOMAIN_DISPVM)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "klass: '%s' is not one of AppVM, TemplateVM, StandaloneVM, DispVM", untrusted_klass);
        r = check_new_name(q, untrusted_name, error);
        if (r < 0)
                return r;
        r = domain_new(q->set, untrusted_name, klass, &d, message, sizeof(message));
        if (r < 0)
                return admin_error_from_errno(error, r == -EEXIST ? r : -EINVAL,
                                              message[0] ? message : "invalid domain name");
        r = apply_properties(q, d, m, error);
        if (r >= 0 && label && !d->values[prop_index(label)])
                r = admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: label is required (one of red, orange, "
                                 "yellow, green, gray, blue, purple, black)", d->name);
        if (r < 0) {
                domain_free(d);
                return r;
        }

        /* A StandaloneVM gets its own copy of its template's tree, when that has one. */
        if (klass == DOMAIN_STANDALONEVM) {
                char template[DOMAIN_NAME_MAX + 1] = "";
                const struct prop_def *p = prop_find("template", false);
                bool is_default;
                struct domain *t;

                if (p && prop_get(q->set, d, p, template, sizeof(template), &is_default) >= 0 && template[0] &&
                    (t = domain_set_find(q->set, template))) {
                        _cleanup_free_ char *from = domain_own_root(q, t);
                        char *to = domain_dir(q, d->name, "root"), *shift = to ? strdup(to) : NULL;
                        if (from && to && shift)
                                return start_copy(q, d, m, domain_run_get(q, t), from, to, shift,
                                                  hal_native_uid_base(t->qid), error);
                        free(to);
                        free(shift);
                }
        }
        return domain_commit_new(q, d, m, error);
}

int domain_clone(struct qubesd *q, sd_bus_message *m, const char *untrusted_source, const char *untrusted_name,
                 sd_bus_error *error) {
        struct domain *source = domain_set_find(q->set, untrusted_source);
        struct domain_run *source_run;
        struct domain *d = NULL;
        char message[512] = "";
        int r;

        if (!source)
                return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "No domain named '%s'", untrusted_source);
        if (source->klass == DOMAIN_ADMINVM)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: the admin domain cannot be cloned",
                                    source->name);
        if (source->state != POWER_HALTED && source->state != POWER_CRASHED)
                return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s must be halted to be cloned (it is %s)",
                                    source->name, power_state_to_string(source->state));
        r = check_new_name(q, untrusted_name, error);
        if (r < 0)
                return r;
        source_run = domain_run_get(q, source);
        if (!source_run)
                return -ENOMEM;
        r = domain_new(q->set, untrusted_name, source->klass, &d, message, sizeof(message));
        if (r < 0)
                return admin_error_from_errno(error, r == -EEXIST ? r : -EINVAL,
                                              message[0] ? message : "invalid domain name");
        for (size_t i = 0; r >= 0 && i < prop_table_size; i++)
                if (source->values[i] && !(prop_table[i].flags & (PROP_WRITE_ONCE | PROP_READ_ONLY | PROP_GLOBAL)))
                        r = domain_set_value(d, &prop_table[i], source->values[i]);
        for (size_t i = 0; r >= 0 && i < source->n_tags; i++)
                r = domain_add_tag(d, source->tags[i]);
        for (size_t i = 0; r >= 0 && i < source->n_features; i++)
                r = domain_set_feature(d, source->features[i].key, source->features[i].value);
        if (r >= 0)
                r = apply_properties(q, d, m, error);
        if (r < 0) {
                domain_free(d);
                return r;
        }

        _cleanup_free_ char *from = domain_dir(q, source->name, NULL);
        char *to = domain_dir(q, d->name, NULL);
        if (!from || !to) {
                free(to);
                domain_free(d);
                return -ENOMEM;
        }
        if (access(from, F_OK) < 0) {
                /* never started, nothing on disk to copy */
                free(to);
                return domain_commit_new(q, d, m, error);
        }
        /* a TemplateVM's or StandaloneVM's own root tree in there becomes the clone's */
        char *shift = NULL;
        if (source->klass == DOMAIN_TEMPLATEVM || source->klass == DOMAIN_STANDALONEVM) {
                _cleanup_free_ char *root = path_join(from, "root");
                if (!root) {
                        free(to);
                        domain_free(d);
                        return -ENOMEM;
                }
                if (access(root, F_OK) >= 0 && !(shift = path_join(to, "root"))) {
                        free(to);
                        domain_free(d);
                        return -ENOMEM;
                }
        }
        return start_copy(q, d, m, source_run, from, to, shift, hal_native_uid_base(source->qid), error);
}

struct remove_job {
        struct qubesd *q;
        struct domain *domain;
        sd_bus_message *message;
};

static void on_remove_done(void *userdata, int result) {
        struct remove_job *job = userdata;

        if (result != 0)
                log_warning("%s: removing its directory failed (%d); it is out of the database", job->domain->name,
                            result);
        qubesd_release_name(job->q, job->domain->name);
        if (job->message)
                (void) sd_bus_reply_method_return(job->message, NULL);
        sd_bus_message_unref(job->message);
        domain_free(job->domain);
        free(job);
}

/* m NULL: nobody to answer (a disposable that stopped). */
int domain_remove(struct qubesd *q, sd_bus_message *m, const char *untrusted_name, sd_bus_error *error) {
        struct domain *d = domain_set_find(q->set, untrusted_name);
        struct domain_run *run;
        char message[1024] = "";
        int r;

        if (!d)
                return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "No domain named '%s'", untrusted_name);
        if (d->klass == DOMAIN_ADMINVM)
                return admin_errorf(error, ADMIN_ERROR_IN_USE, "%s: the admin domain cannot be removed", d->name);
        if (d->state != POWER_HALTED && d->state != POWER_CRASHED)
                return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s must be halted to be removed (it is %s)",
                                    d->name, power_state_to_string(d->state));
        run = domain_run_get(q, d);
        if (!run)
                return -ENOMEM;
        if (run->busy > 0)
                return admin_errorf(error, ADMIN_ERROR_IN_USE, "%s: its files are being copied", d->name);

        r = domain_set_remove(q->set, d, message, sizeof(message));
        if (r == -EBUSY)
                return admin_errorf(error, ADMIN_ERROR_IN_USE, "%s", message[0] ? message : "the domain is in use");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot remove: %s", d->name, strerror(-r));
        r = store_remove_domain(q->store, d->name);
        if (r < 0) {
                (void) domain_set_add(q->set, d);
                return sd_bus_error_set_errnof(error, r, "%s: cannot save the removal: %s", d->name, strerror(-r));
        }
        domain_run_free(q, d);
        log_info("%s: removed", d->name);
        admin_emit_domain_removed(q, d->name);

        struct remove_job *job = calloc(1, sizeof(*job));
        _cleanup_free_ char *dir = domain_dir(q, d->name, NULL);
        if (!job || !dir || qubesd_reserve_name(q, d->name) < 0) {
                free(job);
                domain_free(d);
                return m ? sd_bus_reply_method_return(m, NULL) : 0;
        }
        *job = (struct remove_job) { .q = q, .domain = d, .message = sd_bus_message_ref(m) };
        r = worker_run(q->worker, WORKER_REMOVE_TREE, dir, NULL, NULL, -1, on_remove_done, job);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot remove %s", d->name, dir);
                on_remove_done(job, r);
        }
        return 0;
}
