/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Spin slots: how the daemons of one bus share the CPUs they poll on.
 *
 * daemon_event_loop() polls after work so that the next message of an
 * exchange finds it awake.  Polling pays only while the pollers have the
 * CPUs: too many take turns by time slice (yielding when idle, one more
 * than there are CPUs hand a CPU over at once).  And /proc/loadavg
 * cannot tell our daemons from other load: each poller counted the others
 * as load, so all of them stopped and every hop paid an idle vCPU's
 * wake-up.  So every loop holds a slot in a page shared by the daemons of
 * one bus (busd creates it and hands it out with WELCOME) while it is
 * awake, marked polling while it polls: runnable tasks beyond the slots
 * held are the load that is not ours, and a limited number of loops poll
 * (daemon_event_loop() decides the limit: fewer when there is such load).
 * The others sleep, and are woken onto a CPU a poller keeps awake, which
 * is cheap.
 *
 * A slot names its holder's pid and when the holder last marked it; a slot
 * not marked for SPIN_SLOT_STALE_USEC is free again and counts for nothing,
 * so a holder that died, or that has been working (or preempted) that long
 * and is load like any other, gives it up by itself.  The page holds only
 * this: a daemon that scribbles on it changes who polls, never what anyone
 * does.
 */
#include <stdbool.h>
#include <stdint.h>

#define SPIN_SLOTS_MAX 64
#define SPIN_SLOTS_SIZE (SPIN_SLOTS_MAX * 64)
#define SPIN_SLOT_STALE_USEC 5000

/* A fresh, sealed page of free slots as a memfd (busd, benchmarks): fd or -errno. */
int spin_slots_create(void);
/* Use the page in fd (not consumed) from now on, instead of any earlier one. */
int spin_slots_map(int fd);
bool spin_slots_mapped(void);

/* Live slots held by others than `mine` (-1: none of ours); *ret_polling:
 * how many of them poll. */
unsigned spin_slots_held(uint64_t now, int mine, unsigned *ret_polling);
/* Take a slot as an awake loop: its index, or -1 (no page, or all held). */
int spin_slot_take(uint64_t now);
/* Poll from slot if fewer than `limit` others do, or keep polling if among
 * the first `limit` polling slots; marks the slot.  false: not polling
 * (the slot stays held as awake; false too when it is no longer ours). */
bool spin_slot_poll(int slot, long limit, uint64_t now);
void spin_slot_release(int slot);
