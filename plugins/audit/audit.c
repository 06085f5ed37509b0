/*
 * audit.c -- the audit plugin of the order-processing example: every
 * business event (orders.>, payments.>, inventory.>) is appended to an
 * append-only, hash-chained, fsynced log (audit_log.c, format in
 * audit_format.h); `jetway audit verify DIR` checks it.
 *
 * handle() ACKs only once the event's record is on disk, ACKs a redelivered
 * event that the log already holds without writing it again (same stream and
 * message id in the current or the previous segment or in a record appended
 * within dedup_window, which covers a crash between the fsync and the host's
 * commit: the redelivery comes ack_wait later, claimed afresh once the dead
 * process's lease ran out, and after a kill -9 the catch-up of the backlog
 * can fill several segments in that time; the host's Redis dedup covers
 * events whose commit landed; an event without a message id is always
 * logged), REJECTs a
 * payload that is not JSON (the host dead-letters it), and asks for a RETRY
 * when the disk fails.
 *
 * handle_batch() (ABI 1.1) appends a whole fetch under one lock and waits
 * once for the fsync covering it: profiled in the order pipeline, the
 * per-message path spent most of the role's CPU in thread switches (each
 * handler waking, waiting for its group commit and being woken), not in
 * hashing or JSON.
 *
 * With archive_endpoint set, every sealed segment is also copied to an
 * S3-compatible bucket by a thread of the instance (audit_archive.c); the
 * handlers only tell it a segment was sealed, so uploads never hold up an
 * ACK.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit_archive.h"
#include "audit_log.h"
#include "jetway/plugin.h"

/* One per instance; immutable after init, shared by all handler threads. */
typedef struct audit_ctx {
    const jw_host *host;
    jw_instance *inst;
    audit_log *log;
    audit_archive *archive; /* NULL: no archive; set before any handle() */
} audit_ctx;

static const jw_option audit_options[] = {
    {"dir", JW_OPT_STRING, NULL, 1, "directory of the audit segment files (created if absent)"},
    {"segment_size", JW_OPT_SIZE, "4MiB", 0,
     "start a new segment before a record would make the current one larger"},
    {"fsync_batch", JW_OPT_INT, "64", 0, "a group commit stops waiting at this many records"},
    {"fsync_interval", JW_OPT_DURATION, "200ms", 0,
     "longest a group commit waits for concurrent handlers to join it"},
    {"dedup_window", JW_OPT_DURATION, "2m", 0,
     "a redelivered event whose record was appended this recently (or is in the current or "
     "the previous segment) is not logged again; at least the consumers' ack_wait plus their "
     "dedup lease"},
    {"archive_endpoint", JW_OPT_STRING, NULL, 0,
     "S3-compatible endpoint URL (http[s]://host:port); set to archive sealed segments"},
    {"archive_bucket", JW_OPT_STRING, NULL, 0, "bucket of the archive (path-style URLs)"},
    {"archive_prefix", JW_OPT_STRING, "", 0, "prepended to the segment file name in the key"},
    {"archive_region", JW_OPT_STRING, "us-east-1", 0, "region the requests are signed for"},
    {"archive_credentials_file", JW_OPT_STRING, NULL, 0,
     "AWS credentials file ([default] aws_access_key_id, aws_secret_access_key); "
     "default: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"},
    {"archive_keep_local", JW_OPT_INT, "-1", 0,
     "archived segments kept on disk (-1: all; the newest sealed one always stays)"},
    {"archive_retry_min", JW_OPT_DURATION, "1s", 0, "first wait after a failed upload"},
    {"archive_retry_max", JW_OPT_DURATION, "60s", 0, "the wait doubles up to this"},
    {NULL, 0, NULL, 0, NULL},
};

/* Integer member of cfg, or def when absent; -1 when present but not a number >= min. */
static int
cfg_int(const cJSON *cfg, const char *key, double def, double min, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *out = def;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > 9007199254740992.0)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* String member of cfg, or NULL when absent; -1 when present but not a string. */
static int
cfg_str(const cJSON *cfg, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return -1;
    *out = v->valuestring;
    return 0;
}

/* The log's seal hook: hand the number to the uploader (never blocks). */
static void
audit_sealed(void *arg, uint32_t no)
{
    audit_ctx *c = arg;
    if (c->archive)
        audit_archive_sealed(c->archive, no);
}

