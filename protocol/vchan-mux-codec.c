/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict encoder/decoder of odyssey-vchan-mux frames (format in
 * vchan-mux.h).  Everything decoded here comes from the other side of the
 * virtio port, a guest the host does not trust: every length is exact or
 * bounded before anything is read, names are pattern-checked.
 */
#include <errno.h>
#include <string.h>

#include "util.h"
#include "vchan-mux.h"

static const char *const type_names[] = {
        [VMUX_HELLO] = "HELLO",   [VMUX_LISTEN] = "LISTEN", [VMUX_UNLISTEN] = "UNLISTEN",
        [VMUX_OPEN] = "OPEN",     [VMUX_DATA] = "DATA",     [VMUX_CREDIT] = "CREDIT",
        [VMUX_EOF] = "EOF",       [VMUX_CLOSE] = "CLOSE",
};

const char *vmux_type_to_string(uint8_t type) {
        return type < ELEMENTSOF(type_names) ? type_names[type] : NULL;
}

void vmux_header_encode(uint8_t out[VMUX_HEADER_SIZE], enum vmux_type type, uint16_t stream, uint32_t length) {
        out[0] = (uint8_t) type;
        out[1] = 0;
        le16_store(out + 2, stream);
        le32_store(out + 4, length);
}

void vmux_hello_encode(uint8_t out[VMUX_HELLO_SIZE], uint32_t session) {
        vmux_header_encode(out, VMUX_HELLO, 0, VMUX_HELLO_SIZE - VMUX_HEADER_SIZE);
        le32_store(out + VMUX_HEADER_SIZE, VMUX_VERSION);
        le32_store(out + VMUX_HEADER_SIZE + 4, session);
}

static int refuse(const char **reason, const char *why) {
        if (reason)
                *reason = why;
        return -EBADMSG;
}

int vmux_header_decode(const uint8_t untrusted_in[VMUX_HEADER_SIZE], struct vmux_header *ret, const char **reason) {
        struct vmux_header untrusted_h = {
                .type = untrusted_in[0],
                .flags = untrusted_in[1],
                .stream = le16_load(untrusted_in + 2),
                .length = le32_load(untrusted_in + 4),
        };
        bool on_stream;

        if (!vmux_type_to_string(untrusted_h.type))
                return refuse(reason, "unknown frame type");
        if (untrusted_h.flags != 0)
                return refuse(reason, "nonzero flags");

        on_stream = untrusted_h.type != VMUX_HELLO && untrusted_h.type != VMUX_LISTEN &&
                    untrusted_h.type != VMUX_UNLISTEN;
        if (on_stream != (untrusted_h.stream != 0))
                return refuse(reason, on_stream ? "stream 0 on a stream frame" : "stream id on a control frame");

        switch (untrusted_h.type) {
        case VMUX_HELLO:
                if (untrusted_h.length != VMUX_HELLO_SIZE - VMUX_HEADER_SIZE)
                        return refuse(reason, "bad length");
                break;
        case VMUX_CREDIT:
                if (untrusted_h.length != 4)
                        return refuse(reason, "bad length");
                break;
        case VMUX_LISTEN:
        case VMUX_UNLISTEN:
        case VMUX_OPEN:
                if (untrusted_h.length == 0 || untrusted_h.length > VMUX_NAME_MAX)
                        return refuse(reason, "bad name length");
                break;
        case VMUX_DATA:
                if (untrusted_h.length == 0 || untrusted_h.length > VMUX_DATA_MAX)
                        return refuse(reason, "bad data length");
                break;
        case VMUX_EOF:
        case VMUX_CLOSE:
                if (untrusted_h.length != 0)
                        return refuse(reason, "bad length");
                break;
        }
        *ret = untrusted_h;
        return 0;
}

/* A decimal number without leading zeros, at most max: the digits used, or 0. */
static size_t parse_decimal(const char *untrusted_s, size_t n, uint32_t max, uint32_t *ret) {
        uint32_t v = 0;
        size_t i = 0;

        while (i < n && untrusted_s[i] >= '0' && untrusted_s[i] <= '9') {
                if (i > 0 && v == 0)
                        return 0;       /* leading zero */
                v = v * 10 + (uint32_t) (untrusted_s[i] - '0');
                if (v > max)
                        return 0;
                i++;
        }
        *ret = v;
        return i;
}

int vmux_name_parse(const char *untrusted_s, size_t n, struct vmux_name *ret) {
        static const char prefix[] = "vchan.", suffix[] = ".sock";
        uint32_t v[3];
        const uint32_t max[3] = { VMUX_DOMID_MAX, VMUX_DOMID_MAX, 65535 };
        size_t pos, used;

        if (n > VMUX_NAME_MAX || n < sizeof(prefix) - 1 || memcmp(untrusted_s, prefix, sizeof(prefix) - 1) != 0)
                return -EINVAL;
        pos = sizeof(prefix) - 1;
        for (unsigned i = 0; i < 3; i++) {
                used = parse_decimal(untrusted_s + pos, n - pos, max[i], &v[i]);
                if (used == 0)
                        return -EINVAL;
                pos += used;
                if (i < 2) {
                        if (pos >= n || untrusted_s[pos] != '.')
                                return -EINVAL;
                        pos++;
                }
        }
        if (v[2] == 0 || n - pos != sizeof(suffix) - 1 || memcmp(untrusted_s + pos, suffix, sizeof(suffix) - 1) != 0)
                return -EINVAL;
        *ret = (struct vmux_name) { .server = (uint16_t) v[0], .client = (uint16_t) v[1], .port = (uint16_t) v[2] };
        return 0;
}

int vmux_frame_decode(const struct vmux_header *h, const uint8_t *untrusted_payload, struct vmux_frame *ret,
                      const char **reason) {
        struct vmux_frame f = { .header = *h };

        switch (h->type) {
        case VMUX_HELLO:
                f.value = le32_load(untrusted_payload);
                if (f.value != VMUX_VERSION)
                        return refuse(reason, "unsupported version");
                f.session = le32_load(untrusted_payload + 4);
                break;
        case VMUX_CREDIT:
                f.value = le32_load(untrusted_payload);
                if (f.value == 0 || f.value > VMUX_WINDOW)
                        return refuse(reason, "bad credit");
                break;
        case VMUX_LISTEN:
        case VMUX_UNLISTEN:
        case VMUX_OPEN:
                if (vmux_name_parse((const char *) untrusted_payload, h->length, &f.name) < 0)
                        return refuse(reason, "bad socket name");
                memcpy(f.name_text, untrusted_payload, h->length);
                f.name_text[h->length] = 0;
                break;
        case VMUX_DATA:
                f.data = untrusted_payload;
                break;
        default:
                break;
        }
        *ret = f;
        return 0;
}
