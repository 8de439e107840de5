/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Matching and evaluation (reference §4.5-§4.7): normalise the request,
 * find the first matching rule, resolve its action. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"
#include "util.h"

#define DISPVM_PREFIX "@dispvm:"
#define DISPVM_PREFIX_LEN 8

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The disposable template a request value names: @dispvm:X, or the
 * source's default for @dispvm.  NULL for anything else. */
static const PolicyDomain *requested_dispvm_template(const PolicySystem *s, const char *value, const char *source) {
        if (strcmp(value, "@dispvm") == 0) {
                const PolicyDomain *src = policy_system_find(s, source);
                return src && src->default_dispvm ? policy_system_find(s, src->default_dispvm) : NULL;
        }
        if (starts_with(value, DISPVM_PREFIX) && value[DISPVM_PREFIX_LEN] != '@')
                return policy_system_find(s, value + DISPVM_PREFIX_LEN);
        return NULL;
}

/* Does a rule token match a request value (a source name, or a normalised
 * target)?  Keywords in the value only match the keywords meant for them. */
static bool token_matches(const PolicyToken *t, const PolicySystem *s, const char *value, const char *source) {
        const PolicyDomain *d;

        switch (t->kind) {
        case POLICY_TOKEN_WILDCARD:
                return true;
        case POLICY_TOKEN_ANYVM:
                return !policy_is_dom0_name(value);
        case POLICY_TOKEN_ADMINVM:
                return policy_is_dom0_name(value);
        case POLICY_TOKEN_NAME:
                if (value[0] == '@')
                        return false;
                if (strcmp(value, t->text) == 0)
                        return true;
                d = policy_system_find(s, value);
                return d && strcmp(d->name, t->text) == 0;
        case POLICY_TOKEN_UUID:
                if (value[0] == '@')
                        return false;
                if (strcmp(value, t->text) == 0)
                        return true;
                d = policy_system_find(s, value);
                return d && d->uuid && strcmp(d->uuid, t->value) == 0;
        case POLICY_TOKEN_TAG:
                return value[0] != '@' && policy_domain_has_tag(policy_system_find(s, value), t->value);
        case POLICY_TOKEN_TYPE:
                d = value[0] != '@' ? policy_system_find(s, value) : NULL;
                return d && strcmp(d->type, t->value) == 0;
        case POLICY_TOKEN_DEFAULT:
                return strcmp(value, "@default") == 0;
        case POLICY_TOKEN_DISPVM:
                return strcmp(value, "@dispvm") == 0;
        case POLICY_TOKEN_DISPVM_TEMPLATE: {
                const char *want;
                if (strcmp(value, "@dispvm") == 0) {
                        d = policy_system_find(s, source);
                        if (!d || !d->default_dispvm)
                                return false;
                        want = d->default_dispvm;
                } else if (starts_with(value, DISPVM_PREFIX))
                        want = value + DISPVM_PREFIX_LEN;
                else
                        return false;
                if (strcmp(want, t->value) == 0)
                        return true;
                d = policy_system_find(s, want);
                return d && d == policy_system_find(s, t->value);
        }
        case POLICY_TOKEN_DISPVM_TAG:
                d = requested_dispvm_template(s, value, source);
                return d && d->template_for_dispvms && policy_domain_has_tag(d, t->value);
        }
        return false;
}

static bool rule_matches_but_target(const PolicyRule *rule, const PolicySystem *s, const char *service,
                                    const char *argument, const char *source) {
        return (!rule->service || strcmp(rule->service, service) == 0) &&
               (!rule->argument || strcmp(rule->argument, argument) == 0) &&
               token_matches(&rule->source, s, source, source);
}

bool policy_rule_matches(const PolicyRule *rule, const PolicySystem *s, const char *service, const char *argument,
                         const char *source, const char *normalised_target) {
        return rule_matches_but_target(rule, s, service, argument, source) &&
               (!normalised_target || token_matches(&rule->target, s, normalised_target, source));
}

