/*
 * natsconn.c -- see natsconn.h.
 */
#include "nats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define NATSCONN_DEFAULT_URL "nats://127.0.0.1:4222"

static void
on_disconnected(natsConnection *nc, void *closure)
{
    jw_thread_adopt_role(JW_ROLE_CNATS);
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->disconnected)
        ev->disconnected(ev->ud);
}

static void
on_reconnected(natsConnection *nc, void *closure)
{
    jw_thread_adopt_role(JW_ROLE_CNATS);
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->reconnected)
        ev->reconnected(ev->ud);
}

static void
on_closed(natsConnection *nc, void *closure)
{
    jw_thread_adopt_role(JW_ROLE_CNATS);
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->closed)
        ev->closed(ev->ud);
}

static void
on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->connected)
        ev->connected(ev->ud);
}

int64_t
natsconn_backoff_ms(int64_t wait_ms, int64_t max_ms, int attempts, uint32_t rnd)
{
    if (wait_ms <= 0)
        wait_ms = 250;
    if (max_ms < wait_ms)
        max_ms = wait_ms;
    int64_t d = wait_ms;
    for (int i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* "Equal jitter": half fixed, half random, so a herd of clients that lost
     * the same server spreads out but none retries immediately. */
    int64_t half = d / 2;
    return half + (half > 0 ? (int64_t)(rnd % (uint32_t)(half + 1)) : 0);
}

/*
 * The closure of the reconnect-delay callback carries the two durations in
 * the pointer value itself, so there is no allocation whose lifetime would
 * have to outlive every cnats callback thread.
 */
static int64_t
on_reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    uint64_t packed = (uint64_t)(uintptr_t)closure;
    int64_t wait_ms = (int64_t)(packed & 0xffffffffu);
    int64_t max_ms = (int64_t)(packed >> 32);
    return natsconn_backoff_ms(wait_ms, max_ms, attempts, arc4random());
}

const char *
natsconn_errtext(natsStatus s)
{
    const char *e = nats_GetLastError(NULL);
    if (e && *e)
        return e;
    if (s == NATS_NO_RESPONDERS)
        return "no responders (no stream captures the subject, or JetStream is off)";
    return natsStatus_GetText(s);
}

static int
has(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

natsconn_fail
natsconn_failure_kind(const char *err)
{
    if (!err)
        return NATSCONN_FAIL_OTHER;
    if (has(err, "authorization violation") || has(err, "authentication") ||
        has(err, "authorization") || has(err, "credentials") || has(err, "nkey") ||
        has(err, "user jwt") || has(err, "revoked"))
        return NATSCONN_FAIL_AUTH;
    if (has(err, "ssl") || has(err, "tls") || has(err, "certificate") || has(err, "handshake"))
        return NATSCONN_FAIL_TLS;
    if (has(err, "no server available") || has(err, "connection refused") || has(err, "timeout") ||
        has(err, "timed out") || has(err, "no route") || has(err, "unreachable") ||
        has(err, "name or service not known") || has(err, "connection reset") ||
        has(err, "stale connection"))
        return NATSCONN_FAIL_UNREACHABLE;
    return NATSCONN_FAIL_OTHER;
}

const char *
natsconn_failure_name(natsconn_fail k)
{
    switch (k) {
    case NATSCONN_FAIL_UNREACHABLE:
        return "unreachable";
    case NATSCONN_FAIL_AUTH:
        return "authorization refused";
    case NATSCONN_FAIL_TLS:
        return "TLS failure";
    case NATSCONN_FAIL_NO_JETSTREAM:
        return "JetStream not enabled";
    case NATSCONN_FAIL_OTHER:
        break;
    }
    return "error";
}

int
natsconn_check_jetstream(jsCtx *js, const char *stream, natsconn_fail *kind, char *err,
                         size_t errlen)
{
    jsErrCode jerr = 0;
    /* No responders come back at once; a user not permitted the request
     * gets no answer at all, so do not wait for it long. */
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 500;
    natsStatus s;
    if (stream) {
        jsStreamInfo *si = NULL;
        s = js_GetStreamInfo(&si, js, stream, &o, &jerr);
        jsStreamInfo_Destroy(si);
        if (jerr == JSStreamNotFoundErr)
            s = NATS_OK; /* JetStream answered */
    } else {
        jsAccountInfo *ai = NULL;
        s = js_GetAccountInfo(&ai, js, &o, &jerr);
        jsAccountInfo_Destroy(ai);
    }
    if (s == NATS_OK)
        return 0;
    /* No JetStream: nobody answers $JS.API (no responders), or the server
     * says so for this account (10039). */
    if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledForAccountErr || jerr == JSNotEnabledErr) {
        *kind = NATSCONN_FAIL_NO_JETSTREAM;
        snprintf(err, errlen,
                 "nats: JetStream is not enabled on the server or for this account (start "
                 "nats-server with -js, or give the account JetStream)");
        return -1;
    }
    /* Anything else (a timeout: a user not permitted $JS.API.INFO gets no
     * answer; an account without limits...) is no proof that JetStream is
     * off: provisioning reports what really fails. */
    (void)kind;
    (void)err;
    (void)errlen;
    return 0;
}

