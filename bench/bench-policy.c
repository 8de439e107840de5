/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-policy: the policy engine on a policy of 10,000 rules over 200
 * services and 100 domains (issue 4's size), in a temporary directory.
 *   policy_load_ms        policy_load() of the whole directory (parse + index), median of 11
 *   policy_read_ms        baseline: reading the same files and splitting their lines, same run
 *   policy_load_ratio_vs_read
 *   policy_eval_us_p50 / _p99   one policy_evaluate() of a random request (100,000 requests)
 *   policy_eval_ratio_vs_lookup p50 against a baseline that only finds the source and target
 *                         domains by name (what any evaluation must at least do), same run
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "util.h"

#define N_RULES    10000
#define N_SERVICES 200
#define N_DOMAINS  100
#define N_FILES    20
#define N_EVALS    100000

static double now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double pick(double *v, size_t n, double p) {
        qsort(v, n, sizeof(*v), cmp_double);
        return v[(size_t) (p * (double) (n - 1))];
}

static void die(const char *what) {
        fprintf(stderr, "bench-policy: %s: %m\n", what);
        exit(EXIT_FAILURE);
}

/* A deterministic pseudo-random sequence (xorshift), so runs compare. */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t next_random(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t) rng;
}

static void write_policy(const char *dir) {
        static const char *const actions[] = { "allow", "deny", "ask", "allow target=dom0" };
        unsigned rule = 0;

        for (unsigned f = 0; f < N_FILES; f++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%02u-bench.policy", dir, 10 + f);
                FILE *out = fopen(path, "we");
                if (!out)
                        die(path);
                for (unsigned i = 0; i < N_RULES / N_FILES; i++, rule++) {
                        unsigned svc = next_random() % N_SERVICES;
                        unsigned src = next_random() % N_DOMAINS, dst = next_random() % N_DOMAINS;
                        const char *action = actions[next_random() % 4];
                        switch (rule % 5) {
                        case 0:
                                fprintf(out, "bench.Svc%u * vm%u vm%u %s\n", svc, src, dst, action);
                                break;
                        case 1:
                                fprintf(out, "bench.Svc%u +arg%u @tag:t%u @anyvm %s\n", svc, rule % 7, src % 10,
                                        action);
                                break;
                        case 2:
                                fprintf(out, "bench.Svc%u * @type:AppVM @dispvm:dvm%u allow\n", svc, dst % 5);
                                break;
                        case 3:
                                fprintf(out, "bench.Svc%u * vm%u @default allow target=vm%u\n", svc, src, dst);
                                break;
                        default:
                                fprintf(out, "bench.Svc%u * @anyvm @tag:t%u deny\n", svc, dst % 10);
                        }
                }
                fclose(out);
        }
}

static char *system_json(void) {
        size_t cap = 256 * 1024, n = 0;
        char *s = malloc(cap);
        if (!s)
                die("malloc");
        n += (size_t) snprintf(s + n, cap - n,
                               "{\"domains\":{\"dom0\":{\"type\":\"AdminVM\",\"tags\":[],\"default_dispvm\":null,"
                               "\"template_for_dispvms\":false,\"power_state\":\"Running\",\"uuid\":"
                               "\"00000000-0000-0000-0000-000000000000\",\"internal\":false,\"icon\":\"\",\"guivm\":null}");
        for (unsigned d = 0; d < N_DOMAINS; d++)
                n += (size_t) snprintf(s + n, cap - n,
                                       ",\"vm%u\":{\"type\":\"AppVM\",\"tags\":[\"t%u\"],\"default_dispvm\":\"dvm0\","
                                       "\"template_for_dispvms\":false,\"power_state\":\"%s\",\"uuid\":"
                                       "\"%08u-0000-4000-8000-000000000000\",\"internal\":false,\"icon\":\"\","
                                       "\"guivm\":\"dom0\"}",
                                       d, d % 10, d % 2 ? "Running" : "Halted", d);
        for (unsigned d = 0; d < 5; d++)
                n += (size_t) snprintf(s + n, cap - n,
                                       ",\"dvm%u\":{\"type\":\"AppVM\",\"tags\":[],\"default_dispvm\":null,"
                                       "\"template_for_dispvms\":true,\"power_state\":\"Halted\",\"uuid\":"
                                       "\"%08u-0000-4000-8000-000000000001\",\"internal\":false,\"icon\":\"\","
                                       "\"guivm\":\"dom0\"}",
                                       d, d);
        n += (size_t) snprintf(s + n, cap - n, "}}");
        if (n >= cap)
                die("system info too large");
        return s;
}

