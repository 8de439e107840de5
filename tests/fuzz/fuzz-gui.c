/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the GUI codec.  Input: one byte choosing the
 * direction read (even: from the agent, as guid reads; odd: from guid, as
 * the agent reads), then a stream of messages read the way a receiver
 * does: header, gui_check_header(), body, gui_decode_body(); reading stops
 * where the receiver would drop the peer.  Whatever decodes is encoded
 * again and must come back byte for byte; titles and classes go through
 * the sanitisers, whose output must hold only allowed bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gui.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(cond) do { if (!(cond)) abort(); } while (0)

static uint8_t reencoded[GUI_HEADER_SIZE + GUI_MAX_BODY];

static void check_strings(const struct gui_msg *m) {
        char title[GUI_TITLE_SIZE], cls[GUI_CLASS_SIZE];

        if (m->type == GUI_MSG_WMNAME) {
                gui_sanitize_title(m->u.title, false, title);
                for (size_t i = 0; title[i]; i++)
                        require(title[i] >= 0x20 && title[i] <= 0x7e);
                gui_sanitize_title(m->u.title, true, title);
                require(strlen(title) < GUI_TITLE_SIZE);
                require(utf8_valid(title, strlen(title)));
                for (size_t i = 0; title[i]; i++)
                        require((unsigned char) title[i] >= 0x20 && title[i] != 0x7f);
        } else if (m->type == GUI_MSG_WMCLASS) {
                gui_sanitize_class(m->u.wmclass.res_class, cls);
                for (size_t i = 0; cls[i]; i++)
                        require(cls[i] >= 0x20 && cls[i] <= 0x7e);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct gui_header h;
        struct gui_msg m;

        if (size < 1)
                return 0;
        enum gui_direction from = (data[0] & 1) ? GUI_FROM_DAEMON : GUI_FROM_AGENT;
        data++, size--;

        while (size >= GUI_HEADER_SIZE) {
                gui_decode_header(data, &h);
                if (gui_check_header(&h, from) < 0)
                        return 0;
                require(h.untrusted_len <= GUI_MAX_BODY);
                if (size - GUI_HEADER_SIZE < h.untrusted_len)
                        return 0;
                const uint8_t *body = data + GUI_HEADER_SIZE;
                if (gui_decode_body(&h, body, h.untrusted_len, &m) < 0)
                        return 0;
                check_strings(&m);
                int n = gui_encode(&m, reencoded, sizeof(reencoded));
                require(n == (int) (GUI_HEADER_SIZE + h.untrusted_len));
                require(memcmp(reencoded, data, (size_t) n) == 0);
                data += n;
                size -= (size_t) n;
        }
        return 0;
}
