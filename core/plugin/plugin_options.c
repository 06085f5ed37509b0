/*
 * plugin_options.c -- a plugin instance's `config:` block checked against
 * the plugin's declared jw_option[] and turned into the JSON handed to
 * init() (see plugin_loader.h); also the load-time check of the schema.
 *
 * Typed options (int, float, bool, duration, size) are parsed from the
 * scalar's text whether or not it was quoted: the plugin declared the type,
 * so `"5"` for an int is 5. Untyped data (list and map options) is passed
 * through the YAML core schema: unquoted scalars that read as null, bool,
 * integer or float become those JSON values, quoted scalars stay strings.
 * Integers are emitted as raw JSON text, so int64 values survive exactly
 * (cJSON numbers are doubles).
 */
#include "plugin.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int
is_null(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static int
parse_bool(const char *s, int *b)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *b = 1;
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *b = 0;
        return 0;
    }
    return -1;
}

/* [-+]?[0-9]+ within int64. */
static int
parse_int(const char *s, int64_t *v)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return -1;
    }
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

/* [-+]?(digits[.digits]|.digits)([eE][-+]?digits)?, finite. No hex, inf
 * or nan, which strtod alone would take. */
static int
parse_float(const char *s, double *v)
{
    const char *p = s;
    int digits = 0;
    if (*p == '-' || *p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    }
    if (!digits)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return -1;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

static cJSON *
json_int(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

static const char *
node_kind(const cfgnode *n)
{
    switch (n->type) {
    case CFGNODE_SEQ:
        return "a sequence";
    case CFGNODE_MAP:
        return "a mapping";
    default:
        return n->quoted ? "a quoted string" : "a scalar";
    }
}

/* Untyped YAML -> JSON (list and map options). NULL only when out of memory. */
static cJSON *
passthrough(const cfgnode *n)
{
    if (n->type == CFGNODE_SCALAR) {
        const char *s = n->scalar ? n->scalar : "";
        if (n->quoted)
            return cJSON_CreateString(s);
        int b;
        int64_t i;
        double d;
        if (is_null(s))
            return cJSON_CreateNull();
        if (parse_bool(s, &b) == 0)
            return cJSON_CreateBool(b);
        if (parse_int(s, &i) == 0)
            return json_int(i);
        if (parse_float(s, &d) == 0)
            return cJSON_CreateNumber(d);
        return cJSON_CreateString(s);
    }
    cJSON *out = n->type == CFGNODE_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!out)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        cJSON *item = passthrough(n->items[i]);
        if (!item) {
            cJSON_Delete(out);
            return NULL;
        }
        if (n->type == CFGNODE_SEQ)
            cJSON_AddItemToArray(out, item);
        else
            cJSON_AddItemToObject(out, n->keys[i], item);
    }
    return out;
}

static const char *
type_name(jw_opt_type t)
{
    switch (t) {
    case JW_OPT_STRING:
        return "string";
    case JW_OPT_INT:
        return "integer";
    case JW_OPT_FLOAT:
        return "number";
    case JW_OPT_BOOL:
        return "boolean";
    case JW_OPT_DURATION:
        return "duration";
    case JW_OPT_SIZE:
        return "size";
    case JW_OPT_LIST:
        return "list";
    case JW_OPT_MAP:
        return "mapping";
    }
    return "unknown type";
}

/*
 * One value of a declared type -> JSON. NULL with `why` set on a type error
 * (or "out of memory").
 */
