/*
 * orders_load.c -- `jetway-orders-load`: drive the order example with
 * orders.create requests and check the outcome. A tool of the example, not
 * of the host: it knows the order subjects and the inventory plugin's Redis
 * keys.
 *
 * Design: one NATS connection. Replies come to one wildcard subscription on
 * a private inbox (<inbox>.<request index>.<attempt>), so requests are sent
 * with PublishMsg from the main thread, at most --inflight outstanding,
 * paced by --rate; no thread per request. Every request carries an
 * idempotency key (Nats-Msg-Id: --key-prefix and its index), so a request
 * left unanswered (no reply within the request timeout, no responders, a
 * Jetway-Status 503 or an "unavailable" error) is sent again with the same
 * key, after a backoff, up to --retries times: the order service answers a
 * repeat with the order of the first, and never creates a second one. The
 * summary counts the orders the client never heard about
 * (unanswered_final), which must be 0. The decisions (orders.confirmed.v1,
 * orders.cancelled.v1) are subscribed with core NATS *before* the first
 * request, and matched to the accepted orders by order_id through a hash
 * table (a decision may even arrive before its reply). Then the command
 * waits until every accepted order is decided or --timeout passes, and
 * prints counts and latencies; with --redis it also checks the invariants
 * the plugins keep in Redis (no duplicate charge; per SKU available +
 * reserved + sold == initial).
 *
 * Threads: the main thread sends and waits; cnats's subscription threads
 * run the callbacks. Everything they share lives in `load_run` under its
 * mutex.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The NATS options of every jetway tool (-s, --creds, --user...; the nats
 * CLI's variables): core/nats/natscli.c, linked into this tool. */
#include "nats/nats.h"


#define LOAD_ID_MAX      48
#define LOAD_REASONS_MAX 8
#define LOAD_SKUS_MAX    64

/* REQ_RETRY: its attempt went unanswered, to be sent again at t_retry;
 * REQ_NOREPLY: unanswered and out of retries (or not retry-safe). */
enum { REQ_UNSENT = 0, REQ_INFLIGHT, REQ_ACCEPTED, REQ_REJECTED, REQ_NOREPLY, REQ_RETRY };
enum { DEC_NONE = 0, DEC_CONFIRMED, DEC_CANCELLED };

/* One request, indexed by its position (also its reply subject's last token). */
typedef struct load_req {
    int64_t t_send, t_accept, t_decided; /* monotonic ns; t_send: the first attempt */
    int64_t t_attempt, t_retry;          /* the current attempt's send; when to resend */
    uint32_t slot;                       /* 1 + index of its order's slot, once accepted */
    uint8_t attempts;                    /* attempts sent */
    uint8_t state;
    uint8_t decision;
    uint8_t reason; /* index into load_run.reasons when cancelled */
} load_req;

/* order_id -> request index, and a decision seen before the reply. */
typedef struct load_slot {
    char id[LOAD_ID_MAX];
    int32_t idx; /* -1 until the reply names it */
    uint8_t decision;
    uint8_t reason;
    int64_t t_decided;
} load_slot;

typedef struct load_sku {
    char name[64];
    long long initial; /* -1: read inv:initial:<sku> */
} load_sku;

/* Shared by the main thread and the subscription callbacks; mu guards all
 * members below it. */
typedef struct load_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    load_req *reqs;
    long nreqs;
    load_slot *slots;
    size_t nslots; /* power of two */
    size_t used;
    long inflight, accepted, rejected, noreply, decided, late_foreign;
    long retries, replayed, conflicting; /* resent attempts, replayed answers, two ids */
    long *retryq;                        /* requests in REQ_RETRY, unordered */
    long nretry;
    long decided_by[3];
    long by_reason[LOAD_REASONS_MAX];
    char reasons[LOAD_REASONS_MAX][32];
    int nreasons;
    char first_error[160];
    int64_t last_decided;
    const struct load_opts *opts; /* read-only */
} load_run;

typedef struct load_opts {
    const char *url; /* for messages; the connection comes from `nats` */
    natscli nats;
    const char *redis_url;
    const char *subject;
    long orders;
    double rate;
    long inflight;
    uint64_t seed;
    double timeout_s;
    double request_timeout_s;
    int json;
    const char *accepted_out; /* file of accepted orders and their decisions, or NULL */
    int progress;             /* --progress: a status line on the terminal (/dev/tty) */
    long retries;             /* most resends of an unanswered request */
    int no_key;               /* send no idempotency key (and so never retry) */
    char key_prefix[64];      /* idempotency key of request i: key_prefix + i */
    load_sku skus[LOAD_SKUS_MAX];
    int nskus;
} load_opts;

