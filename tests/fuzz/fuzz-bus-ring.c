/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the bus rings (lib/bus-ring.c): the input is what a
 * hostile daemon leaves in the memfd it shares with busd.
 *
 *   u32 where busd's head is (rounded down to 8, as busd's always is)
 *   u32 the tail the daemon wrote in the ring busd reads
 *   u32 the head the daemon wrote in the ring busd writes
 *   the rest: the ring's data, from busd's head on, wrapping at its end
 *
 * busd reads until bus_ring_read() says no more (<= 0); every datagram it
 * got must be the bytes of a record between its head and the tail, and
 * no larger than BUS_MSG_MAX.  Then busd writes with the head the daemon
 * wrote: the write is refused or fits.  The same input is also read by the
 * daemon's side from the other ring, the one at the mapping's very end,
 * where a copy past the ring would fault.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bus-ring.h"
#include "bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MASK (BUS_RING_DATA_SIZE - 1)
/* Where the API puts things (tests/test-bus-ring.c checks the same layout). */
#define CTL_TO_BUSD 0u
#define CTL_TO_DAEMON 1024u
#define OFF_HEAD 0u
#define OFF_TAIL 64u

static uint8_t *rx_buf;
static uint8_t tx_buf[3000];

static uint32_t get_u32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

static void put_u32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, sizeof(v));
}

/* Read everything from rx as its consumer, starting at head; the ring's
 * data is at ring, the tail the producer wrote is tail. */
static void read_all(struct bus_ring *rx, const uint8_t *ring, uint32_t head, uint32_t tail) {
        for (;;) {
                uint32_t before = rx->pos;
                ssize_t n = bus_ring_read(rx, rx_buf, BUS_MSG_MAX);

                if (n <= 0) {
                        if (rx->pos != before)
                                abort();        /* refused, yet consumed */
                        return;
                }
                if ((size_t) n > BUS_MSG_MAX)
                        abort();
                uint32_t record = (uint32_t) ((4 + (size_t) n + 7) & ~(size_t) 7);
                if (rx->pos != before + record || rx->pos - head > tail - head)
                        abort();        /* read past the tail */
                if (get_u32(ring + (before & MASK)) != (uint32_t) n)
                        abort();
                for (size_t i = 0; i < (size_t) n; i++)
                        if (rx_buf[i] != ring[(before + 4 + i) & MASK])
                                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct bus_rings busd = {}, daemon = {};
        uint8_t *raw;
        int fd;

        if (size < 12)
                return 0;
        if (!rx_buf && !(rx_buf = malloc(BUS_MSG_MAX)))
                abort();
        uint32_t head = get_u32(data) & ~7u, tail = get_u32(data + 4), other_head = get_u32(data + 8);
        data += 12;
        size -= 12;
        if (size > BUS_RING_DATA_SIZE)
                size = BUS_RING_DATA_SIZE;

        fd = bus_rings_create();
        if (fd < 0)
                abort();
        raw = mmap(NULL, BUS_RINGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (raw == MAP_FAILED)
                abort();

        /* Both rings get the same hostile bytes; busd is at head in both. */
        const uint32_t ctl[2] = { CTL_TO_BUSD, CTL_TO_DAEMON };
        uint8_t *rings[2] = { raw + 4096, raw + 4096 + BUS_RING_DATA_SIZE };
        for (size_t r = 0; r < 2; r++) {
                put_u32(raw + ctl[r] + OFF_HEAD, head);
                put_u32(raw + ctl[r] + OFF_TAIL, tail);
                for (size_t i = 0; i < size; i++)
                        rings[r][(head + i) & MASK] = data[i];
        }
        if (bus_rings_map(fd, true, &busd) < 0 || bus_rings_map(fd, false, &daemon) < 0)
                abort();
        /* Each side starts where the memfd says: its own position. */
        if (busd.rx.pos != head || daemon.rx.pos != head)
                abort();

        read_all(&busd.rx, rings[0], head, tail);
        read_all(&daemon.rx, rings[1], head, tail);

        /* busd writes into the ring whose head the daemon set. */
        busd.tx.pos = tail & ~7u;
        put_u32(raw + CTL_TO_DAEMON + OFF_HEAD, other_head);
        for (size_t k = 1; k <= 3; k++) {
                int r = bus_ring_write(&busd.tx, tx_buf, k * 1000);
                if (r < 0 && r != -EPROTO)
                        abort();
                if (r > 0 && busd.tx.pos - other_head > BUS_RING_DATA_SIZE)
                        abort();        /* wrote over what the reader had not read */
                if (r <= 0)
                        break;
        }

        bus_rings_unmap(&busd);
        bus_rings_unmap(&daemon);
        munmap(raw, BUS_RINGS_SIZE);
        close(fd);
        return 0;
}
