/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GUI protocol: version negotiation and the sanitising of untrusted
 * strings (titles, classes), as Qubes' guid does (reference gui.md §2.2).
 */
#include <errno.h>
#include <string.h>

#include "gui.h"
#include "utf8.h"

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

static bool printable_ascii(unsigned char c) {
        return c >= 0x20 && c <= 0x7e;
}

void gui_sanitize_title(const char untrusted_title[GUI_TITLE_SIZE], bool allow_utf8,
                        char ret[GUI_TITLE_SIZE]) {
        size_t len = strnlen(untrusted_title, GUI_TITLE_SIZE - 1);
        const unsigned char *p = (const unsigned char *) untrusted_title;

        if (allow_utf8 && utf8_valid(untrusted_title, len)) {
                size_t o = 0;
                uint32_t cp = 0;        /* utf8_sequence() sets it: the title is valid */
                for (size_t i = 0; i < len;) {
                        size_t n = utf8_sequence(untrusted_title + i, len - i, &cp);
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
