/*
 * plugin_options.h -- internal to the plugin loader: the checks of a
 * plugin's declared option schema that plugin_loader.c runs at load time
 * (plugin_options_to_json itself is declared in plugin_loader.h).
 *
 * Threads: pure functions, any thread.
 */
#ifndef JW_PLUGIN_OPTIONS_H
#define JW_PLUGIN_OPTIONS_H

#include <stddef.h>

#include "jetway/plugin.h"

/* Options beyond this many mean an unterminated array. */
#define PLUGIN_OPTIONS_MAX 256

/*
 * Check a descriptor's jw_option[] (may be NULL): terminated within
 * PLUGIN_OPTIONS_MAX entries, keys [a-z0-9_]+ and unique, known types,
 * defaults valid for their type. 0, or -1 with the reason in msg.
 */
int plugin_options_check_schema(const jw_option *opts, char *msg, size_t msglen);

#endif /* JW_PLUGIN_OPTIONS_H */
