/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A scripted (and, on request, hostile) GUI agent for guid's tests: it
 * serves vchan port 6000 and the pixel side channel in DIR as domain DOMID,
 * plays one scenario, then prints every message guid sends, one line each,
 * until guid closes the channel.
 *
 *   gui-fake-agent DIR DOMID SCENARIO [FILL 0xRRGGBB] [CLIPBOARD-TEXT|@SIZE]
 *
 * Scenarios: normal, or-fullscreen, offscreen, oversize, title-escapes,
 * flood, bad-length, unknown-window, double-create, huge-dump, unsealed,
 * clipboard-header-bomb, bad-flags, window-flood, pixel-flood, paint-flood
 * (a click on its window starts 50,000 full-window repaints); with the
 * shared screen (1.9): screen (a window painted from it), screen-unsealed,
 * screen-small, screen-bad-stride, screen-bad-offset, screen-outside-screen,
 * screen-outside-window.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gui.h"
#include "util.h"
#include "vchan.h"

#define WIN 0x400001u

static struct vchan *chan;
static int shm_listen = -1, shm_fd = -1;
static const char *clipboard_text = "fake clipboard";

static void die(const char *what, int r) {
        fprintf(stderr, "gui-fake-agent: %s: %s\n", what, strerror(-r));
        exit(2);
}

static void put(const void *buf, size_t n) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t w = vchan_write(chan, p, n);
                if (w <= 0)
                        exit(0);        /* guid went away: that is what some scenarios expect */
                p += w;
                n -= (size_t) w;
        }
}

static void get(void *buf, size_t n) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t r = vchan_read(chan, p, n);
                if (r <= 0) {
                        printf("EOF\n");
                        fflush(stdout);
                        exit(0);
                }
                p += r;
                n -= (size_t) r;
        }
}

static void send_msg(const struct gui_msg *m) {
        static uint8_t buf[GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX];
        int n = gui_encode(m, buf, sizeof(buf));
        if (n < 0)
                die("encode", n);
        put(buf, (size_t) n);
}

static void send_words(uint32_t type, uint32_t window, unsigned count, const uint32_t *words) {
        struct gui_msg m = { .type = type, .window = window };
        if (count)
                memcpy(m.u.words, words, count * 4);
        send_msg(&m);
}

static void create(uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h, uint32_t override_redirect) {
        uint32_t words[] = { (uint32_t) x, (uint32_t) y, w, h, 0, override_redirect };
        send_words(GUI_MSG_CREATE, window, 6, words);
}

static void send_fd(uint32_t window, int fd) {
        uint8_t id[4];

        le32_store(id, window);
        ssize_t n = send_with_fd(shm_fd, id, sizeof(id), 0, fd);
        if (n < 0)
                die("sendmsg", (int) n);
}

/* A memfd of size bytes, 32-bit words of color from offset on, sealed
 * against shrinking (and growing) unless told otherwise. */
