/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replays a libFuzzer corpus through a harness without libFuzzer, so that
 * `make check` runs every saved input on every build (sanitizers included).
 * The corpus is $ODYSSEY_SRCDIR/tests/fuzz/corpus/NAME for a program named
 * replay-NAME; arguments, when given, are files or directories to replay
 * instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rbe");
        if (!f) {
                fprintf(stderr, "%s: %m\n", path);
                return -1;
        }
        uint8_t *buf = NULL;
        size_t size = 0, cap = 0;
        for (;;) {
                if (size == cap) {
                        cap = cap ? cap * 2 : 65536;
                        uint8_t *n = realloc(buf, cap);
                        if (!n) {
                                free(buf);
                                fclose(f);
                                return -1;
                        }
                        buf = n;
                }
                size_t got = fread(buf + size, 1, cap - size, f);
                if (got == 0)
                        break;
                size += got;
        }
        fclose(f);
        /* Copy into an exact-size buffer so ASan sees any read past the end. */
        uint8_t *exact = malloc(size ? size : 1);
        if (!exact) {
                free(buf);
                return -1;
        }
        memcpy(exact, buf, size);
        free(buf);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
        return 0;
}

static int replay_path(const char *path, unsigned *count) {
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*count)++;
                return replay_file(path);
        }
        struct dirent **names;
        int n = scandir(path, &names, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -1;
        }
        int r = 0;
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.' && r == 0) {
                        _cleanup_free_ char *p = path_join(path, names[i]->d_name);
                        r = p ? replay_path(p, count) : -1;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv) {
        unsigned count = 0;
        if (argc > 1) {
                for (int i = 1; i < argc; i++)
                        if (replay_path(argv[i], &count) < 0)
                                return 1;
        } else {
                const char *base = strrchr(argv[0], '/');
                base = base ? base + 1 : argv[0];
                if (strncmp(base, "replay-", 7) != 0) {
                        fprintf(stderr, "cannot tell the corpus from the name %s\n", base);
                        return 1;
                }
                const char *src = getenv("ODYSSEY_SRCDIR");
                char dir[4096];
                snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src ? src : ".", base + 7);
                if (replay_path(dir, &count) < 0)
                        return 1;
        }
        if (count == 0) {
                fprintf(stderr, "empty corpus\n");
                return 1;
        }
        printf("replayed %u inputs\n", count);
        return 0;
}
