/*
 * record.so -- test fixture, the workhorse of the integration tests. It
 * records every attempt in a file and commits every message's effect in
 * Redis exactly like an idempotent real handler would, counting duplicates,
 * so a test can prove "nothing lost, nothing applied twice".
 *
 * Options:
 *   effects_file        required; every handle() appends, in one write(2),
 *                       "attempt <message_id> <stream_seq> <deliveries> <version> <unix_ms>\n"
 *   commit              default true: run the commit script below
 *   fail_every          default 0: every Nth call of this instance (N > 0) RETRYs
 *   reject_if_contains  default "": REJECT when the payload contains it
 *   retry_if_contains   default "": RETRY when the payload contains it
 *   sleep               default 0: duration to sleep in each call
 *   version             default "v1": written to the attempts log and Redis
 *   crash_if_contains   default "": abort() when the payload contains it
 *   publish_to          default "": publish each message's payload there
 *                       before its commit (publish_async on a 1.1 host)
 *
 * As a request/reply service handler it answers "ok" (or "failed") after
 * the publish; set commit: false there.
 *   fence               default false: commit only while the host's claim is
 *                       ours, and write the host's done marker in the same
 *                       script (DESIGN.md delivery 9), see below
 *
 * Order in handle(): log the attempt, sleep, crash / reject / retry /
 * fail_every checks, then commit and ACK. A crash, reject or retry thus
 * never commits, so any duplicate commit is the host's fault.
 *
 * The commit (one Lua script, atomic), for consumer C and message id M:
 *   SADD jwtest:committed:C M; when M is new: HSET jwtest:version:C M <version>;
 *   when M was already there: INCR jwtest:dupcommit:C.
 * A message without a message id uses "seq-<stream_seq>".
 *
 * With fence (and a claim: msg->dedup_key and claim_token set), the same
 * script first reads the claim key: held by another token or already done
 * -> nothing is written and the call ACKs (the host's own commit then sees
 * the lost lease); ours or expired -> the commit above plus
 * SET <dedup_key> "D|ok" PX 72h, so the effect and the done marker are kept
 * or lost together and a handler resumed after its lease ran out (SIGSTOP)
 * cannot apply its effect a second time.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jetway/plugin.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* record_v2.c includes this file with another default version, so a test
 * can swap the file's bytes (not only its config) under a reload. */
#ifndef RECORD_PLUGIN_NAME
#define RECORD_PLUGIN_NAME "record"
#endif
#ifndef RECORD_DEFAULT_VERSION
#define RECORD_DEFAULT_VERSION "v1"
#define RECORD_PLUGIN_VERSION  "1"
#endif

/* Owned by the instance: immutable after init except `calls`; handle() may
 * run on several threads at once. */
typedef struct rec_ctx {
    const jw_host *host;
    jw_instance *inst;
    int fd; /* effects_file, O_APPEND */
    int commit;
    int fence;
    int64_t fail_every;
    int64_t sleep_ms;
    char *reject_if;
    char *retry_if;
    char *crash_if;
    char *version;
    char *publish_to; /* "" = none */
    atomic_ulong calls;
    atomic_int active;     /* handle() calls running now */
    atomic_int max_active; /* the most ever seen at once, written at fini */
    char *maxconc_path;    /* "<effects_file>.maxconc" */
} rec_ctx;

static const char fenced_script[] = "local v = redis.call('GET', KEYS[4])\n"
                                    "if v and v ~= 'P|' .. ARGV[3] then return -1 end\n"
                                    "local added = redis.call('SADD', KEYS[1], ARGV[1])\n"
                                    "if added == 1 then\n"
                                    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
                                    "else\n"
                                    "  redis.call('INCR', KEYS[3])\n"
                                    "end\n"
                                    "redis.call('SET', KEYS[4], 'D|ok', 'PX', 259200000)\n"
                                    "return added\n";

static const char commit_script[] = "local added = redis.call('SADD', KEYS[1], ARGV[1])\n"
                                    "if added == 1 then\n"
                                    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
                                    "else\n"
                                    "  redis.call('INCR', KEYS[3])\n"
                                    "end\n"
                                    "return added\n";

static void
rec_free(rec_ctx *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->reject_if);
    free(c->retry_if);
    free(c->crash_if);
    free(c->version);
    free(c->publish_to);
    free(c->maxconc_path);
    free(c);
}

