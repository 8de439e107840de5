/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * escape-battery: options, reporting and the helpers every group of attempts
 * shares (see escape.h).  With no arguments at all it reads
 * /rw/escape-battery.conf when there is one: that is how a test configures
 * it when a domain's init starts it as an agent, without a command line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

#define DEFAULT_CONFIG "/rw/escape-battery.conf"

static unsigned n_blocked, n_escaped;
static int output_fd = -1;
static char scratch_dir[PATH_MAX];

static void emit(const char *line) {
        size_t n = strlen(line);

        /* One write per line: children of escape_in_child() never print, but
         * a line must not mix with anything else. */
        (void) !write(STDOUT_FILENO, line, n);
        if (output_fd >= 0)
                (void) !write(output_fd, line, n);
}

static void report(const char *name, bool escaped, const char *fmt, va_list ap) {
        char detail[512], line[700];

        vsnprintf(detail, sizeof(detail), fmt, ap);
        /* Keep one attempt on one line whatever the detail holds. */
        for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        snprintf(line, sizeof(line), "ESCAPE %s %s %s\n", name, escaped ? "ESCAPED" : "blocked", detail);
        emit(line);
        if (escaped)
                n_escaped++;
        else
                n_blocked++;
}

void escape_blocked(const char *name, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        report(name, false, fmt, ap);
        va_end(ap);
}

void escape_escaped(const char *name, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        report(name, true, fmt, ap);
        va_end(ap);
}

void escape_append(char *buf, size_t size, const char *fmt, ...) {
        size_t used = strnlen(buf, size);
        va_list ap;

        if (used + 1 >= size)
                return;
        va_start(ap, fmt);
        vsnprintf(buf + used, size - used, fmt, ap);
        va_end(ap);
}

static const char *errno_name(int err) {
        const char *s = strerrorname_np(err);
        return s ? s : "errno?";
}

void escape_expect_refused(const char *name, long ret, int err, const int *walls) {
        static const int default_walls[] = { EPERM, EACCES, 0 };

        if (ret >= 0) {
                escape_escaped(name, "the call succeeded (returned %ld)", ret);
                return;
        }
        /* Not built into this kernel: nothing to reach. */
        if (err == ENOSYS) {
                escape_blocked(name, "ENOSYS");
                return;
        }
        for (const int *w = walls ? walls : default_walls; *w; w++)
                if (*w == err) {
                        escape_blocked(name, "%s", errno_name(err));
                        return;
                }
        escape_escaped(name, "the call got past the permission check (%s)", errno_name(err));
}

long escape_in_child(long (*fn)(void *arg), void *arg, int *ret_err) {
        struct {
                long ret;
                int err;
        } result = { -1, EIO };
        int pipe_fds[2], status;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
                *ret_err = errno;
                return -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
                *ret_err = errno;
                close(pipe_fds[0]);
                close(pipe_fds[1]);
                return -1;
        }
        if (pid == 0) {
                close(pipe_fds[0]);
                result.ret = fn(arg);
                result.err = errno;
                (void) !write(pipe_fds[1], &result, sizeof(result));
                _exit(0);
        }
        close(pipe_fds[1]);
        if (read(pipe_fds[0], &result, sizeof(result)) != (ssize_t) sizeof(result)) {
                result.ret = -1;
                result.err = EIO;
        }
        close(pipe_fds[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        *ret_err = result.err;
        return result.ret;
}

size_t escape_visible_pids(pid_t *pids, size_t max) {
        DIR *d = opendir("/proc");
        size_t n = 0;

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d)) && n < max;) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0 || pid == getpid())
                        continue;
                pids[n++] = (pid_t) pid;
        }
        closedir(d);
        return n;
}

const char *escape_scratch_dir(void) {
        return scratch_dir;
}

int escape_print_ids(void) {
        char line[256], capeff[32] = "?", capprm[32] = "?";
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;
        FILE *f = fopen("/proc/self/status", "re");

        if (f) {
                while (fgets(line, sizeof(line), f)) {
                        sscanf(line, "CapEff: %31s", capeff);
                        sscanf(line, "CapPrm: %31s", capprm);
                }
                fclose(f);
        }
        getresuid(&ruid, &euid, &suid);
        getresgid(&rgid, &egid, &sgid);
        printf("ids uid=%u/%u/%u gid=%u/%u/%u CapEff=%s CapPrm=%s\n", ruid, euid, suid, rgid, egid, sgid,
               capeff, capprm);
        return fflush(stdout) == 0 ? 0 : 1;
}

