/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The system info policy evaluates against, kept in memory from what qubesd
 * pushes (DOMAIN_INFO, DOMAIN_INFO_REMOVED, SYSTEM_INFO_DONE) and never
 * fetched per request.  A snapshot ends with SYSTEM_INFO_DONE: a domain not
 * described since the previous DONE is gone (removed while we did not hear
 * it, e.g. during a restart of qubesd).  The policy library's PolicySystem
 * is rebuilt from this table on the first evaluation after a change.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "policyd.h"

#define SUBSCRIBE_RETRY_USEC (1 * UINT64_C(1000000))
/* Without DONE in this time (qubesd busy, or a message lost with a
 * restarting qubesd), ask again. */
#define SUBSCRIBE_TIMEOUT_USEC (10 * UINT64_C(1000000))

struct policyd_domain {
        char name[BUS_NAME_MAX + 1];
        char klass[BUS_NAME_MAX + 1];
        char uuid[BUS_UUID_MAX + 1];
        char default_dispvm[BUS_NAME_MAX + 1];
        char default_user[BUS_NAME_MAX + 1];
        char icon[BUS_NAME_MAX + 1];
        char *tags;                     /* space separated */
        uint32_t domid;
        uint8_t power_state;
        bool template_for_dispvms, internal;
        bool seen;                      /* described since the last SYSTEM_INFO_DONE */
};

const char *policyd_domain_name(const struct policyd_domain *d) { return d->name; }
uint32_t policyd_domain_domid(const struct policyd_domain *d) { return d->domid; }
bool policyd_domain_running(const struct policyd_domain *d) { return d->power_state == BUS_POWER_RUNNING; }
const char *policyd_domain_default_user(const struct policyd_domain *d) {
        return d->default_user[0] ? d->default_user : "user";
}

static void invalidate(struct policyd *p) {
        policy_system_free(p->system);
        p->system = NULL;
}