/* The host validated types and applied defaults; absent means "no default". */
static char *
str_opt(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static int64_t
num_opt(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static int
rec_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
         size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json);
    if (!cfg) {
        snprintf(err, errlen, "config is not JSON");
        return JW_EINVAL;
    }
    rec_ctx *c = calloc(1, sizeof(*c));
    int rc = JW_ENOMEM;
    if (!c)
        goto out;
    c->fd = -1;
    c->host = host;
    c->inst = inst;
    atomic_init(&c->calls, 0);
    const cJSON *commit = cJSON_GetObjectItemCaseSensitive(cfg, "commit");
    c->commit = !cJSON_IsFalse(commit);
    c->fence = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "fence"));
    c->fail_every = num_opt(cfg, "fail_every");
    c->sleep_ms = num_opt(cfg, "sleep");
    c->reject_if = str_opt(cfg, "reject_if_contains");
    c->retry_if = str_opt(cfg, "retry_if_contains");
    c->crash_if = str_opt(cfg, "crash_if_contains");
    c->version = str_opt(cfg, "version");
    c->publish_to = str_opt(cfg, "publish_to");
    if (!c->reject_if || !c->retry_if || !c->crash_if || !c->version || !c->publish_to)
        goto out;
    const cJSON *ef = cJSON_GetObjectItemCaseSensitive(cfg, "effects_file");
    if (!cJSON_IsString(ef) || !*ef->valuestring) {
        snprintf(err, errlen, "effects_file is required");
        rc = JW_EINVAL;
        goto out;
    }
    c->fd = open(ef->valuestring, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->fd < 0) {
        snprintf(err, errlen, "cannot open effects_file '%s': %s", ef->valuestring,
                 strerror(errno));
        rc = JW_EIO;
        goto out;
    }
    size_t plen = strlen(ef->valuestring) + sizeof(".maxconc");
    c->maxconc_path = malloc(plen);
    if (c->maxconc_path)
        snprintf(c->maxconc_path, plen, "%s.maxconc", ef->valuestring);
    *ctx = c;
    c = NULL;
    rc = 0;
out:
    rec_free(c);
    cJSON_Delete(cfg);
    return rc;
}

static int
payload_has(const jw_msg *msg, const char *needle)
{
    return *needle && msg->data && memmem(msg->data, msg->len, needle, strlen(needle)) != NULL;
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The commit script; 0 on success, else RETRY reason in res. */
static int
commit_effect(rec_ctx *c, const jw_msg *msg, const char *id, jw_result *res)
{
    const char *consumer = msg->consumer ? msg->consumer : "none";
    char k1[256], k2[256], k3[256];
    snprintf(k1, sizeof(k1), "jwtest:committed:%s", consumer);
    snprintf(k2, sizeof(k2), "jwtest:version:%s", consumer);
    snprintf(k3, sizeof(k3), "jwtest:dupcommit:%s", consumer);
    const char *keys[] = {k1, k2, k3, msg->dedup_key};
    const char *args[] = {id, c->version, msg->claim_token};
    int fenced = c->fence && msg->dedup_key && msg->claim_token;
    jw_kv_reply *r = NULL;
    int rc = fenced ? c->host->kv_eval(c->inst, fenced_script, 4, keys, 3, args, &r)
                    : c->host->kv_eval(c->inst, commit_script, 3, keys, 2, args, &r);
    if (rc == 0 && r && r->type == JW_KV_INT) {
        if (r->integer == 0)
            c->host->log(c->inst, msg, JW_LOG_WARN, "record: duplicate commit of %s", id);
        if (r->integer < 0)
            c->host->log(c->inst, msg, JW_LOG_WARN, "record: claim lost, %s not committed", id);
        c->host->kv_reply_free(r);
        return 0;
    }
    res->verdict = JW_RETRY;
    snprintf(res->reason, sizeof(res->reason), "commit failed: %s",
             r && r->type == JW_KV_ERROR && r->str ? r->str : strerror(rc < 0 ? -rc : EIO));
    if (r)
        c->host->kv_reply_free(r);
    return -1;
}

/* The message's id for the effect: its message id, else "seq-<seq>". */
static const char *
rec_id(const jw_msg *msg, char idbuf[32])
{
    if (msg->message_id)
        return msg->message_id;
    snprintf(idbuf, 32, "seq-%" PRIu64, msg->stream_seq);
    return idbuf;
}

/* Everything of handle() before the commit: log the attempt, sleep, crash /
 * reject / retry / fail_every. 1 when the message goes on to its commit
 * (verdict still ACK), 0 when res holds its verdict. */
static int
rec_prepare(rec_ctx *c, const jw_msg *msg, jw_result *res)
{
    unsigned long n = atomic_fetch_add(&c->calls, 1) + 1;
    char idbuf[32];
    const char *id = rec_id(msg, idbuf);
    char line[1024];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int len = snprintf(line, sizeof(line), "attempt %.700s %" PRIu64 " %" PRIu64 " %.200s %lld\n",
                       id, msg->stream_seq, msg->deliveries, c->version, now_ms);
    if (len > 0 && write(c->fd, line, (size_t)len) != len) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "cannot write effects_file");
        return 0;
    }
    if (c->sleep_ms > 0)
        sleep_ms(c->sleep_ms);
    if (payload_has(msg, c->crash_if))
        abort();
    if (payload_has(msg, c->reject_if)) {
        res->verdict = JW_REJECT;
        snprintf(res->reason, sizeof(res->reason), "payload contains '%.200s'", c->reject_if);
        return 0;
    }
    if (payload_has(msg, c->retry_if)) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "payload contains '%.200s'", c->retry_if);
        return 0;
    }
    if (c->fail_every > 0 && n % (unsigned long)c->fail_every == 0) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "fail_every %" PRId64 " (call %lu)",
                 c->fail_every, n);
        return 0;
    }
    res->verdict = JW_ACK;
    return 1;
}

