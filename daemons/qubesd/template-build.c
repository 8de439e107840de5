/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BuildTemplate: debootstrap a Debian tree into <state>/domains/<name>/root
 * (run by the file worker: debootstrap needs chroot and mknod, which the
 * sandbox refuses), turn its "I: ..." lines into TemplateBuildProgress
 * signals with a rising percent, then give the tree to the new TemplateVM's
 * uid range (WORKER_SHIFT_IDS from 0 to hal_native_uid_base(qid)) and create
 * the TemplateVM on it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qubesd.h"
#include "worker.h"

#define MIRROR_DEFAULT "http://deb.debian.org/debian"

struct template_job {
        struct qubesd *q;
        struct domain *domain;          /* made once debootstrap succeeded, committed after the shift */
        char name[DOMAIN_NAME_MAX + 1];
        char label[32];
        int output_fd;
        sd_event_source *output;
        char line[1024];
        size_t line_len;
        char last_line[1024];
        unsigned percent;
        unsigned lines_in_stage;
        int stage;
};

/* debootstrap's stages in order, the percent each starts at, and its end. */
static const struct {
        const char *prefix;
        unsigned from, to;
} stages[] = {
        { "I: Retrieving InRelease", 1, 3 },
        { "I: Validating Packages", 3, 5 },
        { "I: Resolving dependencies", 5, 8 },
        { "I: Retrieving", 8, 35 },
        { "I: Validating", 35, 40 },
        { "I: Extracting", 40, 50 },
        { "I: Installing", 50, 55 },
        { "I: Unpacking", 55, 75 },
        { "I: Configuring", 75, 97 },
        { "I: Base system installed", 99, 99 },
};

/* Does a source line up: a Debian archive (its "main" component) for suite? */
static bool source_fits(const char *uri, const char *suites, const char *components, const char *suite) {
        char word[64];
        bool suite_ok = false;

        if (!uri || !suites || !components || strstr(uri, "security") ||
            !(strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0))
                return false;
        for (const char *p = suites; sscanf(p, " %63s", word) == 1; p = strstr(p, word) + strlen(word))
                suite_ok = suite_ok || strcmp(word, suite) == 0;
        for (const char *p = components; suite_ok && sscanf(p, " %63s", word) == 1; p = strstr(p, word) + strlen(word))
                if (strcmp(word, "main") == 0)
                        return true;
        return false;
}

/* One file of apt sources, one-line ("deb URI SUITE COMP...") or deb822
 * stanzas ("URIs:", "Suites:", "Components:"). */
static bool mirror_from_file(const char *path, const char *suite, char *buf, size_t size) {
        FILE *f = fopen(path, "re");
        char line[1024], uri[512] = "", suites[256] = "", components[256] = "";
        bool found = false;

        if (!f)
                return false;
        for (;;) {
                bool eof = !fgets(line, sizeof(line), f);
                line[strcspn(line, "\n")] = '\0';
                if (eof || line[0] == '\0') {
                        /* end of a deb822 stanza */
                        if (source_fits(uri, suites, components, suite)) {
                                snprintf(buf, size, "%s", uri);
                                found = true;
                        }
                        uri[0] = suites[0] = components[0] = '\0';
                        if (eof || found)
                                break;
                        continue;
                }
                if (sscanf(line, "URIs: %511s", uri) == 1 || sscanf(line, "Suites: %255[^\n]", suites) == 1 ||
                    sscanf(line, "Components: %255[^\n]", components) == 1)
                        continue;
                if (strncmp(line, "deb ", 4) == 0) {
                        char one_uri[512], one_suite[64], rest[256];
                        const char *p = line + 4;
                        if (*p == '[')          /* options */
                                p = strchr(p, ']') ? strchr(p, ']') + 1 : p;
                        if (sscanf(p, " %511s %63s %255[^\n]", one_uri, one_suite, rest) == 3 &&
                            source_fits(one_uri, one_suite, rest, suite)) {
                                snprintf(buf, size, "%s", one_uri);
                                found = true;
                                break;
                        }
                }
        }
        fclose(f);
        return found;
}

/* The host's Debian mirror for suite (what apt uses), else deb.debian.org. */
static void host_mirror(const char *suite, char *buf, size_t size) {
        char paths[64][512];
        size_t n = 0;
        DIR *dir = opendir("/etc/apt/sources.list.d");

        for (struct dirent *de; dir && n < ELEMENTSOF(paths) - 1 && (de = readdir(dir));)
                if (de->d_name[0] != '.')
                        snprintf(paths[n++], sizeof(paths[0]), "/etc/apt/sources.list.d/%s", de->d_name);
        if (dir)
                closedir(dir);
        snprintf(paths[n++], sizeof(paths[0]), "/etc/apt/sources.list");
        for (size_t i = 0; i < n; i++)
                if (mirror_from_file(paths[i], suite, buf, size))
                        return;
        snprintf(buf, size, "%s", MIRROR_DEFAULT);
}

