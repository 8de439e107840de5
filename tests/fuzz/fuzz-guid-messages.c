/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for guid's handling of the agent's messages: the pure
 * layer (daemons/guid/state.c), fed a byte stream framed and decoded by the
 * GUI codec exactly as guid's agent.c does, until the first message guid
 * would drop the peer for.  Input: 5 bytes of setup, then the stream.
 *   byte 0: bit 0 UTF-8 titles allowed; bit 1 the user presses Ctrl-Shift-C
 *           before every message; bit 2 the newest window has the focus;
 *           bits 3-4 the clipboard limit (256, 1000, 64000, 256000);
 *           bit 5 the negotiated version has the screen buffer (1.9)
 *   bytes 1-2, 3-4: screen width and height (LE, 1..32767)
 * After every message, every action and the windows it touched must obey
 * guid's rules: geometry on the screen with all of the frame showing, no
 * near-full-screen override-redirect window, titles "[name] " + allowed
 * characters only, classes "name:", paints inside buffer and content,
 * replies the agent can decode, clipboard stored only when asked for and
 * within the limit; a screen buffer only once, when allowed, of a sane
 * layout, paints from it inside the content and the screen; a refused
 * message changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemons/guid/state.h"
#include "gui.h"
#include "log.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(cond) do { if (!(cond)) abort(); } while (0)
#define B GUI_BORDER_WIDTH
#define DOMAIN "fuzzvm"

static uint8_t in[GUI_HEADER_SIZE + GUI_MAX_BODY];
static uint8_t out[GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX];

static void check_window(const struct guid_state *s, const struct guid_window *w) {
        int64_t sw = s->screen_width, sh = s->screen_height;

        require(w->agent_id != 0);
        require(w->width >= 1 && w->height >= 1);
        require(w->width <= (sw > 2 * B + 1 ? sw - 2 * B : 1));
        require(w->height <= (sh > 2 * B + 1 ? sh - 2 * B : 1));
        if (w->width + 2 * B < sw)
                require(w->x >= B && w->x + (int64_t) w->width + B <= sw);
        else
                require(w->x == B);
        if (w->height + 2 * B < sh)
                require(w->y >= B && w->y + (int64_t) w->height + B <= sh);
        else
                require(w->y == B);
        if (w->override_redirect)
                require((uint64_t) w->width * w->height * 10 <= (uint64_t) sw * sh * 9);
        require(!(w->flags & ~(GUI_FLAG_DEMANDS_ATTENTION | GUI_FLAG_MINIMIZE)));
        require(w->buf_width <= GUI_MAX_WINDOW_WIDTH && w->buf_height <= GUI_MAX_WINDOW_HEIGHT);
        require((w->buf_width == 0) == (w->buf_height == 0));
}

static void check_title(const struct guid_state *s, const struct guid_action *a) {
        const char *t = a->u.str.text;
        require(a->u.str.len == strlen(t) && a->u.str.len < GUID_TITLE_MAX);
        require(strncmp(t, "[" DOMAIN "] ", strlen(DOMAIN) + 3) == 0);
        require(a->u.str.len < strlen(DOMAIN) + 3 + GUI_TITLE_SIZE);
        for (size_t i = 0; i < a->u.str.len; i++) {
                unsigned char c = (unsigned char) t[i];
                require(c >= 0x20 && c != 0x7f);
                require(s->allow_utf8_titles || c < 0x7f);
                require(c < 0x80 || c >= 0xa0 || i == 0 || (unsigned char) t[i - 1] != 0xc2);  /* no C1 */
        }
        require(utf8_valid(t, a->u.str.len));
}

static void check_class(const struct guid_action *a) {
        const char *name = a->u.str.text, *cls = name + strlen(name) + 1;
        require(cls < a->u.str.text + a->u.str.len);
        require(a->u.str.len == strlen(name) + 1 + strlen(cls) + 1);
        require(strncmp(name, DOMAIN ":", strlen(DOMAIN) + 1) == 0);
        require(strncmp(cls, DOMAIN ":", strlen(DOMAIN) + 1) == 0);
        for (size_t i = 0; i + 1 < a->u.str.len; i++)
                require(i == strlen(name) || (a->u.str.text[i] >= 0x20 && a->u.str.text[i] <= 0x7e));
}

