/*
 * audit_archive.c -- the uploader thread of the audit archive (see
 * audit_archive.h for what "archived" means).
 *
 * The thread works from the directory, not from a queue: each round it
 * takes the lowest sealed segment that is on disk without a sidecar. So a
 * segment whose upload failed, or that was sealed before a restart, is
 * never forgotten, and nothing but the files has to survive a crash. The
 * handlers never wait for it: audit_archive_sealed() only stores a number.
 *
 * Retention keeps the newest keep_local archived segments on disk and
 * never deletes the newest sealed segment, whatever keep_local says: the
 * log recovers its chain head and its duplicate window from it when it
 * starts (audit_log.c, log_recover).
 */
#include "audit_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_format.h"
#include "audit_s3.h"

#define SIDECAR_SUFFIX ".archived"

/* One per plugin instance; created by open, freed by close. Fields below mu
 * are shared between the uploader thread and audit_archive_sealed callers. */
struct audit_archive {
    /* immutable after open */
    char *dir;
    audit_s3 s3;
    int64_t keep_local;
    int64_t retry_min_ms, retry_max_ms;
    const jw_host *host;
    jw_instance *inst;
    uint32_t ctr_archived, ctr_failures, ctr_deleted;
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_cond_t cv;    /* a seal or stop */
    uint32_t sealed_upto; /* segments 1..sealed_upto are sealed */
    int stop;
    atomic_int cancel; /* = stop, read by curl's progress callback without mu */
};

static void arch_log(const audit_archive *a, jw_log_level level, const char *fmt, ...)
    JW_PRINTF(3, 4);