static int64_t
load_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
load_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Find or insert the slot of an order id; NULL when the table is full. mu held. */
static load_slot *
load_slot_get(load_run *run, const char *id)
{
    size_t mask = run->nslots - 1, i = load_hash(id) & mask;

    for (size_t n = 0; n < run->nslots; n++, i = (i + 1) & mask) {
        load_slot *s = &run->slots[i];
        if (s->id[0] == '\0') {
            if (run->used * 10 >= run->nslots * 9)
                return NULL;
            snprintf(s->id, sizeof(s->id), "%s", id);
            s->idx = -1;
            run->used++;
            return s;
        }
        if (strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

/* Record that request idx is decided. mu held. */
static void
load_decide(load_run *run, long idx, uint8_t decision, uint8_t reason, int64_t t)
{
    load_req *r = &run->reqs[idx];

    if (r->decision != DEC_NONE)
        return;
    r->decision = decision;
    r->reason = reason;
    r->t_decided = t;
    run->decided++;
    run->decided_by[decision]++;
    if (decision == DEC_CANCELLED)
        run->by_reason[reason]++;
    if (t > run->last_decided)
        run->last_decided = t;
}

/* Index of a cancellation reason, added on first sight. mu held. */
static uint8_t
load_reason(load_run *run, const char *why)
{
    for (int i = 0; i < run->nreasons; i++) {
        if (strcmp(run->reasons[i], why) == 0)
            return (uint8_t)i;
    }
    if (run->nreasons == LOAD_REASONS_MAX)
        return LOAD_REASONS_MAX - 1; /* the last one collects the rest */
    snprintf(run->reasons[run->nreasons], sizeof(run->reasons[0]), "%s", why);
    return (uint8_t)run->nreasons++;
}

/* Backoff before resending attempt n (1 = the first resend): 250 ms doubling, at most 2 s. */
static int64_t
load_backoff_ns(int n)
{
    int64_t ms = 250LL << (n > 3 ? 3 : n - 1);
    return (ms > 2000 ? 2000 : ms) * 1000000LL;
}

/*
 * The current attempt of request idx went unanswered: schedule a resend, or
 * give up when out of retries. mu held.
 */
static void
load_unanswered(load_run *run, const load_opts *o, long idx, const char *why)
{
    load_req *r = &run->reqs[idx];

    if (r->state == REQ_INFLIGHT)
        run->inflight--;
    run->noreply++;
    if (run->first_error[0] == '\0')
        snprintf(run->first_error, sizeof(run->first_error), "%s", why);
    if (!o->no_key && (long)r->attempts <= o->retries) {
        r->state = REQ_RETRY;
        r->t_retry = load_now() + load_backoff_ns(r->attempts);
        run->retryq[run->nretry++] = idx;
    } else {
        r->state = REQ_NOREPLY;
    }
}

static void
load_on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    load_run *run = closure;
    const load_opts *o = run->opts;
    const char *subj = natsMsg_GetSubject(msg), *dot = strrchr(subj, '.'), *status = NULL;
    char *end = NULL, *end2 = NULL;
    long attempt = dot ? strtol(dot + 1, &end, 10) : -1, idx = -1;
    int64_t now = load_now();
    cJSON *doc = NULL;

    (void)nc;
    (void)sub;
    /* <inbox>.<idx>.<attempt> */
    if (dot != NULL && end != NULL && *end == '\0' && dot > subj) {
        const char *d2 = dot - 1;
        while (d2 > subj && *d2 != '.')
            d2--;
        if (*d2 == '.')
            idx = strtol(d2 + 1, &end2, 10);
        if (end2 != dot)
            idx = -1;
    }
    if (idx < 0 || idx >= run->nreqs || attempt < 1)
        goto out;
    if (!natsMsg_IsNoResponders(msg)) {
        natsMsgHeader_Get(msg, "Jetway-Status", &status);
        doc = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    }
    pthread_mutex_lock(&run->mu);
    {
        const cJSON *oid = cJSON_GetObjectItemCaseSensitive(doc, "order_id");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
        load_req *r = &run->reqs[idx];
        int current = r->state == REQ_INFLIGHT && attempt == r->attempts;

        if (cJSON_IsString(oid) && status == NULL && strlen(oid->valuestring) < LOAD_ID_MAX) {
            /* An answer of any attempt: every attempt names the same order. */
            if (r->state == REQ_INFLIGHT || r->state == REQ_RETRY) {
                load_slot *sl = load_slot_get(run, oid->valuestring);
                if (r->state == REQ_INFLIGHT)
                    run->inflight--;
                r->state = REQ_ACCEPTED;
                r->t_accept = now;
                run->accepted++;
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "replayed")))
                    run->replayed++;
                if (sl != NULL) {
                    sl->idx = (int32_t)idx;
                    r->slot = (uint32_t)(sl - run->slots) + 1;
                    if (sl->decision != DEC_NONE)
                        load_decide(run, idx, sl->decision, sl->reason, sl->t_decided);
                }
            } else if (r->state == REQ_ACCEPTED && r->slot != 0 &&
                       strcmp(run->slots[r->slot - 1].id, oid->valuestring) != 0) {
                run->conflicting++;
                snprintf(run->first_error, sizeof(run->first_error),
                         "request %ld answered with two order ids: %s and %s", idx,
                         run->slots[r->slot - 1].id, oid->valuestring);
            }
        } else if (current &&
                   (doc == NULL || status != NULL ||
                    (cJSON_IsString(err) && strcmp(err->valuestring, "unavailable") == 0))) {
            /* No responders, a 503 (a publish the answer depended on
             * failed), "unavailable": transient, try again. */
            load_unanswered(run, o, idx,
                            doc == NULL      ? "no responders or unreadable reply"
                            : status != NULL ? "Jetway-Status 503"
                                             : "unavailable");
        } else if (current) {
            r->state = REQ_REJECTED;
            run->inflight--;
            run->rejected++;
            if (run->first_error[0] == '\0')
                snprintf(run->first_error, sizeof(run->first_error), "%s",
                         cJSON_IsString(err) ? err->valuestring : "reply without order_id");
        }
        pthread_cond_broadcast(&run->cv);
    }
    pthread_mutex_unlock(&run->mu);
out:
    cJSON_Delete(doc);
    natsMsg_Destroy(msg);
}

static void
load_on_decision(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    load_run *run = closure;
    cJSON *doc = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    const cJSON *oid = cJSON_GetObjectItemCaseSensitive(doc, "order_id");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "reason");
    uint8_t decision =
        strcmp(natsMsg_GetSubject(msg), "orders.confirmed.v1") == 0 ? DEC_CONFIRMED : DEC_CANCELLED;
    int64_t now = load_now();

    (void)nc;
    (void)sub;
    if (cJSON_IsString(oid) && strlen(oid->valuestring) < LOAD_ID_MAX) {
        pthread_mutex_lock(&run->mu);
        load_slot *s = load_slot_get(run, oid->valuestring);
        if (s == NULL) {
            run->late_foreign++;
        } else if (s->decision == DEC_NONE) {
            s->decision = decision;
            s->reason = decision == DEC_CANCELLED
                            ? load_reason(run, cJSON_IsString(why) ? why->valuestring : "unknown")
                            : 0;
            s->t_decided = now;
            if (s->idx >= 0)
                load_decide(run, s->idx, s->decision, s->reason, now);
            pthread_cond_broadcast(&run->cv);
        }
        pthread_mutex_unlock(&run->mu);
    }
    cJSON_Delete(doc);
    natsMsg_Destroy(msg);
}

