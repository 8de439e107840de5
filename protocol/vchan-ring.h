/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A byte ring of power-of-two size with free-running producer/consumer
 * counters (they wrap as size_t; only their difference matters).  The
 * iovec helpers describe the filled or free part as at most two pieces, for
 * readv/writev-style calls across the wrap-around.
 */
#pragma once

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

struct vchan_ring {
        uint8_t *buf;
        size_t size;            /* power of two */
        size_t consumed;        /* total bytes taken out */
        size_t produced;        /* total bytes put in */
};

static inline size_t vchan_ring_used(const struct vchan_ring *r) {
        return r->produced - r->consumed;
}

static inline size_t vchan_ring_room(const struct vchan_ring *r) {
        return r->size - vchan_ring_used(r);
}

/* Up to two pieces of `len` bytes starting at counter `pos`. */
static inline int vchan_ring_span(const struct vchan_ring *r, size_t pos, size_t len,
                                  struct iovec iov[2]) {
        size_t offset = pos & (r->size - 1);
        size_t first = r->size - offset;

        if (len == 0)
                return 0;
        iov[0].iov_base = r->buf + offset;
        if (len <= first) {
                iov[0].iov_len = len;
                return 1;
        }
        iov[0].iov_len = first;
        iov[1].iov_base = r->buf;
        iov[1].iov_len = len - first;
        return 2;
}

static inline int vchan_ring_filled_iov(const struct vchan_ring *r, struct iovec iov[2]) {
        return vchan_ring_span(r, r->consumed, vchan_ring_used(r), iov);
}

static inline int vchan_ring_free_iov(const struct vchan_ring *r, struct iovec iov[2]) {
        return vchan_ring_span(r, r->produced, vchan_ring_room(r), iov);
}

/* Copy n <= room bytes in. */
static inline void vchan_ring_put(struct vchan_ring *r, const void *data, size_t n) {
        struct iovec iov[2];
        int pieces = vchan_ring_span(r, r->produced, n, iov);
        const uint8_t *p = data;

        for (int i = 0; i < pieces; i++) {
                memcpy(iov[i].iov_base, p, iov[i].iov_len);
                p += iov[i].iov_len;
        }
        r->produced += n;
}

/* Copy n <= used bytes out. */
static inline void vchan_ring_get(struct vchan_ring *r, void *data, size_t n) {
        struct iovec iov[2];
        int pieces = vchan_ring_span(r, r->consumed, n, iov);
        uint8_t *p = data;

        for (int i = 0; i < pieces; i++) {
                memcpy(p, iov[i].iov_base, iov[i].iov_len);
                p += iov[i].iov_len;
        }
        r->consumed += n;
}
