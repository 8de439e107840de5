/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy v5 lines: rules, tokens and action parameters (reference §4.2-§4.4),
 * with the reference's error messages (§4.9).  Files and directives are in
 * loader.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"
#include "util.h"

#define ZERO_UUID "00000000-0000-0000-0000-000000000000"

Policy *policy_new(void) {
        return calloc(1, sizeof(Policy));
}

static void token_done(PolicyToken *t) {
        free(t->text);
        t->text = NULL;
}

void policy_rule_done(PolicyRule *r) {
        free(r->service);
        free(r->argument);
        token_done(&r->source);
        token_done(&r->target);
        token_done(&r->target_param);
        token_done(&r->default_target);
        free(r->user);
}

void policy_free(Policy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_rules; i++)
                policy_rule_done(&p->rules[i]);
        free(p->rules);
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i]);
        free(p->files);
        for (size_t i = 0; i < p->n_errors; i++) {
                free(p->errors[i].file);
                free(p->errors[i].message);
        }
        free(p->errors);
        policy_index_done(p);
        free(p);
}

int policy_add_error(Policy *p, const char *file, unsigned line, const char *fmt, ...) {
        PolicyError *errors, e = { .line = line };
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&e.message, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (file && !(e.file = strdup(file))) {
                free(e.message);
                return -ENOMEM;
        }
        errors = realloc(p->errors, (p->n_errors + 1) * sizeof(*errors));
        if (!errors) {
                free(e.file);
                free(e.message);
                return -ENOMEM;
        }
        p->errors = errors;
        p->errors[p->n_errors++] = e;
        return 0;
}

char *policy_error_format(const PolicyError *e) {
        char *s;
        int r;

        if (e->file && e->line > 0)
                r = asprintf(&s, "%s:%u: %s", e->file, e->line, e->message);
        else
                r = asprintf(&s, "%s", e->message);
        return r < 0 ? NULL : s;
}

/* Python's repr() of a plain ASCII string: the messages quote like the
 * reference implementation. */
char *policy_repr(const char *s) {
        char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
        size_t n = strlen(s);
        char *out = malloc(n * 4 + 3), *o = out;

        if (!out)
                return NULL;
        *o++ = quote;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if (*c == '\\' || *c == (unsigned char) quote) {
                        *o++ = '\\';
                        *o++ = (char) *c;
                } else if (*c == '\t') {
                        o += sprintf(o, "\\t");
                } else if (*c < 0x20 || *c == 0x7f) {
                        o += sprintf(o, "\\x%02x", *c);
                } else
                        *o++ = (char) *c;
        }
        *o++ = quote;
        *o = '\0';
        return out;
}

static bool is_rpcname_char(char c, bool allow_plus) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-' || (allow_plus && c == '+');
}

/* "'x', 'y'" style tuple of the sorted distinct invalid characters. */
static int invalid_chars_tuple(const char *s, bool allow_plus, char **ret) {
        bool seen[256] = {};
        size_t count = 0;
        char *out = NULL;
        size_t size = 0;
        FILE *f;

        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (!is_rpcname_char((char) *c, allow_plus) && !seen[*c]) {
                        seen[*c] = true;
                        count++;
                }
        *ret = NULL;
        if (count == 0)
                return 0;
        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        fputc('(', f);
        for (unsigned c = 1, i = 0; c < 256; c++) {
                if (!seen[c])
                        continue;
                char one[2] = { (char) c, '\0' };
                _cleanup_free_ char *q = policy_repr(one);
                fprintf(f, "%s%s", i++ ? ", " : "", q ? q : "?");
        }
        fputs(count == 1 ? ",)" : ")", f);
        if (fclose(f) != 0) {
                free(out);
                return -ENOMEM;
        }
        *ret = out;
        return 0;
}

