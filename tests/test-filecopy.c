/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qubes.Filecopy stream (protocol/filecopy.h): the packer and the strict
 * unpacker between two processes (0 B, 1 B, a large file, odd names, a
 * directory tree, a symlink, modes and times), the exact layout and CRC, and
 * hostile streams refused with nothing written outside the target.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-helpers.h"
#include "filecopy.h"
#include "util.h"

static char base[64], src[128], dst[128], outside[128];

static void setup(void) {
        strcpy(base, "/tmp/test-filecopy.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(base));
        snprintf(src, sizeof(src), "%s/src", base);
        snprintf(dst, sizeof(dst), "%s/dst", base);
        snprintf(outside, sizeof(outside), "%s/outside", base);
        ck_assert_int_eq(mkdir(src, 0755), 0);
        ck_assert_int_eq(mkdir(dst, 0700), 0);
        ck_assert_int_eq(mkdir(outside, 0755), 0);
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_full(fd, data, n), 0);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        close(fd);
}

/* Send `paths` from a child, unpack here; the sender's and the unpacker's results. */
static void copy(const char *const *paths, int *ret_sender, int *ret_unpack) {
        struct filecopy_unpack_result result;
        int data[2], answer[2], dir_fd, status;
        pid_t pid;

        ck_assert_int_eq(pipe2(data, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(answer, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct filecopy_sender s;
                int r = 0;

                close(data[0]);
                close(answer[1]);
                signal(SIGPIPE, SIG_IGN);       /* as qfile-agent: EPIPE, then the result */
                filecopy_sender_init(&s, data[1]);
                for (size_t i = 0; paths[i] && r >= 0; i++)
                        r = filecopy_send_path(&s, paths[i]);
                r = r == -EPIPE ? filecopy_read_result(&s, answer[0]) : r < 0 ? r : filecopy_send_end(&s, answer[0]);
                _exit(r < 0 ? -r : 0);
        }
        close(data[1]);
        close(answer[0]);
        dir_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dir_fd, 0);
        *ret_unpack = filecopy_unpack(data[0], dir_fd, NULL, &result);
        ck_assert_int_eq(filecopy_send_result(answer[1], *ret_unpack, &result), 0);
        close(dir_fd);
        close(data[0]);
        close(answer[1]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        *ret_sender = WEXITSTATUS(status);
}

START_TEST(test_round_trip) {
        static const char *const odd[] = { "with space", "new\nline", "\xc3\xbcnic\xc3\xb8" "de", "-leading-dash",
                                           "'quote\"", NULL };
        const size_t large = 5 * 1024 * 1024 + 17;
        uint8_t *pattern = malloc(large);
        char path[512], cmd[512];
        const char *paths[4];
        struct timespec times[2] = { { .tv_sec = 1000000000, .tv_nsec = 5 }, { .tv_sec = 1234567890, .tv_nsec = 0 } };
        struct stat st;
        int sender, unpack;

        ck_assert_ptr_nonnull(pattern);
        for (size_t i = 0; i < large; i++)
                pattern[i] = (uint8_t) (i * 7 + (i >> 13));
        snprintf(path, sizeof(path), "%s/empty", src);
        write_file(path, "", 0, 0644);
        snprintf(path, sizeof(path), "%s/one", src);
        write_file(path, "x", 1, 0640);
        ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
        snprintf(path, sizeof(path), "%s/tree", src);
        ck_assert_int_eq(mkdir(path, 0750), 0);
        snprintf(path, sizeof(path), "%s/tree/large", src);
        write_file(path, pattern, large, 0600);
        snprintf(path, sizeof(path), "%s/tree/sub", src);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        for (size_t i = 0; odd[i]; i++) {
                snprintf(path, sizeof(path), "%s/tree/sub/%s", src, odd[i]);
                write_file(path, odd[i], strlen(odd[i]), 0644);
        }
        snprintf(path, sizeof(path), "%s/tree/link", src);
        ck_assert_int_eq(symlink("sub/with space", path), 0);
        free(pattern);

        char p1[256], p2[256], p3[256];
        snprintf(p1, sizeof(p1), "%s/empty", src);
        snprintf(p2, sizeof(p2), "%s/one", src);
        snprintf(p3, sizeof(p3), "%s/tree/", src);      /* a trailing slash names "tree" */
        paths[0] = p1;
        paths[1] = p2;
        paths[2] = p3;
        paths[3] = NULL;
        copy(paths, &sender, &unpack);
        ck_assert_int_eq(unpack, 0);
        ck_assert_int_eq(sender, 0);

        snprintf(cmd, sizeof(cmd), "diff -r --no-dereference '%s' '%s'", src, dst);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/one", dst);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0640);
        ck_assert_int_eq(st.st_mtim.tv_sec, 1234567890);
        ck_assert_int_eq(st.st_size, 1);
        snprintf(path, sizeof(path), "%s/tree/large", dst);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_int_eq(st.st_size, (off_t) large);
        snprintf(path, sizeof(path), "%s/tree", dst);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0750);
        snprintf(path, sizeof(path), "%s/tree/link", dst);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISLNK(st.st_mode));

        /* Copying the same again collides: the receiver never overwrites. */
        paths[0] = p2;
        paths[1] = NULL;
        copy(paths, &sender, &unpack);
        ck_assert_int_eq(unpack, -EEXIST);
        ck_assert_int_eq(sender, EEXIST);
}
END_TEST

