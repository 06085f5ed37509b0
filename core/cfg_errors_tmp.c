/*
 * cfg_errors_tmp.c -- TEMPORARY stand-ins for helpers that config.c owns
 * (cfg_errors_add, cfg_errors_free, cfg_parse_duration, cfg_parse_size), so
 * the plugin loader and its unit tests build before config.c is merged.
 * DELETE THIS FILE when config.c lands. The definitions are weak, so if both
 * are linked by mistake the real ones win instead of a duplicate-symbol error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plugin_loader.h"

#define WEAK __attribute__((weak))

WEAK void
cfg_errors_add(cfg_errors *errs, const char *fmt, ...)
{
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        cfg_error *v = realloc(errs->v, cap * sizeof(*v));
        if (!v)
            return;
        errs->v = v;
        errs->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int rc = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    errs->v[errs->n++].text = text;
}

WEAK void
cfg_errors_free(cfg_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i].text);
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}

/* Parse "<digits><unit>" groups; `units` maps a suffix to a multiplier. */
struct unit {
    const char *sfx;
    int64_t mul;
};

static int
parse_units(const char *s, const struct unit *units, int many, int64_t *out)
{
    if (!s || !*s)
        return -1;
    int64_t total = 0;
    int groups = 0;
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return -1;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v > INT64_MAX)
            return -1;
        s = end;
        size_t len = 0;
        while (isalpha((unsigned char)s[len]))
            len++;
        int64_t mul = -1;
        for (const struct unit *u = units; u->sfx; u++) {
            if (strlen(u->sfx) == len && strncmp(s, u->sfx, len) == 0) {
                mul = u->mul;
                break;
            }
        }
        if (mul < 0)
            return -1;
        if ((int64_t)v > (INT64_MAX - total) / mul)
            return -1;
        total += (int64_t)v * mul;
        s += len;
        groups++;
        if (groups > 1 && !many)
            return -1;
        if (len == 0 && *s)
            return -1;
    }
    *out = total;
    return 0;
}

WEAK int
cfg_parse_duration(const char *s, int64_t *ms)
{
    static const struct unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
    };
    return parse_units(s, units, 1, ms);
}

WEAK int
cfg_parse_size(const char *s, int64_t *bytes)
{
    static const struct unit units[] = {
        {"", 1},
        {"B", 1},
        {"KB", 1000},
        {"MB", 1000000},
        {"GB", 1000000000},
        {"KiB", 1024},
        {"MiB", 1024 * 1024},
        {"GiB", 1024 * 1024 * 1024},
        {NULL, 0},
    };
    return parse_units(s, units, 0, bytes);
}
