/*
 * jetway/plugin_util.h -- helpers for plugin authors, installed next to
 * <jetway/plugin.h>: verdicts with a formatted reason, a message's JSON
 * payload as an object, required string members, publishing a JSON
 * document with a message id, reading kv replies, ids and timestamps.
 * The example plugins (order, payment, inventory) use them.
 *
 * Header-only (static inline): nothing to link but cJSON, which the
 * pkg-config file `jetway-plugin` names. Every helper is pure or
 * thread-safe (getrandom, clock_gettime, gmtime_r), so handle() may call
 * them on any worker.
 *
 *     cc $(pkg-config --cflags jetway-plugin) -o x.so x.c $(pkg-config --libs jetway-plugin)
 */
#ifndef JETWAY_PLUGIN_UTIL_H
#define JETWAY_PLUGIN_UTIL_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jetway/plugin.h>

/* ---- verdicts ---- */

/* Set the verdict and a formatted reason (logged; the error of a dead letter). */
static inline void jwu_verdict(jw_result *res, jw_verdict v, const char *fmt, ...) JW_PRINTF(3, 4);
static inline void
jwu_verdict(jw_result *res, jw_verdict v, const char *fmt, ...)
{
    va_list ap;
    res->verdict = v;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}
/* Transient: redeliver after the consumer's backoff (e.g. a store is down). */
#define jwu_retry(res, ...) jwu_verdict((res), JW_RETRY, __VA_ARGS__)
/* Permanent: the message can never be processed; dead-letter it with the reason. */
#define jwu_reject(res, ...) jwu_verdict((res), JW_REJECT, __VA_ARGS__)

/* ---- parsing events ---- */

/* The payload as a JSON object (caller cJSON_Delete()s it), or NULL with err set. */
static inline cJSON *
jwu_parse_object(const jw_msg *msg, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength((const char *)msg->data, msg->len);
    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "payload is not a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* A required non-empty string member; NULL with err set when absent or wrong. */
static inline const char *
jwu_req_string(const cJSON *obj, const char *key, char *err, size_t errlen)
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

/* An id safe inside Redis keys and message ids: [A-Za-z0-9._:-]{1,max}. */
static inline int
jwu_id_ok(const char *s, size_t max)
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

/* ---- publishing ---- */

/*
 * Serialise `doc` and publish it through JetStream as a consequence of
 * `cause` (trace context carried), with Nats-Msg-Id `msg_id`. Derive the id
 * from the input (e.g. "shipping.scheduled:<order_id>"), never from a clock
 * or a random number: a redelivered input then publishes the same id and
 * the stream drops the duplicate. msg_id NULL: the host derives one from the
 * cause's id. Returns JW_OK or the host's error (retry on failure).
 *
 * On an ABI 1.1 host (and with a cause) the publish is asynchronous: JW_OK
 * means handed to the connection, and the host settles `cause` (commit,
 * ACK; or a request's reply) only once the PubAck is in, turning the
 * verdict into a RETRY when it fails. So a handler may treat JW_OK alike in
 * both cases: what it published is durable before its message counts as
 * done. On a 1.0 host it waits for the PubAck here.
 */
static inline int
jwu_publish_json(const jw_host *host, jw_instance *inst, const jw_msg *cause, const char *subject,
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
jwu_async_publish(const jw_host *host)
{
    return JW_HOST_HAS(host, publish_async);
}

/* ---- kv ---- */

/*
 * Run n scripts (cmds[i].script set) and fill replies[i] (each NULL or the
 * caller's to kv_reply_free): one pipelined round trip on an ABI 1.1 host,
 * one kv_eval each on a 1.0 host. A NULL reply means Redis did not answer
 * that command (the caller retries its message); a JW_KV_ERROR reply
 * carries Redis's error text.
 */
static inline void
jwu_kv_run(const jw_host *host, jw_instance *inst, const jw_kv_cmd *cmds, size_t n,
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
jwu_reply_str(const jw_kv_reply *r, size_t i)
{
    if (r == NULL || r->type != JW_KV_ARRAY || i >= r->nelements)
        return NULL;
    if (r->elements[i]->type != JW_KV_STRING)
        return NULL;
    return r->elements[i]->str;
}

/* ---- ids and time ---- */

/* 2*nbytes random hex digits and a NUL into out; 0, or -1 (no entropy). */
static inline int
jwu_rand_hex(char *out, size_t nbytes)
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

/* Now as RFC 3339 UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z. */
static inline void
jwu_now_rfc3339(char out[64])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

#endif /* JETWAY_PLUGIN_UTIL_H */
