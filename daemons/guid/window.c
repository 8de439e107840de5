/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's windows on X: one X window per domain window, made of the content
 * and a GUI_BORDER_WIDTH frame in the label color around it.  The frame is
 * the window's own background and lies outside the area content is painted
 * into, so nothing the domain draws can cover it.  What to do is decided by
 * the pure layer (state.c: clamps, sanitised strings, violations); this
 * file only carries its actions out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guid.h"
#include "log.h"
#include "util.h"

#define B GUI_BORDER_WIDTH

struct guid_window *guid_window_by_xid(struct guid *g, xcb_window_t xid) {
        for (struct guid_window *w = g->state.windows; w; w = w->next)
                if (w->xid == xid)
                        return w;
        return NULL;
}

static void set_string(struct guid *g, xcb_window_t xid, xcb_atom_t prop, xcb_atom_t type, const char *s,
                       size_t len) {
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, xid, prop, type, 8, (uint32_t) len, s);
}

static void set_cardinal(struct guid *g, xcb_window_t xid, xcb_atom_t prop, xcb_atom_t type, uint32_t v) {
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, xid, prop, type, 32, 1, &v);
}

static void set_title(struct guid *g, struct guid_window *w, const char *title, size_t len) {
        set_string(g, w->xid, XCB_ATOM_WM_NAME, g->cfg.allow_utf8_titles ? g->atom_utf8_string : XCB_ATOM_STRING,
                   title, len);
        set_string(g, w->xid, g->atom_net_wm_name, g->atom_utf8_string, title, len);
        set_string(g, w->xid, XCB_ATOM_WM_ICON_NAME, XCB_ATOM_STRING, title, len);
}

static void create_window(struct guid *g, struct guid_window *w) {
        w->xid = xcb_generate_id(g->conn);
        uint32_t values[] = {
                g->cfg.label_color,     /* background: the frame, and the content until painted */
                g->cfg.label_color,     /* border pixel (border width 0) */
                w->override_redirect,
                XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_KEY_RELEASE | XCB_EVENT_MASK_BUTTON_PRESS |
                        XCB_EVENT_MASK_BUTTON_RELEASE | XCB_EVENT_MASK_POINTER_MOTION |
                        XCB_EVENT_MASK_ENTER_WINDOW | XCB_EVENT_MASK_LEAVE_WINDOW |
                        XCB_EVENT_MASK_FOCUS_CHANGE | XCB_EVENT_MASK_EXPOSURE |
                        XCB_EVENT_MASK_STRUCTURE_NOTIFY,
        };
        xcb_create_window(g->conn, XCB_COPY_FROM_PARENT, w->xid, g->screen->root, (int16_t) (w->x - B),
                          (int16_t) (w->y - B), (uint16_t) (w->width + 2 * B), (uint16_t) (w->height + 2 * B), 0,
                          XCB_WINDOW_CLASS_INPUT_OUTPUT, g->screen->root_visual,
                          XCB_CW_BACK_PIXEL | XCB_CW_BORDER_PIXEL | XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK,
                          values);
        set_string(g, w->xid, g->atom_vmname, XCB_ATOM_STRING, g->cfg.domain, strlen(g->cfg.domain));
        set_cardinal(g, w->xid, g->atom_label_color, XCB_ATOM_CARDINAL, g->cfg.label_color);
        set_cardinal(g, w->xid, g->atom_vmwindowid, XCB_ATOM_CARDINAL, w->agent_id);
        set_cardinal(g, w->xid, g->atom_wm_protocols, XCB_ATOM_ATOM, g->atom_wm_delete);
}

static void release_buffer(struct guid *g, struct guid_window *w) {
        if (w->seg) {
                xcb_shm_detach(g->conn, w->seg);
                w->seg = 0;
        }
}

static void destroy_window(struct guid *g, struct guid_window *w) {
        release_buffer(g, w);
        xcb_destroy_window(g->conn, w->xid);
}

void guid_windows_free(struct guid *g) {
        struct guid_window *w = guid_state_take_windows(&g->state);
        while (w) {
                struct guid_window *next = w->next;
                destroy_window(g, w);
                free(w);
                w = next;
        }
}

static void move_resize(struct guid *g, struct guid_window *w) {
        uint32_t values[] = { (uint32_t) (w->x - B), (uint32_t) (w->y - B), w->width + 2 * B, w->height + 2 * B };
        xcb_configure_window(g->conn, w->xid,
                             XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y | XCB_CONFIG_WINDOW_WIDTH |
                             XCB_CONFIG_WINDOW_HEIGHT, values);
}

