/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A native domain's cgroups (see native-cgroup.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "native-cgroup.h"

static const char *const controller_names[_NATIVE_CG_MAX] = {
        [NATIVE_CG_MEMORY] = "memory",
        [NATIVE_CG_PIDS] = "pids",
        [NATIVE_CG_CPU] = "cpu",
        [NATIVE_CG_FREEZER] = "freezer",
};

static int write_file(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *path = path_join(dir, file);
        _cleanup_close_ int fd = -1;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (write(fd, value, strlen(value)) < 0)
                return -errno;
        return 0;
}

static int read_file(const char *dir, const char *file, char *buf, size_t size) {
        _cleanup_free_ char *path = path_join(dir, file);
        _cleanup_close_ int fd = -1;
        ssize_t n;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

/* Does the comma-separated list contain word? */
static bool list_has(const char *list, const char *word) {
        size_t n = strlen(word);

        for (const char *p = list; p && *p;) {
                if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
                        return true;
                p = strpbrk(p, ", ");
                if (p)
                        p++;
        }
        return false;
}

/* Our own group in the hierarchy of `controller` (v1), or in the unified
 * one (controller NULL), from /proc/self/cgroup. */
static char *own_group(const char *controller) {
        _cleanup_free_ char *line = NULL;
        char *found = NULL;
        size_t size = 0;
        ssize_t n;
        FILE *f = fopen("/proc/self/cgroup", "re");

        if (!f)
                return NULL;
        while (!found && (n = getline(&line, &size, f)) > 0) {
                if (line[n - 1] == '\n')
                        line[n - 1] = '\0';
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                if (controller ? list_has(c1 + 1, controller) : (c1[1] == '\0' && strncmp(line, "0", 1) == 0))
                        found = strdup(c2 + 1);
        }
        fclose(f);
        return found;
}

/* Mount point of the v1 hierarchy of `controller`, or of cgroup2 (NULL). */
static char *hierarchy_mount(const char *controller) {
        _cleanup_free_ char *line = NULL;
        char *found = NULL;
        size_t size = 0;
        FILE *f = fopen("/proc/self/mountinfo", "re");

        if (!f)
                return NULL;
        while (!found && getline(&line, &size, f) > 0) {
                char root[512], mount_point[512], fstype[64], source[128], options[512];
                char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, mount_point) != 2 ||
                    sscanf(dash + 3, "%63s %127s %511s", fstype, source, options) != 3)
                        continue;
                /* A hierarchy mounted from a sub-group (a container) lists our group
                 * relative to it; keep it simple and use only whole hierarchies. */
                if (strcmp(root, "/") != 0)
                        continue;
                if (controller ? strcmp(fstype, "cgroup") == 0 && list_has(options, controller)
                               : strcmp(fstype, "cgroup2") == 0)
                        found = strdup(mount_point);
        }
        fclose(f);
        return found;
}

static char *domain_group_path(const char *controller, const char *name) {
        _cleanup_free_ char *mount_point = hierarchy_mount(controller);
        _cleanup_free_ char *own = own_group(controller);
        char *path = NULL;

        if (!mount_point || !own)
                return NULL;
        if (asprintf(&path, "%s%s/odyssey/%s", mount_point, strcmp(own, "/") == 0 ? "" : own, name) < 0)
                return NULL;
        return path;
}

static int set_limits_v1(struct native_cgroup *cg, uint32_t memory_mb, uint32_t vcpus) {
        char value[64];
        int r;

        if (cg->v1[NATIVE_CG_MEMORY] && memory_mb > 0) {
                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t) memory_mb << 20);
                r = write_file(cg->v1[NATIVE_CG_MEMORY], "memory.limit_in_bytes", value);
                if (r < 0)
                        return log_error_errno(r, "Cannot set memory.limit_in_bytes in %s", cg->v1[NATIVE_CG_MEMORY]);
        }
        if (cg->v1[NATIVE_CG_PIDS]) {
                snprintf(value, sizeof(value), "%d", NATIVE_PIDS_MAX);
                r = write_file(cg->v1[NATIVE_CG_PIDS], "pids.max", value);
                if (r < 0)
                        return log_error_errno(r, "Cannot set pids.max in %s", cg->v1[NATIVE_CG_PIDS]);
        }
        if (cg->v1[NATIVE_CG_CPU] && vcpus > 0) {
                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t) vcpus * 100000);
                r = write_file(cg->v1[NATIVE_CG_CPU], "cpu.cfs_period_us", "100000");
                if (r >= 0)
                        r = write_file(cg->v1[NATIVE_CG_CPU], "cpu.cfs_quota_us", value);
                if (r < 0)
                        return log_error_errno(r, "Cannot set the cpu quota in %s", cg->v1[NATIVE_CG_CPU]);
        }
        return 0;
}

