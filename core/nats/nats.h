/*
 * nats/nats.h -- the interface of core/nats/: NATS and JetStream: connections, reply-subject
 * metadata, message ids, finding streams by subject, provisioning, stream/consumer info.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_NATS_H
#define JW_CORE_NATS_H

#include <getopt.h>
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

/*
 * natsconn -- one NATS connection built from the `nats:` section: servers,
 * auth (user/password, token, NKey seed file, creds file), TLS (CA, client
 * cert and key, expected hostname), timeouts and unlimited reconnects with
 * jittered, growing backoff; plus its JetStream context.
 *
 * Threads: natsconn_open()/natsconn_close() are blocking and run on the main
 * thread (at start and at exit) or a command's thread. The returned
 * connection and jsCtx are cnats objects, safe from any thread. The
 * callbacks run on cnats's own threads: they must only touch atomics or hand
 * work to the loop. The `events` struct is the caller's and must stay valid
 * until the connection's closed callback has run (or natsconn_open failed).
 */

typedef struct natsconn_events {
    void (*disconnected)(void *ud);
    void (*reconnected)(void *ud);
    void (*closed)(void *ud);
    void *ud;
    /* Only with NATSCONN_RETRY_CONNECT: the first connect succeeded later. */
    void (*connected)(void *ud);
} natsconn_events;

/*
 * natsconn_open_ex() flags. NATSCONN_RETRY_CONNECT: when no server answers,
 * return at once with a connection that keeps trying in the background
 * (cnats RetryOnFailedConnect), so `run` can start before the server; the
 * connected callback fires when it is up.
 */
#define NATSCONN_RETRY_CONNECT 0x1u

/*
 * Connect. `events` may be NULL. On failure returns -1 and writes a reason
 * (never a secret) into err. natsconn_open() fails when no server answers.
 */
int natsconn_open(const cfg_nats *cfg, const natsconn_events *events, natsConnection **nc,
                  jsCtx **js, char *err, size_t errlen);
/* As natsconn_open(); returns 1 when NATSCONN_RETRY_CONNECT and not yet connected. */
int natsconn_open_ex(const cfg_nats *cfg, const natsconn_events *events, unsigned flags,
                     natsConnection **nc, jsCtx **js, char *err, size_t errlen);
void natsconn_close(natsConnection *nc, jsCtx *js);


/*
 * natscli -- the NATS connection options of the command-line tools, spelled
 * as the `nats` CLI spells them, so a NATS user's habits work: flags -s/
 * --server, --user, --password, --creds, --nkey, --tlscert, --tlskey,
 * --tlsca, and the variables NATS_URL, NATS_USER, NATS_PASSWORD,
 * NATS_CREDS, NATS_NKEY, NATS_CERT, NATS_KEY, NATS_CA.
 *
 * Precedence, field by field: a flag, then the config file (commands that
 * read one), then the environment. Authentication is one choice: the
 * environment's is used only when neither the flags nor the config set any
 * (user, token, nkey, creds), so a config's creds_file is never mixed with
 * an exported NATS_USER.
 *
 * Shared by pub, dlq, provision and the example's jetway-orders-load (which
 * links natscli.o and nkey.o only: nothing here logs or allocates).
 * Threads: pure, the caller's thread; pointers are borrowed from argv,
 * environ or the config and must outlive the cfg_nats filled.
 */
typedef struct natscli {
    const char *url, *user, *password, *creds, *nkey, *tlscert, *tlskey, *tlsca;
} natscli;

#define NATSCLI_OPT_BASE 0x4e00 /* getopt values of the long-only options */
/* Entries for a getopt_long table (server is 's'). */
#define NATSCLI_LONGOPTS                                             \
    {"server", required_argument, NULL, 's'},                        \
        {"user", required_argument, NULL, NATSCLI_OPT_BASE + 0},     \
        {"password", required_argument, NULL, NATSCLI_OPT_BASE + 1}, \
        {"creds", required_argument, NULL, NATSCLI_OPT_BASE + 2},    \
        {"nkey", required_argument, NULL, NATSCLI_OPT_BASE + 3},     \
        {"tlscert", required_argument, NULL, NATSCLI_OPT_BASE + 4},  \
        {"tlskey", required_argument, NULL, NATSCLI_OPT_BASE + 5},   \
    {                                                                \
        "tlsca", required_argument, NULL, NATSCLI_OPT_BASE + 6       \
    }
/* The --help lines of those options. */
#define NATSCLI_USAGE                                                                     \
    "  -s, --server URL     NATS server (default: the config's, else $NATS_URL, else\n"   \
    "                       nats://127.0.0.1:4222)\n"                                     \
    "      --user U         user ($NATS_USER); --password P ($NATS_PASSWORD)\n"           \
    "      --creds FILE     JWT user credentials ($NATS_CREDS)\n"                         \
    "      --nkey FILE      NKey seed file ($NATS_NKEY)\n"                                \
    "      --tlscert FILE   client certificate ($NATS_CERT); --tlskey FILE ($NATS_KEY)\n" \
    "      --tlsca FILE     CA bundle to verify the server ($NATS_CA)\n"

