/*
 * plugin/plugin.h -- the interface of core/plugin/: handler plugins: loading a .so, validating its
 * options, initialised instances.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_PLUGIN_H
#define JW_CORE_PLUGIN_H

#include <stdatomic.h>
#include <stddef.h>

#include "base/base.h"
#include "config/config.h"
#include "jetway/plugin.h"

/*
 * plugin_loader -- load handler plugins safely and check their ABI.
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
 *      struct_size (at least what the plugin's own minor declares: a 1.0
 *      descriptor ends after reserved[], a 1.1 one after handle_batch),
 *      build signature, name syntax, init/handle/fini present, reserved[]
 *      all NULL. Members newer than 1.0 are read only through the module
 *      (plugin_module.handle_batch), never through desc, whose struct may
 *      be shorter than the host's jw_plugin.
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

typedef struct plugin_module {
    char *path;            /* realpath of the file */
    char *file;            /* name inside plugin_dir */
    char sha256[65];       /* hex digest of the file's bytes */
    void *dl;              /* dlopen handle */
    const jw_plugin *desc; /* checked descriptor; members up to reserved[] only */
    /* ABI 1.1's handle_batch when the descriptor is long enough to have it
     * and sets it, else NULL (then handle() per message). */
    void (*handle_batch)(void *ctx, const jw_msg *const *msgs, jw_result *results, size_t n);
} plugin_module;

/* sizeof(jw_plugin) of ABI 1.0: the stamp through reserved[]. */
#define PLUGIN_DESC_SIZE_1_0 (offsetof(jw_plugin, reserved) + sizeof(((jw_plugin *)0)->reserved))
/* The least struct_size a descriptor of ABI 1.<abi_minor> may have. */
size_t plugin_desc_min_size(unsigned abi_minor);

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

/*
 * plugin_options -- internal to the plugin loader: the checks of a
 * plugin's declared option schema that plugin_loader.c runs at load time
 * (plugin_options_to_json itself is declared in plugin_loader.h).
 *
 * Threads: pure functions, any thread.
 */

/* Options beyond this many mean an unterminated array. */
#define PLUGIN_OPTIONS_MAX 256

/*
 * Check a descriptor's jw_option[] (may be NULL): terminated within
 * PLUGIN_OPTIONS_MAX entries, keys [a-z0-9_]+ and unique, known types,
 * defaults valid for their type. 0, or -1 with the reason in msg.
 */
int plugin_options_check_schema(const jw_option *opts, char *msg, size_t msglen);

/*
 * instance -- plugin instances: load + validate options + init, shared
 * across generations while unchanged, finalised once unused.
 *
 * Threads: instance_create runs plugin init(), so it is called from a worker
 * or the reload thread, never the loop. instance_ref/instance_unref from any
 * thread. instance_unref returns 1 when it dropped the last reference: the
 * caller then owns the instance and must run instance_destroy (plugin fini)
 * on a thread that may run plugin code, never the loop (the runtime hands it
 * to a worker).
 */

/*
 * One initialised plugin instance (the plugin's jw_instance). Shared by every
 * generation whose config declares it with the same file bytes and the same
 * config; refs counts those generations. fini() and unload happen on a
 * worker once refs reaches zero. Immutable after init except refs.
 */
struct jw_instance {
    char *name; /* instance name from plugins.instances[].name */
    char *file;
    plugin_module *mod;
    char *config_json; /* what init() got; compared on reload */
    void *ctx;         /* the plugin's */
    atomic_int refs;
    stats_plugin *st;
};
typedef struct jw_instance plugin_instance;

/* Load, validate and init plugin `p` of cfg; errors appended to errs. */
plugin_instance *plugin_instance_create(const jw_host *host, const jw_config *cfg,
                                        const cfg_plugin *p, cfg_errors *errs);
/* True when `p` (file bytes and config) is the same as what `inst` runs. */
int plugin_instance_matches(const plugin_instance *inst, const jw_config *cfg, const cfg_plugin *p);
void plugin_instance_ref(plugin_instance *inst);
int plugin_instance_unref(plugin_instance *inst);
/* fini() and unload; on a thread that may run plugin code. */
void plugin_instance_destroy(plugin_instance *inst);

#endif /* JW_CORE_PLUGIN_H */
