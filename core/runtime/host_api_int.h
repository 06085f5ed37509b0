/*
 * host_api -- the jw_host table: the services plugins get (publish,
 * respond, headers, in-progress, key-value, counters, log). Every entry is
 * thread-safe; the blocking ones are meant for worker threads.
 */
#ifndef JW_HOST_API_H
#define JW_HOST_API_H

#include "rt_int.h"

void host_api_init(jw_host *h);

/*
 * Answer request job j (its reply subject) with data, or, when
 * `unavailable`, with an error body and header Jetway-Status: 503 (a
 * publish_async the reply depended on failed). Any thread.
 */
int host_api_send_reply(const rt_job *j, const void *data, size_t len, int unavailable);

#endif /* JW_HOST_API_H */
