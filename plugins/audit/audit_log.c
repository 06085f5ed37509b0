/*
 * audit_log.c -- append, rotate, group-commit and recover the audit log.
 *
 * Durability: audit_log_append() returns only after its record is fsynced,
 * so the host's ACK implies the record is on disk. Concurrent appenders
 * share fsyncs (group commit): the first one waiting becomes the leader,
 * waits up to fsync_interval for the handlers that have entered but not yet
 * appended (at most until fsync_batch records are unsynced), fsyncs once
 * outside the mutex, and wakes every record it covered. A lone handler
 * (nobody pending) never waits for the interval.
 *
 * Wake-ups are counted, because on a busy host each costs more than the
 * record: every waiter sleeps on its own condition variable, so the leader
 * wakes exactly the records its fsync covered, and hands leadership to one
 * waiter it did not cover; it is woken itself only when the last pending
 * handler has appended or the batch is full, not at every append.
 *
 * After a failed fsync the state of the page cache is unknown, so the log
 * stops (every later append fails, the host retries) until a restart, whose
 * recovery reads back what is really in the file.
 */
#include "audit_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_ids.h"

/* One handler waiting for record n to be on disk: on its own stack, linked
 * into audit_log.waiters while it waits; every field under audit_log.mu. */
typedef struct aud_waiter {
    struct aud_waiter *next;
    uint64_t n;
    int linked;
    pthread_cond_t cv;
} aud_waiter;

/* The keys of one segment's records; owned by audit_log.segs, under mu. */
typedef struct aud_seg_ids {
    audit_ids *ids;
    int64_t last_ms; /* wall clock of its newest record (ms since the epoch), or its mtime */
} aud_seg_ids;

/* One per plugin instance; created by open, freed by close. The fields under
 * `mu` are touched by every handler thread, holding mu. */
struct audit_log {
    /* immutable after open */
    char *dir;
    int dirfd;
    uint64_t segment_size;
    uint64_t fsync_batch;
    int64_t fsync_interval_ms;
    const jw_host *host;
    jw_instance *inst;
    uint32_t ctr_records, ctr_fsyncs, ctr_segments;
    void (*on_seal)(void *arg, uint32_t no);
    void *seal_arg;

    pthread_mutex_t mu;
    pthread_cond_t fill_cv;     /* the leader waits here for its batch to fill */
    pthread_cond_t done_cv;     /* a rotation waits here for the leader's fsync to end */
    struct aud_waiter *waiters; /* handlers waiting for their record's fsync */
    unsigned rotators;          /* rotations waiting on done_cv */
    int fd;                     /* current segment, O_APPEND */
    uint32_t seg_no;
    uint64_t seg_size;
    uint64_t next_n;              /* n of the next record */
    char head[AUD_HEX_LEN + 1];   /* hash of record next_n - 1 */
    int chain_known;              /* recovery: next_n/head are known */
    uint64_t written_n, synced_n; /* last record written / known on disk */
    unsigned pending;             /* handlers entered, not yet appended */
    int leader;                   /* someone is gathering a batch */
    int syncing;                  /* the leader is in fdatasync(fd) */
    int failed;
    char failmsg[160];
    /* The dedup keys of the newest segments, one set per segment, oldest
     * first, the last the current segment's: always the current and the
     * previous one, and the older ones holding a record appended within
     * dedup_window of now. Bounded by time, not by size, because that is
     * how a redelivery comes: ack_wait (plus the claim's lease) after the
     * delivery whose record was fsynced but whose commit a crash cut off,
     * however many records were appended meanwhile. A catch-up after a
     * kill -9 appends several segments in that time (the soak of issue 16:
     * ~1300 records/s, a 4 MiB segment every ~6 s, ack_wait 30 s). */
    struct aud_seg_ids *segs;
    size_t nsegs, segs_cap;
    int64_t dedup_window_ms;
    aud_buf buf; /* the record being appended */
};

static void log_msg(const audit_log *l, jw_log_level level, const char *fmt, ...) JW_PRINTF(3, 4);

