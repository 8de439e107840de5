/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's windows: one X window per domain window, made of the content and a
 * GUI_BORDER_WIDTH frame in the label color around it.  The frame is the
 * window's own background and lies outside the area content is painted
 * into, so nothing the domain draws can cover it.  Every value from the
 * agent is untrusted: sizes and positions are clamped, titles and classes
 * sanitised, and a structural violation ends this guid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"
#include "util.h"

#define B GUI_BORDER_WIDTH

static xcb_atom_t intern(xcb_connection_t *c, const char *name) {
        xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c, xcb_intern_atom(c, 0, (uint16_t) strlen(name), name),
                                                           NULL);
        xcb_atom_t a = r ? r->atom : XCB_ATOM_NONE;
        free(r);
        return a;
}

/* The keycode of a keysym in the unshifted column, 0 if none. */
static xcb_keycode_t keycode_of(struct guid *g, xcb_keysym_t sym) {
        const xcb_setup_t *setup = xcb_get_setup(g->conn);
        uint8_t count = (uint8_t) (setup->max_keycode - setup->min_keycode + 1);
        xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
                g->conn, xcb_get_keyboard_mapping(g->conn, setup->min_keycode, count), NULL);
        xcb_keycode_t found = 0;

        if (!r)
                return 0;
        xcb_keysym_t *syms = xcb_get_keyboard_mapping_keysyms(r);
        for (unsigned k = 0; k < count && !found; k++)
                if (r->keysyms_per_keycode > 0 && syms[k * r->keysyms_per_keycode] == sym)
                        found = (xcb_keycode_t) (setup->min_keycode + k);
        free(r);
        return found;
}

int guid_x11_setup(struct guid *g) {
        int screen_number;

        g->conn = xcb_connect(g->cfg.display, &screen_number);
        if (xcb_connection_has_error(g->conn))
                return log_error_errno(ECONNREFUSED, "Cannot open X display %s",
                                       g->cfg.display ?: getenv("DISPLAY") ?: "(unset)");
        xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(g->conn));
        for (int i = 0; i < screen_number && it.rem; i++)
                xcb_screen_next(&it);
        g->screen = it.data;
        if (!g->screen)
                return log_error_errno(ENODEV, "No X screen %d", screen_number);

        xcb_shm_query_version_reply_t *shm = xcb_shm_query_version_reply(g->conn, xcb_shm_query_version(g->conn),
                                                                         NULL);
        bool fd_passing = shm && (shm->major_version > 1 || shm->minor_version >= 2);
        free(shm);
        if (!fd_passing)
                return log_error_errno(EOPNOTSUPP, "The X server lacks MIT-SHM 1.2 (fd passing)");

        g->gc = xcb_generate_id(g->conn);
        xcb_create_gc(g->conn, g->gc, g->screen->root, 0, NULL);
        g->atom_vmname = intern(g->conn, "_QUBES_VMNAME");
        g->atom_label_color = intern(g->conn, "_QUBES_LABEL_COLOR");
        g->atom_vmwindowid = intern(g->conn, "_QUBES_VMWINDOWID");
        g->atom_net_wm_name = intern(g->conn, "_NET_WM_NAME");
        g->atom_utf8_string = intern(g->conn, "UTF8_STRING");
        g->atom_wm_protocols = intern(g->conn, "WM_PROTOCOLS");
        g->atom_wm_delete = intern(g->conn, "WM_DELETE_WINDOW");
        g->key_c = keycode_of(g, 'c');
        g->key_v = keycode_of(g, 'v');
        return 0;
}

struct guid_window *guid_window_find(struct guid *g, uint32_t agent_id) {
        for (struct guid_window *w = g->windows; w; w = w->next)
                if (w->agent_id == agent_id)
                        return w;
        return NULL;
}

struct guid_window *guid_window_by_xid(struct guid *g, xcb_window_t xid) {
        for (struct guid_window *w = g->windows; w; w = w->next)
                if (w->xid == xid)
                        return w;
        return NULL;
}

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

/* Sizes within the protocol's maxima and at least 1; the whole framed
 * window kept on the screen (a window larger than the screen starts at 0). */
