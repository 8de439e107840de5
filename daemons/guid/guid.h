/* SPDX-License-Identifier: GPL-2.0-or-later */
/* guid: one domain's windows on the admin X display (docs/man/guid.8). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <xcb/xcb.h>
#include <xcb/shm.h>

#include "gui.h"
#include "state.h"
#include "vchan.h"

struct guid_config {
        const char *domain;
        uint32_t domid;
        uint32_t label_color;           /* 0xRRGGBB */
        const char *vchan_dir;
        const char *display;
        const char *clipboard_dir;      /* the trusted global clipboard */
        const char *policy_socket;      /* qrexec-policyd's policy.sock; NULL = paste denied */
        uint32_t clipboard_limit;
        bool allow_utf8_titles;
};

struct guid {
        struct guid_config cfg;
        sd_event *event;
        struct vchan *vchan;
        int shm_fd;                     /* side channel: memfds from the agent */
        uint32_t version;
        /* bytes read from the agent, not yet a whole message */
        uint8_t *in;
        size_t in_len;
        /* X */
        xcb_connection_t *conn;
        xcb_screen_t *screen;
        xcb_gcontext_t gc;
        xcb_shm_seg_t screen_seg;       /* the domain's screen buffer (1.9), 0 when none */
        uint8_t shm_completion;         /* MIT-SHM's CompletionNotify event code */
        xcb_atom_t atom_vmname, atom_label_color, atom_vmwindowid, atom_net_wm_name, atom_utf8_string,
                atom_wm_delete, atom_wm_protocols;
        xcb_keycode_t key_c, key_v;
        struct guid_state state;        /* windows, focus, clipboard request: state.c */
        struct guid_paste *paste;       /* the paste waiting for the policy's answer */
        int exit_code;
};

/* agent.c: the GUI channel */
int guid_agent_connect(struct guid *g);
int guid_agent_process(struct guid *g);         /* <0: protocol violation or EOF */
int guid_agent_send(struct guid *g, const struct gui_msg *m);

/* The memfd announced by a GUI_DUMP_MEMFD dump of `window` (0: by a
 * SCREEN_BUFFER), at least need bytes. */
int guid_agent_receive_memfd(struct guid *g, uint32_t window, uint64_t need);

/* x11.c: the admin display */
int guid_x11_setup(struct guid *g);

/* window.c: the X side of the pure layer's actions */
struct guid_window *guid_window_by_xid(struct guid *g, xcb_window_t xid);
int guid_handle_agent_message(struct guid *g, const struct gui_msg *untrusted_msg);
void guid_windows_free(struct guid *g);

/* paint.c: content (x, y, width, height) put from the window's source, at
 * most one put per window in the X server at a time */
void guid_paint(struct guid *g, struct guid_window *w, int32_t x, int32_t y, uint32_t width, uint32_t height);
void guid_paint_done(struct guid *g, const xcb_shm_completion_event_t *e);

/* input.c: X events of our windows → the agent */
int guid_x11_process(struct guid *g);           /* <0: X connection lost */

/* clipboard.c: the global clipboard files */
int guid_clipboard_copy_request(struct guid *g);
int guid_clipboard_store(struct guid *g, const uint8_t *untrusted_data, size_t untrusted_len);
int guid_clipboard_oversize(struct guid *g, size_t untrusted_len);
int guid_clipboard_lock(struct guid *g);                /* an flock'd fd, held while it is open */
int guid_clipboard_write(struct guid *g, const char *name, const void *data, size_t len);
int guid_clipboard_clear(struct guid *g);
/* Under the lock: the global clipboard's source and data; -ENOENT when empty. */
int guid_clipboard_load(struct guid *g, char **ret_source, char **ret_data, size_t *ret_len);

/* paste.c: Ctrl-Shift-V, after qubes.ClipboardPaste is allowed; the policy
 * is asked without blocking the event loop */
int guid_paste_start(struct guid *g, struct guid_window *w);
void guid_paste_free(struct guid *g);
