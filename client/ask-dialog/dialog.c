/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dialog windows: drawn with core X requests and a fixed-width core font
 * (the server's built-in "fixed" at worst), so nothing but the X server is
 * needed.  Each target has its label color next to it.  Every string drawn passed question_text_ok(); it is drawn as
 * bytes, never interpreted.  Key and button events sent by another client
 * (SendEvent) are ignored, as is all input during the first ASK_ARM_USEC.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ask-dialog.h"
#include "log.h"

#define PAD 12
#define DIALOG_WIDTH 560
#define ROWS_VISIBLE 10
#define BUTTON_WIDTH 110

#define KEY_RETURN 0xff0d
#define KEY_ESCAPE 0xff1b
#define KEY_UP 0xff52
#define KEY_DOWN 0xff54
#define KEY_KP_ENTER 0xff8d
#define KEY_KP_UP 0xff97
#define KEY_KP_DOWN 0xff99

/* WM_SIZE_HINTS / WM_HINTS flags (ICCCM 4.1.2.3, 4.1.2.4) */
#define SIZE_HINT_P_POSITION (1u << 2)
#define SIZE_HINT_P_MIN_SIZE (1u << 4)
#define SIZE_HINT_P_MAX_SIZE (1u << 5)
#define WM_HINT_INPUT 1u

/* ------------------------------------------------------------ setup */

static int load_keymap(struct ask_x11 *x) {
        const xcb_setup_t *setup = xcb_get_setup(x->conn);
        uint8_t count = (uint8_t) (setup->max_keycode - setup->min_keycode + 1);
        _cleanup_free_ xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
                x->conn, xcb_get_keyboard_mapping(x->conn, setup->min_keycode, count), NULL);

        if (!r || r->keysyms_per_keycode == 0)
                return log_error_errno(EIO, "Cannot read the keyboard mapping.");
        free(x->keysyms);
        x->keysyms = malloc((size_t) count * sizeof(*x->keysyms));
        if (!x->keysyms)
                return log_error_errno(ENOMEM, "Out of memory.");
        const xcb_keysym_t *syms = xcb_get_keyboard_mapping_keysyms(r);
        for (unsigned k = 0; k < count; k++)
                x->keysyms[k] = syms[k * r->keysyms_per_keycode];
        x->min_keycode = setup->min_keycode;
        x->n_keycodes = count;
        return 0;
}

static xcb_keysym_t keysym_of(const struct ask_x11 *x, xcb_keycode_t code) {
        unsigned k = (unsigned) code - x->min_keycode;
        return code >= x->min_keycode && k < x->n_keycodes ? x->keysyms[k] : 0;
}

static int open_font(struct ask_x11 *x) {
        static const char *const names[] = { "9x15", "fixed" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                xcb_font_t font = xcb_generate_id(x->conn);
                _cleanup_free_ xcb_generic_error_t *e = xcb_request_check(
                        x->conn, xcb_open_font_checked(x->conn, font, (uint16_t) strlen(names[i]), names[i]));
                if (e)
                        continue;
                _cleanup_free_ xcb_query_font_reply_t *q = xcb_query_font_reply(x->conn,
                                                                                 xcb_query_font(x->conn, font), NULL);
                if (!q || q->max_bounds.character_width <= 0) {
                        xcb_close_font(x->conn, font);
                        continue;
                }
                x->font = font;
                x->char_width = (uint16_t) q->max_bounds.character_width;
                x->ascent = (uint16_t) q->font_ascent;
                x->descent = (uint16_t) q->font_descent;
                return 0;
        }
        return log_error_errno(ENOENT, "The X server has no usable font (not even \"fixed\").");
}

