/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domain lifecycle, everything but start (lifecycle-start.c): per-domain run
 * records, power state changes, stop handling (asked for or not), shutdown,
 * kill, pause, ShutdownAll and the re-discovery of running domains after a
 * restart.  Every backend call is asynchronous; a method call that waits for
 * the result keeps its message and is answered from the callback.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "qubesd.h"

struct domain_run *domain_run_get(struct qubesd *q, struct domain *d) {
        struct domain_run *run;

        if (d->qid > DOMAIN_QID_MAX)
                return NULL;
        run = q->runs[d->qid];
        if (run && run->domain == d)
                return run;
        if (run)        /* a stale record of a removed domain with the same qid */
                domain_run_free(q, run->domain);
        run = calloc(1, sizeof(*run));
        if (!run)
                return NULL;
        *run = (struct domain_run) { .q = q, .domain = d };
        q->runs[d->qid] = run;
        return run;
}

void domain_run_free_config(struct domain_run *run) {
        free(run->cfg_template_root);
        free(run->cfg_own_root);
        free(run->cfg_private_dir);
        free(run->cfg_vchan_dir);
        free(run->cfg_default_user);
        run->cfg_template_root = run->cfg_own_root = run->cfg_private_dir = run->cfg_vchan_dir = NULL;
        run->cfg_default_user = NULL;
}

void domain_run_free(struct qubesd *q, struct domain *d) {
        struct domain_run *run = d->qid <= DOMAIN_QID_MAX ? q->runs[d->qid] : NULL;

        if (!run || run->domain != d)
                return;
        pending_calls_reply(&run->start_waiters, ADMIN_ERROR_NO_SUCH_DOMAIN, "The domain was removed");
        pending_calls_reply(&run->stop_waiters, ADMIN_ERROR_NO_SUCH_DOMAIN, "The domain was removed");
        sd_event_source_disable_unref(run->hello_timer);
        domain_run_free_config(run);
        for (size_t i = 0; i <= DOMAIN_QID_MAX; i++)
                if (q->runs[i] && q->runs[i]->waiting_for_netvm == run)
                        q->runs[i]->waiting_for_netvm = NULL;
        q->runs[d->qid] = NULL;
        free(run);
}

void domain_set_state(struct qubesd *q, struct domain *d, enum power_state state) {
        enum power_state old_state = d->state;

        if (d->state == state)
                return;
        log_info("%s: %s -> %s", d->name, power_state_to_string(d->state), power_state_to_string(state));
        d->state = state;
        admin_emit_manager_signal(q, "DomainStateChanged", "ss", d->name, power_state_to_string(state));
        admin_emit_domain_properties_changed(q, d, "state");
        domain_state_changed(q, d, old_state);
}

static bool is_stopped(enum power_state s) {
        return s == POWER_HALTED || s == POWER_CRASHED;
}

void domain_vchan_dir(struct qubesd *q, const struct domain *d, char *buf, size_t size) {
        snprintf(buf, size, "%s/vchan/%s", q->runtime_dir, d->name);
}

char *domain_dir(struct qubesd *q, const char *name, const char *sub) {
        char *path = NULL;

        if (asprintf(&path, "%s/domains/%s%s%s", q->state_dir, name, sub ? "/" : "", sub ?: "") < 0)
                return NULL;
        return path;
}

char *domain_own_root(struct qubesd *q, const struct domain *d) {
        const struct prop_def *p = prop_find("own_root", false);
        char value[PATH_MAX] = "";
        bool is_default;

        if (d->klass != DOMAIN_TEMPLATEVM && d->klass != DOMAIN_STANDALONEVM)
                return NULL;
        if (p && prop_get(q->set, d, p, value, sizeof(value), &is_default) >= 0) {
                if (value[0] == '/')
                        return strdup(value);
                if (strcmp(value, "True") != 0)
                        return NULL;
        }
        char *root = domain_dir(q, d->name, "root");
        if (root && !p && access(root, F_OK) < 0) {
                free(root);
                return NULL;
        }
        return root;
}

