/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness: arbitrary bytes as the system-info JSON (the strict
 * JSON reader and the system-info shape checks), then name lookups. */
#include <stdint.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PolicySystem *sys = NULL;
        char *error = NULL;

        if (policy_system_parse((const char *) data, size, &sys, &error) >= 0) {
                const PolicyDomain *d = policy_system_find(sys, "work");
                if (d)
                        (void) policy_domain_has_tag(d, "corp");
                (void) policy_system_find(sys, "uuid:11111111-1111-4111-8111-111111111111");
                policy_system_free(sys);
        }
        free(error);
        return 0;
}
