/*
 * provision.h -- make the server's streams and durable pull consumers match
 * the topology: create what is missing, update what JetStream can change in
 * place, and refuse (with object, field and both values) what it cannot.
 * Never deletes or recreates anything, except provision_consumer_delete(),
 * the explicit prune of a reload.
 *
 * Server consumers are durable PULL consumers with AckExplicit, AckWait =
 * ack_wait, MaxAckPending = max_ack_pending, the filter subject and deliver
 * policy of the config, ReplayInstant, and NO BackOff and MaxDeliver = -1:
 * retry timing and the delivery limit are the host's (DESIGN.md, 5 and 6).
 *
 * Threads: every function makes blocking JetStream API requests; call it on
 * a command's thread or a reload worker, never on the libuv loop. The
 * functions keep no state.
 */
#ifndef JW_PROVISION_H
#define JW_PROVISION_H

#include <nats/nats.h>
#include <stddef.h>

#include "config.h"

typedef enum {
    PROV_UNCHANGED = 0,
    PROV_CREATED,
    PROV_UPDATED,
    PROV_WOULD_CREATE, /* dry run */
    PROV_WOULD_UPDATE, /* dry run */
    PROV_REFUSED,      /* a change JetStream cannot make in place */
    PROV_ERROR,        /* the request failed */
} prov_outcome;

/* The outcome for one object; filled by the callee, owned by the caller. */
typedef struct prov_result {
    prov_outcome outcome;
    char object[192]; /* "stream ORDERS" / "consumer ORDERS/payment" */
    char detail[768]; /* changed fields, the refusal or the error */
} prov_result;

const char *prov_outcome_name(prov_outcome o);
/* One line for operators: "<object>: <outcome>[: <detail>]". */
void prov_result_format(const prov_result *r, char *buf, size_t len);

/* 0 when the object now matches (or would, in a dry run); -1 otherwise. */
int provision_stream(jsCtx *js, const cfg_stream *st, int dry_run, prov_result *res);
int provision_consumer(jsCtx *js, const cfg_stream *st, const cfg_consumer *cc, int dry_run,
                       prov_result *res);
/* Delete a durable (reload prune). 0 also when it did not exist. */
int provision_consumer_delete(jsCtx *js, const char *stream, const char *name, char *err,
                              size_t errlen);

/* Called for every object provision_apply_ex() handles. */
typedef void (*provision_report_fn)(const prov_result *res, void *ud);

/*
 * Every stream, then every consumer (whose stream must be declared), then a
 * check that some server stream captures each consumer's dead_letter
 * subject. Each outcome is logged and passed to `report` (may be NULL).
 * Returns 0 when all matched; -1 with a summary in err otherwise (every
 * object is still attempted).
 */
int provision_apply_ex(jsCtx *js, const jw_config *cfg, int dry_run, provision_report_fn report,
                       void *ud, char *err, size_t errlen);
int provision_apply(jsCtx *js, const jw_config *cfg, int dry_run, char *err, size_t errlen);

/*
 * Pure comparisons (unit-tested): append "field: server -> config" lines for
 * each declared field that differs from the server's config to `changes`,
 * or the refusal text to `refusal` (first refused field wins). Return the
 * number of differences.
 */
int provision_stream_diff(const cfg_stream *st, const jsStreamConfig *srv, char *changes,
                          size_t clen, char *refusal, size_t rlen);
int provision_consumer_diff(const cfg_stream *st, const cfg_consumer *cc,
                            const jsConsumerConfig *srv, char *changes, size_t clen, char *refusal,
                            size_t rlen);
/* The jsConsumerConfig jetway wants for `cc` (strings borrowed from cc). */
void provision_consumer_config(const cfg_stream *st, const cfg_consumer *cc, jsConsumerConfig *out);

#endif /* JW_PROVISION_H */
