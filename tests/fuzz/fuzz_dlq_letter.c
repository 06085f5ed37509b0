/*
 * fuzz_dlq_letter.c -- a dead letter read back from its stream
 * (core/dlq/dlq_letter.c) and the replay built from it
 * (core/dlq/dlq_replay.c). Letters are messages like any other: whoever
 * can publish to a dead_letter subject writes their headers. The input is
 * the letter's wire header block and payload, split at the first NUL.
 *
 * Checked: every field of the letter is a string (never NULL); the replay
 * of a jetway letter goes to its original subject, keeps none of the
 * Jetway-* diagnostics or Nats-* stream headers, and carries the
 * Jetway-Replay and Nats-Msg-Id it reports.
 */
#include "fuzz.h"

#include <strings.h>

#include "dlq/dlq.h"

static void
check_replay(const dlq_letter *l, int attempt)
{
    char msgid[512];
    natsMsg *r = dlq_replay_build(l, attempt, msgid, sizeof(msgid));
    if (r == NULL)
        return; /* cnats refused a header or the subject: reported by the caller */
    if (strcmp(natsMsg_GetSubject(r), l->orig_subject) != 0)
        abort();
    const char *v = NULL;
    if (natsMsgHeader_Get(r, "Nats-Msg-Id", &v) != NATS_OK || v == NULL || strcmp(v, msgid) != 0) {
        fprintf(stderr, "replay: Nats-Msg-Id is not %s\n", msgid);
        abort();
    }
    if (natsMsgHeader_Get(r, DLQ_H_REPLAY, &v) != NATS_OK || v == NULL)
        abort();
    const char **keys = NULL;
    int n = 0;
    if (natsMsgHeader_Keys(r, &keys, &n) == NATS_OK) {
        for (int i = 0; i < n; i++) {
            if (strcmp(keys[i], DLQ_H_REPLAY) == 0 || strcmp(keys[i], "Nats-Msg-Id") == 0)
                continue;
            if (dlq_replay_drops_header(keys[i])) {
                fprintf(stderr, "replay kept header %s\n", keys[i]);
                abort();
            }
        }
        free((void *)keys);
    }
    natsMsg_Destroy(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *hdr = NULL, *payload = NULL;
    size_t hlen = 0, plen = 0;
    fuzz_split(data, size, 0, &hdr, &hlen, &payload, &plen);
    natsMsg *m = fuzz_msg("dlq.orders", NULL, hdr, hlen, payload ? payload : "", plen);
    if (m != NULL) {
        dlq_letter l;
        dlq_letter_from_msg(m, "DLQ", 42, &l);
        const char *fields[] = {l.orig_subject, l.orig_stream, l.orig_seq,  l.consumer,
                                l.deliveries,   l.error,       l.message_id};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            if (fields[i] == NULL)
                abort();
        }
        /* What `jetway dlq ls` makes of them. */
        (void)strtoull(l.orig_seq, NULL, 10);
        (void)strtol(l.deliveries, NULL, 10);
        char when[40];
        dlq_format_time(l.time_ns, when, sizeof(when));
        if (dlq_letter_is_jetway(&l)) {
            check_replay(&l, 1);
            check_replay(&l, 3);
        }
        dlq_letter_free(&l);
    }
    free(hdr);
    free(payload);
    return 0;
}
