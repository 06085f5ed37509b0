/*
 * obs -- start and stop the observability side of a running host: the
 * HTTP endpoint (/metrics, /healthz, /readyz, the status page) and the
 * OTLP span exporter, as configured. obs_start and obs_reconfigure also
 * hand the status page a copy of the running topology.
 *
 * Threads: obs_start on the loop thread; obs_start_http/obs_stop_http on the
 * main thread before the loop exists (start-up and its failure) or on the
 * loop; obs_stop_tracing on
 * the main thread after the workers are joined (they submit spans).
 */
#ifndef JW_OBS_H
#define JW_OBS_H

#include "rt_int.h"

void obs_start(rt_host *r);
/* The HTTP endpoint alone, from `cfg`, before anything connects (main
 * thread, at start); obs_start() then leaves it running. */
void obs_start_http(rt_host *r, const jw_config *cfg);
void obs_stop_http(rt_host *r);
void obs_stop_tracing(rt_host *r);
/* After a reload: the service name may have changed. */
void obs_reconfigure(rt_host *r);

#endif /* JW_OBS_H */
