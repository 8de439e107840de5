/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain's side of the secure clipboard.  CLIPBOARD_REQ (the user
 * pressed Ctrl-Shift-C): the CLIPBOARD selection converted to UTF8_STRING
 * and sent back, at most one byte past the largest limit guid can have
 * (that byte means "too big").  CLIPBOARD_DATA (an allowed paste): we own
 * CLIPBOARD and PRIMARY and serve the text to the domain's programs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <X11/Xatom.h>

#include "gui-agent.h"

static int send_clipboard(struct agent *a, const uint8_t *data, size_t len) {
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_DATA };
        m.data = data;
        m.data_len = len < GUI_CLIPBOARD_WIRE_MAX ? len : GUI_CLIPBOARD_WIRE_MAX;
        return channel_send(a, &m);
}

int clipboard_request(struct agent *a) {
        Window owner = XGetSelectionOwner(a->dpy, a->atom_clipboard);
        if (owner == None)
                return send_clipboard(a, NULL, 0);
        if (owner == a->selection_window)
                return send_clipboard(a, a->clipboard, a->clipboard_len);
        a->clipboard_requested = true;
        XConvertSelection(a->dpy, a->atom_clipboard, a->atom_utf8_string, a->atom_property, a->selection_window,
                          CurrentTime);
        return 0;
}

int clipboard_store(struct agent *a, const uint8_t *data, size_t len) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, len);
        free(a->clipboard);
        a->clipboard = copy;
        a->clipboard_len = len;
        XSetSelectionOwner(a->dpy, a->atom_clipboard, a->selection_window, CurrentTime);
        XSetSelectionOwner(a->dpy, XA_PRIMARY, a->selection_window, CurrentTime);
        return 0;
}

static int converted(struct agent *a, XSelectionEvent *e) {
        Atom type;
        int format;
        unsigned long count = 0, after;
        unsigned char *value = NULL;

        if (!a->clipboard_requested)
                return 0;
        a->clipboard_requested = false;
        if (e->property == None ||
            XGetWindowProperty(a->dpy, a->selection_window, a->atom_property, 0, GUI_CLIPBOARD_WIRE_MAX / 4 + 1,
                               True, AnyPropertyType, &type, &format, &count, &after, &value) != Success ||
            format != 8) {
                if (value)
                        XFree(value);
                return send_clipboard(a, NULL, 0);
        }
        /* more than we fetched: send a too-long answer, guid refuses it */
        int r = send_clipboard(a, value, after > 0 ? GUI_CLIPBOARD_WIRE_MAX : count);
        XFree(value);
        return r;
}

static void serve(struct agent *a, XSelectionRequestEvent *e) {
        XEvent answer = { .xselection = {
                .type = SelectionNotify,
                .requestor = e->requestor,
                .selection = e->selection,
                .target = e->target,
                .property = None,
                .time = e->time,
        } };
        Atom property = e->property != None ? e->property : e->target;

        if (e->target == a->atom_targets) {
                Atom targets[] = { a->atom_targets, a->atom_utf8_string, XA_STRING, a->atom_text };
                XChangeProperty(a->dpy, e->requestor, property, XA_ATOM, 32, PropModeReplace,
                                (unsigned char *) targets, 4);
                answer.xselection.property = property;
        } else if (a->clipboard && (e->target == a->atom_utf8_string || e->target == XA_STRING ||
                                    e->target == a->atom_text)) {
                XChangeProperty(a->dpy, e->requestor, property,
                                e->target == XA_STRING ? XA_STRING : a->atom_utf8_string, 8, PropModeReplace,
                                a->clipboard, (int) a->clipboard_len);
                answer.xselection.property = property;
        }
        XSendEvent(a->dpy, e->requestor, False, NoEventMask, &answer);
}

int clipboard_handle_event(struct agent *a, XEvent *ev) {
        switch (ev->type) {
        case SelectionNotify:
                if (ev->xselection.requestor != a->selection_window)
                        return 0;
        {
                int r = converted(a, &ev->xselection);
                return r < 0 ? r : 1;
        }
        case SelectionRequest:
                serve(a, &ev->xselectionrequest);
                return 1;
        case SelectionClear:
                if (ev->xselectionclear.selection == a->atom_clipboard) {
                        free(a->clipboard);
                        a->clipboard = NULL;
                        a->clipboard_len = 0;
                }
                return 1;
        default:
                return 0;
        }
}