static void job_free(struct template_job *job) {
        sd_event_source_disable_unref(job->output);
        if (job->output_fd >= 0)
                close(job->output_fd);
        free(job);
}

static void progress_line(struct template_job *job, const char *line) {
        unsigned percent = job->percent;

        for (int i = (int) ELEMENTSOF(stages) - 1; i >= 0; i--)
                if (strncmp(line, stages[i].prefix, strlen(stages[i].prefix)) == 0) {
                        if (i != job->stage) {
                                job->stage = i;
                                job->lines_in_stage = 0;
                        }
                        /* about one line per package: creep towards the stage's end */
                        unsigned span = stages[i].to - stages[i].from;
                        unsigned step = job->lines_in_stage++ / 4;
                        percent = stages[i].from + (step < span ? step : span);
                        break;
                }
        if (percent < job->percent)
                percent = job->percent;
        job->percent = percent;
        snprintf(job->last_line, sizeof(job->last_line), "%s", line);
        admin_emit_manager_signal(job->q, "TemplateBuildProgress", "sus", job->name, job->percent, line);
}

/* Read what is there: > 0 bytes read, 0 at EOF, -EAGAIN when nothing is there now. */
static int read_output(struct template_job *job) {
        char buf[4096];
        ssize_t n = read(job->output_fd, buf, sizeof(buf));

        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        if (n == 0) {
                job->output = sd_event_source_disable_unref(job->output);
                return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' || job->line_len == sizeof(job->line) - 1) {
                        job->line[job->line_len] = '\0';
                        if (job->line_len > 0)
                                progress_line(job, job->line);
                        job->line_len = 0;
                        if (c == '\n')
                                continue;
                }
                /* debootstrap's output is ours to show: keep it printable */
                job->line[job->line_len++] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        return (int) n;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct template_job *job = userdata;
        int r = read_output(job);

        if (r < 0 && r != -EAGAIN)
                job->output = sd_event_source_disable_unref(job->output);
        return 0;
}

static void finished(struct template_job *job, int result, const char *message) {
        log_full_errno(result == 0 ? LOG_INFO : LOG_ERR, 0, "Template %s: %s", job->name, message);
        admin_emit_manager_signal(job->q, "TemplateBuildFinished", "sis", job->name, (int32_t) result, message);
}

static void on_removed(void *userdata, int result) {
        free(userdata);
}

/* The build failed: say so, and remove what it left. */
static void build_failed(struct template_job *job, int result, const char *message) {
        struct qubesd *q = job->q;
        char *dir = domain_dir(q, job->name, NULL);

        qubesd_release_name(q, job->name);
        finished(job, result, message);
        if (dir && worker_run(q->worker, WORKER_REMOVE_TREE, dir, NULL, NULL, -1, on_removed, dir) >= 0)
                dir = NULL;
        free(dir);
        if (job->domain)
                domain_free(job->domain);
        job_free(job);
}

static void on_shift_done(void *userdata, int result) {
        struct template_job *job = userdata;
        struct qubesd *q = job->q;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        char message[1200];
        int r;

        if (result != 0) {
                snprintf(message, sizeof(message), "cannot give the tree to the TemplateVM's uids (%s %d)",
                         result < 0 ? "error" : "status", result);
                build_failed(job, result < 0 ? result : -EIO, message);
                return;
        }
        qubesd_release_name(q, job->name);
        r = domain_commit_new(q, TAKE_PTR(job->domain), NULL, &e);
        if (r < 0) {
                snprintf(message, sizeof(message), "cannot create the TemplateVM: %s", e.message ?: strerror(-r));
                finished(job, r, message);
        } else {
                job->percent = 100;
                admin_emit_manager_signal(q, "TemplateBuildProgress", "sus", job->name, 100u, "TemplateVM created");
                finished(job, 0, "TemplateVM created");
        }
        job_free(job);
}

