/*
 * pull.c -- see pull_int.h.
 */
#include "pull_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int
rt_pull_open(rt_pull *p, natsConnection *nc, const char *prefix, const char *stream,
             const char *durable)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    memset(p, 0, sizeof(*p));
    p->nc = nc;
    size_t n = strlen("$JS.API.CONSUMER.MSG.NEXT..") + strlen(stream) + strlen(durable) + 1;
    p->next_subject = malloc(n);
    if (!p->next_subject)
        return -1;
    snprintf(p->next_subject, n, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, durable);
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        /* natsInbox_Create ignores the connection's custom prefix (a user
         * may be allowed to subscribe under that prefix alone): keep its
         * unique part, under the prefix. */
        const char *uniq = strrchr((const char *)inbox, '.');
        uniq = uniq ? uniq + 1 : (const char *)inbox;
        int n2 = snprintf(p->inbox, sizeof(p->inbox), "%s.%s", prefix ? prefix : "_INBOX", uniq);
        natsInbox_Destroy(inbox);
        if (n2 < 0 || (size_t)n2 >= sizeof(p->inbox))
            s = NATS_INVALID_ARG;
    }
    if (s == NATS_OK) {
        char subj[sizeof(p->inbox) + 2];
        snprintf(subj, sizeof(subj), "%s.*", p->inbox);
        s = natsConnection_SubscribeSync(&p->sub, nc, subj);
    }
    if (s != NATS_OK) {
        free(p->next_subject);
        p->next_subject = NULL;
        p->sub = NULL;
        return -1;
    }
    p->reconnects = atomic_load(&stats.nats_reconnects);
    p->last_heard_ns = clock_mono_ns();
    return 0;
}

void
rt_pull_reset(rt_pull *p)
{
    p->outstanding = 0;
    p->epoch_seq = p->seq + 1;
}

int
rt_pull_top_up(rt_pull *p, int credits, int full)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    int want = (credits < full ? credits : full) - p->outstanding;
    int half = full / 2 > 0 ? full / 2 : 1;
    if (want <= 0 || want < half)
        return 0;
    char body[160];
    int len = jspull_request(body, sizeof(body), want, (int64_t)PULL_EXPIRES_MS * 1000000,
                             (int64_t)PULL_HEARTBEAT_MS * 1000000);
    char reply[sizeof(p->inbox) + 24];
    snprintf(reply, sizeof(reply), "%s.%llu", p->inbox, (unsigned long long)(p->seq + 1));
    /* natsConnection_PublishRequest buffers; cnats's flusher sends it with
     * whatever ACKs accumulated within a millisecond, in one write. */
    if (len < 0 ||
        natsConnection_PublishRequest(p->nc, p->next_subject, reply, body, len) != NATS_OK)
        return -1;
    p->seq++;
    p->requests++;
    if (p->outstanding == 0)
        p->last_heard_ns = clock_mono_ns(); /* the heartbeat clock starts now */
    p->outstanding += want;
    return want;
}

/* The request sequence a status's subject "<inbox>.<seq>" names; 0 if none. */
static uint64_t
status_seq(const rt_pull *p, natsMsg *m)
{
    const char *subj = natsMsg_GetSubject(m);
    size_t n = strlen(p->inbox);
    if (!subj || strncmp(subj, p->inbox, n) != 0 || subj[n] != '.')
        return 0;
    return strtoull(subj + n + 1, NULL, 10);
}

/* A status message: account for it in p and ev; m is destroyed by the caller. */
static void
on_status(rt_pull *p, natsMsg *m, jspull_kind k, int undelivered, rt_pull_events *ev)
{
    if (k == JSPULL_HEARTBEAT)
        return;
    if (status_seq(p, m) < p->epoch_seq)
        return; /* a request forgotten at a reset: already not counted */
    const char *desc = NULL;
    if (k != JSPULL_ENDED && natsMsgHeader_Get(m, "Description", &desc) == NATS_OK && desc)
        snprintf(ev->why, sizeof(ev->why), "%s", desc);
    switch (k) {
    case JSPULL_ENDED:
        if (undelivered >= 0) {
            p->outstanding -= undelivered;
            if (p->outstanding < 0)
                p->outstanding = 0;
        } else {
            /* How much of it came is unknown: start over. */
            rt_pull_reset(p);
        }
        break;
    case JSPULL_GONE:
        ev->gone = 1;
        rt_pull_reset(p);
        break;
    case JSPULL_REFUSED:
        ev->refused = 1;
        rt_pull_reset(p);
        break;
    case JSPULL_NO_RESPONDERS:
        ev->no_responders = 1;
        rt_pull_reset(p);
        break;
    default:
        break;
    }
}

