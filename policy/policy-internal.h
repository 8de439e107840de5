/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between the parts of the policy library; not for its users. */
#pragma once

#include "policy.h"
#include "util.h"

typedef enum PolicyColumn {
        POLICY_COLUMN_SOURCE,
        POLICY_COLUMN_TARGET,
        POLICY_COLUMN_REDIRECT,  /* target= and default_target= */
} PolicyColumn;

struct PolicyServiceIndex {
        const char *service;     /* points into a rule */
        size_t *rules;
        size_t n_rules;
};

_printf_(4, 5) int policy_add_error(Policy *p, const char *file, unsigned line, const char *fmt, ...);
char *policy_repr(const char *s);
bool policy_is_dom0_name(const char *s);
bool policy_parse_token(Policy *p, const char *file, unsigned line, PolicyColumn column, const char *text,
                        PolicyToken *ret);
bool policy_parse_service_argument(Policy *p, const char *file, unsigned line, const char *service,
                                   const char *argument, char **ret_service, char **ret_argument);
/* Parse and append one rule; a syntax error is recorded, not returned.
 * action_words[0] is the action, the rest its parameters (modified). */
int policy_add_rule(Policy *p, const char *file, unsigned line, const char *service, const char *argument,
                    const char *source, const char *target, char *const *action_words, size_t n_action_words);
void policy_rule_done(PolicyRule *r);
void policy_index_done(Policy *p);
