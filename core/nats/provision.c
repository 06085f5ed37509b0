/*
 * provision.c -- see provision.h. Durations are milliseconds in the config
 * and nanoseconds on the server; the diff converts before comparing.
 */
#include "nats.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define NS_PER_MS 1000000LL

static const char *const outcome_names[] = {
    "unchanged", "created", "updated", "would create", "would update", "refused", "error", "bound",
};

const char *
prov_outcome_name(prov_outcome o)
{
    return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o] : "?";
}

void
prov_result_format(const prov_result *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s: %s%s%s", r->object, prov_outcome_name(r->outcome),
             r->detail[0] ? ": " : "", r->detail);
}

static void append(char *buf, size_t len, const char *fmt, ...) JW_PRINTF(3, 4);

static void
append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* "30s", "1m30s", "250ms", "0" for durations given in ns. */
static const char *
fmt_dur(int64_t ns, char *buf, size_t len)
{
    int64_t ms = ns / NS_PER_MS;
    if (ms == 0)
        snprintf(buf, len, "%" PRId64 "ns", ns);
    else if (ms % 1000)
        snprintf(buf, len, "%" PRId64 "ms", ms);
    else if (ms % 60000)
        snprintf(buf, len, "%" PRId64 "s", ms / 1000);
    else if (ms % 3600000)
        snprintf(buf, len, "%" PRId64 "m", ms / 60000);
    else
        snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
    if (ns == 0)
        snprintf(buf, len, "0");
    return buf;
}

static const char *
storage_name(jsStorageType s)
{
    return s == js_MemoryStorage ? "memory" : "file";
}

static const char *
retention_name(jsRetentionPolicy r)
{
    return r == js_WorkQueuePolicy ? "workqueue" : r == js_InterestPolicy ? "interest" : "limits";
}

static const char *
deliver_name(jsDeliverPolicy d)
{
    switch (d) {
    case js_DeliverAll:
        return "all";
    case js_DeliverLast:
        return "last";
    case js_DeliverNew:
        return "new";
    case js_DeliverByStartSequence:
        return "by_start_sequence";
    case js_DeliverByStartTime:
        return "by_start_time";
    case js_DeliverLastPerSubject:
        return "last_per_subject";
    }
    return "?";
}

static jsDeliverPolicy
deliver_of(cfg_deliver d)
{
    switch (d) {
    case CFG_DELIVER_NEW:
        return js_DeliverNew;
    case CFG_DELIVER_LAST:
        return js_DeliverLast;
    case CFG_DELIVER_BY_START_SEQUENCE:
        return js_DeliverByStartSequence;
    case CFG_DELIVER_BY_START_TIME:
        return js_DeliverByStartTime;
    case CFG_DELIVER_ALL:
        break;
    }
    return js_DeliverAll;
}

static void
refuse(char *refusal, size_t rlen, const char *field, const char *srv, const char *cfg)
{
    if (refusal[0])
        return;
    snprintf(refusal, rlen,
             "%s is '%s' on the server, config says '%s': JetStream cannot change it in place",
             field, srv, cfg);
}