/* The connection was re-made, or the server went quiet past two heartbeats
 * while a request should be waiting: whatever was outstanding is presumed
 * lost. */
static void
check_lost(rt_pull *p, rt_pull_events *ev)
{
    uint64_t rc = atomic_load(&stats.nats_reconnects);
    if (rc != p->reconnects) {
        p->reconnects = rc;
        rt_pull_reset(p);
        ev->lost = 1;
        return;
    }
    if (p->outstanding > 0 &&
        clock_mono_ns() - p->last_heard_ns > (uint64_t)2 * PULL_HEARTBEAT_MS * 1000000) {
        rt_pull_reset(p);
        p->last_heard_ns = clock_mono_ns(); /* the next silence is timed afresh */
        ev->lost = 2;
    }
}

int
rt_pull_receive(rt_pull *p, natsMsg **out, int max, int wait_ms, rt_pull_events *ev)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    memset(ev, 0, sizeof(*ev));
    int got = 0;
    int queued = 0;
    uint64_t deadline = clock_mono_ns() + (uint64_t)wait_ms * 1000000;
    while (got < max) {
        int64_t wait = 1; /* queued messages return at once */
        if (queued <= 0) {
            int bytes = 0;
            if (natsSubscription_GetPending(p->sub, &queued, &bytes) != NATS_OK)
                queued = 0;
            if (queued <= 0) {
                if (got > 0)
                    break; /* hand on what came; never wait holding messages */
                uint64_t now = clock_mono_ns();
                if (now >= deadline)
                    break;
                wait = (int64_t)((deadline - now) / 1000000);
                if (wait < 1)
                    wait = 1;
            }
        }
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, p->sub, wait);
        if (s != NATS_OK)
            break; /* NATS_TIMEOUT when idle; a closed connection is seen elsewhere */
        queued--;
        ev->heard = 1;
        p->last_heard_ns = clock_mono_ns();
        int undelivered;
        jspull_kind k = jspull_classify(m, &undelivered);
        if (k == JSPULL_MSG) {
            if (p->outstanding > 0)
                p->outstanding--;
            out[got++] = m;
            continue;
        }
        on_status(p, m, k, undelivered, ev);
        natsMsg_Destroy(m);
        if (ev->gone || ev->refused || ev->no_responders)
            break;
    }
    check_lost(p, ev);
    return got;
}

int
rt_pull_close(rt_pull *p, void (*give_back)(natsMsg *m, void *ud), void *ud, int wait_ms)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    int given = 0;
    if (p->sub) {
        /* Drain: UNSUB, then a flush, so every message the server sent
         * before it saw the UNSUB is still queued here and given back,
         * instead of waiting out ack_wait on the server. Whatever is
         * queued is taken even when the drain cannot start (connection
         * closed) or does not finish in time. */
        int draining = natsSubscription_DrainTimeout(p->sub, wait_ms) == NATS_OK;
        uint64_t deadline = clock_mono_ns() + (uint64_t)wait_ms * 1000000;
        for (;;) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, p->sub, 20) == NATS_OK) {
                int undelivered;
                if (jspull_classify(m, &undelivered) == JSPULL_MSG && give_back) {
                    give_back(m, ud);
                    given++;
                } else {
                    natsMsg_Destroy(m);
                }
                continue;
            }
            if (!natsSubscription_IsValid(p->sub) || !draining || clock_mono_ns() >= deadline)
                break;
        }
        natsSubscription_Destroy(p->sub);
        p->sub = NULL;
    }
    free(p->next_subject);
    p->next_subject = NULL;
    p->outstanding = 0;
    return given;
}
