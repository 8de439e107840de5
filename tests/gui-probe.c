/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a user sees on the admin display, for the GUI tests:
 *   gui-probe find DOMAIN          wait (30 s: a loaded CI machine) for a viewable window of DOMAIN, print its id
 *   gui-probe info WIN             geometry, override-redirect, title, class, label color
 *   gui-probe frame WIN 0xRRGGBB   exit 0 iff the 2-px frame has exactly that color on all sides
 *   gui-probe pixel WIN X Y        the color at X,Y of the window (frame included)
 *   gui-probe count DOMAIN         number of windows of DOMAIN
 *   gui-probe same WIN DISPLAY X Y exit 0 iff WIN's interior (frame excluded) shows
 *                                  exactly the pixels at X,Y of DISPLAY's screen
 *   gui-probe titled DOMAIN TITLE  wait (30 s) for the viewable window "[DOMAIN] TITLE", print its id
 *   gui-probe paint TITLE X Y W H 0xRRGGBB
 *                                  a window of that geometry (a domain's program): 16x16
 *                                  cells of the color and the color ^ 0x202020 (cell (0,0)
 *                                  the color); a line on stdin with another color repaints
 *                                  it in that one; ends at EOF
 *   gui-probe updates WIN TITLE    count the X server's repaints of WIN (DAMAGE, raw
 *                                  rectangles): "counting" once it watches, then, once
 *                                  WIN's title is TITLE and half a second more has
 *                                  passed, the count; exit 1 after 60 s without TITLE
 *   gui-probe redirected WIN       (a domain's display) "yes" if the Composite extension
 *                                  redirects the viewable window WIN (it has a window
 *                                  pixmap), "no" if it does not; exit 0, or 2 when WIN
 *                                  is not viewable or Composite is missing
 * The display is $DISPLAY.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>
#include <X11/Xlib.h>
#include <X11/extensions/Xdamage.h>

static xcb_connection_t *c;
static xcb_screen_t *screen;

static xcb_atom_t atom(const char *name) {
        xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c, xcb_intern_atom(c, 0, (uint16_t) strlen(name), name),
                                                           NULL);
        xcb_atom_t a = r ? r->atom : 0;
        free(r);
        return a;
}

/* A property as a NUL-terminated string (NULs inside become '|'). */
static char *prop(xcb_window_t w, xcb_atom_t p) {
        xcb_get_property_reply_t *r = xcb_get_property_reply(
                c, xcb_get_property(c, 0, w, p, XCB_GET_PROPERTY_TYPE_ANY, 0, 1024), NULL);
        if (!r)
                return strdup("");
        int len = xcb_get_property_value_length(r);
        char *s = calloc(1, (size_t) len + 1);
        memcpy(s, xcb_get_property_value(r), (size_t) len);
        for (int i = 0; i < len; i++)
                if (s[i] == '\0')
                        s[i] = '|';
        if (len > 0 && s[len - 1] == '|')
                s[len - 1] = '\0';
        free(r);
        return s;
}

static void print_prop(const char *label, xcb_window_t w, xcb_atom_t p) {
        char *s = prop(w, p);
        printf("%s %s\n", label, s);
        free(s);
}

static uint32_t prop_u32(xcb_window_t w, xcb_atom_t p) {
        xcb_get_property_reply_t *r = xcb_get_property_reply(
                c, xcb_get_property(c, 0, w, p, XCB_ATOM_CARDINAL, 0, 1), NULL);
        uint32_t v = 0xffffffff;
        if (r && xcb_get_property_value_length(r) == 4)
                memcpy(&v, xcb_get_property_value(r), 4);
        free(r);
        return v;
}

static int windows_of(const char *domain, xcb_window_t *out, int max, bool viewable_only) {
        xcb_query_tree_reply_t *t = xcb_query_tree_reply(c, xcb_query_tree(c, screen->root), NULL);
        xcb_atom_t vmname = atom("_QUBES_VMNAME");
        int n = 0;
        if (!t)
                return 0;
        xcb_window_t *kids = xcb_query_tree_children(t);
        for (int i = 0; i < xcb_query_tree_children_length(t) && n < max; i++) {
                char *name = prop(kids[i], vmname);
                xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
                        c, xcb_get_window_attributes(c, kids[i]), NULL);
                if (strcmp(name, domain) == 0 && a && (!viewable_only || a->map_state == XCB_MAP_STATE_VIEWABLE))
                        out[n++] = kids[i];
                free(a);
                free(name);
        }
        free(t);
        return n;
}

