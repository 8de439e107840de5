/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's handling of the agent's messages (state.h): every check and every
 * state change, decided before anything is drawn.  A structural violation
 * (unknown or duplicate window, zero size, contradictory flags, a cursor or
 * dump type we do not know, more windows or pixel memory than a domain may
 * hold) is -EBADMSG with the state untouched.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"
#include "util.h"

static struct guid_action *push(struct guid_actions *a, enum guid_action_type type, struct guid_window *w) {
        struct guid_action *x = &a->a[a->n++];
        x->type = type;
        x->w = w;
        return x;
}

static void push_title(const struct guid_state *s, struct guid_actions *a, struct guid_window *w,
                       const char *title) {
        struct guid_action *x = push(a, GUID_ACTION_SET_TITLE, w);
        int n = snprintf(x->u.str.text, GUID_TITLE_MAX, "[%s] %s", s->domain, title);
        if (n < 0 || n >= (int) GUID_TITLE_MAX)
                a->n--;         /* a domain name is at most 31 bytes: cannot happen */
        else
                x->u.str.len = (size_t) n;
}

static void push_class(const struct guid_state *s, struct guid_actions *a, struct guid_window *w,
                       const char *res_name, const char *res_class) {
        struct guid_action *x = push(a, GUID_ACTION_SET_CLASS, w);
        int n = snprintf(x->u.str.text, GUID_CLASS_MAX, "%s:%s%c%s:%s", s->domain, res_name, '\0', s->domain,
                         res_class);
        if (n <= 0 || n >= (int) GUID_CLASS_MAX)
                a->n--;
        else
                x->u.str.len = (size_t) n + 1;
}

/* The agent learns the geometry guid settled on when it differs from its request. */
static void push_geometry_reply(struct guid_actions *a, struct guid_window *w, int32_t x, int32_t y,
                                uint32_t width, uint32_t height) {
        if (x == w->x && y == w->y && width == w->width && height == w->height)
                return;
        struct gui_msg *m = &push(a, GUID_ACTION_SEND, w)->u.msg;
        *m = (struct gui_msg) { .type = GUI_MSG_CONFIGURE, .window = w->agent_id };
        m->u.configure.x = w->x;
        m->u.configure.y = w->y;
        m->u.configure.width = w->width;
        m->u.configure.height = w->height;
        m->u.configure.override_redirect = w->override_redirect;
}

struct guid_window *guid_state_find(const struct guid_state *s, uint32_t agent_id) {
        for (struct guid_window *w = s->windows; w; w = w->next)
                if (w->agent_id == agent_id)
                        return w;
        return NULL;
}

struct guid_window *guid_state_take_windows(struct guid_state *s) {
        s->focused = NULL;
        s->n_windows = 0;
        s->pixel_bytes = 0;
        return TAKE_PTR(s->windows);
}

uint32_t guid_state_request_clipboard(struct guid_state *s) {
        if (!s->focused)
                return 0;
        s->clipboard_requested = true;
        return s->focused->agent_id;
}

void guid_actions_clear(struct guid_actions *a) {
        for (unsigned i = 0; i < a->n; i++)
                if (a->a[i].type == GUID_ACTION_DESTROY)
                        free(a->a[i].w);
        a->n = 0;
}

static uint64_t buffer_bytes(uint32_t width, uint32_t height) {
        return (uint64_t) width * height * 4;
}

/* The domain's pixel memory becomes total, if within its limit. */
static int charge_pixels(struct guid_state *s, uint64_t total) {
        uint64_t limit = guid_pixel_limit(s->screen_width, s->screen_height);
        if (total > limit)
                return log_error_errno(EBADMSG, "%s asked for %" PRIu64 " MiB of window buffers, more "
                                       "than %" PRIu64 " MiB; closing.", s->domain,
                                       (total + (1u << 20) - 1) >> 20, limit >> 20);
        s->pixel_bytes = total;
        return 0;
}