static int
same_subjects(const cfg_stream *st, const jsStreamConfig *srv)
{
    if ((int)st->nsubjects != srv->SubjectsLen)
        return 0;
    for (size_t i = 0; i < st->nsubjects; i++) {
        int found = 0;
        for (int j = 0; j < srv->SubjectsLen && !found; j++)
            found = strcmp(st->subjects[i], srv->Subjects[j]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

static void
subjects_text(const char **v, size_t n, char *buf, size_t len)
{
    buf[0] = '\0';
    append(buf, len, "[");
    for (size_t i = 0; i < n; i++)
        append(buf, len, "%s%s", i ? "," : "", v[i]);
    append(buf, len, "]");
}

/* -1 (unlimited) and 0 mean the same for the size limits the config states as -1. */
static int64_t
lim(int64_t v)
{
    return v <= 0 ? -1 : v;
}

int
provision_stream_diff(const cfg_stream *st, const jsStreamConfig *srv, char *changes, size_t clen,
                      char *refusal, size_t rlen)
{
    int n = 0;
    char a[128], b[128];
    changes[0] = '\0';
    refusal[0] = '\0';
    jsStorageType want_storage =
        st->storage == CFG_STORAGE_MEMORY ? js_MemoryStorage : js_FileStorage;
    jsRetentionPolicy want_ret = st->retention == CFG_RETENTION_WORKQUEUE  ? js_WorkQueuePolicy
                                 : st->retention == CFG_RETENTION_INTEREST ? js_InterestPolicy
                                                                           : js_LimitsPolicy;
    if (srv->Storage != want_storage) {
        refuse(refusal, rlen, "storage", storage_name(srv->Storage), storage_name(want_storage));
        n++;
    }
    if (srv->Retention != want_ret) {
        refuse(refusal, rlen, "retention", retention_name(srv->Retention),
               retention_name(want_ret));
        n++;
    }
    if (!same_subjects(st, srv)) {
        subjects_text((const char **)srv->Subjects, (size_t)srv->SubjectsLen, a, sizeof(a));
        subjects_text((const char **)st->subjects, st->nsubjects, b, sizeof(b));
        append(changes, clen, "%ssubjects: %s -> %s", n ? "; " : "", a, b);
        n++;
    }
    jsDiscardPolicy want_discard = st->discard == CFG_DISCARD_NEW ? js_DiscardNew : js_DiscardOld;
    if (srv->Discard != want_discard) {
        append(changes, clen, "%sdiscard: %s -> %s", n ? "; " : "",
               srv->Discard == js_DiscardNew ? "new" : "old",
               want_discard == js_DiscardNew ? "new" : "old");
        n++;
    }
    if (srv->MaxAge != st->max_age_ms * NS_PER_MS) {
        append(changes, clen, "%smax_age: %s -> %s", n ? "; " : "",
               fmt_dur(srv->MaxAge, a, sizeof(a)),
               fmt_dur(st->max_age_ms * NS_PER_MS, b, sizeof(b)));
        n++;
    }
    if (lim(srv->MaxBytes) != lim(st->max_bytes)) {
        append(changes, clen, "%smax_bytes: %" PRId64 " -> %" PRId64, n ? "; " : "",
               lim(srv->MaxBytes), lim(st->max_bytes));
        n++;
    }
    if (lim(srv->MaxMsgs) != lim(st->max_msgs)) {
        append(changes, clen, "%smax_msgs: %" PRId64 " -> %" PRId64, n ? "; " : "",
               lim(srv->MaxMsgs), lim(st->max_msgs));
        n++;
    }
    if (lim(srv->MaxMsgSize) != lim(st->max_msg_size)) {
        append(changes, clen, "%smax_msg_size: %" PRId64 " -> %" PRId64, n ? "; " : "",
               lim(srv->MaxMsgSize), lim(st->max_msg_size));
        n++;
    }
    int64_t want_repl = st->replicas > 0 ? st->replicas : 1;
    if ((srv->Replicas > 0 ? srv->Replicas : 1) != want_repl) {
        append(changes, clen, "%sreplicas: %" PRId64 " -> %" PRId64, n ? "; " : "", srv->Replicas,
               want_repl);
        n++;
    }
    /* 0 = not declared: the server's default (2m, or max_age when shorter) stands. */
    if (st->duplicate_window_ms > 0 && srv->Duplicates != st->duplicate_window_ms * NS_PER_MS) {
        append(changes, clen, "%sduplicate_window: %s -> %s", n ? "; " : "",
               fmt_dur(srv->Duplicates, a, sizeof(a)),
               fmt_dur(st->duplicate_window_ms * NS_PER_MS, b, sizeof(b)));
        n++;
    }
    return n;
}

void
provision_consumer_config(const cfg_stream *st, const cfg_consumer *cc, jsConsumerConfig *out)
{
    (void)st;
    jsConsumerConfig_Init(out);
    out->Durable = cc->name;
    out->AckPolicy = js_AckExplicit;
    out->AckWait = (cc->ack_wait_ms > 0 ? cc->ack_wait_ms : 30000) * NS_PER_MS;
    out->MaxDeliver = -1;
    out->BackOff = NULL;
    out->BackOffLen = 0;
    out->MaxAckPending = cc->max_ack_pending > 0 ? cc->max_ack_pending : 1000;
    out->FilterSubject = cc->filter_subject;
    out->DeliverPolicy = deliver_of(cc->deliver_policy);
    if (cc->deliver_policy == CFG_DELIVER_BY_START_SEQUENCE)
        out->OptStartSeq = cc->opt_start_seq;
    if (cc->deliver_policy == CFG_DELIVER_BY_START_TIME)
        out->OptStartTime = cc->opt_start_time_ns;
    out->ReplayPolicy = js_ReplayInstant;
}

int
provision_consumer_diff(const cfg_stream *st, const cfg_consumer *cc, const jsConsumerConfig *srv,
                        char *changes, size_t clen, char *refusal, size_t rlen)
{
    jsConsumerConfig want;
    provision_consumer_config(st, cc, &want);
    int n = 0;
    char a[128], b[128];
    changes[0] = '\0';
    refusal[0] = '\0';
    if (srv->DeliverSubject && *srv->DeliverSubject) {
        refuse(refusal, rlen, "type", "push", "pull");
        n++;
    }
    if (srv->DeliverPolicy != want.DeliverPolicy) {
        refuse(refusal, rlen, "deliver_policy", deliver_name(srv->DeliverPolicy),
               deliver_name(want.DeliverPolicy));
        n++;
    }
    if (srv->OptStartSeq != want.OptStartSeq) {
        snprintf(a, sizeof(a), "%" PRIu64, srv->OptStartSeq);
        snprintf(b, sizeof(b), "%" PRIu64, want.OptStartSeq);
        refuse(refusal, rlen, "opt_start_seq", a, b);
        n++;
    }
    if (srv->OptStartTime != want.OptStartTime) {
        snprintf(a, sizeof(a), "%" PRId64 "ns", srv->OptStartTime);
        snprintf(b, sizeof(b), "%" PRId64 "ns", want.OptStartTime);
        refuse(refusal, rlen, "opt_start_time", a, b);
        n++;
    }
    if (srv->AckPolicy != js_AckExplicit) {
        refuse(refusal, rlen, "ack_policy", srv->AckPolicy == js_AckNone ? "none" : "all",
               "explicit");
        n++;
    }
    if (srv->ReplayPolicy != js_ReplayInstant) {
        refuse(refusal, rlen, "replay_policy", "original", "instant");
        n++;
    }
    if (srv->AckWait != want.AckWait) {
        append(changes, clen, "%sack_wait: %s -> %s", n ? "; " : "",
               fmt_dur(srv->AckWait, a, sizeof(a)), fmt_dur(want.AckWait, b, sizeof(b)));
        n++;
    }
    if (srv->MaxAckPending != want.MaxAckPending) {
        append(changes, clen, "%smax_ack_pending: %" PRId64 " -> %" PRId64, n ? "; " : "",
               srv->MaxAckPending, want.MaxAckPending);
        n++;
    }
    const char *sf = srv->FilterSubject ? srv->FilterSubject : "";
    const char *wf = want.FilterSubject ? want.FilterSubject : "";
    if (strcmp(sf, wf) != 0) {
        append(changes, clen, "%sfilter_subject: '%s' -> '%s'", n ? "; " : "", sf, wf);
        n++;
    }
    /* The host enforces max_deliver and backoff; a server copy would skew
     * NAK delays (2.9) or drop messages before they are dead-lettered. */
    if (srv->MaxDeliver != -1 && srv->MaxDeliver != 0) {
        append(changes, clen, "%sserver max_deliver: %" PRId64 " -> -1 (host-enforced)",
               n ? "; " : "", srv->MaxDeliver);
        n++;
    }
    if (srv->BackOffLen > 0) {
        append(changes, clen, "%sserver backoff: %d values -> none (host-enforced)", n ? "; " : "",
               srv->BackOffLen);
        n++;
    }
    return n;
}

static void
api_error(prov_result *res, const char *what, natsStatus s, jsErrCode jerr)
{
    res->outcome = PROV_ERROR;
    snprintf(res->detail, sizeof(res->detail), "%s: %s (jetstream error %d)", what,
             natsconn_errtext(s), (int)jerr);
}

static int
within_any(const char *subject, const jsStreamConfig *srv)
{
    for (int j = 0; j < srv->SubjectsLen; j++) {
        if (config_subject_within(subject, srv->Subjects[j]))
            return 1;
    }
    return 0;
}

/*
 * The first reason the server's stream cannot serve this config, or "" when
 * it can. What matters to a role that only binds: its consumers' filters lie
 * within the stream, their letters do not loop back into it, dedup outlives
 * the server's duplicate window, and what it declared it relies on
 * (subjects captured, retention).
 */
static void
bind_incompatible(const jw_config *cfg, const cfg_stream *st, const jsStreamConfig *srv, char *why,
                  size_t len)
{
    char a[256];
    why[0] = '\0';
    for (size_t i = 0; i < st->nsubjects; i++) {
        if (!within_any(st->subjects[i], srv)) {
            subjects_text((const char **)srv->Subjects, (size_t)srv->SubjectsLen, a, sizeof(a));
            snprintf(why, len, "subject '%s' is not captured by the server's subjects %s",
                     st->subjects[i], a);
            return;
        }
    }
    jsRetentionPolicy want_ret = st->retention == CFG_RETENTION_WORKQUEUE  ? js_WorkQueuePolicy
                                 : st->retention == CFG_RETENTION_INTEREST ? js_InterestPolicy
                                                                           : js_LimitsPolicy;
    if (st->retention_set && srv->Retention != want_ret) {
        snprintf(why, len, "retention is '%s' on the server, this config relies on '%s'",
                 retention_name(srv->Retention), retention_name(want_ret));
        return;
    }
    for (size_t i = 0; cfg && i < cfg->nconsumers; i++) {
        const cfg_consumer *cc = &cfg->consumers[i];
        if (strcmp(cc->stream, st->name) != 0)
            continue;
        if (cc->filter_subject && !within_any(cc->filter_subject, srv)) {
            subjects_text((const char **)srv->Subjects, (size_t)srv->SubjectsLen, a, sizeof(a));
            snprintf(why, len,
                     "consumer %s: filter_subject '%s' is not within the server's "
                     "subjects %s",
                     cc->name, cc->filter_subject, a);
            return;
        }
        for (int j = 0; cc->dead_letter && j < srv->SubjectsLen; j++) {
            if (config_subject_within(cc->dead_letter, srv->Subjects[j])) {
                snprintf(why, len,
                         "consumer %s: dead_letter '%s' is captured by the stream "
                         "itself (subject '%s'): letters would be delivered to it again",
                         cc->name, cc->dead_letter, srv->Subjects[j]);
                return;
            }
        }
        if (cc->dedup.enabled && cc->dedup.ttl_ms * NS_PER_MS < srv->Duplicates) {
            char b[32];
            snprintf(why, len,
                     "consumer %s: dedup.ttl %s is shorter than the server's "
                     "duplicate_window %s",
                     cc->name, fmt_dur(cc->dedup.ttl_ms * NS_PER_MS, a, sizeof(a)),
                     fmt_dur(srv->Duplicates, b, sizeof(b)));
            return;
        }
    }
}

static int
bind_stream(const jw_config *cfg, const cfg_stream *st, const jsStreamInfo *si, natsStatus s,
            prov_result *res)
{
    if (s != NATS_OK) {
        res->outcome = PROV_ERROR;
        snprintf(res->detail, sizeof(res->detail),
                 "does not exist; it is declared manage: false here, so the config that owns it "
                 "must create it first (jetway provision -c OWNER.yaml)");
        return -1;
    }
    char why[512];
    bind_incompatible(cfg, st, si->Config, why, sizeof(why));
    if (why[0]) {
        res->outcome = PROV_REFUSED;
        snprintf(res->detail, sizeof(res->detail), "incompatible with this config: %s", why);
        return -1;
    }
    res->outcome = PROV_BOUND;
    /* Declared settings that differ are the owner's business: say so, change nothing. */
    char changes[512], refusal[384];
    cfg_stream decl = *st;
    /* Subjects were checked for coverage above, not equality. */
    decl.subjects = (char **)si->Config->Subjects;
    decl.nsubjects = (size_t)si->Config->SubjectsLen;
    changes[0] = '\0';
    int n = st->explicit_settings ? provision_stream_diff(&decl, si->Config, changes,
                                                          sizeof(changes), refusal, sizeof(refusal))
                                  : 0;
    if (n > 0)
        snprintf(res->detail, sizeof(res->detail),
                 "manage: false, owned by another config; differs from this declaration (left "
                 "as is): %s",
                 changes);
    else
        snprintf(res->detail, sizeof(res->detail), "manage: false, owned by another config");
    return 0;
}

int
provision_stream(jsCtx *js, const cfg_stream *st, int dry_run, prov_result *res)
{
    return provision_stream_ex(js, NULL, st, dry_run, res);
}

int
provision_stream_ex(jsCtx *js, const jw_config *cfg, const cfg_stream *st, int dry_run,
                    prov_result *res)
{
    memset(res, 0, sizeof(*res));
    snprintf(res->object, sizeof(res->object), "stream %s", st->name);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, st->name, NULL, &jerr);
    if (s != NATS_OK && jerr != JSStreamNotFoundErr) {
        api_error(res, "get info", s, jerr);
        return -1;
    }
    if (st->bind_only) {
        int rc = bind_stream(cfg, st, si, s, res);
        jsStreamInfo_Destroy(si);
        return rc;
    }

    jsStreamConfig want;
    if (s == NATS_OK) {
        char refusal[384];
        int n = provision_stream_diff(st, si->Config, res->detail, sizeof(res->detail), refusal,
                                      sizeof(refusal));
        if (refusal[0]) {
            res->outcome = PROV_REFUSED;
            snprintf(res->detail, sizeof(res->detail), "%s", refusal);
            jsStreamInfo_Destroy(si);
            return -1;
        }
        if (n == 0 || dry_run) {
            res->outcome = n ? PROV_WOULD_UPDATE : PROV_UNCHANGED;
            jsStreamInfo_Destroy(si);
            return 0;
        }
        /* Start from the server's config so fields the topology does not
         * declare (sealed, deny_delete, allow_direct...) keep their value. */
        want = *si->Config;
    } else {
        if (dry_run) {
            res->outcome = PROV_WOULD_CREATE;
            return 0;
        }
        jsStreamConfig_Init(&want);
        want.Name = st->name;
        want.Storage = st->storage == CFG_STORAGE_MEMORY ? js_MemoryStorage : js_FileStorage;
        want.Retention = st->retention == CFG_RETENTION_WORKQUEUE  ? js_WorkQueuePolicy
                         : st->retention == CFG_RETENTION_INTEREST ? js_InterestPolicy
                                                                   : js_LimitsPolicy;
    }
    want.Subjects = (const char **)st->subjects;
    want.SubjectsLen = (int)st->nsubjects;
    want.Discard = st->discard == CFG_DISCARD_NEW ? js_DiscardNew : js_DiscardOld;
    want.MaxAge = st->max_age_ms * NS_PER_MS;
    want.MaxBytes = lim(st->max_bytes);
    want.MaxMsgs = lim(st->max_msgs);
    want.MaxMsgSize = (int32_t)lim(st->max_msg_size);
    want.Replicas = st->replicas > 0 ? st->replicas : 1;
    if (st->duplicate_window_ms > 0)
        want.Duplicates = st->duplicate_window_ms * NS_PER_MS;

    jsStreamInfo *out = NULL;
    int rc = 0;
    if (si) {
        s = js_UpdateStream(&out, js, &want, NULL, &jerr);
        if (s == NATS_OK) {
            res->outcome = PROV_UPDATED;
        } else {
            char changes[sizeof(res->detail)];
            snprintf(changes, sizeof(changes), "%s", res->detail);
            api_error(res, "update", s, jerr);
            append(res->detail, sizeof(res->detail), " [wanted: %s]", changes);
            rc = -1;
        }
        jsStreamInfo_Destroy(si);
    } else {
        s = js_AddStream(&out, js, &want, NULL, &jerr);
        if (s == NATS_OK) {
            res->outcome = PROV_CREATED;
        } else {
            api_error(res, "create", s, jerr);
            rc = -1;
        }
    }
    jsStreamInfo_Destroy(out);
    return rc;
}

int
provision_consumer(jsCtx *js, const cfg_stream *st, const cfg_consumer *cc, int dry_run,
                   prov_result *res)
{
    memset(res, 0, sizeof(*res));
    snprintf(res->object, sizeof(res->object), "consumer %s/%s", st->name, cc->name);
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, st->name, cc->name, NULL, &jerr);
    if (s != NATS_OK && jerr == JSStreamNotFoundErr && dry_run) {
        res->outcome = PROV_WOULD_CREATE; /* with its stream */
        return 0;
    }
    if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
        api_error(res, "get info", s, jerr);
        return -1;
    }
    jsConsumerConfig want;
    provision_consumer_config(st, cc, &want);
    jsConsumerInfo *out = NULL;
    int rc = 0;
    if (s == NATS_OK) {
        char refusal[384];
        int n = provision_consumer_diff(st, cc, ci->Config, res->detail, sizeof(res->detail),
                                        refusal, sizeof(refusal));
        jsConsumerInfo_Destroy(ci);
        if (refusal[0]) {
            res->outcome = PROV_REFUSED;
            snprintf(res->detail, sizeof(res->detail), "%s", refusal);
            return -1;
        }
        if (n == 0 || dry_run) {
            res->outcome = n ? PROV_WOULD_UPDATE : PROV_UNCHANGED;
            return 0;
        }
        s = js_UpdateConsumer(&out, js, st->name, &want, NULL, &jerr);
        if (s == NATS_OK) {
            res->outcome = PROV_UPDATED;
        } else {
            char changes[sizeof(res->detail)];
            snprintf(changes, sizeof(changes), "%s", res->detail);
            api_error(res, "update", s, jerr);
            append(res->detail, sizeof(res->detail), " [wanted: %s]", changes);
            rc = -1;
        }
    } else if (dry_run) {
        res->outcome = PROV_WOULD_CREATE;
    } else {
        s = js_AddConsumer(&out, js, st->name, &want, NULL, &jerr);
        if (s == NATS_OK) {
            res->outcome = PROV_CREATED;
        } else {
            api_error(res, "create", s, jerr);
            rc = -1;
        }
    }
    jsConsumerInfo_Destroy(out);
    return rc;
}