static ssize_t find_index(const struct policyd *p, const char *name) {
        for (size_t i = 0; i < p->n_domains; i++)
                if (strcmp(p->domains[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

const struct policyd_domain *system_info_find(const struct policyd *p, const char *name) {
        ssize_t i = find_index(p, name);
        return i < 0 ? NULL : &p->domains[i];
}

const struct policyd_domain *system_info_find_domid(const struct policyd *p, uint32_t domid) {
        for (size_t i = 0; i < p->n_domains; i++)
                if (p->domains[i].domid == domid)
                        return &p->domains[i];
        return NULL;
}

static void remove_at(struct policyd *p, size_t i) {
        free(p->domains[i].tags);
        p->domains[i] = p->domains[--p->n_domains];
}

void system_info_on_domain_info(struct policyd *p, const struct bus_msg_domain_info *info) {
        struct policyd_domain *d;
        ssize_t i;
        char *tags;

        /* qubesd is trusted, but a name the policy library would refuse must
         * not reach it. */
        if (!info->name[0] || info->name[0] == '@' || strncmp(info->name, "uuid:", 5) == 0 || !info->klass[0]) {
                log_warning("Ignoring DOMAIN_INFO with an invalid name or class '%s'", info->name);
                return;
        }
        tags = strdup(info->tags);
        i = find_index(p, info->name);
        if (tags && i < 0) {
                struct policyd_domain *grown = reallocarray(p->domains, p->n_domains + 1, sizeof(*grown));
                if (grown) {
                        p->domains = grown;
                        i = (ssize_t) p->n_domains++;
                        p->domains[i] = (struct policyd_domain) {};
                        log_debug("System info: new domain %s", info->name);
                }
        }
        if (!tags || i < 0) {
                free(tags);
                log_error("Out of memory: system info of %s not updated", info->name);
                return;
        }
        d = &p->domains[i];
        free(d->tags);
        snprintf(d->name, sizeof(d->name), "%s", info->name);
        snprintf(d->klass, sizeof(d->klass), "%s", info->klass);
        snprintf(d->uuid, sizeof(d->uuid), "%s", info->uuid);
        snprintf(d->default_dispvm, sizeof(d->default_dispvm), "%s", info->default_dispvm);
        snprintf(d->default_user, sizeof(d->default_user), "%s", info->default_user);
        snprintf(d->icon, sizeof(d->icon), "%s", info->icon);
        d->tags = tags;
        d->domid = info->domid;
        d->power_state = info->power_state;
        d->template_for_dispvms = info->template_for_dispvms;
        d->internal = info->internal;
        d->seen = true;
        invalidate(p);
}

void system_info_on_domain_removed(struct policyd *p, const char *name) {
        ssize_t i = find_index(p, name);

        if (i < 0)
                return;
        log_debug("System info: domain %s removed", name);
        remove_at(p, (size_t) i);
        invalidate(p);
}

void system_info_on_done(struct policyd *p, uint32_t domains) {
        size_t dropped = 0;

        for (size_t i = p->n_domains; i > 0; i--) {
                if (!p->domains[i - 1].seen) {
                        log_info("System info: %s is gone", p->domains[i - 1].name);
                        remove_at(p, i - 1);
                        dropped++;
                } else
                        p->domains[i - 1].seen = false;
        }
        if (dropped)
                invalidate(p);
        p->subscribe_timer = sd_event_source_disable_unref(p->subscribe_timer);
        if (!p->have_system_info)
                log_info("System info from qubesd: %u domains", domains);
        p->have_system_info = true;
}

static int on_subscribe_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct policyd *p = userdata;

        p->subscribe_timer = sd_event_source_disable_unref(p->subscribe_timer);
        (void) system_info_subscribe(p);
        return 0;
}

static int arm_timer(struct policyd *p, uint64_t delay) {
        p->subscribe_timer = sd_event_source_disable_unref(p->subscribe_timer);
        return sd_event_add_time_relative(p->event, &p->subscribe_timer, CLOCK_MONOTONIC, delay, 0,
                                          on_subscribe_timer, p);
}

int system_info_subscribe(struct policyd *p) {
        struct bus_msg_system_info_subscribe sub = {};
        int r;

        if (!p->bus)
                return -ENOTCONN;
        /* Its ERROR is recognised by failed_type (bus-link.c), not by the request id. */
        r = bus_client_send(p->bus, BUS_MSG_SYSTEM_INFO_SUBSCRIBE, BUS_PEER_ROLE(BUS_ROLE_QUBESD),
                            bus_client_new_request_id(p->bus), &sub);
        if (r < 0)
                log_warning_errno(r, "Cannot ask qubesd for the system info");
        /* Again if no DONE comes (or sooner, on an ERROR). */
        r = arm_timer(p, r < 0 ? SUBSCRIBE_RETRY_USEC : SUBSCRIBE_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "Cannot arm the system info timer");
        return 0;
}

void system_info_on_subscribe_error(struct policyd *p, int error) {
        if (error != -EHOSTUNREACH)
                log_warning_errno(error, "qubesd refused to send the system info");
        else
                log_debug("qubesd is not connected to busd yet; asking again in a second");
        (void) arm_timer(p, SUBSCRIBE_RETRY_USEC);
}

static int split_tags(const char *text, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(text);
        char **tags = NULL, *saveptr = NULL;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " ", &saveptr); t; t = strtok_r(NULL, " ", &saveptr)) {
                char **grown = reallocarray(tags, n + 1, sizeof(char *));
                if (!grown || !(grown[n] = strdup(t))) {
                        tags = grown ?: tags;
                        for (size_t i = 0; i < n; i++)
                                free(tags[i]);
                        free(tags);
                        return -ENOMEM;
                }
                tags = grown;
                n++;
        }
        *ret = tags;
        *ret_n = n;
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(((const PolicyDomain *) a)->name, ((const PolicyDomain *) b)->name);
}

static char *strdup_or_null(const char *s) {
        return s[0] ? strdup(s) : NULL;
}

static int build_system(const struct policyd *p, PolicySystem **ret) {
        PolicySystem *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->domains = calloc(p->n_domains ?: 1, sizeof(PolicyDomain));
        if (!s->domains)
                goto oom;
        for (size_t i = 0; i < p->n_domains; i++) {
                const struct policyd_domain *d = &p->domains[i];
                PolicyDomain *out = &s->domains[s->n_domains++];

                out->name = strdup(d->name);
                out->type = strdup(d->klass);
                out->default_dispvm = strdup_or_null(d->default_dispvm);
                out->uuid = strdup_or_null(d->uuid);
                out->icon = strdup_or_null(d->icon);
                out->template_for_dispvms = d->template_for_dispvms;
                out->internal = d->internal;
                out->running = d->power_state == BUS_POWER_RUNNING;
                if (!out->name || !out->type || (d->default_dispvm[0] && !out->default_dispvm) ||
                    (d->uuid[0] && !out->uuid) || (d->icon[0] && !out->icon) ||
                    split_tags(d->tags, &out->tags, &out->n_tags) < 0)
                        goto oom;
        }
        qsort(s->domains, s->n_domains, sizeof(PolicyDomain), compare_names);
        *ret = s;
        return 0;
oom:
        policy_system_free(s);
        return -ENOMEM;
}

const PolicySystem *system_info_get(struct policyd *p) {
        if (!p->system && build_system(p, &p->system) < 0)
                log_error("Out of memory building the system info");
        return p->system;
}

void system_info_done(struct policyd *p) {
        for (size_t i = 0; i < p->n_domains; i++)
                free(p->domains[i].tags);
        free(p->domains);
        p->domains = NULL;
        p->n_domains = 0;
        invalidate(p);
        p->subscribe_timer = sd_event_source_disable_unref(p->subscribe_timer);
}
