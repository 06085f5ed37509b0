/*
 * dlq_replay.c -- see dlq_replay.h.
 */
#include "dlq.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nats/nats.h"

int
dlq_replay_drops_header(const char *key)
{
    static const char *const exact[] = {"Nats-Msg-Id",     "Nats-Stream",  "Nats-Sequence",
                                        "Nats-Time-Stamp", "Nats-Subject", "Nats-Last-Sequence"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcasecmp(key, exact[i]) == 0)
            return 1;
    }
    return strncasecmp(key, "Jetway-", 7) == 0 || strncasecmp(key, "Nats-Expected-", 14) == 0;
}

static void
marker_subject(const char *dlq_stream, uint64_t seq, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%s.%" PRIu64, DLQ_MARKER_SUBJECT, dlq_stream, seq);
}

int
dlq_marker_get(jsCtx *js, const char *dlq_stream, uint64_t seq, dlq_marker *m, char *err,
               size_t errlen)
{
    memset(m, 0, sizeof(*m));
    char subj[256];
    marker_subject(dlq_stream, seq, subj, sizeof(subj));
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&msg, js, DLQ_MARKER_STREAM, subj, NULL, &jerr);
    if (s != NATS_OK) {
        if (jerr == JSNoMessageFoundErr || jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND)
            return 0;
        snprintf(err, errlen, "replay markers: %s", natsconn_errtext(s));
        return -1;
    }
    m->marker_seq = natsMsg_GetSequence(msg);
    cJSON *doc = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "replays");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(doc, "replayed_at");
    m->replays = cJSON_IsNumber(r) && r->valueint > 0 ? r->valueint : 1;
    snprintf(m->at, sizeof(m->at), "%s", cJSON_IsString(at) ? at->valuestring : "?");
    cJSON_Delete(doc);
    natsMsg_Destroy(msg);
    return 0;
}

static int
ensure_marker_stream(jsCtx *js, char *err, size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, DLQ_MARKER_STREAM, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (jerr != JSStreamNotFoundErr) {
        snprintf(err, errlen, "stream %s: %s", DLQ_MARKER_STREAM, natsconn_errtext(s));
        return -1;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {DLQ_MARKER_SUBJECT ".>"};
    sc.Name = DLQ_MARKER_STREAM;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.MaxMsgsPerSubject = 1; /* the latest marker of a letter is all we read */
    s = js_AddStream(&si, js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    /* Another operator may have created it meanwhile: that is fine. */
    if (s != NATS_OK && jerr != JSStreamNameExistErr) {
        snprintf(err, errlen, "create stream %s: %s", DLQ_MARKER_STREAM, natsconn_errtext(s));
        return -1;
    }
    return 0;
}

natsMsg *
dlq_replay_build(const dlq_letter *l, int attempt, char *msgid, size_t idlen)
{
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, l->orig_subject, NULL, natsMsg_GetData(l->msg),
                       natsMsg_GetDataLength(l->msg)) != NATS_OK)
        return NULL;
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsgHeader_Keys(l->msg, &keys, &nkeys);
    if (s == NATS_NOT_FOUND)
        s = NATS_OK; /* no headers */
    for (int i = 0; s == NATS_OK && i < nkeys; i++) {
        if (dlq_replay_drops_header(keys[i]))
            continue;
        const char **vals = NULL;
        int nvals = 0;
        s = natsMsgHeader_Values(l->msg, keys[i], &vals, &nvals);
        for (int j = 0; s == NATS_OK && j < nvals; j++)
            s = natsMsgHeader_Add(m, keys[i], vals[j]);
        free((void *)vals);
    }
    free((void *)keys);

    char suffix[32] = "";
    if (attempt > 1)
        snprintf(suffix, sizeof(suffix), "#%d", attempt);
    char replay[256];
    snprintf(replay, sizeof(replay), "%s:%" PRIu64 "%s", l->dlq_stream, l->seq, suffix);
    /* Without an original id the replay still gets a deterministic one. */
    if (l->message_id[0])
        snprintf(msgid, idlen, "%s~replay-%s-%" PRIu64 "%s", l->message_id, l->dlq_stream, l->seq,
                 suffix);
    else
        snprintf(msgid, idlen, "replay-%s-%" PRIu64 "%s", l->dlq_stream, l->seq, suffix);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, DLQ_H_REPLAY, replay);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return NULL;
    }
    return m;
}