/* publish_to: one event per ACKed message, id "<id>:<subject>" (the host
 * derives it), asynchronous where the host has it (ABI 1.1). */
static void
rec_publish(rec_ctx *c, const jw_msg *msg, jw_result *res)
{
    if (!*c->publish_to || res->verdict != JW_ACK)
        return;
#if JW_ABI_MINOR >= 1
    int rc =
        JW_HOST_HAS(c->host, publish_async)
            ? c->host->publish_async(c->inst, msg, c->publish_to, msg->data, msg->len, NULL, NULL,
                                     0)
            : c->host->publish(c->inst, msg, c->publish_to, msg->data, msg->len, NULL, NULL, 0);
#else /* record10.so: built against the 1.0 header */
    int rc = c->host->publish(c->inst, msg, c->publish_to, msg->data, msg->len, NULL, NULL, 0);
#endif
    if (rc != JW_OK) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "publish to %.200s failed: %d", c->publish_to,
                 rc);
    }
}

static void
rec_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    rec_ctx *c = ctx;
    char idbuf[32];
    if (!rec_prepare(c, msg, res))
        return;
    rec_publish(c, msg, res);
    if (res->verdict == JW_ACK && c->commit)
        commit_effect(c, msg, rec_id(msg, idbuf), res);
    if (msg->reply) {
        /* A request: answer after the publish (on a 1.1 host the reply is
         * held until its PubAck is in). */
        char out[64];
        int n = snprintf(out, sizeof(out), "%s", res->verdict == JW_ACK ? "ok" : "failed");
        c->host->respond(c->inst, msg, out, (size_t)n);
    }
}

#ifdef RECORD_BATCH
/* The commits of a batch in one kv_pipeline round trip; a message whose
 * reply is missing or an error RETRYs, as commit_effect() would. */
static void
rec_commit_batch(rec_ctx *c, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    enum { MAXB = 512 };
    jw_kv_cmd cmds[MAXB];
    jw_kv_reply *replies[MAXB];
    size_t idx[MAXB], m = 0;
    char keys[MAXB][3][160];
    const char *kp[MAXB][4];
    const char *ap[MAXB][3];
    char ids[MAXB][32];
    for (size_t i = 0; i < n && m < MAXB; i++) {
        if (results[i].verdict != JW_ACK)
            continue;
        const jw_msg *msg = msgs[i];
        const char *consumer = msg->consumer ? msg->consumer : "none";
        snprintf(keys[m][0], sizeof(keys[m][0]), "jwtest:committed:%s", consumer);
        snprintf(keys[m][1], sizeof(keys[m][1]), "jwtest:version:%s", consumer);
        snprintf(keys[m][2], sizeof(keys[m][2]), "jwtest:dupcommit:%s", consumer);
        kp[m][0] = keys[m][0];
        kp[m][1] = keys[m][1];
        kp[m][2] = keys[m][2];
        kp[m][3] = msg->dedup_key;
        ap[m][0] = rec_id(msg, ids[m]);
        ap[m][1] = c->version;
        ap[m][2] = msg->claim_token;
        int fenced = c->fence && msg->dedup_key && msg->claim_token;
        cmds[m] = (jw_kv_cmd){.script = fenced ? fenced_script : commit_script,
                              .nkeys = fenced ? 4 : 3,
                              .keys = kp[m],
                              .nargs = fenced ? 3 : 2,
                              .args = ap[m]};
        idx[m++] = i;
    }
    if (m == 0)
        return;
    int rc = c->host->kv_pipeline(c->inst, cmds, m, replies);
    for (size_t k = 0; k < m; k++) {
        jw_result *res = &results[idx[k]];
        jw_kv_reply *r = rc == JW_OK ? replies[k] : NULL;
        if (r && r->type == JW_KV_INT) {
            if (r->integer == 0)
                c->host->log(c->inst, msgs[idx[k]], JW_LOG_WARN, "record: duplicate commit of %s",
                             ap[k][0]);
        } else {
            res->verdict = JW_RETRY;
            snprintf(res->reason, sizeof(res->reason), "commit failed: %s",
                     r && r->type == JW_KV_ERROR && r->str ? r->str : "redis unavailable");
        }
        if (r)
            c->host->kv_reply_free(r);
    }
}

