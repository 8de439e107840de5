/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-vmexec: the qubes.VMExec service.  Its argument is a command line
 * encoded as Qubes' qvm-run encodes it: arguments joined by '+', every byte
 * outside [A-Za-z0-9_.] written "-XX" (two upper-case hex digits) and '-'
 * written "--".  The decoded argv is exec'd directly, never through a shell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decode one '+'-free part in place; -EINVAL when malformed. */
static int decode_part(char *part) {
        char *out = part;

        for (const char *p = part; *p;) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '_' || *p == '.') {
                        *out++ = *p++;
                        continue;
                }
                if (*p != '-')
                        return -EINVAL;
                if (p[1] == '-') {
                        *out++ = '-';
                        p += 2;
                        continue;
                }
                int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
                if (lo < 0 || (hi == 0 && lo == 0))
                        return -EINVAL;         /* no NUL inside an argument */
                *out++ = (char) (hi << 4 | lo);
                p += 3;
        }
        *out = '\0';
        return 0;
}

int main(int argc, char *argv[]) {
        char *untrusted_arg, **args;
        size_t n = 1;

        if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: qubes-vmexec ENCODED-COMMAND\n"
                       "The qubes.VMExec service: decode the qvm-run encoding of a command line\n"
                       "('+' between arguments, -XX for a byte, -- for '-') and execute it.\n");
                return 0;
        }
        if (argc != 2 || !*argv[1]) {
                fprintf(stderr, "qubes.VMExec: no command given\n");
                return 2;
        }
        untrusted_arg = argv[1];
        for (const char *p = untrusted_arg; *p; p++)
                n += *p == '+';
        args = calloc(n + 1, sizeof(char *));
        if (!args)
                return 125;
        n = 0;
        for (char *part = untrusted_arg, *plus;; part = plus + 1) {
                plus = strchr(part, '+');
                if (plus)
                        *plus = '\0';
                if (decode_part(part) < 0) {
                        fprintf(stderr, "qubes.VMExec: malformed command encoding\n");
                        return 2;
                }
                args[n++] = part;
                if (!plus)
                        break;
        }
        if (!*args[0]) {
                fprintf(stderr, "qubes.VMExec: empty command name\n");
                return 2;
        }
        execvp(args[0], args);
        fprintf(stderr, "qubes.VMExec: %s: %s\n", args[0], strerror(errno));
        return errno == ENOENT ? 127 : 126;
}
