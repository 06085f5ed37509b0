/*
 * pub_info.c -- see pub_info.h. Numbers are printed as JSON numbers; 64-bit
 * sequences stay exact below 2^53, which covers any test.
 */
#include "nats.h"

#include <cjson/cJSON.h>
#include <stdlib.h>


static int
emit(cJSON *o, FILE *out)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        fprintf(stderr, "jetway pub: out of memory\n");
        return -1;
    }
    fprintf(out, "%s\n", s);
    free(s);
    return 0;
}

int
pub_info_stream(jsCtx *js, const char *stream, FILE *out)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (s != NATS_OK) {
        fprintf(stderr, "jetway pub: stream %s: %s\n", stream,
                jerr == JSStreamNotFoundErr ? "not found" : natsconn_errtext(s));
        return -1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stream", stream);
    cJSON_AddNumberToObject(o, "messages", (double)si->State.Msgs);
    cJSON_AddNumberToObject(o, "bytes", (double)si->State.Bytes);
    cJSON_AddNumberToObject(o, "first_seq", (double)si->State.FirstSeq);
    cJSON_AddNumberToObject(o, "last_seq", (double)si->State.LastSeq);
    cJSON_AddNumberToObject(o, "num_deleted", (double)si->State.NumDeleted);
    cJSON_AddNumberToObject(o, "consumers", (double)si->State.Consumers);
    cJSON *subj = cJSON_AddArrayToObject(o, "subjects");
    for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++)
        cJSON_AddItemToArray(subj, cJSON_CreateString(si->Config->Subjects[i]));
    cJSON_AddStringToObject(
        o, "storage", si->Config && si->Config->Storage == js_MemoryStorage ? "memory" : "file");
    /* The replication the stream asked for, and what the cluster reports:
     * its leader and how many of the other replicas are current (a test of
     * an R3 stream needs both, not the configuration alone). */
    cJSON_AddNumberToObject(o, "num_replicas", si->Config ? (double)si->Config->Replicas : 0);
    const jsClusterInfo *cl = si->Cluster;
    cJSON_AddStringToObject(o, "leader", cl && cl->Leader ? cl->Leader : "");
    int current = 0;
    for (int i = 0; cl && i < cl->ReplicasLen; i++)
        current += cl->Replicas[i] && cl->Replicas[i]->Current && !cl->Replicas[i]->Offline;
    cJSON_AddNumberToObject(o, "replicas_current", current);
    jsStreamInfo_Destroy(si);
    return emit(o, out);
}

int
pub_info_consumer(jsCtx *js, const char *stream, const char *consumer, FILE *out)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, stream, consumer, NULL, &jerr);
    if (s != NATS_OK) {
        fprintf(stderr, "jetway pub: consumer %s/%s: %s\n", stream, consumer,
                jerr == JSConsumerNotFoundErr || jerr == JSStreamNotFoundErr ? "not found"
                                                                             : natsconn_errtext(s));
        return -1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stream", stream);
    cJSON_AddStringToObject(o, "consumer", consumer);
    cJSON_AddNumberToObject(o, "num_pending", (double)ci->NumPending);
    cJSON_AddNumberToObject(o, "num_ack_pending", (double)ci->NumAckPending);
    cJSON_AddNumberToObject(o, "num_redelivered", (double)ci->NumRedelivered);
    cJSON_AddNumberToObject(o, "num_waiting", (double)ci->NumWaiting);
    cJSON *d = cJSON_AddObjectToObject(o, "delivered");
    cJSON_AddNumberToObject(d, "consumer_seq", (double)ci->Delivered.Consumer);
    cJSON_AddNumberToObject(d, "stream_seq", (double)ci->Delivered.Stream);
    cJSON *a = cJSON_AddObjectToObject(o, "ack_floor");
    cJSON_AddNumberToObject(a, "consumer_seq", (double)ci->AckFloor.Consumer);
    cJSON_AddNumberToObject(a, "stream_seq", (double)ci->AckFloor.Stream);
    if (ci->Config) {
        const jsConsumerConfig *c = ci->Config;
        int64_t ack_wait_ms = c->AckWait / 1000000; /* whole ms, as configured */
        cJSON_AddNumberToObject(o, "ack_wait_ms", (double)ack_wait_ms);
        cJSON_AddNumberToObject(o, "max_deliver", (double)c->MaxDeliver);
        cJSON_AddNumberToObject(o, "max_ack_pending", (double)c->MaxAckPending);
        cJSON_AddNumberToObject(o, "backoff_len", (double)c->BackOffLen);
        cJSON_AddStringToObject(o, "filter_subject", c->FilterSubject ? c->FilterSubject : "");
        cJSON_AddBoolToObject(o, "pull", !c->DeliverSubject || !*c->DeliverSubject);
    }
    jsConsumerInfo_Destroy(ci);
    return emit(o, out);
}
