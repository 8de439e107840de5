/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The geometry rules of guid's windows: what the agent asks for is clamped
 * so that the whole framed window stays on the screen, override-redirect
 * is refused to a window that could pass for the whole screen, paints
 * never reach the frame, and a domain's pixel memory is bounded.
 */
#include "state.h"

#define B GUI_BORDER_WIDTH

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

/* Sizes at least 1 and no larger than the screen, so all four sides of the
 * frame show; the whole framed window kept on the screen (a window as
 * large as the screen starts at 0). */
void guid_clamp_geometry(uint32_t screen_width, uint32_t screen_height, int32_t *x, int32_t *y, uint32_t *width,
                         uint32_t *height) {
        int32_t sw = (int32_t) screen_width, sh = (int32_t) screen_height;

        *width = clamp_u32(*width, 1, (uint32_t) (sw > 2 * B + 1 ? sw - 2 * B : 1));
        *height = clamp_u32(*height, 1, (uint32_t) (sh > 2 * B + 1 ? sh - 2 * B : 1));
        int32_t fw = (int32_t) *width + 2 * B, fh = (int32_t) *height + 2 * B;
        *x = clamp_i32(*x, -GUI_MAX_COORD_X, GUI_MAX_COORD_X);
        *y = clamp_i32(*y, -GUI_MAX_COORD_Y, GUI_MAX_COORD_Y);
        *x = fw >= sw ? B : clamp_i32(*x, B, sw - fw + B);
        *y = fh >= sh ? B : clamp_i32(*y, B, sh - fh + B);
}

/* An override-redirect window covering more than 90% of the screen could
 * pass for the admin's own screen: it becomes a managed window. */
bool guid_too_big_for_override_redirect(uint32_t sw, uint32_t sh, uint32_t width, uint32_t height) {
        uint64_t screen = (uint64_t) sw * sh;
        uint64_t covered = (uint64_t) (width < sw ? width : sw) * (height < sh ? height : sh);
        return covered * 10 > screen * 9;
}

uint64_t guid_pixel_limit(uint32_t sw, uint32_t sh) {
        uint64_t largest_window = (uint64_t) GUI_MAX_WINDOW_WIDTH * GUI_MAX_WINDOW_HEIGHT * 4;
        uint64_t screens = (uint64_t) sw * sh * 4 * 8;
        return screens > largest_window ? screens : largest_window;
}

bool guid_clip_repaint(const struct guid_window *w, int32_t x, int32_t y, uint32_t *width, uint32_t *height) {
        if (w->buf_width == 0 || x < 0 || y < 0)
                return false;
        uint32_t limit_w = w->buf_width < w->width ? w->buf_width : w->width;
        uint32_t limit_h = w->buf_height < w->height ? w->buf_height : w->height;
        if ((uint32_t) x >= limit_w || (uint32_t) y >= limit_h)
                return false;
        if (*width > limit_w - (uint32_t) x)
                *width = limit_w - (uint32_t) x;
        if (*height > limit_h - (uint32_t) y)
                *height = limit_h - (uint32_t) y;
        return *width > 0 && *height > 0;
}

bool guid_clip_screen_repaint(const struct guid_state *s, const struct guid_window *w, int32_t x, int32_t y,
                              uint32_t *width, uint32_t *height) {
        if (s->screen.width == 0 || x < 0 || y < 0)
                return false;
        /* the content, then what of it lies in the screen buffer */
        uint64_t limit_w = w->width, limit_h = w->height;
        if ((uint64_t) w->screen_x + limit_w > s->screen.width)
                limit_w = w->screen_x < s->screen.width ? s->screen.width - w->screen_x : 0;
        if ((uint64_t) w->screen_y + limit_h > s->screen.height)
                limit_h = w->screen_y < s->screen.height ? s->screen.height - w->screen_y : 0;
        if ((uint64_t) x >= limit_w || (uint64_t) y >= limit_h)
                return false;
        if (*width > limit_w - (uint64_t) x)
                *width = (uint32_t) (limit_w - (uint64_t) x);
        if (*height > limit_h - (uint64_t) y)
                *height = (uint32_t) (limit_h - (uint64_t) y);
        return *width > 0 && *height > 0;
}

uint64_t guid_screen_bytes(uint32_t stride, uint32_t height, uint32_t offset) {
        return (uint64_t) stride * height + offset;
}
