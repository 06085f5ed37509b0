/*
 * config_validate.c -- relations between sections, once every section is
 * mapped: unique names, streams whose subjects overlap, consumers and
 * services that refer to an undefined stream or handler, filter subjects
 * outside their stream, dead-letter subjects that their own stream would
 * capture (a loop), dedup TTL shorter than the stream's duplicate window,
 * and the work-queue rules of nats-server.
 *
 * Relations that need a value which failed to parse are skipped (the
 * cfg_item.bad flag), so one mistake gives one error, not a cascade.
 *
 * Threads: whatever thread runs config_load().
 */
#include <stdio.h>
#include <string.h>

#include "config_int.h"

/* Path of item i of a list section, e.g. "consumers[3]". */
static size_t
item_path(cfg_ctx *c, const char *section, const cfg_item *it)
{
    size_t mark = cfg_path_key(c, section);
    cfg_path_index(c, it->index);
    return mark;
}

/* The names of a list section's entries: each struct starts with `char *name`. */
typedef struct namelist {
    const void *base;
    size_t stride;
    size_t n;
} namelist;

#define NAMELIST(arr, n) ((namelist){(arr), sizeof(*(arr)), (n)})

static const char *
name_at(namelist l, size_t i)
{
    return *(char *const *)(const void *)((const char *)l.base + i * l.stride);
}

/* The closest name of l to s, or NULL when nothing is near. */
static const char *
nearest(const char *s, namelist l)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < l.n; i++) {
        const char *nm = name_at(l, i);
        if (nm == NULL)
            continue;
        size_t d = cfg_edit_distance(s, nm);
        if (d < bestd && d * 2 < strlen(s)) {
            bestd = d;
            best = nm;
        }
    }
    return best;
}

/* Reports a second use of a name in a list section. */
static void
unique_names(cfg_ctx *c, const char *section, const char *what, namelist l, const cfg_item *items)
{
    for (size_t i = 0; i < l.n; i++) {
        const char *ni = name_at(l, i);
        for (size_t j = 0; j < i && ni != NULL; j++) {
            const char *nj = name_at(l, j);
            if (nj == NULL || strcmp(ni, nj) != 0)
                continue;
            size_t mark = item_path(c, section, &items[i]);
            const cfgnode *first = cfg_loc_of(items[j].node, "name");
            cfg_err_key(c, items[i].node, "name", "duplicate %s name '%s' (first at line %d)", what,
                        ni, first->line);
            cfg_path_pop(c, mark);
            break;
        }
    }
}

static void
check_streams(cfg_ctx *c, const jw_config *cfg)
{
    /* nats-server refuses two streams that could capture the same subject. */
    for (size_t i = 0; i < cfg->nstreams; i++) {
        const cfg_stream *a = &cfg->streams[i];
        for (size_t j = 0; j < i; j++) {
            const cfg_stream *b = &cfg->streams[j];
            for (size_t x = 0; x < a->nsubjects; x++) {
                for (size_t y = 0; y < b->nsubjects; y++) {
                    if (a->subjects[x] == NULL || b->subjects[y] == NULL ||
                        !cfg_subject_collide(a->subjects[x], b->subjects[y]))
                        continue;
                    size_t mark = item_path(c, "streams", &c->streams[i]);
                    const cfgnode *sn = cfgnode_get(c->streams[i].node, "subjects");
                    const cfgnode *at = sn->type == CFGNODE_SEQ ? sn->items[x] : sn;
                    if (sn->type == CFGNODE_SEQ) {
                        cfg_path_key(c, "subjects");
                        cfg_path_index(c, x);
                    }
                    cfg_err_at(c, at, "subject '%s' overlaps subject '%s' of stream '%s'",
                               a->subjects[x], b->subjects[y], b->name ? b->name : "?");
                    cfg_path_pop(c, mark);
                }
            }
        }
    }
}

/* The stream a consumer reads from, with its index, or NULL. */
static const cfg_stream *
stream_of(const jw_config *cfg, const cfg_consumer *k, size_t *idx)
{
    for (size_t i = 0; k->stream != NULL && i < cfg->nstreams; i++) {
        if (cfg->streams[i].name != NULL && strcmp(cfg->streams[i].name, k->stream) == 0) {
            *idx = i;
            return &cfg->streams[i];
        }
    }
    return NULL;
}

