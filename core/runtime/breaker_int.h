/*
 * breaker -- whether a consumer may fetch: the operator's pause (`jetway
 * consumer pause|resume`, POST /consumers/NAME/pause) and the circuit
 * breaker (cfg_breaker), and the deliveries the breaker takes off
 * max_deliver.
 *
 * One control block (rt_ctl) per consumer name, created when a consumer of
 * that name first starts and kept until ctl_shutdown(): a pause is the
 * operator's word about a name, so it survives a reload (which keeps the
 * consumer) and even a reload that removes the consumer and adds it back.
 *
 * Paused (either way) means the fetcher pulls nothing: messages in flight
 * finish and settle as usual, nothing is NAKed for the pause, and the
 * backlog stays on the server. A SIGTERM while paused drains as always.
 *
 * The breaker: `consecutive_retries` RETRY verdicts in a row within
 * `window` open it (fetching pauses for `cool_down`); then it is half-open:
 * one message is pulled as a probe; a RETRY opens it again, any other
 * verdict (the downstream answered) closes it. A RETRY while open or
 * half-open, and the streak of RETRYs that opened it, are outage
 * deliveries: they are NAKed as usual but not counted toward max_deliver
 * (breaker_discount() subtracts them from the delivery count the host
 * judges by), so a message that met the outage is retried after it instead
 * of being dead-lettered by it. The discount is kept in memory, per stream
 * sequence, for up to CTL_DISCOUNT_MAX messages: a restart forgets it (the
 * messages then count their deliveries as usual).
 *
 * Threads: ctl_attach/ctl_configure/ctl_detach on the loop thread;
 * ctl_operator and ctl_state from any thread (socket, HTTP); ctl_holds and
 * ctl_cap on the consumer's fetcher; breaker_* on workers (and the fetcher
 * for breaker_discount). Each block has its own mutex; the registry has one.
 */
#ifndef JW_BREAKER_H
#define JW_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"

#define CTL_DISCOUNT_MAX 4096

typedef struct rt_ctl rt_ctl;

/* Loop: the block of consumer `name` (created on first use), marked active
 * and tied to its stats block for the gauges. NULL when out of memory (the
 * consumer then runs without pause or breaker). */
rt_ctl *ctl_attach(const char *name, stats_consumer *st);
/* Loop: the breaker settings of the current generation (copied). */
void ctl_configure(rt_ctl *k, const cfg_breaker *b);
/* Loop (or main in teardown): the consumer is gone; its pause is kept. */
void ctl_detach(rt_ctl *k);

/*
 * Any thread: pause (1) or resume (0) consumer `name`. Returns 0 with what
 * was done in msg, or -1 with why not (no such consumer) in msg.
 */
int ctl_operator(const char *name, int pause, char *msg, size_t msglen);

/* Fetcher: 1 while nothing may be pulled. k may be NULL (never holds). */
int ctl_holds(rt_ctl *k);
/* Fetcher: how many of n to pull; half-open takes its one probe here. */
int ctl_cap(rt_ctl *k, int n);

/* Worker: the handler said RETRY for stream sequence seq. Returns 1 when
 * this delivery met an outage: NAK it, never dead-letter it for max_deliver. */
int breaker_retry(rt_ctl *k, uint64_t seq);
/* Worker: any other verdict (the downstream answered) for seq. */
void breaker_answered(rt_ctl *k, uint64_t seq);
/* Deliveries of seq spent on an outage (0 for most messages, cheaply). */
uint64_t breaker_discount(rt_ctl *k, uint64_t seq);

/* Free every block (teardown, after every consumer is freed). */
void ctl_shutdown(void);

#endif /* JW_BREAKER_H */
