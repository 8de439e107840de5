/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 3629 UTF-8 checks for names and titles that come from a peer, shared
 * by the GUI sanitisers and the file-copy unpacker.  Header-only: the
 * agents compile the protocol sources they need into their own binaries.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the one UTF-8 sequence at s (at most len >= 1 bytes) with its
 * code point in *ret; 0 when it is invalid: truncated, overlong, a
 * surrogate or above U+10FFFF. */
static inline size_t utf8_sequence(const char *s, size_t len, uint32_t *ret) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n;
        uint32_t cp, min;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        } else if ((p[0] & 0xe0) == 0xc0) {
                n = 2, cp = p[0] & 0x1f, min = 0x80;
        } else if ((p[0] & 0xf0) == 0xe0) {
                n = 3, cp = p[0] & 0x0f, min = 0x800;
        } else if ((p[0] & 0xf8) == 0xf0) {
                n = 4, cp = p[0] & 0x07, min = 0x10000;
        } else
                return 0;
        if (n > len)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return n;
}

/* Are the len bytes at s valid UTF-8 (a NUL among them counts as U+0000)? */
static inline bool utf8_valid(const char *s, size_t len) {
        uint32_t cp;

        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence(s + i, len - i, &cp);

                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}