static void
log_msg(const audit_log *l, jw_log_level level, const char *fmt, ...)
{
    if (!l->host || !l->host->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    l->host->log(l->inst, NULL, level, "%s", line);
}

static void
count(const audit_log *l, uint32_t id, uint64_t n)
{
    if (l->host && l->host->counter_add)
        l->host->counter_add(l->inst, id, n);
}

/* Stop the log for good (see the top comment). Holding mu. */
static void
fail_locked(audit_log *l, const char *what, int e)
{
    if (!l->failed) {
        snprintf(l->failmsg, sizeof l->failmsg, "%s: %s", what, strerror(e));
        log_msg(l, JW_LOG_ERROR, "audit log stopped: %s", l->failmsg);
    }
    l->failed = 1;
    pthread_cond_broadcast(&l->done_cv);
    pthread_cond_signal(&l->fill_cv);
    for (aud_waiter *w = l->waiters; w; w = w->next)
        pthread_cond_signal(&w->cv);
}

/*
 * After synced_n moved: wake the waiters it covers (unlinked here), then,
 * when nobody leads and some waiter is not covered, that one (it leads the
 * next group). Holding mu.
 */
static void
wake_synced_locked(audit_log *l)
{
    aud_waiter **pp = &l->waiters;
    while (*pp) {
        aud_waiter *w = *pp;
        if (w->n <= l->synced_n) {
            *pp = w->next;
            w->linked = 0;
            pthread_cond_signal(&w->cv);
        } else {
            pp = &w->next;
        }
    }
    if (!l->leader && l->waiters)
        pthread_cond_signal(&l->waiters->cv);
}

static int64_t
wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A new, empty key set as the newest (the segment just started or about to
 * be scanned). 0 or -ENOMEM. Holding mu, or before the log is shared. */
static int
segs_push(audit_log *l, int64_t last_ms)
{
    if (l->nsegs == l->segs_cap) {
        size_t cap = l->segs_cap ? l->segs_cap * 2 : 4;
        aud_seg_ids *bigger = realloc(l->segs, cap * sizeof *bigger);
        if (!bigger)
            return -ENOMEM;
        l->segs = bigger;
        l->segs_cap = cap;
    }
    audit_ids *ids = audit_ids_new();
    if (!ids)
        return -ENOMEM;
    l->segs[l->nsegs++] = (aud_seg_ids){.ids = ids, .last_ms = last_ms};
    return 0;
}

/* Forget the oldest segments' keys once their newest record is older than
 * the window; never the current and the previous segment's. Holding mu. */
static void
segs_prune(audit_log *l, int64_t now_ms)
{
    size_t drop = 0;
    /* A window of 0 remembers exactly the current and the previous segment
     * (timestamps of one millisecond would otherwise keep more). */
    while (l->nsegs - drop > 2 &&
           (l->dedup_window_ms == 0 || l->segs[drop].last_ms < now_ms - l->dedup_window_ms))
        audit_ids_free(l->segs[drop++].ids);
    if (drop > 0) {
        memmove(l->segs, l->segs + drop, (l->nsegs - drop) * sizeof *l->segs);
        l->nsegs -= drop;
    }
}

/* 1 and the record number when key is remembered (newest segment first). Holding mu. */
static int
log_known(const audit_log *l, const char *key, uint64_t *n)
{
    for (size_t i = l->nsegs; i-- > 0;) {
        if (audit_ids_get(l->segs[i].ids, key, n))
            return 1;
    }
    return 0;
}

/* Modification time of segment no in ms since the epoch (the time of its
 * last append), or INT64_MIN when it cannot be read. */
static int64_t
seg_mtime_ms(const audit_log *l, uint32_t no)
{
    char name[AUD_SEG_NAME_MAX];
    struct stat st;
    aud_segment_name(no, name);
    if (fstatat(l->dirfd, name, &st, 0) != 0)
        return INT64_MIN;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* stream "\n" message_id, or NULL when there is no id (or no memory). */
static char *
log_key(const char *stream, const char *id)
{
    if (!id)
        return NULL;
    if (!stream)
        stream = "";
    size_t a = strlen(stream), b = strlen(id);
    char *k = malloc(a + b + 2);
    if (!k)
        return NULL;
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): k is terminated by the copy of id below
    memcpy(k, stream, a);
    k[a] = '\n';
    memcpy(k + a + 1, id, b + 1);
    return k;
}

static int
mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return -e;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return 0;
}

/* Note a recovered record's key in ids. */
static void
log_note_key(audit_log *l, audit_ids *ids, const cJSON *rec, uint64_t n)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "message_id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "stream");
    if (!cJSON_IsString(id))
        return;
    char *key = log_key(cJSON_IsString(st) ? st->valuestring : NULL, id->valuestring);
    if (!key || audit_ids_put(ids, key, n) != 0)
        log_msg(l, JW_LOG_WARN, "out of memory remembering message ids");
    free(key);
}