static void alloc_colors(struct ask_x11 *x) {
        static const uint32_t rgb[] = { 0xf2f2f2, 0x202020, 0x2e3436, 0xffffff, 0x3465a4, 0xffffff,
                                        0x4e9a06, 0xa40000, 0xbababa, 0x555753 };
        uint32_t *pixel[] = { &x->color_bg, &x->color_fg, &x->color_header, &x->color_header_fg,
                              &x->color_select, &x->color_select_fg, &x->color_allow, &x->color_deny,
                              &x->color_disabled, &x->color_dim };
        xcb_alloc_color_cookie_t cookie[ELEMENTSOF(rgb)];

        for (size_t i = 0; i < ELEMENTSOF(rgb); i++)
                cookie[i] = xcb_alloc_color(x->conn, x->screen->default_colormap, (uint16_t) ((rgb[i] >> 16) * 257),
                                            (uint16_t) (((rgb[i] >> 8) & 0xff) * 257),
                                            (uint16_t) ((rgb[i] & 0xff) * 257));
        for (size_t i = 0; i < ELEMENTSOF(rgb); i++) {
                _cleanup_free_ xcb_alloc_color_reply_t *r = xcb_alloc_color_reply(x->conn, cookie[i], NULL);
                /* a full colormap: light colors become white, the others black */
                bool light = ((rgb[i] >> 16) + ((rgb[i] >> 8) & 0xff) + (rgb[i] & 0xff)) > 3 * 0x80;
                *pixel[i] = r ? r->pixel : light ? x->screen->white_pixel : x->screen->black_pixel;
        }
}

int ask_x11_open(struct ask_x11 *x, const char *display) {
        static const char *const names[] = { "WM_PROTOCOLS", "WM_DELETE_WINDOW", "_NET_WM_NAME", "UTF8_STRING",
                                             "_NET_WM_WINDOW_TYPE", "_NET_WM_WINDOW_TYPE_DIALOG", "_NET_WM_STATE",
                                             "_NET_WM_STATE_ABOVE", "_ODYSSEY_ASK_READY" };
        xcb_atom_t *atoms[] = { &x->atom_wm_protocols, &x->atom_wm_delete, &x->atom_net_wm_name,
                                &x->atom_utf8_string, &x->atom_net_wm_type, &x->atom_net_wm_type_dialog,
                                &x->atom_net_wm_state, &x->atom_net_wm_state_above, &x->atom_ready };
        xcb_intern_atom_cookie_t cookie[ELEMENTSOF(names)];
        int screen_number, r;

        x->conn = xcb_connect(display, &screen_number);
        if (xcb_connection_has_error(x->conn))
                return log_error_errno(ECONNREFUSED, "Cannot open X display %s",
                                       display ?: getenv("DISPLAY") ?: "(unset)");
        xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(x->conn));
        for (int i = 0; i < screen_number && it.rem; i++)
                xcb_screen_next(&it);
        if (!it.rem)
                return log_error_errno(ENODEV, "The X display has no screen %d.", screen_number);
        x->screen = it.data;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                cookie[i] = xcb_intern_atom(x->conn, 0, (uint16_t) strlen(names[i]), names[i]);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ xcb_intern_atom_reply_t *a = xcb_intern_atom_reply(x->conn, cookie[i], NULL);
                if (!a)
                        return log_error_errno(EIO, "Cannot intern the X atom %s.", names[i]);
                *atoms[i] = a->atom;
        }
        r = load_keymap(x);
        if (r < 0)
                return r;
        r = open_font(x);
        if (r < 0)
                return r;
        alloc_colors(x);
        x->gc = xcb_generate_id(x->conn);
        xcb_create_gc(x->conn, x->gc, x->screen->root, XCB_GC_FONT | XCB_GC_GRAPHICS_EXPOSURES,
                      (uint32_t[]) { x->font, 0 });
        xcb_flush(x->conn);
        return 0;
}

void ask_x11_close(struct ask_x11 *x) {
        if (x->conn) {
                xcb_flush(x->conn);
                xcb_disconnect(x->conn);
        }
        free(x->keysyms);
        *x = (struct ask_x11) {};
}

/* ------------------------------------------------------------ layout and drawing */

struct layout {
        int16_t line_h;                 /* one line of text */
        int16_t header_h;
        int16_t info_y;                 /* first line under the header */
        int16_t list_y;                 /* the target rows */
        int16_t row_h;
        uint16_t rows;                  /* visible rows */
        int16_t buttons_y, allow_x, deny_x;
        int16_t button_h;
        int16_t hint_y;
        uint16_t height;
};

static struct layout layout_of(const struct ask_x11 *x, const struct ask_dialog *d) {
        struct layout l = {};

