/*
 * test_base_pool.c -- the worker pool (base/pool.c): its per-queue
 * concurrency limit, and taking back items that have not started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"

typedef struct limit_probe {
    atomic_int active;
    atomic_int max_active;
    atomic_int done;
} limit_probe;

static void
probe_run(pool_queue *q, pool_item *it)
{
    limit_probe *p = q->data;
    int now = atomic_fetch_add(&p->active, 1) + 1;
    int seen = atomic_load(&p->max_active);
    while (now > seen && !atomic_compare_exchange_weak(&p->max_active, &seen, now))
        ;
    usleep(200);
    atomic_fetch_sub(&p->active, 1);
    atomic_fetch_add(&p->done, 1);
    free(it);
}

static void
pool__queue_limit__never_exceeded(void **state)
{
    (void)state;
    pool *p = NULL;
    assert_int_equal(pool_start(8, &p), 0);
    limit_probe a = {0}, b = {0};
    pool_queue qa, qb;
    pool_queue_init(&qa, 2, probe_run, &a);
    pool_queue_init(&qb, 5, probe_run, &b);
    for (int i = 0; i < 300; i++) {
        pool_item *x = calloc(1, sizeof(*x));
        pool_item *y = calloc(1, sizeof(*y));
        pool_submit(p, &qa, x, x, 1);
        pool_submit(p, &qb, y, y, 1);
    }
    pool_stop(p); /* finishes everything queued */
    assert_int_equal(atomic_load(&a.done), 300);
    assert_int_equal(atomic_load(&b.done), 300);
    assert_true(atomic_load(&a.max_active) <= 2);
    assert_true(atomic_load(&b.max_active) <= 5);
    assert_true(atomic_load(&b.max_active) >= 2); /* the limit is really exercised */
}

static void
pool__take_waiting__removes_unstarted(void **state)
{
    (void)state;
    pool *p = NULL;
    assert_int_equal(pool_start(1, &p), 0);
    limit_probe a = {0};
    pool_queue qa;
    pool_queue_init(&qa, 1, probe_run, &a);
    for (int i = 0; i < 100; i++) {
        pool_item *x = calloc(1, sizeof(*x));
        pool_submit(p, &qa, x, x, 1);
    }
    pool_item *w = pool_queue_take_waiting(p, &qa);
    int n = 0;
    while (w) {
        pool_item *next = w->next;
        free(w);
        w = next;
        n++;
    }
    pool_stop(p);
    assert_int_equal(n + atomic_load(&a.done), 100);
    assert_true(n > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool__queue_limit__never_exceeded),
        cmocka_unit_test(pool__take_waiting__removes_unstarted),
    };
    return cmocka_run_group_tests_name("base_pool", tests, NULL, NULL);
}
