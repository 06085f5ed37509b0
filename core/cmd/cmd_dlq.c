/*
 * cmd_dlq.c -- `jetway dlq ls|show|replay`: the operator's view of dead
 * letters. The dead-letter streams are the server streams capturing some
 * consumer's dead_letter subject (from -c FILE), or one named with
 * --stream. Letters are read by sequence (js_GetMsg), so nothing here
 * consumes or changes them; replay markers: see dlq_replay.h.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config/config.h"
#include "nats/nats.h"
#include "dlq/dlq.h"
#include "base/base.h"

/* One command invocation; lives on cmd_dlq()'s stack. */
typedef struct dlq_cmd {
    const char *sub;
    const char *path;
    natscli nopt; /* -s, --creds, --user... (nats.h natscli) */
    const char *stream;
    const char *consumer;
    int json, all, force;
    char **seqs;
    int nseqs;
    jw_config *cfg;
    natsConnection *nc;
    jsCtx *js;
    char **streams; /* resolved dead-letter streams */
    size_t nstreams;
} dlq_cmd;

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: jetway dlq ls     [-c FILE] [--stream S] [--consumer C] [--json]\n"
                "       jetway dlq show   [-c FILE] [--stream S] SEQ [--json]\n"
                "       jetway dlq replay [-c FILE] [--stream S] (SEQ... | --all) [--consumer C]\n"
                "                         [--force]\n\n"
                "Dead letters are copies of messages a consumer gave up on, with the original\n"
                "headers and Jetway-Original-Subject, -Stream, -Sequence, -Deliveries,\n"
                "-Consumer, -Error, -Message-Id. The dead-letter streams are those capturing\n"
                "a consumer's dead_letter subject in FILE, or the one given with --stream.\n\n"
                "  ls      one line per letter: stream, seq, time, original subject, consumer,\n"
                "          deliveries, size, replays, error (--json: an array)\n"
                "  show    a letter's headers and payload\n"
                "  replay  republish payload and original headers to the original subject\n"
                "          with Jetway-Replay: <dlqstream>:<seq> and a new Nats-Msg-Id;\n"
                "          a letter already replayed is skipped unless --force. Markers are\n"
                "          kept in stream " DLQ_MARKER_STREAM " (created on first use).\n\n"
                "  -c, --config FILE   the topology (for nats settings and dead_letter "
                "subjects)\n" NATSCLI_USAGE
                "      --stream S      the dead-letter stream (instead of discovering it)\n"
                "      --consumer C    only letters of consumer C\n"
                "      --all           replay every letter (with --consumer: that consumer's)\n"
                "      --force         replay letters already replayed\n"
                "      --json          machine-readable output (ls, show)\n");
}

static int
resolve_streams(dlq_cmd *c)
{
    if (c->stream) {
        c->streams = calloc(1, sizeof(char *));
        if (!c->streams || !(c->streams[0] = strdup(c->stream)))
            return -1;
        c->nstreams = 1;
        return 0;
    }
    if (!c->cfg) {
        fprintf(stderr, "jetway dlq: give -c FILE or --stream S\n");
        return -1;
    }
    int matched_consumer = 0;
    for (size_t i = 0; i < c->cfg->nconsumers; i++) {
        const cfg_consumer *cc = &c->cfg->consumers[i];
        if (c->consumer && strcmp(cc->name, c->consumer) != 0)
            continue;
        matched_consumer = 1;
        if (!cc->dead_letter)
            continue;
        char **names = NULL;
        size_t n = 0;
        char err[256];
        if (dlq_streams_capturing(c->js, cc->dead_letter, &names, &n, err, sizeof(err)) != 0) {
            fprintf(stderr, "jetway dlq: %s\n", err);
            return -1;
        }
        if (n == 0)
            fprintf(stderr, "jetway dlq: warning: no stream captures %s (consumer %s)\n",
                    cc->dead_letter, cc->name);
        for (size_t k = 0; k < n; k++) {
            int dup = 0;
            for (size_t j = 0; j < c->nstreams && !dup; j++)
                dup = strcmp(c->streams[j], names[k]) == 0;
            if (dup)
                continue;
            char **v = realloc(c->streams, (c->nstreams + 1) * sizeof(char *));
            if (!v) {
                dlq_names_free(names, n);
                return -1;
            }
            c->streams = v;
            c->streams[c->nstreams++] = strdup(names[k]);
        }
        dlq_names_free(names, n);
    }
    if (c->consumer && !matched_consumer) {
        fprintf(stderr, "jetway dlq: consumer %s is not in %s\n", c->consumer, c->path);
        return -1;
    }
    if (c->nstreams == 0) {
        fprintf(stderr,
                "jetway dlq: no dead-letter stream found (no consumer%s has a "
                "captured dead_letter subject)\n",
                c->consumer ? " of that name" : "");
        return -1;
    }
    return 0;
}

