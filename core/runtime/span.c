/*
 * span.c -- see span.h.
 */
#include "span_int.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "obs/obs.h"

rt_host *rt_get(void);

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
        }
        out[i] = (uint8_t)v;
    }
}

static const char *
verdict_name(const rt_job *j, int verdict)
{
    if (j->settle == SETTLE_DEAD)
        return j->rejected ? "reject" : "dead_letter";
    switch (verdict) {
    case JW_ACK:
        return "ack";
    case JW_RETRY:
        return "retry";
    case JW_REJECT:
        return "reject";
    default:
        return "none";
    }
}

void
span_finish(const rt_job *j, uint64_t t0_mono_ns, int verdict)
{
    otlp_exporter *e = rt_get()->otlp;
    if (!e)
        return;
    trace_span s;
    memset(&s, 0, sizeof(s));
    unhex(j->trace_id, s.trace_id, TRACE_ID_LEN);
    unhex(j->span_id, s.span_id, TRACE_SPAN_LEN);
    if (j->parent_span_id[0])
        unhex(j->parent_span_id, s.parent_span_id, TRACE_SPAN_LEN);
    s.flags = TRACE_FLAG_SAMPLED;
    int64_t now_real = clock_real_ns();
    s.end_ns = now_real;
    s.start_ns = now_real - (int64_t)(clock_mono_ns() - t0_mono_ns);
    const char *subject = natsMsg_GetSubject(j->msg);
    snprintf(s.destination, sizeof(s.destination), "%s", subject ? subject : "");
    if (j->kind == RT_JOB_MESSAGE) {
        snprintf(s.name, sizeof(s.name), "%s process", j->cc->name);
        s.kind = TRACE_KIND_CONSUMER;
        snprintf(s.stream, sizeof(s.stream), "%s", j->cc->stream);
        snprintf(s.consumer, sizeof(s.consumer), "%s", j->cc->name);
        s.sequence = (int64_t)j->meta.stream_seq;
        s.deliveries = (int64_t)j->meta.delivered;
    } else {
        snprintf(s.name, sizeof(s.name), "%s request", j->svc->name);
        s.kind = TRACE_KIND_SERVER;
        snprintf(s.consumer, sizeof(s.consumer), "%s", j->svc->name);
        s.sequence = -1;
        s.deliveries = -1;
    }
    const char *res = verdict_name(j, verdict);
    snprintf(s.result, sizeof(s.result), "%s", res);
    int bad = j->settle == SETTLE_DEAD || verdict == JW_REJECT;
    s.status = bad ? TRACE_STATUS_ERROR : TRACE_STATUS_OK;
    if (bad)
        snprintf(s.status_message, sizeof(s.status_message), "%.180s", j->reason);
    otlp_submit(e, &s);
}