static void help(void) {
        printf("Usage: escape-battery [OPTIONS]\n"
               "Try to break out of the native domain it runs in; print one line per attempt\n"
               "(\"ESCAPE NAME blocked|ESCAPED DETAIL\") and \"N passed, M failed\".\n"
               "Exit status 0 when every attempt was blocked, 1 otherwise, 2 on bad usage.\n\n"
               "  --output FILE           also write the report to FILE\n"
               "  --config FILE           read options from FILE, one \"NAME VALUE\" a line\n"
               "                          (default with no arguments: " DEFAULT_CONFIG " if present)\n"
               "  --host-pid PID          a host process to ptrace, read and signal (repeatable)\n"
               "  --other-volume PATH     another domain's private volume (repeatable)\n"
               "  --admin-socket PATH     the Admin API socket (default /run/qubes/admin.sock)\n"
               "  --bus-socket PATH       busd's socket (default /run/qubes/bus.sock)\n"
               "  --display-socket PATH   the admin X display (default /tmp/.X11-unix/X0)\n"
               "  --host-tcp-port PORT    a TCP port listening on the host's 127.0.0.1\n"
               "  --host-uid UID          a host uid the domain must not become\n"
               "  --host-marker TEXT      text in a host process's command line (repeatable)\n"
               "  --host-init-cmdline S   the host's /proc/1/cmdline (NULs as spaces)\n"
               "  --host-ns LINK          a host namespace, as readlink /proc/PID/ns/TYPE shows it\n"
               "                          (\"net:[4026531840]\"); the domain must not share it (repeatable)\n"
               "  --setuid-helper PATH    a setuid-root copy of this program\n"
               "  --print-ids             print real/effective/saved ids and capabilities, exit\n"
               "  --victim                sleep until killed (a host process for the test)\n"
               "  --help                  this text\n");
}

static int parse_long(const char *s, long min, long max, long *ret) {
        char *end;

        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int add_to_list(const char **list, size_t *n, const char *value) {
        if (*n >= ESCAPE_MAX_LIST)
                return -E2BIG;
        list[(*n)++] = value;
        return 0;
}

/* One option by its long name (shared by the command line and --config). */
static int set_option(struct escape_config *c, const char **output, const char *name, const char *value) {
        long v;

        if (strcmp(name, "output") == 0)
                *output = value;
        else if (strcmp(name, "host-pid") == 0) {
                if (parse_long(value, 1, INT_MAX, &v) < 0 || c->n_host_pids >= ESCAPE_MAX_LIST)
                        return -EINVAL;
                c->host_pids[c->n_host_pids++] = (pid_t) v;
        } else if (strcmp(name, "other-volume") == 0)
                return add_to_list(c->other_volumes, &c->n_other_volumes, value);
        else if (strcmp(name, "admin-socket") == 0)
                c->admin_socket = value;
        else if (strcmp(name, "bus-socket") == 0)
                c->bus_socket = value;
        else if (strcmp(name, "display-socket") == 0)
                c->display_socket = value;
        else if (strcmp(name, "host-tcp-port") == 0) {
                if (parse_long(value, 1, 65535, &v) < 0)
                        return -EINVAL;
                c->host_tcp_port = (int) v;
        } else if (strcmp(name, "host-uid") == 0) {
                if (parse_long(value, 0, UINT32_MAX - 1, &v) < 0)
                        return -EINVAL;
                c->host_uid = v;
        } else if (strcmp(name, "host-marker") == 0)
                return add_to_list(c->host_markers, &c->n_host_markers, value);
        else if (strcmp(name, "host-ns") == 0)
                return add_to_list(c->host_namespaces, &c->n_host_namespaces, value);
        else if (strcmp(name, "host-init-cmdline") == 0)
                c->host_init_cmdline = value;
        else if (strcmp(name, "setuid-helper") == 0)
                c->setuid_helper = value;
        else
                return -ENOENT;
        return 0;
}

static int read_config(struct escape_config *c, const char **output, const char *path) {
        char line[1024];
        unsigned lineno = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                lineno++;
                line[strcspn(line, "\n")] = '\0';
                if (line[0] == '#' || line[0] == '\0')
                        continue;
                char *value = strchr(line, ' ');
                if (!value) {
                        fprintf(stderr, "%s:%u: expected \"NAME VALUE\"\n", path, lineno);
                        fclose(f);
                        return -EINVAL;
                }
                *value++ = '\0';
                char *copy = strdup(value);
                if (!copy || set_option(c, output, line, copy) < 0) {
                        fprintf(stderr, "%s:%u: bad option \"%s\"\n", path, lineno, line);
                        free(copy);
                        fclose(f);
                        return -EINVAL;
                }
        }
        fclose(f);
        return 0;
}

