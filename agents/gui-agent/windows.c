/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain's top-level windows, told to guid: CREATE when one appears,
 * its title, class, size hints and transient-for before MAP, CONFIGURE
 * when it moves, a fresh memfd buffer (WINDOW_DUMP) whenever its size
 * changes, DAMAGE rectangles kept for the next frame (pixels.c), the
 * urgency hint as a window flag and the cursor shape under guid's pointer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/cursorfont.h>
#include <X11/extensions/Xcomposite.h>
#include <X11/extensions/Xfixes.h>

#include "gui-agent.h"
#include "util.h"

struct agent_window *window_find(struct agent *a, Window id) {
        for (struct agent_window *w = a->windows; w; w = w->next)
                if (w->id == id)
                        return w;
        return NULL;
}

static int send_words(struct agent *a, uint32_t type, Window id, unsigned count, const uint32_t *words) {
        struct gui_msg m = { .type = type, .window = (uint32_t) id };
        memcpy(m.u.words, words, count * sizeof(uint32_t));
        return channel_send(a, &m);
}

static int window_add(struct agent *a, Window id, int x, int y, int width, int height, int border,
                      bool override_redirect) {
        if (window_find(a, id) || id == a->selection_window)
                return 0;
        struct agent_window *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->id = id;
        w->x = x, w->y = y;
        w->width = width > 0 ? (uint32_t) width : 1;
        w->height = height > 0 ? (uint32_t) height : 1;
        w->border = border > 0 ? (uint32_t) border : 0;
        w->override_redirect = override_redirect;
        w->next = a->windows;
        a->windows = w;
        /* property changes: titles, hints */
        XSelectInput(a->dpy, id, PropertyChangeMask);
        /* redirected until direct.c finds it fully visible; children paint
         * into their top-level's pixmap */
        XCompositeRedirectWindow(a->dpy, id, CompositeRedirectAutomatic);
        a->restack = true;
        uint32_t words[] = { (uint32_t) (w->x + (int32_t) w->border), (uint32_t) (w->y + (int32_t) w->border),
                             w->width, w->height, 0, w->override_redirect };
        return send_words(a, GUI_MSG_CREATE, id, 6, words);
}