static int handle_create(struct guid_state *s, const struct gui_msg *m, struct guid_actions *a) {
        if (m->window == 0 || guid_state_find(s, m->window))
                return log_error_errno(EBADMSG, "%s created window 0x%x twice (or id 0); closing.", s->domain,
                                       m->window);
        if (s->n_windows >= GUID_MAX_WINDOWS)
                return log_error_errno(EBADMSG, "%s created more than %u windows; closing.", s->domain,
                                       GUID_MAX_WINDOWS);
        struct guid_window *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->agent_id = m->window;
        w->x = m->u.create.x;
        w->y = m->u.create.y;
        w->width = w->agent_width = m->u.create.width;
        w->height = w->agent_height = m->u.create.height;
        guid_clamp_geometry(s->screen_width, s->screen_height, &w->x, &w->y, &w->width, &w->height);
        w->override_redirect = m->u.create.override_redirect != 0 &&
                               !guid_too_big_for_override_redirect(s->screen_width, s->screen_height, w->width,
                                                                   w->height);
        w->next = s->windows;
        s->windows = w;
        s->n_windows++;

        push(a, GUID_ACTION_CREATE, w);
        push_title(s, a, w, "");
        push_class(s, a, w, "", "");
        push_geometry_reply(a, w, m->u.create.x, m->u.create.y, m->u.create.width, m->u.create.height);
        return 0;
}