/* xorshift64*: the order generator, reproducible from --seed. */
static uint64_t
load_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* The JSON text of request i (caller frees). */
static char *
load_order_json(const load_opts *o, long i)
{
    uint64_t rs = (o->seed + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ull;
    int nlines = 1 + (int)(load_rand(&rs) % (uint64_t)(o->nskus < 3 ? o->nskus : 3));
    int first = (int)(load_rand(&rs) % (uint64_t)o->nskus);
    double total = 0;
    cJSON *doc = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(doc, "items");
    char cust[32], *text;

    for (int k = 0; k < nlines; k++) {
        const char *sku = o->skus[(first + k) % o->nskus].name;
        int qty = 1 + (int)(load_rand(&rs) % 3);
        cJSON *line = cJSON_CreateObject();
        cJSON_AddStringToObject(line, "sku", sku);
        cJSON_AddNumberToObject(line, "qty", qty);
        cJSON_AddItemToArray(items, line);
        total += qty * (4.99 + (double)(load_hash(sku) % 50));
    }
    snprintf(cust, sizeof(cust), "cust-%ld", i % 1000);
    cJSON_AddStringToObject(doc, "customer_id", cust);
    cJSON_AddNumberToObject(doc, "total_amount", round(total * 100) / 100);
    cJSON_AddStringToObject(doc, "currency", "EUR");
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

/* "SKU=qty,SKU,..." into o->skus; 0 or -1. */
static int
load_parse_skus(load_opts *o, const char *arg)
{
    char *copy = strdup(arg), *save = NULL, *tok;

    o->nskus = 0;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        load_sku *s = &o->skus[o->nskus];
        if (o->nskus == LOAD_SKUS_MAX)
            goto bad;
        if (eq != NULL) {
            char *end;
            *eq = '\0';
            s->initial = strtoll(eq + 1, &end, 10);
            if (*end != '\0' || s->initial < 0)
                goto bad;
        } else {
            s->initial = -1;
        }
        if (tok[0] == '\0' || strlen(tok) >= sizeof(s->name))
            goto bad;
        snprintf(s->name, sizeof(s->name), "%s", tok);
        o->nskus++;
    }
    free(copy);
    return o->nskus > 0 ? 0 : -1;
bad:
    free(copy);
    return -1;
}

/* Nearest-rank percentile of a sorted array of ns, in ms. */
static double
load_pct(const int64_t *v, long n, double p)
{
    long k;

    if (n == 0)
        return 0;
    k = (long)ceil(p * (double)n) - 1;
    if (k < 0)
        k = 0;
    return (double)v[k] / 1e6;
}

static int
load_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Add {p50, p99, max} of v (sorted here) to obj under key. */
static void
load_add_latency(cJSON *obj, const char *key, int64_t *v, long n)
{
    cJSON *l = cJSON_AddObjectToObject(obj, key);

    qsort(v, (size_t)n, sizeof(*v), load_cmp);
    /* To 0.1 ms: the nanoseconds under it are noise, not information. */
    cJSON_AddNumberToObject(l, "p50", round(load_pct(v, n, 0.50) * 10) / 10);
    cJSON_AddNumberToObject(l, "p99", round(load_pct(v, n, 0.99) * 10) / 10);
    cJSON_AddNumberToObject(l, "max", round(load_pct(v, n, 1.0) * 10) / 10);
}

/* Connect to redis://[:password@]host[:port][/db]; NULL with a message on failure. */
static redisContext *
load_redis(const char *url)
{
    char host[256] = "127.0.0.1", pass[256] = "";
    const char *p = url, *at, *slash;
    int port = 6379, db = 0;
    struct timeval tv = {5, 0};
    redisContext *c;
    redisReply *r;

    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    if ((at = strrchr(p, '@')) != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon != NULL)
            snprintf(pass, sizeof(pass), "%.*s", (int)(at - colon - 1), colon + 1);
        p = at + 1;
    }
    slash = strchr(p, '/');
    {
        size_t hl = slash ? (size_t)(slash - p) : strlen(p);
        const char *colon = memchr(p, ':', hl);
        if (colon != NULL) {
            char *end = NULL;
            long v = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || (*end != '\0' && *end != '/') || v < 1 || v > 65535) {
                fprintf(stderr, "jetway-orders-load: --redis ...%s: bad port\n", p);
                return NULL;
            }
            port = (int)v;
            hl = (size_t)(colon - p);
        }
        if (hl > 0)
            snprintf(host, sizeof(host), "%.*s", (int)hl, p);
    }
    if (slash != NULL && slash[1] != '\0') {
        char *end = NULL;
        long v = strtol(slash + 1, &end, 10);
        if (*end != '\0' || v < 0 || v > 1000000) {
            fprintf(stderr, "jetway-orders-load: --redis ...%s: bad database number\n", p);
            return NULL;
        }
        db = (int)v;
    }
    c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "jetway-orders-load: redis %s:%d: %s\n", host, port,
                c ? c->errstr : "no memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (pass[0] != '\0') {
        r = redisCommand(c, "AUTH %s", pass);
        freeReplyObject(r);
    }
    if (db != 0) {
        r = redisCommand(c, "SELECT %d", db);
        freeReplyObject(r);
    }
    return c;
}

static long long
load_reply_ll(const redisReply *r)
{
    if (r == NULL)
        return 0;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10); /* Redis's own integer text */
    return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* How often, and how far apart, the Redis checks are tried while Redis
 * cannot answer them (restarting, LOADING its dataset): ~15 s in all. */
#define LOAD_REDIS_ATTEMPTS 30
#define LOAD_REDIS_PAUSE_MS 500

/* r is no answer to a command (lost connection, timeout, an error reply
 * such as LOADING): note why in rj. */
