/* SPDX-License-Identifier: GPL-2.0-or-later */
/* gui-agent: a domain's windows to its guid (docs/man/gui-agent.8). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <X11/Xlib.h>
#include <X11/extensions/Xdamage.h>
#include <xcb/xcb.h>
#include <xcb/shm.h>

#include "gui.h"
#include "vchan.h"

struct agent_window {
        Window id;
        int32_t x, y;                   /* X's (outer) position; guid gets the content's */
        uint32_t width, height;
        uint32_t border;                /* X border width: the composite pixmap includes it */
        bool override_redirect;
        bool mapped;
        bool direct;                    /* not redirected: guid reads it from the shared screen */
        Damage damage;
        Pixmap pixmap;                  /* its composite pixmap, named for the current size */
        /* the pixels: a memfd shared with this X server (MIT-SHM) and guid */
        xcb_shm_seg_t seg;
        uint32_t buf_width, buf_height;
        /* damage since the last frame, as a bounding box */
        bool dirty;
        int32_t dirty_x0, dirty_y0, dirty_x1, dirty_y1;
        struct agent_window *next;
};

#define XVFB_DISPLAY_AUTO (~0u)

struct agent_options {
        const char *display;            /* NULL: start our own Xvfb */
        const char *xvfb;               /* the Xvfb binary */
        unsigned xvfb_display;          /* its display number, or XVFB_DISPLAY_AUTO: the first free one */
        const char *vchan_dir;          /* NULL: $VCHAN_SOCKET_DIR */
        int domid;                      /* -1: $VCHAN_DOMAIN */
        uint32_t screen_w, screen_h;    /* our Xvfb's size, started at once; 0: at the
                                         * first guid's screen size, once it connects */
};

/* The shared screen's layout (screen.c). */
struct agent_screen {
        uint32_t width, height, stride, offset;
};

struct agent {
        struct agent_options opt;
        /* the domain's X server: Xlib for events, properties and input,
         * xcb on a second connection for MIT-SHM fd attach / get image */
        Display *dpy;
        Window root;
        xcb_connection_t *shm_conn;
        int damage_event;
        int xfixes_event;
        Atom atom_net_wm_name, atom_utf8_string, atom_wm_protocols, atom_wm_delete, atom_clipboard,
                atom_targets, atom_property, atom_text;
        Window selection_window;        /* ours: clipboard requests and ownership */
        uint8_t *clipboard;             /* what guid pasted, served to local programs */
        size_t clipboard_len;
        bool clipboard_requested;
        struct agent_window *windows;
        Window pointer_window;          /* the window guid last moved the pointer in */
        pid_t xvfb_pid;
        int screen_fd;                  /* our Xvfb's framebuffer, -1 when not shared */
        struct agent_screen screen;
        bool restack;                   /* the stacking or geometry changed: direct.c looks again */
        /* the GUI channel */
        struct vchan *vchan;
        int shm_listen, shm_fd;
        uint32_t version;
        struct gui_xconf xconf;
        uint8_t in[GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX];
        size_t in_len;
};

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* channel.c */
int channel_listen(struct agent *a);
int channel_accept(struct agent *a);            /* waits for guid, handshake */
void channel_close(struct agent *a);
int channel_send(struct agent *a, const struct gui_msg *m);
int channel_send_fd(struct agent *a, uint32_t window, int fd);
/* Reads what guid sent and dispatches every whole message: <0 on EOF or a
 * protocol violation. */
int channel_process(struct agent *a);

/* display.c */
int display_open(struct agent *a);
void display_close(struct agent *a);

/* windows.c */
int windows_announce_all(struct agent *a);
int windows_handle_event(struct agent *a, XEvent *ev);
struct agent_window *window_find(struct agent *a, Window id);
void windows_forget_all(struct agent *a);

/* pixels.c */
int pixels_new_buffer(struct agent *a, struct agent_window *w);
void pixels_release(struct agent *a, struct agent_window *w);
void pixels_damage(struct agent_window *w, int32_t x, int32_t y, uint32_t width, uint32_t height);
int pixels_flush(struct agent *a);

/* screen.c: our Xvfb's framebuffer as a memfd */
int screen_prepare(struct agent *a, char ret_fbdir[static 64]);
void screen_cleanup_dir(const char *fbdir);
int screen_seal(struct agent *a);
int screen_send(struct agent *a);
bool screen_shared(const struct agent *a);

/* direct.c: which windows guid reads from the screen */
void direct_update(struct agent *a);

/* input.c: guid's messages */
int input_handle(struct agent *a, const struct gui_msg *m);

/* clipboard.c */
int clipboard_request(struct agent *a);
int clipboard_store(struct agent *a, const uint8_t *data, size_t len);
int clipboard_handle_event(struct agent *a, XEvent *ev);       /* 1 if it was ours */
