/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GUI protocol codec: one table says, per message type, who may send it and
 * how its body is laid out; one strict decoder and one encoder follow it.
 */
#include <errno.h>
#include <string.h>

#include "gui.h"
#include "util.h"

enum body_kind {
        BODY_NONE = 0,          /* unknown or refused type */
        BODY_WORDS,             /* n u32 words */
        BODY_BYTES,             /* n raw bytes (strings, keymap) */
        BODY_CLIPBOARD,         /* 0..GUI_CLIPBOARD_WIRE_MAX bytes */
        BODY_DUMP,              /* dump header + type-specific tail */
};

#define FROM_AGENT (1u << GUI_FROM_AGENT)
#define FROM_DAEMON (1u << GUI_FROM_DAEMON)

struct layout {
        const char *name;
        unsigned senders;
        enum body_kind kind;
        unsigned size;          /* words for BODY_WORDS, bytes for BODY_BYTES */
};

static const struct layout layouts[] = {
        [GUI_MSG_KEYPRESS - GUI_MSG_KEYPRESS] = { "KEYPRESS", FROM_DAEMON, BODY_WORDS, 5 },
        [GUI_MSG_BUTTON - GUI_MSG_KEYPRESS] = { "BUTTON", FROM_DAEMON, BODY_WORDS, 5 },
        [GUI_MSG_MOTION - GUI_MSG_KEYPRESS] = { "MOTION", FROM_DAEMON, BODY_WORDS, 4 },
        [GUI_MSG_CROSSING - GUI_MSG_KEYPRESS] = { "CROSSING", FROM_DAEMON, BODY_WORDS, 7 },
        [GUI_MSG_FOCUS - GUI_MSG_KEYPRESS] = { "FOCUS", FROM_DAEMON, BODY_WORDS, 3 },
        [GUI_MSG_RESIZE - GUI_MSG_KEYPRESS] = { "RESIZE", 0, BODY_NONE, 0 },
        [GUI_MSG_CREATE - GUI_MSG_KEYPRESS] = { "CREATE", FROM_AGENT, BODY_WORDS, 6 },
        [GUI_MSG_DESTROY - GUI_MSG_KEYPRESS] = { "DESTROY", FROM_AGENT | FROM_DAEMON, BODY_WORDS, 0 },
        [GUI_MSG_MAP - GUI_MSG_KEYPRESS] = { "MAP", FROM_AGENT | FROM_DAEMON, BODY_WORDS, 2 },
        [GUI_MSG_UNMAP - GUI_MSG_KEYPRESS] = { "UNMAP", FROM_AGENT, BODY_WORDS, 0 },
        [GUI_MSG_CONFIGURE - GUI_MSG_KEYPRESS] = { "CONFIGURE", FROM_AGENT | FROM_DAEMON, BODY_WORDS, 5 },
        [GUI_MSG_MFNDUMP - GUI_MSG_KEYPRESS] = { "MFNDUMP", 0, BODY_NONE, 0 },
        [GUI_MSG_SHMIMAGE - GUI_MSG_KEYPRESS] = { "SHMIMAGE", FROM_AGENT, BODY_WORDS, 4 },
        [GUI_MSG_CLOSE - GUI_MSG_KEYPRESS] = { "CLOSE", FROM_DAEMON, BODY_WORDS, 0 },
        [GUI_MSG_EXECUTE - GUI_MSG_KEYPRESS] = { "EXECUTE", 0, BODY_NONE, 0 },
        [GUI_MSG_CLIPBOARD_REQ - GUI_MSG_KEYPRESS] = { "CLIPBOARD_REQ", FROM_DAEMON, BODY_WORDS, 0 },
        [GUI_MSG_CLIPBOARD_DATA - GUI_MSG_KEYPRESS] = { "CLIPBOARD_DATA", FROM_AGENT | FROM_DAEMON,
                                                        BODY_CLIPBOARD, 0 },
        [GUI_MSG_WMNAME - GUI_MSG_KEYPRESS] = { "WMNAME", FROM_AGENT, BODY_BYTES, GUI_TITLE_SIZE },
        [GUI_MSG_KEYMAP_NOTIFY - GUI_MSG_KEYPRESS] = { "KEYMAP_NOTIFY", FROM_DAEMON, BODY_BYTES,
                                                       GUI_KEYMAP_SIZE },
        [GUI_MSG_DOCK - GUI_MSG_KEYPRESS] = { "DOCK", FROM_AGENT, BODY_WORDS, 0 },
        [GUI_MSG_WINDOW_HINTS - GUI_MSG_KEYPRESS] = { "WINDOW_HINTS", FROM_AGENT, BODY_WORDS, 9 },
        [GUI_MSG_WINDOW_FLAGS - GUI_MSG_KEYPRESS] = { "WINDOW_FLAGS", FROM_AGENT | FROM_DAEMON,
                                                      BODY_WORDS, 2 },
        [GUI_MSG_WMCLASS - GUI_MSG_KEYPRESS] = { "WMCLASS", FROM_AGENT, BODY_BYTES, 2 * GUI_CLASS_SIZE },
        [GUI_MSG_WINDOW_DUMP - GUI_MSG_KEYPRESS] = { "WINDOW_DUMP", FROM_AGENT, BODY_DUMP, 0 },
        [GUI_MSG_CURSOR - GUI_MSG_KEYPRESS] = { "CURSOR", FROM_AGENT, BODY_WORDS, 1 },
        [GUI_MSG_WINDOW_DUMP_ACK - GUI_MSG_KEYPRESS] = { "WINDOW_DUMP_ACK", FROM_DAEMON, BODY_WORDS, 0 },
        [GUI_MSG_SCREEN_BUFFER - GUI_MSG_KEYPRESS] = { "SCREEN_BUFFER", FROM_AGENT, BODY_WORDS, 4 },
        [GUI_MSG_SCREEN_IMAGE - GUI_MSG_KEYPRESS] = { "SCREEN_IMAGE", FROM_AGENT, BODY_WORDS, 6 },
};