static int
load_redis_failed(redisContext *c, redisReply *r, cJSON *rj, const char *what)
{
    char why[200];
    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof(why), "%s: %s", what, r->str);
    else if (r == NULL)
        snprintf(why, sizeof(why), "%s: %s", what, c->err ? c->errstr : "no reply");
    else
        snprintf(why, sizeof(why), "%s: unexpected reply type %d", what, r->type);
    cJSON_AddStringToObject(rj, "error", why);
    return -1;
}

/*
 * One run of the Redis checks into rj: 0 when every invariant holds, 1 when
 * one is broken, -1 when Redis could not answer (rj's "error" says why; the
 * caller tries again).
 */
static int
load_redis_check_once(const load_opts *o, cJSON *rj)
{
    redisContext *c = load_redis(o->redis_url);
    cJSON *skus;
    long long dup = 0, counted = 0;
    char cursor[32] = "0";
    int bad = 0, rc = 0;
    redisReply *r;

    if (c == NULL) {
        cJSON_AddStringToObject(rj, "error", "cannot connect");
        return -1;
    }
    r = redisCommand(c, "MGET pay:charges_total pay:refunds_total");
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        rc = load_redis_failed(c, r, rj, "MGET pay:charges_total");
        freeReplyObject(r);
        redisFree(c);
        return rc;
    }
    cJSON_AddNumberToObject(rj, "charges_total", (double)load_reply_ll(r->element[0]));
    cJSON_AddNumberToObject(rj, "refunds_total", (double)load_reply_ll(r->element[1]));
    freeReplyObject(r);
    /* every order's charge counter: a value above 1 is a duplicate charge */
    do {
        r = redisCommand(c, "SCAN %s MATCH pay:charge_count:* COUNT 1000", cursor);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            rc = load_redis_failed(c, r, rj, "SCAN pay:charge_count:*");
            freeReplyObject(r);
            redisFree(c);
            return rc;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *v = redisCommand(c, "GET %s", r->element[1]->element[i]->str);
            if (v == NULL || v->type == REDIS_REPLY_ERROR) {
                rc = load_redis_failed(c, v, rj, "GET pay:charge_count");
                freeReplyObject(v);
                freeReplyObject(r);
                redisFree(c);
                return rc;
            }
            dup += load_reply_ll(v) > 1;
            counted++;
            freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    cJSON_AddNumberToObject(rj, "charged_orders", (double)counted);
    cJSON_AddNumberToObject(rj, "duplicate_charges", (double)dup);
    if (dup != 0)
        bad = 1;
    /* one MGET per SKU: an atomic snapshot of its four counters */
    skus = cJSON_AddArrayToObject(rj, "skus");
    for (int i = 0; i < o->nskus; i++) {
        const char *n = o->skus[i].name;
        long long a, res, sold, init;
        cJSON *sj;
        int ok;

        r = redisCommand(c, "MGET inv:stock:%s inv:reserved:%s inv:sold:%s inv:initial:%s", n, n, n,
                         n);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
            rc = load_redis_failed(c, r, rj, "MGET inv:*");
            freeReplyObject(r);
            redisFree(c);
            return rc;
        }
        a = load_reply_ll(r->element[0]);
        res = load_reply_ll(r->element[1]);
        sold = load_reply_ll(r->element[2]);
        init = o->skus[i].initial >= 0 ? o->skus[i].initial : load_reply_ll(r->element[3]);
        freeReplyObject(r);
        ok = a >= 0 && res >= 0 && sold >= 0 && a + res + sold == init;
        bad |= !ok;
        sj = cJSON_CreateObject();
        cJSON_AddStringToObject(sj, "sku", n);
        cJSON_AddNumberToObject(sj, "initial", (double)init);
        cJSON_AddNumberToObject(sj, "available", (double)a);
        cJSON_AddNumberToObject(sj, "reserved", (double)res);
        cJSON_AddNumberToObject(sj, "sold", (double)sold);
        cJSON_AddBoolToObject(sj, "balanced", ok);
        cJSON_AddItemToArray(skus, sj);
    }
    redisFree(c);
    return bad;
}

/*
 * The Redis checks; adds a "redis" object to out; returns 0 when every
 * invariant holds. A check that Redis could not answer (a restart, LOADING)
 * is run again from the start, a bounded number of times: a half-read
 * snapshot must not pass, nor fail an invariant that holds. "attempts" says
 * how many runs it took; "error" why the last one could not finish.
 */
