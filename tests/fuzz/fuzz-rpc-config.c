/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: qrexec-agent's rpc-config parser (service_config_parse)
 * on arbitrary text; an accepted config must hold only valid values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agents/qrexec-agent/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct service_config config;
        char *text;

        if (size > 70 * 1024)
                return 0;
        text = malloc(size + 1);
        if (!text)
                abort();
        memcpy(text, data, size);
        text[size] = '\0';              /* the agent refuses NULs before parsing */
        if (service_config_parse(text, &config) == 0 && config.force_user[0] &&
            !user_name_valid(config.force_user))
                abort();
        free(text);
        return 0;
}