static void clamp_geometry(struct guid *g, int32_t *x, int32_t *y, uint32_t *width, uint32_t *height) {
        int32_t sw = g->screen->width_in_pixels, sh = g->screen->height_in_pixels;

        /* no larger than the screen, so all four sides of the frame show */
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
static bool too_big_for_override_redirect(struct guid *g, uint32_t width, uint32_t height) {
        uint64_t screen = (uint64_t) g->screen->width_in_pixels * g->screen->height_in_pixels;
        uint64_t covered = (uint64_t) (width < g->screen->width_in_pixels ? width : g->screen->width_in_pixels) *
                           (height < g->screen->height_in_pixels ? height : g->screen->height_in_pixels);
        return covered * 10 > screen * 9;
}

static void set_string(struct guid *g, xcb_window_t xid, xcb_atom_t prop, xcb_atom_t type, const char *s,
                       size_t len) {
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, xid, prop, type, 8, (uint32_t) len, s);
}

static void set_class(struct guid *g, struct guid_window *w, const char *res_name, const char *res_class) {
        char buf[2 * (GUI_CLASS_SIZE + 256)];
        int n = snprintf(buf, sizeof(buf), "%s:%s%c%s:%s", g->cfg.domain, res_name, '\0', g->cfg.domain,
                         res_class);
        if (n > 0 && (size_t) n < sizeof(buf))
                set_string(g, w->xid, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, buf, (size_t) n + 1);
}

static void set_title(struct guid *g, struct guid_window *w, const char *title) {
        char buf[GUI_TITLE_SIZE + 256];
        int n = snprintf(buf, sizeof(buf), "[%s] %s", g->cfg.domain, title);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return;
        set_string(g, w->xid, XCB_ATOM_WM_NAME,
                   g->cfg.allow_utf8_titles ? g->atom_utf8_string : XCB_ATOM_STRING, buf, (size_t) n);
        set_string(g, w->xid, g->atom_net_wm_name, g->atom_utf8_string, buf, (size_t) n);
        set_string(g, w->xid, XCB_ATOM_WM_ICON_NAME, XCB_ATOM_STRING, buf, (size_t) n);
}

static void apply_override_redirect(struct guid *g, struct guid_window *w) {
        uint32_t value = w->override_redirect;
        xcb_change_window_attributes(g->conn, w->xid, XCB_CW_OVERRIDE_REDIRECT, &value);
}

static void move_resize(struct guid *g, struct guid_window *w) {
        uint32_t values[] = { (uint32_t) (w->x - B), (uint32_t) (w->y - B), w->width + 2 * B, w->height + 2 * B };
        xcb_configure_window(g->conn, w->xid,
                             XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y | XCB_CONFIG_WINDOW_WIDTH |
                             XCB_CONFIG_WINDOW_HEIGHT, values);
}

/* The agent learns the geometry guid settled on when it differs from its request. */
static int tell_geometry(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width,
                         uint32_t height) {
        if (x == w->x && y == w->y && width == w->width && height == w->height)
                return 0;
        struct gui_msg m = { .type = GUI_MSG_CONFIGURE, .window = w->agent_id };
        m.u.configure.x = w->x;
        m.u.configure.y = w->y;
        m.u.configure.width = w->width;
        m.u.configure.height = w->height;
        m.u.configure.override_redirect = w->override_redirect;
        return guid_agent_send(g, &m);
}

static int handle_create(struct guid *g, const struct gui_msg *m) {
        if (guid_window_find(g, m->window) || m->window == 0)
                return log_error_errno(EBADMSG, "%s created window 0x%x twice (or id 0); closing.",
                                       g->cfg.domain, m->window);
        _cleanup_free_ struct guid_window *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->agent_id = m->window;
        w->x = m->u.create.x;
        w->y = m->u.create.y;
        w->width = m->u.create.width;
        w->height = m->u.create.height;
        clamp_geometry(g, &w->x, &w->y, &w->width, &w->height);
        w->override_redirect = m->u.create.override_redirect != 0 &&
                               !too_big_for_override_redirect(g, w->width, w->height);

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
        uint32_t color = g->cfg.label_color, id = w->agent_id;
        set_string(g, w->xid, g->atom_vmname, XCB_ATOM_STRING, g->cfg.domain, strlen(g->cfg.domain));
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, w->xid, g->atom_label_color, XCB_ATOM_CARDINAL, 32, 1,
                            &color);
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, w->xid, g->atom_vmwindowid, XCB_ATOM_CARDINAL, 32, 1,
                            &id);
        xcb_change_property(g->conn, XCB_PROP_MODE_REPLACE, w->xid, g->atom_wm_protocols, XCB_ATOM_ATOM, 32, 1,
                            &g->atom_wm_delete);
        set_title(g, w, "");
        set_class(g, w, "", "");

        w->next = g->windows;
        g->windows = w;
        return tell_geometry(g, TAKE_PTR(w), m->u.create.x, m->u.create.y, m->u.create.width,
                             m->u.create.height);
}