static int
load_redis_checks(const load_opts *o, cJSON *out)
{
    cJSON *rj = NULL;
    int rc = -1, attempt;

    for (attempt = 1; attempt <= LOAD_REDIS_ATTEMPTS; attempt++) {
        cJSON_Delete(rj);
        rj = cJSON_CreateObject();
        if (rj == NULL)
            return -1;
        rc = load_redis_check_once(o, rj);
        if (rc != -1)
            break;
        if (attempt < LOAD_REDIS_ATTEMPTS) {
            struct timespec ts = {0, LOAD_REDIS_PAUSE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    cJSON_AddNumberToObject(rj, "attempts", attempt > LOAD_REDIS_ATTEMPTS ? attempt - 1 : attempt);
    cJSON_AddItemToObject(out, "redis", rj);
    return rc == 0 ? 0 : -1;
}

static void
load_usage(FILE *fp)
{
    fprintf(fp,
            "usage: jetway-orders-load [-s URL] [auth] [--orders N] [--rate R] [--inflight K] "
            "[--skus LIST]\n"
            "                   [--seed S] [--timeout SECS] [--redis URL] [--json]\n"
            "                   [--accepted-out FILE] [--retries N] [--key-prefix P] [--no-key]\n\n"
            "Send orders.create requests to the order service, wait until every accepted\n"
            "order is confirmed or cancelled, and print a summary. Each request carries an\n"
            "idempotency key (header Nats-Msg-Id); one left unanswered (timeout, no\n"
            "responders, Jetway-Status 503, \"unavailable\") is sent again with the same "
            "key.\n\n" NATSCLI_USAGE "  -n, --orders N       orders to send (default 10000)\n"
            "  -r, --rate R         orders per second, 0 = as fast as possible (default 0)\n"
            "  -k, --inflight K     most requests awaiting their reply (default 256)\n"
            "      --skus LIST      SKU[=initial],... ordered from (default\n"
            "                       SKU-1,SKU-2,SKU-3,SKU-4,SKU-RARE); without =initial the\n"
            "                       initial stock is read from Redis (inv:initial:SKU)\n"
            "      --seed S         seed of the generated orders (default 1)\n"
            "  -t, --timeout SECS   give up waiting for decisions after SECS (default 120)\n"
            "      --subject SUBJ   request subject (default orders.create)\n"
            "      --redis URL      also check Redis: no duplicate charge, per SKU\n"
            "                       available + reserved + sold == initial\n"
            "      --json           print the summary as one JSON object\n"
            "      --progress       show progress on the terminal (/dev/tty) while running\n"
            "                       (the default when stderr is a terminal)\n"
            "      --accepted-out FILE  write one line per accepted order:\n"
            "                       ORDER_ID confirmed|cancelled|undecided [REASON]\n"
            "      --retries N      resend an unanswered request up to N times (default 8;\n"
            "                       backoff 250 ms doubling to 2 s; request timeout\n"
            "                       min(--timeout, 10 s))\n"
            "      --key-prefix P   idempotency key of request i: P then i (default\n"
            "                       load-<16 random hex digits>-: unique per run)\n"
            "      --no-key         send no idempotency key: not retry-safe, so no retry\n\n"
            "Exit status: 0 when every request was answered (unanswered_final 0), every\n"
            "accepted order was decided and the invariants hold.\n");
}

static int
load_parse(int argc, char **argv, load_opts *o)
{
    static const struct option longs[] = {
        NATSCLI_LONGOPTS,
        {"orders", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"inflight", required_argument, NULL, 'k'},
        {"skus", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'},
        {"redis", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"subject", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {"accepted-out", required_argument, NULL, 'A'},
        {"progress", no_argument, NULL, 'P'},
        {"retries", required_argument, NULL, 'Y'},
        {"key-prefix", required_argument, NULL, 'K'},
        {"no-key", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->subject = "orders.create";
    o->orders = 10000;
    o->inflight = 256;
    o->seed = 1;
    o->timeout_s = 120;
    o->retries = 8;
    load_parse_skus(o, "SKU-1,SKU-2,SKU-3,SKU-4,SKU-RARE");
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:n:r:k:t:h", longs, NULL)) != -1) {
        errno = 0;
        end = NULL;
        switch (c) {
        case 'n':
            o->orders = strtol(optarg, &end, 10);
            if (*end || o->orders < 1 || o->orders > 100000000)
                goto bad;
            break;
        case 'r':
            o->rate = strtod(optarg, &end);
            if (*end || !(o->rate >= 0))
                goto bad;
            break;
        case 'k':
            o->inflight = strtol(optarg, &end, 10);
            if (*end || o->inflight < 1 || o->inflight > 1000000)
                goto bad;
            break;
        case 'S':
            if (load_parse_skus(o, optarg) != 0)
                goto bad;
            break;
        case 'e':
            o->seed = strtoull(optarg, &end, 10);
            if (*end || errno)
                goto bad;
            break;
        case 't':
            o->timeout_s = strtod(optarg, &end);
            if (*end || !(o->timeout_s > 0))
                goto bad;
            break;
        case 'R':
            o->redis_url = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'u':
            o->subject = optarg;
            break;
        case 'P':
            o->progress = 1;
            break;
        case 'A':
            o->accepted_out = optarg;
            break;
        case 'Y':
            o->retries = strtol(optarg, &end, 10);
            if (*end || o->retries < 0 || o->retries > 100)
                goto bad;
            break;
        case 'K':
            /* Printable ASCII without spaces, room left for the index. */
            if (strlen(optarg) >= sizeof(o->key_prefix) - 1)
                goto bad;
            for (const char *c2 = optarg; *c2; c2++) {
                if (*c2 < 0x21 || *c2 > 0x7e)
                    goto bad;
            }
            snprintf(o->key_prefix, sizeof(o->key_prefix), "%s", optarg);
            break;
        case 'N':
            o->no_key = 1;
            break;
        case 'h':
            load_usage(stdout);
            return 1;
        default:
            if (natscli_option(&o->nats, c, optarg))
                break;
            load_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "jetway-orders-load: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    o->request_timeout_s = o->timeout_s < 10 ? o->timeout_s : 10;
    if (o->key_prefix[0] == '\0') {
        /* Unique per run: two runs against the same system must not share keys. */
        unsigned char raw[8];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
            fprintf(stderr, "jetway-orders-load: getrandom: %s\n", strerror(errno));
            return 2;
        }
        snprintf(o->key_prefix, sizeof(o->key_prefix), "load-%02x%02x%02x%02x%02x%02x%02x%02x-",
                 raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
    }
    return 0;
bad:
    fprintf(stderr, "jetway-orders-load: bad option value '%s' (see jetway-orders-load --help)\n",
            optarg);
    return 2;
}

/* Wait on the condition until `deadline` (monotonic ns) at the latest. mu held. */
static void
load_wait(load_run *run, int64_t deadline)
{
    struct timespec ts;
    int64_t wait = deadline - load_now();

    if (wait <= 0)
        return;
    if (wait > 100000000LL)
        wait = 100000000LL; /* wake up to sweep request timeouts */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (ts.tv_nsec + wait) / 1000000000LL;
    ts.tv_nsec = (ts.tv_nsec + wait) % 1000000000LL;
    pthread_cond_timedwait(&run->cv, &run->mu, &ts);
}

/* Attempts without a reply for too long are unanswered (and retried). mu held. */
static void
load_sweep(load_run *run, const load_opts *o, long sent)
{
    int64_t limit = load_now() - (int64_t)(o->request_timeout_s * 1e9);

    for (long i = 0; i < sent && run->inflight > 0; i++) {
        if (run->reqs[i].state == REQ_INFLIGHT && run->reqs[i].t_attempt < limit)
            load_unanswered(run, o, i, "request timed out");
    }
}

/* Requests sent that never got an answer, retries included. mu held. */
static long
load_unanswered_final(const load_run *run, long sent)
{
    long n = 0;

    for (long i = 0; i < sent; i++) {
        uint8_t st = run->reqs[i].state;
        n += st == REQ_INFLIGHT || st == REQ_RETRY || st == REQ_NOREPLY;
    }
    return n;
}

/* The summary object of a finished run. */
static cJSON *
load_summary(load_run *run, const load_opts *o, long sent, int64_t t0)
{
    cJSON *out = cJSON_CreateObject(), *cancel;
    int64_t *acc = calloc((size_t)run->nreqs + 1, sizeof(int64_t));
    int64_t *dec = calloc((size_t)run->nreqs + 1, sizeof(int64_t));
    long na = 0, nd = 0;
    double secs;

    for (long i = 0; i < sent; i++) {
        const load_req *r = &run->reqs[i];
        if (r->state == REQ_ACCEPTED && acc != NULL)
            acc[na++] = r->t_accept - r->t_send;
        if (r->state == REQ_ACCEPTED && r->decision != DEC_NONE && dec != NULL)
            dec[nd++] = r->t_decided - r->t_send;
    }
    secs = (double)((run->last_decided > t0 ? run->last_decided : load_now()) - t0) / 1e9;
    cJSON_AddNumberToObject(out, "orders", (double)o->orders);
    cJSON_AddNumberToObject(out, "sent", (double)sent);
    cJSON_AddNumberToObject(out, "accepted", (double)run->accepted);
    cJSON_AddNumberToObject(out, "rejected", (double)run->rejected);
    cJSON_AddNumberToObject(out, "unanswered", (double)run->noreply);
    cJSON_AddNumberToObject(out, "retries", (double)run->retries);
    cJSON_AddNumberToObject(out, "replayed", (double)run->replayed);
    cJSON_AddNumberToObject(out, "unanswered_final", (double)load_unanswered_final(run, sent));
    if (run->conflicting > 0)
        cJSON_AddNumberToObject(out, "conflicting_answers", (double)run->conflicting);
    if (run->first_error[0] != '\0')
        cJSON_AddStringToObject(out, "first_error", run->first_error);
    cJSON_AddNumberToObject(out, "confirmed", (double)run->decided_by[DEC_CONFIRMED]);
    cancel = cJSON_AddObjectToObject(out, "cancelled");
    for (int i = 0; i < run->nreasons; i++)
        cJSON_AddNumberToObject(cancel, run->reasons[i], (double)run->by_reason[i]);
    cJSON_AddNumberToObject(out, "cancelled_total", (double)run->decided_by[DEC_CANCELLED]);
    cJSON_AddNumberToObject(out, "undecided", (double)(run->accepted - run->decided));
    cJSON_AddNumberToObject(out, "elapsed_s", round(secs * 1000) / 1000);
    /* The generator's own CPU: it shares the machine with what it measures. */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
        cJSON_AddNumberToObject(out, "cpu_s", round(cpu_ms) / 1e3);
    }
    cJSON_AddNumberToObject(out, "orders_per_s",
                            secs > 0 ? round((double)run->decided / secs * 10) / 10 : 0);
    load_add_latency(out, "accept_latency_ms", acc, na);
    load_add_latency(out, "decide_latency_ms", dec, nd);
    free(acc);
    free(dec);
    return out;
}

static double
load_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void
load_print_text(const cJSON *s)
{
    const cJSON *e, *rj = cJSON_GetObjectItemCaseSensitive(s, "redis");

    printf("orders     sent %.0f, accepted %.0f, rejected %.0f, never answered %.0f\n",
           load_num(s, "sent"), load_num(s, "accepted"), load_num(s, "rejected"),
           load_num(s, "unanswered_final"));
    printf("retries    %.0f attempts unanswered, %.0f resent, %.0f answers replayed\n",
           load_num(s, "unanswered"), load_num(s, "retries"), load_num(s, "replayed"));
    if (cJSON_GetObjectItemCaseSensitive(s, "first_error"))
        printf("           first error: %s\n",
               cJSON_GetObjectItemCaseSensitive(s, "first_error")->valuestring);
    printf("decided    confirmed %.0f, cancelled %.0f", load_num(s, "confirmed"),
           load_num(s, "cancelled_total"));
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "cancelled"))
        printf(" (%s %.0f)", e->string, e->valuedouble);
    printf(", undecided %.0f\n", load_num(s, "undecided"));
    printf("throughput %.1f orders/s over %.3f s\n", load_num(s, "orders_per_s"),
           load_num(s, "elapsed_s"));
    for (int i = 0; i < 2; i++) {
        const char *k = i ? "decide_latency_ms" : "accept_latency_ms";
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(s, k);
        printf("%-10s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", i ? "decide" : "accept",
               load_num(l, "p50"), load_num(l, "p99"), load_num(l, "max"));
    }
    if (rj != NULL) {
        if (cJSON_GetObjectItemCaseSensitive(rj, "error")) {
            printf("redis      error: %s\n",
                   cJSON_GetObjectItemCaseSensitive(rj, "error")->valuestring);
        } else {
            printf("payments   charges %.0f, refunds %.0f, duplicate charges %.0f\n",
                   load_num(rj, "charges_total"), load_num(rj, "refunds_total"),
                   load_num(rj, "duplicate_charges"));
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rj, "skus"))
            {
                printf("stock      %-12s available %.0f + reserved %.0f + sold %.0f %s initial "
                       "%.0f\n",
                       cJSON_GetObjectItemCaseSensitive(e, "sku")->valuestring,
                       load_num(e, "available"), load_num(e, "reserved"), load_num(e, "sold"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "balanced")) ? "==" : "!=",
                       load_num(e, "initial"));
            }
        }
    }
    printf("result     %s\n",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "ok")) ? "ok" : "FAILED");
}

