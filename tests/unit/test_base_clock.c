/*
 * test_base_clock.c -- the monotonic condvar helpers of core/base: the
 * attribute they build names CLOCK_MONOTONIC, a condvar made with them
 * really measures deadlines against that clock, and deadlines are
 * normalised. No durations are asserted, only the order of instants.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "base/base.h"

static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

static void
test_condattr_is_monotonic(void **state)
{
    (void)state;
    pthread_condattr_t ca;
    assert_int_equal(clock_condattr_init_mono(&ca), 0);
    clockid_t clk = CLOCK_REALTIME;
    assert_int_equal(pthread_condattr_getclock(&ca, &clk), 0);
    assert_int_equal(clk, CLOCK_MONOTONIC);
    pthread_condattr_destroy(&ca);
}

static void
test_deadline_normalised_and_ahead(void **state)
{
    (void)state;
    const int64_t cases[] = {0, 1, 999, 1000, 1500, 2999, 86400000};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct timespec before, dl;
        clock_gettime(CLOCK_MONOTONIC, &before);
        clock_deadline_ms(&dl, cases[i]);
        assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);
        assert_true(ts_cmp(&dl, &before) >= 0);
        /* whole seconds of the offset are all there */
        assert_true(dl.tv_sec - before.tv_sec >= cases[i] / 1000);
        /* plus at most a nanosecond carry and a second boundary crossed
         * between the two clock reads */
        assert_true(dl.tv_sec - before.tv_sec <= cases[i] / 1000 + 2);
    }
    struct timespec before, dl;
    clock_gettime(CLOCK_MONOTONIC, &before);
    clock_deadline_ms(&dl, -5); /* a negative wait is "now" */
    assert_true(ts_cmp(&dl, &before) >= 0);
}

/*
 * The wait times out at, not before, a deadline taken on CLOCK_MONOTONIC.
 * A condvar on CLOCK_REALTIME would read this deadline (monotonic time
 * since boot, far behind the epoch) as long past and return ETIMEDOUT at
 * once, before the monotonic clock reached it.
 */
static void
test_timed_wait_uses_monotonic(void **state)
{
    (void)state;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    assert_int_equal(clock_cond_init_mono(&cv), 0);
    struct timespec dl, after;
    clock_deadline_ms(&dl, 20);
    pthread_mutex_lock(&mu);
    int rc;
    do /* nobody signals cv: only a spurious wake-up could return 0 */
        rc = pthread_cond_timedwait(&cv, &mu, &dl);
    while (rc == 0);
    pthread_mutex_unlock(&mu);
    clock_gettime(CLOCK_MONOTONIC, &after);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(ts_cmp(&after, &dl) >= 0);
    pthread_cond_destroy(&cv);
    pthread_mutex_destroy(&mu);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_condattr_is_monotonic),
        cmocka_unit_test(test_deadline_normalised_and_ahead),
        cmocka_unit_test(test_timed_wait_uses_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
