/*
 * kv.h -- the key-value service plugins get through jw_host (kv_get, kv_set,
 * kv_setnx, kv_del, kv_incr, kv_eval): blocking Redis calls from worker
 * threads, on one synchronous hiredis connection per calling thread
 * (thread-local, created on first use, reconnected after an error), with
 * redis.timeout as the socket timeout. The loop never calls these.
 *
 * kv_eval caches each script's SHA-1 and uses EVALSHA, falling back to EVAL
 * on NOSCRIPT. Replies are deep-copied into jw_kv_reply trees the caller
 * frees with kv_reply_free.
 *
 * Threads: any thread except the loop; kv_setup() once at start (main
 * thread) with the config's redis section, kv_thread_cleanup() at the exit
 * of every thread that used kv (the worker pool calls it).
 */
#ifndef JW_KV_H
#define JW_KV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jetway/plugin.h"

void kv_setup(const cfg_redis *cfg); /* copies what it needs; NULL = no redis */
void kv_teardown(void);
void kv_thread_cleanup(void);

int kv_get(const char *key, char **value, size_t *len);
int kv_set(const char *key, const void *value, size_t len, int64_t ttl_ms);
int kv_setnx(const char *key, const void *value, size_t len, int64_t ttl_ms);
int kv_del(const char *key);
int kv_incr(const char *key, int64_t by, int64_t *result);
int kv_eval(const char *script, size_t nkeys, const char *const *keys, size_t nargs,
            const char *const *args, jw_kv_reply **reply);
void kv_reply_free(jw_kv_reply *reply);

#endif /* JW_KV_H */