/* 1 when `opt` (a getopt_long result) is one of NATSCLI_LONGOPTS, stored. */
int natscli_option(natscli *o, int opt, const char *arg);
/* Fill `c` for a tool: `c` holds the config's nats section (or zeros, then
 * defaults are set for a config-less tool); flags, config, environment in
 * that order. `slot` receives the server URL when one comes from a flag or
 * the environment. */
void natscli_apply(const natscli *o, cfg_nats *c, int has_config, char **slot);
/* cnats options from `c`: servers, auth (user/password, token, nkey seed
 * file, creds file) and TLS. -1 with a reason (never a secret) in err. */
int natscli_set_options(natsOptions *opts, const cfg_nats *c, char *err, size_t errlen);

/*
 * The reconnect delay for attempt `attempts` (1-based): reconnect_wait
 * doubled per attempt, capped at reconnect_wait_max, then jittered into
 * [delay/2, delay]. `rnd` is a uniform random 32-bit value. Pure, for tests.
 */
int64_t natsconn_backoff_ms(int64_t wait_ms, int64_t max_ms, int attempts, uint32_t rnd);

/*
 * What kind of failure a natsconn_open() error is, from its text (cnats
 * reports the server's -ERR and OpenSSL's reasons as text): the server is
 * not reachable; it refused our credentials ("Authorization Violation",
 * expired or revoked credentials); TLS failed (handshake, certificate,
 * key or CA files); anything else. Pure, for tests.
 */
typedef enum {
    NATSCONN_FAIL_UNREACHABLE = 0,
    NATSCONN_FAIL_AUTH,
    NATSCONN_FAIL_TLS,
    NATSCONN_FAIL_NO_JETSTREAM,
    NATSCONN_FAIL_OTHER,
} natsconn_fail;
natsconn_fail natsconn_failure_kind(const char *err);
/* "unreachable", "authorization refused", "TLS failure", "JetStream not enabled", "error". */
const char *natsconn_failure_name(natsconn_fail k);
/* -1 with the reason and kind NO_JETSTREAM when the server says JetStream
 * is off (no responders on $JS.API, or not enabled for the account); else 0
 * (a timeout, e.g. a user not permitted $JS.API.INFO, proves nothing).
 * The request is the info of `stream` (which roles may read even under a
 * tight permission set), or the account's when `stream` is NULL.
 * Blocking: one API request. */
int natsconn_check_jetstream(jsCtx *js, const char *stream, natsconn_fail *kind, char *err,
                             size_t errlen);

/* The most useful text for a failed cnats call: the thread's last error,
 * else the status text (never NULL). */
const char *natsconn_errtext(natsStatus s);

/* Copy `in` to `out` with every secret of `cfg` (password, token, URL
 * userinfo) replaced by "<redacted>". */
void natsconn_redact(const cfg_nats *cfg, const char *in, char *out, size_t outlen);

/*
 * jsmeta -- the JetStream metadata of a delivered message, read straight
 * from its reply subject without allocating (natsMsg_GetMetaData strdup()s
 * the stream and consumer names for every message, which the hot path can
 * do without).
 *
 *   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
 *   $JS.ACK.<domain>.<acchash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.<token>
 *
 * Threads: pure function, any thread.
 */

typedef struct jsmeta {
    const char *stream; /* points into the reply subject, not terminated */
    size_t stream_len;
    uint64_t delivered;
    uint64_t stream_seq;
    uint64_t consumer_seq;
    int64_t timestamp_ns;
    uint64_t pending;
} jsmeta;

/* 0 on success, -1 when `reply` is not a JetStream ack subject. */
int jsmeta_parse(const char *reply, jsmeta *out);

/*
 * jspull -- the wire side of jetway's own pull consumer client (the fetcher
 * in runtime/ drives it): the pull request it publishes to
 * $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>, the status messages the
 * server answers on the request's reply subject, and the acknowledgements
 * published to a message's reply subject.
 *
 * jetway does not use cnats's pull subscription (natsSubscription_Fetch*):
 * cnats 3.4.1's _fetch overflows its message array when messages are
 * already pending on the subscription (nats.c #749), and it sends one pull
 * request per fetch. cnats's natsMsg_Ack/Nak/Term/InProgress refuse a
 * message not received on a JetStream subscription, hence jsack_send.
 *
 * Threads: pure functions, any thread; jsack_send publishes on nc (cnats
 * publishes are thread-safe and buffered: the connection's flusher sends
 * what accumulated within about a millisecond in one write).
 */

/* What a message received on a pull inbox is. */
typedef enum {
    JSPULL_MSG = 0,       /* a stream message (reply subject $JS.ACK...) */
    JSPULL_HEARTBEAT,     /* 100 Idle Heartbeat: the request is alive */
    JSPULL_ENDED,         /* 404/408/409 (expired, max waiting...): ask again */
    JSPULL_GONE,          /* 409 Consumer Deleted / is push based: bind again */
    JSPULL_REFUSED,       /* 400, 409 Exceeded MaxRequest...: this request is wrong */
    JSPULL_NO_RESPONDERS, /* 503: no JetStream behind the subject */
} jspull_kind;

