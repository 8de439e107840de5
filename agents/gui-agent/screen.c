/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain's screen in a memfd shared with guid.  Xvfb's -fbdir DIR
 * opens DIR/Xvfb_screen0 (O_CREAT|O_RDWR, no O_TRUNC), write()s its whole
 * size from offset 0 and maps it MAP_SHARED: an XWD header (big-endian
 * CARD32 fields), the colormap, then the pixels.  That name is a symlink to
 * /proc/self/fd/N, N a memfd Xvfb inherits, so the screen it draws into is
 * our memfd.  Once Xvfb is up it is sealed against shrinking and growing
 * and its layout read from the header; guid then paints fully visible
 * windows straight from it (direct.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gui-agent.h"
#include "util.h"

/* XWDFileHeader: 25 CARD32 fields, then a 60-byte window name; XWDColor is 12 bytes. */
enum { XWD_HEADER_SIZE, XWD_FORMAT = 2, XWD_DEPTH, XWD_WIDTH, XWD_HEIGHT, XWD_BPP = 11, XWD_BYTES_PER_LINE,
       XWD_NCOLORS = 19, XWD_FIELDS = 25 };
#define XWD_COLOR_SIZE 12u
#define XWD_ZPIXMAP 2u

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

int screen_prepare(struct agent *a, char ret_fbdir[static 64]) {
        _cleanup_close_ int fd = memfd_create("gui-agent-screen", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        snprintf(ret_fbdir, 64, "/tmp/gui-agent-fb.XXXXXX");
        if (!mkdtemp(ret_fbdir))
                return -errno;
        char target[64], link[96];
        /* the fd keeps its number in Xvfb, which inherits it (start_xvfb) */
        snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
        snprintf(link, sizeof(link), "%s/Xvfb_screen0", ret_fbdir);
        if (symlink(target, link) < 0) {
                int r = -errno;
                (void) rmdir(ret_fbdir);
                return r;
        }
        a->screen_fd = TAKE_FD(fd);
        return 0;
}

void screen_cleanup_dir(const char *fbdir) {
        char link[96];
        snprintf(link, sizeof(link), "%s/Xvfb_screen0", fbdir);
        (void) unlink(link);
        (void) rmdir(fbdir);
}

/* Xvfb answers clients: its framebuffer is in place.  On any surprise the
 * screen is not shared and every window takes the copying path. */
int screen_seal(struct agent *a) {
        uint8_t h[4 * XWD_FIELDS];
        struct stat st;

        if (a->screen_fd < 0)
                return -EBADF;
        if (pread(a->screen_fd, h, sizeof(h), 0) != (ssize_t) sizeof(h) || fstat(a->screen_fd, &st) < 0 ||
            fcntl(a->screen_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                goto unusable;
        uint32_t width = be32(h + 4 * XWD_WIDTH), height = be32(h + 4 * XWD_HEIGHT);
        uint32_t stride = be32(h + 4 * XWD_BYTES_PER_LINE);
        uint64_t offset = (uint64_t) be32(h + 4 * XWD_HEADER_SIZE) +
                          (uint64_t) be32(h + 4 * XWD_NCOLORS) * XWD_COLOR_SIZE;
        if (be32(h + 4 * XWD_FORMAT) != XWD_ZPIXMAP || be32(h + 4 * XWD_DEPTH) != 24 ||
            be32(h + 4 * XWD_BPP) != 32 || width != a->xconf.w || height != a->xconf.h ||
            stride < width * 4 || stride % 4 || offset % 4 || offset > 1u << 20 ||
            (uint64_t) st.st_size < offset + (uint64_t) stride * height)
                goto unusable;
        a->screen = (struct agent_screen) { width, height, stride, (uint32_t) offset };
        agent_log("sharing the %ux%u screen (stride %u, offset %u)", width, height, stride, (uint32_t) offset);
        return 0;
unusable:
        agent_log("the X server's framebuffer cannot be shared; every window is copied");
        close(a->screen_fd);
        a->screen_fd = -1;
        return -EBADMSG;
}

/* After the handshake: guid gets the screen if it speaks 1.9. */
int screen_send(struct agent *a) {
        if (a->screen_fd < 0 || (a->version & 0xffff) < GUI_PROTOCOL_SCREEN_MINOR)
                return 0;
        int r = channel_send_fd(a, 0, a->screen_fd);
        if (r < 0)
                return r;
        struct gui_msg m = { .type = GUI_MSG_SCREEN_BUFFER };
        m.u.screen_buffer.width = a->screen.width;
        m.u.screen_buffer.height = a->screen.height;
        m.u.screen_buffer.stride = a->screen.stride;
        m.u.screen_buffer.offset = a->screen.offset;
        return channel_send(a, &m);
}

bool screen_shared(const struct agent *a) {
        return a->screen_fd >= 0 && (a->version & 0xffff) >= GUI_PROTOCOL_SCREEN_MINOR;
}
