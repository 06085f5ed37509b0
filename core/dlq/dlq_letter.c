/*
 * dlq_letter.c -- see dlq_letter.h.
 */
#include "dlq.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nats/nats.h"

static const char *
hdr(natsMsg *m, const char *key)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v)
        return "";
    return v;
}

int
dlq_letter_get(jsCtx *js, const char *stream, uint64_t seq, dlq_letter *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof(*out));
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&m, js, stream, seq, NULL, &jerr);
    if (s != NATS_OK) {
        if (jerr == JSNoMessageFoundErr || s == NATS_NOT_FOUND)
            return 1;
        snprintf(err, errlen, "stream %s seq %llu: %s", stream, (unsigned long long)seq,
                 jerr == JSStreamNotFoundErr ? "stream not found" : natsconn_errtext(s));
        return -1;
    }
    dlq_letter_from_msg(m, stream, seq, out);
    return 0;
}

void
dlq_letter_from_msg(natsMsg *m, const char *stream, uint64_t seq, dlq_letter *out)
{
    memset(out, 0, sizeof(*out));
    out->dlq_stream = stream;
    out->seq = seq;
    out->msg = m;
    out->time_ns = natsMsg_GetTime(m);
    out->subject = natsMsg_GetSubject(m);
    out->orig_subject = hdr(m, DLQ_H_ORIG_SUBJECT);
    out->orig_stream = hdr(m, DLQ_H_STREAM);
    out->orig_seq = hdr(m, DLQ_H_SEQUENCE);
    out->consumer = hdr(m, DLQ_H_CONSUMER);
    out->deliveries = hdr(m, DLQ_H_DELIVERIES);
    out->error = hdr(m, DLQ_H_ERROR);
    out->message_id = hdr(m, DLQ_H_MESSAGE_ID);
    out->size = natsMsg_GetDataLength(m);
}

void
dlq_letter_free(dlq_letter *l)
{
    if (l && l->msg) {
        natsMsg_Destroy(l->msg);
        l->msg = NULL;
    }
}

int
dlq_letter_is_jetway(const dlq_letter *l)
{
    return l->orig_subject && l->orig_subject[0];
}

void
dlq_format_time(int64_t ns, char *buf, size_t len)
{
    time_t sec = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)((ns / 1000000LL) % 1000));
}
