/*
 * natsconn.h -- one NATS connection built from the `nats:` section: servers,
 * auth (user/password, token, NKey seed file, creds file), TLS (CA, client
 * cert and key, expected hostname), timeouts and unlimited reconnects with
 * jittered backoff; plus its JetStream context.
 *
 * Threads: natsconn_open()/natsconn_close() are blocking and run on the main
 * thread (at start and at exit) or a command's thread. The returned
 * connection and jsCtx are cnats objects, safe from any thread. The
 * callbacks run on cnats's own threads: they must only touch atomics or hand
 * work to the loop.
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
} natsconn_events;

/*
 * Connect. `events` may be NULL. On failure returns -1 and writes a reason
 * (never a secret) into err. With `retry_forever` the first connect is
 * retried until it succeeds or *stop becomes non-zero.
 */
int natsconn_open(const cfg_nats *cfg, const natsconn_events *events, natsConnection **nc,
                  jsCtx **js, char *err, size_t errlen);
void natsconn_close(natsConnection *nc, jsCtx *js);

#endif /* JW_NATSCONN_H */