        l.line_h = (int16_t) (x->ascent + x->descent + 4);
        l.header_h = (int16_t) (l.line_h + 2 * PAD);
        l.info_y = (int16_t) (l.header_h + PAD);
        l.list_y = (int16_t) (l.info_y + 4 * l.line_h + PAD / 2);
        l.row_h = (int16_t) (l.line_h + 4);
        l.rows = (uint16_t) (d->q.n_targets < ROWS_VISIBLE ? d->q.n_targets : ROWS_VISIBLE);
        l.buttons_y = (int16_t) (l.list_y + l.rows * l.row_h + PAD);
        l.button_h = (int16_t) (l.line_h + 10);
        l.deny_x = (int16_t) (d->width - PAD - BUTTON_WIDTH);
        l.allow_x = (int16_t) (l.deny_x - PAD - BUTTON_WIDTH);
        l.hint_y = (int16_t) (l.buttons_y + l.button_h + PAD);
        l.height = (uint16_t) (l.hint_y + l.line_h + PAD);
        return l;
}

static void fill(struct ask_x11 *x, xcb_window_t w, uint32_t color, int16_t x0, int16_t y0, uint16_t width,
                 uint16_t height) {
        xcb_change_gc(x->conn, x->gc, XCB_GC_FOREGROUND, (uint32_t[]) { color });
        xcb_poly_fill_rectangle(x->conn, w, x->gc, 1, &(xcb_rectangle_t) { x0, y0, width, height });
}

/* Draw checked text at (x0, top of the line y0), cut with "..." to max_px. */
static void text(struct ask_x11 *x, xcb_window_t w, uint32_t fg, uint32_t bg, int16_t x0, int16_t y0, int max_px,
                 const char *s) {
        char buf[ASK_TEXT_MAX + 1];
        size_t max = max_px > 0 ? (size_t) max_px / x->char_width : 0, n = strlen(s);

        if (max > ASK_TEXT_MAX)
                max = ASK_TEXT_MAX;
        if (n > max) {
                if (max < 4)
                        return;
                snprintf(buf, sizeof(buf), "%.*s...", (int) (max - 3), s);
        } else
                snprintf(buf, sizeof(buf), "%s", s);
        xcb_change_gc(x->conn, x->gc, XCB_GC_FOREGROUND | XCB_GC_BACKGROUND, (uint32_t[]) { fg, bg });
        xcb_image_text_8(x->conn, (uint8_t) strlen(buf), w, x->gc, x0, (int16_t) (y0 + 2 + x->ascent), buf);
}

static void labelled(struct ask_x11 *x, const struct ask_dialog *d, int16_t y, const char *label, const char *value,
                     uint32_t value_color) {
        int16_t vx = (int16_t) (PAD + 11 * x->char_width);
        text(x, d->window, x->color_dim, x->color_bg, PAD, y, 11 * x->char_width, label);
        text(x, d->window, value_color, x->color_bg, vx, y, d->width - vx - PAD, value);
}

static void button(struct ask_x11 *x, const struct ask_dialog *d, const struct layout *l, int16_t bx,
                   uint32_t color, const char *label) {
        uint32_t bg = d->armed ? color : x->color_disabled;
        int16_t tx = (int16_t) (bx + (BUTTON_WIDTH - (int) strlen(label) * x->char_width) / 2);

        fill(x, d->window, bg, bx, l->buttons_y, BUTTON_WIDTH, (uint16_t) l->button_h);
        text(x, d->window, x->color_header_fg, bg, tx, (int16_t) (l->buttons_y + 5), BUTTON_WIDTH, label);
}

