/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-domains: native domains through the real stack (busd + qubesd) and
 * the real client, each figure against a baseline measured in the same run.
 *   domain_start_ms_p50/_p99    `qubes-ctl start` until the agent said hello
 *   domain_start_ratio_vs_unshare  against `unshare` with the same namespaces running `true`
 *   domain_idle_pss_kb          PSS of one idle domain: its monitor and every process in it
 *   ls_200_ms                   `qubes-ctl ls --json`, 200 domains defined, 100 running
 *   domains_running_max         native domains running at once (tried up to --max, default 256)
 * Options: --runs N (start runs, default 50), --max N, --quick (10 runs, 40 domains).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack-harness.h"
#include "util.h"

static unsigned runs = 50, max_domains = 256, ls_defined = 200, ls_running = 100;
static char qubes_ctl[2200];

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p) {
        qsort(v, n, sizeof(*v), cmp_double);
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

static int ctl(const struct test_stack *s, const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6) {
        return test_stack_run(s, NULL, 0, qubes_ctl, a1, a2, a3, a4, a5, a6, NULL);
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-domains: %s failed (%d)\n", what, r);
        exit(EXIT_FAILURE);
}

/* Milliseconds that `argv` takes to run to completion; < 0 if it failed. */
static double time_command(char *const argv[]) {
        uint64_t start = now_usec();
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -1;
        return (double) (now_usec() - start) / 1000.0;
}

static double time_ctl(const struct test_stack *s, const char *cmd, const char *name) {
        uint64_t start = now_usec();
        int r = test_stack_run(s, NULL, 0, qubes_ctl, cmd, name, NULL);
        return r == 0 ? (double) (now_usec() - start) / 1000.0 : -1;
}

/* Sum of Pss (kB) of pid and all its descendants. */
static uint64_t pss_tree_kb(pid_t root) {
        uint64_t total = 0;
        pid_t todo[4096];
        size_t n = 0;

        todo[n++] = root;
        while (n > 0) {
                pid_t pid = todo[--n];
                char path[64], line[256];
                snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
                FILE *f = fopen(path, "re");
                if (f) {
                        unsigned long long kb;
                        while (fgets(line, sizeof(line), f))
                                if (sscanf(line, "Pss: %llu kB", &kb) == 1)
                                        total += kb;
                        fclose(f);
                }
                /* children of pid, from every thread's children list */
                snprintf(path, sizeof(path), "/proc/%d/task", pid);
                DIR *d = opendir(path);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char cpath[320];
                        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
                        FILE *c = fopen(cpath, "re");
                        int child;
                        while (c && fscanf(c, "%d", &child) == 1 && n < ELEMENTSOF(todo))
                                todo[n++] = child;
                        if (c)
                                fclose(c);
                }
                if (d)
                        closedir(d);
        }
        return total;
}

static pid_t monitor_pid(const struct test_stack *s, const char *name) {
        char path[600];
        int pid = -1;
        snprintf(path, sizeof(path), "%s/run/domains/%s/monitor.pid", s->root, name);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        if (fscanf(f, "%d", &pid) != 1)
                pid = -1;
        fclose(f);
        return pid;
}

