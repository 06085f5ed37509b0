/*
 * kv.c -- see kv.h.
 *
 * Each calling thread owns one blocking redisContext, found through a
 * pthread key (whose destructor frees it if a thread exits without
 * kv_thread_cleanup()). The context is dropped after any I/O error or
 * timeout, since a late reply would otherwise be read as the answer to the
 * next command; the next call connects again, so an outage costs each call
 * one failed connect and nothing is left to recover.
 *
 * Return codes: JW_OK; JW_ENOENT (kv_get of a missing key); JW_ETIMEDOUT
 * (connect or reply slower than redis.timeout); JW_EIO (cannot connect,
 * connection broken, or an error reply to get/set/setnx/del/incr);
 * JW_EINVAL; JW_ENOMEM; JW_ENOTSUP (no redis section). kv_eval returns
 * JW_OK with a JW_KV_ERROR reply when the script itself failed (the text of
 * Redis's error is what the plugin wants to see), and only transport
 * failures as codes.
 */
#include "redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "base/base.h"

#define KV_SCRIPT_CACHE 8
#define KV_STACK_ARGS   16

/* What kv_setup copied. Written by kv_setup/kv_teardown on the main thread
 * while no kv user runs; read-only for every thread in between. */
static struct {
    int enabled;
    char *host;
    char *unix_path;
    char *user;
    char *password;
    int port;
    int db;
    int64_t timeout_ms;
} kv_cfg;

static pthread_once_t kv_once = PTHREAD_ONCE_INIT;
static pthread_key_t kv_key;
static int kv_key_ok;

/* One script whose SHA-1 is known; text is a private copy. */
typedef struct kv_script {
    char *text;
    size_t len;
    char sha[41];
} kv_script;

/* The state of one thread: owned by that thread, freed by
 * kv_thread_cleanup() or the key's destructor at thread exit. */
typedef struct kv_conn {
    redisContext *c; /* NULL = connect on next use */
    kv_script scripts[KV_SCRIPT_CACHE];
    unsigned next_slot;
} kv_conn;

static void
conn_free(void *p)
{
    kv_conn *kc = p;
    if (!kc)
        return;
    if (kc->c)
        redisFree(kc->c);
    for (int i = 0; i < KV_SCRIPT_CACHE; i++)
        free(kc->scripts[i].text);
    free(kc);
}

static void
key_create(void)
{
    kv_key_ok = pthread_key_create(&kv_key, conn_free) == 0;
}

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void
kv_setup(const cfg_redis *cfg)
{
    kv_teardown();
    pthread_once(&kv_once, key_create);
    if (!cfg || !kv_key_ok || (!cfg->host && !cfg->unix_path))
        return;
    kv_cfg.host = dup_or_null(cfg->host);
    kv_cfg.unix_path = dup_or_null(cfg->unix_path);
    kv_cfg.user = cfg->user && cfg->user[0] ? strdup(cfg->user) : NULL;
    kv_cfg.password = dup_or_null(cfg->password);
    kv_cfg.port = cfg->port > 0 ? cfg->port : 6379;
    kv_cfg.db = cfg->db;
    kv_cfg.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    kv_cfg.enabled = 1;
}

void
kv_teardown(void)
{
    kv_thread_cleanup();
    kv_cfg.enabled = 0;
    free(kv_cfg.host);
    free(kv_cfg.unix_path);
    free(kv_cfg.user);
    free(kv_cfg.password);
    kv_cfg.host = kv_cfg.unix_path = kv_cfg.user = kv_cfg.password = NULL;
}

void
kv_thread_cleanup(void)
{
    if (!kv_key_ok)
        return;
    conn_free(pthread_getspecific(kv_key));
    pthread_setspecific(kv_key, NULL);
}

/* hiredis reports both a connect timeout and SO_RCVTIMEO as an I/O error
 * whose text is strerror() of ETIMEDOUT or EAGAIN. */
static int
io_code(const redisContext *c, int saved_errno)
{
    if (saved_errno == ETIMEDOUT || saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)
        return JW_ETIMEDOUT;
    if (c && c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, strerror(ETIMEDOUT)) || strstr(c->errstr, strerror(EAGAIN))))
        return JW_ETIMEDOUT;
    return JW_EIO;
}

