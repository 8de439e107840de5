/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every Admin API client shares with api.c: the connection settings
 * (--address, --reply-timeout) and the error messages, prefixed with the
 * program's own name (qubes-ctl, odyssey-ask-dialog).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "qubes-ctl.h"

const char *arg_address;
uint64_t arg_reply_timeout_usec;

static void print_error(int err, const char *fmt, va_list ap) {
        fflush(stdout);         /* keep what was printed before the message in order */
        fprintf(stderr, "%s: ", program_invocation_short_name);
        vfprintf(stderr, fmt, ap);
        if (err != 0)
                fprintf(stderr, ": %s", strerror(err));
        fputc('\n', stderr);
}

void ctl_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        print_error(0, fmt, ap);
        va_end(ap);
}

int ctl_error_errno(int err, const char *fmt, ...) {
        va_list ap;

        err = err < 0 ? -err : err;
        va_start(ap, fmt);
        print_error(err, fmt, ap);
        va_end(ap);
        return -err;
}