int main(int argc, char **argv) {
        struct test_stack s;
        char name[32];
        int r;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--quick"))
                        runs = 10, max_domains = 40, ls_defined = 40, ls_running = 20;
                else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
                        runs = (unsigned) atoi(argv[++i]);
                else if (!strcmp(argv[i], "--max") && i + 1 < argc)
                        max_domains = (unsigned) atoi(argv[++i]);
                else {
                        fprintf(stderr, "usage: bench-domains [--runs N] [--max N] [--quick]\n");
                        return 2;
                }
        }
        if (runs < 2 || max_domains < ls_defined)
                die("arguments", -EINVAL);
        if (geteuid() != 0) {
                fprintf(stderr, "bench-domains: needs root (native domains); skipped\n");
                return EXIT_SUCCESS;
        }
        r = test_stack_start(&s, NULL);
        if (r < 0)
                die("starting the stack", r);
        snprintf(qubes_ctl, sizeof(qubes_ctl), "%s/client/qubes-ctl", s.builddir);

        r = ctl(&s, "create", "bench-tpl", "--class", "TemplateVM", "--label", "black");
        if (r != 0)
                die("creating the template", r);

        /* Start latency, against unshare with the same namespaces. */
        double *start_ms = calloc(runs, sizeof(double)), *unshare_ms = calloc(runs, sizeof(double));
        if (!start_ms || !unshare_ms)
                die("allocating", -ENOMEM);
        if (test_stack_run(&s, NULL, 0, qubes_ctl, "create", "bench-0", "--class", "AppVM", "--label", "red",
                           "--template", "bench-tpl", NULL) != 0)
                die("creating bench-0", -EIO);
        char *const unshare_argv[] = { (char *) "/usr/bin/unshare", (char *) "--user", (char *) "--map-root-user",
                                       (char *) "--mount", (char *) "--pid", (char *) "--fork", (char *) "--ipc",
                                       (char *) "--uts", (char *) "--net", (char *) "--cgroup", (char *) "true",
                                       NULL };
        for (unsigned i = 0; i < runs; i++) {
                start_ms[i] = time_ctl(&s, "start", "bench-0");
                if (start_ms[i] < 0)
                        die("qubes-ctl start", -EIO);
                if (i == runs - 1) {
                        sleep(1);       /* idle: the agent has said hello and waits */
                        pid_t mon = monitor_pid(&s, "bench-0");
                        if (mon > 0)
                                printf("BENCH domain_idle_pss_kb %llu kB\n", (unsigned long long) pss_tree_kb(mon));
                }
                if (ctl(&s, "kill", "bench-0", NULL, NULL, NULL, NULL) != 0)
                        die("qubes-ctl kill", -EIO);
                unshare_ms[i] = time_command(unshare_argv);
                if (unshare_ms[i] < 0)
                        die("unshare", -EIO);
        }
        double p50 = percentile(start_ms, runs, 0.5), p99 = percentile(start_ms, runs, 0.99);
        double base = percentile(unshare_ms, runs, 0.5);
        printf("BENCH domain_start_ms_p50 %.1f ms\n", p50);
        printf("BENCH domain_start_ms_p99 %.1f ms\n", p99);
        printf("BENCH unshare_true_ms_p50 %.1f ms\n", base);
        printf("BENCH domain_start_ratio_vs_unshare %.2f ratio\n", p50 / base);
        fflush(stdout);

        /* ls with ls_defined domains defined and ls_running running. */
        unsigned running = 0;
        for (unsigned i = 1; i < max_domains; i++) {
                snprintf(name, sizeof(name), "bench-%u", i);
                if (test_stack_run(&s, NULL, 0, qubes_ctl, "create", name, "--class", "AppVM", "--label", "blue",
                                   "--template", "bench-tpl", NULL) != 0)
                        die("creating a domain", -EIO);
        }
        for (unsigned i = 0; i < ls_running; i++) {
                snprintf(name, sizeof(name), "bench-%u", i);
                if (ctl(&s, "start", name, NULL, NULL, NULL, NULL) != 0)
                        die("starting a domain", -EIO);
                running++;
        }
        /* The ls figure is for ls_defined domains: remove the surplus for now. */
        for (unsigned i = ls_defined; i < max_domains; i++) {
                snprintf(name, sizeof(name), "bench-%u", i);
                (void) ctl(&s, "remove", name, NULL, NULL, NULL, NULL);
        }
        char *const ls_argv[] = { qubes_ctl, (char *) "ls", (char *) "--json", NULL };
        double ls_ms[21];
        setenv("QUBES_ADMIN_ADDRESS", s.admin_address, 1);
        for (unsigned i = 0; i < ELEMENTSOF(ls_ms); i++)
                ls_ms[i] = time_command(ls_argv);
        printf("BENCH ls_200_ms %.1f ms\n", percentile(ls_ms, ELEMENTSOF(ls_ms), 0.5));
        char *const true_argv[] = { (char *) "/bin/true", NULL };
        double true_ms[21];
        for (unsigned i = 0; i < ELEMENTSOF(true_ms); i++)
                true_ms[i] = time_command(true_argv);
        printf("BENCH process_spawn_ms %.1f ms\n", percentile(true_ms, ELEMENTSOF(true_ms), 0.5));
        fflush(stdout);

        /* As many running at once as will go, up to max_domains. */
        for (unsigned i = ls_defined; i < max_domains; i++) {
                snprintf(name, sizeof(name), "bench-%u", i);
                (void) test_stack_run(&s, NULL, 0, qubes_ctl, "create", name, "--class", "AppVM", "--label", "blue",
                                      "--template", "bench-tpl", NULL);
        }
        for (unsigned i = ls_running; i < max_domains; i++) {
                snprintf(name, sizeof(name), "bench-%u", i);
                if (ctl(&s, "start", name, NULL, NULL, NULL, NULL) != 0)
                        break;
                running++;
        }
        printf("BENCH domains_running_max %u domains\n", running);
        if (running == max_domains)
                printf("# domains_running_max: every domain tried ran (--max %u)\n", max_domains);
        (void) ctl(&s, "shutdown", "--all", "--timeout", "5", "--wait", NULL);
        test_stack_stop(&s);
        return EXIT_SUCCESS;
}
