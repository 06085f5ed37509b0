/*
 * cmd_pub.c -- `jetway pub`: publish test or smoke messages through
 * JetStream and wait for every PubAck (Debian ships no NATS CLI), and print
 * a stream's or consumer's state as JSON.
 *
 * `%d` in DATA, --id and header values becomes the message number (1..N),
 * `%%` a literal '%'; nothing else is interpreted, so DATA is never a
 * format string.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "nats/nats.h"

#define PUB_MAX_HEADERS 32

/* Counters written by cnats's PubAck callback thread, read on main. */
typedef struct pub_counts {
    atomic_long ok;
    atomic_long dup;
    atomic_long failed;
    char first_err[256]; /* written once, guarded by err_set */
    atomic_int err_set;
} pub_counts;

typedef struct pub_opts {
    const char *subject;
    const char *data; /* NULL = empty */
    size_t datalen;
    long count;
    const char *id;
    const char *json_id;
    const char *headers[PUB_MAX_HEADERS];
    int nheaders;
    double rate;
    int async; /* -1 = decide by count */
    int quiet;
} pub_opts;

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: jetway pub [-s URL] [auth] SUBJECT [DATA|-] [options]\n"
            "       jetway pub [-s URL] --stream-info STREAM\n"
            "       jetway pub [-s URL] --consumer-info STREAM CONSUMER\n\n"
            "Publish through JetStream and wait for the PubAcks; prints\n"
            "'published N (duplicates D)' and exits 1 if any publish failed.\n"
            "In DATA, --id and header values, %%d is the message number (1..N).\n\n" NATSCLI_USAGE
            "  DATA                 the payload; '-' reads it from stdin; default empty\n"
            "  -n, --count N        publish N messages (default 1)\n"
            "  -i, --id ID          Nats-Msg-Id, e.g. 'm-%%d'\n"
            "  -H, --header K:V     add a header (repeatable)\n"
            "  -j, --json-id FIELD  Nats-Msg-Id from DATA's JSON string field FIELD\n"
            "  -r, --rate R         at most R messages a second\n"
            "      --async          pipeline publishes (default when N > 1)\n"
            "      --sync           one publish at a time\n"
            "  -q, --quiet          no summary line\n"
            "      --stream-info S  print {messages, first_seq, last_seq, num_replicas,\n"
            "                       leader, replicas_current, ...} as JSON\n"
            "      --consumer-info S C  print {num_pending, num_ack_pending,\n"
            "                       num_redelivered, delivered, ...} as JSON\n");
}

/* Expand %d -> n and %% -> %. Returns a malloc'd string, its length in *len. */
static char *
expand(const char *s, size_t slen, long n, size_t *len)
{
    size_t cap = slen + 32, o = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < slen; i++) {
        if (o + 24 >= cap) {
            cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return NULL;
            }
            out = p;
        }
        if (s[i] == '%' && i + 1 < slen && s[i + 1] == 'd') {
            o += (size_t)snprintf(out + o, cap - o, "%ld", n);
            i++;
        } else if (s[i] == '%' && i + 1 < slen && s[i + 1] == '%') {
            out[o++] = '%';
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    if (out)
        out[o] = '\0';
    if (len)
        *len = o;
    return out;
}

static void
note_error(pub_counts *pc, const char *text)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&pc->err_set, &expected, 1))
        snprintf(pc->first_err, sizeof(pc->first_err), "%s", text);
}

static void
on_puback(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    pub_counts *pc = closure;
    if (pa) {
        atomic_fetch_add(&pc->ok, 1);
        if (pa->Duplicate)
            atomic_fetch_add(&pc->dup, 1);
    } else {
        atomic_fetch_add(&pc->failed, 1);
        char buf[256];
        snprintf(buf, sizeof(buf), "%s (%s, jetstream error %d)",
                 pae && pae->ErrText ? pae->ErrText : "publish failed",
                 pae ? natsStatus_GetText(pae->Err) : "?", pae ? (int)pae->ErrCode : 0);
        note_error(pc, buf);
    }
    natsMsg_Destroy(msg);
}

