/*
 * pull -- jetway's own JetStream pull consumer client, as nats.go's
 * Consume() and cnats 3.8's js_PullSubscribeAsync do it: one plain core
 * NATS subscription on a private inbox, pull requests published to
 * $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable> with a reply subject under
 * that inbox, and a request kept outstanding (refilled when half of what it
 * asked for has arrived, expiring after PULL_EXPIRES_MS with idle
 * heartbeats every PULL_HEARTBEAT_MS), so that pull requests do not grow
 * with the message rate. The wire formats are nats/jspull.
 *
 * Why not cnats's pull subscription: natsSubscription_Fetch* in Debian 12's
 * cnats 3.4.1 overflows its message array when messages are already
 * pending on the subscription (a pull's messages arriving after its
 * client-side deadline, e.g. redeliveries right after a restart; nats.c
 * #749, fixed in 3.8): heap corruption in restarted roles. And every fetch
 * is a pull request of its own.
 *
 * Accounting: `outstanding` counts messages asked for and neither received
 * nor released by the server. A request ends when its batch is delivered
 * (silently) or with a status carrying Nats-Pending-Messages, the part it
 * will not deliver. What cannot be accounted for exactly (a status without
 * that header, a reconnect, a missed heartbeat: the server may have
 * forgotten the requests) resets it to 0 and starts a new epoch: statuses
 * of requests from before the reset are then ignored (their reply subjects,
 * <inbox>.<seq>, carry the request's sequence). Stream messages always
 * count, whatever request brought them. An estimate that is too low only
 * asks for more than the credits: the consumer's max_ack_pending still
 * bounds what the server sends.
 *
 * Threads: everything here belongs to the consumer's fetcher thread (the
 * struct lives in the fetcher's own state); cnats's reader thread only
 * queues messages on the subscription.
 */
#ifndef JW_PULL_H
#define JW_PULL_H

#include <stdint.h>

#include "rt_int.h"

/* A request waits this long for its messages; an idle consumer sends one
 * request per expiry. */
#define PULL_EXPIRES_MS 30000
/* While a request waits, the server says so this often; two missed in a row
 * mean it is gone (server restart, lost connection, leader change). */
#define PULL_HEARTBEAT_MS 5000

typedef struct rt_pull {
    natsConnection *nc;
    natsSubscription *sub;  /* on "<inbox>.*", NULL when closed */
    char inbox[160];        /* "<nats.inbox_prefix or _INBOX>.<nuid>" */
    char *next_subject;     /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable> */
    uint64_t seq;           /* requests sent (the reply subject's last token) */
    uint64_t epoch_seq;     /* statuses of requests below this are stale */
    int outstanding;        /* messages asked for, not received or released */
    uint64_t last_heard_ns; /* last message or status, or the last request */
    uint64_t reconnects;    /* stats.nats_reconnects when last looked at */
    uint64_t requests;      /* pull requests published (for the pulls metric) */
} rt_pull;

/* What one rt_pull_receive brought besides messages. */
typedef struct rt_pull_events {
    int heard;         /* anything came from the server */
    int gone;          /* the durable is gone or not a pull consumer: bind again */
    int refused;       /* a request was refused (400, 409 Exceeded MaxRequest...) */
    int no_responders; /* 503: JetStream does not answer */
    int lost;          /* the connection was re-made (1) or the server silent (2) */
    char why[160];     /* the server's description of the last refusal */
} rt_pull_events;

/* Subscribe to a fresh inbox under prefix (nats.inbox_prefix; NULL:
 * "_INBOX"). 0, or -1 with cnats's error left for the log. */
int rt_pull_open(rt_pull *p, natsConnection *nc, const char *prefix, const char *stream,
                 const char *durable);
/*
 * Keep a request outstanding within `credits` (free slots: max in flight
 * minus in flight) and within `full`, the most that may be outstanding at
 * once (the consumer's batch: a pause or an open breaker stops new requests
 * but cannot recall one already at the server, so that is what a pause can
 * still let through): ask for min(credits, full) - outstanding once that is
 * at least half of full. Returns the batch asked for (0: none needed), or
 * -1 when the publish failed.
 */
int rt_pull_top_up(rt_pull *p, int credits, int full);
/*
 * Wait up to wait_ms for the first stream message, then take what is
 * already queued, up to max in all, into out[]. Statuses are consumed on
 * the way and reported in *ev. Returns how many messages out[] holds.
 */
int rt_pull_receive(rt_pull *p, natsMsg **out, int max, int wait_ms, rt_pull_events *ev);
/* Forget every outstanding request (a new epoch): the next top-up asks afresh. */
void rt_pull_reset(rt_pull *p);
/*
 * Unsubscribe, and hand every stream message still arriving (the server
 * may have sent some before it saw the unsubscribe) to give_back, which
 * must settle it so it is not stuck until ack_wait. Waits at most
 * wait_ms for the server to confirm. Returns how many were given back.
 */
int rt_pull_close(rt_pull *p, void (*give_back)(natsMsg *m, void *ud), void *ud, int wait_ms);

#endif /* JW_PULL_H */
