/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * X events on guid's windows, forwarded to the agent.  Only events on this
 * guid's own windows are seen; synthetic events (SendEvent, which any X
 * client can forge) are dropped; keys go only to the window that has the
 * focus; Ctrl-Shift-C / Ctrl-Shift-V are the secure clipboard and never
 * reach the domain.
 */
#include <errno.h>
#include <stdlib.h>

#include "guid.h"
#include "log.h"

#define CLIPBOARD_MODIFIERS (XCB_MOD_MASK_SHIFT | XCB_MOD_MASK_CONTROL | XCB_MOD_MASK_1 | XCB_MOD_MASK_4)

static int16_t content_x(int16_t x) {
        return (int16_t) (x - GUI_BORDER_WIDTH);
}

static int16_t content_y(int16_t y) {
        return (int16_t) (y - GUI_BORDER_WIDTH);
}

static int handle_key(struct guid *g, xcb_key_press_event_t *e, bool press) {
        struct guid_window *w = guid_window_by_xid(g, e->event);
        if (!w || w != g->state.focused)
                return 0;
        if ((e->state & CLIPBOARD_MODIFIERS) == (XCB_MOD_MASK_SHIFT | XCB_MOD_MASK_CONTROL) &&
            (e->detail == g->key_c || e->detail == g->key_v)) {
                if (!press)
                        return 0;
                return e->detail == g->key_c ? guid_clipboard_copy_request(g) : guid_paste_start(g, w);
        }
        struct gui_msg m = { .type = GUI_MSG_KEYPRESS, .window = w->agent_id };
        m.u.key.type = press ? XCB_KEY_PRESS : XCB_KEY_RELEASE;
        m.u.key.x = content_x(e->event_x);
        m.u.key.y = content_y(e->event_y);
        m.u.key.state = e->state;
        m.u.key.keycode = e->detail;
        return guid_agent_send(g, &m);
}

static int handle_button(struct guid *g, xcb_button_press_event_t *e, bool press) {
        struct guid_window *w = guid_window_by_xid(g, e->event);
        if (!w)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_BUTTON, .window = w->agent_id };
        m.u.button.type = press ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE;
        m.u.button.x = content_x(e->event_x);
        m.u.button.y = content_y(e->event_y);
        m.u.button.state = e->state;
        m.u.button.button = e->detail;
        return guid_agent_send(g, &m);
}

static int handle_motion(struct guid *g, xcb_motion_notify_event_t *e) {
        struct guid_window *w = guid_window_by_xid(g, e->event);
        if (!w)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_MOTION, .window = w->agent_id };
        m.u.motion.x = content_x(e->event_x);
        m.u.motion.y = content_y(e->event_y);
        m.u.motion.state = e->state;
        m.u.motion.is_hint = 0;
        return guid_agent_send(g, &m);
}

static int handle_crossing(struct guid *g, xcb_enter_notify_event_t *e, bool enter) {
        struct guid_window *w = guid_window_by_xid(g, e->event);
        if (!w)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_CROSSING, .window = w->agent_id };
        m.u.crossing.type = enter ? XCB_ENTER_NOTIFY : XCB_LEAVE_NOTIFY;
        m.u.crossing.x = content_x(e->event_x);
        m.u.crossing.y = content_y(e->event_y);
        m.u.crossing.state = e->state;
        m.u.crossing.mode = e->mode;
        m.u.crossing.detail = e->detail;
        m.u.crossing.focus = !!(e->same_screen_focus & 1);
        return guid_agent_send(g, &m);
}