static void
drop(kv_conn *kc, int code)
{
    log_debug("kv: redis %s: %s", code == JW_ETIMEDOUT ? "timeout" : "error",
              kc->c ? kc->c->errstr : "?");
    redisFree(kc->c);
    kc->c = NULL;
}

/* A command on the connection; NULL reply sets *code and drops it. */
static redisReply *
command(kv_conn *kc, int argc, const char **argv, const size_t *lens, int *code)
{
    errno = 0;
    redisReply *rep = redisCommandArgv(kc->c, argc, argv, lens);
    if (!rep) {
        *code = io_code(kc->c, errno);
        drop(kc, *code);
    }
    return rep;
}

static int
handshake(kv_conn *kc)
{
    const char *argv[3];
    size_t lens[3];
    int argc = 0, code = JW_OK;
    char db[16];
    if (kv_cfg.password) {
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (kv_cfg.user) {
            argv[argc] = kv_cfg.user;
            lens[argc++] = strlen(kv_cfg.user);
        }
        argv[argc] = kv_cfg.password;
        lens[argc++] = strlen(kv_cfg.password);
        redisReply *rep = command(kc, argc, argv, lens, &code);
        if (!rep)
            return code;
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad)
            log_error("kv: redis AUTH: %s", rep->str);
        freeReplyObject(rep);
        if (bad)
            return JW_EIO;
    }
    if (kv_cfg.db != 0) {
        snprintf(db, sizeof(db), "%d", kv_cfg.db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = db;
        lens[1] = strlen(db);
        redisReply *rep = command(kc, 2, argv, lens, &code);
        if (!rep)
            return code;
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad)
            log_error("kv: redis SELECT %d: %s", kv_cfg.db, rep->str);
        freeReplyObject(rep);
        if (bad)
            return JW_EIO;
    }
    return JW_OK;
}

/* This thread's connection, connected; 0 or a JW_E* code. */
static int
conn_get(kv_conn **out)
{
    *out = NULL;
    if (!kv_cfg.enabled)
        return JW_ENOTSUP;
    kv_conn *kc = pthread_getspecific(kv_key);
    if (!kc) {
        kc = calloc(1, sizeof(*kc));
        if (!kc)
            return JW_ENOMEM;
        if (pthread_setspecific(kv_key, kc) != 0) {
            free(kc);
            return JW_ENOMEM;
        }
    }
    if (!kc->c) {
        struct timeval tv = {.tv_sec = kv_cfg.timeout_ms / 1000,
                             .tv_usec = (kv_cfg.timeout_ms % 1000) * 1000};
        errno = 0;
        redisContext *c = kv_cfg.unix_path ? redisConnectUnixWithTimeout(kv_cfg.unix_path, tv)
                                           : redisConnectWithTimeout(kv_cfg.host, kv_cfg.port, tv);
        int saved = errno;
        if (!c)
            return JW_ENOMEM;
        if (c->err) {
            int code = io_code(c, saved == EINPROGRESS ? 0 : saved);
            log_debug("kv: redis connect: %s", c->errstr);
            redisFree(c);
            return code;
        }
        if (redisSetTimeout(c, tv) != REDIS_OK) {
            redisFree(c);
            return JW_EIO;
        }
        kc->c = c;
        int code = handshake(kc);
        if (code != JW_OK) {
            if (kc->c) {
                redisFree(kc->c);
                kc->c = NULL;
            }
            return code;
        }
    }
    *out = kc;
    return JW_OK;
}

/* Run one command; on success *rep is the reply (caller frees). */
static int
run(int argc, const char **argv, const size_t *lens, redisReply **rep)
{
    kv_conn *kc;
    int code = conn_get(&kc);
    if (code != JW_OK)
        return code;
    *rep = command(kc, argc, argv, lens, &code);
    return *rep ? JW_OK : code;
}

