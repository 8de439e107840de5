/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's pure layer: the windows table and the rules applied to the
 * agent's decoded (still untrusted) messages, with no X and no I/O.  Each
 * message either changes the state and yields a short list of actions for
 * the X layer (window.c) to carry out, or is a protocol violation: -EBADMSG
 * and nothing changed, and the caller drops the peer.  tests/fuzz/
 * fuzz-guid-messages.c drives this layer directly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gui.h"

struct guid_window {
        uint32_t agent_id;              /* the domain's XID: only a lookup key */
        int32_t x, y;                   /* content position on our screen (clamped) */
        uint32_t width, height;         /* content size (clamped) */
        bool mapped;
        bool override_redirect;
        uint32_t flags;                 /* GUI_FLAG_* currently set */
        uint32_t buf_width, buf_height; /* the attached pixel buffer, 0 when none */
        uint32_t agent_width, agent_height; /* its size in the domain, as the agent says (not clamped) */
        /* its content last came from the domain's screen buffer, origin there */
        bool direct;
        uint32_t screen_x, screen_y;
        /* owned by the X layer: our window and its MIT-SHM segment; a put
         * in the X server, and the damage that waits for it (paint.c) */
        uint32_t xid;
        uint32_t seg;
        bool painting, paint_pending;
        int32_t paint_x0, paint_y0, paint_x1, paint_y1;
        struct guid_window *next;
};

struct guid_state {
        const char *domain;             /* shown in titles and classes */
        uint32_t screen_width, screen_height;
        uint32_t clipboard_limit;
        bool allow_utf8_titles;
        struct guid_window *windows;
        struct guid_window *focused;    /* set by the X layer on FocusIn/Out */
        bool clipboard_requested;       /* only an answer to our request is stored */
        /* what the domain holds on the admin X server, bounded below */
        unsigned n_windows;
        uint64_t pixel_bytes;           /* sum of the attached buffers' sizes */
        /* the domain's screen buffer (1.9: SCREEN_BUFFER), width 0 when none */
        bool screen_allowed;            /* the negotiated version has it */
        struct { uint32_t width, height, stride, offset; } screen;
};

/* A domain must not exhaust the admin X server (Qubes dropped its window
 * limit, #877; pixel memory is the real resource, so both are bounded).  A
 * busy desktop has tens of top-level windows, menus and tooltips included;
 * 512 is far above what a person uses and small enough that a flood costs
 * the X server little.  Past either limit the message is a violation:
 * that domain's guid ends (a refused window would leave the agent's view
 * and ours disagreeing for every later message about it). */
#define GUID_MAX_WINDOWS 512u
/* Pixel memory: the largest legal window always fits (384 MiB), and on
 * larger screens eight full screens' worth; buffers are the domain's memfds,
 * but pages the X server touches in a sparse one are charged to it. */
uint64_t guid_pixel_limit(uint32_t screen_width, uint32_t screen_height);

/* "[domain] title", and "domain:res_name\0domain:res_class" with its NUL */
#define GUID_TITLE_MAX (GUI_TITLE_SIZE + 256)
#define GUID_CLASS_MAX (2 * (GUI_CLASS_SIZE + 256))

enum guid_action_type {
        GUID_ACTION_CREATE,             /* a new X window for w, at its geometry */
        GUID_ACTION_DESTROY,            /* w is out of the table: free its X side; freed by guid_actions_clear() */
        GUID_ACTION_MAP,
        GUID_ACTION_UNMAP,
        GUID_ACTION_MOVE_RESIZE,        /* to w's geometry */
        GUID_ACTION_DROP_OVERRIDE_REDIRECT, /* w becomes managed (unmapped around the change if mapped) */
        GUID_ACTION_SET_TITLE,          /* text, len */
        GUID_ACTION_SET_CLASS,          /* text, len (two NUL-terminated parts) */
        GUID_ACTION_REPAINT,            /* rect: inside the buffer and the content, not empty */
        GUID_ACTION_ATTACH_BUFFER,      /* the memfd for w, rect.width x rect.height, waits on the side channel */
        GUID_ACTION_ATTACH_SCREEN,      /* the screen memfd (state's screen layout), waits on the side channel */
        GUID_ACTION_REPAINT_SCREEN,     /* rect of w's content from (screen_x + x, screen_y + y) of the screen buffer:
                                         * inside the content and the screen, not empty */
        GUID_ACTION_SEND,               /* msg to the agent */
        GUID_ACTION_CLIPBOARD_STORE,    /* data, len <= clipboard_limit: the new global clipboard */
        GUID_ACTION_CLIPBOARD_OVERSIZE, /* the requested clipboard was too large: clear it, notice */
};

struct guid_action {
        enum guid_action_type type;
        struct guid_window *w;
        union {
                struct { int32_t x, y; uint32_t width, height; } rect;
                struct { char text[GUID_CLASS_MAX]; size_t len; } str;
                struct gui_msg msg;
                struct { const uint8_t *data; size_t len; } clipboard;
        } u;
};

/* The most one message yields: CREATE, SET_TITLE, SET_CLASS, SEND. */
#define GUID_MAX_ACTIONS 4

struct guid_actions {
        struct guid_action a[GUID_MAX_ACTIONS];
        unsigned n;
};

/* Handle one decoded message: 0 with *ret filled (possibly empty), or
 * -EBADMSG (violation, logged, state unchanged) / -ENOMEM.  Clipboard
 * data actions point into untrusted_msg->data. */
int guid_state_handle(struct guid_state *s, const struct gui_msg *untrusted_msg, struct guid_actions *ret);
/* Frees the windows DESTROY actions took out of the table. */
void guid_actions_clear(struct guid_actions *a);

struct guid_window *guid_state_find(const struct guid_state *s, uint32_t agent_id);
/* Takes every window out of the table (for the X layer to free at exit). */
struct guid_window *guid_state_take_windows(struct guid_state *s);
/* Ctrl-Shift-C: the focused window's id to ask for its clipboard, 0 if no focus. */
uint32_t guid_state_request_clipboard(struct guid_state *s);

/* geometry.c: the clamps, on a screen of sw x sh */
void guid_clamp_geometry(uint32_t sw, uint32_t sh, int32_t *x, int32_t *y, uint32_t *width, uint32_t *height);
bool guid_too_big_for_override_redirect(uint32_t sw, uint32_t sh, uint32_t width, uint32_t height);
/* Clip a repaint of the content at (x, y) to the buffer and the content
 * area: false when nothing is left to paint. */
bool guid_clip_repaint(const struct guid_window *w, int32_t x, int32_t y, uint32_t *width, uint32_t *height);
/* The same for a direct window's paint from the screen buffer, its content
 * origin at (w->screen_x, w->screen_y): clipped to the content and the
 * screen; false when nothing is left. */
bool guid_clip_screen_repaint(const struct guid_state *s, const struct guid_window *w, int32_t x, int32_t y,
                              uint32_t *width, uint32_t *height);
/* Bytes a screen buffer of this layout needs: offset + stride * height. */
uint64_t guid_screen_bytes(uint32_t stride, uint32_t height, uint32_t offset);