static int handle_focus(struct guid *g, xcb_focus_in_event_t *e, bool in) {
        struct guid_window *w = guid_window_by_xid(g, e->event);
        if (!w || e->mode == XCB_NOTIFY_MODE_GRAB || e->mode == XCB_NOTIFY_MODE_UNGRAB)
                return 0;
        if (in)
                g->state.focused = w;
        else if (g->state.focused == w)
                g->state.focused = NULL;
        struct gui_msg m = { .type = GUI_MSG_FOCUS, .window = w->agent_id };
        m.u.focus.type = in ? XCB_FOCUS_IN : XCB_FOCUS_OUT;
        m.u.focus.mode = XCB_NOTIFY_MODE_NORMAL;
        m.u.focus.detail = e->detail;
        return guid_agent_send(g, &m);
}

static int handle_expose(struct guid *g, xcb_expose_event_t *e) {
        struct guid_window *w = guid_window_by_xid(g, e->window);
        if (!w)
                return 0;
        /* the frame is the window background, repainted by the server */
        int32_t x = e->x - GUI_BORDER_WIDTH, y = e->y - GUI_BORDER_WIDTH;
        uint32_t width = e->width, height = e->height;
        if (x < 0) {
                width = (uint32_t) -x < width ? width - (uint32_t) -x : 0;
                x = 0;
        }
        if (y < 0) {
                height = (uint32_t) -y < height ? height - (uint32_t) -y : 0;
                y = 0;
        }
        guid_paint(g, w, x, y, width, height);
        return 0;
}

static int handle_client_message(struct guid *g, xcb_client_message_event_t *e) {
        struct guid_window *w = guid_window_by_xid(g, e->window);
        if (!w || e->type != g->atom_wm_protocols || e->data.data32[0] != g->atom_wm_delete)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_CLOSE, .window = w->agent_id };
        return guid_agent_send(g, &m);
}

static int handle_event(struct guid *g, xcb_generic_event_t *ev) {
        uint8_t type = ev->response_type & 0x7f;
        bool synthetic = ev->response_type & 0x80;

        if (type == 0) {
                xcb_generic_error_t *err = (xcb_generic_error_t *) ev;
                /* races with our own destroy/unmap are harmless */
                if (err->error_code == XCB_WINDOW)
                        return 0;
                return log_error_errno(EIO, "X error %u (request %u.%u); exiting.", err->error_code,
                                       err->major_code, err->minor_code);
        }
        if (synthetic && type != XCB_CLIENT_MESSAGE)
                return 0;
        if (type == g->shm_completion) {
                guid_paint_done(g, (xcb_shm_completion_event_t *) ev);
                return 0;
        }
        switch (type) {
        case XCB_KEY_PRESS:
        case XCB_KEY_RELEASE:
                return handle_key(g, (xcb_key_press_event_t *) ev, type == XCB_KEY_PRESS);
        case XCB_BUTTON_PRESS:
        case XCB_BUTTON_RELEASE:
                return handle_button(g, (xcb_button_press_event_t *) ev, type == XCB_BUTTON_PRESS);
        case XCB_MOTION_NOTIFY:
                return handle_motion(g, (xcb_motion_notify_event_t *) ev);
        case XCB_ENTER_NOTIFY:
        case XCB_LEAVE_NOTIFY:
                return handle_crossing(g, (xcb_enter_notify_event_t *) ev, type == XCB_ENTER_NOTIFY);
        case XCB_FOCUS_IN:
        case XCB_FOCUS_OUT:
                return handle_focus(g, (xcb_focus_in_event_t *) ev, type == XCB_FOCUS_IN);
        case XCB_EXPOSE:
                return handle_expose(g, (xcb_expose_event_t *) ev);
        case XCB_CLIENT_MESSAGE:
                return handle_client_message(g, (xcb_client_message_event_t *) ev);
        default:
                return 0;
        }
}

int guid_x11_process(struct guid *g) {
        xcb_generic_event_t *ev;
        int r = 0;

        while (r >= 0 && (ev = xcb_poll_for_event(g->conn))) {
                r = handle_event(g, ev);
                free(ev);
        }
        if (xcb_connection_has_error(g->conn))
                return log_error_errno(EPIPE, "Lost the X display.");
        return r;
}
