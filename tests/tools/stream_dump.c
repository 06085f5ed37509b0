/*
 * stream_dump.c -- test tool: print every message of a JetStream stream as
 * one JSON line, read by sequence (js_GetMsg), so nothing is consumed and
 * no consumer is created:
 *
 *   stream_dump URL STREAM
 *   {"stream":"ORDERS","seq":1,"subject":"orders.created.v1",
 *    "headers":{"Nats-Msg-Id":["..."]},"data":"{...}"}
 *
 * Sequences from first_seq to last_seq at the time of the call; deleted
 * ones are skipped. data is the payload as a string (cut at a NUL byte:
 * the order system's payloads are JSON text). Exit 0, or 1 with a message
 * on stderr when the server or the stream cannot be read.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>

/* Print one message as a JSON line; 0 or -1 (no memory). */
static int
dump_msg(const char *stream, uint64_t seq, natsMsg *m)
{
    cJSON *o = cJSON_CreateObject(), *h;
    const char **keys = NULL;
    char *text;
    int n = 0;

    if (o == NULL)
        return -1;
    cJSON_AddStringToObject(o, "stream", stream);
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddStringToObject(o, "subject", natsMsg_GetSubject(m));
    h = cJSON_AddObjectToObject(o, "headers");
    if (natsMsgHeader_Keys(m, &keys, &n) == NATS_OK) {
        for (int i = 0; i < n; i++) {
            const char **vals = NULL;
            int nv = 0;
            cJSON *a;
            if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
                continue;
            a = cJSON_AddArrayToObject(h, keys[i]);
            for (int j = 0; j < nv; j++)
                cJSON_AddItemToArray(a, cJSON_CreateString(vals[j]));
            free((void *)vals);
        }
        free((void *)keys);
    }
    cJSON_AddStringToObject(o, "data", natsMsg_GetData(m) ? natsMsg_GetData(m) : "");
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int
main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: stream_dump URL STREAM\n");
        return 2;
    }
    s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK)
        s = js_GetStreamInfo(&si, js, argv[2], NULL, &jerr);
    if (s != NATS_OK) {
        fprintf(stderr, "stream_dump: %s: %s (%d)\n", argv[2], natsStatus_GetText(s), (int)jerr);
        goto out;
    }
    for (uint64_t seq = si->State.FirstSeq; si->State.Msgs > 0 && seq <= si->State.LastSeq; seq++) {
        natsMsg *m = NULL;
        jerr = 0;
        s = js_GetMsg(&m, js, argv[2], seq, NULL, &jerr);
        if (s != NATS_OK && (jerr == JSNoMessageFoundErr || s == NATS_NOT_FOUND))
            continue; /* deleted */
        if (s != NATS_OK) {
            fprintf(stderr, "stream_dump: %s seq %" PRIu64 ": %s (%d)\n", argv[2], seq,
                    natsStatus_GetText(s), (int)jerr);
            goto out;
        }
        if (dump_msg(argv[2], seq, m) != 0) {
            natsMsg_Destroy(m);
            fprintf(stderr, "stream_dump: out of memory\n");
            goto out;
        }
        natsMsg_Destroy(m);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
