/*
 * dlq/dlq.h -- the interface of core/dlq/: dead letters: reading a letter, replaying it, publishing
 * one.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_DLQ_H
#define JW_CORE_DLQ_H

#include <nats/nats.h>
#include <stdint.h>
#include <stddef.h>

#include "config/config.h"
#include "nats/nats.h"


/*
 * dlq_letter -- one dead letter read back from its stream: the stored
 * message plus the Jetway-* diagnostics the runtime added when it
 * dead-lettered the original (DESIGN.md, delivery step 5).
 *
 * Ownership: a dlq_letter owns its natsMsg; the string fields point into
 * it (headers) or are "" when absent. Release with dlq_letter_free().
 * Threads: dlq_letter_get() is a blocking JetStream request (a command's
 * thread).
 */

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
/* The letter of a message already read (takes m over); what dlq_letter_get
 * does after its request, exposed for the letter's fuzz target. */
void dlq_letter_from_msg(natsMsg *m, const char *stream, uint64_t seq, dlq_letter *out);
void dlq_letter_free(dlq_letter *l);
/* A letter written by jetway carries at least Jetway-Original-Subject. */
int dlq_letter_is_jetway(const dlq_letter *l);
/* "2026-01-02T03:04:05.678Z" */
void dlq_format_time(int64_t ns, char *buf, size_t len);

/*
 * dlq_replay -- put a dead letter back on its original subject, once.
 *
 * The replay is the letter's payload and original headers (minus
 * Nats-Msg-Id, Nats-Expected-*, direct-get metadata and every Jetway-*
 * diagnostic) published through JetStream to Jetway-Original-Subject with
 *   Jetway-Replay: <dlqstream>:<seq>            (then ...#2, #3 when forced)
 *   Nats-Msg-Id:   <original id>~replay-<dlqstream>-<seq>[#n]
 * so the stream's dedup does not drop it as the original, while a retried
 * replay command is dropped; the runtime derives the dedup id as
 * <base id>~<Jetway-Replay> and so treats the replay as a new message.
 *
 * "Replayed" markers live in JetStream itself, next to the letters: stream
 * JETWAY_DLQ_REPLAYS (created on first use, limits retention, one message
 * per subject) holds one JSON marker per letter on subject
 * jetway.dlq.replayed.<dlqstream>.<seq>, written after the replay's PubAck
 * with Nats-Expected-Last-Subject-Sequence so two operators racing record
 * it once. No Redis or local file is needed, the markers survive restarts
 * with the letters, and any host can see them. A crash between the PubAck
 * and the marker leaves an unmarked letter; replaying it again publishes
 * the same Nats-Msg-Id and Jetway-Replay, which the stream (within its
 * duplicate window) and the runtime's dedup both treat as already seen.
 *
 * Threads: blocking JetStream requests (a command's thread).
 */

#define DLQ_MARKER_STREAM  "JETWAY_DLQ_REPLAYS"
#define DLQ_MARKER_SUBJECT "jetway.dlq.replayed"

typedef struct dlq_marker {
    int replays;         /* 0 = never replayed */
    char at[40];         /* when the last replay was recorded */
    uint64_t marker_seq; /* its sequence in DLQ_MARKER_STREAM */
} dlq_marker;

/* 0 on success (m->replays == 0 when never replayed), -1 on error. */
int dlq_marker_get(jsCtx *js, const char *dlq_stream, uint64_t seq, dlq_marker *m, char *err,
                   size_t errlen);

/*
 * Replay one letter. Returns 0 replayed, 1 skipped (already replayed and
 * not `force`, or not a jetway letter), -1 failed. `line` gets the
 * operator's one-line outcome.
 */
int dlq_replay_letter(jsCtx *js, const dlq_letter *l, int force, char *line, size_t linelen);

/* The headers a replay drops (pure; exposed for tests). */
int dlq_replay_drops_header(const char *key);

/*
 * The replay message of a letter (its payload and kept headers, plus
 * Jetway-Replay and Nats-Msg-Id, the latter also written into msgid), or
 * NULL when cnats refuses a header. Pure; exposed for the fuzz target.
 */
natsMsg *dlq_replay_build(const dlq_letter *l, int attempt, char *msgid, size_t idlen);

/*
 * dlq_publish -- publish a dead letter: a copy of the message to its
 * consumer's dead_letter subject, with the original headers (minus the ones
 * that would make the letter be deduplicated or rejected, Nats-Msg-Id and
 * Nats-Expected-*), plus Jetway-Original-Subject, -Stream, -Sequence,
 * -Deliveries, -Consumer, -Error, -Message-Id, and Nats-Msg-Id
 * "<consumer>:<stream>:<seq>" so that the letters of two consumers of one
 * message are both kept while a retried publish of the same one is not.
 * Waits for the PubAck.
 *
 * Threads: a worker (js_PublishMsg blocks).
 */

/* What a letter is made of: the dead message, where it came from, and why. */
typedef struct dlq_source {
    jsCtx *js;
    natsMsg *msg;           /* the dead message (not consumed) */
    const cfg_consumer *cc; /* its consumer: name, stream, dead_letter */
    const jsmeta *meta;     /* its stream sequence and delivery count */
    const char *message_id; /* Jetway-Message-Id, or NULL when it had none */
    int64_t timeout_ms;     /* PubAck wait */
} dlq_source;

int dlq_publish(const dlq_source *src, const char *reason, char *err, size_t errlen);

#endif /* JW_CORE_DLQ_H */
