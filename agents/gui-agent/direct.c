/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which windows guid can paint straight from the shared screen (screen.c):
 * "direct" ones are mapped, have all their content inside the screen and no
 * mapped top-level window above them overlapping it.  They are not
 * redirected (their drawing lands in the screen, the one copy the app's
 * own request makes); every other top-level window is redirected, one by
 * one, in automatic mode (the domain's screen stays right) and copied out
 * of its pixmap (pixels.c).  The stacking order is read again (one
 * XQueryTree) after any map, unmap, configure, circulate, create or
 * destroy, not on every frame; the X server keeps a window's contents
 * across the switch, and the whole window is sent again after it.
 */
#include <stdlib.h>
#include <X11/extensions/Xcomposite.h>

#include "gui-agent.h"

static bool inside_screen(const struct agent *a, const struct agent_window *w) {
        int64_t x = (int64_t) w->x + w->border, y = (int64_t) w->y + w->border;
        return x >= 0 && y >= 0 && x + w->width <= a->screen.width && y + w->height <= a->screen.height;
}

/* Does v (border included) overlap w's content? */
static bool overlaps(const struct agent_window *w, const struct agent_window *v) {
        int64_t wx = (int64_t) w->x + w->border, wy = (int64_t) w->y + w->border;
        int64_t vx = v->x, vy = v->y;
        int64_t vw = (int64_t) v->width + 2 * (int64_t) v->border, vh = (int64_t) v->height + 2 * (int64_t) v->border;
        return vx < wx + w->width && wx < vx + vw && vy < wy + w->height && wy < vy + vh;
}

static void set_direct(struct agent *a, struct agent_window *w, bool direct) {
        if (w->direct == direct)
                return;
        w->direct = direct;
        if (direct) {
                XCompositeUnredirectWindow(a->dpy, w->id, CompositeRedirectAutomatic);
                if (w->pixmap)
                        XFreePixmap(a->dpy, w->pixmap);
                w->pixmap = None;
        } else {
                XCompositeRedirectWindow(a->dpy, w->id, CompositeRedirectAutomatic);
                /* a new pixmap: the old one (if any) was the window's before */
                if (w->seg)
                        w->pixmap = XCompositeNameWindowPixmap(a->dpy, w->id);
        }
        if (w->mapped)
                pixels_damage(w, 0, 0, w->width, w->height);
        agent_log("window 0x%lx: %s", (unsigned long) w->id, direct ? "direct" : "copied");
}

void direct_update(struct agent *a) {
        if (!a->restack)
                return;
        a->restack = false;
        Window root_return, parent, *children = NULL;
        unsigned count = 0;
        if (!XQueryTree(a->dpy, a->root, &root_return, &parent, &children, &count))
                return;
        /* top-most first: each window is checked against those above it */
        struct agent_window **above = calloc(count + 1, sizeof(*above));
        unsigned n_above = 0;
        bool changed = false;
        for (unsigned i = count; above && i > 0; i--) {
                struct agent_window *w = window_find(a, children[i - 1]);
                if (!w || !w->mapped)
                        continue;
                bool direct = screen_shared(a) && inside_screen(a, w);
                for (unsigned j = 0; direct && j < n_above; j++)
                        direct = !overlaps(w, above[j]);
                changed |= direct != w->direct;
                set_direct(a, w, direct);
                above[n_above++] = w;
        }
        free(above);
        if (children)
                XFree(children);
        /* the switches must be done before guid reads the screen or a pixmap */
        if (changed)
                XSync(a->dpy, False);
}
