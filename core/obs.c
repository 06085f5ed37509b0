/*
 * obs.c -- see obs.h. Wired to http.c and otlp.c once they land.
 */
#include "obs.h"

void
obs_start(rt *r)
{
    (void)r;
}

void
obs_stop(rt *r)
{
    (void)r;
}