/*
 * Write the accepted orders, one a line: ORDER_ID DECISION [REASON], so a
 * test can match them with the events in the streams. 0 or -1 with a
 * message. Only after the subscriptions are gone (no lock needed).
 */
static int
load_write_accepted(const load_run *run, const char *path)
{
    static const char *const names[] = {"undecided", "confirmed", "cancelled"};
    FILE *fp = fopen(path, "w");

    if (fp == NULL) {
        fprintf(stderr, "jetway-orders-load: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < run->nslots; i++) {
        const load_slot *s = &run->slots[i];
        const load_req *r;
        if (s->id[0] == '\0' || s->idx < 0)
            continue; /* empty, or a decision of an order this run did not send */
        r = &run->reqs[s->idx];
        if (r->state != REQ_ACCEPTED)
            continue;
        fprintf(fp, "%s %s%s%s\n", s->id, names[r->decision],
                r->decision == DEC_CANCELLED ? " " : "",
                r->decision == DEC_CANCELLED ? run->reasons[r->reason] : "");
    }
    if (fclose(fp) != 0) {
        fprintf(stderr, "jetway-orders-load: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The terminal status line: a thread that reads the counters under the
 * run's mutex twice a second and rewrites one line on /dev/tty (so a
 * redirected stdout/stderr stays clean). Owned by main().
 */
typedef struct load_progress {
    load_run *run;
    long total;
    int64_t t0;
    FILE *tty;
    pthread_mutex_t mu; /* guards stop; cv wakes the thread to stop */
    pthread_cond_t cv;
    int stop;
    pthread_t th;
} load_progress;

static void *
load_progress_main(void *arg)
{
    load_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        pthread_mutex_lock(&p->run->mu);
        long answered = p->run->accepted + p->run->rejected + p->run->noreply;
        long accepted = p->run->accepted, decided = p->run->decided;
        long inflight = p->run->inflight;
        pthread_mutex_unlock(&p->run->mu);
        double secs = (double)(load_now() - p->t0) / 1e9;
        fprintf(p->tty,
                "\r  %ld/%ld orders answered, %ld accepted, %ld decided, %ld in flight, "
                "%.0f decided/s, %.0f s \033[K",
                answered, p->total, accepted, decided, inflight,
                secs > 0 ? (double)decided / secs : 0.0, secs);
        fflush(p->tty);
    }
    pthread_mutex_unlock(&p->mu);
    fputs("\r\033[K", p->tty);
    fflush(p->tty);
    return NULL;
}

static int
load_progress_start(load_progress *p, load_run *run, long total, int64_t t0)
{
    memset(p, 0, sizeof(*p));
    p->tty = fopen("/dev/tty", "w");
    if (!p->tty)
        return -1; /* no terminal: nothing to show */
    p->run = run;
    p->total = total;
    p->t0 = t0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, load_progress_main, p) != 0) {
        fclose(p->tty);
        p->tty = NULL;
        return -1;
    }
    return 0;
}

