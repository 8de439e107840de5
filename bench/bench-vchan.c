/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Throughput of the socket vchan against its baseline, in the same run: SIZE
 * bytes (default 1 GiB) from one process to another in 64 KiB writes and
 * reads, once through the socket vchan (default 64 KiB rings) and once
 * through a raw UNIX stream socket pair.  Each is run --reps times
 * (default 9; alternating, and which of the two goes first alternates too,
 * so an order effect cannot tilt the ratio: with the raw socket always
 * first it came out above 1 at times, the vchan faster than the socket it
 * runs on), and the medians are reported:
 *   BENCH vchan_socket_mbps <v> MB/s
 *   BENCH unix_socket_mbps <v> MB/s
 *   BENCH vchan_throughput_ratio <vchan / raw> ratio
 * Timing runs from the reader's "go" byte (sent once both ends are
 * connected) to the last byte read.  MB = 10^6 bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vchan.h"

#define CHUNK ((size_t) 64 * 1024)
#define MAX_REPS 99

static uint8_t chunk[CHUNK];

static double now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int wait_child(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Raw baseline: seconds for `size` bytes, or < 0. */
static double run_unix(uint64_t size) {
        int fds[2];
        uint64_t got = 0;
        double start, elapsed;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                uint64_t sent = 0;
                char go;

                close(fds[0]);
                if (read(fds[1], &go, 1) != 1)
                        _exit(1);
                while (sent < size) {
                        size_t n = size - sent < CHUNK ? (size_t) (size - sent) : CHUNK;
                        ssize_t k = write(fds[1], chunk, n);
                        if (k <= 0)
                                _exit(2);
                        sent += (uint64_t) k;
                }
                _exit(0);
        }

        close(fds[1]);
        start = now_sec();
        if (write(fds[0], "g", 1) != 1)
                goto fail;
        while (got < size) {
                ssize_t k = read(fds[0], chunk, CHUNK);
                if (k <= 0)
                        goto fail;
                got += (uint64_t) k;
        }
        elapsed = now_sec() - start;
        close(fds[0]);
        return wait_child(pid) < 0 ? -1 : elapsed;

fail:
        close(fds[0]);
        (void) wait_child(pid);
        return -1;
}

/* The same through the socket vchan: parent is the server, child the client. */
static double run_vchan(const char *dir, uint64_t size) {
        struct vchan_endpoint sep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = 1, .port = 600,
                .socket_dir = dir,
        };
        struct vchan_endpoint cep = sep;
        struct vchan *srv;
        uint64_t got = 0;
        double start, elapsed;
        pid_t pid;

        cep.local_domid = 1;
        cep.remote_domid = 0;
        if (vchan_server_init(&sep, 0, 0, &srv) < 0)
                return -1;
        pid = fork();
        if (pid < 0) {
                vchan_close(srv);
                return -1;
        }
        if (pid == 0) {
                struct vchan *cli;
                uint64_t sent = 0;
                char go;

                if (vchan_client_init(&cep, 5000, &cli) < 0 || vchan_recv(cli, &go, 1) != 1)
                        _exit(1);
                while (sent < size) {
                        size_t n = size - sent < CHUNK ? (size_t) (size - sent) : CHUNK;
                        ssize_t k = vchan_write(cli, chunk, n);
                        if (k <= 0)
                                _exit(2);
                        sent += (uint64_t) k;
                }
                vchan_close(cli);
                _exit(0);
        }

        /* Queue the go byte; it leaves when wait() accepts the client. */
        if (vchan_send(srv, "g", 1) != 1)
                goto fail;
        while (vchan_is_open(srv) == VCHAN_WAITING)
                if (vchan_wait(srv) < 0)
                        goto fail;
        start = now_sec();
        while (got < size) {
                ssize_t k = vchan_read(srv, chunk, CHUNK);
                if (k <= 0)
                        goto fail;
                got += (uint64_t) k;
        }
        elapsed = now_sec() - start;
        vchan_close(srv);
        return wait_child(pid) < 0 ? -1 : elapsed;

fail:
        vchan_close(srv);
        (void) wait_child(pid);
        return -1;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(double), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "1073741824", "512M", "1G", "64K". */
static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                return -EINVAL;
        switch (*end) {
        case 'G': v <<= 10; /* fall through */
        case 'M': v <<= 10; /* fall through */
        case 'K': v <<= 10; end++; break;
        case '\0': break;
        default: return -EINVAL;
        }
        if (*end || v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "size", required_argument, NULL, 's' },
                { "reps", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        double vchan_mbps[MAX_REPS], unix_mbps[MAX_REPS], v_med, u_med;
        uint64_t size = (uint64_t) 1 << 30;
        char dir[] = "/tmp/bench-vchan-XXXXXX";
        int reps = 9, c;        /* one run is 0.2 s: 9 outvote a load burst better than 5 */

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (parse_size(optarg, &size) < 0) {
                                fprintf(stderr, "bench-vchan: bad --size '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'r':
                        reps = atoi(optarg);
                        if (reps < 1 || reps > MAX_REPS) {
                                fprintf(stderr, "bench-vchan: --reps must be 1..%d\n", MAX_REPS);
                                return 2;
                        }
                        break;
                case 'h':
                        printf("Usage: %s [--size BYTES[K|M|G]] [--reps N]\n", argv[0]);
                        return 0;
                default:
                        return 2;
                }

        memset(chunk, 0x5a, sizeof(chunk));
        if (!mkdtemp(dir)) {
                perror("bench-vchan: mkdtemp");
                return 1;
        }

        for (int i = 0; i < reps; i++) {
                /* The order alternates: neither path always runs first. */
                double u, v;

                if (i % 2) {
                        v = run_vchan(dir, size);
                        u = run_unix(size);
                } else {
                        u = run_unix(size);
                        v = run_vchan(dir, size);
                }

                if (u <= 0 || v <= 0) {
                        fprintf(stderr, "bench-vchan: transfer failed\n");
                        return 1;
                }
                unix_mbps[i] = (double) size / 1e6 / u;
                vchan_mbps[i] = (double) size / 1e6 / v;
                if (getenv("BENCH_VERBOSE"))
                        fprintf(stderr, "run %d: vchan %.1f MB/s, unix %.1f MB/s\n", i + 1, vchan_mbps[i],
                                unix_mbps[i]);
        }

        char socket_path[sizeof(dir) + 32];
        snprintf(socket_path, sizeof(socket_path), "%s/vchan.0.1.600.sock", dir);
        (void) unlink(socket_path);
        (void) rmdir(dir);

        v_med = median(vchan_mbps, reps);
        u_med = median(unix_mbps, reps);
        printf("BENCH vchan_socket_mbps %.1f MB/s\n", v_med);
        printf("BENCH unix_socket_mbps %.1f MB/s\n", u_med);
        printf("BENCH vchan_throughput_ratio %.3f ratio\n", v_med / u_med);
        return 0;
}