bool policy_parse_service_argument(Policy *p, const char *file, unsigned line, const char *service,
                                   const char *argument, char **ret_service, char **ret_argument) {
        _cleanup_free_ char *bad = NULL, *q = NULL;
        bool any_service = strcmp(service, "*") == 0, any_argument = strcmp(argument, "*") == 0;

        *ret_service = *ret_argument = NULL;
        if (!any_service) {
                if (invalid_chars_tuple(service, false, &bad) < 0)
                        return false;
                if (bad) {
                        q = policy_repr(service);
                        policy_add_error(p, file, line, "service %s contains invalid characters: %s", q, bad);
                        return false;
                }
        }
        if (!any_argument) {
                if (invalid_chars_tuple(argument, true, &bad) < 0)
                        return false;
                q = policy_repr(argument);
                if (bad) {
                        policy_add_error(p, file, line, "argument %s contains invalid characters: %s", q, bad);
                        return false;
                }
                if (argument[0] != '+') {
                        policy_add_error(p, file, line, "argument %s does not start with +", q);
                        return false;
                }
                if (any_service) {
                        policy_add_error(p, file, line, "only * argument allowed for * service");
                        return false;
                }
        }
        if (!any_service && !(*ret_service = strdup(service)))
                return false;
        if (!any_argument && !(*ret_argument = strdup(argument))) {
                free(*ret_service);
                *ret_service = NULL;
                return false;
        }
        return true;
}

static const char *const column_names[] = {
        [POLICY_COLUMN_SOURCE] = "source",
        [POLICY_COLUMN_TARGET] = "target",
        [POLICY_COLUMN_REDIRECT] = "redirect",
};

/* Which columns may hold each keyword (§4.3). */
#define IN_SOURCE (1u << POLICY_COLUMN_SOURCE)
#define IN_TARGET (1u << POLICY_COLUMN_TARGET)
#define IN_REDIRECT (1u << POLICY_COLUMN_REDIRECT)

static const struct {
        const char *word;
        PolicyTokenKind kind;
        unsigned columns;
} exact_tokens[] = {
        { "@adminvm", POLICY_TOKEN_ADMINVM, IN_SOURCE | IN_TARGET | IN_REDIRECT },
        { "@anyvm", POLICY_TOKEN_ANYVM, IN_SOURCE | IN_TARGET },
        { "@default", POLICY_TOKEN_DEFAULT, IN_TARGET },
        { "@dispvm", POLICY_TOKEN_DISPVM, IN_TARGET | IN_REDIRECT },
}, prefix_tokens[] = {
        /* longest first */
        { "@dispvm:@tag:", POLICY_TOKEN_DISPVM_TAG, IN_SOURCE | IN_TARGET },
        { "@dispvm:", POLICY_TOKEN_DISPVM_TEMPLATE, IN_SOURCE | IN_TARGET | IN_REDIRECT },
        { "@tag:", POLICY_TOKEN_TAG, IN_SOURCE | IN_TARGET },
        { "@type:", POLICY_TOKEN_TYPE, IN_SOURCE | IN_TARGET },
};

bool policy_is_dom0_name(const char *s) {
        return strcmp(s, "dom0") == 0 || strcmp(s, "@adminvm") == 0 || strcmp(s, "uuid:" ZERO_UUID) == 0;
}

