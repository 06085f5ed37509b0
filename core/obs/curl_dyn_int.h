/*
 * curl_dyn -- libcurl loaded on demand.
 *
 * Debian's libcurl4 drags in krb5, ldap, ssh2, rtmp, nghttp2, sasl, brotli,
 * zstd...: about 1.6 MB of resident pages per process when linked. Only the
 * OTLP exporter needs it, so jetway does not link it: the first
 * curl_dyn_load() dlopen()s CURL_DYN_LIBRARY and resolves the few functions
 * otlp.c calls. <curl/curl.h> is still used for the types and constants.
 *
 * The library stays loaded for the life of the process (libcurl and
 * OpenSSL do not survive dlclose: atexit handlers and thread-local state
 * would point into unmapped code). The handle is kept in a static, so leak
 * checkers see it as still reachable.
 */
#ifndef JW_CURL_DYN_H
#define JW_CURL_DYN_H

#include <curl/curl.h>
#include <stddef.h>

/* A build may name another soname (-DCURL_DYN_LIBRARY=...). */
#ifndef CURL_DYN_LIBRARY
#define CURL_DYN_LIBRARY "libcurl.so.4"
#endif

typedef CURLcode (*curl_dyn_global_init_fn)(long flags);
typedef void (*curl_dyn_global_cleanup_fn)(void);
typedef CURL *(*curl_dyn_easy_init_fn)(void);
typedef CURLcode (*curl_dyn_easy_setopt_fn)(CURL *curl, CURLoption option, ...);
typedef CURLcode (*curl_dyn_easy_perform_fn)(CURL *curl);
typedef CURLcode (*curl_dyn_easy_getinfo_fn)(CURL *curl, CURLINFO info, ...);
typedef const char *(*curl_dyn_easy_strerror_fn)(CURLcode code);
typedef void (*curl_dyn_easy_cleanup_fn)(CURL *curl);
typedef struct curl_slist *(*curl_dyn_slist_append_fn)(struct curl_slist *list, const char *string);
typedef void (*curl_dyn_slist_free_all_fn)(struct curl_slist *list);

/*
 * The resolved entry points. Filled once under a lock by curl_dyn_load()
 * and read-only afterwards; any thread may call through it.
 */
typedef struct curl_dyn {
    curl_dyn_global_init_fn global_init;
    curl_dyn_global_cleanup_fn global_cleanup;
    curl_dyn_easy_init_fn easy_init;
    curl_dyn_easy_setopt_fn easy_setopt;
    curl_dyn_easy_perform_fn easy_perform;
    curl_dyn_easy_getinfo_fn easy_getinfo;
    curl_dyn_easy_strerror_fn easy_strerror;
    curl_dyn_easy_cleanup_fn easy_cleanup;
    curl_dyn_slist_append_fn slist_append;
    curl_dyn_slist_free_all_fn slist_free_all;
} curl_dyn;

/*
 * Load libcurl (once per process; later calls return the same table).
 * Any thread. Returns the table, or NULL with a reason naming the library
 * and dlerror() in err.
 */
const curl_dyn *curl_dyn_load(char *err, size_t errlen);

#endif /* JW_CURL_DYN_H */