/* The setuid helper defaults to escape-battery-setuid beside this program. */
static const char *find_setuid_helper(const char *self) {
        static char path[PATH_MAX];
        const char *slash = strrchr(self, '/');

        if (!slash)
                return NULL;
        snprintf(path, sizeof(path), "%.*s/escape-battery-setuid", (int) (slash - self), self);
        return access(path, X_OK) == 0 ? path : NULL;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 0 },       { "config", required_argument, NULL, 0 },
                { "host-pid", required_argument, NULL, 0 },     { "other-volume", required_argument, NULL, 0 },
                { "admin-socket", required_argument, NULL, 0 }, { "bus-socket", required_argument, NULL, 0 },
                { "display-socket", required_argument, NULL, 0 }, { "host-tcp-port", required_argument, NULL, 0 },
                { "host-uid", required_argument, NULL, 0 },     { "host-marker", required_argument, NULL, 0 },
                { "host-init-cmdline", required_argument, NULL, 0 }, { "host-ns", required_argument, NULL, 0 },
                { "setuid-helper", required_argument, NULL, 0 },
                { "print-ids", no_argument, NULL, 'I' },        { "victim", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },             {}
        };
        struct escape_config config = {
                .admin_socket = "/run/qubes/admin.sock",
                .bus_socket = "/run/qubes/bus.sock",
                .display_socket = "/tmp/.X11-unix/X0",
                .host_uid = -1,
        };
        static char self[PATH_MAX];
        const char *output = NULL;
        int opt, index;

        if (argc == 1 && access(DEFAULT_CONFIG, R_OK) == 0 && read_config(&config, &output, DEFAULT_CONFIG) < 0)
                return 2;
        while ((opt = getopt_long(argc, argv, "h", options, &index)) != -1)
                switch (opt) {
                case 0:
                        if (strcmp(options[index].name, "config") == 0 ?
                                    read_config(&config, &output, optarg) < 0 :
                                    set_option(&config, &output, options[index].name, optarg) < 0) {
                                fprintf(stderr, "escape-battery: bad value for --%s: %s\n", options[index].name,
                                        optarg);
                                return 2;
                        }
                        break;
                case 'I':
                        return escape_print_ids();
                case 'V':
                        for (;;)
                                pause();
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "escape-battery: unexpected argument: %s\n", argv[optind]);
                return 2;
        }

        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                config.self_path = self;
        }
        if (!config.setuid_helper && config.self_path)
                config.setuid_helper = find_setuid_helper(config.self_path);

        if (output) {
                output_fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (output_fd < 0) {
                        fprintf(stderr, "escape-battery: cannot open %s: %m\n", output);
                        return 2;
                }
        }
        snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/escape-battery-XXXXXX");
        if (!mkdtemp(scratch_dir)) {
                fprintf(stderr, "escape-battery: cannot make a scratch directory in /tmp: %m\n");
                return 2;
        }

        escape_run_tty(&config);
        escape_run_processes(&config);
        escape_run_namespaces(&config);
        escape_run_kernel(&config);
        escape_run_reach(&config);
        escape_run_files(&config);
        escape_run_privileges(&config);

        char line[64];
        snprintf(line, sizeof(line), "%u passed, %u failed\n", n_blocked, n_escaped);
        emit(line);
        if (output_fd >= 0) {
                fsync(output_fd);
                close(output_fd);
        }
        rmdir(scratch_dir);
        return n_escaped == 0 ? 0 : 1;
}
