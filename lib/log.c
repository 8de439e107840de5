/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging to the journal or stderr, with systemd's conventions (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION    /* we pass the caller's location ourselves */
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_MESSAGE_MAX 4096

static char log_ident[64];
static int log_max_level = LOG_INFO;
static bool log_to_journal;
static bool log_level_prefix;

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",
        [LOG_ALERT] = "alert",
        [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

/* "debug", "info", ..., "error" too, or a number 0..7; -EINVAL otherwise. */
static int log_level_from_string(const char *s) {
        uint32_t number;

        if (parse_uint32(s, &number) >= 0)
                return number <= LOG_DEBUG ? (int) number : -EINVAL;
        if (strcmp(s, "error") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(log_level_names); i++)
                if (strcmp(s, log_level_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

/* systemd sets $JOURNAL_STREAM to "dev:inode" of the stream it connected to
 * stderr; if fd 2 is still that stream, the journal is listening. */
static bool stderr_is_journal(void) {
        const char *stream = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int consumed = 0;

        if (!stream)
                return false;
        if (sscanf(stream, "%llu:%llu%n", &dev, &ino, &consumed) != 2 || stream[consumed] != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_setup(const char *ident) {
        const char *level = getenv("ODYSSEY_LOG_LEVEL");
        const char *prefix = getenv("ODYSSEY_LOG_PREFIX");

        snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : program_invocation_short_name);
        log_to_journal = stderr_is_journal();
        log_level_prefix = prefix && strcmp(prefix, "1") == 0;

        if (level && *level) {
                int parsed = log_level_from_string(level);
                if (parsed < 0)
                        log_warning("Ignoring invalid ODYSSEY_LOG_LEVEL=%s", level);
                else
                        log_max_level = parsed;
        }
}

void log_set_max_level(int level) {
        if (level < LOG_EMERG)
                level = LOG_EMERG;
        if (level > LOG_DEBUG)
                level = LOG_DEBUG;
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

static int log_to_journal_send(int level, int err, const char *file, int line, const char *func,
                               const char *message) {
        /* Fixed buffers: logging must work when memory is short. */
        char message_field[LOG_MESSAGE_MAX + 16], file_field[512], func_field[256], ident_field[96];
        char priority[16], code_line[32], errno_field[32];
        struct iovec iov[7];
        int n = 0;

        snprintf(message_field, sizeof(message_field), "MESSAGE=%s", message);
        snprintf(file_field, sizeof(file_field), "CODE_FILE=%s", file);
        snprintf(func_field, sizeof(func_field), "CODE_FUNC=%s", func);
        snprintf(ident_field, sizeof(ident_field), "SYSLOG_IDENTIFIER=%s", log_ident);
        snprintf(priority, sizeof(priority), "PRIORITY=%i", level);
        snprintf(code_line, sizeof(code_line), "CODE_LINE=%i", line);

        iov[n++] = (struct iovec) { message_field, strlen(message_field) };
        iov[n++] = (struct iovec) { priority, strlen(priority) };
        iov[n++] = (struct iovec) { file_field, strlen(file_field) };
        iov[n++] = (struct iovec) { code_line, strlen(code_line) };
        iov[n++] = (struct iovec) { func_field, strlen(func_field) };
        iov[n++] = (struct iovec) { ident_field, strlen(ident_field) };
        if (err != 0) {
                snprintf(errno_field, sizeof(errno_field), "ERRNO=%i", err);
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        return sd_journal_sendv(iov, n);
}

static void log_to_stderr(int level, const char *message) {
        char line[LOG_MESSAGE_MAX + 128];
        int len;

        if (log_level_prefix)
                len = snprintf(line, sizeof(line), "<%i>%s[%i]: %s\n", level, log_ident, (int) getpid(), message);
        else
                len = snprintf(line, sizeof(line), "%s[%i]: %s\n", log_ident, (int) getpid(), message);
        if (len < 0)
                return;
        if ((size_t) len >= sizeof(line)) {
                len = sizeof(line) - 1;
                line[len - 1] = '\n';
        }
        /* One write per line, so lines of concurrent writers do not interleave. */
        (void) write_full(STDERR_FILENO, line, (size_t) len);
}

int log_internal(int level, int err, const char *file, int line, const char *func, const char *fmt, ...) {
        char message[LOG_MESSAGE_MAX];
        int saved_errno = errno;
        va_list ap;

        if (err < 0)
                err = -err;
        if (level > log_max_level)
                goto finish;
        if (!log_ident[0])
                snprintf(log_ident, sizeof(log_ident), "%s", program_invocation_short_name);

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (err != 0) {
                size_t used = strlen(message);
                snprintf(message + used, sizeof(message) - used, ": %s", strerror(err));
        }

        if (!log_to_journal || log_to_journal_send(level, err, file, line, func, message) < 0)
                log_to_stderr(level, message);

finish:
        errno = saved_errno;
        return -err;
}