int
kv_get(const char *key, char **value, size_t *len)
{
    if (!key || !value)
        return JW_EINVAL;
    *value = NULL;
    if (len)
        *len = 0;
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    redisReply *rep;
    int code = run(2, argv, lens, &rep);
    if (code != JW_OK)
        return code;
    if (rep->type == REDIS_REPLY_NIL) {
        code = JW_ENOENT;
    } else if (rep->type == REDIS_REPLY_STRING) {
        *value = malloc(rep->len + 1);
        if (!*value) {
            code = JW_ENOMEM;
        } else {
            memcpy(*value, rep->str, rep->len);
            (*value)[rep->len] = '\0';
            if (len)
                *len = rep->len;
        }
    } else {
        if (rep->type == REDIS_REPLY_ERROR)
            log_debug("kv: GET %s: %s", key, rep->str);
        code = JW_EIO;
    }
    freeReplyObject(rep);
    return code;
}

/* SET key value [NX] [PX ttl]: 1 when set, 0 when NX found the key. */
static int
set_common(const char *key, const void *value, size_t len, int64_t ttl_ms, int nx)
{
    if (!key || (!value && len))
        return JW_EINVAL;
    const char *argv[6];
    size_t lens[6];
    int argc = 0;
    char ttl[24];
    argv[argc] = "SET";
    lens[argc++] = 3;
    argv[argc] = key;
    lens[argc++] = strlen(key);
    argv[argc] = value ? value : "";
    lens[argc++] = len;
    if (nx) {
        argv[argc] = "NX";
        lens[argc++] = 2;
    }
    if (ttl_ms > 0) {
        argv[argc] = "PX";
        lens[argc++] = 2;
        argv[argc] = ttl;
        lens[argc++] = (size_t)snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    }
    redisReply *rep;
    int code = run(argc, argv, lens, &rep);
    if (code != JW_OK)
        return code;
    if (rep->type == REDIS_REPLY_STATUS)
        code = 1;
    else if (rep->type == REDIS_REPLY_NIL && nx)
        code = 0;
    else
        code = JW_EIO;
    freeReplyObject(rep);
    return code;
}

int
kv_set(const char *key, const void *value, size_t len, int64_t ttl_ms)
{
    int rc = set_common(key, value, len, ttl_ms, 0);
    return rc == 1 ? JW_OK : rc;
}

int
kv_setnx(const char *key, const void *value, size_t len, int64_t ttl_ms)
{
    return set_common(key, value, len, ttl_ms, 1);
}

int
kv_del(const char *key)
{
    if (!key)
        return JW_EINVAL;
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, strlen(key)};
    redisReply *rep;
    int code = run(2, argv, lens, &rep);
    if (code != JW_OK)
        return code;
    code = rep->type == REDIS_REPLY_INTEGER ? JW_OK : JW_EIO;
    freeReplyObject(rep);
    return code;
}

int
kv_incr(const char *key, int64_t by, int64_t *result)
{
    if (!key)
        return JW_EINVAL;
    char num[24];
    const char *argv[3] = {"INCRBY", key, num};
    size_t lens[3] = {6, strlen(key), (size_t)snprintf(num, sizeof(num), "%lld", (long long)by)};
    redisReply *rep;
    int code = run(3, argv, lens, &rep);
    if (code != JW_OK)
        return code;
    if (rep->type == REDIS_REPLY_INTEGER) {
        if (result)
            *result = rep->integer;
    } else {
        if (rep->type == REDIS_REPLY_ERROR)
            log_debug("kv: INCRBY %s: %s", key, rep->str);
        code = JW_EIO;
    }
    freeReplyObject(rep);
    return code;
}

/* The script's SHA-1 in hex, from this thread's cache or computed. */
static const char *
script_sha(kv_conn *kc, const char *script, size_t len)
{
    for (int i = 0; i < KV_SCRIPT_CACHE; i++) {
        kv_script *s = &kc->scripts[i];
        if (s->text && s->len == len && memcmp(s->text, script, len) == 0)
            return s->sha;
    }
    kv_script *s = &kc->scripts[kc->next_slot++ % KV_SCRIPT_CACHE];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(script, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return NULL;
    free(s->text);
    s->text = malloc(len + 1);
    s->len = len;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        s->sha[2 * i] = hex[md[i] >> 4];
        s->sha[2 * i + 1] = hex[md[i] & 15];
    }
    s->sha[40] = '\0';
    if (s->text)
        memcpy(s->text, script, len + 1);
    return s->sha; /* valid until the next script_sha() of this thread */
}

