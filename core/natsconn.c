/*
 * natsconn.c -- see natsconn.h.
 */
#include "natsconn.h"

#include <stdio.h>
#include <string.h>

static void
on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->disconnected)
        ev->disconnected(ev->ud);
}

static void
on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->reconnected)
        ev->reconnected(ev->ud);
}

static void
on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    const natsconn_events *ev = closure;
    if (ev && ev->closed)
        ev->closed(ev->ud);
}

int
natsconn_open(const cfg_nats *cfg, const natsconn_events *events, natsConnection **nc,
              jsCtx **js, char *err, size_t errlen)
{
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(opts, (const char **)cfg->servers, (int)cfg->nservers);
    if (s == NATS_OK && cfg->name)
        s = natsOptions_SetName(opts, cfg->name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : 250);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000);
    if (s == NATS_OK && cfg->user)
        s = natsOptions_SetUserInfo(opts, cfg->user, cfg->password ? cfg->password : "");
    if (s == NATS_OK && cfg->token)
        s = natsOptions_SetToken(opts, cfg->token);
    if (s == NATS_OK && events) {
        s = natsOptions_SetDisconnectedCB(opts, on_disconnected, (void *)events);
        if (s == NATS_OK)
            s = natsOptions_SetReconnectedCB(opts, on_reconnected, (void *)events);
        if (s == NATS_OK)
            s = natsOptions_SetClosedCB(opts, on_closed, (void *)events);
    }
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, opts);
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 5000;
        s = natsConnection_JetStream(js, *nc, &jo);
    }
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        snprintf(err, errlen, "nats: %s (%s)", natsStatus_GetText(s), nats_GetLastError(NULL));
        if (*nc) {
            natsConnection_Destroy(*nc);
            *nc = NULL;
        }
        return -1;
    }
    return 0;
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
