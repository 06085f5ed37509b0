/*
 * audit_log.h -- the writer of the audit log: appends records to the current
 * segment, rotates segments by size, group-commits fsyncs, and recognises
 * events it already holds. The format is audit_format.h's.
 *
 * Threads: every function but open/close may be called from any number of
 * threads at once (handle() runs concurrently); one mutex orders the appends
 * and a condition variable lets concurrent appenders share one fsync.
 */
#ifndef JW_AUDIT_LOG_H
#define JW_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "audit_format.h"
#include "jetway/plugin.h"

/* Settings; copied by audit_log_open. */
typedef struct audit_log_cfg {
    const char *dir;
    uint64_t segment_size;     /* rotate before a record would make a segment larger */
    uint64_t fsync_batch;      /* a group commit stops waiting at this many records */
    int64_t fsync_interval_ms; /* ... or after this long; 0 = never wait */
    int64_t dedup_window_ms;   /* remember message ids of records this recent (and of the
                                  current and the previous segment) */
    const jw_host *host;       /* for log and counters; may be NULL */
    jw_instance *inst;
    uint32_t ctr_records, ctr_fsyncs, ctr_segments; /* counter ids, when host != NULL */
    /* Called with the number of a segment once it is sealed (its successor
     * started and its records are on disk), holding the log's mutex: it must
     * not block or call back into the log. May be NULL. */
    void (*on_seal)(void *arg, uint32_t no);
    void *seal_arg;
} audit_log_cfg;

typedef struct audit_log audit_log;

/*
 * Open dir (created if absent), recover the chain head and the dedup keys of
 * the current and the previous segment and of the older ones last written
 * within dedup_window of the current one, cut a torn final line (it was never
 * acknowledged). Refuses a log whose recent records do not check out.
 * 0 or -errno with a message in err.
 */
int audit_log_open(const audit_log_cfg *cfg, audit_log **out, char *err, size_t errlen);
void audit_log_close(audit_log *l);

/* A handler enters before it prepares its event, so a group commit knows
 * to wait a moment for it; it then calls exactly one of append/leave. */
void audit_log_enter(audit_log *l);
void audit_log_leave(audit_log *l);

enum { AUDIT_APPENDED = 0, AUDIT_DUPLICATE = 1, AUDIT_SKIPPED = 2 };

/*
 * Append ev (ev->ts is set here) unless an event with its stream and
 * message id is already in the current or the previous segment or in a
 * record appended within dedup_window, and return
 * once the record is on disk: AUDIT_APPENDED, AUDIT_DUPLICATE (the earlier
 * record is on disk), or -errno with err set (nothing was appended).
 * An event without a message id is always appended.
 */
int audit_log_append(audit_log *l, aud_event *ev, char *err, size_t errlen);

/*
 * The same for the n events of one batch, in order, after one
 * audit_log_enter(): each record is written, then one wait covers them all
 * (one fsync, or one share of a group commit), so a batch costs one wake-up,
 * not one per record. rcs[i]: AUDIT_APPENDED, AUDIT_DUPLICATE, AUDIT_SKIPPED
 * (evs[i].data == NULL: the caller's verdict stands), or -errno (that event
 * is not durable: retry it; the events after a failed append are not
 * appended). Returns 0 or the first error, described in err.
 */
int audit_log_append_batch(audit_log *l, aud_event *evs, size_t n, int *rcs, char *err,
                           size_t errlen);

#endif /* JW_AUDIT_LOG_H */