static void draw(struct ask_agent *a, struct ask_dialog *d) {
        struct ask_x11 *x = &a->x;
        struct layout l = layout_of(x, d);
        char line[2 * ASK_TEXT_MAX + 32];
        int16_t y;

        fill(x, d->window, x->color_bg, 0, 0, d->width, d->height);
        /* the header says who asks for what, and that the admin side asks */
        fill(x, d->window, x->color_header, 0, 0, d->width, (uint16_t) l.header_h);
        snprintf(line, sizeof(line), "%s wants to call %s", d->q.source, d->q.service);
        text(x, d->window, x->color_header_fg, x->color_header, PAD, PAD, d->width - 2 * PAD, line);

        y = l.info_y;
        labelled(x, d, y, "Caller:", d->q.source, x->color_fg);
        labelled(x, d, (int16_t) (y + l.line_h), "Service:", d->q.service, x->color_fg);
        labelled(x, d, (int16_t) (y + 2 * l.line_h), "Argument:", d->q.argument[0] ? d->q.argument : "(none)",
                 d->q.argument[0] ? x->color_fg : x->color_dim);
        text(x, d->window, x->color_fg, x->color_bg, PAD, (int16_t) (y + 3 * l.line_h), d->width - 2 * PAD,
             "Allow it to reach:");

        for (uint16_t row = 0; row < l.rows; row++) {
                size_t i = d->first_row + row;
                if (i >= d->q.n_targets)
                        break;
                bool sel = i == d->selected;
                uint32_t bg = sel ? x->color_select : x->color_bg, fg = sel ? x->color_select_fg : x->color_fg;
                int16_t ry = (int16_t) (l.list_y + row * l.row_h);
                fill(x, d->window, bg, PAD, ry, (uint16_t) (d->width - 2 * PAD), (uint16_t) l.row_h);
                text(x, d->window, fg, bg, PAD + 4, (int16_t) (ry + 2), 2 * x->char_width, sel ? ">" : " ");
                /* the target's label color, as its windows' frames show it,
                 * outlined so that it shows on any row color */
                int16_t sx = (int16_t) (PAD + 4 + 2 * x->char_width), sy = (int16_t) (ry + 3);
                uint16_t side = (uint16_t) (l.row_h - 6);
                if (d->target_color && d->target_has_color && d->target_has_color[i]) {
                        fill(x, d->window, fg, sx, sy, side, side);
                        fill(x, d->window, d->target_color[i], (int16_t) (sx + 1), (int16_t) (sy + 1),
                             (uint16_t) (side - 2), (uint16_t) (side - 2));
                }
                int16_t tx = (int16_t) (sx + side + x->char_width);
                snprintf(line, sizeof(line), "%s%s", d->q.targets[i], i == d->q.default_index ? "  (default)" : "");
                text(x, d->window, fg, bg, tx, (int16_t) (ry + 2), d->width - PAD - 4 - tx, line);
        }
        if (d->q.n_targets > l.rows) {
                snprintf(line, sizeof(line), "%zu-%zu of %zu", d->first_row + 1, d->first_row + l.rows,
                         d->q.n_targets);
                text(x, d->window, x->color_dim, x->color_bg, PAD, (int16_t) (l.buttons_y + 5),
                     l.allow_x - 2 * PAD, line);
        }
        button(x, d, &l, l.allow_x, x->color_allow, "Allow");
        button(x, d, &l, l.deny_x, x->color_deny, "Deny");
        snprintf(line, sizeof(line), "Up/Down choose, Enter allows, Esc denies; denied after %u s",
                 a->timeout_sec);
        text(x, d->window, x->color_dim, x->color_bg, PAD, l.hint_y, d->width - 2 * PAD, line);
}

/* ------------------------------------------------------------ the window */

static void set_prop(struct ask_x11 *x, xcb_window_t w, xcb_atom_t prop, xcb_atom_t type, uint8_t format,
                     uint32_t n, const void *data) {
        xcb_change_property(x->conn, XCB_PROP_MODE_REPLACE, w, prop, type, format, n, data);
}

static int on_armed(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        struct ask_dialog *d = userdata;
        struct ask_x11 *x = &d->agent->x;

        d->armed = true;
        /* for scripts and assistive tools: the dialog now takes input */
        set_prop(x, d->window, x->atom_ready, XCB_ATOM_CARDINAL, 32, 1, (uint32_t[]) { 1 });
        draw(d->agent, d);
        xcb_flush(x->conn);
        return 0;
}

