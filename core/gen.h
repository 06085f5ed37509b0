/*
 * gen.h -- building and releasing topology generations.
 *
 * gen_create() takes a loaded, validated config (and owns it from then on,
 * also on failure), then creates the plugin instances it declares, reusing every instance of `prev`
 * whose file bytes and config are unchanged. On any error nothing is kept: instances it created are
 * finalised, and every located error is in errs.
 *
 * Threads: gen_create runs plugin init(), so never on the loop (main thread
 * at start, the reload thread later). gen_ref/gen_unref from any thread.
 */
#ifndef JW_GEN_H
#define JW_GEN_H

#include "rt.h"

gen *gen_create(rt *r, jw_config *cfg, const gen *prev, cfg_errors *errs);
void gen_ref(gen *g, long n);
void gen_unref(rt *r, gen *g, long n);
/* The instance serving `handler` (a plugin instance name) in g. */
instance *gen_instance(const gen *g, const char *handler);

#endif /* JW_GEN_H */