static int
stream_range(dlq_cmd *c, const char *stream, uint64_t *first, uint64_t *last)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, stream, NULL, &jerr);
    if (s != NATS_OK) {
        fprintf(stderr, "jetway dlq: stream %s: %s\n", stream,
                jerr == JSStreamNotFoundErr ? "not found" : natsconn_errtext(s));
        return -1;
    }
    *first = si->State.FirstSeq;
    *last = si->State.Msgs ? si->State.LastSeq : 0;
    jsStreamInfo_Destroy(si);
    return 0;
}

/* Call fn on every letter of every resolved stream (consumer-filtered). */
typedef int (*letter_fn)(dlq_cmd *c, const dlq_letter *l, void *ud);

static int
each_letter(dlq_cmd *c, letter_fn fn, void *ud)
{
    int rc = 0;
    for (size_t i = 0; i < c->nstreams; i++) {
        uint64_t first, last;
        if (stream_range(c, c->streams[i], &first, &last) != 0) {
            rc = -1;
            continue;
        }
        for (uint64_t seq = first; seq && seq <= last; seq++) {
            dlq_letter l;
            char err[256];
            int g = dlq_letter_get(c->js, c->streams[i], seq, &l, err, sizeof(err));
            if (g == 1)
                continue; /* deleted */
            if (g < 0) {
                fprintf(stderr, "jetway dlq: %s\n", err);
                rc = -1;
                break;
            }
            if (!c->consumer || strcmp(l.consumer, c->consumer) == 0) {
                if (fn(c, &l, ud) != 0)
                    rc = -1;
            }
            dlq_letter_free(&l);
        }
    }
    return rc;
}

static int
ls_one(dlq_cmd *c, const dlq_letter *l, void *ud)
{
    cJSON *arr = ud;
    dlq_marker mk;
    char err[256], ts[40];
    if (dlq_marker_get(c->js, l->dlq_stream, l->seq, &mk, err, sizeof(err)) != 0) {
        fprintf(stderr, "jetway dlq: %s\n", err);
        mk.replays = -1;
    }
    dlq_format_time(l->time_ns, ts, sizeof(ts));
    if (arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "stream", l->dlq_stream);
        cJSON_AddNumberToObject(o, "seq", (double)l->seq);
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "subject", l->subject ? l->subject : "");
        cJSON_AddStringToObject(o, "original_subject", l->orig_subject);
        cJSON_AddStringToObject(o, "original_stream", l->orig_stream);
        cJSON_AddNumberToObject(o, "original_seq", (double)strtoull(l->orig_seq, NULL, 10));
        cJSON_AddStringToObject(o, "consumer", l->consumer);
        cJSON_AddNumberToObject(o, "deliveries", (double)strtol(l->deliveries, NULL, 10));
        cJSON_AddStringToObject(o, "error", l->error);
        cJSON_AddStringToObject(o, "message_id", l->message_id);
        cJSON_AddNumberToObject(o, "size", l->size);
        cJSON_AddNumberToObject(o, "replays", mk.replays);
        cJSON_AddItemToArray(arr, o);
        return 0;
    }
    printf("%-12s %6" PRIu64 "  %s  %-24s %-12s %3s %7d  %-8s %s\n", l->dlq_stream, l->seq, ts,
           l->orig_subject[0] ? l->orig_subject : "-", l->consumer[0] ? l->consumer : "-",
           l->deliveries[0] ? l->deliveries : "-", l->size,
           mk.replays > 0   ? "replayed"
           : mk.replays < 0 ? "?"
                            : "-",
           l->error);
    return 0;
}

static int
do_ls(dlq_cmd *c)
{
    cJSON *arr = c->json ? cJSON_CreateArray() : NULL;
    if (!c->json)
        printf("%-12s %6s  %-24s  %-24s %-12s %3s %7s  %-8s %s\n", "STREAM", "SEQ", "TIME",
               "ORIGINAL-SUBJECT", "CONSUMER", "DLV", "SIZE", "REPLAYED", "ERROR");
    int rc = each_letter(c, ls_one, arr);
    if (arr) {
        char *s = cJSON_PrintUnformatted(arr);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(arr);
    }
    return rc;
}