int ask_dialog_show(struct ask_agent *a, struct ask_dialog *d) {
        struct ask_x11 *x = &a->x;
        char title[2 * ASK_TEXT_MAX + 32];
        static const char wm_class[] = "odyssey-ask-dialog\0odyssey-ask-dialog";

        d->width = DIALOG_WIDTH < x->screen->width_in_pixels ? DIALOG_WIDTH : x->screen->width_in_pixels;
        d->height = layout_of(x, d).height;
        d->selected = d->q.default_index < d->q.n_targets ? d->q.default_index : 0;
        d->first_row = d->selected >= ROWS_VISIBLE ? d->selected - ROWS_VISIBLE + 1 : 0;

        unsigned offset = 24 * (a->n_shown++ % 8);
        int16_t px = (int16_t) ((x->screen->width_in_pixels - d->width) / 2 + (int) offset);
        int16_t py = (int16_t) ((x->screen->height_in_pixels - d->height) / 3 + (int) offset);
        d->window = xcb_generate_id(x->conn);
        xcb_create_window(x->conn, XCB_COPY_FROM_PARENT, d->window, x->screen->root, px, py, d->width, d->height, 0,
                          XCB_WINDOW_CLASS_INPUT_OUTPUT, x->screen->root_visual, XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK,
                          (uint32_t[]) { x->color_bg, XCB_EVENT_MASK_EXPOSURE | XCB_EVENT_MASK_KEY_PRESS |
                                         XCB_EVENT_MASK_BUTTON_PRESS | XCB_EVENT_MASK_STRUCTURE_NOTIFY });

        snprintf(title, sizeof(title), "Odyssey: %s wants to call %s", d->q.source, d->q.service);
        set_prop(x, d->window, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8, (uint32_t) strlen(title), title);
        set_prop(x, d->window, x->atom_net_wm_name, x->atom_utf8_string, 8, (uint32_t) strlen(title), title);
        set_prop(x, d->window, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, 8, sizeof(wm_class), wm_class);
        set_prop(x, d->window, x->atom_wm_protocols, XCB_ATOM_ATOM, 32, 1, &x->atom_wm_delete);
        set_prop(x, d->window, x->atom_net_wm_type, XCB_ATOM_ATOM, 32, 1, &x->atom_net_wm_type_dialog);
        set_prop(x, d->window, x->atom_net_wm_state, XCB_ATOM_ATOM, 32, 1, &x->atom_net_wm_state_above);
        uint32_t size_hints[18] = { SIZE_HINT_P_POSITION | SIZE_HINT_P_MIN_SIZE | SIZE_HINT_P_MAX_SIZE };
        size_hints[5] = size_hints[7] = d->width;
        size_hints[6] = size_hints[8] = d->height;
        set_prop(x, d->window, XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_WM_SIZE_HINTS, 32, 18, size_hints);
        uint32_t wm_hints[9] = { WM_HINT_INPUT, 1 };
        set_prop(x, d->window, XCB_ATOM_WM_HINTS, XCB_ATOM_WM_HINTS, 32, 9, wm_hints);
        xcb_map_window(x->conn, d->window);
        xcb_flush(x->conn);
        return 0;
}

/* ------------------------------------------------------------ input */

static struct ask_dialog *dialog_of(struct ask_agent *a, xcb_window_t w) {
        for (struct ask_dialog *d = a->dialogs; d; d = d->next)
                if (d->window == w)
                        return d;
        return NULL;
}

static void select_row(struct ask_agent *a, struct ask_dialog *d, size_t i) {
        if (i >= d->q.n_targets || i == d->selected)
                return;
        d->selected = i;
        if (d->selected < d->first_row)
                d->first_row = d->selected;
        else if (d->selected >= d->first_row + ROWS_VISIBLE)
                d->first_row = d->selected - ROWS_VISIBLE + 1;
        draw(a, d);
}

static void on_key(struct ask_agent *a, struct ask_dialog *d, const xcb_key_press_event_t *e) {
        switch (keysym_of(&a->x, e->detail)) {
        case KEY_UP:
        case KEY_KP_UP:
                if (d->selected > 0)
                        select_row(a, d, d->selected - 1);
                break;
        case KEY_DOWN:
        case KEY_KP_DOWN:
                select_row(a, d, d->selected + 1);
                break;
        case KEY_RETURN:
        case KEY_KP_ENTER:
                ask_dialog_answer(d, d->q.targets[d->selected]);
                break;
        case KEY_ESCAPE:
                ask_dialog_answer(d, NULL);
                break;
        }
}