/*
 * Read segment no, check its records and their chain, collect their keys,
 * advance next_n/head. A torn final line of the last segment is cut off.
 */
static int
log_scan(audit_log *l, uint32_t no, audit_ids *ids, int last, char *err, size_t errlen)
{
    char name[AUD_SEG_NAME_MAX];
    aud_segment_name(no, name);
    int fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);
    FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!fp) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "open %s/%s: %s", l->dir, name, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0;
    off_t good = 0; /* end of the last complete line */
    int rc = 0, torn = 0;
    while ((got = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (line[got - 1] != '\n') {
            torn = 1;
            break;
        }
        aud_rec rec;
        cJSON *obj = NULL;
        aud_err e = aud_line_check(line, (size_t)got - 1, &rec, &obj);
        const char *bad = e != AUD_OK                                        ? aud_err_str(e)
                          : l->chain_known && rec.n != l->next_n             ? "n not consecutive"
                          : l->chain_known && strcmp(rec.prev, l->head) != 0 ? "prev mismatch"
                                                                             : NULL;
        if (bad) {
            cJSON_Delete(obj);
            snprintf(err, errlen, "%s/%s:%" PRIu64 ": %s (run jetway audit verify)", l->dir, name,
                     lineno, bad);
            rc = -EILSEQ;
            break;
        }
        l->chain_known = 1;
        l->next_n = rec.n + 1;
        memcpy(l->head, rec.hash, sizeof l->head);
        log_note_key(l, ids, obj, rec.n);
        cJSON_Delete(obj);
        good += got;
    }
    if (rc == 0 && ferror(fp)) {
        rc = -EIO;
        snprintf(err, errlen, "read %s/%s: %s", l->dir, name, strerror(errno));
    }
    free(line);
    fclose(fp);
    if (rc == 0 && torn && !last) {
        snprintf(err, errlen, "%s/%s:%" PRIu64 ": torn line (run jetway audit verify)", l->dir,
                 name, lineno);
        rc = -EILSEQ;
    }
    if (rc == 0 && torn) {
        /* Never fsynced, so never acknowledged: the host redelivers it. */
        int wfd = openat(l->dirfd, name, O_WRONLY | O_CLOEXEC);
        if (wfd < 0 || ftruncate(wfd, good) != 0 || fdatasync(wfd) != 0) {
            rc = -errno;
            snprintf(err, errlen, "cut torn line of %s/%s: %s", l->dir, name, strerror(errno));
        } else {
            log_msg(l, JW_LOG_WARN, "cut the torn final line %" PRIu64 " of %s/%s", lineno, l->dir,
                    name);
        }
        if (wfd >= 0)
            close(wfd);
    }
    return rc;
}

static int
log_create_segment(audit_log *l, uint32_t no, char *err, size_t errlen)
{
    char name[AUD_SEG_NAME_MAX];
    aud_segment_name(no, name);
    int fd = openat(l->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "create %s/%s: %s", l->dir, name, strerror(e));
        return -e;
    }
    return fd;
}

