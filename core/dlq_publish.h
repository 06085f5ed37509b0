/*
 * dlq_publish.h -- publish a dead letter: a copy of the message to its
 * consumer's dead_letter subject, with the original headers (minus the ones
 * that would make the letter be deduplicated or rejected, Nats-Msg-Id and
 * Nats-Expected-*), plus Jetway-Original-Subject, -Stream, -Sequence,
 * -Deliveries, -Consumer, -Error, -Message-Id, and Nats-Msg-Id
 * "<consumer>:<stream>:<seq>" so that the letters of two consumers of one
 * message are both kept while a retried publish of the same one is not.
 * Waits for the PubAck.
 *
 * Threads: a worker (js_PublishMsg blocks).
 */
#ifndef JW_DLQ_PUBLISH_H
#define JW_DLQ_PUBLISH_H

#include <stddef.h>

#include "rt.h"

int dlq_publish(job *j, const char *reason, char *err, size_t errlen);

#endif /* JW_DLQ_PUBLISH_H */
