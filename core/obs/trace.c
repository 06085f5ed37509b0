/*
 * trace.c -- see trace.h.
 */
#include "obs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is invalid in traceparent */
}

/* Decode exactly 2n lowercase hex chars; -1 on any other char. */
static int
unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int
all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return 0;
    }
    return 1;
}

void
trace_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Copy tracestate, cutting at the last list member that fits. */
static void
copy_state(const char *in, char *out)
{
    size_t len = strlen(in);
    if (len <= TRACE_STATE_MAX) {
        memcpy(out, in, len + 1);
        return;
    }
    size_t cut = TRACE_STATE_MAX;
    while (cut > 0 && in[cut] != ',')
        cut--;
    memcpy(out, in, cut);
    out[cut] = '\0';
}

int
trace_parse(const char *traceparent, const char *tracestate, trace_ctx *out)
{
    memset(out, 0, sizeof(*out));
    if (!traceparent)
        return -1;
    const char *p = traceparent;
    size_t len = strlen(p);
    uint8_t version;
    if (len < TRACE_PARENT_LEN || unhex(p, &version, 1) < 0 || version == 0xff)
        return -1;
    if (version == 0 && len != TRACE_PARENT_LEN)
        return -1;
    if (len > TRACE_PARENT_LEN && p[TRACE_PARENT_LEN] != '-')
        return -1;
    if (p[2] != '-' || p[35] != '-' || p[52] != '-')
        return -1;
    trace_ctx c = {0};
    if (unhex(p + 3, c.trace_id, TRACE_ID_LEN) < 0 ||
        unhex(p + 36, c.span_id, TRACE_SPAN_LEN) < 0 || unhex(p + 53, &c.flags, 1) < 0)
        return -1;
    if (all_zero(c.trace_id, TRACE_ID_LEN) || all_zero(c.span_id, TRACE_SPAN_LEN))
        return -1;
    if (tracestate)
        copy_state(tracestate, c.tracestate);
    *out = c;
    return 0;
}

int
trace_format(const trace_ctx *ctx, char *buf, size_t buflen)
{
    if (buflen < TRACE_PARENT_LEN + 1)
        return -1;
    char tid[2 * TRACE_ID_LEN + 1], sid[2 * TRACE_SPAN_LEN + 1], fl[3];
    trace_hex(ctx->trace_id, TRACE_ID_LEN, tid);
    trace_hex(ctx->span_id, TRACE_SPAN_LEN, sid);
    trace_hex(&ctx->flags, 1, fl);
    snprintf(buf, buflen, "00-%s-%s-%s", tid, sid, fl);
    return 0;
}

/*
 * getrandom(2) from the kernel pool; it blocks only before the pool is
 * first initialised (early boot), never afterwards.
 */
static void
random_bytes(uint8_t *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* Cannot happen on Linux >= 3.17; keep ids unique-ish anyway. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)b;
            for (; got < n; got++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                b[got] = (uint8_t)x;
            }
            return;
        }
        got += (size_t)r;
    }
}

void
trace_new_trace_id(uint8_t id[TRACE_ID_LEN])
{
    do {
        random_bytes(id, TRACE_ID_LEN);
    } while (all_zero(id, TRACE_ID_LEN));
}

void
trace_new_span_id(uint8_t id[TRACE_SPAN_LEN])
{
    do {
        random_bytes(id, TRACE_SPAN_LEN);
    } while (all_zero(id, TRACE_SPAN_LEN));
}

int64_t
trace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
trace_span_start(trace_span *s, const char *name, trace_kind kind, const trace_ctx *parent)
{
    memset(s, 0, sizeof(*s));
    if (parent) {
        memcpy(s->trace_id, parent->trace_id, TRACE_ID_LEN);
        memcpy(s->parent_span_id, parent->span_id, TRACE_SPAN_LEN);
        s->flags = parent->flags;
    } else {
        trace_new_trace_id(s->trace_id);
        s->flags = TRACE_FLAG_SAMPLED;
    }
    trace_new_span_id(s->span_id);
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
    s->kind = kind;
    s->sequence = -1;
    s->deliveries = -1;
    s->start_ns = trace_now_ns();
}

void
trace_span_end(trace_span *s, trace_status status, const char *message)
{
    s->end_ns = trace_now_ns();
    s->status = status;
    snprintf(s->status_message, sizeof(s->status_message), "%s", message ? message : "");
}

void
trace_span_context(const trace_span *s, const char *tracestate, trace_ctx *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->trace_id, s->trace_id, TRACE_ID_LEN);
    memcpy(out->span_id, s->span_id, TRACE_SPAN_LEN);
    out->flags = s->flags;
    if (tracestate)
        copy_state(tracestate, out->tracestate);
}
