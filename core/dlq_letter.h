/*
 * dlq_letter.h -- one dead letter read back from its stream: the stored
 * message plus the Jetway-* diagnostics the runtime added when it
 * dead-lettered the original (DESIGN.md, delivery step 5).
 *
 * Ownership: a dlq_letter owns its natsMsg; the string fields point into
 * it (headers) or are "" when absent. Release with dlq_letter_free().
 * Threads: dlq_letter_get() is a blocking JetStream request (a command's
 * thread).
 */
#ifndef JW_DLQ_LETTER_H
#define JW_DLQ_LETTER_H

#include <nats/nats.h>
#include <stdint.h>

#define DLQ_H_ORIG_SUBJECT "Jetway-Original-Subject"
#define DLQ_H_STREAM       "Jetway-Stream"
#define DLQ_H_SEQUENCE     "Jetway-Sequence"
#define DLQ_H_DELIVERIES   "Jetway-Deliveries"
#define DLQ_H_CONSUMER     "Jetway-Consumer"
#define DLQ_H_ERROR        "Jetway-Error"
#define DLQ_H_MESSAGE_ID   "Jetway-Message-Id"
#define DLQ_H_REPLAY       "Jetway-Replay"

typedef struct dlq_letter {
    const char *dlq_stream; /* borrowed from the caller */
    uint64_t seq;           /* sequence in the dead-letter stream */
    int64_t time_ns;        /* when the letter was stored */
    const char *subject;    /* the dead_letter subject it was published to */
    const char *orig_subject;
    const char *orig_stream;
    const char *orig_seq;
    const char *consumer;
    const char *deliveries;
    const char *error;
    const char *message_id; /* the original message id, "" when it had none */
    int size;               /* payload bytes */
    natsMsg *msg;
} dlq_letter;

/* 0 = found; 1 = no message at seq (deleted or purged); -1 = error (err). */
int dlq_letter_get(jsCtx *js, const char *stream, uint64_t seq, dlq_letter *out, char *err,
                   size_t errlen);
void dlq_letter_free(dlq_letter *l);
/* A letter written by jetway carries at least Jetway-Original-Subject. */
int dlq_letter_is_jetway(const dlq_letter *l);
/* "2026-01-02T03:04:05.678Z" */
void dlq_format_time(int64_t ns, char *buf, size_t len);

#endif /* JW_DLQ_LETTER_H */
