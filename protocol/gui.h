/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The GUI protocol between a domain's gui-agent and its guid: Qubes' GUI
 * protocol 1.x (shared/reference/gui.md §1) with the same message numbers,
 * layouts and limits, little-endian u32 words, plus Odyssey additions:
 * window dump type GUI_DUMP_MEMFD, whose pixels arrive as a memfd passed
 * over the native backend's side channel instead of grant references; and,
 * from version 1.9 on (GUI_PROTOCOL_SCREEN_MINOR), the domain's whole
 * screen as one memfd (SCREEN_BUFFER) from which guid paints the windows
 * that are fully visible in the domain (SCREEN_IMAGE): no copy out of the
 * domain's X server for them.
 *
 * Channel: vchan port GUI_VCHAN_PORT, the agent is the server, guid the
 * client.  Handshake: agent sends u32 version; guid answers the negotiated
 * u32 version, then struct gui_xconf.  Then messages: a 12-byte header
 * {type, window, untrusted_len} and a body of exactly the size of the type
 * (fixed types) or at most its bound (clipboard, grant dump).
 *
 * Decoders are strict: unknown type, wrong direction or wrong length is
 * -EBADMSG and the receiver drops the peer.  Decoded values are still
 * untrusted: the gui_sanitize_* helpers and the receiver's clamps make them
 * safe to use.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUI_PROTOCOL_MAJOR 1u
#define GUI_PROTOCOL_MINOR 9u
#define GUI_PROTOCOL_VERSION ((GUI_PROTOCOL_MAJOR << 16) | GUI_PROTOCOL_MINOR)
/* Oldest minor we speak: 1.4 made the negotiation bidirectional. */
#define GUI_PROTOCOL_MIN_MINOR 4u
/* Odyssey's 1.9: SCREEN_BUFFER and SCREEN_IMAGE; refused below it. */
#define GUI_PROTOCOL_SCREEN_MINOR 9u
#define GUI_VCHAN_PORT 6000

#define GUI_HEADER_SIZE 12u
#define GUI_XCONF_SIZE 16u
#define GUI_MAX_WINDOW_WIDTH 16384u
#define GUI_MAX_WINDOW_HEIGHT 6144u
#define GUI_MAX_COORD_X 16384
#define GUI_MAX_COORD_Y 6144
#define GUI_TITLE_SIZE 128u        /* including the terminating NUL */
#define GUI_CLASS_SIZE 64u
#define GUI_KEYMAP_SIZE 32u
/* An agent sends at most one byte past the largest limit guid may be
 * configured with, meaning "too big"; more is malformed. */
#define GUI_CLIPBOARD_LIMIT_MAX 256000u
#define GUI_CLIPBOARD_LIMIT_DEFAULT 64000u
#define GUI_CLIPBOARD_WIRE_MAX (GUI_CLIPBOARD_LIMIT_MAX + 1u)
#define GUI_MAX_GRANT_REFS ((GUI_MAX_WINDOW_WIDTH * GUI_MAX_WINDOW_HEIGHT * 4u) / 4096u)
#define GUI_DUMP_HEADER_SIZE 16u
#define GUI_MAX_BODY (GUI_DUMP_HEADER_SIZE + 4u * GUI_MAX_GRANT_REFS)
#define GUI_BORDER_WIDTH 2

enum gui_msg_type {
        GUI_MSG_KEYPRESS = 124,
        GUI_MSG_BUTTON = 125,
        GUI_MSG_MOTION = 126,
        GUI_MSG_CROSSING = 127,
        GUI_MSG_FOCUS = 128,
        GUI_MSG_RESIZE = 129,           /* obsolete, refused */
        GUI_MSG_CREATE = 130,
        GUI_MSG_DESTROY = 131,
        GUI_MSG_MAP = 132,
        GUI_MSG_UNMAP = 133,
        GUI_MSG_CONFIGURE = 134,
        GUI_MSG_MFNDUMP = 135,          /* deprecated, refused */
        GUI_MSG_SHMIMAGE = 136,
        GUI_MSG_CLOSE = 137,
        GUI_MSG_EXECUTE = 138,          /* obsolete, refused */
        GUI_MSG_CLIPBOARD_REQ = 139,
        GUI_MSG_CLIPBOARD_DATA = 140,
        GUI_MSG_WMNAME = 141,
        GUI_MSG_KEYMAP_NOTIFY = 142,
        GUI_MSG_DOCK = 143,
        GUI_MSG_WINDOW_HINTS = 144,
        GUI_MSG_WINDOW_FLAGS = 145,
        GUI_MSG_WMCLASS = 146,
        GUI_MSG_WINDOW_DUMP = 147,
        GUI_MSG_CURSOR = 148,
        GUI_MSG_WINDOW_DUMP_ACK = 149,
        /* Odyssey, 1.9: window 0; the screen memfd precedes it on the side
         * channel (id 0): width, height, stride (bytes per row), offset
         * (bytes to the first pixel); 32-bit pixels */
        GUI_MSG_SCREEN_BUFFER = 150,
        /* Odyssey, 1.9: the content rect (x, y, width, height) of the
         * window, whose content origin is at (screen_x, screen_y) of the
         * screen buffer, changed there */
        GUI_MSG_SCREEN_IMAGE = 151,
};

/* Who sends a message: the receiver checks it. */
enum gui_direction {
        GUI_FROM_AGENT,         /* untrusted, read by guid */
        GUI_FROM_DAEMON,        /* read by the agent */
};

