/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the frame decoder of odyssey-vchan-mux
 * (protocol/vchan-mux-codec.c), fed a transport's bytes as the host mux
 * reads them: header, then the whole frame, until the input ends or a frame
 * is refused.  An accepted frame must be self-consistent (re-encoding its
 * header gives the same bytes; a name parses back to what was decoded).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vchan-mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t pos = 0;

        while (size - pos >= VMUX_HEADER_SIZE) {
                struct vmux_header h;
                struct vmux_frame f;
                const char *reason = NULL;
                uint8_t again[VMUX_HEADER_SIZE];

                if (vmux_header_decode(data + pos, &h, &reason) < 0) {
                        if (!reason)
                                abort();
                        return 0;
                }
                if (h.length > VMUX_DATA_MAX || size - pos - VMUX_HEADER_SIZE < h.length)
                        return 0;
                vmux_header_encode(again, (enum vmux_type) h.type, h.stream, h.length);
                if (memcmp(again, data + pos, VMUX_HEADER_SIZE) != 0)
                        abort();
                /* Copy the payload alone, so a read past it is caught. */
                uint8_t *payload = malloc(h.length ? h.length : 1);
                if (!payload)
                        return 0;
                memcpy(payload, data + pos + VMUX_HEADER_SIZE, h.length);
                int r = vmux_frame_decode(&h, payload, &f, &reason);
                if (r == 0 && (h.type == VMUX_LISTEN || h.type == VMUX_UNLISTEN || h.type == VMUX_OPEN)) {
                        struct vmux_name n;
                        if (strlen(f.name_text) != h.length || vmux_name_parse(f.name_text, h.length, &n) < 0 ||
                            memcmp(&n, &f.name, sizeof(n)) != 0)
                                abort();
                }
                free(payload);
                if (r < 0)
                        return 0;
                pos += VMUX_HEADER_SIZE + h.length;
        }
        return 0;
}
