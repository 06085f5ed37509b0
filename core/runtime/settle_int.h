/*
 * settle -- what happens to a message between fetch and its final
 * ACK/NAK/TERM: the Redis claim, the handler call on a worker, the dead
 * letter, the commit or release, and the settlement itself.
 *
 * Threads: settle_claim_drain and settle_done_drain are the loop's mpsc
 * callbacks (claim_q, done_q); settle_run_job runs on a pool worker;
 * settle_trace_extract on whichever thread owns the job: the fetcher (claims,
 * via rt_job_parse), a worker (the rest), or the cnats thread delivering a
 * request (service_on_msg). settle_redis_up runs on the loop when
 * Redis comes back, to re-send commits that failed.
 */
#ifndef JW_SETTLE_H
#define JW_SETTLE_H

#include "rt_int.h"

void settle_claim_drain(mpsc *q, mpsc_node *list);
void settle_done_drain(mpsc *q, mpsc_node *list);
void settle_run_job(pool_queue *q, pool_item *item);
/* Hand the jobs of one fetch (first..last, n) to c's pool queue: as one
 * handle_batch item when inst has handle_batch, else n items. Fetcher. */
void settle_submit_run(rt_consumer *c, plugin_instance *inst, pool_item *first, pool_item *last,
                       int n);
void settle_trace_extract(rt_job *j);
void settle_redis_up(rt_host *r);
/* The loop's handle that hands claimed jobs to the pool: init once the
 * loop and pool exist, close with the loop's other handles. Loop. */
void settle_init(rt_host *r);
void settle_close(rt_host *r, uv_close_cb cb);
/* Drain: NAK a job that was fetched but never started (any thread but
 * releases claims through the loop). */
void settle_abandon(rt_job *j);
/*
 * Give back c's jobs that wait for a worker (claimed ones gathered for the
 * pool included): abandoned, so JetStream redelivers them at once instead
 * of after this host's backlog. For a drain and a removed consumer. Loop.
 * Returns how many.
 */
int settle_give_back_waiting(rt_host *r, rt_consumer *c);

/* A job's publish_async calls are all answered: an ACK verdict with a
 * failed one becomes a RETRY with backoff. Any thread. */
void settle_after_pubs(rt_job *j);
/* The last PubAck of j came on cnats's thread: apply settle_after_pubs and
 * hand j to the loop (done_q) to be committed/settled or, for a request,
 * answered. */
void settle_pubs_done(rt_job *j);

/* The NAK delay for a failed delivery: backoff[deliveries-1], the last value
 * repeating, with +-10% jitter. Pure. */
int64_t settle_backoff_ms(const cfg_consumer *cc, uint64_t deliveries);

#endif /* JW_SETTLE_H */
