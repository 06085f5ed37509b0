/*
 * jsmeta.h -- the JetStream metadata of a delivered message, read straight
 * from its reply subject without allocating (natsMsg_GetMetaData strdup()s
 * the stream and consumer names for every message, which the hot path can
 * do without).
 *
 *   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
 *   $JS.ACK.<domain>.<acchash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.<token>
 *
 * Threads: pure function, any thread.
 */
#ifndef JW_JSMETA_H
#define JW_JSMETA_H

#include <stddef.h>
#include <stdint.h>

typedef struct jsmeta {
    const char *stream; /* points into the reply subject, not terminated */
    size_t stream_len;
    uint64_t delivered;
    uint64_t stream_seq;
    uint64_t consumer_seq;
    int64_t timestamp_ns;
    uint64_t pending;
} jsmeta;

/* 0 on success, -1 when `reply` is not a JetStream ack subject. */
int jsmeta_parse(const char *reply, jsmeta *out);

#endif /* JW_JSMETA_H */
