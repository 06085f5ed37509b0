/*
 * audit_ids.h -- a set of dedup keys (stream + message id) with the record
 * number each was logged as: how the audit log recognises a redelivered
 * event that it already holds.
 *
 * Threads: none of its own; the owner (audit_log) calls it under its mutex.
 */
#ifndef JW_AUDIT_IDS_H
#define JW_AUDIT_IDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct audit_ids audit_ids;

audit_ids *audit_ids_new(void);
void audit_ids_free(audit_ids *s);
/* 1 and *n when key is in the set, else 0. */
int audit_ids_get(const audit_ids *s, const char *key, uint64_t *n);
/* Add key (copied) -> n, replacing an existing entry. 0 or -ENOMEM. */
int audit_ids_put(audit_ids *s, const char *key, uint64_t n);
size_t audit_ids_count(const audit_ids *s);

#endif /* JW_AUDIT_IDS_H */
