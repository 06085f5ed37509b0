/*
 * orders_scripts.c -- runs the Lua scripts of the order, payment and
 * inventory plugins (the exact strings of plugins/<p>/<p>_scripts.h)
 * against a real redis-server through hiredis, and checks their promises:
 * reserve all-or-nothing and never negative, release once, sell once,
 * charge once (fenced by the dedup claim), refund once, decide once; also
 * under concurrent callers on separate connections.
 *
 * usage: orders_scripts HOST PORT   (uses and flushes database 0 of that server)
 * Prints one line per check group; exit 0 when every check held.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/inventory/inventory_scripts.h"
#include "../../plugins/order/order_scripts.h"
#include "../../plugins/payment/payment_scripts.h"

static const char *host;
static int port;
static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* Print the outcome of one group of checks begun when failures was `before`. */
static void
report(int before, const char *what)
{
    printf("%s %s\n", failures == before ? "ok" : "FAILED", what);
}

static redisContext *
conn(void)
{
    redisContext *c = redisConnect(host, port);

    if (c == NULL || c->err) {
        fprintf(stderr, "connect %s:%d: %s\n", host, port, c ? c->errstr : "oom");
        exit(2);
    }
    return c;
}

/* EVAL script with nkeys keys then args, NULL-terminated after the keys and the args. */
static redisReply *
eval(redisContext *c, const char *script, int nkeys, const char *const *keys, int nargs,
     const char *const *args)
{
    const char *argv[64];
    char nk[16];
    int n = 0;

    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[n++] = "EVAL";
    argv[n++] = script;
    argv[n++] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[n++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    redisReply *r = redisCommandArgv(c, n, argv, NULL);
    if (r == NULL) {
        fprintf(stderr, "EVAL: %s\n", c->errstr);
        exit(2);
    }
    if (r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "script error: %s\n", r->str);
    return r;
}

/* Element i of an array reply ("" if absent). */
static const char *
el(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements || r->element[i]->str == NULL)
        return "";
    return r->element[i]->str;
}

/* Integer value of a key (0 when absent). */
static long long
geti(redisContext *c, const char *fmt, ...)
{
    char key[256];
    va_list ap;
    long long v = 0;

    va_start(ap, fmt);
    vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    redisReply *r = redisCommand(c, "GET %s", key);
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    freeReplyObject(r);
    return v;
}

static int
exists(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "EXISTS %s", key);
    int v = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return v;
}

static void
cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    freeReplyObject(r);
}

/* ---- inventory ---- */