int
provision_consumer_delete(jsCtx *js, const char *stream, const char *name, char *err, size_t errlen)
{
    jsErrCode jerr = 0;
    natsStatus s = js_DeleteConsumer(js, stream, name, NULL, &jerr);
    if (s == NATS_OK || jerr == JSConsumerNotFoundErr) {
        if (s == NATS_OK) {
            log_ctx lc = {.consumer = name, .stream = stream};
            jw_log(JW_LOG_INFO, &lc, "consumer %s/%s deleted (pruned)", stream, name);
        }
        return 0;
    }
    snprintf(err, errlen, "consumer %s/%s: delete: %s", stream, name, natsconn_errtext(s));
    return -1;
}

static void
report_one(const prov_result *r, provision_report_fn report, void *ud)
{
    int level = r->outcome == PROV_REFUSED || r->outcome == PROV_ERROR     ? JW_LOG_ERROR
                : r->outcome == PROV_UNCHANGED || r->outcome == PROV_BOUND ? JW_LOG_DEBUG
                                                                           : JW_LOG_INFO;
    if (log_level_enabled(level))
        jw_log(level, NULL, "%s %s%s%s", r->object, prov_outcome_name(r->outcome),
               r->detail[0] ? ": " : "", r->detail);
    if (report)
        report(r, ud);
}