static void window_free(struct agent *a, struct agent_window *w) {
        for (struct agent_window **p = &a->windows; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        if (w->damage)
                XDamageDestroy(a->dpy, w->damage);
        pixels_release(a, w);
        if (a->pointer_window == w->id)
                a->pointer_window = None;
        free(w);
}

void windows_forget_all(struct agent *a) {
        /* the next guid's session redirects every window again (window_add):
         * drop our redirection, or a second one would stay when direct.c
         * unredirects the window once */
        for (struct agent_window *w = a->windows; w; w = w->next)
                if (!w->direct)
                        XCompositeUnredirectWindow(a->dpy, w->id, CompositeRedirectAutomatic);
        while (a->windows)
                window_free(a, a->windows);
}

static int send_title(struct agent *a, struct agent_window *w) {
        struct gui_msg m = { .type = GUI_MSG_WMNAME, .window = (uint32_t) w->id };
        Atom type;
        int format;
        unsigned long count, after;
        unsigned char *value = NULL;

        /* _NET_WM_NAME (UTF-8) first, WM_NAME otherwise; at most 127 bytes */
        if (XGetWindowProperty(a->dpy, w->id, a->atom_net_wm_name, 0, GUI_TITLE_SIZE / 4, False,
                               a->atom_utf8_string, &type, &format, &count, &after, &value) != Success ||
            type != a->atom_utf8_string || format != 8) {
                if (value)
                        XFree(value);
                value = NULL;
                if (XGetWindowProperty(a->dpy, w->id, XA_WM_NAME, 0, GUI_TITLE_SIZE / 4, False, AnyPropertyType,
                                       &type, &format, &count, &after, &value) != Success || format != 8)
                        count = 0;
        }
        if (value) {
                memcpy(m.u.title, value, count < GUI_TITLE_SIZE - 1 ? count : GUI_TITLE_SIZE - 1);
                XFree(value);
        }
        return channel_send(a, &m);
}

static int send_class(struct agent *a, struct agent_window *w) {
        struct gui_msg m = { .type = GUI_MSG_WMCLASS, .window = (uint32_t) w->id };
        XClassHint hint = {};
        if (!XGetClassHint(a->dpy, w->id, &hint))
                return 0;
        if (hint.res_class)
                strncpy(m.u.wmclass.res_class, hint.res_class, GUI_CLASS_SIZE - 1);
        if (hint.res_name)
                strncpy(m.u.wmclass.res_name, hint.res_name, GUI_CLASS_SIZE - 1);
        XFree(hint.res_class);
        XFree(hint.res_name);
        return channel_send(a, &m);
}

static int send_hints(struct agent *a, struct agent_window *w) {
        XSizeHints hints;
        long supplied;
        if (!XGetWMNormalHints(a->dpy, w->id, &hints, &supplied))
                return 0;
        uint32_t flags = (uint32_t) hints.flags & (GUI_HINT_USPOSITION | GUI_HINT_PPOSITION | GUI_HINT_PMINSIZE |
                                                   GUI_HINT_PMAXSIZE | GUI_HINT_PRESIZEINC | GUI_HINT_PBASESIZE);
        uint32_t words[] = { flags, (uint32_t) hints.min_width, (uint32_t) hints.min_height,
                             (uint32_t) hints.max_width, (uint32_t) hints.max_height, (uint32_t) hints.width_inc,
                             (uint32_t) hints.height_inc, (uint32_t) hints.base_width,
                             (uint32_t) hints.base_height };
        return send_words(a, GUI_MSG_WINDOW_HINTS, w->id, 9, words);
}

static int send_urgency(struct agent *a, struct agent_window *w) {
        XWMHints *hints = XGetWMHints(a->dpy, w->id);
        bool urgent = hints && (hints->flags & XUrgencyHint);
        if (hints)
                XFree(hints);
        uint32_t words[] = { urgent ? GUI_FLAG_DEMANDS_ATTENTION : 0, urgent ? 0 : GUI_FLAG_DEMANDS_ATTENTION };
        return send_words(a, GUI_MSG_WINDOW_FLAGS, w->id, 2, words);
}

static int window_mapped(struct agent *a, struct agent_window *w) {
        int r;
        Window transient_for = None;

        if ((r = send_class(a, w)) < 0 || (r = send_title(a, w)) < 0 || (r = send_hints(a, w)) < 0)
                return r;
        if (!w->override_redirect)
                (void) XGetTransientForHint(a->dpy, w->id, &transient_for);
        uint32_t words[] = { window_find(a, transient_for) ? (uint32_t) transient_for : 0, w->override_redirect };
        if ((r = send_words(a, GUI_MSG_MAP, w->id, 2, words)) < 0)
                return r;
        w->mapped = true;
        if (!w->damage)
                w->damage = XDamageCreate(a->dpy, w->id, XDamageReportRawRectangles);
        if (w->buf_width != w->width || w->buf_height != w->height)
                if ((r = pixels_new_buffer(a, w)) < 0)
                        return r;
        pixels_damage(w, 0, 0, w->width, w->height);
        return 0;
}

static int window_configured(struct agent *a, struct agent_window *w, XConfigureEvent *e) {
        uint32_t width = e->width > 0 ? (uint32_t) e->width : 1, height = e->height > 0 ? (uint32_t) e->height : 1;
        bool resized = width != w->width || height != w->height || (uint32_t) e->border_width != w->border;
        if (!resized && e->x == w->x && e->y == w->y)
                return 0;       /* guid's own answer coming back */
        w->x = e->x, w->y = e->y, w->width = width, w->height = height;
        w->border = e->border_width > 0 ? (uint32_t) e->border_width : 0;
        uint32_t words[] = { (uint32_t) (w->x + (int32_t) w->border), (uint32_t) (w->y + (int32_t) w->border),
                             w->width, w->height, w->override_redirect };
        int r = send_words(a, GUI_MSG_CONFIGURE, w->id, 5, words);
        if (r < 0 || !resized || !w->mapped)
                return r;
        r = pixels_new_buffer(a, w);
        if (r < 0)
                return r;
        pixels_damage(w, 0, 0, w->width, w->height);
        return 0;
}

/* X cursor font names: what guid can show without trusting a bitmap. */
static const struct {
        const char *name;
        unsigned glyph;
} cursor_names[] = {
        { "left_ptr", XC_left_ptr }, { "default", XC_left_ptr }, { "xterm", XC_xterm }, { "text", XC_xterm },
        { "hand1", XC_hand1 }, { "hand2", XC_hand2 }, { "pointer", XC_hand2 }, { "watch", XC_watch },
        { "wait", XC_watch }, { "crosshair", XC_crosshair }, { "fleur", XC_fleur }, { "move", XC_fleur },
        { "sb_h_double_arrow", XC_sb_h_double_arrow }, { "sb_v_double_arrow", XC_sb_v_double_arrow },
        { "question_arrow", XC_question_arrow }, { "top_left_corner", XC_top_left_corner },
        { "bottom_right_corner", XC_bottom_right_corner },
};

static int cursor_changed(struct agent *a, XFixesCursorNotifyEvent *e) {
        if (a->pointer_window == None || !window_find(a, a->pointer_window))
                return 0;
        uint32_t cursor = GUI_CURSOR_DEFAULT;
        char *name = e->cursor_name != None ? XGetAtomName(a->dpy, e->cursor_name) : NULL;
        for (size_t i = 0; name && i < ELEMENTSOF(cursor_names); i++)
                if (strcmp(name, cursor_names[i].name) == 0)
                        cursor = GUI_CURSOR_X11 + cursor_names[i].glyph;
        if (name)
                XFree(name);
        uint32_t words[] = { cursor };
        return send_words(a, GUI_MSG_CURSOR, a->pointer_window, 1, words);
}

int windows_announce_all(struct agent *a) {
        Window root_return, parent, *children = NULL;
        unsigned count = 0;
        int r = 0;

        if (!XQueryTree(a->dpy, a->root, &root_return, &parent, &children, &count))
                return 0;
        for (unsigned i = 0; i < count && r >= 0; i++) {
                XWindowAttributes attrs;
                if (!XGetWindowAttributes(a->dpy, children[i], &attrs) || attrs.class != InputOutput)
                        continue;
                r = window_add(a, children[i], attrs.x, attrs.y, attrs.width, attrs.height,
                               attrs.border_width, attrs.override_redirect);
                if (r >= 0 && attrs.map_state == IsViewable)
                        r = window_mapped(a, window_find(a, children[i]));
        }
        if (children)
                XFree(children);
        return r;
}

int windows_handle_event(struct agent *a, XEvent *ev) {
        struct agent_window *w;

        switch (ev->type) {
        case MapNotify: case UnmapNotify: case ConfigureNotify: case CirculateNotify: case DestroyNotify:
                a->restack = true;
                break;
        default:
                break;
        }

        if (ev->type == a->damage_event + XDamageNotify) {
                XDamageNotifyEvent *d = (XDamageNotifyEvent *) ev;
                w = window_find(a, d->drawable);
                if (w && w->mapped)
                        pixels_damage(w, d->area.x, d->area.y, d->area.width, d->area.height);
                return 0;
        }
        if (ev->type == a->xfixes_event + XFixesCursorNotify)
                return cursor_changed(a, (XFixesCursorNotifyEvent *) ev);

        switch (ev->type) {
        case CreateNotify: {
                XCreateWindowEvent *e = &ev->xcreatewindow;
                XWindowAttributes attrs;
                if (e->parent != a->root || !XGetWindowAttributes(a->dpy, e->window, &attrs) ||
                    attrs.class != InputOutput)
                        return 0;
                return window_add(a, e->window, e->x, e->y, e->width, e->height, e->border_width,
                                  e->override_redirect);
        }
        case DestroyNotify:
                w = window_find(a, ev->xdestroywindow.window);
                if (!w)
                        return 0;
                window_free(a, w);
                return send_words(a, GUI_MSG_DESTROY, ev->xdestroywindow.window, 0, NULL);
        case MapNotify:
                w = window_find(a, ev->xmap.window);
                return w && !w->mapped ? window_mapped(a, w) : 0;
        case UnmapNotify:
                w = window_find(a, ev->xunmap.window);
                if (!w || !w->mapped)
                        return 0;
                w->mapped = false;
                w->dirty = false;
                return send_words(a, GUI_MSG_UNMAP, w->id, 0, NULL);
        case ConfigureNotify:
                w = window_find(a, ev->xconfigure.window);
                return w ? window_configured(a, w, &ev->xconfigure) : 0;
        case PropertyNotify:
                w = window_find(a, ev->xproperty.window);
                if (!w || !w->mapped)
                        return 0;
                if (ev->xproperty.atom == XA_WM_NAME || ev->xproperty.atom == a->atom_net_wm_name)
                        return send_title(a, w);
                if (ev->xproperty.atom == XA_WM_NORMAL_HINTS)
                        return send_hints(a, w);
                if (ev->xproperty.atom == XA_WM_HINTS)
                        return send_urgency(a, w);
                return 0;
        default:
                return 0;
        }
}
