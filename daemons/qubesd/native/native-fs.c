/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host-side files of a native domain: its private volume and vchan dir. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "log.h"
#include "native-fs.h"
#include "native.h"

/* Remove everything below the directory dir_fd (which is closed), never
 * following a symlink: the domain wrote these trees. */
static int remove_contents_fd(int dir_fd) {
        DIR *d = fdopendir(dir_fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = -errno;
                close(dir_fd);
                return r;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = -errno;
                        continue;
                }
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        r = -errno;
                        continue;
                }
                int k = remove_contents_fd(sub);
                if (k < 0)
                        r = k;
                if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        r = -errno;
        }
        closedir(d);
        return r;
}

int native_remove_contents(const char *path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        return remove_contents_fd(fd);
}

int native_remove_tree(const char *path) {
        int r = native_remove_contents(path);

        if (rmdir(path) < 0 && errno != ENOENT)
                return -errno;
        return r;
}

/* A fresh directory (qubesd made it as root) becomes the domain's; one the
 * domain already owns is left alone. */
static int give_to_domain(const char *path, uid_t uid) {
        struct stat st;

        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid != 0)
                return 0;
        return mkdir_owned(path, uid, uid, 0755);
}

int native_prepare_private(const struct native_config *c) {
        _cleanup_free_ char *home = path_join(c->private_dir, "home");
        uid_t uid = native_domain_uid(c->domid);
        int r;

        if (!home)
                return -ENOMEM;
        r = mkdir_p(c->private_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the private volume %s", c->private_dir);
        r = give_to_domain(c->private_dir, uid);
        if (r >= 0)
                r = give_to_domain(home, uid);
        if (r < 0)
                return log_error_errno(r, "Cannot give the private volume %s to the domain", c->private_dir);
        return 0;
}

int native_prepare_vchan_dir(const struct native_config *c) {
        return native_prepare_vchan_dir_at(c->vchan_dir, c->busd_uid, c->domid);
}

int native_prepare_vchan_dir_at(const char *vchan_dir, uid_t busd_uid, uint32_t domid) {
        _cleanup_free_ char *parent = strdup(vchan_dir);
        char *slash;
        int r;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = '\0';
                r = mkdir_p(parent, 0755);
                if (r < 0)
                        return log_error_errno(r, "Cannot create %s", parent);
        }
        /* busd owns it (it connects to the agent's sockets in it), the domain's
         * root group may create sockets in it; nobody else may even look. */
        r = mkdir_owned(vchan_dir, busd_uid, native_domain_uid(domid), 0770);
        if (r < 0)
                return log_error_errno(r, "Cannot prepare the vchan dir %s", vchan_dir);
        r = native_remove_contents(vchan_dir);
        if (r < 0)
                log_warning_errno(r, "Cannot empty the vchan dir %s", vchan_dir);
        return 0;
}
