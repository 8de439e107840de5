/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging with systemd's conventions: to the journal (native protocol) when
 * stderr is connected to it ($JOURNAL_STREAM matches), else to stderr as
 * "ident[pid]: message" with a "<N>" level prefix when ODYSSEY_LOG_PREFIX=1.
 * The *_errno variants append ": strerror" and return -abs(err), so a caller
 * can `return log_error_errno(r, "...")`.
 */
#pragma once

#include <syslog.h>

#include "util.h"

void log_setup(const char *ident);
void log_set_max_level(int level);     /* LOG_DEBUG .. LOG_EMERG; default LOG_INFO, $ODYSSEY_LOG_LEVEL */
int log_get_max_level(void);

int log_internal(int level, int err, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, err, ...) \
        log_internal((level), (err), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