static uint32_t pixel_at(xcb_window_t w, int x, int y) {
        xcb_get_image_reply_t *img = xcb_get_image_reply(
                c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, w, (int16_t) x, (int16_t) y, 1, 1, ~0u), NULL);
        uint32_t v = 0xdeadbeef;
        if (img && xcb_get_image_data_length(img) >= 4)
                memcpy(&v, xcb_get_image_data(img), 4);
        free(img);
        return v & 0xffffff;
}

static int frame(xcb_window_t w, uint32_t color) {
        xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c, xcb_get_geometry(c, w), NULL);
        if (!g)
                return 2;
        int W = g->width, H = g->height, bad = 0;
        xcb_get_image_reply_t *img = xcb_get_image_reply(
                c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, w, 0, 0, (uint16_t) W, (uint16_t) H, ~0u), NULL);
        if (!img || xcb_get_image_data_length(img) < W * H * 4) {
                fprintf(stderr, "cannot read the window's pixels\n");
                return 2;
        }
        const uint32_t *px = (const uint32_t *) xcb_get_image_data(img);
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        bool border = x < 2 || y < 2 || x >= W - 2 || y >= H - 2;
                        if (border && (px[y * W + x] & 0xffffff) != color) {
                                if (bad++ < 5)
                                        fprintf(stderr, "frame pixel %d,%d is %06x, not %06x\n", x, y,
                                                px[y * W + x] & 0xffffff, color);
                        }
                }
        free(img);
        free(g);
        return bad ? 1 : 0;
}

/* Width*height pixels of a drawable, NULL if unreadable. */
static xcb_get_image_reply_t *grab(xcb_connection_t *conn, xcb_drawable_t d, int x, int y, int width, int height) {
        xcb_get_image_reply_t *img = xcb_get_image_reply(
                conn, xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, d, (int16_t) x, (int16_t) y, (uint16_t) width,
                                    (uint16_t) height, ~0u), NULL);
        if (img && xcb_get_image_data_length(img) < width * height * 4) {
                free(img);
                img = NULL;
        }
        return img;
}

static int same(xcb_window_t w, const char *display, int x, int y) {
        xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c, xcb_get_geometry(c, w), NULL);
        xcb_connection_t *other = xcb_connect(display, NULL);
        if (!g || xcb_connection_has_error(other))
                return 2;
        int W = g->width - 4, H = g->height - 4, bad = 0;
        xcb_screen_t *other_screen = xcb_setup_roots_iterator(xcb_get_setup(other)).data;
        xcb_get_image_reply_t *mine = grab(c, w, 2, 2, W, H), *theirs = grab(other, other_screen->root, x, y, W, H);
        if (!mine || !theirs) {
                fprintf(stderr, "cannot read the pixels\n");
                return 2;
        }
        const uint32_t *a = (const uint32_t *) xcb_get_image_data(mine), *b = (const uint32_t *) xcb_get_image_data(theirs);
        for (int i = 0; i < W * H; i++)
                if ((a[i] & 0xffffff) != (b[i] & 0xffffff) && bad++ < 5)
                        fprintf(stderr, "pixel %d,%d is %06x, the domain shows %06x\n", i % W, i / W,
                                a[i] & 0xffffff, b[i] & 0xffffff);
        if (bad)
                fprintf(stderr, "%d of %d pixels differ\n", bad, W * H);
        free(mine);
        free(theirs);
        free(g);
        xcb_disconnect(other);
        return bad ? 1 : 0;
}

static void fill(xcb_window_t w, xcb_gcontext_t gc, int width, int height, uint32_t color) {
        xcb_rectangle_t all = { 0, 0, (uint16_t) width, (uint16_t) height };
        xcb_change_gc(c, gc, XCB_GC_FOREGROUND, &color);
        xcb_poly_fill_rectangle(c, w, gc, 1, &all);
        uint32_t odd = color ^ 0x202020;
        xcb_change_gc(c, gc, XCB_GC_FOREGROUND, &odd);
        for (int y = 0; y < height; y += 16)
                for (int x = (y / 16) % 2 ? 0 : 16; x < width; x += 32) {
                        xcb_rectangle_t r = { (int16_t) x, (int16_t) y, 16, 16 };
                        xcb_poly_fill_rectangle(c, w, gc, 1, &r);
                }
        xcb_flush(c);
}

