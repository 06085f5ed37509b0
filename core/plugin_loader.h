/*
 * plugin_loader.h -- load handler plugins safely and check their ABI.
 *
 * Loading (plugin_module_load), in this order, each failure with its own
 * message naming the file and the reason:
 *   1. the file name has no '/' and resolves (realpath) inside plugin_dir;
 *   2. open(O_RDONLY|O_NOFOLLOW|O_CLOEXEC), fstat: a regular file, not
 *      group- or world-writable, owned by root or by our euid; the plugin
 *      directory and its parents likewise not group/world-writable (sticky
 *      /tmp-style parents are accepted only above plugin_dir);
 *   3. the bytes are copied into a memfd, which is dlopen()ed through
 *      /proc/self/fd/N with RTLD_NOW|RTLD_LOCAL: every load is a distinct
 *      object, so a rebuilt .so at the same path is really picked up on
 *      reload, and what was checked is exactly what is loaded (no TOCTOU);
 *   4. dlsym("jw_plugin_query"), call it with the host's ABI, check magic,
 *      major (equal; the message names both versions), minor (<= host),
 *      struct_size, build signature, name syntax, init/handle/fini present,
 *      reserved[] all NULL.
 * The module records a SHA-256 of the file's bytes (the reload compares it).
 *
 * Options (plugin_options_to_json): validate an instance's `config:` block
 * against the descriptor's jw_option[] (unknown keys, missing required keys,
 * wrong types, bad durations/sizes: each error located file:line:column with
 * its key path) and produce the JSON object handed to init(), defaults
 * applied, durations in ms and sizes in bytes.
 *
 * Threads: everything here is blocking file/dl work; call it from the main
 * thread at start or from the reload's worker. A plugin_module is immutable
 * after load; it is freed (dlclose, unless JW_NO_DLCLOSE is set, as the
 * sanitizer builds do) by plugin_module_unload once no instance uses it.
 */
#ifndef JW_PLUGIN_LOADER_H
#define JW_PLUGIN_LOADER_H

#include <stddef.h>

#include "cfgnode.h"
#include "config.h"
#include "jetway/plugin.h"

typedef struct plugin_module {
    char *path;            /* realpath of the file */
    char *file;            /* name inside plugin_dir */
    char sha256[65];       /* hex digest of the file's bytes */
    void *dl;              /* dlopen handle */
    const jw_plugin *desc; /* checked descriptor */
} plugin_module;

/* Load and check `file` from `plugin_dir`. 0, or -1 with err set. */
int plugin_module_load(const char *plugin_dir, const char *file, plugin_module **out, char *err,
                       size_t errlen);
void plugin_module_unload(plugin_module *m);

/* Digest of plugin_dir/file without loading it (reload: changed or not). */
int plugin_file_digest(const char *plugin_dir, const char *file, char hex[65], char *err,
                       size_t errlen);

/*
 * Validate `config` (a mapping node or NULL) against desc->options. On
 * success returns 0 and a malloc'ed JSON string in *json. On failure returns
 * -1 and appends every error to errs, located in `cfg_path`, with key paths
 * under `key_prefix` (e.g. "plugins[2].config").
 */
int plugin_options_to_json(const jw_plugin *desc, const cfgnode *config, const char *cfg_path,
                           const char *key_prefix, char **json, cfg_errors *errs);

/* Append a formatted error (shared helper also used by config.c). */
void cfg_errors_add(cfg_errors *errs, const char *fmt, ...) JW_PRINTF(2, 3);

#endif /* JW_PLUGIN_LOADER_H */
