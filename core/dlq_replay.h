/*
 * dlq_replay.h -- put a dead letter back on its original subject, once.
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
#ifndef JW_DLQ_REPLAY_H
#define JW_DLQ_REPLAY_H

#include <nats/nats.h>
#include <stddef.h>

#include "dlq_letter.h"

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

#endif /* JW_DLQ_REPLAY_H */
