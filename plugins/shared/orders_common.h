/*
 * orders_common.h -- helpers shared by the order-processing plugins (order,
 * payment, inventory): the event envelope check, amounts and a
 * deterministic coin; the generic ones (verdicts, ids, timestamps,
 * publishing a cJSON document) come from <jetway/plugin_util.h>, which is
 * installed for plugins built out of tree.
 *
 * Header-only (static inline) on purpose: every plugin is one self-contained
 * .so built from its own directory, and plugins/shared/ is excluded from the
 * plugin list in the Makefile, so nothing here is a symbol of its own.
 * Everything is pure or thread-safe (getrandom, clock_gettime, gmtime_r).
 */
#ifndef ORDERS_COMMON_H
#define ORDERS_COMMON_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jetway/plugin_util.h>

/* The generic helpers are the installed <jetway/plugin_util.h>'s. */
#define oc_rand_hex      jwu_rand_hex
#define oc_now_rfc3339   jwu_now_rfc3339
#define oc_id_ok         jwu_id_ok
#define oc_verdict       jwu_verdict
#define oc_req_string    jwu_req_string
#define oc_publish       jwu_publish_json
#define oc_async_publish jwu_async_publish
#define oc_kv_run        jwu_kv_run
#define oc_reply_str     jwu_reply_str

#define OC_ID_MAX  64  /* order ids and SKUs: they become parts of Redis keys */
#define OC_MID_MAX 200 /* message ids */

/* ISO 4217 shape: three uppercase ASCII letters. */
static inline int
oc_currency_ok(const char *s)
{
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    }
    return s[3] == '\0';
}

/* An amount: a finite number > 0. */
static inline int
oc_amount_ok(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0;
}

/* Shortest decimal text that reads back as the same double (like cJSON). */
static inline void
oc_fmt_amount(double v, char out[32])
{
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 32, "%.17g", v);
}

/*
 * Parse an event's payload and check the envelope every event carries:
 * message_id (string), order_id (an id), ts (RFC 3339 string or UNIX ms
 * number). Returns the root object (caller deletes) or NULL with err set.
 */
static inline cJSON *
oc_parse_event(const jw_msg *msg, const char **order_id, char *err, size_t errlen)
{
    cJSON *root = jwu_parse_object(msg, err, errlen);
    const char *mid, *oid;
    const cJSON *ts;

    if (root == NULL)
        return NULL;
    if ((mid = oc_req_string(root, "message_id", err, errlen)) == NULL ||
        (oid = oc_req_string(root, "order_id", err, errlen)) == NULL)
        goto bad;
    if (strlen(mid) > OC_MID_MAX) {
        snprintf(err, errlen, "message_id: longer than %d bytes", OC_MID_MAX);
        goto bad;
    }
    if (!oc_id_ok(oid, OC_ID_MAX)) {
        snprintf(err, errlen, "order_id: must match [A-Za-z0-9._:-]{1,%d}", OC_ID_MAX);
        goto bad;
    }
    ts = cJSON_GetObjectItemCaseSensitive(root, "ts");
    if (ts == NULL) {
        snprintf(err, errlen, "ts: missing");
        goto bad;
    }
    if (!(cJSON_IsString(ts) && ts->valuestring[0] != '\0') &&
        !(cJSON_IsNumber(ts) && ts->valuedouble >= 0)) {
        snprintf(err, errlen, "ts: must be an RFC 3339 string or UNIX milliseconds");
        goto bad;
    }
    *order_id = oid;
    return root;
bad:
    cJSON_Delete(root);
    return NULL;
}

/* FNV-1a 64 of s, seed and salt, mapped to [0, 1): a deterministic coin. */
static inline double
oc_hash01(const char *s, int64_t seed, const char *salt)
{
    uint64_t h = 1469598103934665603ull;
    char buf[24];
    const char *parts[5];

    snprintf(buf, sizeof(buf), "%lld", (long long)seed);
    parts[0] = s;
    parts[1] = "|";
    parts[2] = buf;
    parts[3] = "|";
    parts[4] = salt;
    for (size_t i = 0; i < 5; i++) {
        for (const unsigned char *c = (const unsigned char *)parts[i]; *c; c++) {
            h ^= *c;
            h *= 1099511628211ull;
        }
    }
    /* final avalanche, so nearby ids do not give nearby coins */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (double)(h >> 11) / 9007199254740992.0;
}

#endif /* ORDERS_COMMON_H */