static cJSON *
convert(jw_opt_type type, const cfgnode *n, char *why, size_t whylen)
{
    cJSON *j = NULL;
    if (type == JW_OPT_LIST || type == JW_OPT_MAP) {
        cfgnode_type want = type == JW_OPT_LIST ? CFGNODE_SEQ : CFGNODE_MAP;
        if (n->type != want) {
            snprintf(why, whylen, "expected a %s, got %s", type == JW_OPT_LIST ? "list" : "mapping",
                     node_kind(n));
            return NULL;
        }
        j = passthrough(n);
        goto done;
    }
    if (n->type != CFGNODE_SCALAR) {
        snprintf(why, whylen, "expected a %s, got %s", type_name(type), node_kind(n));
        return NULL;
    }
    const char *s = n->scalar ? n->scalar : "";
    int b;
    int64_t i;
    double d;
    switch (type) {
    case JW_OPT_STRING:
        j = cJSON_CreateString(s);
        break;
    case JW_OPT_INT:
        if (parse_int(s, &i) != 0) {
            snprintf(why, whylen, "expected an integer, got \"%.100s\"", s);
            return NULL;
        }
        j = json_int(i);
        break;
    case JW_OPT_FLOAT:
        if (parse_float(s, &d) != 0) {
            snprintf(why, whylen, "expected a number, got \"%.100s\"", s);
            return NULL;
        }
        j = cJSON_CreateNumber(d);
        break;
    case JW_OPT_BOOL:
        if (parse_bool(s, &b) != 0) {
            snprintf(why, whylen, "expected true or false, got \"%.100s\"", s);
            return NULL;
        }
        j = cJSON_CreateBool(b);
        break;
    case JW_OPT_DURATION:
        if (cfg_parse_duration(s, &i) != 0) {
            snprintf(why, whylen, "invalid duration \"%.100s\" (e.g. 250ms, 30s, 1h30m)", s);
            return NULL;
        }
        j = json_int(i);
        break;
    case JW_OPT_SIZE:
        if (cfg_parse_size(s, &i) != 0) {
            snprintf(why, whylen, "invalid size \"%.100s\" (e.g. 4096, 512KiB, 10MB)", s);
            return NULL;
        }
        j = json_int(i);
        break;
    default:
        snprintf(why, whylen, "option has unknown type %d", (int)type);
        return NULL;
    }
done:
    if (!j)
        snprintf(why, whylen, "out of memory");
    return j;
}

/* A default: YAML scalar syntax, except list and map defaults, written as
 * JSON ("[]", "{\"a\": 1}"), which is YAML flow syntax too. */
static cJSON *
convert_default(const jw_option *o, char *why, size_t whylen)
{
    if (o->type == JW_OPT_LIST || o->type == JW_OPT_MAP) {
        cJSON *j = cJSON_Parse(o->def);
        int ok = j && (o->type == JW_OPT_LIST ? cJSON_IsArray(j) : cJSON_IsObject(j));
        if (!ok) {
            cJSON_Delete(j);
            snprintf(why, whylen, "default '%.100s' is not a JSON %s", o->def,
                     o->type == JW_OPT_LIST ? "array" : "object");
            return NULL;
        }
        return j;
    }
    cfgnode n = {.type = CFGNODE_SCALAR, .scalar = (char *)o->def};
    return convert(o->type, &n, why, whylen);
}

static int
valid_key(const char *k)
{
    if (!k || !*k)
        return 0;
    for (; *k; k++) {
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_' || *k == '-'))
            return 0;
    }
    return 1;
}

int
plugin_options_check_schema(const jw_option *opts, char *msg, size_t msglen)
{
    if (!opts)
        return 0;
    for (size_t i = 0; i < PLUGIN_OPTIONS_MAX; i++) {
        const jw_option *o = &opts[i];
        if (!o->key)
            return 0;
        if (!valid_key(o->key)) {
            snprintf(msg, msglen, "option %zu has an invalid key '%.80s'", i, o->key);
            return -1;
        }
        if (o->type < JW_OPT_STRING || o->type > JW_OPT_MAP) {
            snprintf(msg, msglen, "option '%s' has unknown type %d", o->key, (int)o->type);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(opts[k].key, o->key) == 0) {
                snprintf(msg, msglen, "option '%s' is declared twice", o->key);
                return -1;
            }
        }
        if (o->def) {
            char why[256];
            cJSON *j = convert_default(o, why, sizeof(why));
            if (!j) {
                snprintf(msg, msglen, "option '%s': %s", o->key, why);
                return -1;
            }
            cJSON_Delete(j);
        }
    }
    snprintf(msg, msglen, "option list has no terminator within %d entries", PLUGIN_OPTIONS_MAX);
    return -1;
}

/* Where errors go: "file:line:col: prefix.key: message". */
typedef struct where {
    const char *cfg_path;
    const char *prefix;
    cfg_errors *errs;
    int nerr;
} where;

