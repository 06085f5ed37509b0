/*
 * curl_dyn.c -- see curl_dyn.h.
 */
#include "curl_dyn_int.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/*
 * Process-wide, under `mu`: the handle (never closed) and the table, which
 * is complete and read-only once `loaded` is set.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *handle;
static curl_dyn table;
static int loaded;

/*
 * dlsym returns void *; ISO C has no conversion to a function pointer, so
 * the bytes are copied (what POSIX's own example for dlsym recommends).
 */
static int
resolve(void *h, const char *name, void *fnptr, size_t size, char *err, size_t errlen)
{
    dlerror();
    void *sym = dlsym(h, name);
    const char *e = dlerror();
    if (e || !sym) {
        snprintf(err, errlen, "%s: no symbol %s: %s", CURL_DYN_LIBRARY, name,
                 e ? e : "NULL address");
        return -1;
    }
    memcpy(fnptr, &sym, size);
    return 0;
}

#define RESOLVE(field, name) resolve(h, name, &t.field, sizeof(t.field), err, errlen)

const curl_dyn *
curl_dyn_load(char *err, size_t errlen)
{
    pthread_mutex_lock(&mu);
    if (loaded) {
        pthread_mutex_unlock(&mu);
        return &table;
    }
    void *h = handle;
    if (!h) {
        h = dlopen(CURL_DYN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            snprintf(err, errlen, "cannot load %s (package libcurl4): %s", CURL_DYN_LIBRARY,
                     e ? e : "unknown error");
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        handle = h; /* kept even if a symbol is missing: dlclose is unsafe here */
    }
    curl_dyn t;
    if (RESOLVE(global_init, "curl_global_init") < 0 ||
        RESOLVE(global_cleanup, "curl_global_cleanup") < 0 ||
        RESOLVE(easy_init, "curl_easy_init") < 0 || RESOLVE(easy_setopt, "curl_easy_setopt") < 0 ||
        RESOLVE(easy_perform, "curl_easy_perform") < 0 ||
        RESOLVE(easy_getinfo, "curl_easy_getinfo") < 0 ||
        RESOLVE(easy_strerror, "curl_easy_strerror") < 0 ||
        RESOLVE(easy_cleanup, "curl_easy_cleanup") < 0 ||
        RESOLVE(slist_append, "curl_slist_append") < 0 ||
        RESOLVE(slist_free_all, "curl_slist_free_all") < 0) {
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    table = t;
    loaded = 1;
    pthread_mutex_unlock(&mu);
    return &table;
}