static int filled_memfd(size_t size, size_t offset, uint32_t color, bool seal) {
        int fd = memfd_create("fake-pixels", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
                die("memfd", -errno);
        uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                die("mmap", -errno);
        for (size_t i = offset; i + 4 <= size; i += 4)
                memcpy(p + i, &color, 4);
        munmap(p, size);
        if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                die("seal", -errno);
        return fd;
}

/* A window buffer filled with one color, sealed unless told otherwise. */
static void dump(uint32_t window, uint32_t w, uint32_t h, uint32_t color, bool seal) {
        int fd = filled_memfd((size_t) w * h * 4, 0, color, seal);
        send_fd(window, fd);
        close(fd);
        uint32_t words[] = { GUI_DUMP_MEMFD, w, h, 32 };
        send_words(GUI_MSG_WINDOW_DUMP, window, 4, words);
}

/* A sealed buffer of w x h pixels never written: it costs no memory. */
static void sparse_dump(uint32_t window, uint32_t w, uint32_t h) {
        int fd = memfd_create("fake-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t) w * h * 4) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                die("memfd", -errno);
        send_fd(window, fd);
        close(fd);
        uint32_t words[] = { GUI_DUMP_MEMFD, w, h, 32 };
        send_words(GUI_MSG_WINDOW_DUMP, window, 4, words);
}

static struct gui_xconf xconf;

/* The shared screen: guid's size, filled with one color; its memfd holds
 * size bytes (0: offset + stride x height), sealed unless told otherwise. */
static void screen(uint32_t stride, uint32_t offset, size_t size, uint32_t color, bool seal) {
        if (!size)
                size = (size_t) offset + (size_t) stride * xconf.h;
        int fd = filled_memfd(size, offset, color, seal);
        send_fd(0, fd);
        close(fd);
        uint32_t words[] = { xconf.w, xconf.h, stride, offset };
        send_words(GUI_MSG_SCREEN_BUFFER, 0, 4, words);
}

/* A window of w x h at (x, y) whose pixels are in the shared screen. */
static void show_direct(uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h) {
        create(window, x, y, w, h, 0);
        uint32_t map[] = { 0, 0 };
        send_words(GUI_MSG_MAP, window, 2, map);
        uint32_t rect[] = { 0, 0, w, h, (uint32_t) x, (uint32_t) y };
        send_words(GUI_MSG_SCREEN_IMAGE, window, 6, rect);
}

static void title(uint32_t window, const char *t) {
        struct gui_msg m = { .type = GUI_MSG_WMNAME, .window = window };
        strncpy(m.u.title, t, sizeof(m.u.title));
        send_msg(&m);
}

static void wmclass(uint32_t window, const char *res_class, const char *res_name) {
        struct gui_msg m = { .type = GUI_MSG_WMCLASS, .window = window };
        strncpy(m.u.wmclass.res_class, res_class, GUI_CLASS_SIZE);
        strncpy(m.u.wmclass.res_name, res_name, GUI_CLASS_SIZE);
        send_msg(&m);
}

static void show(uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h, uint32_t fill, uint32_t or) {
        create(window, x, y, w, h, or);
        wmclass(window, "FakeTerm", "faketerm");
        title(window, "fake window");
        dump(window, w, h, fill, true);
        uint32_t map[] = { 0, or };
        send_words(GUI_MSG_MAP, window, 2, map);
        uint32_t rect[] = { 0, 0, w, h };
        send_words(GUI_MSG_SHMIMAGE, window, 4, rect);
}

static bool read_msg(struct gui_msg *m);

/* Skips what guid sends until a button press. */
static void wait_click(void) {
        struct gui_msg m;
        while (read_msg(&m))
                if (m.type == GUI_MSG_BUTTON && m.u.button.type == 4)
                        return;
        exit(3);
}

static void play(const char *scenario, uint32_t fill, uint32_t domid) {
        if (strcmp(scenario, "normal") == 0) {
                /* side by side per domain, so windows do not hide each other */
                show(WIN, 100 + (int32_t) (domid % 4) * 260, 80 + (int32_t) (domid / 4 % 4) * 200, 200, 120, fill, 0);
        } else if (strcmp(scenario, "or-fullscreen") == 0) {
                show(WIN, 0, 0, 4000, 4000, fill, 1);
        } else if (strcmp(scenario, "offscreen") == 0) {
                show(WIN, -5000, 9000, 100, 50, fill, 1);
        } else if (strcmp(scenario, "oversize") == 0) {
                /* sizes beyond the maxima and "negative" ones are clamped */
                show(WIN, 10, 10, 100, 100, fill, 0);
                uint32_t conf[] = { (uint32_t) -20, (uint32_t) -20, 0xfffffff0u, 0x80000000u, 0 };
                send_words(GUI_MSG_CONFIGURE, WIN, 5, conf);
        } else if (strcmp(scenario, "title-escapes") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                title(WIN, "evil\x1b]0;root\x07 \xc3\x28 \xe2\x80\xae end");
        } else if (strcmp(scenario, "flood") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                for (int i = 0; i < 20000; i++) {
                        uint32_t rect[] = { 0, 0, 100, 100 };
                        send_words(GUI_MSG_SHMIMAGE, WIN, 4, rect);
                        title(WIN, i % 2 ? "flood a" : "flood b");
                }
                title(WIN, "flood done");
        } else if (strcmp(scenario, "paint-flood") == 0) {
                /* damage far faster than any X server copies */
                show(WIN, 50, 50, 400, 300, fill, 0);
                wait_click();
                for (int i = 0; i < 50000; i++) {
                        uint32_t rect[] = { 0, 0, 400, 300 };
                        send_words(GUI_MSG_SHMIMAGE, WIN, 4, rect);
                }
                title(WIN, "paint-flood done");
        } else if (strcmp(scenario, "bad-length") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                uint8_t hdr[GUI_HEADER_SIZE + 23] = { 0 };
                le32_store(hdr, GUI_MSG_CREATE);
                le32_store(hdr + 4, WIN + 1);
                le32_store(hdr + 8, 23);
                put(hdr, sizeof(hdr));
        } else if (strcmp(scenario, "unknown-window") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                send_words(GUI_MSG_UNMAP, 0x12345, 0, NULL);
        } else if (strcmp(scenario, "double-create") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                create(WIN, 0, 0, 10, 10, 0);
        } else if (strcmp(scenario, "huge-dump") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                uint32_t words[] = { GUI_DUMP_MEMFD, GUI_MAX_WINDOW_WIDTH + 1, 10, 32 };
                send_words(GUI_MSG_WINDOW_DUMP, WIN, 4, words);
        } else if (strcmp(scenario, "unsealed") == 0) {
                create(WIN, 50, 50, 100, 100, 0);
                dump(WIN, 100, 100, fill, false);
        } else if (strcmp(scenario, "clipboard-header-bomb") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                uint8_t hdr[GUI_HEADER_SIZE];
                le32_store(hdr, GUI_MSG_CLIPBOARD_DATA);
                le32_store(hdr + 4, WIN);
                le32_store(hdr + 8, 0x7fffffff);
                put(hdr, sizeof(hdr));
        } else if (strcmp(scenario, "window-flood") == 0) {
                /* windows without end: guid stops at its limit */
                show(WIN, 50, 50, 100, 100, fill, 0);
                for (uint32_t i = 1; i <= 100000; i++)
                        create(WIN + i, 50 + (int32_t) (i % 500), 50 + (int32_t) (i % 400), 10, 10, 0);
        } else if (strcmp(scenario, "pixel-flood") == 0) {
                /* half-largest buffers (192 MiB, sparse: nothing is touched) without end */
                show(WIN, 50, 50, 100, 100, fill, 0);
                for (uint32_t i = 1; i <= 64; i++) {
                        create(WIN + i, 50, 50, 100, 100, 0);
                        sparse_dump(WIN + i, GUI_MAX_WINDOW_WIDTH / 2, GUI_MAX_WINDOW_HEIGHT);
                }
        } else if (strcmp(scenario, "screen") == 0) {
                screen(xconf.w * 4, 3232, 0, fill, true);
                show_direct(WIN, 100 + (int32_t) (domid % 4) * 260, 80 + (int32_t) (domid / 4 % 4) * 200, 200, 120);
                title(WIN, "direct window");
        } else if (strcmp(scenario, "screen-unsealed") == 0) {
                screen(xconf.w * 4, 0, 0, fill, false);
        } else if (strcmp(scenario, "screen-small") == 0) {
                screen(xconf.w * 4, 64, (size_t) xconf.w * 4 * xconf.h, fill, true);
        } else if (strcmp(scenario, "screen-bad-stride") == 0) {
                screen(xconf.w * 4 - 4, 0, 0, fill, true);
        } else if (strcmp(scenario, "screen-bad-offset") == 0) {
                screen(xconf.w * 4, 2, 0, fill, true);
        } else if (strcmp(scenario, "screen-outside-screen") == 0) {
                screen(xconf.w * 4, 0, 0, fill, true);
                show_direct(WIN, 50, 50, 100, 100);
                uint32_t rect[] = { 0, 0, 100, 100, xconf.w - 99, 50 };
                send_words(GUI_MSG_SCREEN_IMAGE, WIN, 6, rect);
        } else if (strcmp(scenario, "screen-outside-window") == 0) {
                screen(xconf.w * 4, 0, 0, fill, true);
                show_direct(WIN, 50, 50, 100, 100);
                uint32_t rect[] = { 50, 0, 51, 100, 50, 50 };
                send_words(GUI_MSG_SCREEN_IMAGE, WIN, 6, rect);
        } else if (strcmp(scenario, "bad-flags") == 0) {
                show(WIN, 50, 50, 100, 100, fill, 0);
                uint32_t flags[] = { GUI_FLAG_FULLSCREEN, GUI_FLAG_FULLSCREEN };
                send_words(GUI_MSG_WINDOW_FLAGS, WIN, 2, flags);
        } else {
                fprintf(stderr, "gui-fake-agent: unknown scenario %s\n", scenario);
                exit(2);
        }
}

static void answer_clipboard(uint32_t window) {
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_DATA, .window = window };
        _cleanup_free_ uint8_t *big = NULL;
        if (clipboard_text[0] == '@') {
                size_t n = strtoul(clipboard_text + 1, NULL, 10);
                big = malloc(n ? n : 1);
                memset(big, 'B', n);
                m.data = big;
                m.data_len = n;
        } else {
                m.data = (const uint8_t *) clipboard_text;
                m.data_len = strlen(clipboard_text);
        }
        send_msg(&m);
}

/* One message from guid: false when it sent something malformed (said). */
static bool read_msg(struct gui_msg *m) {
        static uint8_t body[GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX];
        uint8_t hbuf[GUI_HEADER_SIZE];
        struct gui_header h;
        get(hbuf, sizeof(hbuf));
        gui_decode_header(hbuf, &h);
        if (gui_check_header(&h, GUI_FROM_DAEMON) < 0) {
                printf("BAD-HEADER %u %u\n", h.type, h.untrusted_len);
                return false;
        }
        get(body, h.untrusted_len);
        if (gui_decode_body(&h, body, h.untrusted_len, m) < 0) {
                printf("BAD-BODY %u\n", h.type);
                return false;
        }
        return true;
}

static void print_messages(void) {
        for (;;) {
                struct gui_msg m;
                if (!read_msg(&m))
                        exit(3);
                switch (m.type) {
                case GUI_MSG_KEYPRESS:
                        printf("KEY %s %u state=0x%x\n", m.u.key.type == 2 ? "press" : "release", m.u.key.keycode,
                               m.u.key.state);
                        break;
                case GUI_MSG_BUTTON:
                        printf("BUTTON %s %u at %d,%d\n", m.u.button.type == 4 ? "press" : "release",
                               m.u.button.button, m.u.button.x, m.u.button.y);
                        break;
                case GUI_MSG_CLIPBOARD_REQ:
                        printf("CLIPBOARD_REQ\n");
                        answer_clipboard(m.window);
                        break;
                case GUI_MSG_CLIPBOARD_DATA:
                        printf("CLIPBOARD_DATA %zu %.*s\n", m.data_len, (int) (m.data_len < 64 ? m.data_len : 64),
                               (const char *) m.data);
                        break;
                default:
                        printf("%s 0x%x\n", gui_msg_type_to_string(m.type), m.window);
                        break;
                }
                fflush(stdout);
        }
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: gui-fake-agent DIR DOMID SCENARIO [FILL] [CLIPBOARD]\n");
                return 2;
        }
        uint32_t domid = (uint32_t) atoi(argv[2]);
        uint32_t fill = argc > 4 ? (uint32_t) strtoul(argv[4], NULL, 16) : 0xff0000;
        if (argc > 5)
                clipboard_text = argv[5];

        /* the pixel side channel first: guid connects to it after the vchan */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/gui-shm.%u.sock", argv[1], domid);
        unlink(sa.sun_path);
        shm_listen = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (shm_listen < 0 || bind(shm_listen, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(shm_listen, 1) < 0)
                die("side channel", -errno);

        struct vchan_endpoint ep = { .backend = VCHAN_SOCKET, .local_domid = (int) domid, .remote_domid = 0,
                                     .port = GUI_VCHAN_PORT, .socket_dir = argv[1] };
        int r = vchan_server_init(&ep, 0, 0, &chan);
        if (r < 0)
                die("vchan", r);
        printf("READY\n");
        fflush(stdout);
        vchan_set_blocking(chan, true);
        while (vchan_is_open(chan) == VCHAN_WAITING)
                if ((r = vchan_wait(chan)) < 0)
                        die("vchan wait", r);

        uint8_t buf[GUI_XCONF_SIZE];
        gui_encode_u32(buf, GUI_PROTOCOL_VERSION);
        put(buf, 4);
        get(buf, 4);
        if (gui_check_daemon_version(gui_decode_u32(buf)) < 0)
                die("daemon version", -EPROTONOSUPPORT);
        get(buf, GUI_XCONF_SIZE);
        gui_decode_xconf(buf, &xconf);
        printf("XCONF %ux%u depth %u\n", xconf.w, xconf.h, xconf.depth);
        fflush(stdout);
        shm_fd = accept4(shm_listen, NULL, NULL, SOCK_CLOEXEC);
        if (shm_fd < 0)
                die("accept", -errno);

        play(argv[3], fill, domid);
        print_messages();
        return 0;
}
