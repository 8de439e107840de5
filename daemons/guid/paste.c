/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ctrl-Shift-V: asks qrexec-policyd (qubes.ClipboardPaste, source = the
 * copying domain, target = this one; reference qrexec.md §4.10) and on
 * allow sends the global clipboard once, then empties it.  The question
 * goes out on a non-blocking socket and the answer is read by the event
 * loop, with a deadline: windows keep being drawn and input keeps flowing
 * while the policy decides (an ask prompt may take the user a while).
 * One paste waits at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"
#include "util.h"

#define POLICY_ANSWER_MAX 4096
#define POLICY_TIMEOUT_USEC (10 * 1000000ull)

struct guid_paste {
        struct guid *g;
        int fd;
        sd_event_source *io, *timer;
        uint32_t window;                /* the target's agent id: it may be destroyed meanwhile */
        char source[257];               /* the domain the policy is asked about */
        char answer[POLICY_ANSWER_MAX + 1];
        size_t len;
};

void guid_paste_free(struct guid *g) {
        struct guid_paste *p = TAKE_PTR(g->paste);
        if (!p)
                return;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->timer);
        if (p->fd >= 0)
                close(p->fd);
        free(p);
}

/* The answer's result= line, exactly: 1 allow, 0 deny, <0 malformed. */
static int answer_allows(char *answer, size_t len) {
        answer[len] = '\0';
        if (memchr(answer, '\0', len))
                return -EBADMSG;
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

static void denied(struct guid *g, const char *source, int r) {
        if (r < 0)
                log_error_errno(r, "Policy check for qubes.ClipboardPaste failed: %m");
        log_warning("NOTICE: paste from %s into %s denied by policy.", source, g->cfg.domain);
        _cleanup_close_ int lock = guid_clipboard_lock(g);
        (void) guid_clipboard_write(g, "clipboard.notice", "denied\n", 7);
}

/* The policy allowed pasting from p->source: paste what is still there. */
static int paste_allowed(struct guid *g, const struct guid_paste *p) {
        _cleanup_free_ char *data = NULL, *source = NULL;
        size_t len;

        _cleanup_close_ int lock = guid_clipboard_lock(g);
        if (lock < 0)
                return 0;
        if (guid_clipboard_load(g, &source, &data, &len) < 0)
                return 0;               /* emptied meanwhile: nothing to paste */
        if (strcmp(source, p->source) != 0) {
                /* another copy replaced it: that source was not asked about */
                log_warning("NOTICE: the clipboard changed while the policy was asked; not pasted into %s.",
                            g->cfg.domain);
                (void) guid_clipboard_write(g, "clipboard.notice", "denied\n", 7);
                return 0;
        }
        if (!guid_state_find(&g->state, p->window)) {
                log_info("The window to paste into is gone; the clipboard is kept.");
                return 0;
        }
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_DATA, .window = p->window,
                             .data = (const uint8_t *) data, .data_len = len };
        int r = guid_agent_send(g, &m);
        (void) guid_clipboard_clear(g);
        (void) guid_clipboard_write(g, "clipboard.notice", "pasted\n", 7);
        log_info("Pasted %zu bytes from %s into %s.", len, source, g->cfg.domain);
        return r;
}

static int finish(struct guid_paste *p, int verdict) {
        struct guid *g = p->g;
        int r = 0;

        if (verdict > 0)
                r = paste_allowed(g, p);
        else
                denied(g, p->source, verdict);
        guid_paste_free(g);             /* frees p */
        if (r < 0) {                    /* the agent's channel failed */
                g->exit_code = r == -EPIPE ? EXIT_SUCCESS : EXIT_FAILURE;
                return sd_event_exit(g->event, 0);
        }
        return 0;
}

static int on_answer(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        struct guid_paste *p = userdata;

        ssize_t k = read(fd, p->answer + p->len, POLICY_ANSWER_MAX - p->len);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : finish(p, -errno);
        if (k > 0) {
                p->len += (size_t) k;
                return p->len == POLICY_ANSWER_MAX ? finish(p, -EMSGSIZE) : 0;
        }
        return finish(p, answer_allows(p->answer, p->len));
}

static int on_timeout(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        return finish(userdata, -ETIMEDOUT);
}

/* Connect and send the question without waiting: a policy daemon that is
 * not listening or is overwhelmed is a denial, not a stall. */
static int ask_policy(struct guid *g, struct guid_paste *p) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char request[512];

        if (strlen(g->cfg.policy_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, g->cfg.policy_socket);
        p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->fd < 0)
                return -errno;
        if (connect(p->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot reach the policy daemon at %s: %m", g->cfg.policy_socket);
        int n = snprintf(request, sizeof(request),
                         "source=%s\nintended_target=%s\nservice_and_arg=qubes.ClipboardPaste+\n"
                         "assume_yes_for_ask=yes\n\n", p->source, g->cfg.domain);
        if (n < 0 || (size_t) n >= sizeof(request))
                return -EINVAL;
        /* a fresh socket's buffer holds these few hundred bytes at once */
        ssize_t k = send(p->fd, request, (size_t) n, MSG_NOSIGNAL);
        if (k < 0)
                return -errno;
        if (k != n)
                return -EAGAIN;
        (void) shutdown(p->fd, SHUT_WR);
        int r = sd_event_add_io(g->event, &p->io, p->fd, EPOLLIN, on_answer, p);
        if (r >= 0)
                r = sd_event_add_time_relative(g->event, &p->timer, CLOCK_MONOTONIC, POLICY_TIMEOUT_USEC, 0,
                                               on_timeout, p);
        return r;
}

int guid_paste_start(struct guid *g, struct guid_window *w) {
        _cleanup_free_ char *data = NULL, *source = NULL;
        size_t len;

        if (g->paste) {
                log_info("A paste into %s is waiting for the policy; Ctrl-Shift-V ignored.", g->cfg.domain);
                return 0;
        }
        {
                _cleanup_close_ int lock = guid_clipboard_lock(g);
                if (lock < 0 || guid_clipboard_load(g, &source, &data, &len) < 0)
                        return 0;       /* nothing to paste */
        }
        if (strcmp(source, g->cfg.domain) == 0) {
                log_info("Paste into %s refused: the clipboard came from it.", g->cfg.domain);
                return 0;
        }
        if (!g->cfg.policy_socket) {
                denied(g, source, 0);
                return 0;
        }
        struct guid_paste *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (struct guid_paste) { .g = g, .fd = -1, .window = w->agent_id };
        snprintf(p->source, sizeof(p->source), "%s", source);
        g->paste = p;
        int r = ask_policy(g, p);
        if (r < 0) {
                guid_paste_free(g);
                denied(g, source, r);
        }
        return 0;
}