static long long
inv_init(redisContext *c, const char *sku, const char *qty, int reset)
{
    char k[4][128];
    const char *keys[] = {k[0], k[1], k[2], k[3]};
    const char *args[] = {qty, reset ? "1" : "0"};

    snprintf(k[0], 128, "inv:stock:%s", sku);
    snprintf(k[1], 128, "inv:reserved:%s", sku);
    snprintf(k[2], 128, "inv:sold:%s", sku);
    snprintf(k[3], 128, "inv:initial:%s", sku);
    redisReply *r = eval(c, INVENTORY_SCRIPT_INIT, 4, keys, 2, args);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* Reserve n lines (sku, qty as text) for order; returns the reply (caller frees). */
static redisReply *
inv_reserve(redisContext *c, const char *order, int n, const char *const *skus,
            const char *const *qtys)
{
    char k[17][128];
    const char *keys[17], *args[17];

    snprintf(k[0], 128, "inv:res:%s", order);
    keys[0] = k[0];
    args[0] = "0";
    for (int i = 0; i < n; i++) {
        snprintf(k[2 * i + 1], 128, "inv:stock:%s", skus[i]);
        snprintf(k[2 * i + 2], 128, "inv:reserved:%s", skus[i]);
        keys[2 * i + 1] = k[2 * i + 1];
        keys[2 * i + 2] = k[2 * i + 2];
        args[2 * i + 1] = skus[i];
        args[2 * i + 2] = qtys[i];
    }
    return eval(c, INVENTORY_SCRIPT_RESERVE, 2 * n + 1, keys, 2 * n + 1, args);
}

static redisReply *
inv_settle(redisContext *c, const char *order, int release)
{
    char k[128];
    const char *keys[] = {k};
    const char *args[] = {"inv:", "0"};

    snprintf(k, sizeof(k), "inv:res:%s", order);
    return eval(c, release ? INVENTORY_SCRIPT_RELEASE : INVENTORY_SCRIPT_COMMIT, 1, keys,
                release ? 2 : 1, args);
}

/* available + reserved + sold == initial, and available >= 0 */
static int
inv_balanced(redisContext *c, const char *sku)
{
    long long a = geti(c, "inv:stock:%s", sku), r = geti(c, "inv:reserved:%s", sku),
              s = geti(c, "inv:sold:%s", sku), i = geti(c, "inv:initial:%s", sku);
    if (a < 0 || r < 0 || s < 0 || a + r + s != i) {
        fprintf(stderr, "  %s: available %lld reserved %lld sold %lld initial %lld\n", sku, a, r, s,
                i);
        return 0;
    }
    return 1;
}

static void
test_inventory(void)
{
    int before = failures;
    redisContext *c = conn();
    redisReply *r;

    /* init: set once, kept without reset, overwritten with reset */
    CHECK(inv_init(c, "A", "5", 0) == 1, "first init sets");
    CHECK(inv_init(c, "B", "1", 0) == 1, "first init sets");
    cmd(c, "SET inv:stock:A 4");
    CHECK(inv_init(c, "A", "5", 0) == 0, "second init keeps");
    CHECK(geti(c, "inv:stock:A") == 4, "stock kept without reset");
    CHECK(inv_init(c, "A", "5", 1) == 1, "reset init sets");
    CHECK(geti(c, "inv:stock:A") == 5, "stock reset");

    /* all-or-nothing: B is short, A must stay untouched */
    {
        const char *s[] = {"A", "B"}, *q[] = {"2", "2"};
        r = inv_reserve(c, "o1", 2, s, q);
        CHECK(strcmp(el(r, 0), "REJECTED") == 0 && strcmp(el(r, 1), "B") == 0 &&
                  strcmp(el(r, 2), "1") == 0,
              "o1 rejected for B, got %s %s", el(r, 0), el(r, 1));
        freeReplyObject(r);
        CHECK(geti(c, "inv:stock:A") == 5 && geti(c, "inv:reserved:A") == 0, "A untouched");
        CHECK(geti(c, "inv:stock:B") == 1 && geti(c, "inv:reserved:B") == 0, "B untouched");
    }
    {
        const char *s[] = {"A", "B"}, *q[] = {"2", "1"};
        r = inv_reserve(c, "o2", 2, s, q);
        CHECK(strcmp(el(r, 0), "RESERVED") == 0 && strcmp(el(r, 2), "1") == 0, "o2 reserved: %s",
              el(r, 0));
        freeReplyObject(r);
        CHECK(geti(c, "inv:stock:A") == 3 && geti(c, "inv:reserved:A") == 2, "A 3/2");
        CHECK(geti(c, "inv:stock:B") == 0 && geti(c, "inv:reserved:B") == 1, "B 0/1");
        /* a redelivery reserves nothing more and answers the same */
        r = inv_reserve(c, "o2", 2, s, q);
        CHECK(strcmp(el(r, 0), "RESERVED") == 0 && strcmp(el(r, 2), "0") == 0, "o2 repeat");
        freeReplyObject(r);
        CHECK(geti(c, "inv:stock:A") == 3 && geti(c, "inv:reserved:A") == 2, "A unchanged");
        /* o1's rejection sticks even though A alone would now fit */
        const char *s1[] = {"A"}, *q1[] = {"1"};
        r = inv_reserve(c, "o1", 1, s1, q1);
        CHECK(strcmp(el(r, 0), "REJECTED") == 0 && strcmp(el(r, 1), "B") == 0 &&
                  strcmp(el(r, 2), "0") == 0,
              "o1 repeat stays rejected");
        freeReplyObject(r);
        /* unknown SKU: out of stock */
        const char *s2[] = {"NOPE"};
        r = inv_reserve(c, "o9", 1, s2, q1);
        CHECK(strcmp(el(r, 0), "REJECTED") == 0 && strcmp(el(r, 1), "NOPE") == 0, "unknown sku");
        freeReplyObject(r);
        CHECK(geti(c, "inv:stock:NOPE") == 0 && !exists(c, "inv:stock:NOPE"), "nothing created");
    }
    /* release once */
    r = inv_settle(c, "o2", 1);
    CHECK(strcmp(el(r, 0), "RELEASED") == 0, "o2 released: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "inv:stock:A") == 5 && geti(c, "inv:reserved:A") == 0, "A back");
    CHECK(geti(c, "inv:stock:B") == 1 && geti(c, "inv:reserved:B") == 0, "B back");
    r = inv_settle(c, "o2", 1);
    CHECK(strcmp(el(r, 0), "NOTHING") == 0 && strcmp(el(r, 1), "released") == 0, "second release");
    freeReplyObject(r);
    CHECK(geti(c, "inv:stock:A") == 5 && geti(c, "inv:stock:B") == 1, "released once");
    r = inv_settle(c, "o1", 1);
    CHECK(strcmp(el(r, 0), "NOTHING") == 0, "release of a rejected order");
    freeReplyObject(r);
    CHECK(geti(c, "inv:stock:A") == 5 && geti(c, "inv:stock:B") == 1, "no stock from nothing");
    /* a release before the reservation voids it */
    r = inv_settle(c, "o3", 1);
    CHECK(strcmp(el(r, 0), "VOIDED") == 0, "release before reserve");
    freeReplyObject(r);
    {
        const char *s[] = {"A"}, *q[] = {"1"};
        r = inv_reserve(c, "o3", 1, s, q);
        CHECK(strcmp(el(r, 0), "VOID") == 0, "late reserve of a voided order: %s", el(r, 0));
        freeReplyObject(r);
        CHECK(geti(c, "inv:stock:A") == 5 && geti(c, "inv:reserved:A") == 0, "nothing reserved");
        /* sell once */
        r = inv_reserve(c, "o4", 1, s, q);
        freeReplyObject(r);
    }
    r = inv_settle(c, "o4", 0);
    CHECK(strcmp(el(r, 0), "SOLD") == 0, "o4 sold: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "inv:stock:A") == 4 && geti(c, "inv:reserved:A") == 0 &&
              geti(c, "inv:sold:A") == 1,
          "A 4/0/1");
    r = inv_settle(c, "o4", 0);
    CHECK(strcmp(el(r, 0), "ALREADY") == 0, "second sale");
    freeReplyObject(r);
    r = inv_settle(c, "o4", 1);
    CHECK(strcmp(el(r, 0), "NOTHING") == 0, "release after sale");
    freeReplyObject(r);
    CHECK(geti(c, "inv:sold:A") == 1 && geti(c, "inv:stock:A") == 4, "sold once");
    r = inv_settle(c, "o5", 0);
    CHECK(strcmp(el(r, 0), "NOT_RESERVED") == 0, "sale without reservation");
    freeReplyObject(r);
    CHECK(inv_balanced(c, "A") && inv_balanced(c, "B"), "balanced");
    redisFree(c);
    report(before, "inventory: init once, all-or-nothing, release once, sell once");
}

/* Concurrent reservations, releases and sales on two SKUs from several connections. */
#define RACE_THREADS 8
#define RACE_ORDERS  300

static void *
inv_race(void *arg)
{
    long t = (long)arg;
    redisContext *c = conn();
    unsigned seed = (unsigned)t * 7919u + 1;

    for (int i = 0; i < RACE_ORDERS; i++) {
        char order[64], q1[8], q2[8];
        const char *s[] = {"C", "D"}, *q[] = {q1, q2};
        snprintf(order, sizeof(order), "race-%ld-%d", t, i);
        snprintf(q1, sizeof(q1), "%d", 1 + (int)(rand_r(&seed) % 3));
        snprintf(q2, sizeof(q2), "%d", 1 + (int)(rand_r(&seed) % 5));
        redisReply *r = inv_reserve(c, order, 2, s, q);
        int ok = strcmp(el(r, 0), "RESERVED") == 0;
        freeReplyObject(r);
        if (ok && i % 3 != 0) {
            /* two settlements race for the same order: only one may apply */
            r = inv_settle(c, order, i % 3 == 1);
            freeReplyObject(r);
            r = inv_settle(c, order, 1);
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void
test_inventory_race(void)
{
    int before = failures;
    redisContext *c = conn();
    pthread_t th[RACE_THREADS];

    inv_init(c, "C", "100", 1);
    inv_init(c, "D", "1000", 1);
    for (long t = 0; t < RACE_THREADS; t++)
        pthread_create(&th[t], NULL, inv_race, (void *)t);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK(inv_balanced(c, "C"), "C balanced after the race");
    CHECK(inv_balanced(c, "D"), "D balanced after the race");
    CHECK(geti(c, "inv:stock:C") >= 0 && geti(c, "inv:stock:D") >= 0, "never negative");
    /* demand (8*300*2 of C on average) far exceeds 100: C must be nearly exhausted */
    CHECK(geti(c, "inv:stock:C") < 3, "C exhausted: %lld left", geti(c, "inv:stock:C"));
    redisFree(c);
    report(before, "inventory race: 8 threads x 300 orders, never negative, balanced");
}

/* ---- payment ---- */

static redisReply *
pay_charge(redisContext *c, const char *dedup, const char *token, const char *order,
           const char *outcome, const char *amount)
{
    char k1[128], k3[128];
    const char *keys[] = {dedup, k1, "pay:charges_total", k3};
    const char *args[] = {token, outcome, amount, "EUR"};

    snprintf(k1, sizeof(k1), "pay:charge:%s", order);
    snprintf(k3, sizeof(k3), "pay:charge_count:%s", order);
    return eval(c, PAYMENT_SCRIPT_CHARGE, 4, keys, 4, args);
}

static redisReply *
pay_refund(redisContext *c, const char *dedup, const char *token, const char *order)
{
    char k1[128], k2[128];
    const char *keys[] = {dedup, k1, k2, "pay:refunds_total"};
    const char *args[] = {token, "out_of_stock"};

    snprintf(k1, sizeof(k1), "pay:charge:%s", order);
    snprintf(k2, sizeof(k2), "pay:refund:%s", order);
    return eval(c, PAYMENT_SCRIPT_REFUND, 4, keys, 2, args);
}

static void
test_payment(void)
{
    int before = failures;
    redisContext *c = conn();
    redisReply *r;

    /* charged once under our claim */
    cmd(c, "SET jw:pay:m1 P|tok1");
    r = pay_charge(c, "jw:pay:m1", "tok1", "p1", "charged", "10.5");
    CHECK(strcmp(el(r, 0), "OK") == 0 && strcmp(el(r, 1), "charged") == 0, "p1 charged: %s",
          el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "pay:charges_total") == 1 && geti(c, "pay:charge_count:p1") == 1, "counted");
    r = pay_charge(c, "jw:pay:m1", "tok1", "p1", "charged", "10.5");
    CHECK(strcmp(el(r, 0), "ALREADY") == 0 && strcmp(el(r, 1), "charged") == 0 &&
              strcmp(el(r, 2), "10.5") == 0 && strcmp(el(r, 3), "EUR") == 0,
          "p1 second attempt: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "pay:charges_total") == 1 && geti(c, "pay:charge_count:p1") == 1, "charged once");
    /* the fence: someone else's claim, a done marker, a vanished claim */
    cmd(c, "SET jw:pay:m2 P|other");
    r = pay_charge(c, "jw:pay:m2", "tok2", "p2", "charged", "3");
    CHECK(strcmp(el(r, 0), "LEASE_LOST") == 0, "foreign claim: %s", el(r, 0));
    freeReplyObject(r);
    cmd(c, "SET jw:pay:m2 D|done");
    r = pay_charge(c, "jw:pay:m2", "tok2", "p2", "charged", "3");
    CHECK(strcmp(el(r, 0), "DUP") == 0, "done marker: %s", el(r, 0));
    freeReplyObject(r);
    r = pay_charge(c, "jw:pay:absent", "tok2", "p2", "charged", "3");
    CHECK(strcmp(el(r, 0), "LEASE_LOST") == 0, "expired claim: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(!exists(c, "pay:charge:p2") && geti(c, "pay:charge_count:p2") == 0 &&
              geti(c, "pay:charges_total") == 1,
          "a refused fence writes nothing");
    /* the host's own claim key is never written by the script */
    r = redisCommand(c, "GET jw:pay:m1");
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "P|tok1") == 0, "claim untouched");
    freeReplyObject(r);
    /* dedup off: no fence */
    r = pay_charge(c, "jw:nofence", "", "p3", "charged", "7");
    CHECK(strcmp(el(r, 0), "OK") == 0, "unfenced charge: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(!exists(c, "jw:nofence"), "placeholder key not created");
    /* a decline is recorded but not counted as a charge */
    r = pay_charge(c, "jw:nofence", "", "p4", "declined", "8");
    CHECK(strcmp(el(r, 0), "OK") == 0 && strcmp(el(r, 1), "declined") == 0, "declined");
    freeReplyObject(r);
    r = pay_charge(c, "jw:nofence", "", "p4", "charged", "8");
    CHECK(strcmp(el(r, 0), "ALREADY") == 0 && strcmp(el(r, 1), "declined") == 0,
          "a decline sticks");
    freeReplyObject(r);
    CHECK(geti(c, "pay:charges_total") == 2 && geti(c, "pay:charge_count:p4") == 0,
          "declines not counted");

    /* refund once */
    r = pay_refund(c, "jw:nofence", "", "p1");
    CHECK(strcmp(el(r, 0), "REFUNDED") == 0 && strcmp(el(r, 1), "10.5") == 0 &&
              strcmp(el(r, 2), "EUR") == 0,
          "p1 refunded: %s", el(r, 0));
    freeReplyObject(r);
    r = pay_refund(c, "jw:nofence", "", "p1");
    CHECK(strcmp(el(r, 0), "ALREADY") == 0, "second refund: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "pay:refunds_total") == 1, "refunded once");
    r = pay_refund(c, "jw:nofence", "", "p4");
    CHECK(strcmp(el(r, 0), "NO_CHARGE") == 0, "refund of a decline: %s", el(r, 0));
    freeReplyObject(r);
    /* cancelled before the charge: the late charge is refused */
    r = pay_refund(c, "jw:nofence", "", "p5");
    CHECK(strcmp(el(r, 0), "VOIDED") == 0, "refund before charge: %s", el(r, 0));
    freeReplyObject(r);
    r = pay_charge(c, "jw:nofence", "", "p5", "charged", "9");
    CHECK(strcmp(el(r, 0), "CANCELLED") == 0, "late charge: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "pay:charge_count:p5") == 0 && geti(c, "pay:charges_total") == 2,
          "no late charge");
    r = pay_refund(c, "jw:nofence", "", "p5");
    CHECK(strcmp(el(r, 0), "NO_CHARGE") == 0, "second cancel: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(geti(c, "pay:refunds_total") == 1, "no refund without a charge");
    /* refund fenced like the charge */
    cmd(c, "SET jw:pay:m6 D|x");
    r = pay_refund(c, "jw:pay:m6", "tok6", "p3");
    CHECK(strcmp(el(r, 0), "DUP") == 0, "refund dup: %s", el(r, 0));
    freeReplyObject(r);
    CHECK(!exists(c, "pay:refund:p3"), "dup writes nothing");
    redisFree(c);
    report(before, "payment: charge once, fence, decline, refund once, void before charge");
}

static void *
pay_race(void *arg)
{
    redisContext *c = conn();

    (void)arg;
    for (int i = 0; i < 200; i++) {
        char order[32];
        snprintf(order, sizeof(order), "pr-%d", i);
        redisReply *r = pay_charge(c, "jw:nofence", "", order, "charged", "1");
        freeReplyObject(r);
        if (i % 2 == 0) {
            r = pay_refund(c, "jw:nofence", "", order);
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void
test_payment_race(void)
{
    int before = failures;
    redisContext *c = conn();
    pthread_t th[RACE_THREADS];
    int dup = 0, charged = 0;

    cmd(c, "DEL pay:charges_total pay:refunds_total");
    for (long t = 0; t < RACE_THREADS; t++)
        pthread_create(&th[t], NULL, pay_race, (void *)t);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < 200; i++) {
        long long n = geti(c, "pay:charge_count:pr-%d", i);
        dup += n > 1;
        charged += n == 1;
    }
    CHECK(dup == 0, "%d orders charged twice", dup);
    CHECK(charged == 200 && geti(c, "pay:charges_total") == charged,
          "charges_total %lld == charged orders %d", geti(c, "pay:charges_total"), charged);
    CHECK(geti(c, "pay:refunds_total") <= 100, "at most one refund per even order: %lld",
          geti(c, "pay:refunds_total"));
    redisFree(c);
    report(before, "payment race: 8 threads, no order charged twice");
}

/* ---- order ---- */

static redisReply *
ord_record(redisContext *c, const char *order, const char *field, const char *value)
{
    char k[128];
    const char *keys[] = {k};
    const char *args[] = {field, value, "0"};

    snprintf(k, sizeof(k), "ord:%s", order);
    return eval(c, ORDER_SCRIPT_RECORD, 1, keys, 3, args);
}

/* ORDER_SCRIPT_RECORD in mark mode (ABI 1.1 publish_async); redelivery flag. */
static redisReply *
ord_record_mark(redisContext *c, const char *order, const char *field, const char *value,
                const char *redelivery)
{
    char k[128];
    const char *keys[] = {k};
    const char *args[] = {field, value, "0", "1", redelivery};

    snprintf(k, sizeof(k), "ord:%s", order);
    return eval(c, ORDER_SCRIPT_RECORD, 1, keys, 5, args);
}

static long long
ord_published(redisContext *c, const char *order)
{
    char k[128];
    const char *keys[] = {k};

    snprintf(k, sizeof(k), "ord:%s", order);
    redisReply *r = eval(c, ORDER_SCRIPT_PUBLISHED, 1, keys, 0, NULL);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static int
ord_is(redisReply *r, const char *st, const char *dec, const char *why)
{
    int ok = strcmp(el(r, 0), st) == 0 && strcmp(el(r, 1), dec) == 0 && strcmp(el(r, 2), why) == 0;
    if (!ok)
        fprintf(stderr, "  got {%s, %s, %s}, want {%s, %s, %s}\n", el(r, 0), el(r, 1), el(r, 2), st,
                dec, why);
    freeReplyObject(r);
    return ok;
}

static void
test_order(void)
{
    int before = failures;
    redisContext *c = conn();

    CHECK(ord_is(ord_record(c, "d1", "payment", "completed"), "WAITING", "", ""), "d1 waits");
    CHECK(ord_published(c, "d1") == 0, "nothing to mark before the decision");
    CHECK(ord_is(ord_record(c, "d1", "inventory", "reserved"), "DECIDED", "confirmed", ""),
          "d1 confirmed");
    CHECK(ord_is(ord_record(c, "d1", "inventory", "reserved"), "UNPUBLISHED", "confirmed", ""),
          "d1 repeat before the publish is recorded");
    CHECK(ord_published(c, "d1") == 1, "mark published");
    CHECK(ord_is(ord_record(c, "d1", "payment", "completed"), "DONE", "confirmed", ""), "d1 done");

    CHECK(ord_is(ord_record(c, "d2", "payment", "failed"), "DECIDED", "cancelled",
                 "payment_declined"),
          "d2 cancelled at once");
    CHECK(ord_is(ord_record(c, "d2", "inventory", "reserved"), "UNPUBLISHED", "cancelled",
                 "payment_declined"),
          "d2 keeps its decision");

    CHECK(ord_is(ord_record(c, "d3", "inventory", "rejected"), "DECIDED", "cancelled",
                 "out_of_stock"),
          "d3 cancelled for stock");
    CHECK(ord_published(c, "d3") == 1, "mark d3");
    CHECK(ord_is(ord_record(c, "d3", "payment", "completed"), "DONE", "cancelled", "out_of_stock"),
          "a late payment does not confirm d3");

    /* the first value of a field wins */
    CHECK(ord_is(ord_record(c, "d4", "payment", "completed"), "WAITING", "", ""), "d4 waits");
    CHECK(ord_is(ord_record(c, "d4", "payment", "failed"), "WAITING", "", ""), "d4 ignores");
    CHECK(ord_is(ord_record(c, "d4", "inventory", "reserved"), "DECIDED", "confirmed", ""),
          "d4 confirmed");

    /* mark mode: marked as decided; only a redelivery publishes again */
    CHECK(ord_is(ord_record_mark(c, "d5", "payment", "completed", "0"), "WAITING", "", ""),
          "d5 waits");
    CHECK(
        ord_is(ord_record_mark(c, "d5", "inventory", "reserved", "0"), "DECIDED", "confirmed", ""),
        "d5 confirmed");
    CHECK(ord_is(ord_record_mark(c, "d5", "inventory", "reserved", "0"), "DONE", "confirmed", ""),
          "d5 marked published with the decision");
    CHECK(ord_is(ord_record_mark(c, "d5", "inventory", "reserved", "1"), "UNPUBLISHED", "confirmed",
                 ""),
          "a redelivery of d5 publishes again");
    CHECK(
        ord_is(ord_record_mark(c, "d5", "payment", "failed", "1"), "UNPUBLISHED", "confirmed", ""),
        "and never changes the decision");
    redisFree(c);
    report(before, "order: decide once, first outcome wins, republish until marked");
}

/* ORDER_SCRIPT_IDEM_BEGIN of key hash k, order o, fingerprint fp; {status, order id}. */
static redisReply *
idem_begin(redisContext *c, const char *k, const char *o, const char *fp, const char *ttl)
{
    char rk[128], sk[128];
    const char *keys[] = {rk, sk};
    const char *args[] = {o, fp, ttl};

    snprintf(rk, sizeof(rk), "ord:idem:%s", k);
    snprintf(sk, sizeof(sk), "ord:%s", o);
    return eval(c, ORDER_SCRIPT_IDEM_BEGIN, 2, keys, 3, args);
}

static long long
idem_accepted(redisContext *c, const char *k)
{
    char rk[128];
    const char *keys[] = {rk};

    snprintf(rk, sizeof(rk), "ord:idem:%s", k);
    redisReply *r = eval(c, ORDER_SCRIPT_IDEM_ACCEPTED, 1, keys, 0, NULL);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static int
idem_is(redisReply *r, const char *st, const char *oid)
{
    int ok = strcmp(el(r, 0), st) == 0 && strcmp(el(r, 1), oid) == 0;
    if (!ok)
        fprintf(stderr, "  got {%s, %s}, want {%s, %s}\n", el(r, 0), el(r, 1), st, oid);
    freeReplyObject(r);
    return ok;
}

static void
test_order_idem(void)
{
    int before = failures;
    redisContext *c = conn();
    redisReply *r;

    CHECK(idem_is(idem_begin(c, "k1", "o1", "fp", "0"), "NEW", "o1"), "first use");
    CHECK(idem_is(idem_begin(c, "k1", "o1", "fp", "0"), "PENDING", "o1"),
          "a retry before the PubAck is recorded publishes again");
    CHECK(idem_is(idem_begin(c, "k1", "o1", "other", "0"), "MISMATCH", "o1"),
          "another request under the key");
    CHECK(idem_accepted(c, "k1") == 1, "mark accepted");
    CHECK(idem_is(idem_begin(c, "k1", "o1", "fp", "0"), "DONE", "o1"), "then answered");
    CHECK(idem_is(idem_begin(c, "k1", "o1", "other", "0"), "MISMATCH", "o1"), "still refused");
    CHECK(idem_accepted(c, "gone") == 0, "no record made by the mark");
    r = redisCommand(c, "EXISTS ord:idem:gone");
    CHECK(r && r->integer == 0, "ord:idem:gone");
    freeReplyObject(r);
    /* the PubAck never recorded, but payment or inventory answered: published */
    CHECK(idem_is(idem_begin(c, "k2", "o2", "fp", "0"), "NEW", "o2"), "k2");
    freeReplyObject(ord_record(c, "o2", "payment", "completed"));
    CHECK(idem_is(idem_begin(c, "k2", "o2", "fp", "0"), "DONE", "o2"), "k2 known by its state");
    /* the record expired, the order's state lives: answered, not published */
    freeReplyObject(ord_record(c, "o3", "payment", "completed"));
    CHECK(idem_is(idem_begin(c, "k3", "o3", "fp", "0"), "DONE", "o3"), "k3 after expiry");
    /* TTL */
    CHECK(idem_is(idem_begin(c, "k4", "o4", "fp", "60000"), "NEW", "o4"), "k4");
    r = redisCommand(c, "PTTL ord:idem:k4");
    CHECK(r && r->integer > 0 && r->integer <= 60000, "k4 has its TTL");
    freeReplyObject(r);
    redisFree(c);
    report(before, "order: idempotency keys: record once, answer, republish until accepted");
}

static int decided_count;
static pthread_mutex_t decided_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
ord_race(void *arg)
{
    long t = (long)arg;
    redisContext *c = conn();

    for (int i = 0; i < 300; i++) {
        char order[32];
        snprintf(order, sizeof(order), "dr-%d", i);
        /* half the threads bring the payment, half the inventory outcome */
        redisReply *r = ord_record(c, order, t % 2 ? "payment" : "inventory",
                                   t % 2 ? "completed" : (i % 5 ? "reserved" : "rejected"));
        if (strcmp(el(r, 0), "DECIDED") == 0) {
            pthread_mutex_lock(&decided_mu);
            decided_count++;
            pthread_mutex_unlock(&decided_mu);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void
test_order_race(void)
{
    int before = failures;
    pthread_t th[RACE_THREADS];

    for (long t = 0; t < RACE_THREADS; t++)
        pthread_create(&th[t], NULL, ord_race, (void *)t);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK(decided_count == 300, "300 orders, %d decisions", decided_count);
    report(before, "order race: 8 threads, one decision per order");
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: orders_scripts HOST PORT\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    {
        redisContext *c = conn();
        cmd(c, "FLUSHDB");
        redisFree(c);
    }
    test_inventory();
    test_inventory_race();
    test_payment();
    test_payment_race();
    test_order();
    test_order_idem();
    test_order_race();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all script checks passed\n");
    return 0;
}