/* The one stream SEQ arguments refer to. */
static const char *
single_stream(dlq_cmd *c)
{
    if (c->nstreams == 1)
        return c->streams[0];
    fprintf(stderr, "jetway dlq: several dead-letter streams (");
    for (size_t i = 0; i < c->nstreams; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", c->streams[i]);
    fprintf(stderr, "): say which with --stream\n");
    return NULL;
}

static int
parse_seq(const char *s, uint64_t *seq)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v == 0) {
        fprintf(stderr, "jetway dlq: '%s' is not a sequence number\n", s);
        return -1;
    }
    *seq = v;
    return 0;
}

static void
show_text(const dlq_letter *l)
{
    char ts[40];
    dlq_format_time(l->time_ns, ts, sizeof(ts));
    printf("stream: %s\nseq: %" PRIu64 "\ntime: %s\nsubject: %s\nsize: %d\nheaders:\n",
           l->dlq_stream, l->seq, ts, l->subject ? l->subject : "", l->size);
    const char **keys = NULL;
    int n = 0;
    if (natsMsgHeader_Keys(l->msg, &keys, &n) == NATS_OK) {
        for (int i = 0; i < n; i++) {
            const char **vals = NULL;
            int nv = 0;
            if (natsMsgHeader_Values(l->msg, keys[i], &vals, &nv) != NATS_OK)
                continue;
            for (int j = 0; j < nv; j++)
                printf("  %s: %s\n", keys[i], vals[j]);
            free((void *)vals);
        }
        free((void *)keys);
    }
    printf("payload:\n");
    fwrite(natsMsg_GetData(l->msg), 1, (size_t)l->size, stdout);
    printf("\n");
}

static void
show_json(const dlq_letter *l)
{
    char ts[40];
    dlq_format_time(l->time_ns, ts, sizeof(ts));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stream", l->dlq_stream);
    cJSON_AddNumberToObject(o, "seq", (double)l->seq);
    cJSON_AddStringToObject(o, "time", ts);
    cJSON_AddStringToObject(o, "subject", l->subject ? l->subject : "");
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    const char **keys = NULL;
    int n = 0;
    if (natsMsgHeader_Keys(l->msg, &keys, &n) == NATS_OK) {
        for (int i = 0; i < n; i++) {
            const char **vals = NULL;
            int nv = 0;
            if (natsMsgHeader_Values(l->msg, keys[i], &vals, &nv) != NATS_OK)
                continue;
            cJSON *a = cJSON_AddArrayToObject(h, keys[i]);
            for (int j = 0; j < nv; j++)
                cJSON_AddItemToArray(a, cJSON_CreateString(vals[j]));
            free((void *)vals);
        }
        free((void *)keys);
    }
    /* natsMsg data is NUL-terminated by cnats; binary payloads are cut at a NUL. */
    cJSON_AddStringToObject(o, "data", natsMsg_GetData(l->msg) ? natsMsg_GetData(l->msg) : "");
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static int
do_show(dlq_cmd *c)
{
    uint64_t seq;
    const char *stream = single_stream(c);
    if (!stream || c->nseqs != 1 || parse_seq(c->seqs[0], &seq) != 0)
        return c->nseqs != 1 ? (usage(stderr), -1) : -1;
    dlq_letter l;
    char err[256];
    int g = dlq_letter_get(c->js, stream, seq, &l, err, sizeof(err));
    if (g != 0) {
        fprintf(stderr, "jetway dlq: %s\n", g > 0 ? "no letter at that sequence" : err);
        return -1;
    }
    if (c->json)
        show_json(&l);
    else
        show_text(&l);
    dlq_letter_free(&l);
    return 0;
}

typedef struct replay_tally {
    int replayed, skipped, failed;
} replay_tally;

static int
replay_one(dlq_cmd *c, const dlq_letter *l, void *ud)
{
    replay_tally *t = ud;
    char line[1024];
    int r = dlq_replay_letter(c->js, l, c->force, line, sizeof(line));
    printf("%s\n", line);
    fflush(stdout);
    if (r == 0)
        t->replayed++;
    else if (r > 0)
        t->skipped++;
    else
        t->failed++;
    return 0;
}

static int
do_replay(dlq_cmd *c)
{
    replay_tally t = {0};
    if (c->all == (c->nseqs > 0)) {
        fprintf(stderr, "jetway dlq replay: give sequence numbers or --all\n");
        return -1;
    }
    int rc = 0;
    if (c->all) {
        rc = each_letter(c, replay_one, &t);
    } else {
        const char *stream = single_stream(c);
        if (!stream)
            return -1;
        for (int i = 0; i < c->nseqs; i++) {
            uint64_t seq;
            dlq_letter l;
            char err[256];
            if (parse_seq(c->seqs[i], &seq) != 0) {
                t.failed++;
                continue;
            }
            int g = dlq_letter_get(c->js, stream, seq, &l, err, sizeof(err));
            if (g != 0) {
                printf("%s:%" PRIu64 ": failed: %s\n", stream, seq,
                       g > 0 ? "no letter at that sequence" : err);
                t.failed++;
                continue;
            }
            if (c->consumer && strcmp(l.consumer, c->consumer) != 0) {
                printf("%s:%" PRIu64 ": skipped: letter of consumer '%s', not '%s'\n", stream, seq,
                       l.consumer, c->consumer);
                t.skipped++;
            } else {
                replay_one(c, &l, &t);
            }
            dlq_letter_free(&l);
        }
    }
    printf("replayed %d, skipped %d, failed %d\n", t.replayed, t.skipped, t.failed);
    return rc != 0 || t.failed ? -1 : 0;
}

static int
connect_cmd(dlq_cmd *c)
{
    cfg_nats ncfg;
    char *slot = NULL;
    if (c->path) {
        cfg_errors errs = {0};
        if (config_load(c->path, &c->cfg, &errs) != 0) {
            for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.v[i].text);
            cfg_errors_free(&errs);
            return -1;
        }
        cfg_errors_free(&errs);
        ncfg = c->cfg->nats;
    }
    natscli_apply(&c->nopt, &ncfg, c->path != NULL, &slot);
    char err[512];
    if (natsconn_open(&ncfg, NULL, &c->nc, &c->js, err, sizeof(err)) != 0) {
        fprintf(stderr, "jetway dlq: %s\n", err);
        return -1;
    }
    return 0;
}