/* Changing these takes effect at the next start only, so they are refused
 * while the domain runs (Qubes refuses a template change of a running AppVM). */
bool domain_is_start_time_property(const struct prop_def *p) {
        static const char *const names[] = { "template", "backend", "virt_mode", "kernel", "own_root" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(p->name, names[i]) == 0)
                        return true;
        return false;
}

static bool any_domain_running(struct qubesd *q) {
        for (size_t i = 0; i < q->set->n_domains; i++) {
                const struct domain *d = q->set->domains[i];
                if (d->klass != DOMAIN_ADMINVM && !is_stopped(d->state))
                        return true;
        }
        return false;
}

/* The domain is gone, whoever asked for it. */
void lifecycle_stopped(struct qubesd *q, struct domain *d, int reason) {
        struct domain_run *run = domain_run_get(q, d);
        bool was_stopped = is_stopped(d->state);
        char message[256];

        if (!run)
                return;
        if (!was_stopped) {
                bus_link_close_channel(q, d->qid);
                run->hello_timer = sd_event_source_disable_unref(run->hello_timer);
                run->open_request_id = 0;
                snprintf(message, sizeof(message), "%s stopped while starting (reason %d)", d->name, reason);
                pending_calls_reply(&run->start_waiters, ADMIN_ERROR_BACKEND, message);
                d->start_time_usec = 0;
                domain_set_state(q, d, reason != 0 && !run->stop_requested ? POWER_CRASHED : POWER_HALTED);
                admin_emit_manager_signal(q, "DomainStopped", "si", d->name, (int32_t) reason);
                lifecycle_netvm_finished(q, run, false);
        }
        run->stop_requested = false;
        if (run->gui)
                gui_launch_domain_stopped(q, d);
        run->gui = false;
        if (mux_launch_wanted(run))
                mux_launch_domain_stopped(q, d);
        domain_run_free_config(run);
        pending_calls_reply(&run->stop_waiters, NULL, NULL);
        if (q->shutdown_all_waiters && !any_domain_running(q))
                pending_calls_reply(&q->shutdown_all_waiters, NULL, NULL);
}

void lifecycle_on_backend_event(void *userdata, const char *name, enum power_state state, int reason) {
        struct qubesd *q = userdata;
        struct domain *d = domain_set_find(q->set, name);

        if (!d) {
                log_warning("Backend event for unknown domain '%s' (%s)", name, power_state_to_string(state));
                return;
        }
        switch (state) {
        case POWER_HALTED:
        case POWER_CRASHED:
                if (reason != 0)
                        log_notice("%s: stopped with reason %d", d->name, reason);
                lifecycle_stopped(q, d, reason);
                break;
        case POWER_PAUSED:
                if (d->state == POWER_RUNNING)
                        domain_set_state(q, d, POWER_PAUSED);
                break;
        case POWER_RUNNING:
                /* Running is ours to say (the agent said hello); only an unpause shows here. */
                if (d->state == POWER_PAUSED)
                        domain_set_state(q, d, POWER_RUNNING);
                break;
        default:
                break;
        }
}

/* ---------------------------------------------------------------- stop, kill, pause */

static void on_stop_done(void *userdata, int result) {
        struct domain_run *run = userdata;
        struct qubesd *q = run->q;
        char message[256];

        if (result < 0) {
                snprintf(message, sizeof(message), "%s: the backend could not stop it: %s", run->domain->name,
                         strerror(-result));
                log_error("%s", message);
                run->stop_requested = false;
                if (run->domain->state == POWER_HALTING)
                        domain_set_state(q, run->domain, POWER_RUNNING);
                pending_calls_reply(&run->stop_waiters, ADMIN_ERROR_BACKEND, message);
                return;
        }
        lifecycle_stopped(q, run->domain, 0);
}

