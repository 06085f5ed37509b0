/*
 * audit_chain.h -- verification of an audit log directory written by the
 * audit plugin (format: plugins/audit/audit_format.h): every segment present
 * from audit-000001.jsonl on, every line's own hash, the prev link to the
 * record before and consecutive record numbers.
 *
 * A torn final line of the last segment (a crash in the middle of an append;
 * that record was never acknowledged, and the plugin cuts it off when it
 * starts again) is tolerated and reported in torn_*, unless strict. A torn
 * line anywhere else is corruption.
 *
 * A segment missing from the directory (the audit plugin deletes archived
 * segments under its retention setting) can be read from elsewhere, the
 * archive, by a fetch function: audit_chain_verify_from.
 *
 * Threads: no shared state; call from any thread.
 */
#ifndef JW_AUDIT_CHAIN_H
#define JW_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

/* Filled by audit_chain_verify; the caller's. */
typedef struct audit_chain_result {
    uint64_t records;      /* intact records before the first break (all, when ok) */
    uint32_t segments;     /* segments checked */
    char head[65];         /* hash of the last intact record (64 zeros: none) */
    char segment[40];      /* broken: the segment file's name */
    uint64_t line;         /* broken: 1-based line in it, 0 = the file as a whole */
    char error[160];       /* broken: "hash mismatch", "prev mismatch", ... */
    char torn_segment[40]; /* a tolerated torn final line, or "" */
    uint64_t torn_line;
    uint32_t fetched; /* segments read through the fetch function */
} audit_chain_result;

/* 0: intact, 1: broken (segment, line, error), -1: cannot read dir (error). */
int audit_chain_verify(const char *dir, int strict, audit_chain_result *res);

/*
 * Segment file `name`, which is not in the directory, from elsewhere: 0 and
 * a malloc'd *buf of *len bytes, -ENOENT when it is not there either, or
 * another -errno with a message in err (the verification cannot finish).
 */
typedef int (*audit_chain_fetch_fn)(void *arg, const char *name, char **buf, size_t *len, char *err,
                                    size_t errlen);

/* audit_chain_verify, reading the segments missing from dir through fetch. */
int audit_chain_verify_from(const char *dir, int strict, audit_chain_fetch_fn fetch, void *arg,
                            audit_chain_result *res);

#endif /* JW_AUDIT_CHAIN_H */