/* What guid sends must be a message the agent accepts. */
static void check_send(const struct guid_state *s, const struct guid_action *a) {
        struct gui_header h;
        struct gui_msg m;

        int n = gui_encode(&a->u.msg, out, sizeof(out));
        require(n >= (int) GUI_HEADER_SIZE);
        gui_decode_header(out, &h);
        require(gui_check_header(&h, GUI_FROM_DAEMON) == 0);
        require(gui_decode_body(&h, out + GUI_HEADER_SIZE, h.untrusted_len, &m) == 0);
        if (m.type == GUI_MSG_CONFIGURE) {
                const struct guid_window *w = guid_state_find(s, m.window);
                require(w && w == a->w);
                require(m.u.configure.x == w->x && m.u.configure.y == w->y);
                require(m.u.configure.width == w->width && m.u.configure.height == w->height);
        } else
                require(m.type == GUI_MSG_DESTROY && !guid_state_find(s, m.window));
}

static void check_action(const struct guid_state *s, const struct guid_action *a, bool was_requested) {
        const struct guid_window *w = a->w;

        switch (a->type) {
        case GUID_ACTION_DESTROY:
                require(w && s->focused != w && !guid_state_find(s, w->agent_id));
                return;
        case GUID_ACTION_SEND:
                check_send(s, a);
                return;
        case GUID_ACTION_CLIPBOARD_STORE:
                require(was_requested && !s->clipboard_requested && a->u.clipboard.len <= s->clipboard_limit);
                return;
        case GUID_ACTION_CLIPBOARD_OVERSIZE:
                require(was_requested && !s->clipboard_requested && a->u.clipboard.len > s->clipboard_limit);
                return;
        case GUID_ACTION_ATTACH_SCREEN:
                require(!w && s->screen_allowed && s->screen.width > 0 && s->screen.height > 0);
                require(s->screen.stride % 4 == 0 && s->screen.offset % 4 == 0);
                require(s->screen.stride / 4 >= s->screen.width && s->screen.stride / 4 <= GUI_MAX_WINDOW_WIDTH);
                require(s->screen.height <= GUI_MAX_WINDOW_HEIGHT);
                return;
        default:
                break;
        }
        /* the others act on a window of the table */
        require(w && guid_state_find(s, w->agent_id) == w);
        check_window(s, w);
        switch (a->type) {
        case GUID_ACTION_MAP:
                require(w->mapped);
                break;
        case GUID_ACTION_UNMAP:
                require(!w->mapped);
                break;
        case GUID_ACTION_DROP_OVERRIDE_REDIRECT:
                require(!w->override_redirect);
                break;
        case GUID_ACTION_SET_TITLE:
                check_title(s, a);
                break;
        case GUID_ACTION_SET_CLASS:
                check_class(a);
                break;
        case GUID_ACTION_REPAINT: {
                uint32_t lw = w->buf_width < w->width ? w->buf_width : w->width;
                uint32_t lh = w->buf_height < w->height ? w->buf_height : w->height;
                require(w->mapped && a->u.rect.x >= 0 && a->u.rect.y >= 0);
                require(a->u.rect.width > 0 && a->u.rect.height > 0);
                require((uint64_t) a->u.rect.x + a->u.rect.width <= lw);
                require((uint64_t) a->u.rect.y + a->u.rect.height <= lh);
                break;
        }
        case GUID_ACTION_REPAINT_SCREEN:
                require(w->mapped && w->direct && s->screen.width > 0 && a->u.rect.x >= 0 && a->u.rect.y >= 0);
                require(a->u.rect.width > 0 && a->u.rect.height > 0);
                require((uint64_t) a->u.rect.x + a->u.rect.width <= w->width);
                require((uint64_t) a->u.rect.y + a->u.rect.height <= w->height);
                require((uint64_t) w->screen_x + (uint64_t) a->u.rect.x + a->u.rect.width <= s->screen.width);
                require((uint64_t) w->screen_y + (uint64_t) a->u.rect.y + a->u.rect.height <= s->screen.height);
                break;
        case GUID_ACTION_ATTACH_BUFFER:
                require(a->u.rect.width == w->buf_width && a->u.rect.height == w->buf_height && w->buf_width);
                break;
        default:
                break;
        }
}

