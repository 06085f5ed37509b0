/*
 * natsconn.h -- one NATS connection built from the `nats:` section: servers,
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
#ifndef JW_NATSCONN_H
#define JW_NATSCONN_H

#include <nats/nats.h>

#include "config.h"

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
 * A cfg_nats for command-line tools: one server URL (`url`, else $NATS_URL,
 * else nats://127.0.0.1:4222) and defaults for everything else. `c` holds
 * borrowed pointers only; nothing to free.
 */
void natsconn_cfg_from_url(cfg_nats *c, char **server_slot, const char *url);

/*
 * The reconnect delay for attempt `attempts` (1-based): reconnect_wait
 * doubled per attempt, capped at reconnect_wait_max, then jittered into
 * [delay/2, delay]. `rnd` is a uniform random 32-bit value. Pure, for tests.
 */
int64_t natsconn_backoff_ms(int64_t wait_ms, int64_t max_ms, int attempts, uint32_t rnd);

/* The most useful text for a failed cnats call: the thread's last error,
 * else the status text (never NULL). */
const char *natsconn_errtext(natsStatus s);

/* Copy `in` to `out` with every secret of `cfg` (password, token, URL
 * userinfo) replaced by "<redacted>". */
void natsconn_redact(const cfg_nats *cfg, const char *in, char *out, size_t outlen);

#endif /* JW_NATSCONN_H */
