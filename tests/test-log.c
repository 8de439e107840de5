/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/log.c: the stderr format, levels from $ODYSSEY_LOG_LEVEL, the *_errno
 * return values, and the journal fields when stderr is the journal (checked
 * against a fake journald socket in a private mount namespace).
 * Each test runs in its own process (check forks), so log.c's state is fresh.
 */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "check-helpers.h"
#include "log.h"
#include "sandbox.h"

/* Point fd 2 at a fresh temporary file; returns a second fd to read it back. */
static int capture_stderr(void) {
        char path[] = "/tmp/test-log-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        unlink(path);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        return fd;
}

static char *captured(int fd) {
        static char text[8192];
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

        ck_assert_int_ge(n, 0);
        text[n] = '\0';
        return text;
}

START_TEST(test_stderr_format) {
        int fd = capture_stderr();
        char expected[256];

        unsetenv("JOURNAL_STREAM");
        unsetenv("ODYSSEY_LOG_LEVEL");
        unsetenv("ODYSSEY_LOG_PREFIX");
        log_setup("test-ident");
        errno = EBADMSG;
        ck_assert_int_eq(log_error("hello %d", 5), 0);
        ck_assert_int_eq(errno, EBADMSG);         /* logging leaves errno alone */
        ck_assert_int_eq(log_warning_errno(EIO, "writing %s", "x"), -EIO);
        ck_assert_int_eq(log_error_errno(-ENOENT, "negative"), -ENOENT);

        snprintf(expected, sizeof(expected),
                 "test-ident[%i]: hello 5\n"
                 "test-ident[%i]: writing x: %s\n"
                 "test-ident[%i]: negative: %s\n",
                 (int) getpid(), (int) getpid(), strerror(EIO), (int) getpid(), strerror(ENOENT));
        ck_assert_str_eq(captured(fd), expected);
}
END_TEST

START_TEST(test_levels) {
        int fd = capture_stderr();

        unsetenv("JOURNAL_STREAM");
        setenv("ODYSSEY_LOG_LEVEL", "warning", 1);
        log_setup("lv");
        ck_assert_int_eq(log_get_max_level(), LOG_WARNING);
        log_info("not shown");
        /* Filtered messages still give the caller its error code. */
        ck_assert_int_eq(log_debug_errno(EPERM, "not shown either"), -EPERM);
        log_warning("shown");
        ck_assert_ptr_null(strstr(captured(fd), "not shown"));
        ck_assert_ptr_nonnull(strstr(captured(fd), "lv["));
        ck_assert_ptr_nonnull(strstr(captured(fd), "]: shown\n"));

        setenv("ODYSSEY_LOG_LEVEL", "7", 1);
        log_setup("lv");
        ck_assert_int_eq(log_get_max_level(), LOG_DEBUG);
        log_debug("debug now");
        ck_assert_ptr_nonnull(strstr(captured(fd), "]: debug now\n"));

        setenv("ODYSSEY_LOG_LEVEL", "err", 1);
        log_setup("lv");
        ck_assert_int_eq(log_get_max_level(), LOG_ERR);

        /* Garbage keeps the current level and says so. */
        setenv("ODYSSEY_LOG_LEVEL", "loud", 1);
        log_setup("lv");
        ck_assert_int_eq(log_get_max_level(), LOG_ERR);
        setenv("ODYSSEY_LOG_LEVEL", "8", 1);
        log_setup("lv");
        ck_assert_int_eq(log_get_max_level(), LOG_ERR);

        log_set_max_level(99);
        ck_assert_int_eq(log_get_max_level(), LOG_DEBUG);
        log_set_max_level(-3);
        ck_assert_int_eq(log_get_max_level(), LOG_EMERG);
}
END_TEST

START_TEST(test_level_prefix) {
        int fd = capture_stderr();
        char expected[64];

        unsetenv("JOURNAL_STREAM");
        unsetenv("ODYSSEY_LOG_LEVEL");
        setenv("ODYSSEY_LOG_PREFIX", "1", 1);
        log_setup("pfx");
        log_notice("n");
        snprintf(expected, sizeof(expected), "<5>pfx[%i]: n\n", (int) getpid());
        ck_assert_str_eq(captured(fd), expected);
}
END_TEST

/* A field "NAME=value" of a journal native-protocol datagram (text form only). */
static const char *journal_field(char *datagram, const char *name, char *out, size_t out_size) {
        size_t name_len = strlen(name);

        for (char *line = datagram; line && *line;) {
                char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);
                if (len > name_len && strncmp(line, name, name_len) == 0 && line[name_len] == '=') {
                        snprintf(out, out_size, "%.*s", (int) (len - name_len - 1), line + name_len + 1);
                        return out;
                }
                line = end ? end + 1 : NULL;
        }
        return NULL;
}

