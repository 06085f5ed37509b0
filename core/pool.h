/*
 * pool.h -- jetway's own bounded worker pool, where every line of plugin
 * code runs (handle, init, fini). Not libuv's threadpool: that one is shared
 * with fs/DNS work, has small stacks on libuv 1.44, and has no per-consumer
 * limits.
 *
 * Work is queued per pool_queue (one per consumer or request/reply
 * service). A queue has a concurrency limit: at most `limit` of its items
 * run at once. Queues that have waiting work and spare concurrency sit on a
 * round-robin "runnable" list, so one busy consumer cannot starve another.
 * A worker takes one lock per item (finishing the previous item and taking
 * the next in the same critical section).
 *
 * Threads: pool_submit/pool_queue_take_waiting from any thread; the run
 * function is called on a worker thread. pool_start/pool_stop on the main or
 * loop thread. A pool_queue is owned by its consumer/service and must
 * outlive every item submitted to it.
 */
#ifndef JW_POOL_H
#define JW_POOL_H

#include <pthread.h>

typedef struct pool_item {
    struct pool_item *next;
} pool_item;

typedef struct pool_queue pool_queue;
typedef void (*pool_run_fn)(pool_queue *q, pool_item *item);

struct pool_queue {
    pool_item *head, *tail; /* waiting items, under pool.mu */
    int waiting;
    int running;
    int limit; /* max concurrent runs; changeable under pool.mu */
    int on_runnable;
    pool_queue *next_runnable;
    pool_run_fn run;
    void *data; /* the owner's */
};

typedef struct pool pool;

int pool_start(int nthreads, pool **out);
/* Finish everything queued, then join the threads. */
void pool_stop(pool *p);

void pool_queue_init(pool_queue *q, int limit, pool_run_fn run, void *data);
void pool_queue_set_limit(pool *p, pool_queue *q, int limit);
/* Enqueue first..last (n items, already linked). */
void pool_submit(pool *p, pool_queue *q, pool_item *first, pool_item *last, int n);
/* Remove and return the items of q that have not started (drain). */
pool_item *pool_queue_take_waiting(pool *p, pool_queue *q);
/* Items of q running or waiting, a snapshot. */
int pool_queue_busy(pool *p, pool_queue *q);

/* Thread-exit hook every worker runs (frees thread-local clients). */
void pool_set_thread_exit(void (*fn)(void));

#endif /* JW_POOL_H */
