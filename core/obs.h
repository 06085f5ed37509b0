/*
 * obs.h -- start and stop the observability side of a running host: the
 * HTTP endpoint (/metrics, /healthz, /readyz) and the OTLP span exporter,
 * as configured. Threads: loop thread.
 */
#ifndef JW_OBS_H
#define JW_OBS_H

#include "rt.h"

void obs_start(rt *r);
void obs_stop(rt *r);

#endif /* JW_OBS_H */
