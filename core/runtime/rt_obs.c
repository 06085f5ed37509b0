/*
 * obs.c -- see obs.h.
 */
#include "rt_obs_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "obs/obs.h"
#include "base/base.h"
#include "breaker_int.h"

static void
add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/*
 * Hand the status page the topology of the current generation (streams,
 * consumers, services, plugin files): the HTTP thread may not read the
 * config, which a reload frees, so it gets a JSON copy at start and after
 * each swap.
 */
static void
publish_topology(rt_host *r)
{
    const jw_config *cfg = r->cur->cfg;
    cJSON *t = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(t, "streams");
    for (size_t i = 0; i < cfg->nstreams; i++) {
        cJSON *o = cJSON_CreateObject();
        add_str(o, "name", cfg->streams[i].name);
        cJSON *subj = cJSON_AddArrayToObject(o, "subjects");
        for (size_t j = 0; j < cfg->streams[i].nsubjects; j++)
            cJSON_AddItemToArray(subj, cJSON_CreateString(cfg->streams[i].subjects[j]));
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(t, "consumers");
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        const cfg_consumer *cc = &cfg->consumers[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "name", cc->name);
        add_str(o, "stream", cc->stream);
        add_str(o, "filter", cc->filter_subject);
        add_str(o, "handler", cc->handler);
        add_str(o, "dead_letter", cc->dead_letter);
        cJSON_AddBoolToObject(o, "dedup", cc->dedup.enabled);
        cJSON_AddNumberToObject(o, "concurrency", cc->concurrency);
        cJSON_AddNumberToObject(o, "batch", cc->batch);
        cJSON_AddNumberToObject(o, "max_deliver", cc->max_deliver);
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(t, "services");
    for (size_t i = 0; i < cfg->nservices; i++) {
        const cfg_service_ep *ep = &cfg->services[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "name", ep->name);
        add_str(o, "subject", ep->subject);
        add_str(o, "queue", ep->queue);
        add_str(o, "handler", ep->handler);
        cJSON_AddNumberToObject(o, "concurrency", ep->concurrency);
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(t, "plugins");
    for (size_t i = 0; i < cfg->nplugins; i++) {
        cJSON *o = cJSON_CreateObject();
        add_str(o, "name", cfg->plugins[i].name);
        add_str(o, "file", cfg->plugins[i].file);
        cJSON_AddItemToArray(a, o);
    }
    char *text = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    status_set_topology(text); /* NULL (out of memory): the page shows no topology */
    free(text);
}

void
obs_start_http(rt_host *r, const jw_config *cfg)
{
    /* Main thread, before the loop exists (run starts HTTP first), or the
     * loop from obs_start(). */
    JW_ASSERT_THREAD(JW_ROLE_LOOP | JW_ROLE_MAIN);
    char err[256];
    if (cfg->http.listen && !r->http) {
        http_server *srv = NULL;
        /* POST /consumers/NAME/pause|resume, as `jetway consumer` does over
         * the control socket (answered on a loopback listener only). */
        http_set_control(ctl_operator);
        if (http_start(cfg->http.host, cfg->http.port, http_default_ready, r, &srv, err,
                       sizeof(err)) == 0) {
            http_set_service(srv, cfg->service.name);
            r->http = srv; /* http_start logged the address */
        } else {
            log_error("%s", err); /* http_start's reasons start with "http:" */
        }
    }
}

void
obs_start(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    const jw_config *cfg = r->cur->cfg;
    publish_topology(r);
    obs_start_http(r, cfg);
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
    publish_topology(r);
}

void
obs_stop_http(rt_host *r)
{
    /* MAIN: a start that failed before the loop existed (HTTP starts first). */
    JW_ASSERT_THREAD(JW_ROLE_LOOP | JW_ROLE_MAIN);
    if (r->http) {
        http_stop(r->http);
        r->http = NULL;
    }
    status_reset();
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
