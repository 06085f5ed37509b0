/*
 * reload -- SIGHUP: validate, then swap (the nginx model).
 *
 * A reload runs on its own short-lived thread: read and validate the file,
 * provision what changed on the server (creating, or updating where
 * JetStream allows; a refused change fails the reload), and build the new
 * generation, re-using every plugin instance whose file bytes and config are
 * unchanged and initialising new ones for the rest. The result goes back to
 * the loop, which either logs the errors and keeps the old generation
 * untouched, or swaps: consumers still declared switch to the new settings
 * and handler between two fetches, new ones start, removed ones stop
 * fetching and drain (their durables stay, unless `prune: true`). The old
 * generation is released when its last in-flight message settles; plugin
 * instances it alone used are then finalised and unloaded on a worker.
 *
 * Reloads are serialised: a SIGHUP during one schedules exactly one more.
 * Each outcome is logged with the config digest and what changed, counted
 * in the metrics, and written to "<pid file>.reload" as one JSON line for
 * `jetway reload`.
 *
 * Threads: every function on the loop thread.
 */
#ifndef JW_RELOAD_H
#define JW_RELOAD_H

#include "rt_int.h"

void reload_init(rt_host *r);
void reload_request(rt_host *r);
void reload_on_event(rt_host *r, mpsc_node *ev);
void reload_consumer_gone(rt_host *r, rt_consumer *c);
void reload_close(rt_host *r);

#endif /* JW_RELOAD_H */
