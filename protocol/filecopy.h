/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Qubes file-copy stream (qubes.Filecopy; Qubes' qrexec-lib
 * libqubes-rpc-filecopy.h), read and written byte for byte:
 *   sender -> receiver, per entry: struct file_header (32 bytes, little
 *     endian: namelen, mode, filelen, atime, atime_nsec, mtime, mtime_nsec),
 *     the name (namelen bytes, its NUL included; relative, '/'-separated),
 *     then filelen bytes: a regular file's data or a symlink's target.
 *     A directory comes before its contents and again after them (so its
 *     times are set last).  A header with namelen 0 ends the stream.
 *   receiver -> sender: struct result_header {error_code, pad, crc32} where
 *     crc32 (CRC-32 as zlib's) covers every byte the receiver read, then
 *     optionally result_header_ext {last_namelen, last_name}.
 * The packer walks local paths; the unpacker trusts nothing: names are
 * checked (relative, no "." / ".." / empty component, bounded, optional
 * UTF-8), entries are created beneath a directory fd without following any
 * symlink, sizes are checked against what arrives, modes reduced to 0777.
 * Functions return -errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FILECOPY_HEADER_SIZE        32
#define FILECOPY_RESULT_SIZE        16
#define FILECOPY_MAX_PATH_LENGTH    16384      /* namelen bound, as Qubes */

struct filecopy_header {
        uint32_t namelen;
        uint32_t mode;
        uint64_t filelen;
        uint32_t atime, atime_nsec, mtime, mtime_nsec;
};

void filecopy_header_encode(const struct filecopy_header *h, uint8_t buf[FILECOPY_HEADER_SIZE]);
void filecopy_header_decode(const uint8_t buf[FILECOPY_HEADER_SIZE], struct filecopy_header *h);

/* CRC-32 (reflected 0xEDB88320, as zlib's crc32()); start with crc = 0. */
uint32_t filecopy_crc32(uint32_t crc, const void *buf, size_t n);

/* --- sender --- */
struct filecopy_sender {
        int out_fd;
        uint32_t crc;                   /* of every byte sent */
        bool ignore_symlinks;
        /* Called now and then during large transfers (may be NULL). */
        void (*progress)(uint64_t bytes_sent, void *userdata);
        void *userdata;
        uint64_t bytes_sent;
        uint64_t last_progress;
};
void filecopy_sender_init(struct filecopy_sender *s, int out_fd);
/* `path` and everything under it, named by its last component. */
int filecopy_send_path(struct filecopy_sender *s, const char *path);
/* The end header, then the receiver's result from in_fd: 0 when it
 * reports success with the same CRC; -EIO on a CRC mismatch; the
 * receiver's error as -errno; -EPIPE when no result came. */
int filecopy_send_end(struct filecopy_sender *s, int in_fd);
/* The receiver's result alone (as above): after sending failed with -EPIPE,
 * the receiver stopped reading and its result says why. */
int filecopy_read_result(struct filecopy_sender *s, int in_fd);

/* --- receiver --- */
struct filecopy_unpack_options {
        bool require_utf8;              /* refuse names that are not valid UTF-8 */
        uint64_t max_bytes;             /* total file data; 0 = no limit */
        uint64_t max_files;             /* entries; 0 = no limit */
};
struct filecopy_unpack_result {
        uint32_t crc;                   /* of every byte read */
        uint64_t files, bytes;
        char last_name[256];            /* the entry that failed or came last (truncated) */
};
/* Read the stream from in_fd and create its entries beneath dir_fd until
 * the end header.  -EINVAL a bad name, -EMSGSIZE over a limit, -EPIPE the
 * stream ended early, -EEXIST an entry exists already, other -errno from
 * the file system.  Nothing is ever created outside dir_fd. */
int filecopy_unpack(int in_fd, int dir_fd, const struct filecopy_unpack_options *opts,
                    struct filecopy_unpack_result *ret);
/* The result_header (+ ext with the last name) for the sender. */
int filecopy_send_result(int out_fd, int error, const struct filecopy_unpack_result *r);

/* Is this a name the unpacker accepts (for tests and the sender's own checks)? */
bool filecopy_name_valid(const char *name, bool require_utf8);