static const cfg_stream *
find_stream(const jw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nstreams; i++) {
        if (strcmp(cfg->streams[i].name, name) == 0)
            return &cfg->streams[i];
    }
    return NULL;
}

/* A dead_letter subject nobody captures would make letters vanish. */
static int
check_dead_letter(jsCtx *js, const jw_config *cfg, const cfg_consumer *cc, int dry_run,
                  provision_report_fn report, void *ud)
{
    prov_result r;
    memset(&r, 0, sizeof(r));
    snprintf(r.object, sizeof(r.object), "dead_letter %s (consumer %s)", cc->dead_letter, cc->name);
    char **names = NULL;
    size_t n = 0;
    if (dlq_streams_capturing(js, cc->dead_letter, &names, &n, r.detail, sizeof(r.detail)) != 0) {
        r.outcome = PROV_ERROR;
        report_one(&r, report, ud);
        return -1;
    }
    int rc = 0;
    if (n == 0 && dry_run) {
        /* It may be a declared stream that the dry run did not create. */
        for (size_t i = 0; i < cfg->nstreams && !n; i++) {
            for (size_t j = 0; j < cfg->streams[i].nsubjects; j++) {
                if (dlq_subject_matches(cfg->streams[i].subjects[j], cc->dead_letter)) {
                    n = 1;
                    break;
                }
            }
        }
    }
    if (n == 0) {
        r.outcome = PROV_ERROR;
        snprintf(r.detail, sizeof(r.detail),
                 "no stream captures this subject: dead letters would be lost; declare a "
                 "stream (limits retention) whose subjects include it");
        rc = -1;
    } else {
        r.outcome = PROV_UNCHANGED;
        snprintf(r.detail, sizeof(r.detail), "captured by stream %s", names ? names[0] : "?");
    }
    dlq_names_free(names, n);
    /* A passing check is not an object; only failures are reported. */
    if (rc != 0)
        report_one(&r, report, ud);
    return rc;
}

