/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the socket vchan tests: a temp dir per test, endpoints in
 * it, a connected pair, a byte pattern to verify transfers, raw sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vchan.h"

extern char test_dir[64];

void setup(void);
void teardown(void);
struct vchan_endpoint endpoint(int local, int remote, int port);
long long now_msec(void);
bool fd_readable(int fd, int timeout_ms);
void server_accept(struct vchan *srv);
void connect_pair(size_t read_min, size_t write_min, struct vchan **srv, struct vchan **cli);
uint8_t pattern_byte(uint64_t i);
void fill_pattern(uint8_t *buf, uint64_t offset, size_t n);
bool check_pattern(const uint8_t *buf, uint64_t offset, size_t n);

enum raw_mode { RAW_CONNECT, RAW_LISTEN, RAW_BIND_ONLY };
int raw_socket(const char *path, enum raw_mode mode);
