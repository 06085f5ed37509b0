/*
 * clock.c -- condvars and deadlines on the monotonic clock; see base.h.
 */
#include "base.h"

#include <pthread.h>
#include <time.h>

int
clock_condattr_init_mono(pthread_condattr_t *ca)
{
    int rc = pthread_condattr_init(ca);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(ca, CLOCK_MONOTONIC);
    if (rc != 0)
        pthread_condattr_destroy(ca);
    return rc;
}

int
clock_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc = clock_condattr_init_mono(&ca);
    if (rc != 0)
        return rc;
    rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

void
clock_deadline_ms(struct timespec *ts, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
