/*
 * jsmeta.c -- see jsmeta.h.
 */
#include "nats.h"

#include <string.h>

#define JSMETA_MAX_TOKENS 12

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        /* overflow check against constants, not a division per digit
         * (this runs for ~40 digits of every message's reply subject) */
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
jsmeta_parse(const char *reply, jsmeta *out)
{
    if (!reply || strncmp(reply, "$JS.ACK.", 8) != 0)
        return -1;
    const char *tok[JSMETA_MAX_TOKENS + 1];
    size_t len[JSMETA_MAX_TOKENS + 1];
    size_t n = 0;
    const char *p = reply + 8;
    while (n <= JSMETA_MAX_TOKENS) {
        const char *dot = strchr(p, '.');
        tok[n] = p;
        len[n] = dot ? (size_t)(dot - p) : strlen(p);
        n++;
        if (!dot)
            break;
        p = dot + 1;
    }
    size_t base;
    if (n == 7)
        base = 0; /* v1: stream consumer delivered sseq cseq ts pending */
    else if (n >= 9 && n <= JSMETA_MAX_TOKENS)
        base = 2; /* v2: domain acchash, then as v1, then a token */
    else
        return -1;
    uint64_t ts;
    out->stream = tok[base];
    out->stream_len = len[base];
    if (parse_u64(tok[base + 2], len[base + 2], &out->delivered) ||
        parse_u64(tok[base + 3], len[base + 3], &out->stream_seq) ||
        parse_u64(tok[base + 4], len[base + 4], &out->consumer_seq) ||
        parse_u64(tok[base + 5], len[base + 5], &ts) ||
        parse_u64(tok[base + 6], len[base + 6], &out->pending))
        return -1;
    out->timestamp_ns = (int64_t)ts;
    return 0;
}