static void
rec_handle_batch_body(rec_ctx *c, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rec_prepare(c, msgs[i], &results[i]))
            rec_publish(c, msgs[i], &results[i]);
    }
    if (c->commit)
        rec_commit_batch(c, msgs, results, n);
}
#endif

/* Count concurrent calls so tests can check the consumer's limit. */
static void
rec_handle_counted(void *ctx, const jw_msg *msg, jw_result *res)
{
    rec_ctx *c = ctx;
    int now = atomic_fetch_add(&c->active, 1) + 1;
    int seen = atomic_load(&c->max_active);
    while (now > seen && !atomic_compare_exchange_weak(&c->max_active, &seen, now))
        ;
    rec_handle(ctx, msg, res);
    atomic_fetch_sub(&c->active, 1);
}

static void
rec_fini(void *ctx)
{
    rec_ctx *c = ctx;
    if (c->maxconc_path) {
        FILE *f = fopen(c->maxconc_path, "w");
        if (f) {
            fprintf(f, "%d\n", atomic_load(&c->max_active));
            fclose(f);
        }
        free(c->maxconc_path);
        c->maxconc_path = NULL;
    }
    rec_free(ctx);
}

static const jw_option rec_options[] = {
    {"effects_file", JW_OPT_STRING, NULL, 1, "append-only log of every attempt"},
    {"commit", JW_OPT_BOOL, "true", 0, "commit the effect in Redis"},
    {"fail_every", JW_OPT_INT, "0", 0, "RETRY every Nth call (0 = never)"},
    {"reject_if_contains", JW_OPT_STRING, "", 0, "REJECT payloads containing this"},
    {"retry_if_contains", JW_OPT_STRING, "", 0, "RETRY payloads containing this"},
    {"sleep", JW_OPT_DURATION, "0", 0, "sleep this long in every call"},
    {"version", JW_OPT_STRING, RECORD_DEFAULT_VERSION, 0, "recorded with every attempt and commit"},
    {"crash_if_contains", JW_OPT_STRING, "", 0, "abort() on payloads containing this"},
    {"fence", JW_OPT_BOOL, "false", 0, "commit only under our claim, with the done marker"},
    {"publish_to", JW_OPT_STRING, "", 0, "publish each ACKed payload here (async on ABI 1.1)"},
    {NULL, 0, NULL, 0, NULL},
};

#ifdef RECORD_BATCH
/* ABI 1.1: the messages of one fetch in one call (record_batch.c). Each
 * batch is logged as "batch <n> <unix_ms>" before its attempts, so a test
 * sees that batches of more than one message were really handed over. */
static void
rec_handle_batch(void *ctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    rec_ctx *c = ctx;
    char line[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int len = snprintf(line, sizeof(line), "batch %zu %lld\n", n,
                       (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (len > 0 && write(c->fd, line, (size_t)len) != len) {
        for (size_t i = 0; i < n; i++) {
            results[i].verdict = JW_RETRY;
            snprintf(results[i].reason, sizeof(results[i].reason), "cannot write effects_file");
        }
        return;
    }
    rec_handle_batch_body(c, msgs, results, n);
}
#endif

static const jw_plugin rec_desc = {
    JW_PLUGIN_STAMP,
    .name = RECORD_PLUGIN_NAME,
    .version = RECORD_PLUGIN_VERSION,
    .options = rec_options,
    .init = rec_init,
    .handle = rec_handle_counted,
    .fini = rec_fini,
#ifdef RECORD_BATCH
    .handle_batch = rec_handle_batch,
#endif
};

JW_PLUGIN_DEFINE(rec_desc)