/* Start the archive when archive_endpoint is set. 0 or -errno with err. */
static int
audit_archive_start(audit_ctx *c, const cJSON *cfg, const char *dir, char *err, size_t errlen)
{
    audit_archive_cfg ac = {.dir = dir, .host = c->host, .inst = c->inst};
    double keep, rmin, rmax;
    if (cfg_str(cfg, "archive_endpoint", &ac.endpoint) != 0 ||
        cfg_str(cfg, "archive_bucket", &ac.bucket) != 0 ||
        cfg_str(cfg, "archive_prefix", &ac.prefix) != 0 ||
        cfg_str(cfg, "archive_region", &ac.region) != 0 ||
        cfg_str(cfg, "archive_credentials_file", &ac.creds_file) != 0) {
        snprintf(err, errlen, "config: the archive_* settings of text must be strings");
        return -EINVAL;
    }
    if (!ac.endpoint || !ac.endpoint[0]) {
        if (ac.bucket) {
            snprintf(err, errlen, "config: archive_bucket is set but archive_endpoint is not");
            return -EINVAL;
        }
        return 0;
    }
    if (cfg_int(cfg, "archive_keep_local", -1, -1, &keep) != 0) {
        snprintf(err, errlen, "config: archive_keep_local must be an integer >= -1");
        return -EINVAL;
    }
    if (cfg_int(cfg, "archive_retry_min", 1000, 1, &rmin) != 0 ||
        cfg_int(cfg, "archive_retry_max", 60000, 1, &rmax) != 0) {
        snprintf(err, errlen, "config: archive_retry_min/max must be durations >= 1ms");
        return -EINVAL;
    }
    ac.keep_local = (int64_t)keep;
    ac.retry_min_ms = (int64_t)rmin;
    ac.retry_max_ms = (int64_t)rmax;
    int rc = 0;
    if (c->host->counter_register) {
        rc = c->host->counter_register(c->inst, "audit_archived",
                                       "segments uploaded to the archive and verified",
                                       &ac.ctr_archived);
        rc = rc ? rc
                : c->host->counter_register(c->inst, "audit_archive_failures",
                                            "failed archive upload attempts (retried)",
                                            &ac.ctr_failures);
        rc = rc ? rc
                : c->host->counter_register(c->inst, "audit_archive_deleted",
                                            "archived segments deleted locally (retention)",
                                            &ac.ctr_deleted);
        if (rc != 0) {
            snprintf(err, errlen, "register counters: %s", strerror(-rc));
            return rc;
        }
    }
    return audit_archive_open(&ac, &c->archive, err, errlen);
}

static int
audit_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
           size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(cfg, "dir");
    double seg, batch, interval, window;
    int rc = -EINVAL;
    audit_ctx *c = NULL;
    if (!cJSON_IsObject(cfg)) {
        snprintf(err, errlen, "config is not a JSON object");
    } else if (!cJSON_IsString(dir) || dir->valuestring[0] == '\0') {
        snprintf(err, errlen, "config: dir must be a non-empty string");
    } else if (cfg_int(cfg, "segment_size", 4194304, 1, &seg) != 0) {
        snprintf(err, errlen, "config: segment_size must be a size >= 1 byte");
    } else if (cfg_int(cfg, "fsync_batch", 64, 1, &batch) != 0) {
        snprintf(err, errlen, "config: fsync_batch must be an integer >= 1");
    } else if (cfg_int(cfg, "fsync_interval", 200, 0, &interval) != 0) {
        snprintf(err, errlen, "config: fsync_interval must be a duration >= 0");
    } else if (cfg_int(cfg, "dedup_window", 120000, 0, &window) != 0) {
        snprintf(err, errlen, "config: dedup_window must be a duration >= 0");
    } else if (!(c = calloc(1, sizeof *c))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    } else {
        audit_log_cfg lc = {
            .dir = dir->valuestring,
            .segment_size = (uint64_t)seg,
            .fsync_batch = (uint64_t)batch,
            .fsync_interval_ms = (int64_t)interval,
            .dedup_window_ms = (int64_t)window,
            .host = host,
            .inst = inst,
            .on_seal = audit_sealed,
            .seal_arg = c,
        };
        c->host = host;
        c->inst = inst;
        rc = 0;
        if (host->counter_register) {
            rc = host->counter_register(inst, "audit_records", "records appended to the audit log",
                                        &lc.ctr_records);
            rc = rc ? rc
                    : host->counter_register(inst, "audit_fsyncs",
                                             "fsyncs of audit segments (group commits)",
                                             &lc.ctr_fsyncs);
            rc = rc ? rc
                    : host->counter_register(inst, "audit_segments", "audit segments started",
                                             &lc.ctr_segments);
            if (rc != 0)
                snprintf(err, errlen, "register counters: %s", strerror(-rc));
        }
        if (rc == 0)
            rc = audit_log_open(&lc, &c->log, err, errlen);
        if (rc == 0 && (rc = audit_archive_start(c, cfg, dir->valuestring, err, errlen)) != 0)
            audit_log_close(c->log);
    }
    cJSON_Delete(cfg);
    if (rc != 0) {
        free(c);
        return rc;
    }
    *ctx = c;
    return 0;
}

