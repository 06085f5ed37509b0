/*
 * orders_common.h -- helpers shared by the order-processing plugins (order,
 * payment, inventory): ids, timestamps, event envelope checks, amounts and
 * publishing a cJSON document through the host.
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

#include "jetway/plugin.h"

#define OC_ID_MAX  64  /* order ids and SKUs: they become parts of Redis keys */
#define OC_MID_MAX 200 /* message ids */

/* Fill out with 2*nbytes hex digits and a NUL; 0 or -1 (no entropy). */
static inline int
oc_rand_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    static const char hex[] = "0123456789abcdef";

    if (nbytes > sizeof(raw) || getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

/* The current time as RFC 3339 UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z. */
static inline void
oc_now_rfc3339(char out[64])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* An id that may be embedded in Redis keys and message ids: [A-Za-z0-9._:-]{1,max}. */
static inline int
oc_id_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return n > 0;
}

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

/* Set a RETRY/REJECT verdict with a formatted reason. */
static inline void oc_verdict(jw_result *res, jw_verdict v, const char *fmt, ...) JW_PRINTF(3, 4);
static inline void
oc_verdict(jw_result *res, jw_verdict v, const char *fmt, ...)
{
    va_list ap;

    res->verdict = v;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* A required non-empty string member; NULL with err set when absent or wrong. */
static inline const char *
oc_req_string(const cJSON *obj, const char *key, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing", key);
        return NULL;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        snprintf(err, errlen, "%s: must be a string", key);
        return NULL;
    }
    if (v->valuestring[0] == '\0') {
        snprintf(err, errlen, "%s: must not be empty", key);
        return NULL;
    }
    return v->valuestring;
}

/*
 * Parse an event's payload and check the envelope every event carries:
 * message_id (string), order_id (an id), ts (RFC 3339 string or UNIX ms
 * number). Returns the root object (caller deletes) or NULL with err set.
 */
static inline cJSON *
oc_parse_event(const jw_msg *msg, const char **order_id, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength((const char *)msg->data, msg->len);
    const char *mid, *oid;
    const cJSON *ts;

    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "payload is not a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
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

/*
 * Serialise doc and publish it with msg_id; JW_OK or the host's error.
 * On an ABI 1.1 host the publish is asynchronous: JW_OK means handed to the
 * connection, and the host settles `cause` (commit, ACK; or the reply of a
 * request) only once the PubAck is in, turning the verdict into a RETRY
 * when it fails. So a handler may treat JW_OK alike in both cases: what it
 * published is durable before its message counts as done. On a 1.0 host it
 * waits for the PubAck here.
 */
static inline int
oc_publish(const jw_host *host, jw_instance *inst, const jw_msg *cause, const char *subject,
           const cJSON *doc, const char *msg_id)
{
    char *text = cJSON_PrintUnformatted(doc);
    int rc;

    if (text == NULL)
        return JW_ENOMEM;
    if (cause != NULL && JW_HOST_HAS(host, publish_async))
        rc = host->publish_async(inst, cause, subject, text, strlen(text), msg_id, NULL, 0);
    else
        rc = host->publish(inst, cause, subject, text, strlen(text), msg_id, NULL, 0);
    cJSON_free(text);
    return rc;
}

/* True when the host settles a cause only after its publishes' PubAcks. */
static inline int
oc_async_publish(const jw_host *host)
{
    return JW_HOST_HAS(host, publish_async);
}

/*
 * Run n scripts (cmds[i].script set) and fill replies[i] (each NULL or the
 * caller's to kv_reply_free): one pipelined round trip on an ABI 1.1 host,
 * one kv_eval each on a 1.0 host. A NULL reply means Redis did not answer
 * that command (the caller retries its message); a JW_KV_ERROR reply
 * carries Redis's error text.
 */
static inline void
oc_kv_run(const jw_host *host, jw_instance *inst, const jw_kv_cmd *cmds, size_t n,
          jw_kv_reply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (n == 0)
        return;
    if (JW_HOST_HAS(host, kv_pipeline)) {
        if (host->kv_pipeline(inst, cmds, n, replies) != JW_OK) {
            for (size_t i = 0; i < n; i++) {
                if (replies[i] != NULL)
                    host->kv_reply_free(replies[i]); /* the contract says NULL; be safe */
                replies[i] = NULL;
            }
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (host->kv_eval(inst, cmds[i].script, cmds[i].nkeys, cmds[i].keys, cmds[i].nargs,
                          cmds[i].args, &replies[i]) != JW_OK &&
            replies[i] != NULL && replies[i]->type != JW_KV_ERROR) {
            host->kv_reply_free(replies[i]);
            replies[i] = NULL;
        }
    }
}

/* Element i of an array reply as a string, or NULL. */
static inline const char *
oc_reply_str(const jw_kv_reply *r, size_t i)
{
    if (r == NULL || r->type != JW_KV_ARRAY || i >= r->nelements)
        return NULL;
    if (r->elements[i]->type != JW_KV_STRING)
        return NULL;
    return r->elements[i]->str;
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
