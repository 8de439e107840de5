/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Window pixels.  Each mapped window has a memfd of width×height 32-bit
 * pixels, sealed against shrinking, attached to the domain's X server with
 * MIT-SHM and passed to guid over the side channel before its WINDOW_DUMP.
 * Damage collected during one pass of the event loop is one frame: per
 * window its bounding box, widened to whole rows so that the X server
 * writes it straight into the buffer at the right offset (read from the
 * window's composite pixmap), then one SHMIMAGE; or, for a direct window
 * (direct.c), only a SCREEN_IMAGE: its pixels are in the shared screen.
 * No pixel passes through the agent or guid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <X11/extensions/Xcomposite.h>

#include "gui-agent.h"
#include "util.h"

void pixels_release(struct agent *a, struct agent_window *w) {
        if (w->seg && a->shm_conn)
                xcb_shm_detach(a->shm_conn, w->seg);
        w->seg = 0;
        if (w->pixmap)
                XFreePixmap(a->dpy, w->pixmap);
        w->pixmap = None;
        w->buf_width = w->buf_height = 0;
        w->dirty = false;
}

int pixels_new_buffer(struct agent *a, struct agent_window *w) {
        size_t size = (size_t) w->width * w->height * 4;
        int r;

        pixels_release(a, w);
        _cleanup_close_ int fd = memfd_create("gui-agent-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;

        /* xcb closes the fd it sends: give it a copy */
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -errno;
        xcb_shm_seg_t seg = xcb_generate_id(a->shm_conn);
        xcb_generic_error_t *err = xcb_request_check(a->shm_conn,
                                                     xcb_shm_attach_fd_checked(a->shm_conn, seg, copy, 0));
        if (err) {
                free(err);
                agent_log("the X server refused a %ux%u window buffer", w->width, w->height);
                return -ENOMEM;
        }
        w->seg = seg;
        /* a redirected window's pixmap changes with its size; reading it
         * (not the window) works wherever the window lies on the screen */
        if (!w->direct)
                w->pixmap = XCompositeNameWindowPixmap(a->dpy, w->id);
        w->buf_width = w->width;
        w->buf_height = w->height;

        r = channel_send_fd(a, (uint32_t) w->id, fd);
        if (r < 0)
                return r;
        struct gui_msg m = { .type = GUI_MSG_WINDOW_DUMP, .window = (uint32_t) w->id };
        m.u.dump.type = GUI_DUMP_MEMFD;
        m.u.dump.width = w->width;
        m.u.dump.height = w->height;
        m.u.dump.bpp = 32;
        return channel_send(a, &m);
}

void pixels_damage(struct agent_window *w, int32_t x, int32_t y, uint32_t width, uint32_t height) {
        int32_t x1 = x + (int32_t) width, y1 = y + (int32_t) height;
        if (!w->dirty) {
                w->dirty = true;
                w->dirty_x0 = x, w->dirty_y0 = y, w->dirty_x1 = x1, w->dirty_y1 = y1;
                return;
        }
        if (x < w->dirty_x0)
                w->dirty_x0 = x;
        if (y < w->dirty_y0)
                w->dirty_y0 = y;
        if (x1 > w->dirty_x1)
                w->dirty_x1 = x1;
        if (y1 > w->dirty_y1)
                w->dirty_y1 = y1;
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

/* A direct window: the pixels are in the shared screen already. */
static int flush_direct(struct agent *a, struct agent_window *w) {
        int32_t x0 = clamp(w->dirty_x0, 0, (int32_t) w->width), x1 = clamp(w->dirty_x1, 0, (int32_t) w->width);
        int32_t y0 = clamp(w->dirty_y0, 0, (int32_t) w->height), y1 = clamp(w->dirty_y1, 0, (int32_t) w->height);
        if (x0 >= x1 || y0 >= y1)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_SCREEN_IMAGE, .window = (uint32_t) w->id };
        m.u.screen_image.x = (uint32_t) x0;
        m.u.screen_image.y = (uint32_t) y0;
        m.u.screen_image.width = (uint32_t) (x1 - x0);
        m.u.screen_image.height = (uint32_t) (y1 - y0);
        m.u.screen_image.screen_x = (uint32_t) (w->x + (int32_t) w->border);
        m.u.screen_image.screen_y = (uint32_t) (w->y + (int32_t) w->border);
        return channel_send(a, &m);
}

static int flush_window(struct agent *a, struct agent_window *w) {
        w->dirty = false;
        if (w->direct && w->mapped)
                return flush_direct(a, w);
        if (!w->seg || !w->pixmap || !w->mapped)
                return 0;
        int32_t x0 = clamp(w->dirty_x0, 0, (int32_t) w->buf_width), x1 = clamp(w->dirty_x1, 0, (int32_t) w->buf_width);
        int32_t y0 = clamp(w->dirty_y0, 0, (int32_t) w->buf_height),
                y1 = clamp(w->dirty_y1, 0, (int32_t) w->buf_height);
        if (x0 >= x1 || y0 >= y1)
                return 0;

        xcb_shm_get_image_reply_t *reply = xcb_shm_get_image_reply(
                a->shm_conn,
                xcb_shm_get_image(a->shm_conn, (xcb_drawable_t) w->pixmap, (int16_t) w->border,
                                  (int16_t) (w->border + (uint32_t) y0), (uint16_t) w->buf_width,
                                  (uint16_t) (y1 - y0), ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, w->seg,
                                  (uint32_t) y0 * w->buf_width * 4),
                NULL);
        if (!reply)
                return 0;       /* the window went away or changed size: its events follow */
        free(reply);
        struct gui_msg m = { .type = GUI_MSG_SHMIMAGE, .window = (uint32_t) w->id };
        m.u.shmimage.x = x0;
        m.u.shmimage.y = y0;
        m.u.shmimage.width = (uint32_t) (x1 - x0);
        m.u.shmimage.height = (uint32_t) (y1 - y0);
        return channel_send(a, &m);
}

int pixels_flush(struct agent *a) {
        direct_update(a);
        /* the Xlib connection may hold requests the X server must see first */
        XFlush(a->dpy);
        for (struct agent_window *w = a->windows; w; w = w->next)
                if (w->dirty) {
                        int r = flush_window(a, w);
                        if (r < 0)
                                return r;
                }
        return 0;
}
