/*
 * watch.c -- see watch_int.h.
 */
#include "watch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reload_int.h"
#include "base/base.h"

/*
 * The watcher. Owned by rt (r->watch), loop thread only, except `hash_req`
 * and the `digest_*` fields, which the threadpool work reads and writes
 * while `hashing` is set and the loop does not touch them.
 */
typedef struct watch {
    rt_host *r;
    uv_fs_event_t dir_ev;      /* the directory of the path as given */
    uv_fs_event_t target_ev;   /* the directory the path resolves into, if another */
    int target_on;             /* target_ev started */
    char dir[PATH_MAX];        /* watched by dir_ev */
    char target_dir[PATH_MAX]; /* watched by target_ev ("" = none) */
    uv_timer_t debounce;
    uv_work_t hash_req;
    int hashing;        /* a hash is on the threadpool */
    int again;          /* an event came while hashing: hash once more */
    int closing;        /* watch_stop called: free when the handles and work are done */
    int open_handles;   /* closed handles not yet called back */
    char last[65];      /* digest that last requested a reload (or the running config's) */
    char digest[65];    /* threadpool: the file's digest, "" when unreadable */
    char error[160];    /* threadpool: why it is unreadable */
    unsigned long seen; /* events, for the debug log */
} watch;

static void
free_if_done(watch *w)
{
    if (w->closing && w->open_handles == 0 && !w->hashing)
        free(w);
}

static void
on_handle_closed(uv_handle_t *h)
{
    watch *w = h->data;
    w->open_handles--;
    free_if_done(w);
}

/* dirname into out (PATH_MAX). */
static void
dir_of(const char *path, char *out)
{
    snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, PATH_MAX, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status);

/*
 * Watch the directory the path resolves into, when it is not the one
 * watched anyway. Re-run after each change: a ConfigMap swap moves the
 * resolved file into a new `..<timestamp>` directory.
 */
static void
rearm_target(watch *w)
{
    char real[PATH_MAX], tdir[PATH_MAX] = "";
    if (realpath(w->r->config_path, real)) {
        dir_of(real, tdir);
        char realdir[PATH_MAX];
        if (realpath(w->dir, realdir) && strcmp(realdir, tdir) == 0)
            tdir[0] = '\0'; /* same directory: dir_ev sees it */
    }
    if (strcmp(tdir, w->target_dir) == 0)
        return;
    if (w->target_on) {
        uv_fs_event_stop(&w->target_ev);
        w->target_on = 0;
    }
    snprintf(w->target_dir, sizeof(w->target_dir), "%s", tdir);
    if (tdir[0]) {
        int rc = uv_fs_event_start(&w->target_ev, on_fs_event, tdir, 0);
        if (rc == 0)
            w->target_on = 1;
        else
            log_warn("watch-config: cannot watch %s: %s", tdir, uv_strerror(rc));
    }
}

/* Threadpool: SHA-256 of the file's bytes, as config_load computes it. */
static void
hash_work(uv_work_t *req)
{
    watch *w = req->data;
    w->digest[0] = '\0';
    w->error[0] = '\0';
    int fd = open(w->r->config_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(w->error, sizeof(w->error), "%s", strerror(errno));
        return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    char buf[16384];
    ssize_t n;
    while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(w->error, sizeof(w->error), "%s", strerror(errno));
            ok = 0;
            break;
        }
        ok = EVP_DigestUpdate(md, buf, (size_t)n) == 1;
    }
    close(fd);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (ok && EVP_DigestFinal_ex(md, d, &dlen) == 1 && dlen == 32) {
        for (unsigned int i = 0; i < dlen; i++)
            snprintf(w->digest + 2 * i, 3, "%02x", d[i]);
    } else if (!w->error[0]) {
        snprintf(w->error, sizeof(w->error), "cannot hash");
    }
    EVP_MD_CTX_free(md);
}

static void start_hash(watch *w);

static void
hash_done(uv_work_t *req, int status)
{
    watch *w = req->data;
    w->hashing = 0;
    if (w->closing || status != 0) {
        free_if_done(w);
        return;
    }
    rt_host *r = w->r;
    rearm_target(w);
    if (!w->digest[0]) {
        /* Mid-swap or removed: the next event (the new file appearing) hashes again. */
        log_debug("watch-config: cannot read %s: %s", r->config_path, w->error);
    } else if (strcmp(w->digest, w->last) != 0) {
        log_info("watch-config: %s changed (sha256 %.12s); reloading", r->config_path, w->digest);
        memcpy(w->last, w->digest, sizeof(w->last));
        if (!r->draining)
            reload_request(r);
    } else if (w->seen) {
        log_info("watch-config: %lu event(s) in %s, content unchanged", w->seen, w->dir);
    }
    w->seen = 0;
    if (w->again) {
        w->again = 0;
        start_hash(w);
    }
}

static void
start_hash(watch *w)
{
    if (w->hashing) {
        w->again = 1;
        return;
    }
    w->hash_req.data = w;
    if (uv_queue_work(w->r->loop, &w->hash_req, hash_work, hash_done) == 0)
        w->hashing = 1;
    else
        log_warn("watch-config: cannot queue the hash");
}

static void
on_debounce(uv_timer_t *t)
{
    start_hash(t->data);
}

static void
on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)name;
    (void)events;
    watch *w = h->data;
    if (w->closing)
        return;
    if (status < 0) {
        log_warn("watch-config: %s", uv_strerror(status));
        return;
    }
    w->seen++;
    uv_timer_start(&w->debounce, on_debounce, WATCH_DEBOUNCE_MS, 0);
}

int
watch_start(rt_host *r)
{
    watch *w = calloc(1, sizeof(*w));
    if (!w) {
        log_error("watch-config: out of memory");
        return -1;
    }
    w->r = r;
    dir_of(r->config_path, w->dir);
    /* The running config is what the file held when it was loaded. */
    snprintf(w->last, sizeof(w->last), "%s", r->cur->cfg->digest);
    uv_fs_event_init(r->loop, &w->dir_ev);
    uv_fs_event_init(r->loop, &w->target_ev);
    uv_timer_init(r->loop, &w->debounce);
    w->dir_ev.data = w->target_ev.data = w->debounce.data = w;
    w->open_handles = 3;
    int rc = uv_fs_event_start(&w->dir_ev, on_fs_event, w->dir, 0);
    if (rc != 0) {
        log_error("watch-config: cannot watch %s: %s", w->dir, uv_strerror(rc));
        r->watch = w;
        watch_stop(r);
        return -1;
    }
    rearm_target(w);
    r->watch = w;
    log_info("watch-config: watching %s%s%s for changes to %s", w->dir,
             w->target_dir[0] ? " and " : "", w->target_dir, r->config_path);
    /* A change between loading and watching would otherwise go unseen. */
    start_hash(w);
    return 0;
}

void
watch_stop(rt_host *r)
{
    watch *w = r->watch;
    if (!w)
        return;
    r->watch = NULL;
    w->closing = 1;
    uv_close((uv_handle_t *)&w->dir_ev, on_handle_closed);
    uv_close((uv_handle_t *)&w->target_ev, on_handle_closed);
    uv_close((uv_handle_t *)&w->debounce, on_handle_closed);
}
