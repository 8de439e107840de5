/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A domain window's content on the admin display.  Each window has at most
 * one MIT-SHM put in the X server at a time, sent with a completion event;
 * damage that comes meanwhile is merged into one box and put once the X
 * server has done the last one.  A domain that draws faster than the admin
 * X server copies thus costs it one copy per frame it can show, not a
 * queue of copies of frames already replaced, and a flood of damage costs
 * it nothing more.  The source is chosen when the put is sent: the
 * domain's screen buffer for a direct window, else the window's buffer.
 */
#include "guid.h"

#define B GUI_BORDER_WIDTH

static void put_image(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width,
                      uint32_t height) {
        xcb_shm_put_image(g->conn, w->xid, g->gc, (uint16_t) w->buf_width, (uint16_t) w->buf_height,
                          (uint16_t) x, (uint16_t) y, (uint16_t) width, (uint16_t) height, (int16_t) (x + B),
                          (int16_t) (y + B), g->screen->root_depth, XCB_IMAGE_FORMAT_Z_PIXMAP, 1, w->seg, 0);
}

/* A direct window's content from the domain's screen buffer: (x, y) of
 * the content is (screen_x + x, screen_y + y) there.  Tearing, should the
 * domain draw meanwhile, is accepted as with any shared buffer. */
static void put_screen_image(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width,
                             uint32_t height) {
        const struct guid_state *s = &g->state;
        xcb_shm_put_image(g->conn, w->xid, g->gc, (uint16_t) (s->screen.stride / 4), (uint16_t) s->screen.height,
                          (uint16_t) (w->screen_x + (uint32_t) x), (uint16_t) (w->screen_y + (uint32_t) y),
                          (uint16_t) width, (uint16_t) height, (int16_t) (x + B), (int16_t) (y + B),
                          g->screen->root_depth, XCB_IMAGE_FORMAT_Z_PIXMAP, 1, g->screen_seg, s->screen.offset);
}

static void put_pending(struct guid *g, struct guid_window *w) {
        if (!w->paint_pending)
                return;
        w->paint_pending = false;
        int32_t x = w->paint_x0, y = w->paint_y0;
        uint32_t width = (uint32_t) (w->paint_x1 - x), height = (uint32_t) (w->paint_y1 - y);
        if (w->direct) {
                if (!g->screen_seg || !guid_clip_screen_repaint(&g->state, w, x, y, &width, &height))
                        return;
                put_screen_image(g, w, x, y, width, height);
        } else {
                if (!w->seg || !guid_clip_repaint(w, x, y, &width, &height))
                        return;
                put_image(g, w, x, y, width, height);
        }
        w->painting = true;
}

void guid_paint(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width, uint32_t height) {
        if (x < 0 || y < 0 || width == 0 || height == 0)
                return;
        /* content coordinates are below 2^15 (clamped): no overflow in int64 */
        int64_t x1 = (int64_t) x + width, y1 = (int64_t) y + height;
        if (x1 > INT32_MAX)
                x1 = INT32_MAX;
        if (y1 > INT32_MAX)
                y1 = INT32_MAX;
        if (!w->paint_pending) {
                w->paint_pending = true;
                w->paint_x0 = x, w->paint_y0 = y, w->paint_x1 = (int32_t) x1, w->paint_y1 = (int32_t) y1;
        } else {
                if (x < w->paint_x0)
                        w->paint_x0 = x;
                if (y < w->paint_y0)
                        w->paint_y0 = y;
                if (x1 > w->paint_x1)
                        w->paint_x1 = (int32_t) x1;
                if (y1 > w->paint_y1)
                        w->paint_y1 = (int32_t) y1;
        }
        if (!w->painting)
                put_pending(g, w);
}

void guid_paint_done(struct guid *g, const xcb_shm_completion_event_t *e) {
        struct guid_window *w = guid_window_by_xid(g, e->drawable);
        if (!w)
                return;         /* destroyed since */
        w->painting = false;
        put_pending(g, w);
}
