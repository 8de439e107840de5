/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Windows of domains on the admin display: a domain whose feature `gui` is
 * on runs gui-agent (odyssey-init starts it first), and once it runs, one
 * guid shows it on qubesd's admin display (--gui-display, else $DISPLAY).
 *
 * guid is a helper (launcher.c): started in the launcher's child by
 * gui_exec() as the guid role's uid (no supplementary groups).  The guid
 * reaches the domain's vchan dir
 * (busd's uid, the domain's group, 0770) through one ACL entry giving its uid
 * search permission only: the GUI sockets in it are 0666, the directory
 * cannot be listed and nothing else in it can be opened.  Where the file
 * system has no ACLs, guid gets the domain's group as its one supplementary
 * group instead (logged).  A restarted qubesd starts the guids of the
 * domains it rediscovers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

/* POSIX ACL as the kernel takes it in system.posix_acl_access. */
struct acl_entry_xattr {
        uint16_t tag;
        uint16_t perm;
        uint32_t id;
};

enum {
        ACL_TAG_USER_OBJ = 0x01,
        ACL_TAG_USER = 0x02,
        ACL_TAG_GROUP_OBJ = 0x04,
        ACL_TAG_MASK = 0x10,
        ACL_TAG_OTHER = 0x20,
};

/* path's mode as an ACL plus "user uid: perm" (1 search, 6 read+write);
 * -EOPNOTSUPP without ACLs. */
static int grant_access(const char *path, uid_t uid, uint16_t perm) {
        struct {
                uint32_t version;
                struct acl_entry_xattr e[5];
        } acl;      /* 4 + 5 * 8 bytes: no padding */
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        uint16_t group = (st.st_mode >> 3) & 7;
        acl.version = 2;
        acl.e[0] = (struct acl_entry_xattr) { ACL_TAG_USER_OBJ, (st.st_mode >> 6) & 7, UINT32_MAX };
        acl.e[1] = (struct acl_entry_xattr) { ACL_TAG_USER, perm, (uint32_t) uid };
        acl.e[2] = (struct acl_entry_xattr) { ACL_TAG_GROUP_OBJ, group, UINT32_MAX };
        acl.e[3] = (struct acl_entry_xattr) { ACL_TAG_MASK, group | perm, UINT32_MAX };
        acl.e[4] = (struct acl_entry_xattr) { ACL_TAG_OTHER, st.st_mode & 7, UINT32_MAX };
        if (setxattr(path, "system.posix_acl_access", &acl, sizeof(acl), 0) < 0)
                return errno == ENOTSUP ? -EOPNOTSUPP : -errno;
        return 0;
}

/* guid asks qrexec-policyd before a paste: let its uid reach policy.sock
 * (a symlink into policyd's own directory) and nothing else of policyd's.
 * Without it every paste is refused, which is safe, so failures only log. */
static void grant_policy_socket(const struct launcher_config *l) {
        _cleanup_free_ char *link = path_join(l->runtime_dir, "policy.sock"), *sock = NULL;
        int r;

        if (!link || !(sock = realpath(link, NULL))) {
                log_notice("No policy socket at %s yet: pastes are refused until guid can reach it",
                           link ?: "policy.sock");
                return;
        }
        char *slash = strrchr(sock, '/');
        if (!slash || slash == sock)
                return;
        *slash = '\0';
        r = grant_access(sock, l->guid_uid, 1);
        *slash = '/';
        if (r >= 0)
                r = grant_access(sock, l->guid_uid, 6);
        if (r < 0)
                log_notice("Cannot let guid reach %s (%s): pastes are refused", sock, strerror(-r));
}

