/*
 * host_api -- the jw_host table: the services plugins get (publish,
 * respond, headers, in-progress, key-value, counters, log). Every entry is
 * thread-safe; the blocking ones are meant for worker threads.
 */
#ifndef JW_HOST_API_H
#define JW_HOST_API_H

#include "rt_int.h"

void host_api_init(jw_host *h);

#endif /* JW_HOST_API_H */
