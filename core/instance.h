/*
 * instance.h -- plugin instances: load + validate options + init, shared
 * across generations while unchanged, finalised once unused.
 *
 * Threads: instance_create runs plugin init(), so it is called from a worker
 * or the reload thread, never the loop. instance_unref may be called from
 * any thread; when the last reference goes, fini() and the unload run on
 * the caller's thread if it is not the loop, else on a pool worker.
 */
#ifndef JW_INSTANCE_H
#define JW_INSTANCE_H

#include "rt.h"

/* Load, validate and init plugin `p` of cfg; errors appended to errs. */
instance *instance_create(rt *r, const jw_config *cfg, const cfg_plugin *p, cfg_errors *errs);
/* True when `p` (file bytes and config) is the same as what `inst` runs. */
int instance_matches(const instance *inst, const jw_config *cfg, const cfg_plugin *p);
void instance_ref(instance *inst);
void instance_unref(rt *r, instance *inst);
/* Final teardown at exit, on the main thread, once nothing else runs. */
void instance_destroy(instance *inst);

#endif /* JW_INSTANCE_H */
