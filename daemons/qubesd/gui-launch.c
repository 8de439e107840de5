/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Windows of domains on the admin display: a domain whose feature `gui` is
 * on runs gui-agent (odyssey-init starts it first), and once it runs, one
 * guid shows it on qubesd's admin display (--gui-display, else $DISPLAY).
 *
 * qubesd may not exec once sandboxed, so guids are started by the GUI
 * launcher: a small unsandboxed child forked before the sandbox.  It takes
 * "START\nDOMID\nNAME\nLABEL\nVCHAN_DIR" and "STOP\nDOMID" datagrams, runs
 * each guid as the guid role's uid (no supplementary groups), reaps it and
 * never restarts it: a guid that ended (its domain misbehaved, or closed the
 * channel) stays ended, logged.  The guid reaches the domain's vchan dir
 * (busd's uid, the domain's group, 0770) through one ACL entry giving its uid
 * search permission only: the GUI sockets in it are 0666, the directory
 * cannot be listed and nothing else in it can be opened.  Where the file
 * system has no ACLs, guid gets the domain's group as its one supplementary
 * group instead (logged).  When qubesd goes, the launcher stops every guid
 * and exits; a restarted qubesd does not show domains it rediscovered.
 */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

#define LAUNCHER_FD 3
#define LAUNCH_MSG_MAX 4096

/* The launcher's view of one domain's guid. */
struct guid_proc {
        pid_t pid;
        bool stopping;
        char name[DOMAIN_NAME_MAX + 1];
};

struct launcher {
        const char *guid_program;
        const char *display;
        const char *runtime_dir;
        uid_t uid;              /* guid's; 0 keeps ours (qubesd not root) */
        struct guid_proc guids[DOMAIN_QID_MAX + 1];
};

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
static void grant_policy_socket(const struct launcher *l) {
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
        r = grant_access(sock, l->uid, 1);
        *slash = '/';
        if (r >= 0)
                r = grant_access(sock, l->uid, 6);
        if (r < 0)
                log_notice("Cannot let guid reach %s (%s): pastes are refused", sock, strerror(-r));
}

/* The global clipboard dir, the guids' own. */
static int prepare_clipboard_dir(const struct launcher *l, char **ret) {
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
        if (l->uid != 0 && (st.st_uid != l->uid || st.st_gid != l->uid) && chown(dir, l->uid, l->uid) < 0)
                return -errno;
        *ret = TAKE_PTR(dir);
        return 0;
}

static _Noreturn void exec_guid(const struct launcher *l, uint32_t domid, const char *name, const char *label,
                                const char *vchan_dir, const char *clipboard_dir, const gid_t *extra_gid) {
        _cleanup_free_ char *policy_socket = path_join(l->runtime_dir, "policy.sock");
        char domid_text[16];
        sigset_t none;

        snprintf(domid_text, sizeof(domid_text), "%" PRIu32, domid);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || !policy_socket ||
            syscall(SYS_close_range, (unsigned) STDERR_FILENO + 1, ~0U, 0U) < 0)
                _exit(127);
        if (l->uid != 0 && (setgroups(extra_gid ? 1 : 0, extra_gid) < 0 || setresgid(l->uid, l->uid, l->uid) < 0 ||
                            setresuid(l->uid, l->uid, l->uid) < 0)) {
                log_error_errno(errno, "Cannot become uid %u for the guid of %s", (unsigned) l->uid, name);
                _exit(127);
        }
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

