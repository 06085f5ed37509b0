/*
 * service.h -- request/reply endpoints: a core NATS queue subscription whose
 * requests run on the worker pool through a plugin's handle(); the plugin
 * answers with host->respond(). Any number of processes share the queue
 * group.
 *
 * Threads: start/update/stop/free on the loop thread (subscribing does not
 * block); requests arrive on a cnats thread and are only queued there.
 */
#ifndef JW_SERVICE_H
#define JW_SERVICE_H

#include "rt.h"

service_rt *service_start(rt *r, gen *g, const cfg_service_ep *ep);
void service_update(service_rt *s, gen *g, const cfg_service_ep *ep);
void service_stop(service_rt *s);
int service_drained(service_rt *s);
void service_free(service_rt *s);

#endif /* JW_SERVICE_H */