bool policy_parse_token(Policy *p, const char *file, unsigned line, PolicyColumn column, const char *text,
                        PolicyToken *ret) {
        _cleanup_free_ char *q = NULL;
        unsigned bit = 1u << column;
        size_t offset = 0;
        PolicyTokenKind kind;

        if (!text[0]) {
                policy_add_error(p, file, line, "invalid empty %s token", column_names[column]);
                return false;
        }
        if (strcmp(text, "*") == 0 && column != POLICY_COLUMN_REDIRECT) {
                kind = POLICY_TOKEN_WILDCARD;
                goto found;
        }
        if (policy_is_dom0_name(text)) {
                kind = POLICY_TOKEN_ADMINVM;
                goto found;
        }
        if (text[0] != '@') {
                if (strcmp(text, "*") != 0) {
                        kind = strncmp(text, "uuid:", 5) == 0 ? POLICY_TOKEN_UUID : POLICY_TOKEN_NAME;
                        offset = kind == POLICY_TOKEN_UUID ? 5 : 0;
                        goto found;
                }
        } else {
                for (size_t i = 0; i < ELEMENTSOF(exact_tokens); i++)
                        if ((exact_tokens[i].columns & bit) && strcmp(text, exact_tokens[i].word) == 0) {
                                kind = exact_tokens[i].kind;
                                goto found;
                        }
                for (size_t i = 0; i < ELEMENTSOF(prefix_tokens); i++) {
                        size_t n = strlen(prefix_tokens[i].word);
                        if (!(prefix_tokens[i].columns & bit) || strncmp(text, prefix_tokens[i].word, n) != 0)
                                continue;
                        if (!text[n]) {
                                q = policy_repr(text);
                                policy_add_error(p, file, line, "invalid empty %s token: %s",
                                                 prefix_tokens[i].word, q);
                                return false;
                        }
                        if (text[n] == '@')
                                continue; /* part of a longer prefix, or invalid */
                        kind = prefix_tokens[i].kind;
                        offset = n;
                        goto found;
                }
        }
        q = policy_repr(text);
        policy_add_error(p, file, line, "invalid %s token: %s", column_names[column], q);
        return false;

found:
        ret->kind = kind;
        ret->text = strdup(text);
        if (!ret->text)
                return false;
        ret->value = ret->text + offset;
        return true;
}

static bool parse_bool(Policy *p, const char *file, unsigned line, const char *key, const char *value,
                       bool *ret) {
        if (strcmp(value, "yes") == 0)
                *ret = true;
        else if (strcmp(value, "no") == 0)
                *ret = false;
        else {
                _cleanup_free_ char *qk = policy_repr(key), *qv = policy_repr(value);
                policy_add_error(p, file, line, "%s is %s, but can be only 'yes' or 'no'", qk, qv);
                return false;
        }
        return true;
}

static const char *const action_names[] = {
        [POLICY_ACTION_DENY] = "Deny",
        [POLICY_ACTION_ALLOW] = "Allow",
        [POLICY_ACTION_ASK] = "Ask",
};

static bool param_allowed(PolicyAction action, const char *key) {
        if (strcmp(key, "notify") == 0)
                return true;
        if (action == POLICY_ACTION_DENY)
                return false;
        if (strcmp(key, "target") == 0 || strcmp(key, "user") == 0 || strcmp(key, "autostart") == 0)
                return true;
        return action == POLICY_ACTION_ASK && strcmp(key, "default_target") == 0;
}

/* ACTION and its KEY=VALUE parameters into the rule.  false after an error
 * was recorded (or on ENOMEM). */