static void start_guid(struct launcher *l, uint32_t domid, const char *name, const char *label,
                       const char *vchan_dir) {
        struct guid_proc *g = &l->guids[domid];
        _cleanup_free_ char *clipboard_dir = NULL;
        gid_t domain_gid, *extra_gid = NULL;
        struct stat st;
        int r;

        if (g->pid > 0) {
                log_debug("%s already has its guid (pid %d)", name, (int) g->pid);
                return;
        }
        r = prepare_clipboard_dir(l, &clipboard_dir);
        if (r < 0) {
                log_error_errno(r, "%s: cannot prepare the clipboard directory: %m", name);
                return;
        }
        if (l->uid != 0) {
                r = grant_access(vchan_dir, l->uid, 1);
                if (r == -EOPNOTSUPP && stat(vchan_dir, &st) == 0) {
                        log_notice("%s: no ACLs on %s; its guid gets the domain's group", name, vchan_dir);
                        domain_gid = st.st_gid;
                        extra_gid = &domain_gid;
                } else if (r < 0) {
                        log_error_errno(r, "%s: cannot let guid reach %s: %m", name, vchan_dir);
                        return;
                }
        }
        if (l->uid != 0)
                grant_policy_socket(l);
        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "%s: cannot fork its guid: %m", name);
                return;
        }
        if (pid == 0)
                exec_guid(l, domid, name, label, vchan_dir, clipboard_dir, extra_gid);
        *g = (struct guid_proc) { .pid = pid };
        snprintf(g->name, sizeof(g->name), "%s", name);
        log_info("%s: guid started (pid %d) on %s", name, (int) pid, l->display);
}

static void reap_guids(struct launcher *l) {
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                for (size_t i = 0; i < ELEMENTSOF(l->guids); i++) {
                        struct guid_proc *g = &l->guids[i];
                        if (g->pid != pid)
                                continue;
                        if (g->stopping)
                                log_info("%s: guid stopped", g->name);
                        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                                log_notice("%s: guid ended (the domain closed its GUI channel); not restarted",
                                           g->name);
                        else
                                log_warning("%s: guid ended (%s %d: the domain misbehaved or guid failed); "
                                            "not restarted", g->name, WIFEXITED(status) ? "status" : "signal",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                        *g = (struct guid_proc) {};
                }
}

static void handle_request(struct launcher *l, char *untrusted_msg) {
        char *fields[5] = {};
        size_t n = 0;
        uint32_t domid;

        /* qubesd is trusted, but a garbled request still changes nothing */
        for (char *p = untrusted_msg; p && n < ELEMENTSOF(fields); n++) {
                fields[n] = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = '\0';
        }
        if (n < 2 || parse_uint32(fields[1], &domid) < 0 || domid == 0 || domid > DOMAIN_QID_MAX) {
                log_error("Ignoring a malformed request");
                return;
        }
        if (strcmp(fields[0], "START") == 0 && n == 5 && fields[2][0] && fields[3][0] && fields[4][0] == '/')
                start_guid(l, domid, fields[2], fields[3], fields[4]);
        else if (strcmp(fields[0], "STOP") == 0 && n == 2) {
                struct guid_proc *g = &l->guids[domid];
                if (g->pid > 0 && !g->stopping) {
                        g->stopping = true;
                        (void) kill(g->pid, SIGTERM);
                }
        } else
                log_error("Ignoring a malformed request");
}

static _Noreturn void launcher_main(struct launcher *l) {
        char buf[LAUNCH_MSG_MAX + 1];
        sigset_t mask;
        int sig_fd;

        log_setup("qubesd-gui-launcher");
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_SETMASK, &mask, NULL);
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sig_fd < 0)
                _exit(1);

        for (;;) {
                struct pollfd fds[] = {
                        { .fd = LAUNCHER_FD, .events = POLLIN },
                        { .fd = sig_fd, .events = POLLIN },
                };
                if (poll(fds, ELEMENTSOF(fds), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (fds[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sig_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
                                break;
                        reap_guids(l);
                }
                if (fds[0].revents) {
                        ssize_t n = recv(LAUNCHER_FD, buf, LAUNCH_MSG_MAX, MSG_DONTWAIT);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0)
                                break;  /* qubesd is gone */
                        buf[n] = '\0';
                        handle_request(l, buf);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(l->guids); i++)
                if (l->guids[i].pid > 0)
                        (void) kill(l->guids[i].pid, SIGTERM);
        _exit(0);
}

int gui_launch_open(struct qubesd *q) {
        struct launcher *l;
        int pair[2];
        pid_t parent = getpid(), pid;

        if (!q->gui_display) {
                log_info("No admin display (--gui-display, $DISPLAY): domains' windows are not shown");
                return 0;
        }
        _cleanup_free_ char *guid_program = native_program_path("daemons/guid/guid", "guid");
        if (!guid_program) {
                log_warning("No guid program: domains' windows are not shown");
                return 0;
        }
        if (geteuid() == 0 && !q->have_guid_uid)
                q->guid_uid = qubesd_role_uid(q->runtime_dir, "guid", "odyssey-guid", QUBESD_UID_BASE + BUS_ROLE_GUID);
        else if (geteuid() != 0)
                q->guid_uid = 0;
        l = calloc(1, sizeof(*l));
        if (!l)
                return log_error_errno(-ENOMEM, "Out of memory");
        *l = (struct launcher) {
                .guid_program = guid_program, .display = q->gui_display, .runtime_dir = q->runtime_dir,
                .uid = q->guid_uid,
        };
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
                free(l);
                return log_error_errno(errno, "Cannot create the GUI launcher's socket: %m");
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pair[0]);
                close(pair[1]);
                free(l);
                return log_error_errno(r, "Cannot fork the GUI launcher: %m");
        }
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent ||
                    dup2(pair[1], LAUNCHER_FD) < 0 ||
                    syscall(SYS_close_range, (unsigned) LAUNCHER_FD + 1, ~0U, 0U) < 0)
                        _exit(1);
                launcher_main(l);
        }
        free(l);
        close(pair[1]);
        q->gui_launcher_fd = pair[0];
        q->gui_launcher_pid = pid;
        log_info("Showing domains with the gui feature on %s (guid as uid %u)", q->gui_display,
                 (unsigned) q->guid_uid);
        return 0;
}