static void
load_progress_stop(load_progress *p)
{
    if (!p->tty)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    fclose(p->tty);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    p->tty = NULL;
}

/*
 * Send attempt `attempt` of request i: its body, its idempotency key as
 * Nats-Msg-Id, replies to <inbox>.<i>.<attempt>. A send that fails is an
 * unanswered attempt (retried).
 */
static void
load_send(load_run *run, const load_opts *o, natsConnection *nc, const char *inbox, long i,
          int attempt)
{
    char reply[128], key[sizeof(o->key_prefix) + 24];
    char *body = load_order_json(o, i);
    natsMsg *m = NULL;
    natsStatus s = body ? NATS_OK : NATS_NO_MEMORY;

    snprintf(reply, sizeof(reply), "%s.%ld.%d", inbox, i, attempt);
    snprintf(key, sizeof(key), "%s%ld", o->key_prefix, i);
    if (s == NATS_OK)
        s = natsMsg_Create(&m, o->subject, reply, body, (int)strlen(body));
    if (s == NATS_OK && !o->no_key)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", key);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(nc, m);
    natsMsg_Destroy(m);
    free(body);
    if (s != NATS_OK) {
        char why[160];
        snprintf(why, sizeof(why), "publish: %s", natsStatus_GetText(s));
        pthread_mutex_lock(&run->mu);
        if (run->reqs[i].state == REQ_INFLIGHT && run->reqs[i].attempts == attempt)
            load_unanswered(run, o, i, why);
        pthread_mutex_unlock(&run->mu);
    }
}

/* Resend the requests whose retry is due, while there is room in flight. mu held on
 * entry and exit. */
static void
load_resend_due(load_run *run, const load_opts *o, natsConnection *nc, const char *inbox)
{
    int64_t now = load_now();

    for (long k = 0; k < run->nretry && run->inflight < o->inflight;) {
        long i = run->retryq[k];
        load_req *r = &run->reqs[i];
        int attempt;

        if (r->state != REQ_RETRY) { /* answered late meanwhile */
            run->retryq[k] = run->retryq[--run->nretry];
            continue;
        }
        if (r->t_retry > now) {
            k++;
            continue;
        }
        run->retryq[k] = run->retryq[--run->nretry];
        r->state = REQ_INFLIGHT;
        r->t_attempt = now;
        attempt = ++r->attempts;
        run->inflight++;
        run->retries++;
        pthread_mutex_unlock(&run->mu);
        load_send(run, o, nc, inbox, i, attempt);
        pthread_mutex_lock(&run->mu);
    }
}

/* Send every request (bounded in flight, paced), then wait for the answers
 * (retrying) and the decisions. */
