/*
 * msgid.h -- which id a message is deduplicated by.
 *
 * The id is the Nats-Msg-Id header, else the consumer's JSON field (default
 * `message_id`) of the payload; with `dedup.id_from` naming a field, only
 * that field is used. A replayed dead letter (header Jetway-Replay) gets
 * "<id>~<Jetway-Replay>" so that it is processed once more, once. An id must
 * be 1..MSGID_MAX bytes of printable ASCII without spaces; anything else is
 * a reason to dead-letter, returned as text.
 *
 * Threads: pure, any thread (cnats header access is per-message).
 */
#ifndef JW_MSGID_H
#define JW_MSGID_H

#include <nats/nats.h>
#include <stddef.h>

#define MSGID_MAX 128

/* Validate an id candidate; NULL when good, else a static reason. */
const char *msgid_check(const char *id, size_t len);

/*
 * Extract the id of msg into out (size >= MSGID_MAX * 2 + 2). `field` is the
 * JSON field, `header_first` whether Nats-Msg-Id wins. Returns NULL on
 * success, else a reason written into `why` (for the dead letter).
 */
const char *msgid_extract(natsMsg *msg, int header_first, const char *field, char *out,
                          size_t outlen, char *why, size_t whylen);

/* The JSON-field part, on a raw payload (unit-testable). */
int msgid_from_json(const char *data, size_t len, const char *field, char *out, size_t outlen,
                    char *why, size_t whylen);

#endif /* JW_MSGID_H */
