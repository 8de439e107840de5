/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-policy: check and try out qrexec policy offline.
 *
 *   qubes-policy lint [--policy-dir DIR]...
 *   qubes-policy eval|explain [--policy-dir DIR]... --system-info FILE
 *                [--assume-yes-for-ask] [--just-evaluate] SOURCE TARGET SERVICE[+ARG]
 *   qubes-policy edit|replace [--policy-dir DIR]... FILE
 *
 * eval prints the policy daemon's answer lines; exit 0 allow, 1 deny,
 * 3 ask, 2 when the policy does not load (every error as file:line: message).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy.h"
#include "qubes-policy-edit.h"
#include "util.h"

#define EXIT_ALLOW 0
#define EXIT_DENY 1
#define EXIT_POLICY_ERROR 2
#define EXIT_ASK 3
#define EXIT_USAGE 64
#define MAX_POLICY_DIRS 8
#define MAX_SYSTEM_INFO_SIZE (16 * 1024 * 1024)

static const char *const default_dirs[] = { "/run/qubes/policy.d", "/etc/qubes/policy.d" };

static void help(void) {
        printf("Usage: qubes-policy COMMAND [OPTIONS]\n"
               "\n"
               "Check and evaluate qrexec policy (format v5) offline.\n"
               "\n"
               "Commands:\n"
               "  lint [--policy-dir DIR]...      Report every error as FILE:LINE: MESSAGE\n"
               "  eval OPTIONS SOURCE TARGET SERVICE[+ARG]\n"
               "                                  Print the decision as the policy daemon would\n"
               "  explain OPTIONS SOURCE TARGET SERVICE[+ARG]\n"
               "                                  Show which rule decided, and why earlier ones did not\n"
               "  edit [--policy-dir DIR]... FILE Edit FILE with $VISUAL/$EDITOR; install it only if\n"
               "                                  the policy then lints clean\n"
               "  replace [--policy-dir DIR]... FILE < NEW\n"
               "                                  Install NEW as FILE only if the policy lints clean\n"
               "\n"
               "Options:\n"
               "  --policy-dir DIR        Policy directory (repeatable; default /run/qubes/policy.d\n"
               "                          and /etc/qubes/policy.d, the first wins for equal names;\n"
               "                          edit and replace: the directory of FILE)\n"
               "  --system-info FILE      System info JSON (eval, explain; required)\n"
               "  --assume-yes-for-ask    Accept an ask for the requested target if offered\n"
               "  --just-evaluate         Non-interactive: an ask is a deny\n"
               "  -h, --help              Show this help\n"
               "\n"
               "Exit status: 0 allow (or lint clean, or installed), 1 deny (or lint errors, nothing\n"
               "installed), 2 policy error, 3 ask, 64 usage error.\n");
}

typedef struct Options {
        const char *dirs[MAX_POLICY_DIRS];
        size_t n_dirs;
        const char *system_info;
        bool assume_yes_for_ask, just_evaluate;
        char **args;
        int n_args;
} Options;

static int parse_options(int argc, char **argv, Options *o) {
        enum { ARG_POLICY_DIR = 0x100, ARG_SYSTEM_INFO, ARG_ASSUME_YES, ARG_JUST_EVALUATE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "policy-dir", required_argument, NULL, ARG_POLICY_DIR },
                { "system-info", required_argument, NULL, ARG_SYSTEM_INFO },
                { "assume-yes-for-ask", no_argument, NULL, ARG_ASSUME_YES },
                { "just-evaluate", no_argument, NULL, ARG_JUST_EVALUATE },
                {},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case ARG_POLICY_DIR:
                        if (o->n_dirs >= MAX_POLICY_DIRS) {
                                fprintf(stderr, "qubes-policy: at most %d --policy-dir\n", MAX_POLICY_DIRS);
                                return -EINVAL;
                        }
                        o->dirs[o->n_dirs++] = optarg;
                        break;
                case ARG_SYSTEM_INFO:
                        o->system_info = optarg;
                        break;
                case ARG_ASSUME_YES:
                        o->assume_yes_for_ask = true;
                        break;
                case ARG_JUST_EVALUATE:
                        o->just_evaluate = true;
                        break;
                default:
                        return -EINVAL;
                }
        o->args = argv + optind;
        o->n_args = argc - optind;
        return 0;
}