static void
arch_log(const audit_archive *a, jw_log_level level, const char *fmt, ...)
{
    if (!a->host || !a->host->log)
        return;
    char line[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    a->host->log(a->inst, NULL, level, "%s", line);
}

static void
arch_count(const audit_archive *a, uint32_t id)
{
    if (a->host && a->host->counter_add)
        a->host->counter_add(a->inst, id, 1);
}

static int
has_sidecar(const char *dir, uint32_t no)
{
    char name[AUD_SEG_NAME_MAX], path[4096];
    aud_segment_name(no, name);
    snprintf(path, sizeof path, "%s/%s" SIDECAR_SUFFIX, dir, name);
    return access(path, F_OK) == 0;
}

static int
read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char *p = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (p && got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    int e = !p ? ENOMEM : got != (size_t)st.st_size ? EIO : 0;
    close(fd);
    if (e) {
        free(p);
        return -e;
    }
    *out = p;
    *len = got;
    return 0;
}

static int
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -errno;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write the sidecar durably: temporary name, fsync, rename, fsync dir. */
static int
write_sidecar(const audit_archive *a, const char *name, size_t size, const audit_s3_sums *sums,
              char *err, size_t errlen)
{
    char tmp[4096], path[4096], body[1024];
    snprintf(path, sizeof path, "%s/%s" SIDECAR_SUFFIX, a->dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s" SIDECAR_SUFFIX ".tmp", a->dir, name);
    int n = snprintf(body, sizeof body,
                     "{\"bucket\":\"%s\",\"key\":\"%s%s\",\"size\":%zu,\"md5\":\"%s\","
                     "\"sha256\":\"%s\"}\n",
                     a->s3.bucket, a->s3.prefix, name, size, sums->md5_hex, sums->sha256_hex);
    errno = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = 0;
    if (fd < 0 || write(fd, body, (size_t)n) != n || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_dir(a->dir);
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "write %.300s: %s", path, strerror(-rc));
    }
    return rc;
}

/* Upload, verify and mark segment no. 0 or -errno with err. */
static int
archive_one(audit_archive *a, uint32_t no, char *err, size_t errlen)
{
    char name[AUD_SEG_NAME_MAX], path[4096];
    aud_segment_name(no, name);
    snprintf(path, sizeof path, "%s/%s", a->dir, name);
    char *body = NULL;
    size_t len = 0;
    int rc = read_file(path, &body, &len);
    if (rc != 0) {
        snprintf(err, errlen, "read %.300s: %s", path, strerror(-rc));
        return rc;
    }
    audit_s3_sums sums;
    if ((rc = audit_s3_sums_of(body, len, &sums)) != 0)
        snprintf(err, errlen, "checksums of %s failed", name);
    if (rc == 0)
        rc = audit_s3_put_verified(&a->s3, name, body, len, &sums, err, errlen);
    free(body);
    if (rc == 0)
        rc = write_sidecar(a, name, len, &sums, err, errlen);
    return rc;
}

/* Delete archived segments beyond keep_local (see the top comment). */
static void
apply_retention(audit_archive *a, uint32_t sealed_upto)
{
    if (a->keep_local < 0)
        return;
    uint32_t *nos = NULL;
    size_t n = 0;
    if (aud_segments_list(a->dir, &nos, &n) != 0)
        return;
    size_t archived = 0;
    for (size_t i = 0; i < n; i++) {
        if (nos[i] <= sealed_upto && has_sidecar(a->dir, nos[i]))
            nos[archived++] = nos[i];
    }
    int deleted = 0;
    for (size_t i = 0; i + (size_t)a->keep_local < archived; i++) {
        if (nos[i] == sealed_upto)
            continue;
        char name[AUD_SEG_NAME_MAX], path[4096];
        aud_segment_name(nos[i], name);
        snprintf(path, sizeof path, "%s/%s", a->dir, name);
        if (unlink(path) != 0) {
            arch_log(a, JW_LOG_WARN, "audit archive: delete %s: %s", path, strerror(errno));
            continue;
        }
        deleted = 1;
        arch_count(a, a->ctr_deleted);
        arch_log(a, JW_LOG_DEBUG, "audit archive: deleted the archived local copy %s", path);
    }
    if (deleted)
        fsync_dir(a->dir);
    free(nos);
}

/* The lowest sealed segment on disk without a sidecar, or 0. */
static uint32_t
next_pending(const audit_archive *a, uint32_t sealed_upto)
{
    uint32_t *nos = NULL, found = 0;
    size_t n = 0;
    if (aud_segments_list(a->dir, &nos, &n) != 0)
        return 0;
    for (size_t i = 0; i < n && nos[i] <= sealed_upto; i++) {
        if (!has_sidecar(a->dir, nos[i])) {
            found = nos[i];
            break;
        }
    }
    free(nos);
    return found;
}

static void
deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *
archive_thread(void *arg)
{
    audit_archive *a = arg;
    int64_t backoff = a->retry_min_ms;
    unsigned attempt = 0;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        uint32_t upto = a->sealed_upto;
        pthread_mutex_unlock(&a->mu);
        uint32_t no = next_pending(a, upto);
        char err[512] = "";
        int rc = no ? archive_one(a, no, err, sizeof err) : 0;
        if (rc == 0)
            apply_retention(a, upto);
        pthread_mutex_lock(&a->mu);
        if (no && rc == 0) {
            arch_count(a, a->ctr_archived);
            if (attempt > 0)
                arch_log(a, JW_LOG_INFO,
                         "audit archive: segment %" PRIu32 " archived after %u failed attempts", no,
                         attempt);
            backoff = a->retry_min_ms;
            attempt = 0;
            continue;
        }
        if (no && a->stop)
            break; /* abandoned by close: the next start uploads it */
        if (no) {
            attempt++;
            arch_count(a, a->ctr_failures);
            arch_log(a, JW_LOG_WARN,
                     "audit archive: segment %" PRIu32 " not archived (attempt %u, next in %" PRId64
                     " ms; the local copy stays): %s",
                     no, attempt, backoff, err);
            struct timespec dl;
            deadline_after(&dl, backoff);
            while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &dl) != ETIMEDOUT) {
            }
            backoff = backoff * 2 > a->retry_max_ms ? a->retry_max_ms : backoff * 2;
            continue;
        }
        while (!a->stop && a->sealed_upto == upto)
            pthread_cond_wait(&a->cv, &a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int
audit_archive_open(const audit_archive_cfg *cfg, audit_archive **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->bucket || !cfg->bucket[0]) {
        snprintf(err, errlen, "config: archive_bucket is required with archive_endpoint");
        return -EINVAL;
    }
    if (cfg->retry_min_ms < 1 || cfg->retry_max_ms < cfg->retry_min_ms) {
        snprintf(err, errlen, "config: archive_retry_min must be >= 1ms and <= archive_retry_max");
        return -EINVAL;
    }
    audit_archive *a = calloc(1, sizeof *a);
    if (!a || !(a->dir = strdup(cfg->dir))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char serr[256];
    int rc = audit_s3_init(&a->s3, cfg->endpoint, cfg->bucket, cfg->prefix, cfg->region,
                           cfg->creds_file, serr, sizeof serr);
    if (rc != 0) {
        snprintf(err, errlen, "config: archive: %s", serr);
        free(a->dir);
        free(a);
        return rc;
    }
    atomic_init(&a->cancel, 0);
    a->s3.cancel = &a->cancel;
    a->keep_local = cfg->keep_local;
    a->retry_min_ms = cfg->retry_min_ms;
    a->retry_max_ms = cfg->retry_max_ms;
    a->host = cfg->host;
    a->inst = cfg->inst;
    a->ctr_archived = cfg->ctr_archived;
    a->ctr_failures = cfg->ctr_failures;
    a->ctr_deleted = cfg->ctr_deleted;
    uint32_t *nos = NULL;
    size_t n = 0;
    rc = aud_segments_list(a->dir, &nos, &n);
    a->sealed_upto = rc == 0 && n > 0 ? nos[n - 1] - 1 : 0;
    free(nos);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = pthread_create(&a->thread, NULL, archive_thread, a)) != 0) {
        snprintf(err, errlen, "start the archive thread: %s", strerror(rc));
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        audit_s3_free(&a->s3);
        free(a->dir);
        free(a);
        return -rc;
    }
    arch_log(a, JW_LOG_INFO, "audit archive: %s/%s/%s, %" PRIu32 " sealed segments", a->s3.endpoint,
             a->s3.bucket, a->s3.prefix, a->sealed_upto);
    *out = a;
    return 0;
}

void
audit_archive_sealed(audit_archive *a, uint32_t no)
{
    pthread_mutex_lock(&a->mu);
    if (no > a->sealed_upto) {
        a->sealed_upto = no;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

void
audit_archive_close(audit_archive *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    atomic_store(&a->cancel, 1);
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    audit_s3_free(&a->s3);
    free(a->dir);
    free(a);
}