static const struct layout *layout_of(uint32_t type) {
        if (type < GUI_MSG_KEYPRESS || type - GUI_MSG_KEYPRESS >= ELEMENTSOF(layouts))
                return NULL;
        const struct layout *l = &layouts[type - GUI_MSG_KEYPRESS];
        return l->kind == BODY_NONE ? NULL : l;
}

const char *gui_msg_type_to_string(uint32_t type) {
        if (type < GUI_MSG_KEYPRESS || type - GUI_MSG_KEYPRESS >= ELEMENTSOF(layouts))
                return "UNKNOWN";
        return layouts[type - GUI_MSG_KEYPRESS].name;
}

int gui_body_size(uint32_t type) {
        const struct layout *l = layout_of(type);
        if (!l)
                return -1;
        switch (l->kind) {
        case BODY_WORDS:
                return (int) (4 * l->size);
        case BODY_BYTES:
                return (int) l->size;
        default:
                return -1;
        }
}

void gui_encode_u32(uint8_t buf[4], uint32_t v) {
        le32_store(buf, v);
}

uint32_t gui_decode_u32(const uint8_t buf[4]) {
        return le32_load(buf);
}

void gui_encode_xconf(uint8_t buf[GUI_XCONF_SIZE], const struct gui_xconf *c) {
        le32_store(buf, c->w);
        le32_store(buf + 4, c->h);
        le32_store(buf + 8, c->depth);
        le32_store(buf + 12, c->mem);
}

void gui_decode_xconf(const uint8_t buf[GUI_XCONF_SIZE], struct gui_xconf *ret) {
        ret->w = le32_load(buf);
        ret->h = le32_load(buf + 4);
        ret->depth = le32_load(buf + 8);
        ret->mem = le32_load(buf + 12);
}

void gui_decode_header(const uint8_t buf[GUI_HEADER_SIZE], struct gui_header *ret) {
        ret->type = le32_load(buf);
        ret->window = le32_load(buf + 4);
        ret->untrusted_len = le32_load(buf + 8);
}

int gui_check_header(const struct gui_header *h, enum gui_direction from) {
        const struct layout *l = layout_of(h->type);

        if (!l || !(l->senders & (1u << from)))
                return -EBADMSG;
        switch (l->kind) {
        case BODY_WORDS:
                return h->untrusted_len == 4 * l->size ? 0 : -EBADMSG;
        case BODY_BYTES:
                return h->untrusted_len == l->size ? 0 : -EBADMSG;
        case BODY_CLIPBOARD:
                return h->untrusted_len <= GUI_CLIPBOARD_WIRE_MAX ? 0 : -EBADMSG;
        case BODY_DUMP:
                return h->untrusted_len >= GUI_DUMP_HEADER_SIZE && h->untrusted_len <= GUI_MAX_BODY &&
                       h->untrusted_len % 4 == 0 ? 0 : -EBADMSG;
        default:
                return -EBADMSG;
        }
}

