/*
 * audit_archive.h -- copies sealed audit segments to an S3-compatible
 * bucket, verifies each copy, marks it archived locally and applies the
 * local retention of archived segments.
 *
 * A segment is sealed when the log has started the next one (it never
 * changes again). Segment audit-N.jsonl is archived once the object
 * PREFIX + "audit-N.jsonl" answered the PUT and a HEAD with the segment's
 * MD5 as ETag and its size; only then is the sidecar audit-N.jsonl.archived
 * written (one JSON line: bucket, key, size, md5, sha256; written to a
 * temporary name, fsynced and renamed), and only a segment with a sidecar is
 * ever deleted. Segments are archived in order, so the archived ones are
 * always a prefix of the log; a failed upload is retried, with backoff,
 * until it succeeds or the plugin stops (a restart picks it up again).
 *
 * Threads: one uploader thread per instance, started by open and joined by
 * close; audit_archive_sealed may be called from any thread (the log calls
 * it holding its own mutex, so it only records the number and signals).
 */
#ifndef JW_AUDIT_ARCHIVE_H
#define JW_AUDIT_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "jetway/plugin.h"

/* Settings; copied by audit_archive_open. */
typedef struct audit_archive_cfg {
    const char *dir;
    const char *endpoint, *bucket, *prefix, *region;
    const char *creds_file; /* NULL: the AWS_* environment variables */
    int64_t keep_local;     /* archived segments kept on disk; -1 = all */
    int64_t retry_min_ms;   /* first backoff after a failed upload */
    int64_t retry_max_ms;   /* backoff doubles up to this */
    const jw_host *host;    /* for log and counters; may be NULL */
    jw_instance *inst;
    uint32_t ctr_archived, ctr_failures, ctr_deleted; /* counter ids, when host != NULL */
} audit_archive_cfg;

typedef struct audit_archive audit_archive;

/*
 * Check the settings and start the uploader. Every segment of dir but the
 * newest (the log's current one: open after audit_log_open) counts as
 * sealed, so segments sealed before a restart are archived too.
 * 0 or -errno with a message in err.
 */
int audit_archive_open(const audit_archive_cfg *cfg, audit_archive **out, char *err, size_t errlen);

/* Segment no is sealed: archive it (and any before it not yet archived). */
void audit_archive_sealed(audit_archive *a, uint32_t no);

/* Stop the uploader (an upload under way is abandoned: the segment stays
 * unarchived on disk for the next start) and free. */
void audit_archive_close(audit_archive *a);

#endif /* JW_AUDIT_ARCHIVE_H */