void gui_launch_close(struct qubesd *q) {
        if (q->gui_launcher_fd >= 0)
                close(q->gui_launcher_fd);      /* the launcher stops the guids and exits */
        q->gui_launcher_fd = -1;
        if (q->gui_launcher_pid > 0)
                (void) waitpid(q->gui_launcher_pid, NULL, 0);
        q->gui_launcher_pid = 0;
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
        if (q->gui_launcher_fd < 0) {
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

static void launcher_send(struct qubesd *q, const char *msg, size_t len) {
        struct iovec iov = { .iov_base = (void *) msg, .iov_len = len };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (sendmsg(q->gui_launcher_fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_error_errno(errno, "Cannot reach the GUI launcher: %m");
}

void gui_launch_domain_started(struct qubesd *q, struct domain *d, struct domain_run *run) {
        char label[64], msg[LAUNCH_MSG_MAX];

        if (!run->gui || q->gui_launcher_fd < 0 || !run->cfg_vchan_dir)
                return;
        prop_text(q, d, "label", label, sizeof(label));
        int n = snprintf(msg, sizeof(msg), "START\n%" PRIu32 "\n%s\n%s\n%s", d->qid, d->name,
                         label[0] ? label : "red", run->cfg_vchan_dir);
        if (n < 0 || (size_t) n >= sizeof(msg) || strchr(run->cfg_vchan_dir, '\n')) {
                log_error("%s: cannot ask for its guid (vchan dir too long)", d->name);
                return;
        }
        launcher_send(q, msg, (size_t) n);
}

void gui_launch_domain_stopped(struct qubesd *q, struct domain *d) {
        char msg[32];

        if (q->gui_launcher_fd < 0)
                return;
        int n = snprintf(msg, sizeof(msg), "STOP\n%" PRIu32, d->qid);
        launcher_send(q, msg, (size_t) n);
}
