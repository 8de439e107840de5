/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GUI protocol: version negotiation and the sanitising of untrusted
 * strings (titles, classes), as Qubes' guid does (reference gui.md §2.2).
 */
#include <errno.h>
#include <string.h>

#include "gui.h"

int gui_negotiate_version(uint32_t untrusted_agent_version, uint32_t *ret) {
        uint32_t major = untrusted_agent_version >> 16, minor = untrusted_agent_version & 0xffff;

        if (major != GUI_PROTOCOL_MAJOR || minor < GUI_PROTOCOL_MIN_MINOR)
                return -EPROTONOSUPPORT;
        if (minor > GUI_PROTOCOL_MINOR)
                minor = GUI_PROTOCOL_MINOR;
        *ret = (major << 16) | minor;
        return 0;
}

int gui_check_daemon_version(uint32_t untrusted_version) {
        uint32_t major = untrusted_version >> 16, minor = untrusted_version & 0xffff;

        if (major != GUI_PROTOCOL_MAJOR || minor < GUI_PROTOCOL_MIN_MINOR || minor > GUI_PROTOCOL_MINOR)
                return -EPROTONOSUPPORT;
        return 0;
}

/* Length of the UTF-8 sequence at s (at most len bytes), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t len, uint32_t *ret) {
        size_t n;
        uint32_t cp, min;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        } else if ((s[0] & 0xe0) == 0xc0) {
                n = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4, cp = s[0] & 0x07, min = 0x10000;
        } else
                return 0;
        if (n > len)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return n;
}

bool gui_utf8_valid(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        uint32_t cp;

        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence(p + i, len - i, &cp);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

static bool printable_ascii(unsigned char c) {
        return c >= 0x20 && c <= 0x7e;
}

void gui_sanitize_title(const char untrusted_title[GUI_TITLE_SIZE], bool allow_utf8,
                        char ret[GUI_TITLE_SIZE]) {
        size_t len = strnlen(untrusted_title, GUI_TITLE_SIZE - 1);
        const unsigned char *p = (const unsigned char *) untrusted_title;

        if (allow_utf8 && gui_utf8_valid(untrusted_title, len)) {
                size_t o = 0;
                uint32_t cp;
                for (size_t i = 0; i < len;) {
                        size_t n = utf8_sequence(p + i, len - i, &cp);
                        bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
                                       cp == 0x2028 || cp == 0x2029 ||
                                       (cp >= 0x202a && cp <= 0x202e) ||   /* bidi overrides */
                                       (cp >= 0x2066 && cp <= 0x2069);
                        if (control)
                                ret[o++] = '_';
                        else {
                                memcpy(ret + o, p + i, n);
                                o += n;
                        }
                        i += n;
                }
                ret[o] = '\0';
                return;
        }
        for (size_t i = 0; i < len; i++)
                ret[i] = printable_ascii(p[i]) ? (char) p[i] : '_';
        ret[len] = '\0';
}

void gui_sanitize_class(const char untrusted_class[GUI_CLASS_SIZE], char ret[GUI_CLASS_SIZE]) {
        size_t len = strnlen(untrusted_class, GUI_CLASS_SIZE - 1);

        for (size_t i = 0; i < len; i++)
                ret[i] = printable_ascii((unsigned char) untrusted_class[i]) ? untrusted_class[i] : '_';
        ret[len] = '\0';
}
