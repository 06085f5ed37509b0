/*
 * runtime -- `jetway run`: the host's life from start to exit.
 *
 * Start: load and validate the config, connect NATS (retrying until the
 * server is there), provision streams and consumers, start the worker pool,
 * initialise the plugin instances (on a worker), start Redis, the HTTP
 * endpoint, the consumers and services, write the pid file, run the loop.
 * SIGHUP reloads (validate, then swap; coalesced), and so does a change of
 * the config file's content with watch_config. SIGTERM/SIGINT drain and
 * return 0; a second SIGINT exits at once.
 *
 * Threads: rt_main is called on the main thread, which becomes the loop.
 */
#ifndef JW_RUNTIME_H
#define JW_RUNTIME_H

#include "rt_int.h"

typedef struct rt_options {
    const char *config_path;
    const char *pid_file; /* NULL = none */
    int watch_config;     /* reload when the config file's content changes */
    int retry_auth;       /* keep retrying refused NATS/Redis credentials (--retry-auth) */
} rt_options;

int rt_main(const rt_options *opts);

rt_host *rt_get(void);
int rt_on_loop_thread(void);
/* Run fn(arg) on a worker thread, later (plugin fini, blocking chores). */
void rt_run_task(rt_host *r, void (*fn)(void *), void *arg);

#endif /* JW_RUNTIME_H */
