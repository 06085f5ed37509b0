/*
 * failpoint.c -- see failpoint.h.
 */
#include "base.h"

#ifdef JW_FAILPOINTS
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static atomic_long failpoint_hits;

void
failpoint_hit(const char *name, const char *id)
{
    const char *want = getenv("JW_FAILPOINT");
    if (!want || strcmp(want, name) != 0)
        return;
    const char *skip = getenv("JW_FAILPOINT_SKIP");
    long n = atomic_fetch_add(&failpoint_hits, 1);
    long first = skip ? atol(skip) : 0;
    if (n < first)
        return;
    if (n > first) {
        /* Another thread is killing the process at this point: stop here
         * too (a crash stops every thread), and log nothing, so that the
         * one message id logged is the one the kill was for. */
        for (;;)
            pause();
    }
    log_warn("failpoint %s: killing the process (message id %s)", name, id ? id : "-");
    raise(SIGKILL);
}
#else
/* Keep the translation unit non-empty in production builds. */
typedef int failpoint_unused;
#endif
