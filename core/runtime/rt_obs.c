/*
 * obs.c -- see obs.h.
 */
#include "rt_obs_int.h"

#include "obs/obs.h"
#include "base/base.h"

void
obs_start(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    const jw_config *cfg = r->cur->cfg;
    char err[256];
    if (cfg->http.listen) {
        http_server *srv = NULL;
        if (http_start(cfg->http.host, cfg->http.port, http_default_ready, r, &srv, err,
                       sizeof(err)) == 0) {
            http_set_service(srv, cfg->service.name);
            r->http = srv; /* http_start logged the address */
        } else {
            log_error("%s", err); /* http_start's reasons start with "http:" */
        }
    }
    if (cfg->tracing.otlp_endpoint) {
        otlp_exporter *e = NULL;
        if (otlp_start(cfg->tracing.otlp_endpoint, cfg->tracing.queue_size,
                       cfg->tracing.export_interval_ms, cfg->service.name, &e) == 0)
            r->otlp = e;
        else
            log_error("tracing: cannot start the OTLP exporter");
    }
}

void
obs_reconfigure(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (r->http)
        http_set_service(r->http, r->cur->cfg->service.name);
}

void
obs_stop_http(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (r->http) {
        http_stop(r->http);
        r->http = NULL;
    }
}

void
obs_stop_tracing(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_MAIN | JW_ROLE_LOOP);
    if (r->otlp) {
        otlp_stop(r->otlp);
        r->otlp = NULL;
    }
}