static void on_debootstrap_done(void *userdata, int result) {
        struct template_job *job = userdata;
        struct qubesd *q = job->q;
        char message[1200];
        struct domain *d = NULL;
        int r;

        /* what is still in the pipe belongs before the end */
        while (job->output && read_output(job) > 0)
                ;
        if (result != 0) {
                snprintf(message, sizeof(message), "debootstrap failed (%s %d): %s", result < 0 ? "error" : "status",
                         result, job->last_line[0] ? job->last_line : "no output");
                build_failed(job, result < 0 ? result : -EIO, message);
                return;
        }

        r = domain_new(q->set, job->name, DOMAIN_TEMPLATEVM, &d, message, sizeof(message));
        const struct prop_def *label = prop_find("label", false), *own_root = prop_find("own_root", false);
        _cleanup_free_ char *root = domain_dir(q, job->name, "root");
        if (r >= 0 && label)
                r = domain_set_value(d, label, job->label);
        if (r >= 0 && !root)
                r = -ENOMEM;
        if (r >= 0 && own_root)
                r = domain_set_value(d, own_root, own_root->type == PROP_BOOL ? "True" : root);
        if (r < 0) {
                if (d)
                        domain_free(d);
                qubesd_release_name(q, job->name);
                snprintf(message, sizeof(message), "cannot create the TemplateVM: %s", strerror(-r));
                finished(job, r, message);
                job_free(job);
                return;
        }
        /* debootstrap made the tree as the host's root: it becomes the TemplateVM's
         * (its uid 0 is host uid hal_native_uid_base(qid)), before anyone can see it */
        job->domain = d;
        if (job->percent < 99)
                job->percent = 99;
        admin_emit_manager_signal(q, "TemplateBuildProgress", "sus", job->name, job->percent,
                                  "Giving the tree to the TemplateVM's uids");
        r = worker_shift_ids(q->worker, root, 0, hal_native_uid_base(d->qid), on_shift_done, job);
        if (r < 0)
                on_shift_done(job, r);
}

int template_build(struct qubesd *q, const char *untrusted_name, const char *untrusted_suite,
                   const char *untrusted_label, sd_bus_error *error) {
        char message[512] = "", mirror[512];
        struct template_job *job;
        int pipefd[2], r;

        if (!domain_name_valid(untrusted_name, message, sizeof(message)))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "%s", message[0] ? message : "invalid name");
        if (domain_set_find(q->set, untrusted_name) || qubesd_name_reserved(q, untrusted_name))
                return admin_errorf(error, ADMIN_ERROR_ALREADY_EXISTS, "A domain named '%s' already exists",
                                    untrusted_name);
        if (!label_find(untrusted_label))
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE, "label: no label '%s'", untrusted_label);
        size_t l = strlen(untrusted_suite);
        if (l == 0 || l > 32 || strspn(untrusted_suite, "abcdefghijklmnopqrstuvwxyz-") != l)
                return admin_errorf(error, ADMIN_ERROR_INVALID_VALUE,
                                    "suite: '%s' is not a Debian suite name (e.g. bookworm)", untrusted_suite);
        if (access("/usr/sbin/debootstrap", X_OK) < 0)
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "debootstrap is not installed (apt-get install debootstrap)");

        job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        *job = (struct template_job) { .q = q, .output_fd = -1, .stage = -1 };
        snprintf(job->name, sizeof(job->name), "%s", untrusted_name);
        snprintf(job->label, sizeof(job->label), "%s", untrusted_label);
        host_mirror(untrusted_suite, mirror, sizeof(mirror));

        _cleanup_free_ char *target = domain_dir(q, job->name, "root");
        _cleanup_free_ char *dir = domain_dir(q, job->name, NULL);
        r = target && dir ? 0 : -ENOMEM;
        if (r >= 0)
                r = mkdir_p(dir, 0750);
        if (r >= 0 && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
                r = -errno;
        if (r < 0) {
                job_free(job);
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "Cannot prepare the build: %s", strerror(-r));
        }
        job->output_fd = pipefd[0];
        r = sd_event_add_io(q->event, &job->output, job->output_fd, EPOLLIN, on_output, job);
        if (r >= 0)
                r = qubesd_reserve_name(q, job->name);
        if (r >= 0)
                r = worker_run(q->worker, WORKER_DEBOOTSTRAP, untrusted_suite, target, mirror, pipefd[1],
                               on_debootstrap_done, job);
        close(pipefd[1]);
        if (r < 0) {
                qubesd_release_name(q, job->name);
                job_free(job);
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "Cannot run debootstrap: %s", strerror(-r));
        }
        log_info("Template %s: debootstrap %s from %s into %s", job->name, untrusted_suite, mirror, target);
        admin_emit_manager_signal(q, "TemplateBuildProgress", "sus", job->name, 0u, "Starting debootstrap");
        return 0;
}