int gui_frame(const uint8_t *buf, size_t len, enum gui_direction from, struct gui_header *ret_header,
              size_t *ret_missing) {
        if (len < GUI_HEADER_SIZE) {
                *ret_missing = GUI_HEADER_SIZE - len;
                return 0;
        }
        gui_decode_header(buf, ret_header);
        if (gui_check_header(ret_header, from) < 0)
                return -EBADMSG;
        size_t total = GUI_HEADER_SIZE + ret_header->untrusted_len;
        if (len >= total)
                return (int) total;
        *ret_missing = total - len;
        return 0;
}

static int decode_dump(const uint8_t *body, size_t len, struct gui_msg *m) {
        for (unsigned i = 0; i < 4; i++)
                m->u.words[i] = le32_load(body + 4 * i);
        if (m->u.dump.width == 0 || m->u.dump.width > GUI_MAX_WINDOW_WIDTH ||
            m->u.dump.height == 0 || m->u.dump.height > GUI_MAX_WINDOW_HEIGHT ||
            (m->u.dump.bpp != 24 && m->u.dump.bpp != 32))
                return -EBADMSG;
        m->data = body + GUI_DUMP_HEADER_SIZE;
        m->data_len = len - GUI_DUMP_HEADER_SIZE;
        switch (m->u.dump.type) {
        case GUI_DUMP_MEMFD:
                return m->data_len == 0 ? 0 : -EBADMSG;
        case GUI_DUMP_GRANT_REFS: {
                /* exactly the pages that hold width*height*4 bytes */
                uint64_t bytes = (uint64_t) m->u.dump.width * m->u.dump.height * 4;
                uint64_t pages = (bytes + 4095) / 4096;
                return m->data_len == pages * 4 ? 0 : -EBADMSG;
        }
        default:
                return -EBADMSG;
        }
}

int gui_decode_body(const struct gui_header *h, const uint8_t *body, size_t len, struct gui_msg *ret) {
        const struct layout *l = layout_of(h->type);

        if (!l || len != h->untrusted_len)
                return -EBADMSG;
        memset(ret, 0, sizeof(*ret));
        ret->type = h->type;
        ret->window = h->window;
        switch (l->kind) {
        case BODY_WORDS:
                if (len != 4 * l->size)
                        return -EBADMSG;
                for (unsigned i = 0; i < l->size; i++)
                        ret->u.words[i] = le32_load(body + 4 * i);
                return 0;
        case BODY_BYTES:
                if (len != l->size)
                        return -EBADMSG;
                memcpy(&ret->u, body, len);
                return 0;
        case BODY_CLIPBOARD:
                if (len > GUI_CLIPBOARD_WIRE_MAX)
                        return -EBADMSG;
                ret->data = body;
                ret->data_len = len;
                return 0;
        case BODY_DUMP:
                if (len < GUI_DUMP_HEADER_SIZE || len > GUI_MAX_BODY)
                        return -EBADMSG;
                return decode_dump(body, len, ret);
        default:
                return -EBADMSG;
        }
}

int gui_encode(const struct gui_msg *m, uint8_t *buf, size_t size) {
        const struct layout *l = layout_of(m->type);
        size_t body;

        if (!l)
                return -EINVAL;
        switch (l->kind) {
        case BODY_WORDS:
        case BODY_BYTES:
                body = l->kind == BODY_WORDS ? 4 * l->size : l->size;
                break;
        case BODY_CLIPBOARD:
                if (m->data_len > GUI_CLIPBOARD_WIRE_MAX)
                        return -EINVAL;
                body = m->data_len;
                break;
        case BODY_DUMP:
                if (m->data_len > GUI_MAX_BODY - GUI_DUMP_HEADER_SIZE || m->data_len % 4)
                        return -EINVAL;
                body = GUI_DUMP_HEADER_SIZE + m->data_len;
                break;
        default:
                return -EINVAL;
        }
        if (size < GUI_HEADER_SIZE + body)
                return -ENOBUFS;

        le32_store(buf, m->type);
        le32_store(buf + 4, m->window);
        le32_store(buf + 8, (uint32_t) body);
        uint8_t *p = buf + GUI_HEADER_SIZE;
        switch (l->kind) {
        case BODY_WORDS:
                for (unsigned i = 0; i < l->size; i++)
                        le32_store(p + 4 * i, m->u.words[i]);
                break;
        case BODY_BYTES:
                memcpy(p, &m->u, body);
                break;
        case BODY_CLIPBOARD:
                if (body)
                        memcpy(p, m->data, body);
                break;
        default:
                for (unsigned i = 0; i < 4; i++)
                        le32_store(p + 4 * i, m->u.words[i]);
                if (m->data_len)
                        memcpy(p + GUI_DUMP_HEADER_SIZE, m->data, m->data_len);
                break;
        }
        return (int) (GUI_HEADER_SIZE + body);
}
