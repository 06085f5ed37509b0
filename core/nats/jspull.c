/*
 * jspull.c -- see nats.h (jspull, jsack). The status codes and descriptions
 * are nats-server's (2.9: consumer.go processNextMsgRequest and the waiting
 * request's expiry; checked against 2.9.10 on the wire): 100 Idle Heartbeat
 * (with Nats-Last-Consumer/-Stream), 404 No Messages, 408 Request Timeout
 * and 408 Requests Pending (with Nats-Pending-Messages/-Bytes), 409 for
 * limits and state, 400 Bad Request, 503 from the server when no JetStream
 * answers.
 */
#include "nats.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
has_prefix(const char *s, const char *p)
{
    return s && strncmp(s, p, strlen(p)) == 0;
}

jspull_kind
jspull_status(const char *code, const char *desc)
{
    if (!code)
        return JSPULL_ENDED;
    if (strncmp(code, "100", 3) == 0)
        return JSPULL_HEARTBEAT;
    if (strncmp(code, "400", 3) == 0)
        return JSPULL_REFUSED;
    if (strncmp(code, "503", 3) == 0)
        return JSPULL_NO_RESPONDERS;
    if (strncmp(code, "409", 3) == 0) {
        /* The consumer is no longer one we can pull from. */
        if (has_prefix(desc, "Consumer Deleted") || has_prefix(desc, "Consumer is push based"))
            return JSPULL_GONE;
        /* Our request exceeds a limit of the consumer's: asking again the
         * same way would be refused again. */
        if (has_prefix(desc, "Exceeded MaxRequest"))
            return JSPULL_REFUSED;
        /* Exceeded MaxWaiting, Message Size Exceeds MaxBytes, Leadership
         * Change...: this request is over, another may succeed. */
        return JSPULL_ENDED;
    }
    /* 404 No Messages, 408 Request Timeout, anything else. */
    return JSPULL_ENDED;
}

jspull_kind
jspull_classify(natsMsg *m, int *undelivered)
{
    *undelivered = -1;
    const char *reply = natsMsg_GetReply(m);
    if (has_prefix(reply, "$JS.ACK."))
        return JSPULL_MSG;
    const char *code = NULL, *desc = NULL, *pend = NULL;
    if (natsMsgHeader_Get(m, "Status", &code) != NATS_OK)
        code = NULL;
    if (natsMsgHeader_Get(m, "Description", &desc) != NATS_OK)
        desc = NULL;
    jspull_kind k = jspull_status(code, desc);
    if (k != JSPULL_HEARTBEAT && natsMsgHeader_Get(m, "Nats-Pending-Messages", &pend) == NATS_OK &&
        pend) {
        char *end = NULL;
        long v = strtol(pend, &end, 10);
        if (end != pend && *end == '\0' && v >= 0 && v <= INT32_MAX)
            *undelivered = (int)v;
    }
    return k;
}

int
jspull_request(char *buf, size_t len, int batch, int64_t expires_ns, int64_t heartbeat_ns)
{
    int n;
    if (heartbeat_ns > 0)
        n = snprintf(buf, len,
                     "{\"batch\":%d,\"expires\":%" PRId64 ",\"idle_heartbeat\":%" PRId64 "}", batch,
                     expires_ns, heartbeat_ns);
    else
        n = snprintf(buf, len, "{\"batch\":%d,\"expires\":%" PRId64 "}", batch, expires_ns);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

int
jsack_body(char *buf, size_t len, jsack_kind k, int64_t delay_ms)
{
    int n;
    switch (k) {
    case JSACK_ACK:
        n = snprintf(buf, len, "+ACK");
        break;
    case JSACK_NAK:
        if (delay_ms > 0)
            n = snprintf(buf, len, "-NAK {\"delay\":%" PRId64 "}", delay_ms * 1000000);
        else
            n = snprintf(buf, len, "-NAK");
        break;
    case JSACK_TERM:
        n = snprintf(buf, len, "+TERM");
        break;
    case JSACK_PROGRESS:
        n = snprintf(buf, len, "+WPI");
        break;
    default:
        return -1;
    }
    return n < 0 || (size_t)n >= len ? -1 : n;
}

natsStatus
jsack_send(natsConnection *nc, natsMsg *m, jsack_kind k, int64_t delay_ms)
{
    const char *reply = m ? natsMsg_GetReply(m) : NULL;
    if (!has_prefix(reply, "$JS.ACK."))
        return NATS_ILLEGAL_STATE;
    char body[64];
    int n = jsack_body(body, sizeof(body), k, delay_ms);
    if (n < 0)
        return NATS_INVALID_ARG;
    return natsConnection_Publish(nc, reply, body, n);
}
