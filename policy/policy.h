/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qrexec policy engine (format v5, reference qrexec.md §4): a pure
 * library.  Text and system information go in, a decision comes out; the
 * only I/O is reading the policy files.
 *
 *   PolicySystem   the domains the engine knows about (system info JSON)
 *   Policy         the parsed rules of one policy directory set, indexed by
 *                  service, plus every error found while loading them
 *   policy_evaluate()  one request against both
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* ---- system information ---- */

typedef struct PolicyDomain {
        char *name;
        char *type;             /* AppVM, AdminVM, TemplateVM, DispVM, ... */
        char **tags;
        size_t n_tags;
        char *default_dispvm;   /* NULL when none */
        bool template_for_dispvms;
        bool running;           /* power_state == "Running" */
        char *uuid;             /* without the "uuid:" prefix; NULL when unknown */
        bool internal;
        char *icon;
        char *guivm;
} PolicyDomain;

typedef struct PolicySystem {
        PolicyDomain *domains;  /* sorted by name */
        size_t n_domains;
} PolicySystem;

/* Parse the JSON shape of Qubes' internal.GetSystemInfo answer.  On -EINVAL
 * *ret_error (if given) says what is wrong; free it. */
int policy_system_parse(const char *json, size_t size, PolicySystem **ret, char **ret_error);
void policy_system_free(PolicySystem *s);
/* "NAME" or "uuid:UUID"; NULL when the system has no such domain. */
const PolicyDomain *policy_system_find(const PolicySystem *s, const char *name_or_uuid);
bool policy_domain_has_tag(const PolicyDomain *d, const char *tag);

/* ---- rules ---- */

typedef enum PolicyTokenKind {
        POLICY_TOKEN_NAME,              /* plain domain name */
        POLICY_TOKEN_UUID,              /* uuid:UUID of a domain other than dom0 */
        POLICY_TOKEN_ADMINVM,           /* @adminvm, dom0, uuid:00000000-... */
        POLICY_TOKEN_ANYVM,             /* @anyvm */
        POLICY_TOKEN_WILDCARD,          /* * */
        POLICY_TOKEN_DEFAULT,           /* @default */
        POLICY_TOKEN_DISPVM,            /* @dispvm */
        POLICY_TOKEN_DISPVM_TEMPLATE,   /* @dispvm:NAME, @dispvm:uuid:UUID */
        POLICY_TOKEN_DISPVM_TAG,        /* @dispvm:@tag:T */
        POLICY_TOKEN_TAG,               /* @tag:T */
        POLICY_TOKEN_TYPE,              /* @type:T */
} PolicyTokenKind;

typedef struct PolicyToken {
        PolicyTokenKind kind;
        char *text;             /* as written (after $ → @ in service syntax) */
        const char *value;      /* points into text: the part after the prefix */
} PolicyToken;

typedef enum PolicyAction {
        POLICY_ACTION_DENY,
        POLICY_ACTION_ALLOW,
        POLICY_ACTION_ASK,
} PolicyAction;

typedef struct PolicyRule {
        char *service;          /* NULL for * */
        char *argument;         /* NULL for *; otherwise starts with + */
        PolicyToken source, target;
        PolicyAction action;
        bool has_target_param, has_default_target;
        PolicyToken target_param, default_target;
        char *user;             /* NULL: the target's default user */
        bool autostart, notify;
        const char *file;       /* owned by the Policy */
        unsigned line;
} PolicyRule;

typedef struct PolicyError {
        char *file;             /* NULL for load-level errors without a file */
        unsigned line;          /* 0: no line (invalid filename, unreadable file) */
        char *message;
} PolicyError;

typedef struct PolicyServiceIndex PolicyServiceIndex;

typedef struct Policy {
        PolicyRule *rules;      /* global order: first match wins */
        size_t n_rules, allocated_rules;
        char **files;           /* every file name rules point to */
        size_t n_files;
        PolicyError *errors;    /* a policy with errors denies everything */
        size_t n_errors;
        /* index: rules per service (ascending rule number), and the * rules */
        PolicyServiceIndex *services;
        size_t n_services;
        size_t *wildcard_rules, n_wildcard_rules;
        bool indexed;
} Policy;