static int
log_recover(audit_log *l, char *err, size_t errlen)
{
    uint32_t *nos = NULL;
    size_t n = 0;
    int rc = aud_segments_list(l->dir, &nos, &n);
    if (rc != 0) {
        snprintf(err, errlen, "list %s: %s", l->dir, strerror(-rc));
        return rc;
    }
    if (n == 0) {
        free(nos);
        l->seg_no = 1;
        l->next_n = 1;
        memcpy(l->head, AUD_ZERO_HASH, sizeof l->head);
        l->fd = log_create_segment(l, 1, err, errlen);
        if (l->fd < 0)
            return l->fd;
        if (fsync(l->dirfd) != 0) {
            int e = errno;
            snprintf(err, errlen, "fsync %s: %s", l->dir, strerror(e));
            return -e;
        }
        count(l, l->ctr_segments, 1);
        l->written_n = l->synced_n = 0;
        if (segs_push(l, wall_ms()) != 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        return 0;
    }
    l->seg_no = nos[n - 1];
    int have_prev = n >= 2 && nos[n - 2] == l->seg_no - 1;
    if (l->seg_no != 1 && !have_prev) {
        free(nos);
        char name[AUD_SEG_NAME_MAX];
        aud_segment_name(l->seg_no - 1, name);
        snprintf(err, errlen, "%s/%s: missing segment (run jetway audit verify)", l->dir, name);
        return -EILSEQ;
    }
    /* The keys to remember: the current and the previous segment's, and
     * those of the older segments (back to a gap: an archived one) last
     * written within dedup_window of the current one; see segs. */
    size_t first = n - 1;
    if (have_prev) {
        first = n - 2;
        int64_t newest = seg_mtime_ms(l, l->seg_no);
        while (first > 0 && nos[first - 1] == nos[first] - 1 && newest != INT64_MIN &&
               l->dedup_window_ms > 0 &&
               seg_mtime_ms(l, nos[first - 1]) >= newest - l->dedup_window_ms)
            first--;
    }
    if (nos[first] == 1) {
        l->chain_known = 1;
        l->next_n = 1;
        memcpy(l->head, AUD_ZERO_HASH, sizeof l->head);
    }
    for (size_t k = first; k < n && rc == 0; k++) {
        if ((rc = segs_push(l, seg_mtime_ms(l, nos[k]))) != 0)
            snprintf(err, errlen, "out of memory");
        else
            rc = log_scan(l, nos[k], l->segs[l->nsegs - 1].ids, k == n - 1, err, errlen);
    }
    free(nos);
    if (rc != 0)
        return rc;
    char name[AUD_SEG_NAME_MAX];
    aud_segment_name(l->seg_no, name);
    struct stat st;
    l->fd = openat(l->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (l->fd < 0 || fstat(l->fd, &st) != 0 || fdatasync(l->fd) != 0) {
        rc = -errno;
        snprintf(err, errlen, "open %s/%s: %s", l->dir, name, strerror(errno));
        return rc;
    }
    l->seg_size = (uint64_t)st.st_size;
    l->written_n = l->synced_n = l->next_n - 1;
    size_t keys = 0;
    for (size_t i = 0; i < l->nsegs; i++)
        keys += audit_ids_count(l->segs[i].ids);
    log_msg(l, JW_LOG_INFO,
            "audit log %s: %" PRIu64 " records, segment %s, head %s; %zu message ids of %zu "
            "segments remembered",
            l->dir, l->next_n - 1, name, l->head, keys, l->nsegs);
    return 0;
}

int
audit_log_open(const audit_log_cfg *cfg, audit_log **out, char *err, size_t errlen)
{
    *out = NULL;
    audit_log *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    l->fd = -1;
    l->dirfd = -1;
    l->segment_size = cfg->segment_size;
    l->fsync_batch = cfg->fsync_batch ? cfg->fsync_batch : 1;
    l->fsync_interval_ms = cfg->fsync_interval_ms;
    l->host = cfg->host;
    l->inst = cfg->inst;
    l->ctr_records = cfg->ctr_records;
    l->ctr_fsyncs = cfg->ctr_fsyncs;
    l->ctr_segments = cfg->ctr_segments;
    l->on_seal = cfg->on_seal;
    l->seal_arg = cfg->seal_arg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->fill_cv, &ca);
    pthread_cond_init(&l->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    l->dir = strdup(cfg->dir);
    l->dedup_window_ms = cfg->dedup_window_ms > 0 ? cfg->dedup_window_ms : 0;
    int rc;
    if (!l->dir) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    } else if ((rc = mkdir_p(l->dir)) != 0) {
        snprintf(err, errlen, "create %s: %s", l->dir, strerror(-rc));
    } else if ((l->dirfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "open %s: %s", l->dir, strerror(errno));
    } else {
        rc = log_recover(l, err, errlen);
    }
    if (rc != 0) {
        audit_log_close(l);
        return rc < 0 ? rc : -EIO;
    }
    *out = l;
    return 0;
}

void
audit_log_close(audit_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->fill_cv);
    pthread_cond_destroy(&l->done_cv);
    for (size_t i = 0; i < l->nsegs; i++)
        audit_ids_free(l->segs[i].ids);
    free(l->segs);
    free(l->buf.p);
    free(l->dir);
    free(l);
}

void
audit_log_enter(audit_log *l)
{
    pthread_mutex_lock(&l->mu);
    l->pending++;
    pthread_mutex_unlock(&l->mu);
}

static void
left_locked(audit_log *l)
{
    l->pending--;
    /* The leader gathers until nobody is pending or the batch is full. */
    if (l->leader && !l->syncing &&
        (l->pending == 0 || l->written_n - l->synced_n >= l->fsync_batch))
        pthread_cond_signal(&l->fill_cv);
}

void
audit_log_leave(audit_log *l)
{
    pthread_mutex_lock(&l->mu);
    left_locked(l);
    pthread_mutex_unlock(&l->mu);
}

