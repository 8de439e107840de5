/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The secure clipboard.  The trusted global clipboard is a pair of files in
 * the clipboard directory shared by every guid (clipboard.bin, and
 * clipboard.source naming the domain it came from), changed under an flock
 * of clipboard.lock.  Ctrl-Shift-C asks the focused domain for its
 * clipboard; only an answer to that request is stored.  Ctrl-Shift-V asks
 * qrexec-policyd (qubes.ClipboardPaste, source = the copying domain,
 * target = this one) and on allow sends the data once, then empties the
 * global clipboard.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"
#include "util.h"

#define POLICY_ANSWER_MAX 4096
#define POLICY_TIMEOUT_SEC 10

static int open_in_dir(struct guid *g, const char *name, int flags) {
        _cleanup_free_ char *path = path_join(g->cfg.clipboard_dir, name);
        if (!path)
                return -ENOMEM;
        int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
        return fd < 0 ? -errno : fd;
}

static int lock_clipboard(struct guid *g) {
        int fd = open_in_dir(g, "clipboard.lock", O_RDWR | O_CREAT);
        if (fd < 0)
                return log_error_errno(fd, "Cannot open the clipboard lock in %s: %m", g->cfg.clipboard_dir);
        if (flock(fd, LOCK_EX) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int write_file(struct guid *g, const char *name, const void *data, size_t len) {
        _cleanup_close_ int fd = open_in_dir(g, name, O_WRONLY | O_CREAT | O_TRUNC);
        if (fd < 0)
                return fd;
        return write_full(fd, data, len);
}

/* Empty the global clipboard: truncated, so no tail of an older, longer
 * copy survives (QSB-011). */
static int clear_clipboard(struct guid *g) {
        int r = write_file(g, "clipboard.bin", "", 0);
        int q = write_file(g, "clipboard.source", "", 0);
        return r < 0 ? r : q;
}

int guid_clipboard_copy_request(struct guid *g) {
        if (!g->focused)
                return 0;
        g->clipboard_requested = true;
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_REQ, .window = g->focused->agent_id };
        return guid_agent_send(g, &m);
}

int guid_clipboard_received(struct guid *g, const uint8_t *untrusted_data, size_t untrusted_len) {
        if (!g->clipboard_requested) {
                log_warning("%s sent clipboard data nobody asked for; ignored.", g->cfg.domain);
                return 0;
        }
        g->clipboard_requested = false;

        _cleanup_close_ int lock = lock_clipboard(g);
        if (lock < 0)
                return 0;
        if (untrusted_len > g->cfg.clipboard_limit) {
                log_warning("NOTICE: the clipboard of %s is too large (%zu bytes, limit %u): not copied, "
                            "global clipboard cleared.", g->cfg.domain, untrusted_len, g->cfg.clipboard_limit);
                (void) clear_clipboard(g);
                (void) write_file(g, "clipboard.notice", "oversize\n", 9);
                return 0;
        }
        int r = write_file(g, "clipboard.bin", untrusted_data, untrusted_len);
        if (r >= 0)
                r = write_file(g, "clipboard.source", g->cfg.domain, strlen(g->cfg.domain));
        if (r < 0) {
                log_error_errno(r, "Cannot store the global clipboard: %m");
                (void) clear_clipboard(g);
                return 0;
        }
        (void) write_file(g, "clipboard.notice", "copied\n", 7);
        log_info("Copied %zu bytes from the clipboard of %s.", untrusted_len, g->cfg.domain);
        return 0;
}

/* Ask qrexec-policyd (reference qrexec.md §4.10).  1 allow, 0 deny. */
static int policy_allows_paste(struct guid *g, const char *source) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char request[512], answer[POLICY_ANSWER_MAX + 1];
        size_t len = 0;

        if (!g->cfg.policy_socket)
                return 0;
        if (strlen(g->cfg.policy_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, g->cfg.policy_socket);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct timeval tv = { .tv_sec = POLICY_TIMEOUT_SEC };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot reach the policy daemon at %s: %m", g->cfg.policy_socket);
        int n = snprintf(request, sizeof(request),
                         "source=%s\nintended_target=%s\nservice_and_arg=qubes.ClipboardPaste+\n"
                         "assume_yes_for_ask=yes\n\n", source, g->cfg.domain);
        if (n < 0 || (size_t) n >= sizeof(request))
                return -EINVAL;
        int r = write_full(fd, request, (size_t) n);
        if (r < 0)
                return r;
        (void) shutdown(fd, SHUT_WR);
        for (;;) {
                ssize_t k = read(fd, answer + len, POLICY_ANSWER_MAX - len);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len == POLICY_ANSWER_MAX)
                        return -EMSGSIZE;
        }
        answer[len] = '\0';
        if (memchr(answer, '\0', len))
                return -EBADMSG;
        /* the answer's result= line, exactly */
        for (char *line = answer, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strcmp(line, "result=allow") == 0)
                        return 1;
                if (strncmp(line, "result=", 7) == 0)
                        return 0;
        }
        return 0;
}

static int read_file(struct guid *g, const char *name, char **ret, size_t *ret_len, size_t max) {
        _cleanup_close_ int fd = open_in_dir(g, name, O_RDONLY);
        struct stat st;
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        int r = read_full(fd, buf, (size_t) st.st_size);
        if (r < 0)
                return r;
        buf[st.st_size] = '\0';
        *ret_len = (size_t) st.st_size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int guid_clipboard_paste(struct guid *g, struct guid_window *w) {
        _cleanup_free_ char *data = NULL, *source = NULL;
        size_t len = 0, source_len = 0;

        _cleanup_close_ int lock = lock_clipboard(g);
        if (lock < 0)
                return 0;
        if (read_file(g, "clipboard.source", &source, &source_len, 256) < 0 || source_len == 0 ||
            read_file(g, "clipboard.bin", &data, &len, GUI_CLIPBOARD_LIMIT_MAX) < 0)
                return 0;               /* nothing to paste */
        if (strcmp(source, g->cfg.domain) == 0) {
                log_info("Paste into %s refused: the clipboard came from it.", g->cfg.domain);
                return 0;
        }
        int r = policy_allows_paste(g, source);
        if (r <= 0) {
                if (r < 0)
                        log_error_errno(r, "Policy check for qubes.ClipboardPaste failed: %m");
                log_warning("NOTICE: paste from %s into %s denied by policy.", source, g->cfg.domain);
                (void) write_file(g, "clipboard.notice", "denied\n", 7);
                return 0;
        }
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_DATA, .window = w->agent_id,
                             .data = (const uint8_t *) data, .data_len = len };
        r = guid_agent_send(g, &m);
        (void) clear_clipboard(g);
        (void) write_file(g, "clipboard.notice", "pasted\n", 7);
        log_info("Pasted %zu bytes from %s into %s.", len, source, g->cfg.domain);
        return r;
}