static jw_kv_reply *
reply_copy(const redisReply *r)
{
    jw_kv_reply *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        o->type = JW_KV_INT;
        o->integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        o->type = r->type == REDIS_REPLY_ERROR ? JW_KV_ERROR : JW_KV_STRING;
        o->str = malloc(r->len + 1);
        if (!o->str) {
            free(o);
            return NULL;
        }
        memcpy(o->str, r->str, r->len);
        o->str[r->len] = '\0';
        o->len = r->len;
        break;
    case REDIS_REPLY_ARRAY:
        o->type = JW_KV_ARRAY;
        if (r->elements) {
            /* sizeof(*p) of an array of pointers is meant */
            // NOLINTNEXTLINE(bugprone-sizeof-expression)
            o->elements = calloc(r->elements, sizeof(*o->elements));
            if (!o->elements) {
                free(o);
                return NULL;
            }
            o->nelements = r->elements;
            for (size_t i = 0; i < r->elements; i++) {
                o->elements[i] = reply_copy(r->element[i]);
                if (!o->elements[i]) {
                    kv_reply_free(o);
                    return NULL;
                }
            }
        }
        break;
    default:
        o->type = JW_KV_NIL;
        break;
    }
    return o;
}

void
kv_reply_free(jw_kv_reply *reply)
{
    if (!reply)
        return;
    for (size_t i = 0; i < reply->nelements; i++)
        kv_reply_free(reply->elements[i]);
    free(reply->elements);
    free(reply->str);
    free(reply);
}

int
kv_eval(const char *script, size_t nkeys, const char *const *keys, size_t nargs,
        const char *const *args, jw_kv_reply **reply)
{
    if (!reply)
        return JW_EINVAL;
    *reply = NULL;
    if (!script || (nkeys && !keys) || (nargs && !args) || nkeys > 1000000 || nargs > 1000000)
        return JW_EINVAL;
    kv_conn *kc;
    int code = conn_get(&kc);
    if (code != JW_OK)
        return code;

    size_t slen = strlen(script);
    const char *sha = script_sha(kc, script, slen);
    if (!sha)
        return JW_ENOMEM;
    size_t argc = 3 + nkeys + nargs;
    const char *sargv[KV_STACK_ARGS];
    size_t slens[KV_STACK_ARGS];
    const char **argv = sargv;
    size_t *lens = slens;
    if (argc > KV_STACK_ARGS) {
        argv = malloc(argc * sizeof(*argv));
        lens = malloc(argc * sizeof(*lens));
        if (!argv || !lens) {
            free(argv);
            free(lens);
            return JW_ENOMEM;
        }
    }
    char nk[24];
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = sha;
    lens[1] = 40;
    argv[2] = nk;
    lens[2] = (size_t)snprintf(nk, sizeof(nk), "%zu", nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        argv[3 + i] = keys[i];
        lens[3 + i] = strlen(keys[i]);
    }
    for (size_t i = 0; i < nargs; i++) {
        argv[3 + nkeys + i] = args[i];
        lens[3 + nkeys + i] = strlen(args[i]);
    }

    redisReply *rep = command(kc, (int)argc, argv, lens, &code);
    if (rep && rep->type == REDIS_REPLY_ERROR && rep->len >= 8 &&
        memcmp(rep->str, "NOSCRIPT", 8) == 0) {
        /* Not in Redis's cache (restart, SCRIPT FLUSH): EVAL runs and caches it. */
        freeReplyObject(rep);
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = script;
        lens[1] = slen;
        rep = command(kc, (int)argc, argv, lens, &code);
    }
    if (argv != sargv) {
        free(argv);
        free(lens);
    }
    if (!rep)
        return code;
    *reply = reply_copy(rep);
    freeReplyObject(rep);
    return *reply ? JW_OK : JW_ENOMEM;
}
