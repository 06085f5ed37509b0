/*
 * thread.c -- thread roles for the affinity assertions; see base.h.
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local unsigned thread_role;

void
jw_thread_set_role(unsigned role)
{
    thread_role = role;
}

void
jw_thread_adopt_role(unsigned role)
{
    if (thread_role == JW_ROLE_NONE)
        thread_role = role;
}

unsigned
jw_thread_role(void)
{
    return thread_role;
}

static void
roles_format(unsigned mask, char *out, size_t outlen)
{
    static const char *const names[] = {"main",   "loop",  "worker", "fetcher",
                                        "reload", "cnats", "http",   "otlp"};
    size_t n = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(mask & (1u << i)))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? "|" : "", names[i]);
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
    }
    if (!out[0])
        snprintf(out, outlen, "untagged");
}

void
jw_thread_role_fail(const char *func, unsigned allowed, int negated)
{
    char actual[96], want[96], line[320];
    roles_format(thread_role, actual, sizeof(actual));
    roles_format(allowed, want, sizeof(want));
    /* write(2) straight to stderr: the logger may be what is misused, and
     * nothing here may allocate or take a lock before the abort. */
    int n = snprintf(line, sizeof(line),
                     "jetway: thread affinity violated: %s() called on a %s thread; %s %s\n", func,
                     actual, negated ? "never allowed on" : "allowed only on", want);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
    abort();
}