static void drop_override_redirect(struct guid *g, struct guid_window *w) {
        uint32_t value = 0;
        /* the attribute only takes effect on the next map */
        if (w->mapped)
                xcb_unmap_window(g->conn, w->xid);
        xcb_change_window_attributes(g->conn, w->xid, XCB_CW_OVERRIDE_REDIRECT, &value);
        if (w->mapped)
                xcb_map_window(g->conn, w->xid);
}

/* The domain's screen: a sealed memfd holding offset + stride x height. */
static int attach_screen(struct guid *g) {
        const struct guid_state *s = &g->state;
        int fd = guid_agent_receive_memfd(g, 0, guid_screen_bytes(s->screen.stride, s->screen.height,
                                                                   s->screen.offset));
        if (fd < 0)
                return fd;
        g->screen_seg = xcb_generate_id(g->conn);
        xcb_generic_error_t *err = xcb_request_check(g->conn, xcb_shm_attach_fd_checked(g->conn, g->screen_seg,
                                                                                        fd, 1));
        if (err) {
                free(err);
                g->screen_seg = 0;
                return log_error_errno(EBADMSG, "The X server refused %s's screen buffer; closing.",
                                       g->cfg.domain);
        }
        log_info("%s shares its %ux%u screen: fully visible windows need no copy in the domain.",
                 g->cfg.domain, s->screen.width, s->screen.height);
        return 0;
}

static int attach_buffer(struct guid *g, struct guid_window *w, uint32_t width, uint32_t height) {
        int fd = guid_agent_receive_memfd(g, w->agent_id, (uint64_t) width * height * 4);
        if (fd < 0)
                return fd;
        release_buffer(g, w);
        w->seg = xcb_generate_id(g->conn);
        /* xcb passes the fd to the X server and closes our copy. */
        xcb_void_cookie_t cookie = xcb_shm_attach_fd_checked(g->conn, w->seg, fd, 1);
        xcb_generic_error_t *err = xcb_request_check(g->conn, cookie);
        if (err) {
                free(err);
                w->seg = 0;
                return log_error_errno(EBADMSG, "The X server refused %s's window buffer; closing.",
                                       g->cfg.domain);
        }
        struct gui_msg ack = { .type = GUI_MSG_WINDOW_DUMP_ACK, .window = w->agent_id };
        return guid_agent_send(g, &ack);
}

static int apply(struct guid *g, struct guid_action *a) {
        struct guid_window *w = a->w;

        switch (a->type) {
        case GUID_ACTION_CREATE:
                create_window(g, w);
                return 0;
        case GUID_ACTION_DESTROY:
                destroy_window(g, w);
                return 0;
        case GUID_ACTION_MAP:
                xcb_map_window(g->conn, w->xid);
                return 0;
        case GUID_ACTION_UNMAP:
                xcb_unmap_window(g->conn, w->xid);
                return 0;
        case GUID_ACTION_MOVE_RESIZE:
                move_resize(g, w);
                return 0;
        case GUID_ACTION_DROP_OVERRIDE_REDIRECT:
                drop_override_redirect(g, w);
                return 0;
        case GUID_ACTION_SET_TITLE:
                set_title(g, w, a->u.str.text, a->u.str.len);
                return 0;
        case GUID_ACTION_SET_CLASS:
                set_string(g, w->xid, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, a->u.str.text, a->u.str.len);
                return 0;
        case GUID_ACTION_REPAINT:
        case GUID_ACTION_REPAINT_SCREEN:
                guid_paint(g, w, a->u.rect.x, a->u.rect.y, a->u.rect.width, a->u.rect.height);
                return 0;
        case GUID_ACTION_ATTACH_BUFFER:
                return attach_buffer(g, w, a->u.rect.width, a->u.rect.height);
        case GUID_ACTION_ATTACH_SCREEN:
                return attach_screen(g);
        case GUID_ACTION_SEND:
                return guid_agent_send(g, &a->u.msg);
        case GUID_ACTION_CLIPBOARD_STORE:
                return guid_clipboard_store(g, a->u.clipboard.data, a->u.clipboard.len);
        case GUID_ACTION_CLIPBOARD_OVERSIZE:
                return guid_clipboard_oversize(g, a->u.clipboard.len);
        }
        return -EINVAL;
}

int guid_handle_agent_message(struct guid *g, const struct gui_msg *untrusted_msg) {
        struct guid_actions actions;
        int r = guid_state_handle(&g->state, untrusted_msg, &actions);

        for (unsigned i = 0; r >= 0 && i < actions.n; i++)
                r = apply(g, &actions.a[i]);
        guid_actions_clear(&actions);
        return r;
}
