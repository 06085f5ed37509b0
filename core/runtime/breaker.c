/*
 * breaker.c -- see breaker_int.h.
 */
#include "breaker_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BRK_CLOSED = 0, BRK_OPEN = 1, BRK_HALF = 2 };

/* The RETRYs of a streak remembered, to discount them when it opens. */
#define STREAK_SEQS 64

typedef struct discount {
    uint64_t seq; /* 0 = free slot (stream sequences start at 1) */
    uint64_t n;
} discount;

/*
 * One consumer name's control block. Owned by the registry (ctl_shutdown
 * frees it); `operator` and `active` are atomics read by any thread, the
 * rest is under mu (fetcher and workers).
 */
struct rt_ctl {
    char name[128];
    atomic_int active;   /* a consumer of this name is running */
    atomic_int operator; /* paused by the operator */
    atomic_int armed;    /* cfg.enabled, for the lock-free fast paths */
    stats_consumer *st;  /* the gauges; registry-owned, lives as long */
    pthread_mutex_t mu;
    cfg_breaker cfg;       /* under mu */
    int state;             /* under mu: BRK_* */
    int streak;            /* under mu: RETRYs in a row */
    uint64_t streak_first; /* under mu: clock_mono_ns() of the streak's first */
    uint64_t streak_seq[STREAK_SEQS];
    uint64_t open_until;  /* under mu: BRK_OPEN until then */
    uint64_t probe_until; /* under mu: BRK_HALF: a probe is out until then */
    atomic_int ndisc;     /* discount entries in use (the fast path reads it) */
    discount *disc;       /* under mu: CTL_DISCOUNT_MAX slots, allocated on first use */
    size_t disc_next;     /* under mu: the slot replaced when all are used */
    struct rt_ctl *next;  /* registry */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_ctl *reg; /* under reg_mu */

static void
publish_state(rt_ctl *k)
{
    if (!k->st)
        return;
    int bits = (atomic_load(&k->operator) ? STATS_PAUSED_OPERATOR : 0) |
               (k->state != BRK_CLOSED ? STATS_PAUSED_BREAKER : 0);
    atomic_store(&k->st->paused, bits);
    atomic_store(&k->st->breaker, k->state);
}

rt_ctl *
ctl_attach(const char *name, stats_consumer *st)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    pthread_mutex_lock(&reg_mu);
    rt_ctl *k;
    for (k = reg; k; k = k->next)
        if (strcmp(k->name, name) == 0)
            break;
    if (!k && (k = calloc(1, sizeof(*k))) != NULL) {
        snprintf(k->name, sizeof(k->name), "%s", name);
        pthread_mutex_init(&k->mu, NULL);
        k->next = reg;
        reg = k;
    }
    if (k) {
        pthread_mutex_lock(&k->mu);
        k->st = st;
        publish_state(k);
        pthread_mutex_unlock(&k->mu);
        atomic_store(&k->active, 1);
    }
    pthread_mutex_unlock(&reg_mu);
    return k;
}

void
ctl_configure(rt_ctl *k, const cfg_breaker *b)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->cfg = *b;
    atomic_store(&k->armed, b->enabled);
    if (!b->enabled && k->state != BRK_CLOSED) {
        /* the breaker was configured away: nothing holds the fetcher now */
        k->state = BRK_CLOSED;
        k->streak = 0;
    }
    publish_state(k);
    pthread_mutex_unlock(&k->mu);
}

void
ctl_detach(rt_ctl *k)
{
    if (k)
        atomic_store(&k->active, 0);
}

int
ctl_operator(const char *name, int pause, char *msg, size_t msglen)
{
    pthread_mutex_lock(&reg_mu);
    rt_ctl *k;
    for (k = reg; k; k = k->next)
        if (strcmp(k->name, name) == 0 && atomic_load(&k->active))
            break;
    if (!k) {
        pthread_mutex_unlock(&reg_mu);
        snprintf(msg, msglen, "no consumer named '%s' is running", name);
        return -1;
    }
    int was = atomic_exchange(&k->operator, pause ? 1 : 0);
    pthread_mutex_lock(&k->mu);
    publish_state(k);
    int brk = k->state;
    pthread_mutex_unlock(&k->mu);
    pthread_mutex_unlock(&reg_mu);
    if (pause)
        snprintf(msg, msglen, "consumer %s %s", name, was ? "was already paused" : "paused");
    else
        snprintf(msg, msglen, "consumer %s %s%s", name, was ? "resumed" : "was not paused",
                 brk == BRK_CLOSED ? ""
                                   : " (its circuit breaker is open: it fetches after the "
                                     "breaker's probe succeeds)");
    log_info("%s (operator)", msg);
    return 0;
}