static int paint(const char *title, int x, int y, int width, int height, uint32_t color) {
        xcb_window_t w = xcb_generate_id(c);
        uint32_t values[] = { XCB_EVENT_MASK_EXPOSURE };
        xcb_create_window(c, XCB_COPY_FROM_PARENT, w, screen->root, (int16_t) x, (int16_t) y, (uint16_t) width,
                          (uint16_t) height, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT, screen->root_visual,
                          XCB_CW_EVENT_MASK, values);
        xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
                            (uint32_t) strlen(title), title);
        xcb_gcontext_t gc = xcb_generate_id(c);
        xcb_create_gc(c, gc, w, 0, NULL);
        xcb_map_window(c, w);
        xcb_flush(c);
        for (;;) {
                xcb_generic_event_t *ev;
                while ((ev = xcb_poll_for_event(c))) {
                        if ((ev->response_type & 0x7f) == XCB_EXPOSE)
                                fill(w, gc, width, height, color);
                        free(ev);
                }
                if (xcb_connection_has_error(c))
                        return 1;
                struct pollfd fds[] = { { .fd = xcb_get_file_descriptor(c), .events = POLLIN },
                                        { .fd = STDIN_FILENO, .events = POLLIN } };
                if (poll(fds, 2, -1) < 0)
                        return 1;
                if (fds[1].revents) {
                        char line[32];
                        ssize_t n = read(STDIN_FILENO, line, sizeof(line) - 1);
                        if (n <= 0)
                                return 0;
                        line[n] = '\0';
                        color = (uint32_t) strtoul(line, NULL, 16);
                        fill(w, gc, width, height, color);
                }
        }
}

static int titled(const char *domain, const char *title) {
        char want[256];
        snprintf(want, sizeof(want), "[%s] %s", domain, title);
        for (int i = 0; i < 600; i++) {
                xcb_window_t w[64];
                int n = windows_of(domain, w, 64, true);
                for (int j = 0; j < n && j < 64; j++) {
                        char *t = prop(w[j], XCB_ATOM_WM_NAME);
                        bool found = strcmp(t, want) == 0;
                        free(t);
                        if (found) {
                                printf("0x%x\n", w[j]);
                                return 0;
                        }
                }
                usleep(50000);
        }
        return 1;
}

/* Composite without libxcb-composite (not a build dependency): its
 * NameWindowPixmap request (minor 6: window, pixmap) by hand.  The server
 * answers BadMatch for a viewable window that no client redirects, and
 * gives any client the pixmap of one that some client does. */
static xcb_extension_t composite_ext = { "Composite", 0 };
#define COMPOSITE_NAME_WINDOW_PIXMAP 6
#define X_BAD_MATCH 8

static int redirected(xcb_window_t w) {
        const xcb_query_extension_reply_t *ext = xcb_get_extension_data(c, &composite_ext);
        xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
                c, xcb_get_window_attributes(c, w), NULL);
        bool viewable = a && a->map_state == XCB_MAP_STATE_VIEWABLE;

        free(a);
        if (!ext || !ext->present || !viewable)
                return 2;
        struct {
                uint8_t major, minor;
                uint16_t length;
                uint32_t window, pixmap;
        } req = { .window = w, .pixmap = xcb_generate_id(c) };
        struct iovec parts[4] = { [2] = { &req, sizeof(req) } };        /* [3]: no padding; xcb uses [0..1] */
        xcb_protocol_request_t proto = {
                .count = 2, .ext = &composite_ext, .opcode = COMPOSITE_NAME_WINDOW_PIXMAP, .isvoid = 1,
        };
        xcb_void_cookie_t cookie = { xcb_send_request(c, XCB_REQUEST_CHECKED, parts + 2, &proto) };
        xcb_generic_error_t *e = xcb_request_check(c, cookie);

        if (!e) {
                xcb_free_pixmap(c, req.pixmap);
                printf("yes\n");
                return 0;
        }
        bool bad_match = e->error_code == X_BAD_MATCH;
        free(e);
        if (!bad_match)
                return 2;
        printf("no\n");
        return 0;
}


static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static bool has_title(xcb_window_t w, const char *title) {
        char *t = prop(w, XCB_ATOM_WM_NAME);
        bool same = t && strcmp(t, title) == 0;
        free(t);
        return same;
}

