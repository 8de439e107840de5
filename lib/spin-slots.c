/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The page of spin slots daemon_event_loop() shares (see spin-slots.h). */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spin-slots.h"
#include "util.h"

struct spin_slot {
        alignas(64) _Atomic int32_t pid;        /* 0: free */
        _Atomic uint32_t polling;               /* 1: polls, 0: awake */
        _Atomic uint64_t marked_usec;           /* CLOCK_MONOTONIC, the same in every process */
};

_Static_assert(sizeof(struct spin_slot) == 64, "one slot per cache line");
_Static_assert(sizeof(struct spin_slot) * SPIN_SLOTS_MAX == SPIN_SLOTS_SIZE, "page size");

static struct spin_slot *slots;

int spin_slots_create(void) {
        return sealed_memfd_new("odyssey-spin-slots", SPIN_SLOTS_SIZE);
}

int spin_slots_map(int fd) {
        void *p;
        int r = sealed_memfd_map(fd, SPIN_SLOTS_SIZE, &p);

        if (r < 0)
                return r;
        if (slots)
                munmap(slots, SPIN_SLOTS_SIZE);
        slots = p;
        return 0;
}

bool spin_slots_mapped(void) {
        return slots != NULL;
}

static bool slot_live(const struct spin_slot *s, uint64_t now) {
        uint64_t marked = atomic_load_explicit(&s->marked_usec, memory_order_relaxed);
        return atomic_load_explicit(&s->pid, memory_order_acquire) != 0 &&
               (marked >= now || now - marked < SPIN_SLOT_STALE_USEC);
}

static bool slot_polls(const struct spin_slot *s, uint64_t now) {
        return slot_live(s, now) && atomic_load_explicit(&s->polling, memory_order_relaxed);
}

unsigned spin_slots_held(uint64_t now, int mine, unsigned *ret_polling) {
        unsigned n = 0, polling = 0;

        for (int i = 0; slots && i < SPIN_SLOTS_MAX; i++)
                if (i != mine && slot_live(&slots[i], now)) {
                        n++;
                        polling += slot_polls(&slots[i], now);
                }
        if (ret_polling)
                *ret_polling = polling;
        return n;
}

int spin_slot_take(uint64_t now) {
        int32_t self = (int32_t) getpid();

        for (int i = 0; slots && i < SPIN_SLOTS_MAX; i++) {
                struct spin_slot *s = &slots[i];
                int32_t holder = atomic_load_explicit(&s->pid, memory_order_relaxed);

                if (holder != 0 && slot_live(s, now))
                        continue;
                /* Mark first: once ours, a stale mark would let another take it
                 * back.  Should the exchange fail, the mark went to a live slot. */
                atomic_store_explicit(&s->marked_usec, now, memory_order_relaxed);
                if (atomic_compare_exchange_strong(&s->pid, &holder, self)) {
                        atomic_store_explicit(&s->polling, 0, memory_order_release);
                        return i;
                }
        }
        return -1;
}

static bool slot_ours(int slot) {
        return slots && slot >= 0 && slot < SPIN_SLOTS_MAX &&
               atomic_load_explicit(&slots[slot].pid, memory_order_relaxed) == (int32_t) getpid();
}

bool spin_slot_poll(int slot, long limit, uint64_t now) {
        struct spin_slot *s;
        unsigned polling = 0, before = 0;

        if (!slot_ours(slot))
                return false;
        s = &slots[slot];
        atomic_store_explicit(&s->marked_usec, now, memory_order_relaxed);
        for (int i = 0; i < SPIN_SLOTS_MAX; i++)
                if (i != slot && slot_polls(&slots[i], now)) {
                        polling++;
                        before += i < slot;
                }
        /* A poller goes on while among the first `limit` pollers: over the
         * limit the last give way first, not all at once; a new one starts
         * only below it. */
        bool poll = atomic_load_explicit(&s->polling, memory_order_relaxed) ? (long) before < limit
                                                                             : (long) polling < limit;
        atomic_store_explicit(&s->polling, poll, memory_order_release);
        return poll;
}

void spin_slot_release(int slot) {
        int32_t self = (int32_t) getpid();

        if (slots && slot >= 0 && slot < SPIN_SLOTS_MAX)
                atomic_compare_exchange_strong(&slots[slot].pid, &self, 0);
}
