/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: arbitrary bytes as one policy file (parser, directives
 * — their includes resolve into a directory that does not exist — and the
 * index), then a few requests evaluated against a small fixed system.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char system_json[] =
        "{\"domains\":{"
        "\"dom0\":{\"type\":\"AdminVM\",\"tags\":[],\"default_dispvm\":\"dvm\",\"template_for_dispvms\":false,"
        "\"power_state\":\"Running\",\"uuid\":\"00000000-0000-0000-0000-000000000000\",\"internal\":false,"
        "\"icon\":\"adminvm-black\",\"guivm\":null},"
        "\"work\":{\"type\":\"AppVM\",\"tags\":[\"corp\"],\"default_dispvm\":\"dvm\",\"template_for_dispvms\":false,"
        "\"power_state\":\"Running\",\"uuid\":\"11111111-1111-4111-8111-111111111111\",\"internal\":false,"
        "\"icon\":\"appvm-blue\",\"guivm\":\"dom0\"},"
        "\"personal\":{\"type\":\"AppVM\",\"tags\":[],\"default_dispvm\":null,\"template_for_dispvms\":false,"
        "\"power_state\":\"Halted\",\"uuid\":\"22222222-2222-4222-8222-222222222222\",\"internal\":false,"
        "\"icon\":\"appvm-green\",\"guivm\":\"dom0\"},"
        "\"dvm\":{\"type\":\"AppVM\",\"tags\":[],\"default_dispvm\":\"dvm\",\"template_for_dispvms\":true,"
        "\"power_state\":\"Halted\",\"uuid\":\"33333333-3333-4333-8333-333333333333\",\"internal\":false,"
        "\"icon\":\"appvm-red\",\"guivm\":\"dom0\"}}}";

static const PolicyRequest requests[] = {
        { .source = "work", .target = "personal", .service = "test.Svc", .argument = "" },
        { .source = "work", .target = "", .service = "test.Svc", .argument = "+arg" },
        { .source = "personal", .target = "@dispvm", .service = "qubes.Filecopy", .argument = "" },
        { .source = "work", .target = "@dispvm:dvm", .service = "qubes.OpenURL", .argument = "" },
        { .source = "work", .target = "dom0", .service = "admin.vm.List", .argument = "" },
        { .source = "work", .target = "uuid:22222222-2222-4222-8222-222222222222", .service = "test.Svc",
          .argument = "", .assume_yes_for_ask = true },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static PolicySystem *sys;
        Policy *p;

        if (!sys && policy_system_parse(system_json, sizeof(system_json) - 1, &sys, NULL) < 0)
                abort();        /* the fixed system must parse */
        p = policy_new();
        if (!p)
                return 0;
        if (policy_parse_text(p, "/nonexistent-odyssey-fuzz/50-fuzz.policy", (const char *) data, size,
                              "/nonexistent-odyssey-fuzz", "/nonexistent-odyssey-fuzz/legacy") >= 0 &&
            policy_index(p) >= 0)
                for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
                        PolicyDecision d;
                        if (policy_evaluate(p, sys, &requests[i], &d) >= 0)
                                policy_decision_done(&d);
                }
        for (size_t i = 0; i < p->n_errors; i++)
                free(policy_error_format(&p->errors[i]));
        policy_free(p);
        return 0;
}