void
natsconn_redact(const cfg_nats *cfg, const char *in, char *out, size_t outlen)
{
    if (!outlen)
        return;
    const char *secrets[2] = {cfg ? cfg->password : NULL, cfg ? cfg->token : NULL};
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < outlen;) {
        size_t skip = 0;
        for (int i = 0; i < 2 && !skip; i++) {
            if (secrets[i] && *secrets[i] && strncmp(p, secrets[i], strlen(secrets[i])) == 0)
                skip = strlen(secrets[i]);
        }
        /* URL userinfo: "://user:pass@" -> "://<redacted>@" */
        if (!skip && strncmp(p, "://", 3) == 0) {
            const char *at = p + 3;
            while (*at && *at != '@' && *at != '/' && *at != ' ' && *at != ',')
                at++;
            if (*at == '@') {
                int n = snprintf(out + o, outlen - o, "://<redacted>");
                o = (size_t)n < outlen - o ? o + (size_t)n : outlen - 1;
                p = at;
                continue;
            }
        }
        if (skip) {
            int n = snprintf(out + o, outlen - o, "<redacted>");
            o = (size_t)n < outlen - o ? o + (size_t)n : outlen - 1;
            p += skip;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

static natsStatus
set_timing(natsOptions *opts, const cfg_nats *cfg)
{
    int64_t wait = cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : 250;
    int64_t max = cfg->reconnect_wait_max_ms > 0 ? cfg->reconnect_wait_max_ms : 5000;
    if (wait > 0xffffffffLL)
        wait = 0xffffffffLL;
    if (max > 0xffffffffLL)
        max = 0xffffffffLL;
    natsStatus s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, wait);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(opts, wait / 2, wait);
#if UINTPTR_MAX >= UINT64_MAX
    if (s == NATS_OK) {
        uintptr_t packed = (uintptr_t)(((uint64_t)max << 32) | (uint64_t)wait);
        s = natsOptions_SetCustomReconnectDelay(opts, on_reconnect_delay, (void *)packed);
    }
#else
    (void)on_reconnect_delay;
#endif
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts,
                                   cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000);
    /* Published data held while reconnecting (cnats's default is 8 MiB too;
     * set explicitly so the bound is visible here). */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(opts, 8 * 1024 * 1024);
    return s;
}

int
natsconn_open_ex(const cfg_nats *cfg, const natsconn_events *events, unsigned flags,
                 natsConnection **nc, jsCtx **js, char *err, size_t errlen)
{
    natsOptions *opts = NULL;
    *nc = NULL;
    *js = NULL;
    err[0] = '\0';
    static const char *const default_servers[] = {NATSCONN_DEFAULT_URL};
    const char **servers =
        cfg->nservers ? (const char **)cfg->servers : (const char **)default_servers;
    int nservers = cfg->nservers ? (int)cfg->nservers : 1;

    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(opts, servers, nservers);
    if (s == NATS_OK && cfg->name)
        s = natsOptions_SetName(opts, cfg->name);
    if (s == NATS_OK)
        s = set_timing(opts, cfg);
    if (s == NATS_OK && cfg->inbox_prefix)
        s = natsOptions_SetCustomInboxPrefix(opts, cfg->inbox_prefix);
    /* Without it cnats batches writes through its flusher thread, which
     * adds up to ~1 ms to an idle consumer's pull requests and acks. */
    if (s == NATS_OK && cfg->send_asap)
        s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK && events) {
        s = natsOptions_SetDisconnectedCB(opts, on_disconnected, (void *)events);
        if (s == NATS_OK)
            s = natsOptions_SetReconnectedCB(opts, on_reconnected, (void *)events);
        if (s == NATS_OK)
            s = natsOptions_SetClosedCB(opts, on_closed, (void *)events);
    }
    if (s == NATS_OK && (flags & NATSCONN_RETRY_CONNECT))
        s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, (void *)events);
    if (s != NATS_OK) {
        char raw[512];
        snprintf(raw, sizeof(raw), "nats: options: %s", natsconn_errtext(s));
        natsconn_redact(cfg, raw, err, errlen);
        natsOptions_Destroy(opts);
        return -1;
    }
    if (natscli_set_options(opts, cfg, err, errlen) != 0) {
        natsOptions_Destroy(opts);
        return -1;
    }

    int pending = 0;
    s = natsConnection_Connect(nc, opts);
    if (s == NATS_NOT_YET_CONNECTED && (flags & NATSCONN_RETRY_CONNECT)) {
        pending = 1;
        s = NATS_OK;
    }
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 5000;
        s = natsConnection_JetStream(js, *nc, &jo);
    }
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        char raw[512];
        snprintf(raw, sizeof(raw), "nats: connect to %s%s: %s", servers[0],
                 nservers > 1 ? " (and others)" : "", natsconn_errtext(s));
        natsconn_redact(cfg, raw, err, errlen);
        if (*nc) {
            natsConnection_Destroy(*nc);
            *nc = NULL;
        }
        return -1;
    }
    return pending;
}

int
natsconn_open(const cfg_nats *cfg, const natsconn_events *events, natsConnection **nc, jsCtx **js,
              char *err, size_t errlen)
{
    return natsconn_open_ex(cfg, events, 0, nc, js, err, errlen);
}

void
natsconn_close(natsConnection *nc, jsCtx *js)
{
    if (js)
        jsCtx_Destroy(js);
    if (nc) {
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
}
