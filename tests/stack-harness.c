/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack-harness.h"
#include "util.h"

#define MAX_ARGS 64

static const char *builddir(void) {
        const char *b = getenv("ODYSSEY_BUILDDIR");
        return b && *b ? b : ODYSSEY_BUILDDIR;
}

/* Run argv with stdout captured into out; environment extras "K=V" in env. */
static int run_capture(char *const argv[], const char *env_kv, char *out, size_t size) {
        int pipefd[2];
        pid_t pid;
        int status;
        size_t have = 0;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                if (dup2(pipefd[1], STDOUT_FILENO) < 0)
                        _exit(127);
                if (env_kv)
                        putenv((char *) env_kv);
                execv(argv[0], argv);
                fprintf(stderr, "exec %s: %m\n", argv[0]);
                _exit(127);
        }
        close(pipefd[1]);
        for (;;) {
                char discard[4096];
                char *dst = out && have + 1 < size ? out + have : discard;
                size_t room = out && have + 1 < size ? size - 1 - have : sizeof(discard);
                ssize_t n = read(pipefd[0], dst, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (dst != discard)
                        have += (size_t) n;
        }
        close(pipefd[0]);
        if (out && size)
                out[have] = '\0';
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void dump_logs(const struct test_stack *s) {
        char cmd[sizeof(s->root) + 64];
        snprintf(cmd, sizeof(cmd), "tail -n 40 '%s'/log/*.log >&2", s->root);
        (void) !system(cmd);
}

int test_stack_start(struct test_stack *s, ...) {
        va_list ap;
        int r;

        va_start(ap, s);
        r = test_stack_startv(s, va_arg(ap, const char *), ap);
        va_end(ap);
        return r;
}

int test_stack_startv(struct test_stack *s, const char *option, va_list more) {
        char launcher[sizeof(s->builddir) + 64], out[8192];
        const char *argv[MAX_ARGS];
        size_t argc = 0;
        int r;

        memset(s, 0, sizeof(*s));
        snprintf(s->builddir, sizeof(s->builddir), "%s", builddir());
        snprintf(s->root, sizeof(s->root), "/tmp/odyssey-test-XXXXXX");
        if (!mkdtemp(s->root))
                return -errno;
        /* daemons running as their own uids must reach the sockets under it */
        if (chmod(s->root, 0755) < 0)
                return -errno;
        snprintf(launcher, sizeof(launcher), "%s/tools/odyssey-stack", s->builddir);

        argv[argc++] = launcher;
        argv[argc++] = "start";
        argv[argc++] = "--root";
        argv[argc++] = s->root;
        for (const char *a = option; a && argc < MAX_ARGS - 1; a = va_arg(more, const char *))
                argv[argc++] = a;
        argv[argc] = NULL;

        r = run_capture((char *const *) argv, NULL, out, sizeof(out));
        if (r != 0) {
                fprintf(stderr, "odyssey-stack start failed (%d):\n%s\n", r, out);
                dump_logs(s);
                test_stack_stop(s);
                return r < 0 ? r : -EIO;
        }
        const char *line = strstr(out, "QUBES_ADMIN_ADDRESS=");
        if (line) {
                line += strlen("QUBES_ADMIN_ADDRESS=");
                size_t n = strcspn(line, "\n");
                snprintf(s->admin_address, sizeof(s->admin_address), "%.*s", (int) n, line);
                const char *path = strstr(s->admin_address, "path=");
                if (path)
                        snprintf(s->admin_socket, sizeof(s->admin_socket), "%.*s", (int) strcspn(path + 5, ","),
                                 path + 5);
        }
        snprintf(s->bus_socket, sizeof(s->bus_socket), "%s/run/bus.sock", s->root);
        return 0;
}

/* Domains outlive the daemons by design (a qubesd restart must not stop
 * them); a test's must not outlive the test: kill each domain's monitor,
 * whose death takes the domain with it. */
static void kill_domains(const struct test_stack *s) {
        char dir[sizeof(s->root) + 32];
        struct dirent *de;

        snprintf(dir, sizeof(dir), "%s/run/domains", s->root);
        DIR *d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[sizeof(dir) + 300];
                int pid;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s/monitor.pid", dir, de->d_name);
                FILE *f = fopen(path, "re");
                if (f && fscanf(f, "%d", &pid) == 1 && pid > 1)
                        (void) kill(pid, SIGKILL);
                if (f)
                        fclose(f);
        }
        closedir(d);
}

void test_stack_stop(struct test_stack *s) {
        char launcher[sizeof(s->builddir) + 64], cmd[sizeof(s->root) + 16];

        if (!s->root[0])
                return;
        kill_domains(s);
        snprintf(launcher, sizeof(launcher), "%s/tools/odyssey-stack", s->builddir);
        char *const argv[] = { launcher, (char *) "stop", (char *) "--root", s->root, NULL };
        (void) run_capture(argv, NULL, NULL, 0);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->root);
        (void) !system(cmd);
        s->root[0] = '\0';
}

int test_stack_run(const struct test_stack *s, char *out, size_t size, const char *program, ...) {
        const char *argv[MAX_ARGS];
        char env[sizeof(s->admin_address) + 32];
        size_t argc = 0;
        va_list ap;

        argv[argc++] = program;
        va_start(ap, program);
        for (const char *a; (a = va_arg(ap, const char *)) && argc < MAX_ARGS - 1;)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;
        snprintf(env, sizeof(env), "QUBES_ADMIN_ADDRESS=%s", s->admin_address);
        return run_capture((char *const *) argv, env, out, size);
}

pid_t test_stack_daemon_pid(const struct test_stack *s, const char *name) {
        char path[sizeof(s->root) + 32], line[512], found[128];
        pid_t pid = -ENOENT;
        int candidate;

        snprintf(path, sizeof(path), "%s/run/stack.pids", s->root);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%127s %d", found, &candidate) == 2 && strcmp(found, name) == 0)
                        pid = candidate;
        fclose(f);
        return pid;
}

pid_t test_stack_spawn_daemon(const struct test_stack *s, const char *program, const char *log_name) {
        char path[sizeof(s->builddir) + 256], runtime[sizeof(s->root) + 8], state[sizeof(s->root) + 8];
        char log[sizeof(s->root) + 160];
        pid_t pid;

        snprintf(path, sizeof(path), "%s/%s", s->builddir, program);
        snprintf(runtime, sizeof(runtime), "%s/run", s->root);
        snprintf(state, sizeof(state), "%s/state", s->root);
        snprintf(log, sizeof(log), "%s/log/%s.log", s->root, log_name);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                setenv("ODYSSEY_RUNTIME_DIR", runtime, 1);
                setenv("ODYSSEY_STATE_DIR", state, 1);
                unsetenv("NOTIFY_SOCKET");
                execl(path, path, (char *) NULL);
                _exit(127);
        }
        return pid;
}