enum { OPT_STREAM = 1000, OPT_CONSUMER, OPT_JSON, OPT_ALL, OPT_FORCE };

int
cmd_dlq(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        NATSCLI_LONGOPTS,
        {"stream", required_argument, NULL, OPT_STREAM},
        {"consumer", required_argument, NULL, OPT_CONSUMER},
        {"json", no_argument, NULL, OPT_JSON},
        {"all", no_argument, NULL, OPT_ALL},
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* cmd_wants_help() lives in main.c, which test tools do not link. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    dlq_cmd c;
    memset(&c, 0, sizeof(c));
    c.sub = argv[1];
    if (strcmp(c.sub, "ls") != 0 && strcmp(c.sub, "show") != 0 && strcmp(c.sub, "replay") != 0) {
        fprintf(stderr, "jetway dlq: unknown subcommand '%s'\n", c.sub);
        usage(stderr);
        return 2;
    }
    int o;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "c:s:h", longopts, NULL)) != -1) {
        switch (o) {
        case 'c':
            c.path = optarg;
            break;
        case OPT_STREAM:
            c.stream = optarg;
            break;
        case OPT_CONSUMER:
            c.consumer = optarg;
            break;
        case OPT_JSON:
            c.json = 1;
            break;
        case OPT_ALL:
            c.all = 1;
            break;
        case OPT_FORCE:
            c.force = 1;
            break;
        default:
            if (natscli_option(&c.nopt, o, optarg))
                break;
            usage(stderr);
            return 2;
        }
    }
    c.seqs = argv + 1 + optind;
    c.nseqs = argc - 1 - optind;
    if (strcmp(c.sub, "ls") == 0 && c.nseqs) {
        usage(stderr);
        return 2;
    }
    log_setup(0, JW_LOG_WARN, "jetway-dlq");
    int rc = -1;
    if (connect_cmd(&c) == 0 && resolve_streams(&c) == 0) {
        if (strcmp(c.sub, "ls") == 0)
            rc = do_ls(&c);
        else if (strcmp(c.sub, "show") == 0)
            rc = do_show(&c);
        else
            rc = do_replay(&c);
    }
    fflush(stdout);
    dlq_names_free(c.streams, c.nstreams);
    natsconn_close(c.nc, c.js);
    if (c.cfg)
        config_free(c.cfg);
    return rc == 0 ? 0 : 1;
}
