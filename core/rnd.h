/*
 * rnd.h -- fast per-thread random numbers for ids that must be unique but
 * not secret: claim tokens, span ids, jitter. xoshiro-style generator seeded
 * from getrandom(2) once per thread.
 *
 * Threads: any; state is thread-local.
 */
#ifndef JW_RND_H
#define JW_RND_H

#include <stddef.h>
#include <stdint.h>

uint64_t rnd_u64(void);
/* Write 2*nbytes lowercase hex characters and a NUL into out. */
void rnd_hex(char *out, size_t nbytes);
/* value +- pct percent, never negative. */
int64_t rnd_jitter(int64_t value, int pct);

#endif /* JW_RND_H */