int policy_normalise_target(const PolicySystem *s, const char *target, char **ret, const char **ret_reason) {
        const PolicyDomain *d;
        const char *keep = target;

        if (!target || !target[0])
                keep = "@default";
        else if (policy_is_dom0_name(target) || strcmp(target, "@default") == 0 || strcmp(target, "@dispvm") == 0)
                ;
        else if (starts_with(target, DISPVM_PREFIX)) {
                d = target[DISPVM_PREFIX_LEN] == '@' ? NULL : policy_system_find(s, target + DISPVM_PREFIX_LEN);
                if (!d || !d->template_for_dispvms) {
                        *ret_reason = "requested target is not a disposable template";
                        return -EPERM;
                }
        } else if (target[0] == '@' || strcmp(target, "*") == 0) {
                *ret_reason = "invalid requested target";
                return -EPERM;
        } else if (!policy_system_find(s, target))
                keep = "@default"; /* an unknown name leaves the choice to the policy */

        *ret = strdup(keep);
        return *ret ? 0 : -ENOMEM;
}

/* ---- a small set of target strings ---- */

typedef struct TargetSet {
        char **items;
        size_t n, allocated;
} TargetSet;

static void target_set_done(TargetSet *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->items[i]);
        free(t->items);
        *t = (TargetSet) {};
}

static ssize_t target_set_find(const TargetSet *t, const char *x) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i], x) == 0)
                        return (ssize_t) i;
        return -1;
}

static int target_set_add(TargetSet *t, const char *prefix, const char *x) {
        char *item;

        if (asprintf(&item, "%s%s", prefix, x) < 0)
                return -ENOMEM;
        if (target_set_find(t, item) >= 0) {
                free(item);
                return 0;
        }
        if (t->n == t->allocated) {
                size_t want = t->allocated ? t->allocated * 2 : 16;
                char **items = realloc(t->items, want * sizeof(char *));
                if (!items) {
                        free(item);
                        return -ENOMEM;
                }
                t->items = items;
                t->allocated = want;
        }
        t->items[t->n++] = item;
        return 0;
}