/* The global clipboard dir, the guids' own. */
static int prepare_clipboard_dir(const struct launcher_config *l, char **ret) {
        _cleanup_free_ char *dir = path_join(l->runtime_dir, "gui");
        struct stat st;

        if (!dir)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (lstat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (l->guid_uid != 0 && (st.st_uid != l->guid_uid || st.st_gid != l->guid_uid) &&
            chown(dir, l->guid_uid, l->guid_uid) < 0)
                return -errno;
        *ret = TAKE_PTR(dir);
        return 0;
}

/* In the launcher's child (launcher.c): args are the domain's name, its
 * label and its vchan dir. */
_Noreturn void gui_exec(const struct launcher_config *l, uint32_t domid, char **args, size_t n_args) {
        _cleanup_free_ char *policy_socket = path_join(l->runtime_dir, "policy.sock"), *clipboard_dir = NULL;
        gid_t domain_gid, *extra_gid = NULL;
        char domid_text[16];
        struct stat st;
        int r;

        if (n_args != 3 || !l->guid_program || !policy_socket || args[2][0] != '/')
                _exit(127);
        const char *name = args[0], *label = args[1], *vchan_dir = args[2];
        r = prepare_clipboard_dir(l, &clipboard_dir);
        if (r < 0) {
                log_error_errno(r, "%s: cannot prepare the clipboard directory: %m", name);
                _exit(127);
        }
        if (l->guid_uid != 0) {
                r = grant_access(vchan_dir, l->guid_uid, 1);
                if (r == -EOPNOTSUPP && stat(vchan_dir, &st) == 0) {
                        log_notice("%s: no ACLs on %s; its guid gets the domain's group", name, vchan_dir);
                        domain_gid = st.st_gid;
                        extra_gid = &domain_gid;
                } else if (r < 0) {
                        log_error_errno(r, "%s: cannot let guid reach %s: %m", name, vchan_dir);
                        _exit(127);
                }
                grant_policy_socket(l);
                r = helper_become(l->guid_uid, l->guid_uid, extra_gid);
                if (r < 0) {
                        log_error_errno(r, "Cannot become uid %u for the guid of %s: %m", (unsigned) l->guid_uid,
                                        name);
                        _exit(127);
                }
        }
        snprintf(domid_text, sizeof(domid_text), "%" PRIu32, domid);
        (void) setenv("DISPLAY", l->display, 1);
        const char *argv[] = {
                "guid", "--domain", name, "--domid", domid_text, "--label", label, "--vchan-dir", vchan_dir,
                "--display", l->display, "--policy-socket", policy_socket, "--clipboard-dir", clipboard_dir,
                NULL,
        };
        execv(l->guid_program, (char *const *) argv);
        log_error_errno(errno, "Cannot execute %s", l->guid_program);
        _exit(127);
}

/* Before the launcher forks: what its guids need. */
int gui_launch_open(struct qubesd *q) {
        struct launcher_config *c = &q->launcher_config;

        if (!q->gui_display) {
                log_info("No admin display (--gui-display, $DISPLAY): domains' windows are not shown");
                return 0;
        }
        c->guid_program = native_program_path("daemons/guid/guid", "guid");
        if (!c->guid_program) {
                log_warning("No guid program: domains' windows are not shown");
                return 0;
        }
        if (geteuid() == 0 && !q->have_guid_uid)
                q->guid_uid = qubesd_role_uid(q->runtime_dir, "guid", "odyssey-guid", QUBESD_UID_BASE + BUS_ROLE_GUID);
        else if (geteuid() != 0)
                q->guid_uid = 0;
        c->display = q->gui_display;
        c->runtime_dir = q->runtime_dir;
        c->guid_uid = q->guid_uid;
        log_info("Showing domains with the gui feature on %s (guid as uid %u)", q->gui_display,
                 (unsigned) q->guid_uid);
        return 0;
}

void gui_launch_close(struct qubesd *q) {
        free(q->launcher_config.guid_program);
        q->launcher_config.guid_program = NULL;
        free(q->gui_display);
        q->gui_display = NULL;
}

static bool feature_on(const char *value) {
        return value && value[0] && strcmp(value, "0") != 0 && strcasecmp(value, "false") != 0 &&
               strcasecmp(value, "no") != 0;
}

bool gui_launch_wanted(struct qubesd *q, const struct domain *d, const struct hal_backend_ops *ops) {
        if (!feature_on(domain_get_feature(d, "gui")))
                return false;
        if (!q->launcher_config.guid_program || q->launcher_fd < 0) {
                if (!q->gui_missing_logged)
                        log_notice("%s has the gui feature, but qubesd shows no windows (no admin display or "
                                   "no guid); it runs without GUI", d->name);
                q->gui_missing_logged = true;
                return false;
        }
        if (!ops || strcmp(ops->kind, "native") != 0) {
                log_notice("%s: GUI on the %s backend is not supported yet; it runs without GUI", d->name,
                           ops ? ops->kind : "unknown");
                return false;
        }
        return true;
}

void gui_launch_domain_started(struct qubesd *q, struct domain *d, struct domain_run *run) {
        char label[64];
        int r;

        if (!run->gui || !run->cfg_vchan_dir)
                return;
        prop_text(q, d, "label", label, sizeof(label));
        const char *args[] = { d->name, label[0] ? label : "red", run->cfg_vchan_dir };
        r = launcher_start(q, HELPER_GUID, d->qid, args, ELEMENTSOF(args));
        if (r < 0)
                log_error_errno(r, "%s: cannot ask for its guid: %m", d->name);
}

void gui_launch_domain_stopped(struct qubesd *q, struct domain *d) {
        launcher_stop(q, HELPER_GUID, d->qid);
}
