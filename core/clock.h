/*
 * clock.h -- time helpers. Monotonic for durations, realtime for stream
 * timestamps (which JetStream stamps in UNIX nanoseconds).
 */
#ifndef JW_CLOCK_H
#define JW_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t
clock_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

#endif /* JW_CLOCK_H */