static bool parse_action(Policy *p, const char *file, unsigned line, char *const *words, size_t n_words,
                         PolicyRule *rule) {
        const char *action = words[0];
        const char *keys[8], *values[8];
        size_t n_params = 0;
        char *bad = NULL;
        size_t bad_size = 0;

        if (strcmp(action, "allow") == 0)
                rule->action = POLICY_ACTION_ALLOW;
        else if (strcmp(action, "deny") == 0)
                rule->action = POLICY_ACTION_DENY;
        else if (strcmp(action, "ask") == 0)
                rule->action = POLICY_ACTION_ASK;
        else {
                policy_add_error(p, file, line, "invalid action: %s", action);
                return false;
        }
        rule->autostart = true;
        rule->notify = rule->action == POLICY_ACTION_DENY;

        for (size_t i = 1; i < n_words; i++) {
                const char *eq = strchr(words[i], '=');
                if (!eq) {
                        _cleanup_free_ char *q = policy_repr(words[i]);
                        policy_add_error(p, file, line, "invalid action parameter syntax: %s", q);
                        return false;
                }
                words[i][eq - words[i]] = '\0';
                for (size_t j = 0; j < n_params; j++)
                        if (strcmp(keys[j], words[i]) == 0) {
                                _cleanup_free_ char *q = policy_repr(words[i]);
                                policy_add_error(p, file, line, "parameter given twice: %s", q);
                                return false;
                        }
                /* Five keys exist; more distinct ones are necessarily invalid. */
                if (n_params < ELEMENTSOF(keys)) {
                        keys[n_params] = words[i];
                        values[n_params++] = eq + 1;
                } else {
                        policy_add_error(p, file, line, "invalid parameters for action %s: too many",
                                         action_names[rule->action]);
                        return false;
                }
        }

        /* Every key the action does not take, as a Python list. */
        FILE *f = open_memstream(&bad, &bad_size);
        if (!f)
                return false;
        size_t n_bad = 0;
        for (size_t i = 0; i < n_params; i++)
                if (!param_allowed(rule->action, keys[i])) {
                        _cleanup_free_ char *q = policy_repr(keys[i]);
                        fprintf(f, "%s%s", n_bad++ ? ", " : "[", q ? q : "?");
                }
        if (n_bad)
                fputc(']', f);
        fclose(f);
        if (n_bad) {
                policy_add_error(p, file, line, "invalid parameters for action %s: %s", action_names[rule->action],
                                 bad ? bad : "");
                free(bad);
                return false;
        }
        free(bad);

        for (size_t i = 0; i < n_params; i++) {
                if (strcmp(keys[i], "autostart") == 0) {
                        if (!parse_bool(p, file, line, keys[i], values[i], &rule->autostart))
                                return false;
                } else if (strcmp(keys[i], "notify") == 0) {
                        if (!parse_bool(p, file, line, keys[i], values[i], &rule->notify))
                                return false;
                } else if (strcmp(keys[i], "user") == 0) {
                        rule->user = strdup(values[i]);
                        if (!rule->user)
                                return false;
                }
        }
        for (size_t i = 0; i < n_params; i++) {
                if (strcmp(keys[i], "target") == 0) {
                        if (!policy_parse_token(p, file, line, POLICY_COLUMN_REDIRECT, values[i], &rule->target_param))
                                return false;
                        rule->has_target_param = true;
                } else if (strcmp(keys[i], "default_target") == 0) {
                        if (!policy_parse_token(p, file, line, POLICY_COLUMN_REDIRECT, values[i],
                                                &rule->default_target))
                                return false;
                        rule->has_default_target = true;
                }
        }
        if (rule->action == POLICY_ACTION_ALLOW && rule->target.kind == POLICY_TOKEN_DEFAULT &&
            !rule->has_target_param) {
                policy_add_error(p, file, line, "allow action for @default rule must specify target= option");
                return false;
        }
        return true;
}

int policy_add_rule(Policy *p, const char *file, unsigned line, const char *service, const char *argument,
                    const char *source, const char *target, char *const *action_words, size_t n_action_words) {
        PolicyRule rule = { .file = file, .line = line };
        size_t errors_before = p->n_errors;

        if (!policy_parse_service_argument(p, file, line, service, argument, &rule.service, &rule.argument))
                goto fail;
        if (!policy_parse_token(p, file, line, POLICY_COLUMN_SOURCE, source, &rule.source))
                goto fail;
        /* @default and @dispvm name no caller: refused in the source column
         * by the column table above. */
        if (!policy_parse_token(p, file, line, POLICY_COLUMN_TARGET, target, &rule.target))
                goto fail;
        if (!parse_action(p, file, line, action_words, n_action_words, &rule))
                goto fail;

        if (p->n_rules == p->allocated_rules) {
                size_t want = p->allocated_rules ? p->allocated_rules * 2 : 64;
                PolicyRule *rules = realloc(p->rules, want * sizeof(*rules));
                if (!rules) {
                        policy_rule_done(&rule);
                        return -ENOMEM;
                }
                p->rules = rules;
                p->allocated_rules = want;
        }
        p->rules[p->n_rules++] = rule;
        p->indexed = false;
        return 0;

fail:
        policy_rule_done(&rule);
        /* A parser gives up without recording an error only when memory ran
         * out: the rule would be missing silently (a lost deny may let a later
         * allow decide), so the load fails instead. */
        return p->n_errors > errors_before ? 0 : -ENOMEM;
}