static int updates(xcb_window_t w, const char *title) {
        int damage_event, damage_error;
        Display *dpy = XOpenDisplay(NULL);
        if (!dpy || !XDamageQueryExtension(dpy, &damage_event, &damage_error))
                return 2;
        XSelectInput(dpy, w, PropertyChangeMask);
        (void) XDamageCreate(dpy, w, XDamageReportRawRectangles);
        XSync(dpy, False);
        printf("counting\n");
        fflush(stdout);
        unsigned count = 0;
        uint64_t deadline = now_ms() + 60000, end = 0;
        bool titled = has_title(w, title);
        if (titled)
                end = now_ms() + 500;
        for (;;) {
                while (XPending(dpy) > 0) {
                        XEvent ev;
                        XNextEvent(dpy, &ev);
                        if (ev.type == damage_event + XDamageNotify)
                                count++;
                        else if (ev.type == PropertyNotify && !titled && has_title(w, title)) {
                                titled = true;
                                end = now_ms() + 500;
                        }
                }
                uint64_t now = now_ms();
                if (titled && now >= end)
                        break;
                if (!titled && now >= deadline) {
                        XCloseDisplay(dpy);
                        return 1;
                }
                struct pollfd pfd = { .fd = ConnectionNumber(dpy), .events = POLLIN };
                (void) poll(&pfd, 1, (int) ((titled ? end : deadline) - now));
                XEventsQueued(dpy, QueuedAfterReading);
        }
        printf("%u\n", count);
        XCloseDisplay(dpy);
        return 0;
}

static int run(int argc, char **argv) {
        screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;

        if (strcmp(argv[1], "paint") == 0 && argc == 8)
                return paint(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                             (uint32_t) strtoul(argv[7], NULL, 16));
        if (strcmp(argv[1], "titled") == 0 && argc == 4)
                return titled(argv[2], argv[3]);

        if (strcmp(argv[1], "find") == 0) {
                xcb_window_t w;
                for (int i = 0; i < 600; i++) {
                        if (windows_of(argv[2], &w, 1, true) == 1) {
                                printf("0x%x\n", w);
                                return 0;
                        }
                        usleep(50000);
                }
                return 1;
        }
        if (strcmp(argv[1], "count") == 0) {
                xcb_window_t w[64];
                printf("%d\n", windows_of(argv[2], w, 64, false));
                return 0;
        }
        xcb_window_t w = (xcb_window_t) strtoul(argv[2], NULL, 0);
        if (strcmp(argv[1], "info") == 0) {
                xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c, xcb_get_geometry(c, w), NULL);
                xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
                        c, xcb_get_window_attributes(c, w), NULL);
                if (!g || !a)
                        return 1;
                printf("geometry %d %d %u %u\n", g->x, g->y, g->width, g->height);
                printf("screen %u %u\n", screen->width_in_pixels, screen->height_in_pixels);
                printf("override_redirect %u\n", a->override_redirect);
                print_prop("title", w, XCB_ATOM_WM_NAME);
                print_prop("class", w, XCB_ATOM_WM_CLASS);
                print_prop("vmname", w, atom("_QUBES_VMNAME"));
                printf("label 0x%06x\n", prop_u32(w, atom("_QUBES_LABEL_COLOR")));
                free(g);
                free(a);
                return 0;
        }
        if (strcmp(argv[1], "frame") == 0 && argc == 4)
                return frame(w, (uint32_t) strtoul(argv[3], NULL, 16));
        if (strcmp(argv[1], "pixel") == 0 && argc == 5) {
                printf("%06x\n", pixel_at(w, atoi(argv[3]), atoi(argv[4])));
                return 0;
        }
        if (strcmp(argv[1], "same") == 0 && argc == 6)
                return same(w, argv[3], atoi(argv[4]), atoi(argv[5]));
        if (strcmp(argv[1], "updates") == 0 && argc == 4)
                return updates(w, argv[3]);
        if (strcmp(argv[1], "redirected") == 0 && argc == 3)
                return redirected(w);
        return 2;
}

int main(int argc, char **argv) {
        if (argc < 3)
                return 2;
        c = xcb_connect(NULL, NULL);
        if (xcb_connection_has_error(c))
                return 2;
        int r = run(argc, argv);
        xcb_disconnect(c);
        return r;
}