static void JW_PRINTF(5, 6)
    report(where *w, int line, int col, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file = w->cfg_path ? w->cfg_path : "<config>";
    const char *pre = w->prefix ? w->prefix : "";
    const char *dot = *pre && key ? "." : "";
    if (!key)
        key = "";
    if (line > 0)
        cfg_errors_add(w->errs, "%s:%d:%d: %s%s%s: %s", file, line, col, pre, dot, key, msg);
    else
        cfg_errors_add(w->errs, "%s: %s%s%s: %s", file, pre, dot, key, msg);
    w->nerr++;
}

static const jw_option *
find_option(const jw_option *opts, const char *key)
{
    for (size_t i = 0; opts && i < PLUGIN_OPTIONS_MAX && opts[i].key; i++) {
        if (strcmp(opts[i].key, key) == 0)
            return &opts[i];
    }
    return NULL;
}

/* "a, b, c" of the declared keys, for the unknown-key message. */
static void
known_keys(const jw_plugin *desc, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; desc->options && i < PLUGIN_OPTIONS_MAX && desc->options[i].key; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", desc->options[i].key);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

/* Keys of the block that the plugin does not declare, and duplicates. */
static void
check_keys(const jw_plugin *desc, const cfgnode *config, where *w)
{
    for (size_t i = 0; i < config->n; i++) {
        const char *key = config->keys[i];
        int line = config->key_lines ? config->key_lines[i] : config->line;
        int col = config->key_columns ? config->key_columns[i] : config->column;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(config->keys[k], key) == 0) {
                report(w, line, col, key, "duplicate key");
                break;
            }
        }
        if (find_option(desc->options, key))
            continue;
        char known[512];
        known_keys(desc, known, sizeof(known));
        if (*known)
            report(w, line, col, key, "unknown option of plugin '%s'; known options: %s",
                   desc->name, known);
        else
            report(w, line, col, key, "unknown option: plugin '%s' takes no options", desc->name);
    }
}

int
plugin_options_to_json(const jw_plugin *desc, const cfgnode *config, const char *cfg_path,
                       const char *key_prefix, char **json, cfg_errors *errs)
{
    *json = NULL;
    where w = {.cfg_path = cfg_path, .prefix = key_prefix, .errs = errs};
    /* `config:` with nothing after it is an empty plain scalar. */
    if (config && config->type == CFGNODE_SCALAR && !config->quoted &&
        is_null(config->scalar ? config->scalar : ""))
        config = NULL;
    if (config && config->type != CFGNODE_MAP) {
        report(&w, config->line, config->column, NULL, "must be a mapping, got %s",
               node_kind(config));
        return -1;
    }
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        report(&w, 0, 0, NULL, "out of memory");
        return -1;
    }
    if (config)
        check_keys(desc, config, &w);

    for (size_t i = 0; desc->options && i < PLUGIN_OPTIONS_MAX && desc->options[i].key; i++) {
        const jw_option *o = &desc->options[i];
        const cfgnode *v = config ? cfgnode_get(config, o->key) : NULL;
        char why[512];
        cJSON *j = NULL;
        if (v) {
            j = convert(o->type, v, why, sizeof(why));
            if (!j)
                report(&w, v->line, v->column, o->key, "%s", why);
        } else if (o->required) {
            report(&w, config ? config->line : 0, config ? config->column : 0, o->key,
                   "required option is missing (%s%s%s)", type_name(o->type), o->help ? ": " : "",
                   o->help ? o->help : "");
        } else if (o->def) {
            j = convert_default(o, why, sizeof(why));
            if (!j)
                report(&w, 0, 0, o->key, "plugin '%s' declares a bad default: %s", desc->name, why);
        }
        if (j)
            cJSON_AddItemToObject(obj, o->key, j);
    }

    if (w.nerr == 0) {
        char *text = cJSON_PrintUnformatted(obj);
        /* The caller frees with free(); cJSON's allocator may be hooked. */
        if (text)
            *json = strdup(text);
        cJSON_free(text);
        if (!*json)
            report(&w, 0, 0, NULL, "out of memory");
    }
    cJSON_Delete(obj);
    return w.nerr ? -1 : 0;
}