static void target_set_remove(TargetSet *t, const char *x) {
        ssize_t i = target_set_find(t, x);
        if (i < 0)
                return;
        free(t->items[i]);
        t->items[i] = t->items[--t->n];
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The concrete targets a token stands for in an ask list.  -ENXIO when it
 * names a disposable template the system does not have (the reference
 * fails the whole request there). */
static int expand_token(const PolicyToken *t, const PolicySystem *s, TargetSet *out) {
        const PolicyDomain *d;
        int r = 0;

        switch (t->kind) {
        case POLICY_TOKEN_NAME:
        case POLICY_TOKEN_UUID:
                d = policy_system_find(s, t->text);
                return d ? target_set_add(out, "", d->name) : 0;
        case POLICY_TOKEN_ADMINVM:
                return target_set_add(out, "", "dom0");
        case POLICY_TOKEN_WILDCARD:
        case POLICY_TOKEN_ANYVM:
                for (size_t i = 0; r >= 0 && i < s->n_domains; i++) {
                        d = &s->domains[i];
                        if (t->kind == POLICY_TOKEN_WILDCARD || strcmp(d->type, "AdminVM") != 0)
                                r = target_set_add(out, "", d->name);
                        if (r >= 0 && d->template_for_dispvms)
                                r = target_set_add(out, DISPVM_PREFIX, d->name);
                }
                return r < 0 ? r : target_set_add(out, "", "@dispvm");
        case POLICY_TOKEN_TAG:
        case POLICY_TOKEN_TYPE:
                for (size_t i = 0; r >= 0 && i < s->n_domains; i++) {
                        d = &s->domains[i];
                        if (t->kind == POLICY_TOKEN_TAG ? policy_domain_has_tag(d, t->value)
                                                        : strcmp(d->type, t->value) == 0)
                                r = target_set_add(out, "", d->name);
                }
                return r;
        case POLICY_TOKEN_DEFAULT:
                return 0;
        case POLICY_TOKEN_DISPVM:
                return target_set_add(out, "", "@dispvm");
        case POLICY_TOKEN_DISPVM_TEMPLATE:
                d = policy_system_find(s, t->value);
                if (!d)
                        return -ENXIO;
                return d->template_for_dispvms ? target_set_add(out, DISPVM_PREFIX, d->name) : 0;
        case POLICY_TOKEN_DISPVM_TAG:
                for (size_t i = 0; r >= 0 && i < s->n_domains; i++) {
                        d = &s->domains[i];
                        if (d->template_for_dispvms && policy_domain_has_tag(d, t->value))
                                r = target_set_add(out, DISPVM_PREFIX, d->name);
                }
                return r;
        }
        return 0;
}

/* The ask list (§4.7): every rule for this service, argument and source,
 * walked from the last; allow/ask add their targets, deny removes them. */
static int collect_ask_targets(const Policy *p, const PolicySystem *s, const PolicyRequest *req,
                               const PolicyDomain *src, TargetSet *ret) {
        _cleanup_free_ const PolicyRule **matching = NULL;
        size_t n_matching = 0, allocated = 0;
        TargetSet net = {}, out = {};
        PolicyRuleCursor c;
        const PolicyRule *rule;
        int r = 0;

        policy_rules_for_service(p, req->service, &c);
        while ((rule = policy_rule_next(p, &c))) {
                if (!rule_matches_but_target(rule, s, req->service, req->argument, req->source))
                        continue;
                if (n_matching == allocated) {
                        size_t want = allocated ? allocated * 2 : 16;
                        const PolicyRule **m = realloc(matching, want * sizeof(*m));
                        if (!m)
                                return -ENOMEM;
                        matching = m;
                        allocated = want;
                }
                matching[n_matching++] = rule;
        }
        for (size_t i = n_matching; r >= 0 && i > 0; i--) {
                rule = matching[i - 1];
                TargetSet expanded = {};
                r = expand_token(rule->has_target_param ? &rule->target_param : &rule->target, s, &expanded);
                for (size_t j = 0; r >= 0 && j < expanded.n; j++) {
                        if (rule->action == POLICY_ACTION_DENY)
                                target_set_remove(&net, expanded.items[j]);
                        else
                                r = target_set_add(&net, "", expanded.items[j]);
                }
                target_set_done(&expanded);
        }
        for (size_t i = 0; r >= 0 && i < net.n; i++) {
                const char *x = net.items[i];
                const PolicyDomain *d;
                bool dispvm = false;

                if (strcmp(x, "@dispvm") == 0) {
                        if (!src->default_dispvm)
                                continue;
                        d = policy_system_find(s, src->default_dispvm);
                        dispvm = true;
                } else if (starts_with(x, DISPVM_PREFIX)) {
                        d = policy_system_find(s, x + DISPVM_PREFIX_LEN);
                        dispvm = true;
                } else
                        d = policy_system_find(s, x);
                if (!d || d->internal || (!dispvm && d == src))
                        continue;
                r = target_set_add(&out, dispvm ? DISPVM_PREFIX : "", d->name);
        }
        target_set_done(&net);
        if (r < 0) {
                target_set_done(&out);
                return r;
        }
        if (out.n > 1)
                qsort(out.items, out.n, sizeof(char *), compare_strings);
        *ret = out;
        return 0;
}

_printf_(2, 3) static int deny(PolicyDecision *d, const char *fmt, ...) {
        va_list ap;

        d->verdict = POLICY_VERDICT_DENY;
        free(d->reason);
        va_start(ap, fmt);
        if (vasprintf(&d->reason, fmt, ap) < 0)
                d->reason = NULL;
        va_end(ap);
        return 0;
}

/* An allow to `target` (the rule's target= or the caller's), resolved to
 * the domain the call goes to, with the checks of §4.7. */
static int resolve_allow(const PolicySystem *s, const PolicyRequest *req, const PolicyRule *rule,
                         const char *target, PolicyDecision *d) {
        const PolicyDomain *src = policy_system_find(s, req->source), *dom = NULL;
        _cleanup_free_ char *resolved = NULL;
        bool dispvm = false;

        if ((rule->has_target_param && target == rule->target_param.text) &&
            (rule->target_param.kind == POLICY_TOKEN_NAME || rule->target_param.kind == POLICY_TOKEN_UUID) &&
            !policy_system_find(s, target))
                target = "@default"; /* a redirect to an unknown domain */
        if (strcmp(target, "@default") == 0)
                return deny(d, "no target is specified by caller or policy");
        if (strcmp(target, "@dispvm") == 0) {
                if (!src || !src->default_dispvm)
                        return deny(d, "source %s has no default disposable template", req->source);
                if (asprintf(&resolved, DISPVM_PREFIX "%s", src->default_dispvm) < 0)
                        return -ENOMEM;
        } else
                resolved = strdup(policy_is_dom0_name(target) ? "dom0" : target);
        if (!resolved)
                return -ENOMEM;

        if (starts_with(resolved, DISPVM_PREFIX)) {
                dispvm = true;
                dom = policy_system_find(s, resolved + DISPVM_PREFIX_LEN);
                if (!dom || !dom->template_for_dispvms)
                        return deny(d, "not a template for dispvm: %s", resolved + DISPVM_PREFIX_LEN);
        } else
                dom = policy_system_find(s, resolved);
        if (!rule->autostart && strcmp(resolved, "dom0") != 0 && (dispvm || !dom || !dom->running))
                return deny(d, "target %s is not running and the rule says autostart=no", resolved);
        /* Compared as strings, like the reference: addressing yourself by
         * uuid is not caught (conformance N042). */
        if (!req->just_evaluate && strcmp(resolved, req->source) == 0)
                return deny(d, "loopback qrexec connection not supported");

        if (dom && dom->uuid && strcmp(resolved, "dom0") != 0 &&
            asprintf(&d->target_uuid, "%suuid:%s", dispvm ? DISPVM_PREFIX : "", dom->uuid) < 0)
                return -ENOMEM;
        if (rule->user && !(d->user = strdup(rule->user)))
                return -ENOMEM;
        d->verdict = POLICY_VERDICT_ALLOW;
        d->autostart = rule->autostart;
        d->target = TAKE_PTR(resolved);
        return 0;
}

static char *redirect_for_ask(const PolicyToken *t, const PolicyDomain *src) {
        char *out = NULL;

        if (t->kind == POLICY_TOKEN_ADMINVM)
                return strdup("dom0");
        if (t->kind == POLICY_TOKEN_DISPVM) {
                if (!src || !src->default_dispvm)
                        return NULL;
                return asprintf(&out, DISPVM_PREFIX "%s", src->default_dispvm) < 0 ? NULL : out;
        }
        return strdup(t->text);
}

static int resolve_ask(const Policy *p, const PolicySystem *s, const PolicyRequest *req, const PolicyRule *rule,
                       PolicyDecision *d) {
        const PolicyDomain *src = policy_system_find(s, req->source);
        TargetSet targets = {};
        int r;

        if (rule->has_target_param) {
                _cleanup_free_ char *t = redirect_for_ask(&rule->target_param, src);
                if (t && (r = target_set_add(&targets, "", t)) < 0)
                        return r;
        } else {
                if (!src)
                        return deny(d, "unknown source %s", req->source);
                r = collect_ask_targets(p, s, req, src, &targets);
                if (r == -ENXIO)
                        return deny(d, "a rule names a disposable template that does not exist");
                if (r < 0)
                        return r;
        }
        if (!rule->autostart)
                for (size_t i = targets.n; i > 0; i--) {
                        const char *x = targets.items[i - 1];
                        const PolicyDomain *dom = starts_with(x, DISPVM_PREFIX) ? NULL : policy_system_find(s, x);
                        if (strcmp(x, "dom0") != 0 && (!dom || !dom->running))
                                target_set_remove(&targets, x);
                }
        if (targets.n > 1)
                qsort(targets.items, targets.n, sizeof(char *), compare_strings);
        if (targets.n == 0) {
                target_set_done(&targets);
                return deny(d, "no target available to ask for");
        }

        if (rule->has_default_target) {
                d->default_target = redirect_for_ask(&rule->default_target, src);
                if (d->default_target && target_set_find(&targets, d->default_target) < 0) {
                        free(d->default_target); /* not offered: nothing preselected */
                        d->default_target = NULL;
                }
        }

        if (req->assume_yes_for_ask) {
                bool offered = target_set_find(&targets, d->requested_target) >= 0;
                target_set_done(&targets);
                free(d->default_target);
                d->default_target = NULL;
                if (!offered)
                        return deny(d, "requested target %s is not among the targets to ask for",
                                    d->requested_target);
                return resolve_allow(s, req, rule, d->requested_target, d);
        }
        if (req->just_evaluate) {
                target_set_done(&targets);
                free(d->default_target);
                d->default_target = NULL;
                return deny(d, "ask in non-interactive evaluation");
        }
        d->verdict = POLICY_VERDICT_ASK;
        d->targets = targets.items;
        d->n_targets = targets.n;
        d->autostart = rule->autostart;
        if (rule->user && !(d->user = strdup(rule->user)))
                return -ENOMEM;
        return 0;
}

void policy_decision_done(PolicyDecision *d) {
        free(d->reason);
        free(d->requested_target);
        free(d->target);
        free(d->target_uuid);
        free(d->user);
        for (size_t i = 0; i < d->n_targets; i++)
                free(d->targets[i]);
        free(d->targets);
        free(d->default_target);
        *d = (PolicyDecision) {};
}

int policy_decision_choose(const PolicySystem *s, const PolicyRequest *req, const char *choice, PolicyDecision *d) {
        bool offered = false;

        if (d->verdict != POLICY_VERDICT_ASK || !d->rule)
                return -EINVAL;
        for (size_t i = 0; i < d->n_targets; i++)
                offered = offered || strcmp(d->targets[i], choice) == 0;
        for (size_t i = 0; i < d->n_targets; i++)
                free(d->targets[i]);
        free(d->targets);
        d->targets = NULL;
        d->n_targets = 0;
        free(d->default_target);
        d->default_target = NULL;
        free(d->user);
        d->user = NULL;
        if (!offered)
                return deny(d, "the answer %s was not among the targets asked for", choice);
        return resolve_allow(s, req, d->rule, choice, d);
}

int policy_evaluate(const Policy *p, const PolicySystem *s, const PolicyRequest *untrusted_req, PolicyDecision *ret) {
        PolicyRequest req = *untrusted_req;
        PolicyDecision d = { .verdict = POLICY_VERDICT_DENY, .notify = true };
        const char *reason = NULL;
        PolicyRuleCursor c;
        const PolicyRule *rule;
        int r;

        if (!req.argument || !req.argument[0])
                req.argument = "+";
        *ret = d;
        if (p->n_errors > 0) {
                _cleanup_free_ char *e = policy_error_format(&p->errors[0]);
                return deny(ret, "policy failed to load: %s", e ? e : "?");
        }
        if (!p->indexed)
                return deny(ret, "policy is not indexed");
        if (!req.source || !req.service || !req.service[0] || req.argument[0] != '+')
                return deny(ret, "malformed request");

        r = policy_normalise_target(s, req.target, &d.requested_target, &reason);
        if (r == -EPERM)
                return deny(ret, "%s: %s", reason, req.target);
        if (r < 0)
                return r;

        policy_rules_for_service(p, req.service, &c);
        while ((rule = policy_rule_next(p, &c)))
                if (policy_rule_matches(rule, s, req.service, req.argument, req.source, d.requested_target))
                        break;
        d.rule = rule;
        if (!rule)
                r = deny(&d, "no matching rule found");
        else if (rule->action == POLICY_ACTION_DENY) {
                d.notify = rule->notify;
                r = deny(&d, "denied by %s:%u", rule->file, rule->line);
        } else {
                d.notify = rule->notify;
                r = rule->action == POLICY_ACTION_ALLOW ? resolve_allow(s, &req, rule, rule->has_target_param ?
                                                                        rule->target_param.text : d.requested_target, &d)
                                                        : resolve_ask(p, s, &req, rule, &d);
        }
        if (r < 0) {
                policy_decision_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}
