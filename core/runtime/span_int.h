/*
 * span -- the tracing span of one handled message, handed to the OTLP
 * exporter when one is configured (never blocks the worker).
 *
 * Threads: span_finish on the worker that ran the handler.
 */
#ifndef JW_SPAN_H
#define JW_SPAN_H

#include <stdint.h>

#include "rt_int.h"

/* verdict: jw_verdict, or -1 when the handler was not called. */
void span_finish(const rt_job *j, uint64_t t0_mono_ns, int verdict);

#endif /* JW_SPAN_H */