static int require_backend(struct qubesd *q, struct domain_run *run, sd_bus_error *error) {
        if (run->ops)
                return 0;
        return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: no backend runs this domain", run->domain->name);
}

/* Shutdown and Kill: refused for the admin domain, a stopped one, or one no backend runs. */
static int check_stoppable(struct qubesd *q, struct domain_run *run, const char *done_to_it, sd_bus_error *error) {
        const struct domain *d = run->domain;

        if (d->klass == DOMAIN_ADMINVM)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: the admin domain cannot be %s", d->name,
                                    done_to_it);
        if (is_stopped(d->state))
                return admin_errorf(error, ADMIN_ERROR_NOT_RUNNING, "%s is not running (%s)", d->name,
                                    power_state_to_string(d->state));
        return require_backend(q, run, error);
}

int lifecycle_shutdown(struct qubesd *q, struct domain *d, uint32_t timeout_sec, bool wait, sd_bus_message *m,
                       sd_bus_error *error) {
        struct domain_run *run = domain_run_get(q, d);
        int r;

        if (!run)
                return -ENOMEM;
        r = check_stoppable(q, run, "shut down", error);
        if (r < 0)
                return r;
        if (timeout_sec == 0)
                timeout_sec = prop_uint(q, d, "shutdown_timeout", 60);
        if (d->state != POWER_HALTING) {
                /* A domain still starting or paused is killed: it cannot shut down cleanly. */
                if (d->state == POWER_TRANSIENT || d->state == POWER_PAUSED)
                        r = run->ops->kill(run->backend, d->name, on_stop_done, run);
                else
                        r = run->ops->shutdown(run->backend, d->name, timeout_sec, on_stop_done, run);
                if (r < 0)
                        return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: cannot shut down: %s", d->name,
                                            strerror(-r));
                run->stop_requested = true;
                domain_set_state(q, d, POWER_HALTING);
        }
        if (!m)
                return 0;
        if (!wait)
                return sd_bus_reply_method_return(m, NULL);
        return pending_call_add(&run->stop_waiters, m);
}

int lifecycle_kill(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error) {
        struct domain_run *run = domain_run_get(q, d);
        int r;

        if (!run)
                return -ENOMEM;
        r = check_stoppable(q, run, "killed", error);
        if (r < 0)
                return r;
        r = run->ops->kill(run->backend, d->name, on_stop_done, run);
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: cannot kill: %s", d->name, strerror(-r));
        run->stop_requested = true;
        domain_set_state(q, d, POWER_DYING);
        return pending_call_add(&run->stop_waiters, m);
}

struct pause_call {
        struct domain_run *run;
        bool pause;
        sd_bus_message *message;
};

static void on_pause_done(void *userdata, int result) {
        struct pause_call *call = userdata;
        struct domain *d = call->run->domain;

        if (result < 0) {
                if (call->message)
                        (void) admin_error_reply(call->message, ADMIN_ERROR_BACKEND, "%s: cannot %s: %s", d->name,
                                                 call->pause ? "pause" : "unpause", strerror(-result));
        } else {
                if (!is_stopped(d->state))
                        domain_set_state(call->run->q, d, call->pause ? POWER_PAUSED : POWER_RUNNING);
                if (call->message)
                        (void) sd_bus_reply_method_return(call->message, NULL);
        }
        sd_bus_message_unref(call->message);
        free(call);
}

int lifecycle_pause(struct qubesd *q, struct domain *d, bool pause, sd_bus_message *m, sd_bus_error *error) {
        struct domain_run *run = domain_run_get(q, d);
        struct pause_call *call;
        int r;

        if (!run)
                return -ENOMEM;
        if (d->klass == DOMAIN_ADMINVM)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s: the admin domain cannot be paused", d->name);
        if (d->state != (pause ? POWER_RUNNING : POWER_PAUSED))
                return admin_errorf(error, ADMIN_ERROR_NOT_RUNNING, "%s is %s, not %s", d->name,
                                    power_state_to_string(d->state), pause ? "running" : "paused");
        r = require_backend(q, run, error);
        if (r < 0)
                return r;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (struct pause_call) { .run = run, .pause = pause, .message = sd_bus_message_ref(m) };
        r = (pause ? run->ops->pause : run->ops->unpause)(run->backend, d->name, on_pause_done, call);
        if (r < 0) {
                sd_bus_message_unref(call->message);
                free(call);
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: cannot %s: %s", d->name,
                                    pause ? "pause" : "unpause", strerror(-r));
        }
        return 0;
}