/* cgroup v2: enable what the parent offers in every level down to the
 * domain's group, then set the limits that are now available. */
static int create_v2(struct native_cgroup *cg, const char *name, uint32_t memory_mb, uint32_t vcpus) {
        _cleanup_free_ char *group = domain_group_path(NULL, name);
        char controllers[512], value[64];
        int r;

        if (!group)
                return -ENOENT;
        r = mkdir_p(group, 0755);
        if (r < 0)
                return r;
        /* Levels below our own group: .../odyssey and .../odyssey/NAME. */
        char *slash = strrchr(group, '/');
        *slash = '\0';
        char *odyssey_slash = strrchr(group, '/');
        *odyssey_slash = '\0';
        for (int level = 0; level < 2; level++) {
                if (read_file(group, "cgroup.controllers", controllers, sizeof(controllers)) == 0)
                        for (enum native_controller c = NATIVE_CG_MEMORY; c <= NATIVE_CG_CPU; c++)
                                if (list_has(controllers, controller_names[c])) {
                                        snprintf(value, sizeof(value), "+%s", controller_names[c]);
                                        (void) write_file(group, "cgroup.subtree_control", value);
                                }
                *(level == 0 ? odyssey_slash : slash) = '/';
        }
        /* What the domain's group got is what its cgroup.controllers lists. */
        if (read_file(group, "cgroup.controllers", controllers, sizeof(controllers)) == 0)
                for (enum native_controller c = NATIVE_CG_MEMORY; c <= NATIVE_CG_CPU; c++)
                        cg->v2_has[c] = list_has(controllers, controller_names[c]);
        cg->v2_has[NATIVE_CG_FREEZER] = true;
        cg->v2 = TAKE_PTR(group);
        if (cg->v2_has[NATIVE_CG_MEMORY] && memory_mb > 0) {
                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t) memory_mb << 20);
                (void) write_file(cg->v2, "memory.max", value);
        }
        if (cg->v2_has[NATIVE_CG_PIDS]) {
                snprintf(value, sizeof(value), "%d", NATIVE_PIDS_MAX);
                (void) write_file(cg->v2, "pids.max", value);
        }
        if (cg->v2_has[NATIVE_CG_CPU] && vcpus > 0) {
                snprintf(value, sizeof(value), "%" PRIu64 " 100000", (uint64_t) vcpus * 100000);
                (void) write_file(cg->v2, "cpu.max", value);
        }
        return 0;
}

int native_cgroup_create(struct native_cgroup *cg, const char *name, uint32_t memory_mb, uint32_t vcpus) {
        char missing[128] = "";
        int r;

        *cg = (struct native_cgroup) {};
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++) {
                _cleanup_free_ char *group = domain_group_path(controller_names[c], name);
                if (!group)
                        continue;
                r = mkdir_p(group, 0755);
                if (r < 0) {
                        log_warning_errno(r, "Cannot create cgroup %s, running without the %s controller",
                                          group, controller_names[c]);
                        continue;
                }
                cg->v1[c] = TAKE_PTR(group);
        }
        /* Without any v1 controller, try the unified hierarchy. */
        bool any_v1 = false;
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                any_v1 = any_v1 || cg->v1[c];
        if (!any_v1)
                (void) create_v2(cg, name, memory_mb, vcpus);

        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                if (!cg->v1[c] && !cg->v2_has[c]) {
                        strcat(missing, " ");
                        strcat(missing, controller_names[c]);
                }
        if (missing[0])
                log_notice("Domain %s: the host does not delegate the cgroup controller(s)%s; no %s%s%s.",
                           name, missing,
                           !cg->v1[NATIVE_CG_MEMORY] && !cg->v2_has[NATIVE_CG_MEMORY] ? "memory limit, " : "",
                           !cg->v1[NATIVE_CG_PIDS] && !cg->v2_has[NATIVE_CG_PIDS] ? "pids limit, " : "",
                           !cg->v1[NATIVE_CG_FREEZER] && !cg->v2_has[NATIVE_CG_FREEZER]
                                   ? "freezer (pause stops every process with SIGSTOP)" : "cpu quota");

        const char *procs_dir = cg->v1[NATIVE_CG_PIDS] ?: cg->v1[NATIVE_CG_MEMORY] ?: cg->v1[NATIVE_CG_FREEZER]
                                ?: cg->v1[NATIVE_CG_CPU] ?: cg->v2;
        if (procs_dir) {
                cg->procs_path = path_join(procs_dir, "cgroup.procs");
                if (!cg->procs_path)
                        return -ENOMEM;
        }
        return set_limits_v1(cg, memory_mb, vcpus);
}