static int
write_marker(jsCtx *js, const dlq_letter *l, const dlq_marker *prev, const char *msgid,
             const jsPubAck *pa, char *warn, size_t wlen)
{
    char subj[256], at[40], expect[32];
    marker_subject(l->dlq_stream, l->seq, subj, sizeof(subj));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    dlq_format_time((int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, at, sizeof(at));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dlq_stream", l->dlq_stream);
    cJSON_AddNumberToObject(o, "dlq_seq", (double)l->seq);
    cJSON_AddNumberToObject(o, "replays", prev->replays + 1);
    cJSON_AddStringToObject(o, "replayed_at", at);
    cJSON_AddStringToObject(o, "subject", l->orig_subject);
    cJSON_AddStringToObject(o, "msg_id", msgid);
    cJSON_AddStringToObject(o, "stream", pa->Stream ? pa->Stream : "");
    cJSON_AddNumberToObject(o, "seq", (double)pa->Sequence);
    cJSON_AddBoolToObject(o, "duplicate", pa->Duplicate);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    natsMsg *m = NULL;
    natsStatus s = body ? natsMsg_Create(&m, subj, NULL, body, (int)strlen(body)) : NATS_NO_MEMORY;
    free(body);
    snprintf(expect, sizeof(expect), "%" PRIu64, prev->marker_seq);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", expect);
    jsPubAck *mpa = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK)
        s = js_PublishMsg(&mpa, js, m, NULL, &jerr);
    jsPubAck_Destroy(mpa);
    natsMsg_Destroy(m);
    if (s == NATS_OK)
        return 0;
    if (jerr == JSStreamWrongLastSequenceErr)
        snprintf(warn, wlen, "; another replay of this letter was recorded meanwhile");
    else
        snprintf(warn, wlen, "; WARNING: replay marker not written (%s)", natsconn_errtext(s));
    return -1;
}

int
dlq_replay_letter(jsCtx *js, const dlq_letter *l, int force, char *line, size_t linelen)
{
    if (!dlq_letter_is_jetway(l)) {
        snprintf(line, linelen, "%s:%" PRIu64 ": skipped: not a jetway letter (no %s header)",
                 l->dlq_stream, l->seq, DLQ_H_ORIG_SUBJECT);
        return 1;
    }
    dlq_marker prev;
    char err[256];
    if (dlq_marker_get(js, l->dlq_stream, l->seq, &prev, err, sizeof(err)) != 0) {
        snprintf(line, linelen, "%s:%" PRIu64 ": failed: %s", l->dlq_stream, l->seq, err);
        return -1;
    }
    if (prev.replays > 0 && !force) {
        snprintf(line, linelen,
                 "%s:%" PRIu64 ": skipped: already replayed at %s (--force replays again)",
                 l->dlq_stream, l->seq, prev.at);
        return 1;
    }
    if (ensure_marker_stream(js, err, sizeof(err)) != 0) {
        snprintf(line, linelen, "%s:%" PRIu64 ": failed: %s", l->dlq_stream, l->seq, err);
        return -1;
    }
    char msgid[512];
    natsMsg *m = dlq_replay_build(l, prev.replays + 1, msgid, sizeof(msgid));
    if (!m) {
        snprintf(line, linelen, "%s:%" PRIu64 ": failed: cannot build the message", l->dlq_stream,
                 l->seq);
        return -1;
    }
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_PublishMsg(&pa, js, m, NULL, &jerr);
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        snprintf(line, linelen, "%s:%" PRIu64 ": failed: publish to %s: %s", l->dlq_stream, l->seq,
                 l->orig_subject, natsconn_errtext(s));
        return -1;
    }
    char warn[300] = "";
    write_marker(js, l, &prev, msgid, pa, warn, sizeof(warn));
    snprintf(line, linelen, "%s:%" PRIu64 ": replayed to %s as %s seq %" PRIu64 "%s (id %s)%s",
             l->dlq_stream, l->seq, l->orig_subject, pa->Stream ? pa->Stream : "?", pa->Sequence,
             pa->Duplicate ? " (duplicate: the stream had it already)" : "", msgid, warn);
    jsPubAck_Destroy(pa);
    return 0;
}
