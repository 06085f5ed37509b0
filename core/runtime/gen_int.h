/*
 * gen -- building and releasing topology generations.
 *
 * rt_gen_create() takes a loaded, validated config (and owns it from then on,
 * also on failure), then creates the plugin instances it declares, reusing every instance of `prev`
 * whose file bytes and config are unchanged. On any error nothing is kept: instances it created are
 * finalised, and every located error is in errs.
 *
 * Threads: gen_create runs plugin init(), so never on the loop (main thread
 * at start, the reload thread later). gen_ref/gen_unref from any thread.
 */
#ifndef JW_GEN_H
#define JW_GEN_H

#include "rt_int.h"

rt_gen *rt_gen_create(rt_host *r, jw_config *cfg, const rt_gen *prev, cfg_errors *errs);
void rt_gen_ref(rt_gen *g, long n);
void rt_gen_unref(rt_host *r, rt_gen *g, long n);
/* The instance serving `handler` (a plugin instance name) in g. */
plugin_instance *rt_gen_instance(const rt_gen *g, const char *handler);

#endif /* JW_GEN_H */