START_TEST(test_layout_and_crc) {
        struct filecopy_header h = { .namelen = 3, .mode = 0100644, .filelen = 0x0102030405060708ull,
                                     .atime = 1, .atime_nsec = 2, .mtime = 3, .mtime_nsec = 4 }, back;
        static const uint8_t expected[FILECOPY_HEADER_SIZE] = {
                3, 0, 0, 0, 0xa4, 0x81, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1,
                1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0,
        };
        uint8_t buf[FILECOPY_HEADER_SIZE];

        filecopy_header_encode(&h, buf);
        ck_assert_mem_eq(buf, expected, sizeof(buf));
        filecopy_header_decode(buf, &back);
        ck_assert_mem_eq(&back, &h, sizeof(h));
        /* The CRC-32 check value, and chaining. */
        ck_assert_uint_eq(filecopy_crc32(0, "123456789", 9), 0xCBF43926u);
        ck_assert_uint_eq(filecopy_crc32(filecopy_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}
END_TEST

/* --- hostile streams --- */

struct stream {
        uint8_t *buf;
        size_t len;
};

static void put(struct stream *s, const void *data, size_t n) {
        s->buf = realloc(s->buf, s->len + n);
        ck_assert_ptr_nonnull(s->buf);
        memcpy(s->buf + s->len, data, n);
        s->len += n;
}

/* An entry with an explicit namelen (the name bytes are `namelen` bytes of name). */
static void put_entry(struct stream *s, const char *name, uint32_t namelen, uint32_t mode, const char *data,
                      uint64_t filelen, size_t data_sent) {
        struct filecopy_header h = { .namelen = namelen, .mode = mode, .filelen = filelen };
        uint8_t hdr[FILECOPY_HEADER_SIZE];

        filecopy_header_encode(&h, hdr);
        put(s, hdr, sizeof(hdr));
        put(s, name, namelen);
        if (data_sent)
                put(s, data, data_sent);
}

static void put_file(struct stream *s, const char *name, const char *data) {
        put_entry(s, name, (uint32_t) strlen(name) + 1, 0100644, data, strlen(data), strlen(data));
}

static void put_end(struct stream *s) {
        uint8_t hdr[FILECOPY_HEADER_SIZE] = {};

        put(s, hdr, sizeof(hdr));
}

/* Unpack the stream into dst; -errno. */
static int unpack(struct stream *s, const struct filecopy_unpack_options *opts) {
        struct filecopy_unpack_result result;
        int fd = memfd_create("stream", MFD_CLOEXEC), dir_fd, r;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_full(fd, s->buf, s->len), 0);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        dir_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dir_fd, 0);
        r = filecopy_unpack(fd, dir_fd, opts, &result);
        close(dir_fd);
        close(fd);
        free(s->buf);
        *s = (struct stream) {};
        return r;
}

