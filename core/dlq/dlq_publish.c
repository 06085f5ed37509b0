/*
 * dlq_publish.c -- publish a dead letter (see dlq.h).
 */
#include "dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

/* Headers of the original that must not travel with the letter. */
static int
header_dropped(const char *key)
{
    return strcasecmp(key, "Nats-Msg-Id") == 0 || strncasecmp(key, "Nats-Expected-", 14) == 0 ||
           strncasecmp(key, "Jetway-", 7) == 0;
}

static natsStatus
copy_headers(natsMsg *dst, natsMsg *src)
{
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsgHeader_Keys(src, &keys, &nkeys);
    if (s == NATS_NOT_FOUND)
        return NATS_OK;
    for (int i = 0; s == NATS_OK && i < nkeys; i++) {
        if (header_dropped(keys[i]))
            continue;
        const char **vals = NULL;
        int nvals = 0;
        s = natsMsgHeader_Values(src, keys[i], &vals, &nvals);
        for (int k = 0; s == NATS_OK && k < nvals; k++)
            s = natsMsgHeader_Add(dst, keys[i], vals[k]);
        free((void *)vals);
        if (s == NATS_NOT_FOUND)
            s = NATS_OK;
    }
    free((void *)keys);
    return s;
}

/* Header values must be one line: replace CR/LF of error texts. */
static void
one_line(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
    for (char *p = dst; *p; p++) {
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    }
}

int
dlq_publish(const dlq_source *src, const char *reason, char *err, size_t errlen)
{
    const cfg_consumer *cc = src->cc;
    if (!cc->dead_letter) {
        snprintf(err, errlen, "consumer has no dead_letter subject");
        return -1;
    }
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, cc->dead_letter, NULL, natsMsg_GetData(src->msg),
                                  natsMsg_GetDataLength(src->msg));
    char buf[64], id[512], why[JW_REASON_MAX];
    if (s == NATS_OK)
        s = copy_headers(m, src->msg);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Jetway-Original-Subject", natsMsg_GetSubject(src->msg));
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Jetway-Stream", cc->stream);
    if (s == NATS_OK) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)src->meta->stream_seq);
        s = natsMsgHeader_Set(m, "Jetway-Sequence", buf);
    }
    if (s == NATS_OK) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)src->meta->delivered);
        s = natsMsgHeader_Set(m, "Jetway-Deliveries", buf);
    }
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Jetway-Consumer", cc->name);
    if (s == NATS_OK) {
        one_line(why, sizeof(why), reason);
        s = natsMsgHeader_Set(m, "Jetway-Error", why);
    }
    if (s == NATS_OK && src->message_id)
        s = natsMsgHeader_Set(m, "Jetway-Message-Id", src->message_id);
    if (s == NATS_OK) {
        snprintf(id, sizeof(id), "%s:%s:%llu", cc->name, cc->stream,
                 (unsigned long long)src->meta->stream_seq);
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    }
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = src->timeout_ms > 0 ? src->timeout_ms : 5000;
        s = js_PublishMsg(&pa, src->js, m, &po, &jerr);
    }
    natsMsg_Destroy(m);
    jsPubAck_Destroy(pa);
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s (%s, jerr %d)", natsStatus_GetText(s), nats_GetLastError(NULL),
                 (int)jerr);
        return -1;
    }
    return 0;
}
