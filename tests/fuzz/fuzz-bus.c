/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the bus codec: decode arbitrary bytes; whatever
 * decodes must encode back to the very same bytes, and decode the same
 * whatever the output struct held before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t payload_struct_size(uint16_t type) {
        switch (type) {
#define FUZZ_X_SIZE(NAME, lower, num, from, to) \
        case num:                               \
                return sizeof(struct bus_msg_##lower);
        BUS_MESSAGES(FUZZ_X_SIZE)
#undef FUZZ_X_SIZE
        default:
                abort();
        }
}

static struct bus_message decoded, decoded_over_garbage;
static uint8_t reencoded[BUS_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct bus_hdr hdr;
        int r, rh;

        memset(&decoded, 0, sizeof decoded);
        r = bus_decode(data, size, &decoded);
        rh = bus_decode_header(data, size, &hdr);

        if (r != 0 && r != -ENOMSG && r != -EBADMSG)
                abort();
        /* A datagram whose header decodes is never refused as an unknown type
         * unless the type is unknown, and the header comes back either way. */
        if (r == -ENOMSG) {
                if (rh != 0 || bus_type_known(hdr.type) || memcmp(&hdr, &decoded.hdr, sizeof hdr) != 0)
                        abort();
                return 0;
        }
        if (r < 0)
                return 0;

        if (rh != 0 || memcmp(&hdr, &decoded.hdr, sizeof hdr) != 0 || !bus_type_known(hdr.type))
                abort();
        if (size > BUS_HEADER_SIZE + bus_payload_max(hdr.type))
                abort();

        r = bus_encode(&decoded.hdr, &decoded.u, reencoded, sizeof reencoded);
        if (r < 0 || (size_t) r != size || memcmp(reencoded, data, size) != 0)
                abort();

        /* Nothing from a previous message may survive a decode. */
        memset(&decoded_over_garbage, 0xa5, sizeof decoded_over_garbage);
        if (bus_decode(data, size, &decoded_over_garbage) != 0 ||
            memcmp(&decoded.u, &decoded_over_garbage.u, payload_struct_size(hdr.type)) != 0)
                abort();

        return 0;
}
