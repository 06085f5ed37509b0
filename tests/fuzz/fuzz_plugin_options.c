/*
 * fuzz_plugin_options.c -- a plugin instance's `config:` block validated
 * against the plugin's declared options (core/plugin/plugin_options.c):
 * the input is YAML (parsed and ${VAR}-resolved by the config loader's own
 * passes), its root the block. The descriptor declares one option of every
 * type, required and defaulted ones. A block that validates must give a
 * JSON object holding every declared key; one that does not must say why.
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "config/config_int.h"
#include "plugin/plugin.h"

static const jw_option options[] = {
    {"name", JW_OPT_STRING, NULL, 1, "required string"},
    {"label", JW_OPT_STRING, "x", 0, "string"},
    {"count", JW_OPT_INT, "3", 0, "integer"},
    {"ratio", JW_OPT_FLOAT, "0.5", 0, "number"},
    {"enabled", JW_OPT_BOOL, "true", 0, "bool"},
    {"timeout", JW_OPT_DURATION, "250ms", 0, "duration"},
    {"limit", JW_OPT_SIZE, "4MiB", 0, "size"},
    {"skus", JW_OPT_LIST, NULL, 0, "list"},
    {"stock", JW_OPT_MAP, NULL, 0, "map"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin desc = {
    .struct_size = sizeof(jw_plugin),
    .abi_major = JW_ABI_MAJOR,
    .abi_minor = JW_ABI_MINOR,
    .name = "fuzz",
    .version = "1",
    .options = options,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("JW_FUZZ_A", "alpha", 1);
    char msg[256];
    if (plugin_options_check_schema(options, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "fuzz_plugin_options: bad schema: %s\n", msg);
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    cfg_errors errs = {0};
    cfg_ctx c;
    memset(&c, 0, sizeof(c));
    c.file = "fuzz.yaml";
    c.errs = &errs;
    snprintf(c.dir, sizeof(c.dir), "/");
    char *text = fuzz_str(data, size);
    cfgnode *root = config_yaml_parse(&c, text, size);
    free(text);
    if (root != NULL) {
        config_yaml_resolve(&c, root);
        size_t before = errs.n;
        char *json = NULL;
        int rc =
            plugin_options_to_json(&desc, root, "fuzz.yaml", "plugins[0].config", &json, &errs);
        if (rc == 0) {
            cJSON *doc = json ? cJSON_Parse(json) : NULL;
            if (!cJSON_IsObject(doc)) {
                fprintf(stderr, "options: not a JSON object: %s\n", json ? json : "(null)");
                abort();
            }
            for (size_t i = 0; options[i].key; i++) {
                if (options[i].def && !cJSON_HasObjectItem(doc, options[i].key)) {
                    fprintf(stderr, "options: %s missing from %s\n", options[i].key, json);
                    abort();
                }
            }
            cJSON_Delete(doc);
        } else if (errs.n == before || json != NULL) {
            abort();
        }
        free(json);
        cfgnode_free(root);
    }
    free(c.poison);
    cfg_errors_free(&errs);
    return 0;
}