static void
check_handler(cfg_ctx *c, const jw_config *cfg, const cfgnode *node, const char *handler)
{
    if (handler == NULL || config_find_plugin(cfg, handler) != NULL)
        return;
    const char *near = nearest(handler, NAMELIST(cfg->plugins, cfg->nplugins));
    if (near != NULL)
        cfg_err_key(c, node, "handler",
                    "unknown handler '%s': not in plugins.instances (did you mean '%s'?)", handler,
                    near);
    else
        cfg_err_key(c, node, "handler", "unknown handler '%s': not in plugins.instances", handler);
}

/* Room a letter needs beyond the original payload: the Jetway-* headers. */
#define LETTER_HEADROOM 4096

/*
 * A letter is the original payload plus diagnostics headers: a declared
 * dead-letter stream whose max_msg_size cannot hold the largest message of
 * the source stream would refuse the letter forever (the message is then
 * NAKed again and again, never settled).
 */
static void
check_letter_size(cfg_ctx *c, const jw_config *cfg, const cfg_consumer *k, const cfg_stream *src,
                  const cfgnode *node)
{
    for (size_t i = 0; i < cfg->nstreams; i++) {
        const cfg_stream *d = &cfg->streams[i];
        if (d == src || d->max_msg_size <= 0)
            continue;
        bool captures = false;
        for (size_t j = 0; j < d->nsubjects && !captures; j++)
            captures = d->subjects[j] != NULL && cfg_subject_match(d->subjects[j], k->dead_letter);
        if (!captures)
            continue;
        if (src->max_msg_size <= 0 || d->max_msg_size < src->max_msg_size + LETTER_HEADROOM)
            cfg_err_key(c, node, "dead_letter",
                        "dead-letter stream '%s' has max_msg_size %lld, which cannot hold a letter "
                        "of stream '%s' (max_msg_size %s plus %d bytes of headers)",
                        d->name, (long long)d->max_msg_size, src->name,
                        src->max_msg_size <= 0 ? "unlimited" : "declared", LETTER_HEADROOM);
    }
}

/* The consumer's filter lies within the stream; its letters do not loop. */
static void
check_subjects(cfg_ctx *c, const cfg_consumer *k, const cfg_stream *s, const cfgnode *node)
{
    char err[160];
    if (s->nsubjects == 0)
        return; /* bind-only without subjects: provisioning checks the server's */
    if (k->filter_subject != NULL && cfg_subject_valid(k->filter_subject, true, err, sizeof(err))) {
        bool within = false;
        for (size_t i = 0; i < s->nsubjects && !within; i++)
            within =
                s->subjects[i] != NULL && cfg_subject_subset(k->filter_subject, s->subjects[i]);
        if (!within)
            cfg_err_key(c, node, "filter_subject",
                        "filter_subject '%s' is not within the subjects of stream '%s'",
                        k->filter_subject, s->name);
    }
    if (k->dead_letter != NULL && cfg_subject_valid(k->dead_letter, false, err, sizeof(err))) {
        for (size_t i = 0; i < s->nsubjects; i++) {
            if (s->subjects[i] != NULL && cfg_subject_match(s->subjects[i], k->dead_letter)) {
                cfg_err_key(c, node, "dead_letter",
                            "dead_letter '%s' is captured by subject '%s' of the consumer's own "
                            "stream '%s': letters would be delivered to it again",
                            k->dead_letter, s->subjects[i], s->name);
                break;
            }
        }
    }
}

static void
check_ttl(cfg_ctx *c, const cfg_consumer *k, const cfg_stream *s, const cfgnode *node)
{
    /* A bind-only stream's window is the owner's: provisioning checks it. */
    if (s->bind_only || !k->dedup.enabled || k->dedup.ttl_ms >= s->duplicate_window_ms)
        return;
    char a[32], b[32];
    cfg_format_duration(k->dedup.ttl_ms, a, sizeof(a));
    cfg_format_duration(s->duplicate_window_ms, b, sizeof(b));
    const cfgnode *d = cfgnode_get(node, "dedup");
    size_t mark = cfg_path_key(c, "dedup");
    cfg_err_key(c, d != NULL ? d : node, "ttl",
                "dedup.ttl (%s) must be at least the duplicate_window (%s) of stream '%s'", a, b,
                s->name);
    cfg_path_pop(c, mark);
}

