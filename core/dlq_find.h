/*
 * dlq_find.h -- which JetStream streams capture a subject (the dead-letter
 * streams of a topology are those capturing some consumer's dead_letter).
 *
 * Threads: dlq_streams_capturing() makes a blocking JetStream request (any
 * thread but the libuv loop); dlq_subject_matches() is pure.
 */
#ifndef JW_DLQ_FIND_H
#define JW_DLQ_FIND_H

#include <nats/nats.h>
#include <stddef.h>

/* NATS subject matching: `pattern` may hold `*` (one token) and a final `>`. */
int dlq_subject_matches(const char *pattern, const char *subject);

/*
 * Names of the server's streams with a subject pattern matching `subject`,
 * sorted; the caller frees with dlq_names_free(). 0 on success (also when
 * none match), -1 with err on a failed request.
 */
int dlq_streams_capturing(jsCtx *js, const char *subject, char ***names, size_t *n, char *err,
                          size_t errlen);
void dlq_names_free(char **names, size_t n);

#endif /* JW_DLQ_FIND_H */