static long
load_drive(load_run *run, const load_opts *o, natsConnection *nc, const char *inbox, int64_t t0,
           int64_t deadline)
{
    long sent = 0;

    for (long i = 0; i < o->orders; i++) {
        if (o->rate > 0) {
            int64_t due = t0 + (int64_t)((double)i / o->rate * 1e9), now = load_now();
            if (due > now) {
                struct timespec ts = {(due - now) / 1000000000LL, (due - now) % 1000000000LL};
                nanosleep(&ts, NULL);
            }
        }
        pthread_mutex_lock(&run->mu);
        load_resend_due(run, o, nc, inbox);
        while (run->inflight >= o->inflight && load_now() < deadline) {
            load_wait(run, deadline);
            load_sweep(run, o, sent);
            load_resend_due(run, o, nc, inbox);
        }
        if (load_now() >= deadline) {
            pthread_mutex_unlock(&run->mu);
            break;
        }
        run->reqs[i].state = REQ_INFLIGHT;
        run->reqs[i].t_send = run->reqs[i].t_attempt = load_now();
        run->reqs[i].attempts = 1;
        run->inflight++;
        pthread_mutex_unlock(&run->mu);
        sent++;
        load_send(run, o, nc, inbox, i, 1);
    }
    natsConnection_Flush(nc);
    pthread_mutex_lock(&run->mu);
    while (load_now() < deadline &&
           (run->inflight > 0 || run->nretry > 0 || run->decided < run->accepted)) {
        load_wait(run, deadline);
        load_sweep(run, o, sent);
        load_resend_due(run, o, nc, inbox);
    }
    pthread_mutex_unlock(&run->mu);
    return sent;
}

int
main(int argc, char **argv)
{
    load_opts o;
    load_run run;
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    natsSubscription *subs[3] = {NULL, NULL, NULL};
    natsInbox *inbox = NULL;
    char wildcard[128];
    cJSON *summary = NULL;
    int rc = 1, prc;
    long sent = 0;
    int64_t t0, deadline;
    natsStatus s;

    if ((prc = load_parse(argc, argv, &o)) != 0)
        return prc == 1 ? 0 : prc;
    memset(&run, 0, sizeof(run));
    pthread_mutex_init(&run.mu, NULL);
    /* Monotonic, like the deadlines load_wait computes: a wall-clock step
     * must neither stretch nor spin the wait. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.cv, &ca);
    pthread_condattr_destroy(&ca);
    run.nreqs = o.orders;
    run.opts = &o;
    run.nslots = 1024;
    while (run.nslots < (size_t)o.orders * 4)
        run.nslots <<= 1;
    run.reqs = calloc((size_t)o.orders, sizeof(*run.reqs));
    run.slots = calloc(run.nslots, sizeof(*run.slots));
    /* A request is in the retry queue at most once at a time. */
    run.retryq = calloc((size_t)o.orders, sizeof(*run.retryq));
    if (run.reqs == NULL || run.slots == NULL || run.retryq == NULL) {
        fprintf(stderr, "jetway-orders-load: out of memory\n");
        goto out;
    }
    cfg_nats ncfg;
    char *slot = NULL, nerr[512];
    natscli_apply(&o.nats, &ncfg, 0, &slot);
    o.url = ncfg.servers[0];
    s = natsOptions_Create(&opts);
    if (s == NATS_OK && natscli_set_options(opts, &ncfg, nerr, sizeof(nerr)) != 0) {
        fprintf(stderr, "jetway-orders-load: %s\n", nerr);
        goto out;
    }
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, "jetway-load");
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, 5000);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, opts);
    if (s != NATS_OK) {
        const char *why = nats_GetLastError(NULL);
        fprintf(stderr, "jetway-orders-load: connect %s: %s\n", o.url,
                why && *why ? why : natsStatus_GetText(s));
        goto out;
    }
    s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        snprintf(wildcard, sizeof(wildcard), "%s.*.*", (const char *)inbox);
        s = natsConnection_Subscribe(&subs[0], nc, wildcard, load_on_reply, &run);
    }
    /* Decisions first: none may slip by between a reply and the subscription. */
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&subs[1], nc, "orders.confirmed.v1", load_on_decision, &run);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&subs[2], nc, "orders.cancelled.v1", load_on_decision, &run);
    for (int i = 0; i < 3 && s == NATS_OK; i++)
        s = natsSubscription_SetPendingLimits(subs[i], -1, -1);
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    if (s != NATS_OK) {
        fprintf(stderr, "jetway-orders-load: subscribe: %s\n", natsStatus_GetText(s));
        goto out;
    }
    t0 = load_now();
    deadline = t0 + (int64_t)(o.timeout_s * 1e9);
    load_progress prog = {0};
    if (o.progress || isatty(STDERR_FILENO))
        load_progress_start(&prog, &run, o.orders, t0);
    sent = load_drive(&run, &o, nc, (const char *)inbox, t0, deadline);
    load_progress_stop(&prog);

    /* Stop the callbacks before reading the results without the lock. */
    for (int i = 0; i < 3; i++) {
        natsSubscription_Unsubscribe(subs[i]);
        natsSubscription_Destroy(subs[i]);
        subs[i] = NULL;
    }
    natsConnection_Close(nc);
    pthread_mutex_lock(&run.mu);
    summary = load_summary(&run, &o, sent, t0);
    {
        /* Every request answered (an order the client never heard of may
         * still go on and be charged), every accepted order decided. */
        int ok = run.accepted > 0 && run.decided == run.accepted &&
                 load_unanswered_final(&run, sent) == 0 && run.conflicting == 0;
        pthread_mutex_unlock(&run.mu);
        if (o.redis_url != NULL && load_redis_checks(&o, summary) != 0)
            ok = 0;
        if (o.accepted_out != NULL && load_write_accepted(&run, o.accepted_out) != 0)
            ok = 0;
        cJSON_AddBoolToObject(summary, "ok", ok);
        rc = ok ? 0 : 1;
    }
    if (o.json) {
        char *text = cJSON_PrintUnformatted(summary);
        printf("%s\n", text ? text : "{}");
        cJSON_free(text);
    } else {
        load_print_text(summary);
    }
out:
    for (int i = 0; i < 3; i++)
        natsSubscription_Destroy(subs[i]);
    natsInbox_Destroy(inbox);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    /* The process ends after this command: wait for cnats's threads, so no
     * late callback can touch `run` once it is freed. */
    nats_CloseAndWait(5000);
    cJSON_Delete(summary);
    free(run.reqs);
    free(run.slots);
    free(run.retryq);
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv);
    return rc;
}
