/*
 * consumer -- serving one durable pull consumer: its fetcher thread, its
 * in-flight credits and the life cycle of its jobs.
 *
 * The fetcher binds to the durable (created beforehand by provisioning; the
 * bind never creates or deletes it), then loops: wait for credits, keep a
 * pull request outstanding within them (pull_int.h), take what arrived,
 * turn each message into a job and hand the batch on, to the loop for
 * claiming (dedup) or straight to the worker pool. Credits
 * (max_inflight - inflight) bound everything a consumer holds, so when
 * handlers are slow fetching stops and JetStream keeps the rest.
 *
 * Threads: consumer_start/consumer_update/consumer_stop/consumer_free on the
 * loop thread (consumer_stop/consumer_free also on the main thread in
 * teardown, once the loop has returned); job_finish from any thread.
 */
#ifndef JW_CONSUMER_H
#define JW_CONSUMER_H

#include "rt_int.h"

rt_consumer *consumer_start(rt_host *r, rt_gen *g, const cfg_consumer *cc);
/* Switch to a new generation's settings and handler (reload). */
void consumer_update(rt_consumer *c, rt_gen *g, const cfg_consumer *cc);
/* Ask the fetcher to stop; the consumer drains as its jobs finish. */
void consumer_stop(rt_consumer *c);
/* True once the fetcher has exited and nothing is in flight. */
int consumer_drained(rt_consumer *c);
/* Join the fetcher (which closed its inbox); never deletes the durable. */
void consumer_free(rt_consumer *c);

/* Return a job's credit and resources; `j->msg` must be settled already. */
void rt_job_finish(rt_job *j);
/*
 * Parse a bound job's message once: JetStream metadata, message id, trace
 * context, claim key and token, and the reason to dead-letter it unhandled
 * (no id with dedup on; past max_deliver without dedup). The fetcher does
 * it for claims; the worker for everything else. Idempotent.
 */
void rt_job_parse(rt_job *j);
/* Build the key of a job's claim. */
void rt_job_dedup_key(rt_job *j);

#endif /* JW_CONSUMER_H */