static void window_release_buffer(struct guid *g, struct guid_window *w) {
        if (w->seg) {
                xcb_shm_detach(g->conn, w->seg);
                w->seg = 0;
        }
        w->buf_width = w->buf_height = 0;
}

static void window_destroy(struct guid *g, struct guid_window *w) {
        for (struct guid_window **p = &g->windows; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        if (g->focused == w)
                g->focused = NULL;
        window_release_buffer(g, w);
        xcb_destroy_window(g->conn, w->xid);
        free(w);
}

void guid_windows_free(struct guid *g) {
        while (g->windows)
                window_destroy(g, g->windows);
}

/* The memfd of a GUI_DUMP_MEMFD dump: the agent sent it on the side
 * channel before the dump message, so it is already queued. */
static int receive_memfd(struct guid *g, uint32_t window, uint64_t need) {
        uint8_t untrusted_id[4];
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = { .iov_base = untrusted_id, .iov_len = sizeof(untrusted_id) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        _cleanup_close_ int fd = -1;

        ssize_t n = recvmsg(g->shm_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return log_error_errno(errno == EAGAIN ? EBADMSG : errno,
                                       "%s announced a window buffer it did not pass: %m", g->cfg.domain);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        int fds[4];
                        memcpy(fds, CMSG_DATA(c), count * sizeof(int));
                        for (size_t i = 0; i < count; i++) {
                                if (fd < 0 && i == 0)
                                        fd = fds[i];
                                else
                                        close(fds[i]);
                        }
                }
        if (n != sizeof(untrusted_id) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fd < 0 ||
            le32_load(untrusted_id) != window)
                return log_error_errno(EBADMSG, "%s passed a malformed window buffer; closing.", g->cfg.domain);

        /* A sealed regular file at least as large as the image: it can
         * neither shrink under the X server (SIGBUS) nor be a device. */
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        int seals = fcntl(fd, F_GET_SEALS);
        if (!S_ISREG(st.st_mode) || seals < 0 || !(seals & F_SEAL_SHRINK) || (uint64_t) st.st_size < need)
                return log_error_errno(EBADMSG, "%s passed an unusable window buffer (size %lld, seals 0x%x); "
                                       "closing.", g->cfg.domain, (long long) st.st_size, seals);
        return TAKE_FD(fd);
}

static int handle_dump(struct guid *g, struct guid_window *w, const struct gui_msg *m) {
        if (m->u.dump.type != GUI_DUMP_MEMFD)
                return log_error_errno(EBADMSG, "%s sent a window dump this backend cannot map; closing.",
                                       g->cfg.domain);
        uint64_t need = (uint64_t) m->u.dump.width * m->u.dump.height * 4;
        int fd = receive_memfd(g, m->window, need);
        if (fd < 0)
                return fd;
        window_release_buffer(g, w);
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
        w->buf_width = m->u.dump.width;
        w->buf_height = m->u.dump.height;
        struct gui_msg ack = { .type = GUI_MSG_WINDOW_DUMP_ACK, .window = m->window };
        return guid_agent_send(g, &ack);
}

int guid_window_repaint(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width,
                        uint32_t height) {
        if (!w->seg || x < 0 || y < 0)
                return 0;
        /* Clip to the buffer and to the content area: never onto the frame. */
        uint32_t limit_w = w->buf_width < w->width ? w->buf_width : w->width;
        uint32_t limit_h = w->buf_height < w->height ? w->buf_height : w->height;
        if ((uint32_t) x >= limit_w || (uint32_t) y >= limit_h)
                return 0;
        if (width > limit_w - (uint32_t) x)
                width = limit_w - (uint32_t) x;
        if (height > limit_h - (uint32_t) y)
                height = limit_h - (uint32_t) y;
        if (width == 0 || height == 0)
                return 0;
        xcb_shm_put_image(g->conn, w->xid, g->gc, (uint16_t) w->buf_width, (uint16_t) w->buf_height,
                          (uint16_t) x, (uint16_t) y, (uint16_t) width, (uint16_t) height, (int16_t) (x + B),
                          (int16_t) (y + B), g->screen->root_depth, XCB_IMAGE_FORMAT_Z_PIXMAP, 0, w->seg, 0);
        return 0;
}

static int handle_window_message(struct guid *g, struct guid_window *w, const struct gui_msg *m) {
        switch (m->type) {
        case GUI_MSG_DESTROY: {
                window_destroy(g, w);
                struct gui_msg ack = { .type = GUI_MSG_DESTROY, .window = m->window };
                return guid_agent_send(g, &ack);
        }
        case GUI_MSG_MAP:
                if (w->mapped)
                        return 0;
                w->mapped = true;
                xcb_map_window(g->conn, w->xid);
                return 0;
        case GUI_MSG_UNMAP:
                if (w->mapped)
                        xcb_unmap_window(g->conn, w->xid);
                w->mapped = false;
                return 0;
        case GUI_MSG_CONFIGURE: {
                int32_t x = m->u.configure.x, y = m->u.configure.y;
                uint32_t width = m->u.configure.width, height = m->u.configure.height;
                if (width == 0 || height == 0)
                        return log_error_errno(EBADMSG, "%s configured a window to size 0; closing.",
                                               g->cfg.domain);
                clamp_geometry(g, &x, &y, &width, &height);
                /* the override-redirect flag is fixed once created (QSB-072);
                 * growing past 90% of the screen loses it */
                if (w->override_redirect && too_big_for_override_redirect(g, width, height)) {
                        w->override_redirect = false;
                        if (w->mapped)
                                xcb_unmap_window(g->conn, w->xid);
                        apply_override_redirect(g, w);
                        if (w->mapped)
                                xcb_map_window(g->conn, w->xid);
                }
                w->x = x, w->y = y, w->width = width, w->height = height;
                move_resize(g, w);
                return tell_geometry(g, w, m->u.configure.x, m->u.configure.y, m->u.configure.width,
                                     m->u.configure.height);
        }
        case GUI_MSG_SHMIMAGE:
                if (!w->mapped)
                        return 0;
                return guid_window_repaint(g, w, m->u.shmimage.x, m->u.shmimage.y, m->u.shmimage.width,
                                           m->u.shmimage.height);
        case GUI_MSG_WMNAME: {
                char title[GUI_TITLE_SIZE];
                gui_sanitize_title(m->u.title, g->cfg.allow_utf8_titles, title);
                set_title(g, w, title);
                return 0;
        }
        case GUI_MSG_WMCLASS: {
                char res_class[GUI_CLASS_SIZE], res_name[GUI_CLASS_SIZE];
                if (w->mapped)          /* ICCCM: only while withdrawn */
                        return 0;
                gui_sanitize_class(m->u.wmclass.res_class, res_class);
                gui_sanitize_class(m->u.wmclass.res_name, res_name);
                set_class(g, w, res_name, res_class);
                return 0;
        }
        case GUI_MSG_WINDOW_DUMP:
                return handle_dump(g, w, m);
        case GUI_MSG_WINDOW_FLAGS:
                if (m->u.flags.set & m->u.flags.unset)
                        return log_error_errno(EBADMSG, "%s set and unset the same window flag; closing.",
                                               g->cfg.domain);
                /* only these may change; fullscreen is not honoured (it could
                 * hide the frames), minimize only recorded */
                w->flags |= m->u.flags.set & (GUI_FLAG_DEMANDS_ATTENTION | GUI_FLAG_MINIMIZE);
                w->flags &= ~(m->u.flags.unset & (GUI_FLAG_FULLSCREEN | GUI_FLAG_DEMANDS_ATTENTION));
                return 0;
        case GUI_MSG_WINDOW_HINTS:
        case GUI_MSG_DOCK:
                return 0;       /* accepted, not used: no window manager contract yet */
        case GUI_MSG_CURSOR:
                if (m->u.cursor.cursor != GUI_CURSOR_DEFAULT &&
                    (m->u.cursor.cursor < GUI_CURSOR_X11 || m->u.cursor.cursor >= GUI_CURSOR_X11_MAX))
                        return log_error_errno(EBADMSG, "%s asked for cursor 0x%x; closing.", g->cfg.domain,
                                               m->u.cursor.cursor);
                return 0;
        default:
                return log_error_errno(EBADMSG, "%s sent an unexpected %s; closing.", g->cfg.domain,
                                       gui_msg_type_to_string(m->type));
        }
}

int guid_handle_agent_message(struct guid *g, const struct gui_msg *untrusted_msg) {
        switch (untrusted_msg->type) {
        case GUI_MSG_CREATE:
                return handle_create(g, untrusted_msg);
        case GUI_MSG_CLIPBOARD_DATA:
                return guid_clipboard_received(g, untrusted_msg->data, untrusted_msg->data_len);
        default: {
                struct guid_window *w = guid_window_find(g, untrusted_msg->window);
                if (!w)
                        return log_error_errno(EBADMSG, "%s sent %s for unknown window 0x%x; closing.",
                                               g->cfg.domain, gui_msg_type_to_string(untrusted_msg->type),
                                               untrusted_msg->window);
                return handle_window_message(g, w, untrusted_msg);
        }
        }
}