static void on_button(struct ask_agent *a, struct ask_dialog *d, const xcb_button_press_event_t *e) {
        struct layout l = layout_of(&a->x, d);

        if (e->detail == 4 && d->selected > 0)  /* wheel */
                select_row(a, d, d->selected - 1);
        else if (e->detail == 5)
                select_row(a, d, d->selected + 1);
        if (e->detail != 1)
                return;
        if (e->event_y >= l.buttons_y && e->event_y < l.buttons_y + l.button_h) {
                if (e->event_x >= l.allow_x && e->event_x < l.allow_x + BUTTON_WIDTH)
                        ask_dialog_answer(d, d->q.targets[d->selected]);
                else if (e->event_x >= l.deny_x && e->event_x < l.deny_x + BUTTON_WIDTH)
                        ask_dialog_answer(d, NULL);
        } else if (e->event_y >= l.list_y && e->event_y < l.list_y + l.rows * l.row_h && e->event_x >= PAD &&
                   e->event_x < d->width - PAD)
                select_row(a, d, d->first_row + (size_t) ((e->event_y - l.list_y) / l.row_h));
}

static void on_map(struct ask_agent *a, struct ask_dialog *d) {
        /* Without a window manager nobody else gives the dialog the keyboard. */
        xcb_set_input_focus(a->x.conn, XCB_INPUT_FOCUS_POINTER_ROOT, d->window, XCB_CURRENT_TIME);
        if (d->arm_timer || d->armed)
                return;
        if (sd_event_add_time_relative(a->event, &d->arm_timer, CLOCK_MONOTONIC, ASK_ARM_USEC, 0, on_armed, d) < 0)
                on_armed(NULL, 0, d);   /* no timer: take input at once rather than never */
}

static void handle(struct ask_agent *a, xcb_generic_event_t *ev) {
        uint8_t type = ev->response_type & 0x7f;
        bool synthetic = ev->response_type & 0x80;
        struct ask_dialog *d;

        switch (type) {
        case XCB_EXPOSE: {
                const xcb_expose_event_t *e = (const void *) ev;
                if (e->count == 0 && (d = dialog_of(a, e->window)))
                        draw(a, d);
                break;
        }
        case XCB_MAP_NOTIFY:
                if ((d = dialog_of(a, ((const xcb_map_notify_event_t *) ev)->window)))
                        on_map(a, d);
                break;
        case XCB_KEY_PRESS:
                if (!synthetic && (d = dialog_of(a, ((const xcb_key_press_event_t *) ev)->event)) && d->armed)
                        on_key(a, d, (const void *) ev);
                break;
        case XCB_BUTTON_PRESS:
                if (!synthetic && (d = dialog_of(a, ((const xcb_button_press_event_t *) ev)->event)) && d->armed)
                        on_button(a, d, (const void *) ev);
                break;
        case XCB_CLIENT_MESSAGE: {
                /* the window manager's close button: deny (no arming needed to say no) */
                const xcb_client_message_event_t *e = (const void *) ev;
                if (e->type == a->x.atom_wm_protocols && e->format == 32 &&
                    e->data.data32[0] == a->x.atom_wm_delete && (d = dialog_of(a, e->window)))
                        ask_dialog_answer(d, NULL);
                break;
        }
        case XCB_DESTROY_NOTIFY:
                /* destroyed by someone else (ours are unlinked before they are destroyed) */
                if ((d = dialog_of(a, ((const xcb_destroy_notify_event_t *) ev)->window))) {
                        d->window = XCB_WINDOW_NONE;
                        ask_dialog_answer(d, NULL);
                }
                break;
        case XCB_MAPPING_NOTIFY:
                (void) load_keymap(&a->x);
                break;
        }
}

int ask_x11_process(struct ask_agent *a) {
        xcb_generic_event_t *ev;

        while ((ev = xcb_poll_for_event(a->x.conn))) {
                handle(a, ev);
                free(ev);
        }
        xcb_flush(a->x.conn);
        if (xcb_connection_has_error(a->x.conn))
                return log_error_errno(EPIPE, "Lost the X display.");
        return 0;
}
