/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where the native backend's files and programs are, and who busd is. */
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "native.h"

#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/local/libexec/odyssey"
#endif

bool native_name_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > 31 || name[0] == '.' || name[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", name[i]))
                        return false;
        return true;
}

char *native_domain_dir(const char *runtime_dir, const char *name) {
        char *dir = NULL;

        if (asprintf(&dir, "%s/domains/%s", runtime_dir, name) < 0)
                return NULL;
        return dir;
}

static char *existing(const char *dir, const char *name) {
        char *p;

        if (!dir || !*dir)
                return NULL;
        p = path_join(dir, name);
        if (p && access(p, F_OK) < 0) {
                free(p);
                return NULL;
        }
        return p;
}

char *native_program_path(const char *build_path, const char *installed_name) {
        char *p;

        p = existing(getenv("ODYSSEY_LIBEXECDIR"), installed_name);
        if (!p)
                p = existing(getenv("ODYSSEY_BUILDDIR"), build_path);
        if (!p)
                p = existing(PKGLIBEXECDIR, installed_name);
        if (!p)
                p = existing(ODYSSEY_BUILDDIR, build_path);
        return p;
}

char *native_monitor_program(void) {
        return native_program_path("daemons/qubesd/native/odyssey-domain", "odyssey-domain");
}

char *native_agents_dir(void) {
        return native_program_path("agents/bin", "agents");
}

int native_role_uid_from_roles(const char *runtime_dir, const char *role, uid_t *ret) {
        _cleanup_free_ char *path = path_join(runtime_dir, "roles");
        char name[64];
        unsigned uid;
        int found = -ENOENT;
        FILE *f;

        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (found < 0 && fscanf(f, "uid %63s %u\n", name, &uid) == 2)
                if (strcmp(name, role) == 0) {
                        *ret = (uid_t) uid;
                        found = 0;
                }
        fclose(f);
        return found;
}

int native_busd_uid(const char *runtime_dir, uid_t *ret) {
        _cleanup_free_ char *bus_sock = path_join(runtime_dir, "bus.sock");
        struct passwd *pw;
        struct stat st;

        if (!bus_sock)
                return -ENOMEM;
        if (native_role_uid_from_roles(runtime_dir, "busd", ret) == 0)
                return 0;
        /* busd creates its socket itself, so the socket's owner is busd. */
        if (lstat(bus_sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
                *ret = st.st_uid;
                return 0;
        }
        pw = getpwnam("odyssey-busd");
        if (pw) {
                *ret = pw->pw_uid;
                return 0;
        }
        return -ENOENT;
}
