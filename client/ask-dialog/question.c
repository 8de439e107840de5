/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An Ask's text comes from a policy request that a domain shaped (its name,
 * the service and argument it asked for, the targets the policy allows for
 * them).  qubesd and qrexec-policyd already restrict it; the dialog checks
 * it again before drawing it, and only ever draws it as plain text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ask-dialog.h"

bool question_text_ok(const char *untrusted_s) {
        size_t n = 0;

        for (const char *p = untrusted_s; *p; p++, n++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e || n >= ASK_TEXT_MAX)
                        return false;
        return n > 0;
}

void question_done(struct question *q) {
        free(q->source);
        free(q->service);
        free(q->argument);
        for (size_t i = 0; i < q->n_targets; i++)
                free(q->targets[i]);
        free(q->targets);
        *q = (struct question) {};
}

static int read_targets(sd_bus_message *m, struct question *q) {
        const char *untrusted_target;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &untrusted_target)) > 0) {
                if (!question_text_ok(untrusted_target) || q->n_targets >= ASK_TARGETS_MAX)
                        return -EBADMSG;
                char **grown = reallocarray(q->targets, q->n_targets + 1, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                q->targets = grown;
                if (!(q->targets[q->n_targets] = strdup(untrusted_target)))
                        return -ENOMEM;
                q->n_targets++;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int question_parse(sd_bus_message *m, struct question *ret) {
        const char *untrusted_source, *untrusted_service, *untrusted_default;
        struct question q = {};
        int r;

        r = sd_bus_message_read(m, "ss", &untrusted_source, &untrusted_service);
        if (r >= 0)
                r = read_targets(m, &q);
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &untrusted_default);
        if (r >= 0 && (!question_text_ok(untrusted_source) || !question_text_ok(untrusted_service) ||
                       q.n_targets == 0 || (*untrusted_default && !question_text_ok(untrusted_default))))
                r = -EBADMSG;
        if (r < 0) {
                question_done(&q);
                return r;
        }
        /* "SERVICE+ARG": the argument is shown on its own line */
        size_t n = strcspn(untrusted_service, "+");
        q.source = strdup(untrusted_source);
        q.service = strndup(untrusted_service, n);
        q.argument = strdup(untrusted_service[n] ? untrusted_service + n + 1 : "");
        if (!q.source || !q.service || !q.argument || !q.service[0]) {
                r = !q.service || q.service[0] ? -ENOMEM : -EBADMSG;
                question_done(&q);
                return r;
        }
        q.default_index = q.n_targets;
        for (size_t i = 0; i < q.n_targets; i++)
                if (strcmp(q.targets[i], untrusted_default) == 0)
                        q.default_index = i;
        *ret = q;
        return 0;
}