/* Baseline for loading: read every file and split it into lines. */
static size_t read_and_split(const char *dir) {
        size_t lines = 0;
        for (unsigned f = 0; f < N_FILES; f++) {
                char path[512], buf[65536];
                snprintf(path, sizeof(path), "%s/%02u-bench.policy", dir, 10 + f);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        die(path);
                ssize_t got;
                while ((got = read(fd, buf, sizeof(buf))) > 0)
                        for (ssize_t i = 0; i < got; i++)
                                lines += buf[i] == '\n';
                close(fd);
        }
        return lines;
}

int main(void) {
        char dir[] = "/tmp/bench-policy-XXXXXX";
        double load_ms[11], read_ms[11];
        Policy *policy = NULL;
        PolicySystem *sys = NULL;
        char *error = NULL;

        if (!mkdtemp(dir))
                die("mkdtemp");
        write_policy(dir);
        char *json = system_json();
        if (policy_system_parse(json, strlen(json), &sys, &error) < 0) {
                fprintf(stderr, "bench-policy: system info: %s\n", error ? error : "?");
                return EXIT_FAILURE;
        }

        const char *dirs[] = { dir };
        PolicyLoadOptions options = { .dirs = dirs, .n_dirs = 1 };
        volatile size_t sink = 0;
        for (unsigned run = 0; run < ELEMENTSOF(load_ms); run++) {
                uint64_t t0 = now_usec();
                sink += read_and_split(dir);
                uint64_t t1 = now_usec();
                if (policy)
                        policy_free(policy);
                if (policy_load(&options, &policy) < 0)
                        die("policy_load");
                uint64_t t2 = now_usec();
                read_ms[run] = (double) (t1 - t0) / 1000.0;
                load_ms[run] = (double) (t2 - t1) / 1000.0;
        }
        if (policy->n_errors > 0) {
                char *e = policy_error_format(&policy->errors[0]);
                fprintf(stderr, "bench-policy: the generated policy has errors: %s\n", e);
                return EXIT_FAILURE;
        }

        static double eval_us[N_EVALS], lookup_us[N_EVALS];
        unsigned verdicts[3] = { 0 };
        for (unsigned i = 0; i < N_EVALS; i++) {
                char service[32], source[16], target[16];
                snprintf(service, sizeof(service), "bench.Svc%u", next_random() % N_SERVICES);
                snprintf(source, sizeof(source), "vm%u", next_random() % N_DOMAINS);
                snprintf(target, sizeof(target), "vm%u", next_random() % N_DOMAINS);
                PolicyRequest req = {
                        .source = source, .target = target, .service = service,
                        .argument = i % 3 ? "" : "+arg1", .assume_yes_for_ask = false,
                };
                PolicyDecision d;
                double t0 = now_ns();
                sink += (size_t) (policy_system_find(sys, source) != NULL) +
                        (size_t) (policy_system_find(sys, target) != NULL);
                double t1 = now_ns();
                if (policy_evaluate(policy, sys, &req, &d) < 0)
                        die("policy_evaluate");
                double t2 = now_ns();
                verdicts[d.verdict]++;
                policy_decision_done(&d);
                lookup_us[i] = (t1 - t0) / 1000.0;
                eval_us[i] = (t2 - t1) / 1000.0;
        }

        double load = pick(load_ms, ELEMENTSOF(load_ms), 0.5), read_base = pick(read_ms, ELEMENTSOF(read_ms), 0.5);
        double p50 = pick(eval_us, N_EVALS, 0.5), p99 = pick(eval_us, N_EVALS, 0.99);
        double lookup = pick(lookup_us, N_EVALS, 0.5);
        printf("BENCH policy_load_ms %.2f ms\n", load);
        printf("BENCH policy_read_ms %.2f ms\n", read_base);
        printf("BENCH policy_load_ratio_vs_read %.1f ratio\n", load / (read_base > 0 ? read_base : 0.001));
        printf("BENCH policy_eval_us_p50 %.2f us\n", p50);
        printf("BENCH policy_eval_us_p99 %.2f us\n", p99);
        printf("BENCH policy_lookup_us_p50 %.2f us\n", lookup);
        printf("BENCH policy_eval_ratio_vs_lookup %.1f ratio\n", p50 / (lookup > 0 ? lookup : 0.001));
        printf("# %u rules, %u services, %u domains; verdicts allow %u, deny %u, ask %u\n", N_RULES, N_SERVICES,
               N_DOMAINS, verdicts[POLICY_VERDICT_ALLOW], verdicts[POLICY_VERDICT_DENY], verdicts[POLICY_VERDICT_ASK]);

        policy_free(policy);
        policy_system_free(sys);
        free(json);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
        return sink == (size_t) -1 ? EXIT_FAILURE : EXIT_SUCCESS;
}
