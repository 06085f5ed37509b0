/*
 * service -- request/reply endpoints: a core NATS queue subscription whose
 * requests run on the worker pool through a plugin's handle(); the plugin
 * answers with host->respond(). Any number of processes share the queue
 * group.
 *
 * Threads: start/update/stop/free on the loop thread (subscribing does not
 * block); requests arrive on a cnats thread and are only queued there.
 */
#ifndef JW_SERVICE_H
#define JW_SERVICE_H

#include "rt_int.h"

rt_service *service_start(rt_host *r, rt_gen *g, const cfg_service_ep *ep);
void service_update(rt_service *s, rt_gen *g, const cfg_service_ep *ep);
void service_stop(rt_service *s);
int service_drained(rt_service *s);
void service_free(rt_service *s);
/* A request whose handler returned and whose publish_async calls are all
 * answered: send its held reply (or the 503) and free it. Worker or loop. */
void service_request_done(rt_job *j);

#endif /* JW_SERVICE_H */
