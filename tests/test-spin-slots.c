/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The spin slots daemon_event_loop() shares: how many poll, who gives way
 * first, and that a dead or silent holder's slot comes free. */
#include <check.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check-helpers.h"
#include "spin-slots.h"
#include "util.h"

#define T0 (UINT64_C(1) << 40)  /* any time far from 0: the slots compare marks only */

static void map_fresh_page(void) {
        int fd = spin_slots_create();

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(spin_slots_map(fd), 0);
        close(fd);
        ck_assert(spin_slots_mapped());
}

/* Another daemon: a child that takes a slot, asks to poll with `limit`
 * (< 0: stays awake only) and exits, its slot left as it was.  The slot's
 * index, -1 when none was free; *ret_polls: whether it got to poll. */
static int other_daemon(long limit, uint64_t now, bool *ret_polls) {
        int pipefd[2], got[2] = { -2, 0 };

        ck_assert_int_eq(pipe(pipefd), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int res[2] = { spin_slot_take(now), 0 };
                if (res[0] >= 0 && limit >= 0)
                        res[1] = spin_slot_poll(res[0], limit, now);
                _exit(write(pipefd[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
        }
        close(pipefd[1]);
        ck_assert_int_eq(read(pipefd[0], got, sizeof(got)), (ssize_t) sizeof(got));
        close(pipefd[0]);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        if (ret_polls)
                *ret_polls = got[1];
        return got[0];
}

START_TEST(test_pollers_limited_across_processes) {
        unsigned polling;
        bool polls;

        map_fresh_page();
        ck_assert_uint_eq(spin_slots_held(T0, -1, &polling), 0);

        ck_assert_int_ge(other_daemon(2, T0, &polls), 0);
        ck_assert(polls);
        ck_assert_int_ge(other_daemon(-1, T0, NULL), 0);        /* awake, not polling */
        ck_assert_uint_eq(spin_slots_held(T0 + 1, -1, &polling), 2);
        ck_assert_uint_eq(polling, 1);

        int mine = spin_slot_take(T0 + 10);
        ck_assert_int_ge(mine, 0);
        ck_assert_uint_eq(spin_slots_held(T0 + 11, mine, NULL), 2);
        ck_assert(spin_slot_poll(mine, 2, T0 + 12));
        ck_assert_uint_eq(spin_slots_held(T0 + 13, -1, &polling), 3);
        ck_assert_uint_eq(polling, 2);

        /* Two poll, with a limit of two: a fourth daemon stays awake only. */
        ck_assert_int_ge(other_daemon(2, T0 + 20, &polls), 0);
        ck_assert(!polls);
        /* With a higher limit it polls. */
        ck_assert_int_ge(other_daemon(3, T0 + 30, &polls), 0);
        ck_assert(polls);
        ck_assert_uint_eq(spin_slots_held(T0 + 40, -1, &polling), 5);
        ck_assert_uint_eq(polling, 3);
}
END_TEST

START_TEST(test_released_and_stale_slots_come_free) {
        unsigned polling;

        map_fresh_page();
        int other = other_daemon(1, T0, NULL);
        ck_assert_int_ge(other, 0);
        int mine = spin_slot_take(T0 + 100);
        ck_assert_int_ne(mine, other);
        ck_assert(!spin_slot_poll(mine, 1, T0 + 100));

        /* The other never marks its slot again: it counts until stale, not after. */
        ck_assert_uint_eq(spin_slots_held(T0 + SPIN_SLOT_STALE_USEC - 1, mine, &polling), 1);
        ck_assert_uint_eq(polling, 1);
        ck_assert_uint_eq(spin_slots_held(T0 + SPIN_SLOT_STALE_USEC, mine, &polling), 0);
        ck_assert(spin_slot_poll(mine, 1, T0 + SPIN_SLOT_STALE_USEC));

        /* Marked while polling, ours stays live however long. */
        uint64_t t = T0 + SPIN_SLOT_STALE_USEC;
        for (int i = 0; i < 5; i++) {
                t += SPIN_SLOT_STALE_USEC - 1;
                ck_assert(spin_slot_poll(mine, 1, t));
                ck_assert_uint_eq(spin_slots_held(t + 1, -1, NULL), 1);
        }
        /* The stale slot is taken again (the first free one). */
        ck_assert_int_eq(other_daemon(-1, t + 2, NULL), other);

        spin_slot_release(mine);
        ck_assert_uint_eq(spin_slots_held(t + 3, -1, &polling), 1);
        ck_assert_uint_eq(polling, 0);
}
END_TEST

START_TEST(test_lost_slot_is_not_ours) {
        map_fresh_page();
        int mine = spin_slot_take(T0);
        ck_assert_int_ge(mine, 0);
        /* We did not mark it for too long: another took it over. */
        ck_assert_int_eq(other_daemon(-1, T0 + SPIN_SLOT_STALE_USEC + 1, NULL), mine);
        ck_assert(!spin_slot_poll(mine, 4, T0 + SPIN_SLOT_STALE_USEC + 2));
        /* Releasing what is no longer ours leaves the new holder's slot alone. */
        spin_slot_release(mine);
        ck_assert_uint_eq(spin_slots_held(T0 + SPIN_SLOT_STALE_USEC + 3, -1, NULL), 1);
}
END_TEST

/* Over the limit, the pollers of the last slots give way, the first go on. */
START_TEST(test_last_pollers_give_way) {
        unsigned polling;
        bool polls;

        map_fresh_page();
        ck_assert_int_ge(other_daemon(3, T0, &polls), 0);
        ck_assert(polls);
        ck_assert_int_ge(other_daemon(3, T0, &polls), 0);
        ck_assert(polls);
        int mine = spin_slot_take(T0);
        ck_assert_int_eq(mine, 2);
        ck_assert(spin_slot_poll(mine, 3, T0 + 10));
        /* Load came: two pollers now.  We are last: we stop, still awake. */
        ck_assert(!spin_slot_poll(mine, 2, T0 + 20));
        ck_assert_uint_eq(spin_slots_held(T0 + 30, -1, &polling), 3);
        ck_assert_uint_eq(polling, 2);
        /* And the slot is not polling any more: a new poller is refused too. */
        ck_assert_int_ge(other_daemon(2, T0 + 40, &polls), 0);
        ck_assert(!polls);
        /* A limit of 0 (every CPU busy with other work): nobody polls. */
        ck_assert(!spin_slot_poll(mine, 0, T0 + 50));
}
END_TEST

/* Only a sealed page of the right size is mapped: one that could shrink
 * would fault every daemon that maps it. */
START_TEST(test_map_refuses_unsealed_or_wrong_size) {
        int fd = memfd_create("not-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, SPIN_SLOTS_SIZE), 0);
        ck_assert_int_eq(spin_slots_map(fd), -EBADF);
        ck_assert_int_eq(ftruncate(fd, SPIN_SLOTS_SIZE / 2), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
        ck_assert_int_eq(spin_slots_map(fd), -EBADF);
        close(fd);
        ck_assert(!spin_slots_mapped());

        fd = spin_slots_create();
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, SPIN_SLOTS_SIZE / 2), -1);
        ck_assert_int_eq(errno, EPERM);
        close(fd);
}
END_TEST

int main(void) {
        Suite *s = suite_create("spin-slots");
        TCase *tc = tcase_create("slots");
        tcase_add_test(tc, test_pollers_limited_across_processes);
        tcase_add_test(tc, test_released_and_stale_slots_come_free);
        tcase_add_test(tc, test_lost_slot_is_not_ours);
        tcase_add_test(tc, test_last_pollers_give_way);
        tcase_add_test(tc, test_map_refuses_unsealed_or_wrong_size);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
