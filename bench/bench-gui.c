/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GUI throughput and latency: a 1920x1080 window in a domain's X server
 * (gui-agent's own Xvfb) shown by guid on an admin Xvfb, against a local
 * MIT-SHM client pushing the same frames straight to the same admin X
 * server, in the same run.
 *
 *   BENCH gui_fps_1080p N fps                  full-window updates per second
 *   BENCH gui_fps_local_1080p N fps            reaching the admin X server
 *   BENCH gui_fps_ratio_vs_local N ratio
 *   BENCH gui_fps_closed_loop_1080p N fps      one frame at a time
 *   BENCH gui_fps_closed_loop_local_1080p N fps
 *   BENCH gui_fps_closed_loop_ratio_vs_local N ratio
 *   BENCH gui_latency_ms_p50 N ms
 *
 * Throughput (gui_fps_*): a program draws full-window frames as fast as its
 * X server takes them, as a video player or a game does: it paints its
 * MIT-SHM buffer, puts it, and waits for the put's completion before
 * painting the buffer again (what any MIT-SHM client must do).  The same
 * thread code runs against the domain's X server and against the admin
 * one.  What is counted is the full-window updates the admin X server
 * gets, as DamageNotify events (raw rectangles) on the window shown there,
 * for HALF_ROUND_MS; an update through guid always shows a frame the
 * program drew since the last one (guid puts only on the agent's damage),
 * so frames coalesced on the way count once, and a round that counts more
 * updates than frames drawn fails.  At the end of each round the last frame
 * drawn must be on the admin screen.  Through guid the copy into the admin
 * X server runs beside the program's next frame, on another CPU.
 *
 * Closed loop (gui_fps_closed_loop_*): each frame is painted only once the
 * previous one is seen on the admin screen, so a frame through guid costs
 * the fill, the program's put into the domain's X server, the agent's and
 * guid's wake-ups and guid's put into the admin X server, one after the
 * other: at least two copies where the local client needs one.  On the
 * 2-vCPU VM of session 6 a 1080p fill took ~190 us and a copy ~240 us: with
 * no IPC at all this ratio could reach (190+240)/(190+2*240) = 0.64.
 * It is printed to show what latency-bound drawing gets, not as the goal.
 *
 * Waiting for a frame is event-driven and the same for both paths: a
 * DAMAGE object on the window shown on the admin display, and after each
 * DamageNotify covering the probe pixel, one GetImage of that pixel.
 * Latency: a 64x64 square changes in the domain's window, until the change
 * is on the admin screen.
 *
 * The two paths run in ROUNDS alternating pairs (the window under test
 * raised on the admin display), and each figure is the median over the
 * rounds, the ratio the median of each round's pair: one remote block then
 * one local block let the load of a busy machine (other work, CPU
 * frequency) move one side only and the ratio with it.
 *
 * Programs come from $ODYSSEY_BUILDDIR (default: the current directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/shm.h>
#include <X11/Xlib.h>
#include <X11/extensions/Xdamage.h>

#include "gui.h"
#include "util.h"

#define WIDTH 1920
#define HEIGHT 1080
#define ROUNDS 7
/* closed loop: frames per round */
#define FRAMES 40
/* throughput: each side's share of a round; short rounds were noisy */
#define HALF_ROUND_MS 500
#define WATCH_MS 5
#define LATENCY_SAMPLES 31
#define SQUARE 64
#define WAIT_USEC (10 * 1000000ull)

static pid_t children[4];
static unsigned n_children;

/* PID 1 may not reap: wait for our children ourselves. */
static void stop_children(void) {
        for (unsigned i = n_children; i > 0; i--)
                kill(children[i - 1], SIGTERM);
        for (unsigned i = n_children; i > 0; i--)
                (void) waitpid(children[i - 1], NULL, 0);
        n_children = 0;
}

static void die(const char *what) {
        fprintf(stderr, "bench-gui: %s\n", what);
        stop_children();
        exit(1);
}

static void spawn(char *const argv[]) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork failed");
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        children[n_children++] = pid;
}

static unsigned free_display(unsigned from) {
        for (unsigned d = from; d < from + 100; d++) {
                char sock[64], lock[64];
                snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%u", d);
                snprintf(lock, sizeof(lock), "/tmp/.X%u-lock", d);
                if (access(sock, F_OK) < 0 && access(lock, F_OK) < 0)
                        return d;
        }
        die("no free X display number");
        return 0;
}

static xcb_connection_t *connect_wait(const char *display) {
        uint64_t deadline = now_usec() + 30 * 1000000ull;
        while (now_usec() < deadline) {
                xcb_connection_t *c = xcb_connect(display, NULL);
                if (!xcb_connection_has_error(c))
                        return c;
                xcb_disconnect(c);
                usleep(50000);
        }
        die("an X server did not start");
        return NULL;
}

static xcb_screen_t *screen_of(xcb_connection_t *c) {
        return xcb_setup_roots_iterator(xcb_get_setup(c)).data;
}

/* A window of the given size with a memfd MIT-SHM buffer we paint into. */
struct canvas {
        xcb_connection_t *c;
        xcb_window_t window;
        xcb_gcontext_t gc;
        xcb_shm_seg_t seg;
        uint32_t *pixels;
};

static void canvas_open(struct canvas *cv, xcb_connection_t *c, const char *title) {
        xcb_screen_t *s = screen_of(c);
        size_t size = (size_t) WIDTH * HEIGHT * 4;
        cv->c = c;
        cv->window = xcb_generate_id(c);
        uint32_t values[] = { s->black_pixel };
        xcb_create_window(c, XCB_COPY_FROM_PARENT, cv->window, s->root, 0, 0, WIDTH, HEIGHT, 0,
                          XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, XCB_CW_BACK_PIXEL, values);
        xcb_change_property(c, XCB_PROP_MODE_REPLACE, cv->window, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
                            (uint32_t) strlen(title), title);
        cv->gc = xcb_generate_id(c);
        xcb_create_gc(c, cv->gc, cv->window, 0, NULL);
        int fd = memfd_create("bench-gui", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
                die("memfd failed");
        cv->pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (cv->pixels == MAP_FAILED)
                die("mmap failed");
        cv->seg = xcb_generate_id(c);
        xcb_generic_error_t *err = xcb_request_check(c, xcb_shm_attach_fd_checked(c, cv->seg, fd, 1));
        if (err)
                die("MIT-SHM attach refused");
        xcb_map_window(c, cv->window);
        xcb_flush(c);
}

/* Paint a rectangle of the buffer and put it; with completion, the X
 * server says when it has read the buffer (MIT-SHM CompletionNotify). */
static void canvas_put(struct canvas *cv, int x, int y, int width, int height, uint32_t color, bool completion) {
        for (int row = y; row < y + height; row++)
                for (int col = x; col < x + width; col++)
                        cv->pixels[row * WIDTH + col] = color;
        xcb_shm_put_image(cv->c, cv->window, cv->gc, WIDTH, HEIGHT, (uint16_t) x, (uint16_t) y, (uint16_t) width,
                          (uint16_t) height, (int16_t) x, (int16_t) y, 24, XCB_IMAGE_FORMAT_Z_PIXMAP, completion,
                          cv->seg, 0);
        xcb_flush(cv->c);
}

static void canvas_paint(struct canvas *cv, int x, int y, int width, int height, uint32_t color) {
        canvas_put(cv, x, y, width, height, color, false);
}

static uint32_t pixel_at(xcb_connection_t *c, xcb_window_t w, int x, int y) {
        xcb_get_image_reply_t *img = xcb_get_image_reply(
                c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, w, (int16_t) x, (int16_t) y, 1, 1, ~0u), NULL);
        uint32_t v = 0xdeadbeef;
        if (img && xcb_get_image_data_length(img) >= 4)
                memcpy(&v, xcb_get_image_data(img), 4);
        free(img);
        return v & 0xffffff;
}

/* DamageNotify of a window of the admin display, on an Xlib connection of its own. */
struct watch {
        Display *dpy;
        int damage_event;
        Damage damage;
};

static void watch_open(struct watch *wt, const char *display) {
        int error_base;
        wt->dpy = XOpenDisplay(display);
        if (!wt->dpy || !XDamageQueryExtension(wt->dpy, &wt->damage_event, &error_base))
                die("no DAMAGE on the admin display");
}

static void watch_window(struct watch *wt, xcb_window_t w) {
        if (wt->damage)
                XDamageDestroy(wt->dpy, wt->damage);
        wt->damage = XDamageCreate(wt->dpy, (Drawable) w, XDamageReportRawRectangles);
        XSync(wt->dpy, False);
        while (XPending(wt->dpy) > 0) {         /* nothing painted before counts */
                XEvent ev;
                XNextEvent(wt->dpy, &ev);
        }
}

/* Block until a DamageNotify covers (x, y); false at the deadline. */
static bool wait_damage(struct watch *wt, int x, int y, uint64_t deadline) {
        for (;;) {
                while (XPending(wt->dpy) > 0) {
                        XEvent ev;
                        XNextEvent(wt->dpy, &ev);
                        if (ev.type != wt->damage_event + XDamageNotify)
                                continue;
                        XRectangle *r = &((XDamageNotifyEvent *) &ev)->area;
                        if (x >= r->x && x < r->x + r->width && y >= r->y && y < r->y + r->height)
                                return true;
                }
                uint64_t now = now_usec();
                if (now > deadline)
                        return false;
                struct pollfd pfd = { .fd = ConnectionNumber(wt->dpy), .events = POLLIN };
                (void) poll(&pfd, 1, (int) ((deadline - now) / 1000 + 1));
                XEventsQueued(wt->dpy, QueuedAfterReading);
        }
}

/* Wait until (x, y) of window w on the admin display shows color: after
 * each damage there, look at the pixel. */
static void wait_color(struct watch *wt, xcb_connection_t *admin, xcb_window_t w, int x, int y, uint32_t color) {
        uint64_t deadline = now_usec() + WAIT_USEC;
        uint32_t seen;
        do {
                if (!wait_damage(wt, x, y, deadline)) {
                        fprintf(stderr, "bench-gui: (%d, %d) shows %06x, not %06x\n", x, y, pixel_at(admin, w, x, y),
                                color);
                        die("a frame never reached the admin display");
                }
                seen = pixel_at(admin, w, x, y);
        } while (seen != color);
}

static uint32_t frame_color(unsigned i) {
        return (0x10 + (i * 37) % 0xe0) << 16 | (0x20 + (i * 91) % 0xd0) << 8 | (0x30 + (i * 53) % 0xc0);
}

/* Full-window frames, each waited for at (probe_x, probe_y) of shown on admin. */
static double fps_closed_loop(struct watch *wt, struct canvas *cv, xcb_connection_t *admin, xcb_window_t shown, int offset,
                  unsigned round) {
        uint32_t stack_above[] = { XCB_STACK_MODE_ABOVE };
        xcb_configure_window(admin, shown, XCB_CONFIG_WINDOW_STACK_MODE, stack_above);
        xcb_flush(admin);
        watch_window(wt, shown);
        canvas_paint(cv, 0, 0, WIDTH, HEIGHT, 0x000001 + round);
        wait_color(wt, admin, shown, offset + WIDTH - 1, offset + HEIGHT - 1, 0x000001 + round);
        uint64_t start = now_usec();
        for (unsigned i = 0; i < FRAMES; i++) {
                uint32_t color = frame_color(round * FRAMES + i);
                canvas_paint(cv, 0, 0, WIDTH, HEIGHT, color);
                /* the last row's far corner: the whole frame is there */
                wait_color(wt, admin, shown, offset + WIDTH - 1, offset + HEIGHT - 1, color);
        }
        return FRAMES * 1e6 / (double) (now_usec() - start);
}


/* The drawing program of the throughput test, on a thread of its own with
 * the canvas's connection to itself. */
struct program {
        struct canvas *cv;
        unsigned first;                 /* frame_color() index of its first frame */
        uint8_t completion;             /* MIT-SHM CompletionNotify on cv->c */
        atomic_bool stop;
        unsigned frames;                /* drawn, each put and read by its X server */
        uint32_t last_color;
};

static void *program_run(void *userdata) {
        struct program *p = userdata;
        while (!atomic_load(&p->stop)) {
                uint32_t color = frame_color(p->first + p->frames);
                canvas_put(p->cv, 0, 0, WIDTH, HEIGHT, color, true);
                xcb_generic_event_t *ev;
                bool done = false;
                while (!done && (ev = xcb_wait_for_event(p->cv->c))) {
                        done = (ev->response_type & 0x7f) == p->completion;
                        free(ev);
                }
                if (!done)
                        break;          /* the X connection failed: the round's check says so */
                p->frames++;
                p->last_color = color;
        }
        return NULL;
}

/* Full-window updates per second of shown (the content at offset) while
 * the program draws into cv for HALF_ROUND_MS. */
static double fps_throughput(struct watch *wt, struct canvas *cv, xcb_connection_t *admin, xcb_window_t shown,
                             int offset, unsigned round) {
        uint32_t stack_above[] = { XCB_STACK_MODE_ABOVE };
        xcb_configure_window(admin, shown, XCB_CONFIG_WINDOW_STACK_MODE, stack_above);
        xcb_flush(admin);
        watch_window(wt, shown);
        int px = offset + WIDTH - 1, py = offset + HEIGHT - 1;
        canvas_paint(cv, 0, 0, WIDTH, HEIGHT, 0x000001 + round);
        wait_color(wt, admin, shown, px, py, 0x000001 + round);

        const xcb_query_extension_reply_t *shm = xcb_get_extension_data(cv->c, &xcb_shm_id);
        struct program p = { .cv = cv, .first = 100000 + round * 100000,
                             .completion = (uint8_t) (shm->first_event + XCB_SHM_COMPLETION) };
        unsigned updates = 0;
        pthread_t thread;
        uint64_t start = now_usec(), end = start + HALF_ROUND_MS * 1000ull;
        if (pthread_create(&thread, NULL, program_run, &p) != 0)
                die("no thread for the drawing program");
        for (uint64_t now = start; now < end; now = now_usec()) {
                if (XPending(wt->dpy) == 0) {
                        /* every WATCH_MS, not on every event: the counting
                         * must not take the CPU from what it counts */
                        (void) usleep(WATCH_MS * 1000);
                        XEventsQueued(wt->dpy, QueuedAfterReading);
                        continue;
                }
                XEvent ev;
                XNextEvent(wt->dpy, &ev);
                if (ev.type != wt->damage_event + XDamageNotify)
                        continue;
                XRectangle *r = &((XDamageNotifyEvent *) &ev)->area;
                if (r->x <= offset && r->y <= offset && r->x + r->width >= offset + WIDTH &&
                    r->y + r->height >= offset + HEIGHT)
                        updates++;
        }
        uint64_t elapsed = now_usec() - start;
        atomic_store(&p.stop, true);
        pthread_join(thread, NULL);
        if (p.frames == 0)
                die("the drawing program drew nothing");
        if (updates > p.frames)
                die("more updates counted than frames drawn");
        /* the last frame drawn gets there */
        if (pixel_at(admin, shown, px, py) != p.last_color)
                wait_color(wt, admin, shown, px, py, p.last_color);
        if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "  %u frames drawn, %u updates on the admin display\n", p.frames, updates);
        return updates * 1e6 / (double) elapsed;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double latency_p50(struct watch *wt, struct canvas *cv, xcb_connection_t *admin, xcb_window_t shown,
                          int offset) {
        double samples[LATENCY_SAMPLES];
        int x = WIDTH / 2, y = HEIGHT / 2;
        for (unsigned i = 0; i < LATENCY_SAMPLES; i++) {
                uint32_t color = frame_color(i + 1000);
                uint64_t start = now_usec();
                canvas_paint(cv, x, y, SQUARE, SQUARE, color);
                wait_color(wt, admin, shown, offset + x + SQUARE / 2, offset + y + SQUARE / 2, color);
                samples[i] = (double) (now_usec() - start) / 1000.0;
                usleep(5000);
        }
        return median(samples, LATENCY_SAMPLES);
}

/* guid's window for the domain: the one with _QUBES_VMNAME, viewable. */
static xcb_window_t find_guid_window(xcb_connection_t *admin) {
        xcb_intern_atom_reply_t *a = xcb_intern_atom_reply(admin, xcb_intern_atom(admin, 0, 13, "_QUBES_VMNAME"),
                                                           NULL);
        xcb_atom_t vmname = a ? a->atom : XCB_ATOM_NONE;
        free(a);
        uint64_t deadline = now_usec() + WAIT_USEC;
        while (now_usec() < deadline) {
                xcb_query_tree_reply_t *t = xcb_query_tree_reply(admin, xcb_query_tree(admin, screen_of(admin)->root),
                                                                 NULL);
                xcb_window_t *kids = t ? xcb_query_tree_children(t) : NULL;
                for (int i = 0; t && i < xcb_query_tree_children_length(t); i++) {
                        xcb_get_property_reply_t *p = xcb_get_property_reply(
                                admin, xcb_get_property(admin, 0, kids[i], vmname, XCB_ATOM_STRING, 0, 16), NULL);
                        xcb_get_window_attributes_reply_t *wa = xcb_get_window_attributes_reply(
                                admin, xcb_get_window_attributes(admin, kids[i]), NULL);
                        bool found = p && xcb_get_property_value_length(p) == 5 &&
                                     memcmp(xcb_get_property_value(p), "bench", 5) == 0 && wa &&
                                     wa->map_state == XCB_MAP_STATE_VIEWABLE;
                        xcb_window_t w = kids[i];
                        free(p);
                        free(wa);
                        if (found) {
                                free(t);
                                return w;
                        }
                }
                free(t);
                usleep(50000);
        }
        die("the domain's window did not appear on the admin display");
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        (void) remove(path);
        return 0;
}

int main(void) {
        const char *builddir = getenv("ODYSSEY_BUILDDIR") ?: ".";
        char tmp[] = "/tmp/bench-gui.XXXXXX", admin_display[16], domain_display[16], dn[16];
        _cleanup_free_ char *agent = NULL, *guid = NULL;

        if (!mkdtemp(tmp))
                die("mkdtemp failed");
        if (asprintf(&agent, "%s/agents/bin/gui-agent", builddir) < 0 ||
            asprintf(&guid, "%s/daemons/guid/guid", builddir) < 0)
                die("out of memory");
        atexit(stop_children);

        /* the admin screen: room for the 1080p window and guid's frame */
        unsigned a = free_display(171);
        snprintf(admin_display, sizeof(admin_display), ":%u", a);
        spawn((char *[]) { "Xvfb", admin_display, "-screen", "0", "1928x1088x24", "-nolisten", "tcp", NULL });
        xcb_connection_t *admin = connect_wait(admin_display);

        unsigned d = free_display(a + 1);
        snprintf(domain_display, sizeof(domain_display), ":%u", d);
        snprintf(dn, sizeof(dn), "%u", d);
        spawn((char *[]) { agent, "--vchan-dir", tmp, "--domid", "5", "--xvfb-display", dn, "--screen", "guid", NULL });
        spawn((char *[]) { guid, "--domain", "bench", "--domid", "5", "--label", "green", "--vchan-dir", tmp,
                           "--clipboard-dir", tmp, "--display", admin_display, NULL });
        xcb_connection_t *domain = connect_wait(domain_display);

        struct canvas remote, local;
        canvas_open(&remote, domain, "bench");
        xcb_window_t shown = find_guid_window(admin);
        struct watch wt = {};
        watch_open(&wt, admin_display);
        watch_window(&wt, shown);
        double latency = latency_p50(&wt, &remote, admin, shown, GUI_BORDER_WIDTH);

        canvas_open(&local, admin, "local");
        double remote_fps[ROUNDS], local_fps[ROUNDS], ratio[ROUNDS];
        double closed_remote[ROUNDS], closed_local[ROUNDS], closed_ratio[ROUNDS];
        for (unsigned r = 0; r < ROUNDS; r++) {
                remote_fps[r] = fps_throughput(&wt, &remote, admin, shown, GUI_BORDER_WIDTH, r);
                local_fps[r] = fps_throughput(&wt, &local, admin, local.window, 0, r);
                ratio[r] = remote_fps[r] / local_fps[r];
                closed_remote[r] = fps_closed_loop(&wt, &remote, admin, shown, GUI_BORDER_WIDTH, r);
                closed_local[r] = fps_closed_loop(&wt, &local, admin, local.window, 0, r);
                closed_ratio[r] = closed_remote[r] / closed_local[r];
                if (getenv("BENCH_VERBOSE"))
                        fprintf(stderr, "round %u: %.1f fps through guid, %.1f local (ratio %.3f); closed loop %.1f, "
                                "%.1f (%.3f)\n", r, remote_fps[r], local_fps[r], ratio[r], closed_remote[r],
                                closed_local[r], closed_ratio[r]);
        }

        printf("BENCH gui_fps_1080p %.1f fps\n", median(remote_fps, ROUNDS));
        printf("BENCH gui_fps_local_1080p %.1f fps\n", median(local_fps, ROUNDS));
        printf("BENCH gui_fps_ratio_vs_local %.3f ratio\n", median(ratio, ROUNDS));
        printf("BENCH gui_fps_closed_loop_1080p %.1f fps\n", median(closed_remote, ROUNDS));
        printf("BENCH gui_fps_closed_loop_local_1080p %.1f fps\n", median(closed_local, ROUNDS));
        printf("BENCH gui_fps_closed_loop_ratio_vs_local %.3f ratio\n", median(closed_ratio, ROUNDS));
        printf("BENCH gui_latency_ms_p50 %.2f ms\n", latency);
        XCloseDisplay(wt.dpy);
        stop_children();
        xcb_disconnect(domain);
        xcb_disconnect(admin);
        (void) nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 0;
}