/*
 * Classify a status line (code "408", description "Request Timeout"; desc
 * may be NULL). An unknown code is JSPULL_ENDED: the request is treated as
 * over, so a new one is asked for rather than waiting on it forever.
 */
jspull_kind jspull_status(const char *code, const char *desc);
/*
 * Classify a message received on a pull inbox; for a status that ends a
 * request, *undelivered is the server's Nats-Pending-Messages (messages of
 * that request it will not deliver), or -1 when absent. A message without a
 * JetStream reply subject and without a status is JSPULL_ENDED too.
 */
jspull_kind jspull_classify(natsMsg *m, int *undelivered);
/*
 * The JSON body of a pull request: batch messages, expiring after
 * expires_ns, the server sending an idle heartbeat every heartbeat_ns (0:
 * none; nats-server refuses a heartbeat over half the expiry). Returns the
 * length written, or -1 when it does not fit.
 */
int jspull_request(char *buf, size_t len, int batch, int64_t expires_ns, int64_t heartbeat_ns);

typedef enum {
    JSACK_ACK = 0,
    JSACK_NAK, /* with delay_ms > 0: -NAK {"delay": ns} */
    JSACK_TERM,
    JSACK_PROGRESS, /* +WPI: restart the ack_wait timer */
} jsack_kind;

/* The body of an acknowledgement; returns its length, or -1 if it does not fit. */
int jsack_body(char *buf, size_t len, jsack_kind k, int64_t delay_ms);
/*
 * Publish the acknowledgement of m (a JetStream message) to its reply
 * subject, without waiting for the server. NATS_ILLEGAL_STATE when m has no
 * JetStream reply subject.
 */
natsStatus jsack_send(natsConnection *nc, natsMsg *m, jsack_kind k, int64_t delay_ms);

/*
 * msgid -- which id a message is deduplicated by.
 *
 * The id is the Nats-Msg-Id header, else the consumer's JSON field (default
 * `message_id`) of the payload; with `dedup.id_from` naming a field, only
 * that field is used. A replayed dead letter (header Jetway-Replay) gets
 * "<id>~<Jetway-Replay>" so that it is processed once more, once. That form
 * is for display only: a producer may publish "X~DLQ:5" itself, so the dedup
 * KEY of a replay puts MSGID_KEY_REPLAY_SEP, a byte no valid id contains,
 * in place of the '~' (the runtime derives the key). An id must
 * be 1..MSGID_MAX bytes of printable ASCII without spaces; anything else is
 * a reason to dead-letter, returned as text.
 *
 * Threads: pure, any thread (cnats header access is per-message).
 */

#define MSGID_MAX 128
/* Between an id and its replay marker: in the displayed id, and in the
 * dedup key (a space: msgid_check refuses every byte <= 0x20). */
#define MSGID_REPLAY_SEP     '~'
#define MSGID_KEY_REPLAY_SEP ' '

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

/*
 * dlq_find -- which JetStream streams capture a subject (the dead-letter
 * streams of a topology are those capturing some consumer's dead_letter).
 *
 * Threads: dlq_streams_capturing() makes a blocking JetStream request (any
 * thread but the libuv loop); dlq_subject_matches() is pure.
 */

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

/*
 * provision -- make the server's streams and durable pull consumers match
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

typedef enum {
    PROV_UNCHANGED = 0,
    PROV_CREATED,
    PROV_UPDATED,
    PROV_WOULD_CREATE, /* dry run */
    PROV_WOULD_UPDATE, /* dry run */
    PROV_REFUSED,      /* a change JetStream cannot make in place */
    PROV_ERROR,        /* the request failed */
    PROV_BOUND,        /* manage: false: exists, compatible, left as the owner made it */
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

/*
 * 0 when the object now matches (or would, in a dry run); -1 otherwise. A
 * stream declared manage: false is never created or changed: it must exist
 * and be compatible with `cfg` (its declared subjects and retention, and the
 * filter, dead_letter and dedup.ttl of cfg's consumers on it); differences
 * in other declared fields are reported, not applied. `cfg` may be NULL
 * (then no consumer is checked).
 */
int provision_stream_ex(jsCtx *js, const jw_config *cfg, const cfg_stream *st, int dry_run,
                        prov_result *res);
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

/*
 * pub_info -- `jetway pub --stream-info` / `--consumer-info`: a stream's
 * or consumer's state as one JSON object on stdout, for scripts and tests.
 *
 * Threads: blocking JetStream requests; a command's thread.
 */

/* 0 on success; -1 with a message on stderr. */
int pub_info_stream(jsCtx *js, const char *stream, FILE *out);
int pub_info_consumer(jsCtx *js, const char *stream, const char *consumer, FILE *out);

#endif /* JW_CORE_NATS_H */
