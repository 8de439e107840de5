/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The trusted global clipboard: a pair of files in the clipboard directory
 * shared by every guid (clipboard.bin, and clipboard.source naming the
 * domain it came from), changed under an flock of clipboard.lock, and
 * clipboard.notice telling the user what last happened.  Ctrl-Shift-C asks
 * the focused domain for its clipboard; only an answer to that request is
 * stored (state.c decides).  Pasting is paste.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"
#include "util.h"

static int open_in_dir(struct guid *g, const char *name, int flags) {
        _cleanup_free_ char *path = path_join(g->cfg.clipboard_dir, name);
        if (!path)
                return -ENOMEM;
        int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
        return fd < 0 ? -errno : fd;
}

int guid_clipboard_lock(struct guid *g) {
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

int guid_clipboard_write(struct guid *g, const char *name, const void *data, size_t len) {
        _cleanup_close_ int fd = open_in_dir(g, name, O_WRONLY | O_CREAT | O_TRUNC);
        if (fd < 0)
                return fd;
        return write_full(fd, data, len);
}

/* Empty the global clipboard: truncated, so no tail of an older, longer
 * copy survives (QSB-011). */
int guid_clipboard_clear(struct guid *g) {
        int r = guid_clipboard_write(g, "clipboard.bin", "", 0);
        int q = guid_clipboard_write(g, "clipboard.source", "", 0);
        return r < 0 ? r : q;
}

int guid_clipboard_copy_request(struct guid *g) {
        uint32_t window = guid_state_request_clipboard(&g->state);
        if (window == 0)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_REQ, .window = window };
        return guid_agent_send(g, &m);
}

int guid_clipboard_oversize(struct guid *g, size_t untrusted_len) {
        _cleanup_close_ int lock = guid_clipboard_lock(g);
        if (lock < 0)
                return 0;
        log_warning("NOTICE: the clipboard of %s is too large (%zu bytes, limit %u): not copied, "
                    "global clipboard cleared.", g->cfg.domain, untrusted_len, g->cfg.clipboard_limit);
        (void) guid_clipboard_clear(g);
        (void) guid_clipboard_write(g, "clipboard.notice", "oversize\n", 9);
        return 0;
}

int guid_clipboard_store(struct guid *g, const uint8_t *untrusted_data, size_t untrusted_len) {
        _cleanup_close_ int lock = guid_clipboard_lock(g);
        if (lock < 0)
                return 0;
        int r = guid_clipboard_write(g, "clipboard.bin", untrusted_data, untrusted_len);
        if (r >= 0)
                r = guid_clipboard_write(g, "clipboard.source", g->cfg.domain, strlen(g->cfg.domain));
        if (r < 0) {
                log_error_errno(r, "Cannot store the global clipboard: %m");
                (void) guid_clipboard_clear(g);
                return 0;
        }
        (void) guid_clipboard_write(g, "clipboard.notice", "copied\n", 7);
        log_info("Copied %zu bytes from the clipboard of %s.", untrusted_len, g->cfg.domain);
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

int guid_clipboard_load(struct guid *g, char **ret_source, char **ret_data, size_t *ret_len) {
        _cleanup_free_ char *data = NULL, *source = NULL;
        size_t len = 0, source_len = 0;

        if (read_file(g, "clipboard.source", &source, &source_len, 256) < 0 || source_len == 0 ||
            read_file(g, "clipboard.bin", &data, &len, GUI_CLIPBOARD_LIMIT_MAX) < 0)
                return -ENOENT;
        *ret_source = TAKE_PTR(source);
        *ret_data = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}