/* Give this process its own /run with a socket where journald's would be. */
static int fake_journal(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                return -errno;
        ck_assert_int_eq(mkdir_p("/run/systemd/journal", 0755), 0);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

START_TEST(test_journal) {
        int journal = fake_journal();
        if (journal == -EPERM) {
                fprintf(stderr, "test_journal: no permission for a mount namespace, not checking the journal\n");
                return;
        }
        ck_assert_int_ge(journal, 0);

        int fd = capture_stderr();
        struct stat st;
        char stream[64], datagram[8192], value[256], expected_message[128];

        /* $JOURNAL_STREAM names a different file: not the journal. */
        setenv("JOURNAL_STREAM", "1:1", 1);
        unsetenv("ODYSSEY_LOG_LEVEL");
        log_setup("jr");
        log_info("to stderr");
        ck_assert_ptr_nonnull(strstr(captured(fd), "jr["));

        /* It names our fd 2: the journal gets it, stderr does not. */
        ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
        snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", stream, 1);
        log_setup("jr");
        int line = __LINE__ + 1;
        ck_assert_int_eq(log_error_errno(EACCES, "to the %s", "journal"), -EACCES);
        ck_assert_ptr_null(strstr(captured(fd), "to the journal"));

        ssize_t n = recv(journal, datagram, sizeof(datagram) - 1, MSG_DONTWAIT);
        ck_assert_int_gt(n, 0);
        datagram[n] = '\0';
        snprintf(expected_message, sizeof(expected_message), "to the journal: %s", strerror(EACCES));
        ck_assert_str_eq(journal_field(datagram, "MESSAGE", value, sizeof(value)), expected_message);
        ck_assert_str_eq(journal_field(datagram, "PRIORITY", value, sizeof(value)), "3");
        ck_assert_str_eq(journal_field(datagram, "SYSLOG_IDENTIFIER", value, sizeof(value)), "jr");
        ck_assert_str_eq(journal_field(datagram, "ERRNO", value, sizeof(value)), "13");
        /* check names the function behind START_TEST(test_journal) test_journal_fn */
        ck_assert_str_eq(journal_field(datagram, "CODE_FUNC", value, sizeof(value)), "test_journal_fn");
        ck_assert_ptr_nonnull(strstr(journal_field(datagram, "CODE_FILE", value, sizeof(value)), "test-log.c"));
        ck_assert_int_eq(atoi(journal_field(datagram, "CODE_LINE", value, sizeof(value))), line);

        /* No ERRNO= field without an error. */
        log_notice("plain");
        n = recv(journal, datagram, sizeof(datagram) - 1, MSG_DONTWAIT);
        ck_assert_int_gt(n, 0);
        datagram[n] = '\0';
        ck_assert_str_eq(journal_field(datagram, "PRIORITY", value, sizeof(value)), "5");
        ck_assert_ptr_null(journal_field(datagram, "ERRNO", value, sizeof(value)));

        /* The journal refusing a message: it goes to stderr rather than vanish.
         * (A missing socket is not a failure for sd_journal_sendv(): it drops
         * the message silently, so make the socket the wrong type instead.) */
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        ck_assert_int_eq(unlink(sa.sun_path), 0);
        int wrong = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(wrong, 0);
        ck_assert_int_eq(bind(wrong, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(wrong, 1), 0);
        log_error("fallback");
        ck_assert_ptr_nonnull(strstr(captured(fd), "]: fallback\n"));
        close(wrong);
        close(journal);
}
END_TEST

/* A sandboxed daemon's first journal message: the socket is made, and the
 * entry sent, from inside the seccomp filter. */
START_TEST(test_journal_from_sandbox) {
        int journal = fake_journal();
        if (journal == -EPERM) {
                fprintf(stderr, "test_journal_from_sandbox: no permission for a mount namespace, not checking\n");
                return;
        }
        ck_assert_int_ge(journal, 0);

        int fd = capture_stderr();
        struct stat st;
        char stream[64], datagram[8192], value[256];

        ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
        snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", stream, 1);
        unsetenv("ODYSSEY_NO_SECCOMP");

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                log_setup("sandboxed");
                if (sandbox_apply(NULL) < 0)
                        _exit(1);
                log_warning("from the sandbox");
                _exit(0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        ssize_t n = recv(journal, datagram, sizeof(datagram) - 1, MSG_DONTWAIT);
        ck_assert_msg(n > 0, "no journal entry from the sandboxed process; its stderr: %s", captured(fd));
        datagram[n] = '\0';
        ck_assert_str_eq(journal_field(datagram, "MESSAGE", value, sizeof(value)), "from the sandbox");
        ck_assert_str_eq(journal_field(datagram, "SYSLOG_IDENTIFIER", value, sizeof(value)), "sandboxed");
        close(journal);
}
END_TEST

int main(void) {
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("log");

        tcase_add_test(tc, test_stderr_format);
        tcase_add_test(tc, test_levels);
        tcase_add_test(tc, test_level_prefix);
        tcase_add_test(tc, test_journal);
        tcase_add_test(tc, test_journal_from_sandbox);
        suite_add_tcase(s, tc);

        return check_run_suite(s);
}