/* Load the policy; print every error.  1 when there were errors. */
static int load_policy(const Options *o, Policy **ret) {
        PolicyLoadOptions lo = { .dirs = o->n_dirs ? o->dirs : default_dirs,
                                 .n_dirs = o->n_dirs ? o->n_dirs : ELEMENTSOF(default_dirs) };
        int r = policy_load(&lo, ret);

        if (r < 0) {
                fprintf(stderr, "qubes-policy: cannot load the policy: %s\n", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < (*ret)->n_errors; i++) {
                _cleanup_free_ char *e = policy_error_format(&(*ret)->errors[i]);
                fprintf(stderr, "%s\n", e ? e : "(out of memory)");
        }
        return (*ret)->n_errors > 0;
}

static int cmd_lint(const Options *o) {
        _cleanup_(policy_freep) Policy *p = NULL;
        int r;

        if (o->n_args != 0) {
                fprintf(stderr, "qubes-policy lint: no arguments expected\n");
                return EXIT_USAGE;
        }
        r = load_policy(o, &p);
        if (r < 0)
                return EXIT_POLICY_ERROR;
        return r > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int read_system_info(const char *path, PolicySystem **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *text = NULL, *error = NULL;
        struct stat st;
        ssize_t n;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "qubes-policy: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > MAX_SYSTEM_INFO_SIZE) {
                fprintf(stderr, "qubes-policy: %s: not a regular file of at most %d bytes\n", path,
                        MAX_SYSTEM_INFO_SIZE);
                return -EINVAL;
        }
        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        r = read_full(fd, text, (size_t) st.st_size);
        if (r < 0) {
                fprintf(stderr, "qubes-policy: %s: %s\n", path, strerror(-r));
                return r;
        }
        n = st.st_size;
        r = policy_system_parse(text, (size_t) n, ret, &error);
        if (r < 0)
                fprintf(stderr, "qubes-policy: %s: %s\n", path, error ? error : strerror(-r));
        return r;
}

static const char *action_name(PolicyAction a) {
        return a == POLICY_ACTION_ALLOW ? "allow" : a == POLICY_ACTION_ASK ? "ask" : "deny";
}

/* Why a rule for this service did not match (explain). */
static void explain_rule(const PolicyRule *rule, const PolicySystem *s, const PolicyRequest *req,
                         const char *argument, const char *normalised) {
        const char *why;

        if (rule->argument && strcmp(rule->argument, argument) != 0)
                why = "argument differs";
        else if (!policy_rule_matches(rule, s, req->service, argument, req->source, NULL))
                why = "source does not match";
        else if (!policy_rule_matches(rule, s, req->service, argument, req->source, normalised))
                why = "target does not match";
        else
                why = NULL;
        printf("%s:%u: %s %s %s %s %s: %s%s%s\n", rule->file, rule->line, rule->service ? rule->service : "*",
               rule->argument ? rule->argument : "*", rule->source.text, rule->target.text, action_name(rule->action),
               why ? "no match, " : "MATCH", why ? why : "", why ? "" : " (first match decides)");
}

static int cmd_eval(const Options *o, bool explain) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(policy_system_freep) PolicySystem *s = NULL;
        _cleanup_free_ char *service = NULL;
        PolicyDecision d = {};
        PolicyRequest req = {};
        char *plus;
        int r;

        if (o->n_args != 3) {
                fprintf(stderr, "qubes-policy: expected SOURCE TARGET SERVICE[+ARG] (see --help)\n");
                return EXIT_USAGE;
        }
        if (!o->system_info) {
                fprintf(stderr, "qubes-policy: --system-info FILE is required\n");
                return EXIT_USAGE;
        }
        r = load_policy(o, &p);
        if (r != 0)
                return EXIT_POLICY_ERROR;
        if (read_system_info(o->system_info, &s) < 0)
                return EXIT_USAGE;

        service = strdup(o->args[2]);
        if (!service)
                return EXIT_FAILURE;
        plus = strchr(service, '+');
        req = (PolicyRequest) {
                .source = o->args[0],
                .target = o->args[1],
                .service = service,
                .argument = plus ? o->args[2] + (plus - service) : "+",
                .assume_yes_for_ask = o->assume_yes_for_ask,
                .just_evaluate = o->just_evaluate,
        };
        if (plus)
                *plus = '\0';

        r = policy_evaluate(p, s, &req, &d);
        if (r < 0) {
                fprintf(stderr, "qubes-policy: evaluation failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        if (explain) {
                PolicyRuleCursor c;
                const PolicyRule *rule;
                printf("request: source=%s target=%s -> %s service=%s argument=%s\n", req.source,
                       req.target[0] ? req.target : "(none)", d.requested_target ? d.requested_target : "(refused)",
                       req.service, req.argument);
                if (d.requested_target) {
                        policy_rules_for_service(p, req.service, &c);
                        while ((rule = policy_rule_next(p, &c))) {
                                explain_rule(rule, s, &req, req.argument, d.requested_target);
                                if (rule == d.rule)
                                        break;
                        }
                }
                if (!d.rule)
                        printf("no rule decided\n");
        }

        switch (d.verdict) {
        case POLICY_VERDICT_ALLOW:
                printf("result=allow\ntarget=%s\n", d.target);
                if (d.target_uuid)
                        printf("target_uuid=%s\n", d.target_uuid);
                printf("user=%s\nautostart=%s\nrequested_target=%s\n", d.user ? d.user : "DEFAULT",
                       d.autostart ? "True" : "False", d.requested_target);
                r = EXIT_ALLOW;
                break;
        case POLICY_VERDICT_ASK:
                printf("result=ask\ntargets=");
                for (size_t i = 0; i < d.n_targets; i++)
                        printf("%s%s", i ? " " : "", d.targets[i]);
                printf("\ndefault_target=%s\n", d.default_target ? d.default_target : "");
                r = EXIT_ASK;
                break;
        default:
                printf("result=deny\n");
                if (d.reason)
                        fprintf(stderr, "qubes-policy: denied: %s\n", d.reason);
                r = EXIT_DENY;
                break;
        }
        policy_decision_done(&d);
        return r;
}

int main(int argc, char **argv) {
        Options o = {};
        const char *command;

        if (argc < 2) {
                help();
                return EXIT_USAGE;
        }
        command = argv[1];
        if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "help") == 0) {
                help();
                return EXIT_SUCCESS;
        }
        if (parse_options(argc - 1, argv + 1, &o) < 0)
                return EXIT_USAGE;
        if (strcmp(command, "lint") == 0)
                return cmd_lint(&o);
        if (strcmp(command, "eval") == 0)
                return cmd_eval(&o, false);
        if (strcmp(command, "explain") == 0)
                return cmd_eval(&o, true);
        if (strcmp(command, "edit") == 0 || strcmp(command, "replace") == 0) {
                if (o.n_args != 1) {
                        fprintf(stderr, "qubes-policy %s: expected one FILE (see --help)\n", command);
                        return EXIT_USAGE;
                }
                return command[0] == 'e' ? policy_cli_edit(o.dirs, o.n_dirs, o.args[0])
                                         : policy_cli_replace(o.dirs, o.n_dirs, o.args[0]);
        }
        fprintf(stderr, "qubes-policy: unknown command '%s' (see --help)\n", command);
        return EXIT_USAGE;
}