static size_t count_windows(const struct guid_state *s) {
        size_t n = 0;
        for (const struct guid_window *w = s->windows; w; w = w->next)
                n++;
        return n;
}

static void free_windows(struct guid_state *s) {
        struct guid_window *w = guid_state_take_windows(s);
        while (w) {
                struct guid_window *next = w->next;
                free(w);
                w = next;
        }
}

static const uint32_t limits[] = { 256, 1000, GUI_CLIPBOARD_LIMIT_DEFAULT, GUI_CLIPBOARD_LIMIT_MAX };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct guid_actions actions;

        if (size < 5)
                return 0;
        log_set_max_level(LOG_EMERG - 1);       /* the refusals are expected: keep quiet */
        struct guid_state s = {
                .domain = DOMAIN,
                .allow_utf8_titles = data[0] & 1,
                .clipboard_limit = limits[(data[0] >> 3) & 3],
                .screen_width = 1 + le16_load(data + 1) % 32767,
                .screen_height = 1 + le16_load(data + 3) % 32767,
                .screen_allowed = data[0] & 32,
        };
        bool press_copy = data[0] & 2, focus_newest = data[0] & 4;
        data += 5, size -= 5;

        /* guid's agent.c framing: the message so far in `in`, completed from the stream */
        size_t have = 0;
        for (;;) {
                struct gui_header h;
                size_t want;
                int total = gui_frame(in, have, GUI_FROM_AGENT, &h, &want);
                if (total < 0)
                        break;
                if (total == 0) {
                        if (size == 0)
                                break;
                        require(have + want <= sizeof(in));
                        size_t n = want < size ? want : size;
                        memcpy(in + have, data, n);
                        have += n, data += n, size -= n;
                        continue;
                }
                struct gui_msg m;
                if (gui_decode_body(&h, in + GUI_HEADER_SIZE, h.untrusted_len, &m) < 0)
                        break;
                have = 0;

                if (focus_newest)
                        s.focused = s.windows;
                if (press_copy)
                        (void) guid_state_request_clipboard(&s);
                bool was_requested = s.clipboard_requested;
                size_t before = count_windows(&s);
                struct guid_window *head = s.windows;
                int r = guid_state_handle(&s, &m, &actions);
                if (r < 0) {
                        /* dropped: nothing decided, nothing changed */
                        require(actions.n == 0 && s.windows == head && count_windows(&s) == before);
                        break;
                }
                require(actions.n <= GUID_MAX_ACTIONS);
                for (unsigned i = 0; i < actions.n; i++)
                        check_action(&s, &actions.a[i], was_requested);
                guid_actions_clear(&actions);
        }
        /* the counts the limits are checked against are right, and hold */
        uint64_t pixels = 0;
        for (const struct guid_window *w = s.windows; w; w = w->next) {
                check_window(&s, w);
                pixels += (uint64_t) w->buf_width * w->buf_height * 4;
        }
        if (s.screen.width)
                pixels += guid_screen_bytes(s.screen.stride, s.screen.height, s.screen.offset);
        require(count_windows(&s) == s.n_windows && s.n_windows <= GUID_MAX_WINDOWS);
        require(pixels == s.pixel_bytes && pixels <= guid_pixel_limit(s.screen_width, s.screen_height));
        free_windows(&s);
        return 0;
}
