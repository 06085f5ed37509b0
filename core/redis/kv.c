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
    int loaded; /* run on the current connection: Redis has it cached */
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
        /* A new connection may reach a Redis that restarted. */
        for (int i = 0; i < KV_SCRIPT_CACHE; i++)
            kc->scripts[i].loaded = 0;
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

/* The script's cache slot (SHA-1 in hex), from this thread's cache or
 * computed; valid until the next script_slot() of this thread. */
static kv_script *
script_slot(kv_conn *kc, const char *script, size_t len)
{
    for (int i = 0; i < KV_SCRIPT_CACHE; i++) {
        kv_script *s = &kc->scripts[i];
        if (s->text && s->len == len && memcmp(s->text, script, len) == 0)
            return s;
    }
    kv_script *s = &kc->scripts[kc->next_slot++ % KV_SCRIPT_CACHE];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    free(s->text);
    s->text = NULL;
    s->loaded = 0;
    if (EVP_Digest(script, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return NULL;
    s->text = malloc(len + 1);
    s->len = len;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        s->sha[2 * i] = hex[md[i] >> 4];
        s->sha[2 * i + 1] = hex[md[i] & 15];
    }
    s->sha[40] = '\0';
    if (!s->text)
        return NULL;
    memcpy(s->text, script, len + 1);
    return s;
}

static const char *
script_sha(kv_conn *kc, const char *script, size_t len)
{
    kv_script *s = script_slot(kc, script, len);
    return s ? s->sha : NULL;
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

/* Argument vectors of one command, on the stack up to KV_STACK_ARGS. */
typedef struct kv_argv {
    const char *sargv[KV_STACK_ARGS];
    size_t slens[KV_STACK_ARGS];
    const char **argv;
    size_t *lens;
    char nk[24];
} kv_argv;

static int
argv_init(kv_argv *a, size_t argc)
{
    a->argv = a->sargv;
    a->lens = a->slens;
    if (argc <= KV_STACK_ARGS)
        return JW_OK;
    a->argv = malloc(argc * sizeof(*a->argv));
    a->lens = malloc(argc * sizeof(*a->lens));
    if (!a->argv || !a->lens) {
        free(a->argv);
        free(a->lens);
        a->argv = NULL;
        a->lens = NULL;
        return JW_ENOMEM;
    }
    return JW_OK;
}

static void
argv_free(kv_argv *a)
{
    if (a->argv != a->sargv) {
        free(a->argv);
        free(a->lens);
    }
}

static int
cmd_valid(const jw_kv_cmd *c)
{
    if ((c->nkeys && !c->keys) || (c->nargs && !c->args) || c->nkeys > 1000000 ||
        c->nargs > 1000000)
        return 0;
    for (size_t i = 0; i < c->nkeys; i++) {
        if (!c->keys[i])
            return 0;
    }
    for (size_t i = 0; i < c->nargs; i++) {
        if (!c->args[i])
            return 0;
    }
    /* A plain command names itself in args[0] and has no separate keys. */
    return c->script ? 1 : c->nargs > 0 && c->nkeys == 0;
}

/*
 * Append command c to the connection's output buffer: a plain command as
 * is; a script as EVALSHA, or as EVAL when `eval` (its first run on this
 * connection, or the answer to NOSCRIPT).
 */
static int
append_cmd(kv_conn *kc, const jw_kv_cmd *c, int eval)
{
    kv_argv a;
    size_t argc = c->script ? 3 + c->nkeys + c->nargs : c->nargs;
    int code = argv_init(&a, argc);
    if (code != JW_OK)
        return code;
    if (c->script) {
        size_t slen = strlen(c->script);
        kv_script *sc = script_slot(kc, c->script, slen);
        if (!sc) {
            argv_free(&a);
            return JW_ENOMEM;
        }
        if (!sc->loaded)
            eval = 1;
        /* The EVAL runs before any later command of the pipeline, so those
         * may use EVALSHA. */
        sc->loaded = 1;
        a.argv[0] = eval ? "EVAL" : "EVALSHA";
        a.lens[0] = eval ? 4 : 7;
        a.argv[1] = eval ? c->script : sc->sha;
        a.lens[1] = eval ? slen : 40;
        a.argv[2] = a.nk;
        a.lens[2] = (size_t)snprintf(a.nk, sizeof(a.nk), "%zu", c->nkeys);
        for (size_t i = 0; i < c->nkeys; i++) {
            a.argv[3 + i] = c->keys[i];
            a.lens[3 + i] = strlen(c->keys[i]);
        }
        for (size_t i = 0; i < c->nargs; i++) {
            a.argv[3 + c->nkeys + i] = c->args[i];
            a.lens[3 + c->nkeys + i] = strlen(c->args[i]);
        }
    } else {
        for (size_t i = 0; i < c->nargs; i++) {
            a.argv[i] = c->args[i];
            a.lens[i] = strlen(c->args[i]);
        }
    }
    /* Copies the formatted command into hiredis's buffer: nothing is sent
     * yet (the first redisGetReply writes the whole pipeline). */
    code = redisAppendCommandArgv(kc->c, (int)argc, a.argv, a.lens) == REDIS_OK ? JW_OK : JW_ENOMEM;
    argv_free(&a);
    return code;
}

static int
is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Read one reply; NULL sets *code and drops the connection. */
static redisReply *
get_reply(kv_conn *kc, int *code)
{
    void *rep = NULL;
    errno = 0;
    if (redisGetReply(kc->c, &rep) != REDIS_OK || !rep) {
        *code = io_code(kc->c, errno);
        drop(kc, *code);
        return NULL;
    }
    return rep;
}

int
kv_pipeline(const jw_kv_cmd *cmds, size_t n, jw_kv_reply **replies)
{
    if (!replies || (n && !cmds))
        return JW_EINVAL;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cmd_valid(&cmds[i]))
            return JW_EINVAL;
    }
    if (n == 0)
        return JW_OK;
    kv_conn *kc;
    int code = conn_get(&kc);
    if (code != JW_OK)
        return code;
    redisReply *sraw[64];
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of reply pointers
    redisReply **raw = n <= 64 ? sraw : calloc(n, sizeof(*raw));
    if (!raw)
        return JW_ENOMEM;
    size_t appended = 0, got = 0, nretry = 0;
    for (; appended < n; appended++) {
        code = append_cmd(kc, &cmds[appended], 0);
        if (code != JW_OK)
            break;
    }
    /* Even after a failed append, read what was queued: the connection's
     * stream must stay in step (or be dropped). */
    for (; got < appended; got++) {
        int rc = JW_OK;
        raw[got] = get_reply(kc, &rc);
        if (!raw[got]) {
            code = rc;
            break;
        }
        if (cmds[got].script && is_noscript(raw[got]))
            nretry++;
    }
    if (code == JW_OK && nretry) {
        /* Redis lost its script cache while we were connected (SCRIPT
         * FLUSH): EVAL those commands now, in their order. */
        for (int i = 0; i < KV_SCRIPT_CACHE; i++)
            kc->scripts[i].loaded = 0;
        size_t sent = 0;
        for (size_t i = 0; i < n && code == JW_OK; i++) {
            if (cmds[i].script && is_noscript(raw[i])) {
                code = append_cmd(kc, &cmds[i], 1);
                if (code == JW_OK)
                    sent++;
            }
        }
        for (size_t i = 0; i < n && sent && kc->c; i++) {
            if (!(cmds[i].script && is_noscript(raw[i])))
                continue;
            int rc = JW_OK;
            redisReply *r = get_reply(kc, &rc);
            if (!r) {
                code = rc;
                break;
            }
            freeReplyObject(raw[i]);
            raw[i] = r;
            sent--;
        }
        if (code != JW_OK && kc->c)
            drop(kc, code); /* replies left unread: out of step */
    }
    for (size_t i = 0; i < got && code == JW_OK; i++) {
        replies[i] = reply_copy(raw[i]);
        if (!replies[i])
            code = JW_ENOMEM;
    }
    for (size_t i = 0; i < got; i++)
        freeReplyObject(raw[i]);
    if (raw != sraw)
        free(raw);
    if (code != JW_OK) {
        for (size_t i = 0; i < n; i++) {
            kv_reply_free(replies[i]);
            replies[i] = NULL;
        }
    }
    return code;
}