/* Start the next segment. Holding mu, nobody in fdatasync. */
static int
log_rotate_locked(audit_log *l, char *err, size_t errlen)
{
    int fd = log_create_segment(l, l->seg_no + 1, err, errlen);
    if (fd < 0)
        return fd;
    /* The old segment's records must be on disk before we lose its fd. */
    if (fdatasync(l->fd) != 0 || fsync(l->dirfd) != 0) {
        int e = errno;
        close(fd);
        fail_locked(l, "fsync on rotation", e);
        snprintf(err, errlen, "audit log stopped: %s", l->failmsg);
        return -e;
    }
    count(l, l->ctr_fsyncs, 1);
    l->synced_n = l->written_n;
    wake_synced_locked(l);
    close(l->fd);
    l->fd = fd;
    l->seg_no++;
    l->seg_size = 0;
    /* Without memory for a new set, the new segment's keys join the old
     * one's: remembered for longer, never forgotten early. */
    int64_t now = wall_ms();
    if (segs_push(l, now) != 0)
        log_msg(l, JW_LOG_WARN, "out of memory remembering message ids");
    segs_prune(l, now);
    count(l, l->ctr_segments, 1);
    if (l->on_seal)
        l->on_seal(l->seal_arg, l->seg_no - 1);
    return 0;
}

