/*
 * js_drained.c -- test tool: are these consumers drained? One connection
 * for all of them, so a test can poll a whole system cheaply.
 *
 *   js_drained URL (STREAM/CONSUMER | STREAM)...
 *
 * Exits 0 when every consumer named has num_pending == 0 and
 * num_ack_pending == 0, and then prints the last sequence of every stream
 * named (alone or with a consumer), once each, in order of first mention:
 * "ORDERS:3000 PAYMENTS:1976 ...". Exits 1 when a consumer is not drained
 * or something cannot be read (message on stderr), 2 on a usage error.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAINED_NAME_MAX 128

/* The stream part of an argument into out; 0 or -1 when too long or empty. */
static int
drained_stream(const char *arg, char out[DRAINED_NAME_MAX])
{
    size_t n = strcspn(arg, "/");

    if (n == 0 || n >= DRAINED_NAME_MAX)
        return -1;
    memcpy(out, arg, n);
    out[n] = '\0';
    return 0;
}

/* 0 when the consumer is drained, 1 when not, -1 on an error. */
static int
drained_consumer(jsCtx *js, const char *stream, const char *consumer)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, stream, consumer, NULL, &jerr);
    int rc;

    if (s != NATS_OK) {
        fprintf(stderr, "js_drained: %s/%s: %s (%d)\n", stream, consumer, natsStatus_GetText(s),
                (int)jerr);
        return -1;
    }
    rc = ci->NumPending != 0 || ci->NumAckPending != 0;
    jsConsumerInfo_Destroy(ci);
    return rc;
}

int
main(int argc, char **argv)
{
    char stream[DRAINED_NAME_MAX], other[DRAINED_NAME_MAX];
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus s;
    int rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: js_drained URL (STREAM/CONSUMER | STREAM)...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (drained_stream(argv[i], stream) != 0) {
            fprintf(stderr, "js_drained: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, NULL);
    if (s != NATS_OK) {
        fprintf(stderr, "js_drained: %s: %s\n", argv[1], natsStatus_GetText(s));
        rc = 1;
        goto out;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        const char *slash = strchr(argv[i], '/');
        if (slash != NULL && slash[1] != '\0') {
            drained_stream(argv[i], stream);
            rc = drained_consumer(js, stream, slash + 1) != 0;
        }
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        int seen = 0;

        drained_stream(argv[i], stream);
        for (int j = 2; j < i && !seen; j++) {
            drained_stream(argv[j], other);
            seen = strcmp(stream, other) == 0;
        }
        if (seen)
            continue;
        s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
        if (s != NATS_OK) {
            fprintf(stderr, "js_drained: %s: %s (%d)\n", stream, natsStatus_GetText(s), (int)jerr);
            rc = 1;
        } else {
            printf("%s%s:%llu", i > 2 ? " " : "", stream, (unsigned long long)si->State.LastSeq);
        }
        jsStreamInfo_Destroy(si);
    }
    if (rc == 0)
        printf("\n");
out:
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
