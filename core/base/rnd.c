/*
 * rnd.c -- see rnd.h.
 */
#include "base.h"

#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t rnd_state[2];
static _Thread_local int rnd_seeded;

static void
rnd_seed(void)
{
    if (getrandom(rnd_state, sizeof(rnd_state), 0) != (ssize_t)sizeof(rnd_state)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rnd_state[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
        rnd_state[1] = (uint64_t)(uintptr_t)&ts ^ (uint64_t)ts.tv_sec;
    }
    if ((rnd_state[0] | rnd_state[1]) == 0)
        rnd_state[0] = 1;
    rnd_seeded = 1;
}

uint64_t
rnd_u64(void)
{
    if (!rnd_seeded)
        rnd_seed();
    /* xorshift128+ */
    uint64_t s1 = rnd_state[0];
    const uint64_t s0 = rnd_state[1];
    rnd_state[0] = s0;
    s1 ^= s1 << 23;
    rnd_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rnd_state[1] + s0;
}

void
rnd_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = 0;
    for (size_t i = 0; i < nbytes; i++) {
        if (i % 8 == 0)
            v = rnd_u64();
        unsigned b = (unsigned)(v & 0xff);
        v >>= 8;
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[2 * nbytes] = '\0';
}

int64_t
rnd_jitter(int64_t value, int pct)
{
    if (value <= 0 || pct <= 0)
        return value < 0 ? 0 : value;
    int64_t span = value * pct / 100;
    if (span == 0)
        return value;
    int64_t off = (int64_t)(rnd_u64() % (uint64_t)(2 * span + 1)) - span;
    return value + off;
}