int
provision_apply_ex(jsCtx *js, const jw_config *cfg, int dry_run, provision_report_fn report,
                   void *ud, char *err, size_t errlen)
{
    int failed = 0;
    prov_result r;
    for (size_t i = 0; i < cfg->nstreams; i++) {
        if (provision_stream_ex(js, cfg, &cfg->streams[i], dry_run, &r) != 0)
            failed++;
        report_one(&r, report, ud);
    }
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        const cfg_consumer *cc = &cfg->consumers[i];
        const cfg_stream *st = find_stream(cfg, cc->stream);
        if (!st) {
            memset(&r, 0, sizeof(r));
            snprintf(r.object, sizeof(r.object), "consumer %s/%s", cc->stream, cc->name);
            snprintf(r.detail, sizeof(r.detail), "stream %s is not declared", cc->stream);
            r.outcome = PROV_ERROR;
            failed++;
        } else if (provision_consumer(js, st, cc, dry_run, &r) != 0) {
            failed++;
        }
        report_one(&r, report, ud);
    }
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        if (cfg->consumers[i].dead_letter &&
            check_dead_letter(js, cfg, &cfg->consumers[i], dry_run, report, ud) != 0)
            failed++;
    }
    if (failed) {
        snprintf(err, errlen, "provision: %d object%s not provisioned", failed,
                 failed == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

int
provision_apply(jsCtx *js, const jw_config *cfg, int dry_run, char *err, size_t errlen)
{
    return provision_apply_ex(js, cfg, dry_run, NULL, NULL, err, errlen);
}
