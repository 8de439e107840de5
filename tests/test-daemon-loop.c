/* SPDX-License-Identifier: GPL-2.0-or-later */
/* daemon_event_loop(): dispatches like sd_event_loop(), exits with the loop's
 * exit code, and goes back to sleep when polling finds nothing. */
#include <check.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-helpers.h"
#include "daemon.h"
#include "spin-slots.h"

static int on_second_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 9);
}

/* The first timer arms a second one: work that arrives while polling. */
static int on_first_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        sd_event *e = sd_event_source_get_event(s);
        uint64_t delay_usec = *(uint64_t *) userdata;
        return sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, delay_usec, 1, on_second_timer, NULL);
}

static int run_two_timers(uint64_t spin_usec, uint64_t second_delay_usec, uint64_t *elapsed_usec) {
        sd_event *e = NULL;
        uint64_t start = now_usec();
        int r;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_ge(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 1000, 1, on_first_timer,
                                                    &second_delay_usec), 0);
        r = daemon_event_loop(e, spin_usec);
        *elapsed_usec = now_usec() - start;
        sd_event_unref(e);
        return r;
}

START_TEST(test_loop_dispatches_and_exits) {
        uint64_t spins[] = { 0, 50, 100000 };
        for (size_t i = 0; i < ELEMENTSOF(spins); i++) {
                uint64_t elapsed;
                /* second timer inside and outside the polling window */
                ck_assert_int_eq(run_two_timers(spins[i], 20, &elapsed), 9);
                ck_assert_uint_ge(elapsed, 1000);
                ck_assert_int_eq(run_two_timers(spins[i], 5000, &elapsed), 9);
                ck_assert_uint_ge(elapsed, 6000);
        }
}
END_TEST

/* After a burst the loop sleeps again: a 200 ms idle wait with a 50 µs
 * window must cost far less than 200 ms of CPU. */
START_TEST(test_loop_sleeps_when_idle) {
        struct rusage before, after;
        uint64_t elapsed;
        cpu_set_t cpus;

        if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
                return;         /* polling is off on one CPU: nothing to measure */
        ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
        ck_assert_int_eq(run_two_timers(50, 200000, &elapsed), 9);
        ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
        uint64_t cpu_usec = (uint64_t) (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1000000 +
                            (uint64_t) (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000 +
                            (uint64_t) (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
                            (uint64_t) (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
        ck_assert_uint_ge(elapsed, 200000);
        ck_assert_uint_lt(cpu_usec, 50000);
}
END_TEST

static uint64_t cpu_usec_of(const struct rusage *a, const struct rusage *b) {
        return (uint64_t) (b->ru_utime.tv_sec - a->ru_utime.tv_sec) * 1000000 +
               (uint64_t) (b->ru_stime.tv_sec - a->ru_stime.tv_sec) * 1000000 +
               (uint64_t) (b->ru_utime.tv_usec - a->ru_utime.tv_usec) +
               (uint64_t) (b->ru_stime.tv_usec - a->ru_stime.tv_usec);
}

/* CPU time of a loop that waits 150 ms with a 1 s polling window. */
static uint64_t cpu_of_long_wait(void) {
        struct rusage before, after;
        uint64_t elapsed;

        ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
        ck_assert_int_eq(run_two_timers(1000000, 150000, &elapsed), 9);
        ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
        return cpu_usec_of(&before, &after);
}

/* As many other daemons poll as the limit allows on a quiet machine
 * (children marking their slots as polling every 0.5 ms, asleep in
 * between): this loop must not poll too, however long its window. */
START_TEST(test_loop_polls_only_with_a_free_slot) {
        cpu_set_t cpus;
        pid_t pollers[64];
        int n, fd = spin_slots_create();

        if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0 || CPU_COUNT(&cpus) < 2)
                return;
        n = CPU_COUNT(&cpus) + DAEMON_SPIN_POLLERS_BEYOND_CPUS;
        n = n < 64 ? n : 64;
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(spin_slots_map(fd), 0);
        /* Alone on a quiet machine it polls through the wait; on a busy one
         * it may not, and there is nothing to compare. */
        uint64_t alone = cpu_of_long_wait();

        for (int i = 0; i < n; i++) {
                int ready[2];
                char byte = 0;
                ck_assert_int_eq(pipe(ready), 0);
                pollers[i] = fork();
                ck_assert_int_ge(pollers[i], 0);
                if (pollers[i] == 0) {
                        int slot = spin_slot_take(now_usec());
                        bool polls = slot >= 0 && spin_slot_poll(slot, n, now_usec());
                        if (write(ready[1], &polls, 1) != 1)
                                _exit(1);
                        for (;;) {
                                spin_slot_poll(slot, n, now_usec());
                                usleep(500);
                        }
                }
                close(ready[1]);
                ck_assert_int_eq(read(ready[0], &byte, 1), 1);
                ck_assert_int_eq(byte, 1);
                close(ready[0]);
        }
        uint64_t crowded = cpu_of_long_wait();
        for (int i = 0; i < n; i++) {
                kill(pollers[i], SIGKILL);
                waitpid(pollers[i], NULL, 0);
        }
        close(fd);
        ck_assert_uint_lt(crowded, 40000);
        if (alone >= 100000)
                ck_assert_uint_lt(crowded, alone / 3);
        else
                fprintf(stderr, "the loop alone did not poll (%" PRIu64 " us of CPU): the machine is busy\n", alone);
}
END_TEST

int main(void) {
        Suite *s = suite_create("daemon-loop");
        TCase *tc = tcase_create("loop");
        tcase_add_test(tc, test_loop_dispatches_and_exits);
        tcase_add_test(tc, test_loop_sleeps_when_idle);
        tcase_add_test(tc, test_loop_polls_only_with_a_free_slot);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
