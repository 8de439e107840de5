/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What tests/test-vchan-mux*.c need around odyssey-vchan-mux: temp dirs for
 * the host's and the guest's vchan sockets, the two muxes started over a
 * socketpair, waiting for socket files, servers and clients on raw UNIX
 * sockets (the socket vchan backend's bytes), and a pump that moves a
 * checked pattern both ways over many connections at once.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MUX_GUEST_DOMID 7
#define MUX_WAIT_MS 30000

extern char mux_tmp[64];
extern char mux_host_dir[PATH_MAX];     /* the guest's vchan dir on the host */
extern char mux_guest_dir[PATH_MAX];    /* /run/vchan inside the guest */

void mux_setup(void);
void mux_teardown(void);                /* kills what is still running */

/* Start one mux with `extra` arguments (NULL-terminated); fd, when >= 0,
 * stays open in it; stderr goes to log (a path). */
pid_t mux_spawn(const char *const *extra, int fd, const char *log);
/* The same with RLIMIT_NOFILE (soft and hard) set to nofile. */
pid_t mux_spawn_limited(const char *const *extra, int fd, const char *log, unsigned nofile);
/* A host mux on fd (taken; --fd), logging to <tmp>/host.log. */
pid_t mux_spawn_host(int fd);
/* Host (--fd) and guest (--fd) over a socketpair; logs <tmp>/host.log, guest.log. */
void mux_start_pair(pid_t *host, pid_t *guest);
/* Exit status of pid (128+signal), or -1 when it did not end in timeout_ms. */
int mux_wait_exit(pid_t pid, int timeout_ms);

char *mux_path(const char *dir, const char *name);     /* static buffer */
bool wait_for_file(const char *path, bool present, int timeout_ms);
bool file_contains(const char *path, const char *text);
long process_rss_kib(pid_t pid);

int listen_at(const char *dir, const char *name);       /* a published server socket */
int connect_to(const char *dir, const char *name);      /* non-blocking, connected */
int accept_one(int listen_fd, int timeout_ms);          /* non-blocking, or -1 */
void expect_mirror(const char *dir, const char *name);  /* it appears within MUX_WAIT_MS */
/* A real server in real_dir, once its mirror is in mirror_dir: the listener. */
int serve_mirrored(const char *real_dir, const char *mirror_dir, const char *name);
/* A client of the mirror, and the server's end of it. */
void open_relayed(int listener, const char *mirror_dir, const char *name, int *client, int *server);

/* Each pair (a[i], b[i]): both send `bytes` of a pattern, then shut down
 * writing; both read until EOF.  True when every byte arrived intact and
 * the EOFs came after exactly `bytes`. */
bool pump_pairs(unsigned n, const int *a, const int *b, uint64_t bytes, int timeout_ms);
/* One direction only: from `from` to `to`, then SHUT_WR of `from`. */
bool pump_one_way(int from, int to, uint64_t bytes, int timeout_ms);
uint8_t pump_byte(uint64_t i, unsigned seed);