static void
log_ts(char out[32])
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t k = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, 32 - k, ".%03ldZ", now.tv_nsec / 1000000);
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Build, place (rotating if needed) and write the record. Holding mu. */
static int
log_append_locked(audit_log *l, aud_event *ev, const char *key, uint64_t *my_n, char *err,
                  size_t errlen)
{
    char ts[32], hash[AUD_HEX_LEN + 1];
    ev->ts = ts;
    for (;;) {
        log_ts(ts);
        if (aud_record_build(&l->buf, l->next_n, ev, l->head, hash) != 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (l->seg_size == 0 || l->seg_size + l->buf.len <= l->segment_size)
            break;
        if (l->syncing) { /* the leader still uses the old fd */
            l->rotators++;
            pthread_cond_wait(&l->done_cv, &l->mu);
            l->rotators--;
            if (l->failed) {
                snprintf(err, errlen, "audit log stopped: %s", l->failmsg);
                return -EIO;
            }
            continue; /* others may have appended or rotated meanwhile */
        }
        int rc = log_rotate_locked(l, err, errlen);
        if (rc != 0)
            return rc;
        break;
    }
    int rc = write_all(l->fd, l->buf.p, l->buf.len);
    if (rc != 0) {
        char name[AUD_SEG_NAME_MAX];
        aud_segment_name(l->seg_no, name);
        snprintf(err, errlen, "write %s: %s", name, strerror(-rc));
        /* A partial line would break the chain: take it back. */
        if (ftruncate(l->fd, (off_t)l->seg_size) != 0)
            fail_locked(l, "truncate after a failed write", errno);
        return rc;
    }
    l->seg_size += l->buf.len;
    *my_n = l->written_n = l->next_n++;
    memcpy(l->head, hash, sizeof l->head);
    aud_seg_ids *cur = &l->segs[l->nsegs - 1];
    cur->last_ms = wall_ms();
    if (key && audit_ids_put(cur->ids, key, *my_n) != 0)
        log_msg(l, JW_LOG_WARN, "out of memory remembering message ids");
    count(l, l->ctr_records, 1);
    return 0;
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

/* Lead one group commit: gather, fsync outside mu, wake. Holding mu. */
static void
log_lead_locked(audit_log *l)
{
    l->leader = 1;
    if (l->fsync_interval_ms > 0) {
        struct timespec deadline;
        deadline_after(&deadline, l->fsync_interval_ms);
        while (!l->failed && l->pending > 0 && l->written_n - l->synced_n < l->fsync_batch) {
            if (pthread_cond_timedwait(&l->fill_cv, &l->mu, &deadline) == ETIMEDOUT)
                break;
        }
    }
    uint64_t target = l->written_n;
    int fd = l->fd;
    if (!l->failed && target > l->synced_n) {
        l->syncing = 1;
        pthread_mutex_unlock(&l->mu);
        int rc = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&l->mu);
        l->syncing = 0;
        if (l->rotators)
            pthread_cond_broadcast(&l->done_cv);
        if (rc == 0) {
            count(l, l->ctr_fsyncs, 1);
            if (target > l->synced_n)
                l->synced_n = target;
        } else {
            fail_locked(l, "fdatasync", e);
        }
    }
    l->leader = 0;
    wake_synced_locked(l);
}

/* Return once record n is on disk, leading a group commit if nobody is. */
static int
log_wait_durable_locked(audit_log *l, uint64_t n, char *err, size_t errlen)
{
    if (l->synced_n >= n)
        return 0;
    aud_waiter w = {.n = n, .linked = 1, .next = l->waiters};
    pthread_cond_init(&w.cv, NULL);
    /* On the stack while linked: unlinked below before returning. */
    // cppcheck-suppress autoVariables
    l->waiters = &w;
    int rc = 0;
    for (;;) {
        if (l->synced_n >= n)
            break;
        if (l->failed) {
            snprintf(err, errlen, "audit log stopped: %s", l->failmsg);
            rc = -EIO;
            break;
        }
        if (!l->leader) {
            log_lead_locked(l);
            continue;
        }
        pthread_cond_wait(&w.cv, &l->mu);
    }
    if (w.linked) {
        aud_waiter **pp = &l->waiters;
        /* w.linked: w is on the list, so the walk ends at it, never at NULL */
        // NOLINTBEGIN(clang-analyzer-core.NullDereference)
        while (*pp != &w)
            pp = &(*pp)->next;
        // NOLINTEND(clang-analyzer-core.NullDereference)
        *pp = w.next;
    }
    pthread_cond_destroy(&w.cv);
    return rc;
}

int
audit_log_append(audit_log *l, aud_event *ev, char *err, size_t errlen)
{
    char *key = log_key(ev->stream, ev->message_id);
    uint64_t my_n = 0;
    int rc = 0, dup = 0;
    pthread_mutex_lock(&l->mu);
    if (l->failed) {
        left_locked(l);
        snprintf(err, errlen, "audit log stopped: %s", l->failmsg);
        rc = -EIO;
        goto out;
    }
    if (key && log_known(l, key, &my_n)) {
        dup = 1;
    } else {
        rc = log_append_locked(l, ev, key, &my_n, err, errlen);
    }
    left_locked(l);
    if (rc == 0)
        rc = log_wait_durable_locked(l, my_n, err, errlen);
    if (rc == 0 && dup)
        rc = AUDIT_DUPLICATE;
out:
    pthread_mutex_unlock(&l->mu);
    free(key);
    ev->ts = NULL;
    return rc;
}

int
audit_log_append_batch(audit_log *l, aud_event *evs, size_t n, int *rcs, char *err, size_t errlen)
{
    char **keys = calloc(n ? n : 1, sizeof *keys);
    uint64_t last = 0, my_n = 0;
    size_t i = 0;
    int rc = 0;
    if (!keys) {
        audit_log_leave(l);
        snprintf(err, errlen, "out of memory");
        for (i = 0; i < n; i++)
            rcs[i] = -ENOMEM;
        return -ENOMEM;
    }
    for (i = 0; i < n; i++)
        keys[i] = evs[i].data ? log_key(evs[i].stream, evs[i].message_id) : NULL;
    pthread_mutex_lock(&l->mu);
    if (l->failed) {
        snprintf(err, errlen, "audit log stopped: %s", l->failmsg);
        rc = -EIO;
        i = 0;
    } else {
        for (i = 0; i < n; i++) {
            if (!evs[i].data) {
                rcs[i] = AUDIT_SKIPPED;
                continue;
            }
            if (keys[i] && log_known(l, keys[i], &my_n)) {
                rcs[i] = AUDIT_DUPLICATE;
            } else if ((rc = log_append_locked(l, &evs[i], keys[i], &my_n, err, errlen)) != 0) {
                break;
            } else {
                rcs[i] = AUDIT_APPENDED;
            }
            if (my_n > last)
                last = my_n;
        }
    }
    /* What follows a failed append is not appended; the host retries it. */
    for (size_t k = i; rc != 0 && k < n; k++)
        rcs[k] = evs[k].data ? rc : AUDIT_SKIPPED;
    left_locked(l);
    /* Whatever was appended (or found) must be on disk before any ACK. */
    if (last > 0) {
        char werr[200];
        int wrc = log_wait_durable_locked(l, last, werr, sizeof werr);
        if (wrc != 0) {
            for (size_t k = 0; k < n; k++) {
                if (rcs[k] != AUDIT_SKIPPED)
                    rcs[k] = wrc;
            }
            if (rc == 0) {
                rc = wrc;
                snprintf(err, errlen, "%s", werr);
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    for (i = 0; i < n; i++) {
        free(keys[i]);
        evs[i].ts = NULL;
    }
    free(keys);
    return rc;
}