int native_cgroup_open_tasks(const struct native_cgroup *cg, int tasks_fds[static _NATIVE_CG_MAX]) {
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                tasks_fds[c] = -1;
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++) {
                if (!cg->v1[c])
                        continue;
                _cleanup_free_ char *path = path_join(cg->v1[c], "tasks");
                if (!path) {
                        native_cgroup_close_tasks(tasks_fds);
                        return -ENOMEM;
                }
                tasks_fds[c] = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
                if (tasks_fds[c] < 0) {
                        int r = -errno;
                        native_cgroup_close_tasks(tasks_fds);
                        return log_error_errno(r, "Cannot open %s", path);
                }
        }
        return 0;
}

void native_cgroup_close_tasks(int tasks_fds[static _NATIVE_CG_MAX]) {
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                if (tasks_fds[c] >= 0) {
                        close(tasks_fds[c]);
                        tasks_fds[c] = -1;
                }
}

/* No logging: runs in the child, which reports failures through its pipe. */
int native_cgroup_enter_self(int tasks_fds[static _NATIVE_CG_MAX]) {
        int r = 0;

        for (enum native_controller c = 0; c < _NATIVE_CG_MAX && r == 0; c++)
                if (tasks_fds[c] >= 0 && write(tasks_fds[c], "0", 1) != 1)
                        r = -errno;
        native_cgroup_close_tasks(tasks_fds);
        return r;
}

int native_cgroup_attach(const struct native_cgroup *cg, pid_t pid) {
        char value[32];
        int r;

        snprintf(value, sizeof(value), "%d", (int) pid);
        if (cg->v2) {
                r = write_file(cg->v2, "cgroup.procs", value);
                if (r < 0)
                        return log_error_errno(r, "Cannot move %d into %s", (int) pid, cg->v2);
        }
        return 0;
}

bool native_cgroup_can_freeze(const struct native_cgroup *cg) {
        return cg->v1[NATIVE_CG_FREEZER] || cg->v2;
}

int native_cgroup_freeze(const struct native_cgroup *cg, bool freeze) {
        const char *dir = cg->v1[NATIVE_CG_FREEZER] ?: cg->v2;
        const char *file = cg->v1[NATIVE_CG_FREEZER] ? "freezer.state" : "cgroup.freeze";
        const char *value = cg->v1[NATIVE_CG_FREEZER] ? (freeze ? "FROZEN" : "THAWED") : (freeze ? "1" : "0");
        char state[256];
        int r;

        if (!dir)
                return -EOPNOTSUPP;
        r = write_file(dir, file, value);
        if (r < 0)
                return r;
        /* Freezing completes asynchronously; wait for it (a few ms at most). */
        for (int i = 0; i < 5000; i++) {
                if (cg->v1[NATIVE_CG_FREEZER]) {
                        r = read_file(dir, "freezer.state", state, sizeof(state));
                        if (r < 0)
                                return r;
                        if (strncmp(state, value, strlen(value)) == 0)
                                return 0;
                } else {
                        r = read_file(dir, "cgroup.events", state, sizeof(state));
                        if (r < 0)
                                return r;
                        if (strstr(state, freeze ? "frozen 1" : "frozen 0"))
                                return 0;
                }
                nanosleep(&(struct timespec) { .tv_nsec = 200 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

int native_cgroup_remove(const struct native_cgroup *cg) {
        int r = 0;

        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                if (cg->v1[c] && rmdir(cg->v1[c]) < 0 && errno != ENOENT)
                        r = -errno;
        if (cg->v2 && rmdir(cg->v2) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

void native_cgroup_done(struct native_cgroup *cg) {
        for (enum native_controller c = 0; c < _NATIVE_CG_MAX; c++)
                free(cg->v1[c]);
        free(cg->v2);
        free(cg->procs_path);
        *cg = (struct native_cgroup) {};
}