/*
 * The payload as JSON without whitespace outside strings, NUL-terminated and
 * malloc'd, or NULL with why in res. Numbers and strings stay byte for byte
 * (cJSON_Minify), which a parse-and-print round trip would not guarantee.
 */
static char *
audit_minify(const jw_msg *msg, jw_result *res)
{
    char *buf = malloc(msg->len + 1);
    if (!buf) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof res->reason, "out of memory");
        return NULL;
    }
    if (msg->len)
        memcpy(buf, msg->data, msg->len);
    buf[msg->len] = '\0';
    const char *end = NULL;
    cJSON *doc = NULL;
    if (strlen(buf) != msg->len) {
        snprintf(res->reason, sizeof res->reason, "invalid JSON: NUL byte at %zu", strlen(buf));
    } else if (!(doc = cJSON_ParseWithOpts(buf, &end, 1))) {
        snprintf(res->reason, sizeof res->reason, "invalid JSON: syntax error at byte %zu",
                 end && end >= buf ? (size_t)(end - buf) : (size_t)0);
    } else {
        cJSON_Delete(doc);
        cJSON_Minify(buf);
        /* cJSON accepts raw control characters inside strings; JSON (and one
         * record a line) does not. */
        for (const char *p = buf; *p; p++) {
            if ((unsigned char)*p < 0x20) {
                snprintf(res->reason, sizeof res->reason,
                         "invalid JSON: control character 0x%02x in a string", (unsigned)*p);
                free(buf);
                res->verdict = JW_REJECT;
                return NULL;
            }
        }
        return buf;
    }
    free(buf);
    res->verdict = JW_REJECT;
    return NULL;
}

static void
audit_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    audit_ctx *c = ctx;
    audit_log_enter(c->log);
    char *data = audit_minify(msg, res);
    if (!data) {
        audit_log_leave(c->log);
        return;
    }
    aud_event ev = {
        .subject = msg->subject,
        .stream = msg->stream,
        .seq = msg->stream_seq,
        .message_id = msg->message_id,
        .data = data,
        .datalen = strlen(data),
    };
    char err[200];
    int rc = audit_log_append(c->log, &ev, err, sizeof err);
    free(data);
    if (rc == AUDIT_DUPLICATE) {
        c->host->log(c->inst, msg, JW_LOG_DEBUG, "already in the audit log");
    } else if (rc < 0) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof res->reason, "%s", err);
    }
}

/*
 * A batch: check and minify every payload, then append them all under one
 * lock and wait once for the fsync that covers the last. The records and
 * their order are those of handle() called for each message in turn.
 */
static void
audit_handle_batch(void *ctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    audit_ctx *c = ctx;
    aud_event *evs = calloc(n, sizeof *evs);
    int *rcs = calloc(n, sizeof *rcs);
    char err[200] = "";
    if (!evs || !rcs) {
        for (size_t i = 0; i < n; i++) {
            results[i].verdict = JW_RETRY;
            snprintf(results[i].reason, sizeof results[i].reason, "out of memory");
        }
        goto out;
    }
    audit_log_enter(c->log);
    for (size_t i = 0; i < n; i++) {
        char *data = audit_minify(msgs[i], &results[i]);
        evs[i] = (aud_event){
            .subject = msgs[i]->subject,
            .stream = msgs[i]->stream,
            .seq = msgs[i]->stream_seq,
            .message_id = msgs[i]->message_id,
            .data = data,
            .datalen = data ? strlen(data) : 0,
        };
    }
    audit_log_append_batch(c->log, evs, n, rcs, err, sizeof err);
    for (size_t i = 0; i < n; i++) {
        if (rcs[i] == AUDIT_DUPLICATE) {
            c->host->log(c->inst, msgs[i], JW_LOG_DEBUG, "already in the audit log");
        } else if (rcs[i] < 0) {
            results[i].verdict = JW_RETRY;
            snprintf(results[i].reason, sizeof results[i].reason, "%s",
                     err[0] ? err : strerror(-rcs[i]));
        }
        free((char *)evs[i].data);
    }
out:
    free(evs);
    free(rcs);
}

static void
audit_fini(void *ctx)
{
    audit_ctx *c = ctx;
    /* The archive first: a seal during close would find it gone otherwise. */
    audit_archive_close(c->archive);
    c->archive = NULL;
    audit_log_close(c->log);
    free(c);
}

static const jw_plugin audit_plugin = {
    JW_PLUGIN_STAMP,    .name = "audit",
    .version = "1.1.0", .options = audit_options,
    .init = audit_init, .handle = audit_handle,
    .fini = audit_fini, .handle_batch = audit_handle_batch,
};

JW_PLUGIN_DEFINE(audit_plugin)