typedef struct PolicyLoadOptions {
        /* Directories, most important first (/run before /etc); a basename
         * present in several is taken from the first. */
        const char *const *dirs;
        size_t n_dirs;
        /* Where !compat-4.0 finds the legacy per-service files;
         * NULL: /etc/qubes-rpc/policy. */
        const char *legacy_dir;
        /* Lint a change before installing it (qubes-policy edit/replace):
         * the file replace_name of the directory replace_dir (spelled as in
         * dirs) is read as replace_text instead of from disk, and counts
         * even when it does not exist yet.  NULL replace_name: no change. */
        const char *replace_dir, *replace_name;
        const char *replace_text;
        size_t replace_size;
} PolicyLoadOptions;

/* Whether name is a policy file name the loader accepts: not hidden,
 * ending in .policy, only [a-z0-9_.-]. */
bool policy_filename_valid(const char *name);

/* Load every eligible file of the directories.  Syntax errors do not fail
 * the call: they are collected in policy->errors (every one, for lint).
 * Returns -ENOMEM, or -EINVAL for an empty replace_dir or a replace_name with a slash. */
int policy_load(const PolicyLoadOptions *options, Policy **ret);

/* Parse one file's text as if it were the top-level file `path` whose
 * includes resolve against include_base.  Errors are appended. */
int policy_parse_text(Policy *p, const char *path, const char *text, size_t size, const char *include_base,
                      const char *legacy_dir);

Policy *policy_new(void);
void policy_free(Policy *p);
static inline void policy_freep(Policy **p) { policy_free(*p); }
static inline void policy_system_freep(PolicySystem **s) { policy_system_free(*s); }

/* Build the service index (policy_load does it; call after policy_parse_text). */
int policy_index(Policy *p);

/* "file:line: message" (or "message" for load-level errors) into a fresh string. */
char *policy_error_format(const PolicyError *e);

/* ---- evaluation ---- */

typedef struct PolicyRequest {
        const char *source;
        const char *target;     /* as the caller typed it; "" means @default */
        const char *service;
        const char *argument;   /* "+..." ; NULL or "" means "+" */
        bool assume_yes_for_ask;
        bool just_evaluate;
} PolicyRequest;

typedef enum PolicyVerdict {
        POLICY_VERDICT_DENY,
        POLICY_VERDICT_ALLOW,
        POLICY_VERDICT_ASK,
} PolicyVerdict;

typedef struct PolicyDecision {
        PolicyVerdict verdict;
        const PolicyRule *rule;         /* the deciding rule; NULL when none matched */
        bool notify;                    /* deny: tell the user (notify=) */
        char *reason;                   /* deny: why, for the log */
        char *requested_target;         /* the normalised request target */
        /* allow */
        char *target;                   /* dom0, a name, uuid:..., @dispvm:TPL */
        char *target_uuid;              /* uuid:... or @dispvm:uuid:...; NULL for dom0 */
        char *user;                     /* NULL: DEFAULT */
        bool autostart;
        /* ask */
        char **targets;                 /* sorted */
        size_t n_targets;
        char *default_target;           /* NULL when none */
} PolicyDecision;

/* Evaluate.  A policy with load errors denies everything (reason: the first
 * error).  -ENOMEM only; every refusal is a POLICY_VERDICT_DENY decision. */
int policy_evaluate(const Policy *p, const PolicySystem *s, const PolicyRequest *req, PolicyDecision *ret);
void policy_decision_done(PolicyDecision *d);

/* The user answered an ask decision (made by policy_evaluate() for the same
 * req, with the Policy still loaded) with `choice`: resolve it as the
 * matched rule's allow to that target (§4.7), or deny when the choice was
 * not offered.  -EINVAL when d is not an ask, -ENOMEM. */
int policy_decision_choose(const PolicySystem *s, const PolicyRequest *req, const char *choice, PolicyDecision *d);

/* Whether a rule matches the request's service, argument and source, and
 * (for explain) whether its target column matches the normalised target. */
bool policy_rule_matches(const PolicyRule *rule, const PolicySystem *s, const char *service, const char *argument,
                         const char *source, const char *normalised_target);

/* Normalise a caller's target (§4.5).  0 and a fresh string, or -EPERM
 * (the request is refused; *ret_reason says why), -ENOMEM. */
int policy_normalise_target(const PolicySystem *s, const char *target, char **ret, const char **ret_reason);

/* Iterate over the rules that may match `service` (its own and the * rules),
 * in global order.  *cursor starts at 0-initialised state. */
typedef struct PolicyRuleCursor {
        const size_t *a, *b;
        size_t n_a, n_b, i_a, i_b;
} PolicyRuleCursor;
void policy_rules_for_service(const Policy *p, const char *service, PolicyRuleCursor *c);
const PolicyRule *policy_rule_next(const Policy *p, PolicyRuleCursor *c);