/* WINDOW_HINTS flags kept by guid (X's WM_NORMAL_HINTS bits). */
#define GUI_HINT_USPOSITION (1u << 0)
#define GUI_HINT_PPOSITION (1u << 2)
#define GUI_HINT_PMINSIZE (1u << 4)
#define GUI_HINT_PMAXSIZE (1u << 5)
#define GUI_HINT_PRESIZEINC (1u << 6)
#define GUI_HINT_PBASESIZE (1u << 8)

#define GUI_FLAG_FULLSCREEN 1u
#define GUI_FLAG_DEMANDS_ATTENTION 2u
#define GUI_FLAG_MINIMIZE 4u

#define GUI_CURSOR_DEFAULT 0u
#define GUI_CURSOR_X11 0x100u
#define GUI_CURSOR_X11_MAX 0x19au

enum gui_dump_type {
        GUI_DUMP_GRANT_REFS = 0,        /* Xen: refs[] follow; not usable on native */
        GUI_DUMP_MEMFD = 1,             /* Odyssey: the fd follows on the side channel */
};

struct gui_header {
        uint32_t type;
        uint32_t window;
        uint32_t untrusted_len;
};

struct gui_xconf {
        uint32_t w, h, depth, mem;
};

/* A decoded message.  Integers are as sent (untrusted); strings are copied
 * raw and not yet terminated or sanitised; `data` points into the caller's
 * buffer (clipboard bytes, grant refs). */
struct gui_msg {
        uint32_t type;
        uint32_t window;
        union {
                uint32_t words[9];
                struct { uint32_t type; int32_t x, y; uint32_t state, keycode; } key;
                struct { uint32_t type; int32_t x, y; uint32_t state, button; } button;
                struct { int32_t x, y; uint32_t state, is_hint; } motion;
                struct { uint32_t type; int32_t x, y; uint32_t state, mode, detail, focus; } crossing;
                struct { uint32_t type, mode, detail; } focus;
                struct { int32_t x, y; uint32_t width, height, parent, override_redirect; } create;
                struct { uint32_t transient_for, override_redirect; } map;
                struct { int32_t x, y; uint32_t width, height, override_redirect; } configure;
                struct { int32_t x, y; uint32_t width, height; } shmimage;
                struct {
                        uint32_t flags, min_width, min_height, max_width, max_height,
                                 width_inc, height_inc, base_width, base_height;
                } hints;
                struct { uint32_t set, unset; } flags;
                struct { uint32_t type, width, height, bpp; } dump;
                struct { uint32_t cursor; } cursor;
                struct { uint32_t width, height, stride, offset; } screen_buffer;
                struct { uint32_t x, y, width, height, screen_x, screen_y; } screen_image;
                char title[GUI_TITLE_SIZE];
                struct { char res_class[GUI_CLASS_SIZE], res_name[GUI_CLASS_SIZE]; } wmclass;
                uint8_t keys[GUI_KEYMAP_SIZE];
        } u;
        const uint8_t *data;
        size_t data_len;
};

/* --- handshake --- */
void gui_encode_u32(uint8_t buf[4], uint32_t v);
uint32_t gui_decode_u32(const uint8_t buf[4]);
/* guid: the version to use with an agent announcing untrusted_agent_version;
 * -EPROTONOSUPPORT when the major differs or the minor is below 1.4. */
int gui_negotiate_version(uint32_t untrusted_agent_version, uint32_t *ret);
/* agent: accept guid's answer (not above ours, not below 1.4). */
int gui_check_daemon_version(uint32_t untrusted_version);
void gui_encode_xconf(uint8_t buf[GUI_XCONF_SIZE], const struct gui_xconf *c);
void gui_decode_xconf(const uint8_t buf[GUI_XCONF_SIZE], struct gui_xconf *ret);

/* --- messages --- */
void gui_decode_header(const uint8_t buf[GUI_HEADER_SIZE], struct gui_header *ret);
/* Is this header acceptable from `from`?  0, or -EBADMSG (unknown or
 * refused type, wrong direction, wrong or oversized length). */
int gui_check_header(const struct gui_header *h, enum gui_direction from);
/* Framing of a byte stream: buf holds the len bytes received so far of
 * one message.  The whole message's size once it is all there; 0 when
 * *ret_missing more bytes are needed; -EBADMSG as soon as the header is
 * refused (before its body is awaited).  *ret_header is set once len >=
 * GUI_HEADER_SIZE. */
int gui_frame(const uint8_t *buf, size_t len, enum gui_direction from, struct gui_header *ret_header,
              size_t *ret_missing);
/* Decode a body whose header passed gui_check_header(). */
int gui_decode_body(const struct gui_header *h, const uint8_t *body, size_t len, struct gui_msg *ret);
/* Encode m (header + body; for CLIPBOARD_DATA and grant dumps m->data) into
 * buf: bytes written, or -ENOBUFS / -EINVAL (unknown type, oversized data). */
int gui_encode(const struct gui_msg *m, uint8_t *buf, size_t size);
/* Body size of a fixed-size type, or -1 for variable or unknown types. */
int gui_body_size(uint32_t type);
const char *gui_msg_type_to_string(uint32_t type);

/* --- sanitising untrusted strings --- */
/* A title from WMNAME: stops at the first NUL (at most 127 bytes); every
 * byte outside 0x20-0x7e becomes '_', unless allow_utf8 and the title is
 * valid UTF-8, in which case only control characters (C0, DEL, C1) are
 * replaced.  ret is always NUL-terminated. */
void gui_sanitize_title(const char untrusted_title[GUI_TITLE_SIZE], bool allow_utf8,
                        char ret[GUI_TITLE_SIZE]);
/* A WM_CLASS part: printable ASCII only, others '_'; NUL-terminated. */
void gui_sanitize_class(const char untrusted_class[GUI_CLASS_SIZE], char ret[GUI_CLASS_SIZE]);
