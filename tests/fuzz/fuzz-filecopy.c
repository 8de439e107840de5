/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the file-copy unpacker (protocol/filecopy-unpack.c) on
 * arbitrary bytes, into a fresh directory per input.  The first byte picks
 * the options (UTF-8 names required, limits).  Whatever the input, nothing
 * may appear outside the target directory.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy.h"
#include "util.h"

static char base[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void remove_base(void) {
        (void) rmdir(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct filecopy_unpack_options opts = {};
        struct filecopy_unpack_result result;
        char target[128];
        int fd, dir_fd;

        if (size < 1 || size > 1024 * 1024)
                return 0;
        if (!base[0]) {
                strcpy(base, "/tmp/fuzz-filecopy.XXXXXX");
                if (!mkdtemp(base))
                        abort();
                atexit(remove_base);
        }
        opts.require_utf8 = data[0] & 1;
        opts.max_bytes = data[0] & 2 ? 4096 : 0;
        opts.max_files = data[0] & 4 ? 8 : 0;
        snprintf(target, sizeof(target), "%s/t", base);
        if (mkdir(target, 0700) < 0)
                abort();
        fd = memfd_create("fuzz", MFD_CLOEXEC);
        dir_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || dir_fd < 0 || write_full(fd, data + 1, size - 1) < 0 || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        (void) filecopy_unpack(fd, dir_fd, &opts, &result);
        close(fd);
        close(dir_fd);
        /* base holds only the target: nothing escaped. */
        if (rmdir(base) == 0 || nftw(target, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 || rmdir(base) < 0 ||
            mkdir(base, 0700) < 0)
                abort();
        return 0;
}
