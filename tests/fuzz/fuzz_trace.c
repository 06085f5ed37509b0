/*
 * fuzz_trace.c -- W3C trace context from a message's headers
 * (core/obs/trace.c): the input is a wire header block carrying
 * traceparent and tracestate. A context that parses formats as a version
 * 00 traceparent that parses back to the same ids and flags, its
 * tracestate stays within TRACE_STATE_MAX, and a child span keeps the
 * trace id.
 */
#include "fuzz.h"

#include "obs/obs.h"

static void
check(const char *tp, const char *ts)
{
    trace_ctx c;
    if (trace_parse(tp, ts, &c) != 0)
        return;
    if (strnlen(c.tracestate, sizeof(c.tracestate)) > TRACE_STATE_MAX)
        abort();
    char buf[TRACE_PARENT_LEN + 1];
    if (trace_format(&c, buf, sizeof(buf)) != 0)
        abort();
    trace_ctx back;
    if (trace_parse(buf, NULL, &back) != 0 ||
        memcmp(back.trace_id, c.trace_id, sizeof(c.trace_id)) != 0 ||
        memcmp(back.span_id, c.span_id, sizeof(c.span_id)) != 0 || back.flags != c.flags) {
        fprintf(stderr, "trace: %s formats as %s, which does not parse back\n", tp, buf);
        abort();
    }
    trace_span s;
    trace_span_start(&s, "fuzz", TRACE_KIND_CONSUMER, &c);
    trace_span_end(&s, TRACE_STATUS_OK, NULL);
    if (memcmp(s.trace_id, c.trace_id, sizeof(c.trace_id)) != 0)
        abort();
    trace_ctx down;
    trace_span_context(&s, c.tracestate, &down);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    /* Raw strings: traceparent NUL tracestate. */
    char *tp = NULL, *ts = NULL;
    size_t tplen = 0, tslen = 0;
    fuzz_split(data, size, 0, &tp, &tplen, &ts, &tslen);
    check(tp, ts);
    free(tp);
    free(ts);
    /* And the whole input as a header block, read as the runtime reads it. */
    natsMsg *m = fuzz_msg("orders.created.v1", NULL, (const char *)data, size, "", 0);
    if (m != NULL) {
        const char *htp = NULL, *hts = NULL;
        if (natsMsgHeader_Get(m, "traceparent", &htp) == NATS_OK && htp != NULL) {
            if (natsMsgHeader_Get(m, "tracestate", &hts) != NATS_OK)
                hts = NULL;
            check(htp, hts);
        }
        natsMsg_Destroy(m);
    }
    return 0;
}