int
ctl_holds(rt_ctl *k)
{
    if (!k)
        return 0;
    if (atomic_load_explicit(&k->operator, memory_order_relaxed))
        return 1;
    if (!atomic_load_explicit(&k->armed, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&k->mu);
    int hold = 0;
    uint64_t now = clock_mono_ns();
    if (k->state == BRK_OPEN && now >= k->open_until) {
        k->state = BRK_HALF;
        k->probe_until = 0;
        publish_state(k);
        log_info("consumer %s: circuit breaker half-open: probing with one message", k->name);
    }
    if (k->state == BRK_OPEN)
        hold = 1;
    else if (k->state == BRK_HALF)
        hold = now < k->probe_until; /* a probe is out */
    pthread_mutex_unlock(&k->mu);
    return hold;
}

int
ctl_cap(rt_ctl *k, int n)
{
    if (!k || n <= 0 || !atomic_load_explicit(&k->armed, memory_order_relaxed))
        return n;
    pthread_mutex_lock(&k->mu);
    if (k->state == BRK_HALF) {
        /* One probe; if it brings no verdict (nothing to pull, or a slow
         * handler), another may go after a cool-down. */
        n = 1;
        k->probe_until = clock_mono_ns() + (uint64_t)k->cfg.cool_down_ms * 1000000u;
    }
    pthread_mutex_unlock(&k->mu);
    return n;
}

/* Under k->mu: one more outage delivery of seq. */
static void
disc_add(rt_ctl *k, uint64_t seq)
{
    if (seq == 0)
        return;
    if (!k->disc && !(k->disc = calloc(CTL_DISCOUNT_MAX, sizeof(*k->disc))))
        return; /* out of memory: the delivery counts, as without a breaker */
    discount *free_slot = NULL;
    for (size_t i = 0; i < CTL_DISCOUNT_MAX; i++) {
        if (k->disc[i].seq == seq) {
            k->disc[i].n++;
            goto counted;
        }
        if (!free_slot && k->disc[i].seq == 0)
            free_slot = &k->disc[i];
    }
    if (free_slot) {
        atomic_fetch_add(&k->ndisc, 1);
    } else {
        /* Full (messages settled elsewhere never said goodbye): forget
         * the oldest slot's, round-robin. */
        free_slot = &k->disc[k->disc_next];
        k->disc_next = (k->disc_next + 1) % CTL_DISCOUNT_MAX;
    }
    free_slot->seq = seq;
    free_slot->n = 1;
counted:
    if (k->st)
        atomic_fetch_add_explicit(&k->st->outage_deliveries, 1, memory_order_relaxed);
}

static void
disc_del(rt_ctl *k, uint64_t seq)
{
    for (size_t i = 0; k->disc && i < CTL_DISCOUNT_MAX; i++) {
        if (k->disc[i].seq == seq) {
            k->disc[i].seq = 0;
            k->disc[i].n = 0;
            atomic_fetch_sub(&k->ndisc, 1);
            return;
        }
    }
}

static void
brk_open(rt_ctl *k, uint64_t now, const char *why)
{
    k->state = BRK_OPEN;
    k->open_until = now + (uint64_t)k->cfg.cool_down_ms * 1000000u;
    k->streak = 0;
    if (k->st)
        atomic_fetch_add_explicit(&k->st->breaker_opened, 1, memory_order_relaxed);
    publish_state(k);
    log_warn("consumer %s: circuit breaker open (%s): fetching paused for %lld ms", k->name, why,
             (long long)k->cfg.cool_down_ms);
}

int
breaker_retry(rt_ctl *k, uint64_t seq)
{
    if (!k)
        return 0;
    pthread_mutex_lock(&k->mu);
    int outage = 0;
    uint64_t now = clock_mono_ns();
    if (!k->cfg.enabled) {
        outage = 0;
    } else if (k->state == BRK_HALF) {
        disc_add(k, seq);
        brk_open(k, now, "the probe was asked to retry");
        outage = 1;
    } else if (k->state == BRK_OPEN) {
        disc_add(k, seq); /* in flight when it opened */
        outage = 1;
    } else {
        if (k->streak == 0 || now - k->streak_first > (uint64_t)k->cfg.window_ms * 1000000u) {
            k->streak = 0;
            k->streak_first = now;
        }
        if (k->streak < STREAK_SEQS)
            k->streak_seq[k->streak] = seq;
        k->streak++;
        if (k->streak >= k->cfg.consecutive_retries) {
            /* The streak was the outage: none of it counts. */
            int n = k->streak < STREAK_SEQS ? k->streak : STREAK_SEQS;
            char why[96];
            snprintf(why, sizeof(why), "%d retries in a row", k->streak);
            for (int i = 0; i < n; i++)
                disc_add(k, k->streak_seq[i]);
            brk_open(k, now, why);
            outage = 1;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return outage;
}

void
breaker_answered(rt_ctl *k, uint64_t seq)
{
    /* every ACK comes here: no lock unless there is something to do */
    if (!k || (!atomic_load_explicit(&k->armed, memory_order_relaxed) &&
               atomic_load_explicit(&k->ndisc, memory_order_relaxed) == 0))
        return;
    pthread_mutex_lock(&k->mu);
    k->streak = 0;
    if (k->state != BRK_CLOSED) {
        k->state = BRK_CLOSED;
        publish_state(k);
        log_info("consumer %s: circuit breaker closed: the downstream answered", k->name);
    }
    if (atomic_load(&k->ndisc) > 0)
        disc_del(k, seq);
    pthread_mutex_unlock(&k->mu);
}

uint64_t
breaker_discount(rt_ctl *k, uint64_t seq)
{
    if (!k || atomic_load_explicit(&k->ndisc, memory_order_relaxed) == 0)
        return 0;
    uint64_t n = 0;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; k->disc && i < CTL_DISCOUNT_MAX; i++) {
        if (k->disc[i].seq == seq) {
            n = k->disc[i].n;
            break;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return n;
}

void
ctl_shutdown(void)
{
    pthread_mutex_lock(&reg_mu);
    while (reg) {
        rt_ctl *k = reg;
        reg = k->next;
        pthread_mutex_destroy(&k->mu);
        free(k->disc);
        free(k);
    }
    pthread_mutex_unlock(&reg_mu);
}