/* Build message number n; NULL (and an error line) on a bad argument. */
static natsMsg *
build_msg(const pub_opts *o, long n)
{
    size_t dlen = 0;
    char *data = expand(o->data ? o->data : "", o->data ? o->datalen : 0, n, &dlen);
    natsMsg *m = NULL;
    if (!data || natsMsg_Create(&m, o->subject, NULL, data, (int)dlen) != NATS_OK) {
        free(data);
        fprintf(stderr, "jetway pub: cannot build message: %s\n", natsconn_errtext(NATS_ERR));
        return NULL;
    }
    natsStatus s = NATS_OK;
    for (int i = 0; s == NATS_OK && i < o->nheaders; i++) {
        const char *colon = strchr(o->headers[i], ':');
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(colon - o->headers[i]), o->headers[i]);
        char *val = expand(colon + 1, strlen(colon + 1), n, NULL);
        s = val ? natsMsgHeader_Add(m, key, val) : NATS_NO_MEMORY;
        free(val);
    }
    if (s == NATS_OK && o->id) {
        char *id = expand(o->id, strlen(o->id), n, NULL);
        s = id ? natsMsgHeader_Set(m, "Nats-Msg-Id", id) : NATS_NO_MEMORY;
        free(id);
    }
    if (s == NATS_OK && o->json_id) {
        cJSON *doc = cJSON_ParseWithLength(data, dlen);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, o->json_id);
        if (!cJSON_IsString(f) || !f->valuestring[0]) {
            fprintf(stderr, "jetway pub: DATA has no JSON string field '%s'\n", o->json_id);
            s = NATS_INVALID_ARG;
        } else {
            s = natsMsgHeader_Set(m, "Nats-Msg-Id", f->valuestring);
        }
        cJSON_Delete(doc);
    }
    free(data);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return NULL;
    }
    return m;
}

static void
pace(const pub_opts *o, const struct timespec *start, long sent)
{
    if (o->rate <= 0)
        return;
    double at = (double)sent / o->rate;
    struct timespec t = *start;
    t.tv_sec += (time_t)at;
    t.tv_nsec += (long)((at - (double)(time_t)at) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
    }
}

static int
publish_all(natsConnection *nc, const pub_opts *o, int64_t wait_ms, pub_counts *pc)
{
    int async = o->async >= 0 ? o->async : o->count > 1;
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = wait_ms;
    if (async) {
        jo.PublishAsync.AckHandler = on_puback;
        jo.PublishAsync.AckHandlerClosure = pc;
        jo.PublishAsync.MaxPending = 4096;
    }
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) {
        fprintf(stderr, "jetway pub: %s\n", natsconn_errtext(NATS_ERR));
        return -1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc = 0;
    for (long n = 1; n <= o->count; n++) {
        pace(o, &start, n - 1);
        natsMsg *m = build_msg(o, n);
        if (!m) {
            rc = -1;
            break;
        }
        jsErrCode jerr = 0;
        if (async) {
            natsStatus s = js_PublishMsgAsync(js, &m, NULL);
            if (s != NATS_OK) {
                natsMsg_Destroy(m); /* still ours when the call failed */
                atomic_fetch_add(&pc->failed, 1);
                note_error(pc, natsconn_errtext(s));
            }
            continue;
        }
        jsPubAck *pa = NULL;
        natsStatus s = js_PublishMsg(&pa, js, m, NULL, &jerr);
        if (s == NATS_OK) {
            atomic_fetch_add(&pc->ok, 1);
            if (pa->Duplicate)
                atomic_fetch_add(&pc->dup, 1);
        } else {
            char buf[256];
            snprintf(buf, sizeof(buf), "%s (jetstream error %d)", natsconn_errtext(s), (int)jerr);
            atomic_fetch_add(&pc->failed, 1);
            note_error(pc, buf);
        }
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(m);
    }
    if (async) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = wait_ms + 5000;
        if (js_PublishAsyncComplete(js, &po) != NATS_OK) {
            natsMsgList pending = {0};
            if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
                atomic_fetch_add(&pc->failed, pending.Count);
                natsMsgList_Destroy(&pending);
            }
            note_error(pc, "timed out waiting for PubAcks");
        }
    }
    jsCtx_Destroy(js);
    return rc;
}

