/*
 * pubasync -- jw_host.publish_async: JetStream publishes whose PubAcks the
 * host collects while the worker goes on, and the settlement of a job once
 * the last of them is in.
 *
 * cnats 3.4.1's js_PublishMsgAsync (on r->js_async, whose AckHandler is
 * pubasync_on_ack) calls the handler exactly once per accepted message:
 * with the PubAck, with the server's error (no stream, 503 no responders),
 * or with NATS_TIMEOUT when no answer came within jsPubOptions.MaxWait
 * (cnats's own timer injects the timeout: the per-message deadline the
 * ABI's "publish timeout" needs; nothing is left in cnats's pending map).
 * The handler gets the natsMsg pointer we gave it and nothing else, so the
 * host maps that pointer to its job in a table of outstanding publishes.
 *
 * A job's `holds` count (rt_int.h) decides who settles it: the worker when
 * no publish is outstanding as its handler returns, else the PubAck thread
 * of the last one, which hands the job to the loop through done_q (one
 * wake-up for whatever the loop has not drained yet, never per message).
 * Any failure sets pub_failed: an ACK verdict becomes a RETRY with backoff
 * (settle_after_pubs), a request's held reply becomes a 503.
 *
 * Threads: pubasync_publish on workers (inside a handler); pubasync_on_ack
 * on cnats's PubAck delivery thread; init/close on the main thread.
 */
#ifndef JW_PUBASYNC_H
#define JW_PUBASYNC_H

#include "rt_int.h"

/* Outstanding publishes beyond this make js_PublishMsgAsync wait (up to
 * the publish timeout) for PubAcks: the backstop against a plugin that
 * publishes without bound; credits (max_ack_pending) bound it normally. */
#define PUBASYNC_MAX_PENDING 65536

/* Create r->js_async on r->nc. 0 or -1 (logged). */
int pubasync_init(rt_host *r, int64_t timeout_ms);
void pubasync_close(rt_host *r);

/*
 * Publish *nm (headers set) for job j with a PubAck deadline of timeout_ms.
 * On success the message belongs to cnats (*nm = NULL) and j holds one
 * more; on failure *nm is still the caller's and j is unchanged. Worker.
 */
natsStatus pubasync_publish(rt_host *r, rt_job *j, natsMsg **nm, int64_t timeout_ms);

/* Drop one hold of j; returns 1 when it was the last (the caller then
 * settles j). Any thread. */
int pubasync_release(rt_job *j);

#endif /* JW_PUBASYNC_H */