/* A work-queue stream accepts only deliver_policy all and disjoint consumers. */
static void
check_workqueue(cfg_ctx *c, const jw_config *cfg, size_t i, const cfg_stream *s)
{
    const cfg_consumer *k = &cfg->consumers[i];
    const cfgnode *node = c->consumers[i].node;
    if (s->retention != CFG_RETENTION_WORKQUEUE)
        return;
    if (k->deliver_policy != CFG_DELIVER_ALL)
        cfg_err_key(c, node, "deliver_policy",
                    "stream '%s' has workqueue retention: only deliver_policy all is allowed",
                    s->name);
    for (size_t j = 0; j < i; j++) {
        const cfg_consumer *o = &cfg->consumers[j];
        if (o->stream == NULL || strcmp(o->stream, k->stream) != 0)
            continue;
        const char *fa = k->filter_subject ? k->filter_subject : ">";
        const char *fb = o->filter_subject ? o->filter_subject : ">";
        if (cfg_subject_collide(fa, fb)) {
            cfg_err_key(c, node, k->filter_subject ? "filter_subject" : "stream",
                        "consumer '%s' overlaps consumer '%s' on workqueue stream '%s' (give "
                        "them disjoint filter_subject values)",
                        k->name ? k->name : "?", o->name ? o->name : "?", s->name);
            break;
        }
    }
}

static void
check_consumers(cfg_ctx *c, const jw_config *cfg)
{
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        const cfg_consumer *k = &cfg->consumers[i];
        const cfgnode *node = c->consumers[i].node;
        size_t mark = item_path(c, "consumers", &c->consumers[i]), si = 0;
        const cfg_stream *s = stream_of(cfg, k, &si);
        if (k->stream != NULL && s == NULL) {
            const char *near = nearest(k->stream, NAMELIST(cfg->streams, cfg->nstreams));
            if (near != NULL)
                cfg_err_key(c, node, "stream", "unknown stream '%s' (did you mean '%s'?)",
                            k->stream, near);
            else
                cfg_err_key(c, node, "stream", "unknown stream '%s': not declared in streams",
                            k->stream);
        }
        check_handler(c, cfg, node, k->handler);
        if (s != NULL) {
            check_subjects(c, k, s, node);
            if (k->dead_letter != NULL)
                check_letter_size(c, cfg, k, s, node);
            if (!c->consumers[i].bad && !c->streams[si].bad)
                check_ttl(c, k, s, node);
            check_workqueue(c, cfg, i, s);
        }
        cfg_path_pop(c, mark);
    }
}

/* A stream capturing a request subject answers the request with its PubAck. */
static void
check_service_subject(cfg_ctx *c, const jw_config *cfg, const cfg_service_ep *sv,
                      const cfgnode *node)
{
    char err[160];
    if (sv->subject == NULL || !cfg_subject_valid(sv->subject, true, err, sizeof(err)))
        return;
    for (size_t i = 0; i < cfg->nstreams; i++) {
        const cfg_stream *s = &cfg->streams[i];
        for (size_t j = 0; j < s->nsubjects; j++) {
            if (s->subjects[j] != NULL && cfg_subject_collide(s->subjects[j], sv->subject)) {
                cfg_err_key(c, node, "subject",
                            "subject '%s' is captured by subject '%s' of stream '%s': the "
                            "stream would answer requests with its PubAck",
                            sv->subject, s->subjects[j], s->name ? s->name : "?");
                return;
            }
        }
    }
}

void
config_validate(cfg_ctx *c, jw_config *cfg)
{
    unique_names(c, "streams", "stream", NAMELIST(cfg->streams, cfg->nstreams), c->streams);
    size_t mark = cfg_path_key(c, "plugins");
    unique_names(c, "instances", "plugin instance", NAMELIST(cfg->plugins, cfg->nplugins),
                 c->plugins);
    cfg_path_pop(c, mark);
    unique_names(c, "consumers", "consumer", NAMELIST(cfg->consumers, cfg->nconsumers),
                 c->consumers);
    unique_names(c, "services", "service", NAMELIST(cfg->services, cfg->nservices), c->services);
    check_streams(c, cfg);
    check_consumers(c, cfg);
    for (size_t i = 0; i < cfg->nservices; i++) {
        size_t m = item_path(c, "services", &c->services[i]);
        check_handler(c, cfg, c->services[i].node, cfg->services[i].handler);
        check_service_subject(c, cfg, &cfg->services[i], c->services[i].node);
        cfg_path_pop(c, m);
    }
}