static void handle_destroy(struct guid_state *s, struct guid_window *w, struct guid_actions *a) {
        for (struct guid_window **p = &s->windows; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        w->next = NULL;
        s->n_windows--;
        s->pixel_bytes -= buffer_bytes(w->buf_width, w->buf_height);
        if (s->focused == w)
                s->focused = NULL;
        push(a, GUID_ACTION_DESTROY, w);
        struct gui_msg *ack = &push(a, GUID_ACTION_SEND, NULL)->u.msg;
        *ack = (struct gui_msg) { .type = GUI_MSG_DESTROY, .window = w->agent_id };
}

static int handle_configure(struct guid_state *s, struct guid_window *w, const struct gui_msg *m,
                            struct guid_actions *a) {
        int32_t x = m->u.configure.x, y = m->u.configure.y;
        uint32_t width = m->u.configure.width, height = m->u.configure.height;

        if (width == 0 || height == 0)
                return log_error_errno(EBADMSG, "%s configured a window to size 0; closing.", s->domain);
        w->agent_width = width;
        w->agent_height = height;
        guid_clamp_geometry(s->screen_width, s->screen_height, &x, &y, &width, &height);
        /* the override-redirect flag is fixed once created (QSB-072);
         * growing past 90% of the screen loses it */
        if (w->override_redirect &&
            guid_too_big_for_override_redirect(s->screen_width, s->screen_height, width, height)) {
                w->override_redirect = false;
                push(a, GUID_ACTION_DROP_OVERRIDE_REDIRECT, w);
        }
        w->x = x, w->y = y, w->width = width, w->height = height;
        push(a, GUID_ACTION_MOVE_RESIZE, w);
        push_geometry_reply(a, w, m->u.configure.x, m->u.configure.y, m->u.configure.width, m->u.configure.height);
        return 0;
}

/* 1.9: the window is fully visible in the domain's screen and changed
 * there.  The rect must lie inside the window (as the agent sized it) and
 * the screen buffer; what guid paints is clipped to the content it shows. */
static int handle_screen_image(struct guid_state *s, struct guid_window *w, const struct gui_msg *m,
                               struct guid_actions *a) {
        uint32_t x = m->u.screen_image.x, y = m->u.screen_image.y;
        uint32_t width = m->u.screen_image.width, height = m->u.screen_image.height;
        uint32_t sx = m->u.screen_image.screen_x, sy = m->u.screen_image.screen_y;

        if (s->screen.width == 0)
                return log_error_errno(EBADMSG, "%s sent a screen image without a screen buffer; closing.",
                                       s->domain);
        if (width == 0 || height == 0 || (uint64_t) x + width > w->agent_width ||
            (uint64_t) y + height > w->agent_height)
                return log_error_errno(EBADMSG, "%s sent a screen image outside its window 0x%x; closing.",
                                       s->domain, w->agent_id);
        if ((uint64_t) sx + x + width > s->screen.width || (uint64_t) sy + y + height > s->screen.height)
                return log_error_errno(EBADMSG, "%s sent a screen image outside its screen; closing.", s->domain);
        w->direct = true;
        w->screen_x = sx;
        w->screen_y = sy;
        if (w->mapped && guid_clip_screen_repaint(s, w, (int32_t) x, (int32_t) y, &width, &height)) {
                struct guid_action *r = push(a, GUID_ACTION_REPAINT_SCREEN, w);
                r->u.rect.x = (int32_t) x;
                r->u.rect.y = (int32_t) y;
                r->u.rect.width = width;
                r->u.rect.height = height;
        }
        return 0;
}

/* 1.9: the domain's screen, once per connection.  Its layout is checked
 * here, the memfd's size and seals when it is received (window.c). */
static int handle_screen_buffer(struct guid_state *s, const struct gui_msg *m, struct guid_actions *a) {
        uint32_t width = m->u.screen_buffer.width, height = m->u.screen_buffer.height;
        uint32_t stride = m->u.screen_buffer.stride, offset = m->u.screen_buffer.offset;

        if (!s->screen_allowed || s->screen.width != 0 || m->window != 0)
                return log_error_errno(EBADMSG, "%s sent an unexpected screen buffer; closing.", s->domain);
        if (width == 0 || width > GUI_MAX_WINDOW_WIDTH || height == 0 || height > GUI_MAX_WINDOW_HEIGHT ||
            stride % 4 != 0 || stride / 4 < width || stride / 4 > GUI_MAX_WINDOW_WIDTH || offset % 4 != 0)
                return log_error_errno(EBADMSG, "%s sent an impossible screen buffer (%ux%u, stride %u, offset "
                                       "%u); closing.", s->domain, width, height, stride, offset);
        int r = charge_pixels(s, s->pixel_bytes + guid_screen_bytes(stride, height, offset));
        if (r < 0)
                return r;
        s->screen.width = width;
        s->screen.height = height;
        s->screen.stride = stride;
        s->screen.offset = offset;
        push(a, GUID_ACTION_ATTACH_SCREEN, NULL);
        return 0;
}

static int handle_window_message(struct guid_state *s, struct guid_window *w, const struct gui_msg *m,
                                 struct guid_actions *a) {
        switch (m->type) {
        case GUI_MSG_DESTROY:
                handle_destroy(s, w, a);
                return 0;
        case GUI_MSG_MAP:
                if (!w->mapped) {
                        w->mapped = true;
                        push(a, GUID_ACTION_MAP, w);
                }
                return 0;
        case GUI_MSG_UNMAP:
                if (w->mapped)
                        push(a, GUID_ACTION_UNMAP, w);
                w->mapped = false;
                return 0;
        case GUI_MSG_CONFIGURE:
                return handle_configure(s, w, m, a);
        case GUI_MSG_SHMIMAGE: {
                uint32_t width = m->u.shmimage.width, height = m->u.shmimage.height;
                w->direct = false;
                if (w->mapped && guid_clip_repaint(w, m->u.shmimage.x, m->u.shmimage.y, &width, &height)) {
                        struct guid_action *x = push(a, GUID_ACTION_REPAINT, w);
                        x->u.rect.x = m->u.shmimage.x;
                        x->u.rect.y = m->u.shmimage.y;
                        x->u.rect.width = width;
                        x->u.rect.height = height;
                }
                return 0;
        }
        case GUI_MSG_SCREEN_IMAGE:
                return handle_screen_image(s, w, m, a);
        case GUI_MSG_WMNAME: {
                char title[GUI_TITLE_SIZE];
                gui_sanitize_title(m->u.title, s->allow_utf8_titles, title);
                push_title(s, a, w, title);
                return 0;
        }
        case GUI_MSG_WMCLASS: {
                char res_class[GUI_CLASS_SIZE], res_name[GUI_CLASS_SIZE];
                if (w->mapped)          /* ICCCM: only while withdrawn */
                        return 0;
                gui_sanitize_class(m->u.wmclass.res_class, res_class);
                gui_sanitize_class(m->u.wmclass.res_name, res_name);
                push_class(s, a, w, res_name, res_class);
                return 0;
        }
        case GUI_MSG_WINDOW_DUMP: {
                if (m->u.dump.type != GUI_DUMP_MEMFD)
                        return log_error_errno(EBADMSG, "%s sent a window dump this backend cannot map; closing.",
                                               s->domain);
                /* the new buffer replaces the window's old one */
                int r = charge_pixels(s, s->pixel_bytes - buffer_bytes(w->buf_width, w->buf_height) +
                                                 buffer_bytes(m->u.dump.width, m->u.dump.height));
                if (r < 0)
                        return r;
                /* the codec bounds the size; the X layer fails the peer if
                 * the buffer does not come, so the new size holds from here */
                w->buf_width = m->u.dump.width;
                w->buf_height = m->u.dump.height;
                struct guid_action *x = push(a, GUID_ACTION_ATTACH_BUFFER, w);
                x->u.rect.x = x->u.rect.y = 0;
                x->u.rect.width = w->buf_width;
                x->u.rect.height = w->buf_height;
                return 0;
        }
        case GUI_MSG_WINDOW_FLAGS:
                if (m->u.flags.set & m->u.flags.unset)
                        return log_error_errno(EBADMSG, "%s set and unset the same window flag; closing.",
                                               s->domain);
                /* only these may change; fullscreen is not honoured (it could
                 * hide the frames), minimize only recorded */
                w->flags |= m->u.flags.set & (GUI_FLAG_DEMANDS_ATTENTION | GUI_FLAG_MINIMIZE);
                w->flags &= ~(m->u.flags.unset & (GUI_FLAG_FULLSCREEN | GUI_FLAG_DEMANDS_ATTENTION));
                return 0;
        case GUI_MSG_WINDOW_HINTS:
        case GUI_MSG_DOCK:
                return 0;       /* accepted, not used: no window manager contract yet */
        case GUI_MSG_CURSOR:
                if (m->u.cursor.cursor != GUI_CURSOR_DEFAULT &&
                    (m->u.cursor.cursor < GUI_CURSOR_X11 || m->u.cursor.cursor >= GUI_CURSOR_X11_MAX))
                        return log_error_errno(EBADMSG, "%s asked for cursor 0x%x; closing.", s->domain,
                                               m->u.cursor.cursor);
                return 0;
        default:
                return log_error_errno(EBADMSG, "%s sent an unexpected %s; closing.", s->domain,
                                       gui_msg_type_to_string(m->type));
        }
}

static void handle_clipboard(struct guid_state *s, const struct gui_msg *m, struct guid_actions *a) {
        if (!s->clipboard_requested) {
                log_warning("%s sent clipboard data nobody asked for; ignored.", s->domain);
                return;
        }
        s->clipboard_requested = false;
        if (m->data_len > s->clipboard_limit) {
                push(a, GUID_ACTION_CLIPBOARD_OVERSIZE, NULL)->u.clipboard.len = m->data_len;
                return;
        }
        struct guid_action *x = push(a, GUID_ACTION_CLIPBOARD_STORE, NULL);
        x->u.clipboard.data = m->data;
        x->u.clipboard.len = m->data_len;
}

int guid_state_handle(struct guid_state *s, const struct gui_msg *untrusted_msg, struct guid_actions *ret) {
        ret->n = 0;
        switch (untrusted_msg->type) {
        case GUI_MSG_CREATE:
                return handle_create(s, untrusted_msg, ret);
        case GUI_MSG_CLIPBOARD_DATA:
                handle_clipboard(s, untrusted_msg, ret);
                return 0;
        case GUI_MSG_SCREEN_BUFFER:
                return handle_screen_buffer(s, untrusted_msg, ret);
        default: {
                struct guid_window *w = guid_state_find(s, untrusted_msg->window);
                if (!w)
                        return log_error_errno(EBADMSG, "%s sent %s for unknown window 0x%x; closing.", s->domain,
                                               gui_msg_type_to_string(untrusted_msg->type), untrusted_msg->window);
                return handle_window_message(s, w, untrusted_msg, ret);
        }
        }
}