static void assert_outside_untouched(void) {
        char cmd[512];

        /* Only dst and outside/ in base; outside/ as it was (empty). */
        snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'dst outside src ' && "
                 "test -z \"$(ls -A '%s')\" && ! test -e /tmp/filecopy-escape", base, outside);
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_hostile_streams) {
        struct filecopy_unpack_options utf8 = { .require_utf8 = true }, small = { .max_bytes = 10 };
        struct stream s = {};
        char path[512], link_target[512], big[FILECOPY_MAX_PATH_LENGTH + 8];

        put_file(&s, "../escape", "x");
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_file(&s, "/tmp/filecopy-escape", "x");
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_file(&s, "a/../../escape", "x");
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_file(&s, "a//b", "x");
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_entry(&s, "", 1, 0100644, "", 0, 0);                        /* empty name */
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_entry(&s, "abcd", 4, 0100644, "", 0, 0);                    /* no NUL at its end */
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_entry(&s, "a\0b", 4, 0100644, "", 0, 0);                    /* NUL inside */
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        memset(big, 'n', sizeof(big));
        put_entry(&s, big, FILECOPY_MAX_PATH_LENGTH + 1, 0100644, "", 0, 0);
        ck_assert_int_eq(unpack(&s, NULL), -EMSGSIZE);
        put_entry(&s, "fifo", 5, 0010644, "", 0, 0);                    /* not a file, dir or link */
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_entry(&s, "short", 6, 0100644, "0123456789", 100, 10);      /* 90 bytes never come */
        ck_assert_int_eq(unpack(&s, NULL), -EPIPE);
        put_entry(&s, "noend", 6, 0100644, "", 0, 0);                   /* no end header */
        ck_assert_int_eq(unpack(&s, NULL), -EPIPE);
        put_file(&s, "bad-\xff-utf8", "x");
        ck_assert_int_eq(unpack(&s, &utf8), -EINVAL);
        put_file(&s, "big", "more than ten bytes");
        ck_assert_int_eq(unpack(&s, &small), -EMSGSIZE);

        /* Symlinks pointing out of the copy. */
        put_entry(&s, "abs", 4, 0120777, "/etc", 4, 4);
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        put_entry(&s, "d", 2, 040755, "", 0, 0);
        put_entry(&s, "d/up", 5, 0120777, "../..", 5, 5);
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        /* ".." after a name: through a link to "." it climbs out. */
        put_entry(&s, "dot", 4, 0120777, ".", 1, 1);
        put_entry(&s, "climb", 6, 0120777, "dot/..", 6, 6);
        ck_assert_int_eq(unpack(&s, NULL), -EINVAL);
        snprintf(path, sizeof(path), "%s/dot", dst);
        ck_assert_int_eq(unlink(path), 0);
        /* A link sent first, then a file "through" it: never followed. */
        put_entry(&s, "here", 5, 0120777, ".", 1, 1);
        put_file(&s, "here/x", "x");
        ck_assert_int_eq(unpack(&s, NULL), -ENOTDIR);
        /* A planted link to outside/, then a file through it and one on it. */
        snprintf(path, sizeof(path), "%s/planted", dst);
        snprintf(link_target, sizeof(link_target), "%s", outside);
        ck_assert_int_eq(symlink(link_target, path), 0);
        put_file(&s, "planted/pwn", "x");
        ck_assert_int_eq(unpack(&s, NULL), -ENOTDIR);
        put_file(&s, "planted", "x");
        ck_assert_int_eq(unpack(&s, NULL), -EEXIST);
        put_entry(&s, "planted", 8, 040755, "", 0, 0);                  /* "directory" there */
        ck_assert_int_eq(unpack(&s, NULL), -EEXIST);
        assert_outside_untouched();

        /* And a good stream still lands. */
        put_entry(&s, "ok", 3, 040755, "", 0, 0);
        put_file(&s, "ok/fine", "fine");
        put_end(&s);
        ck_assert_int_eq(unpack(&s, &utf8), 0);
        snprintf(path, sizeof(path), "%s/ok/fine", dst);
        ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_names) {
        ck_assert(filecopy_name_valid("a", true));
        ck_assert(filecopy_name_valid("a/b c/.hidden", true));
        ck_assert(filecopy_name_valid("...", true));
        ck_assert(!filecopy_name_valid("", false));
        ck_assert(!filecopy_name_valid("a/", false));
        ck_assert(!filecopy_name_valid("./a", false));
        ck_assert(!filecopy_name_valid("a/..", false));
        ck_assert(!filecopy_name_valid("/a", false));
        ck_assert(filecopy_name_valid("\xff", false));
        ck_assert(!filecopy_name_valid("\xff", true));
        ck_assert(!filecopy_name_valid("\xc0\xaf", true));              /* overlong '/' */
        ck_assert(!filecopy_name_valid("\xed\xa0\x80", true));          /* surrogate */
}
END_TEST

static Suite *filecopy_suite(void) {
        Suite *s = suite_create("filecopy");
        TCase *tc = tcase_create("filecopy");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_layout_and_crc);
        tcase_add_test(tc, test_hostile_streams);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(filecopy_suite());
}
