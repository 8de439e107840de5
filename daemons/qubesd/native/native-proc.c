/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Finding a domain's processes and measuring their memory. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "native.h"

static int pids_append(pid_t **pids, size_t *n, size_t *allocated, pid_t pid) {
        if (*n == *allocated) {
                size_t grown_size = *allocated ? *allocated * 2 : 16;
                pid_t *grown = reallocarray(*pids, grown_size, sizeof(pid_t));
                if (!grown)
                        return -ENOMEM;
                *pids = grown;
                *allocated = grown_size;
        }
        (*pids)[(*n)++] = pid;
        return 0;
}

static int pids_from_cgroup(const char *procs_path, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, allocated = 0;
        unsigned long pid;
        FILE *f;
        int r = 0;

        f = fopen(procs_path, "re");
        if (!f)
                return -errno;
        while (r == 0 && fscanf(f, "%lu", &pid) == 1)
                r = pids_append(&pids, &n, &allocated, (pid_t) pid);
        fclose(f);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

static int pid_ns_inode(pid_t pid, ino_t *ret) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) pid);
        if (stat(path, &st) < 0)
                return -errno;
        *ret = st.st_ino;
        return 0;
}

/* Without a cgroup: every process whose pid namespace is the init's. */
static int pids_from_pid_ns(pid_t init_pid, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        ino_t ns = 0, other = 0;
        DIR *d;
        int r;

        r = pid_ns_inode(init_pid, &ns);
        if (r < 0)
                return r;
        d = opendir("/proc");
        if (!d)
                return -errno;
        r = 0;
        while (r == 0 && (de = readdir(d))) {
                uint32_t pid;
                if (parse_uint32(de->d_name, &pid) < 0 || pid == 0)
                        continue;
                if (pid_ns_inode((pid_t) pid, &other) < 0 || other != ns)
                        continue;
                r = pids_append(&pids, &n, &allocated, (pid_t) pid);
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

int native_domain_pids(const char *procs_path, pid_t init_pid, pid_t **ret, size_t *ret_n) {
        if (procs_path && pids_from_cgroup(procs_path, ret, ret_n) == 0 && *ret_n > 0)
                return 0;
        return pids_from_pid_ns(init_pid, ret, ret_n);
}

int native_pss_kb(pid_t pid, uint64_t *ret_kb) {
        char path[64], line[256];
        unsigned long long kb;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Pss: %llu kB", &kb) == 1) {
                        fclose(f);
                        *ret_kb = kb;
                        return 0;
                }
        fclose(f);
        return -ENODATA;
}

int native_domain_pss_kb(pid_t monitor_pid, const char *procs_path, pid_t init_pid, uint64_t *ret_kb) {
        _cleanup_free_ pid_t *pids = NULL;
        uint64_t total = 0, kb;
        size_t n = 0;
        int r;

        r = native_pss_kb(monitor_pid, &kb);
        if (r < 0)
                return r;
        total += kb;
        r = native_domain_pids(procs_path, init_pid, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (pids[i] != monitor_pid && native_pss_kb(pids[i], &kb) == 0)
                        total += kb;    /* a process that just exited counts 0 */
        *ret_kb = total;
        return 0;
}