int lifecycle_shutdown_all(struct qubesd *q, uint32_t timeout_sec, sd_bus_message *m, sd_bus_error *error) {
        for (size_t i = 0; i < q->set->n_domains; i++) {
                struct domain *d = q->set->domains[i];
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (d->klass == DOMAIN_ADMINVM || is_stopped(d->state))
                        continue;
                if (lifecycle_shutdown(q, d, timeout_sec, false, NULL, &e) < 0)
                        log_warning("ShutdownAll: %s", e.message ?: d->name);
        }
        if (!any_domain_running(q))
                return sd_bus_reply_method_return(m, NULL);
        return pending_call_add(&q->shutdown_all_waiters, m);
}

/* ---------------------------------------------------------------- after a restart */

struct rediscovery {
        struct qubesd *q;
        const struct hal_backend_ops *ops;
        struct hal_backend *backend;
};

static void on_orphan_killed(void *userdata, int result) {
        free(userdata);
}

static void on_listed(void *userdata, const struct hal_domain_info *info) {
        struct rediscovery *rd = userdata;
        struct qubesd *q = rd->q;
        struct domain *d = domain_set_find(q->set, info->name);
        struct domain_run *run;

        if (!d || d->qid != info->domid) {
                /* Nothing may run that qubesd does not know of. */
                log_warning("Backend %s runs '%s' (domid %u), which is not in the database: killing it",
                            rd->ops->kind, info->name, info->domid);
                char *name = strdup(info->name);
                if (name && rd->ops->kill(rd->backend, name, on_orphan_killed, name) < 0)
                        free(name);
                return;
        }
        run = domain_run_get(q, d);
        if (!run)
                return;
        run->ops = rd->ops;
        run->backend = rd->backend;
        d->start_time_usec = info->start_time_usec;
        domain_set_state(q, d, info->state == POWER_PAUSED ? POWER_PAUSED : POWER_RUNNING);
        log_info("%s: found running on backend %s (domid %u)", d->name, rd->ops->kind, info->domid);
        /* busd may have kept the channel (only qubesd restarted): then it says EEXIST. */
        int r = bus_link_open_channel(q, run);
        if (r < 0)
                log_warning_errno(r, "%s: cannot reopen the control channel", d->name);
        /* its helpers went with the old qubesd's launcher */
        if (!run->cfg_vchan_dir && (run->cfg_vchan_dir = malloc(PATH_MAX))) {
                enum vchan_backend vb;
                if (rd->ops->control_channel(rd->backend, d->name, &vb, run->cfg_vchan_dir, PATH_MAX) < 0 ||
                    !run->cfg_vchan_dir[0])
                        domain_vchan_dir(q, d, run->cfg_vchan_dir, PATH_MAX);
        }
        mux_launch_domain_started(q, d, run);
        run->gui = gui_launch_wanted(q, d, rd->ops);
        gui_launch_domain_started(q, d, run);
}

int lifecycle_rediscover(struct qubesd *q) {
        for (size_t i = 0; i < q->n_backends; i++) {
                struct rediscovery rd = { .q = q, .ops = q->backends[i].ops, .backend = q->backends[i].backend };
                int r = rd.ops->list(rd.backend, on_listed, &rd);
                if (r < 0)
                        log_error_errno(r, "Cannot list the domains backend %s runs", rd.ops->kind);
        }
        return 0;
}
