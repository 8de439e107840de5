/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's messages: input injected with XTEST into the domain's X server
 * (the pointer moved to the window's position first, the focus given to
 * the window guid says is focused), geometry guid settled on, close
 * requests, and the clipboard.  guid is the trusted side; a window id it
 * names that we do not know is ignored (the window may just have gone).
 */
#include <errno.h>
#include <string.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>

#include "gui-agent.h"

static void pointer_to(struct agent *a, struct agent_window *w, int32_t x, int32_t y) {
        int32_t b = (int32_t) w->border;
        XTestFakeMotionEvent(a->dpy, DefaultScreen(a->dpy), w->x + b + x, w->y + b + y, CurrentTime);
        a->pointer_window = w->id;
}

static bool supports_delete(struct agent *a, Window id) {
        Atom *protocols = NULL;
        int count = 0;
        bool found = false;
        if (XGetWMProtocols(a->dpy, id, &protocols, &count)) {
                for (int i = 0; i < count; i++)
                        found = found || protocols[i] == a->atom_wm_delete;
                XFree(protocols);
        }
        return found;
}

static void close_window(struct agent *a, struct agent_window *w) {
        if (!supports_delete(a, w->id)) {
                XKillClient(a->dpy, w->id);
                return;
        }
        XEvent ev = { .xclient = {
                .type = ClientMessage,
                .window = w->id,
                .message_type = a->atom_wm_protocols,
                .format = 32,
        } };
        ev.xclient.data.l[0] = (long) a->atom_wm_delete;
        ev.xclient.data.l[1] = CurrentTime;
        XSendEvent(a->dpy, w->id, False, NoEventMask, &ev);
}

int input_handle(struct agent *a, const struct gui_msg *m) {
        /* messages about no particular window */
        switch (m->type) {
        case GUI_MSG_CLIPBOARD_REQ:
                return clipboard_request(a);
        case GUI_MSG_CLIPBOARD_DATA:
                return clipboard_store(a, m->data, m->data_len);
        case GUI_MSG_KEYMAP_NOTIFY:
        case GUI_MSG_WINDOW_DUMP_ACK:
        case GUI_MSG_DESTROY:           /* guid's acknowledgement */
                return 0;
        default:
                break;
        }

        struct agent_window *w = window_find(a, m->window);
        if (!w)
                return 0;
        switch (m->type) {
        case GUI_MSG_KEYPRESS:
                XTestFakeKeyEvent(a->dpy, m->u.key.keycode, m->u.key.type == KeyPress, CurrentTime);
                return 0;
        case GUI_MSG_BUTTON:
                pointer_to(a, w, m->u.button.x, m->u.button.y);
                XTestFakeButtonEvent(a->dpy, m->u.button.button, m->u.button.type == ButtonPress, CurrentTime);
                return 0;
        case GUI_MSG_MOTION:
                pointer_to(a, w, m->u.motion.x, m->u.motion.y);
                return 0;
        case GUI_MSG_CROSSING:
                if (m->u.crossing.type == EnterNotify)
                        pointer_to(a, w, m->u.crossing.x, m->u.crossing.y);
                return 0;
        case GUI_MSG_FOCUS:
                if (m->u.focus.type == FocusIn && w->mapped) {
                        XRaiseWindow(a->dpy, w->id);
                        XSetInputFocus(a->dpy, w->id, RevertToParent, CurrentTime);
                }
                return 0;
        case GUI_MSG_CONFIGURE:
                /* its ConfigureNotify brings our copy of the geometry up to date */
                XMoveResizeWindow(a->dpy, w->id, m->u.configure.x - (int32_t) w->border,
                                  m->u.configure.y - (int32_t) w->border,
                                  m->u.configure.width ?: 1, m->u.configure.height ?: 1);
                return 0;
        case GUI_MSG_MAP:
                XMapWindow(a->dpy, w->id);
                return 0;
        case GUI_MSG_CLOSE:
                close_window(a, w);
                return 0;
        case GUI_MSG_WINDOW_FLAGS:
                return 0;
        default:
                agent_log("guid sent an unexpected %s", gui_msg_type_to_string(m->type));
                return -EBADMSG;
        }
}
