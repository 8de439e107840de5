/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness: qrexec-policyd's line protocol request parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemons/qrexec-policyd/line-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct line_request r;
        const char *why;
        size_t len;

        if (!line_request_complete((const char *) data, size, &len))
                return 0;
        if (line_request_parse((const char *) data, len, &r, &why) == 0) {
                PolicyRequest req;
                /* Whatever parsed is complete and consistent. */
                if (!r.source || !r.intended_target || !r.service || !r.argument || r.argument[0] != '+' ||
                    strchr(r.service, '+'))
                        abort();
                line_request_to_policy(&r, &req);
                line_request_done(&r);
        } else if (!why)
                abort();
        return 0;
}