static char *
read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

enum { OPT_ASYNC = 1000, OPT_SYNC, OPT_SINFO, OPT_CINFO };

int
cmd_pub(int argc, char **argv)
{
    static const struct option longopts[] = {
        NATSCLI_LONGOPTS,
        {"count", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},
        {"header", required_argument, NULL, 'H'},
        {"json-id", required_argument, NULL, 'j'},
        {"rate", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"async", no_argument, NULL, OPT_ASYNC},
        {"sync", no_argument, NULL, OPT_SYNC},
        {"stream-info", no_argument, NULL, OPT_SINFO},
        {"consumer-info", no_argument, NULL, OPT_CINFO},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pub_opts o = {.count = 1, .async = -1};
    natscli nopt = {0};
    int info = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:n:i:H:j:r:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.count = strtol(optarg, NULL, 10);
            if (o.count < 1) {
                fprintf(stderr, "jetway pub: --count must be >= 1\n");
                return 2;
            }
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'H':
            if (o.nheaders == PUB_MAX_HEADERS || !strchr(optarg, ':') || optarg[0] == ':') {
                fprintf(stderr, "jetway pub: bad --header '%s' (want K:V, at most %d)\n", optarg,
                        PUB_MAX_HEADERS);
                return 2;
            }
            o.headers[o.nheaders++] = optarg;
            break;
        case 'j':
            o.json_id = optarg;
            break;
        case 'r':
            o.rate = strtod(optarg, NULL);
            break;
        case 'q':
            o.quiet = 1;
            break;
        case OPT_ASYNC:
            o.async = 1;
            break;
        case OPT_SYNC:
            o.async = 0;
            break;
        case OPT_SINFO:
        case OPT_CINFO:
            info = c;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (natscli_option(&nopt, c, optarg))
                break;
            usage(stderr);
            return 2;
        }
    }
    /* GNU getopt permutes, so options may follow SUBJECT and DATA. */
    char *pos[3];
    int npos = 0;
    while (optind < argc && npos < 3)
        pos[npos++] = argv[optind++];
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (o.count < 1 || (info == OPT_SINFO && npos != 1) || (info == OPT_CINFO && npos != 2) ||
        (!info && (npos < 1 || npos > 2))) {
        usage(stderr);
        return 2;
    }

    char *stdin_data = NULL;
    if (!info) {
        o.subject = pos[0];
        if (npos == 2 && strcmp(pos[1], "-") == 0) {
            stdin_data = read_stdin(&o.datalen);
            if (!stdin_data) {
                fprintf(stderr, "jetway pub: cannot read stdin\n");
                return 1;
            }
            o.data = stdin_data;
        } else if (npos == 2) {
            o.data = pos[1];
            o.datalen = strlen(pos[1]);
        }
    }

    cfg_nats ncfg;
    char *slot;
    natscli_apply(&nopt, &ncfg, 0, &slot);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    char err[512];
    if (natsconn_open(&ncfg, NULL, &nc, &js, err, sizeof(err)) != 0) {
        fprintf(stderr, "jetway pub: %s\n", err);
        free(stdin_data);
        return 1;
    }
    int rc;
    if (info == OPT_SINFO) {
        rc = pub_info_stream(js, pos[0], stdout) == 0 ? 0 : 1;
    } else if (info == OPT_CINFO) {
        rc = pub_info_consumer(js, pos[0], pos[1], stdout) == 0 ? 0 : 1;
    } else {
        pub_counts pc;
        memset(&pc, 0, sizeof(pc));
        rc = publish_all(nc, &o, ncfg.request_timeout_ms, &pc) == 0 ? 0 : 1;
        long failed = atomic_load(&pc.failed);
        if (!o.quiet)
            printf("published %ld (duplicates %ld)\n", atomic_load(&pc.ok), atomic_load(&pc.dup));
        if (failed) {
            fprintf(stderr, "jetway pub: %ld failed; first error: %s\n", failed, pc.first_err);
            rc = 1;
        }
    }
    fflush(stdout);
    natsconn_close(nc, js);
    free(stdin_data);
    return rc;
}
