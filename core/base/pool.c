/*
 * pool.c -- see pool.h.
 */
#include "base.h"

#include <pthread.h>
#include <nats/nats.h>
#include <stdlib.h>


/* Plugin code gets a generous stack: libuv 1.44's threadpool gives less
 * than glibc's 8 MiB default and handlers may recurse (JSON parsers). */
#define POOL_STACK_SIZE (8u << 20)

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_queue *rhead, *rtail; /* runnable queues */
    int stopping;
    int idle;
    int nthreads;
    pthread_t *threads;
};

static void (*pool_thread_exit)(void);

void
pool_set_thread_exit(void (*fn)(void))
{
    pool_thread_exit = fn;
}

/* Caller holds p->mu. */
static void
runnable_push(pool *p, pool_queue *q)
{
    q->on_runnable = 1;
    q->next_runnable = NULL;
    if (p->rtail)
        p->rtail->next_runnable = q;
    else
        p->rhead = q;
    p->rtail = q;
}

/* Caller holds p->mu: take the next item to run, or NULL. */
static pool_item *
take_next(pool *p, pool_queue **qout)
{
    pool_queue *q = p->rhead;
    if (!q)
        return NULL;
    p->rhead = q->next_runnable;
    if (!p->rhead)
        p->rtail = NULL;
    q->on_runnable = 0;
    pool_item *it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->waiting--;
    q->running++;
    if (q->head && q->running < q->limit)
        runnable_push(p, q);
    *qout = q;
    return it;
}

static void *
pool_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-worker"); /* for top -H, perf, gdb */
    jw_thread_set_role(JW_ROLE_WORKER);
    pool *p = arg;
    pool_queue *done_q = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (done_q) {
            done_q->running--;
            if (done_q->head && !done_q->on_runnable && done_q->running < done_q->limit)
                runnable_push(p, done_q);
            done_q = NULL;
        }
        pool_queue *q = NULL;
        pool_item *it = take_next(p, &q);
        if (!it) {
            if (p->stopping)
                break;
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        q->run(q, it);
        done_q = q;
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (pool_thread_exit)
        pool_thread_exit();
    nats_ReleaseThreadMemory();
    return NULL;
}

int
pool_start(int nthreads, pool **out)
{
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return -1;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], &attr, pool_main, p) != 0) {
            log_error("pool: cannot start worker thread %d", i);
            pthread_attr_destroy(&attr);
            p->nthreads = i;
            pool_stop(p);
            return -1;
        }
        p->nthreads = i + 1;
    }
    pthread_attr_destroy(&attr);
    *out = p;
    return 0;
}

void
pool_stop(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

void
pool_queue_init(pool_queue *q, int limit, pool_run_fn run, void *data)
{
    q->head = q->tail = NULL;
    q->waiting = q->running = 0;
    q->limit = limit > 0 ? limit : 1;
    q->on_runnable = 0;
    q->next_runnable = NULL;
    q->run = run;
    q->data = data;
}

void
pool_queue_set_limit(pool *p, pool_queue *q, int limit)
{
    pthread_mutex_lock(&p->mu);
    q->limit = limit > 0 ? limit : 1;
    if (q->head && !q->on_runnable && q->running < q->limit) {
        runnable_push(p, q);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void
pool_submit(pool *p, pool_queue *q, pool_item *first, pool_item *last, int n)
{
    last->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    q->waiting += n;
    if (!q->on_runnable && q->running < q->limit)
        runnable_push(p, q);
    /* Wake as many idle workers as there is new work, no more. */
    if (p->idle > 0) {
        if (n > 1 && p->idle > 1)
            pthread_cond_broadcast(&p->cv);
        else
            pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

pool_item *
pool_queue_take_waiting(pool *p, pool_queue *q)
{
    pthread_mutex_lock(&p->mu);
    pool_item *list = q->head;
    q->head = q->tail = NULL;
    q->waiting = 0;
    if (q->on_runnable) {
        /* Unlink q from the runnable list. */
        pool_queue **pp = &p->rhead;
        pool_queue *prev = NULL;
        while (*pp && *pp != q) {
            prev = *pp;
            pp = &(*pp)->next_runnable;
        }
        if (*pp) {
            *pp = q->next_runnable;
            if (p->rtail == q)
                p->rtail = prev;
        }
        q->on_runnable = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return list;
}

int
pool_queue_busy(pool *p, pool_queue *q)
{
    pthread_mutex_lock(&p->mu);
    int n = q->waiting + q->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}
