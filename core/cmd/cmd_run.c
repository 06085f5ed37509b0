/*
 * cmd_run.c -- `jetway run -c FILE [--pid-file PATH] [--watch-config]`.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "runtime/runtime.h"

static void
run_usage(FILE *fp)
{
    fprintf(fp, "usage: jetway run -c FILE [--pid-file PATH] [--watch-config] [--retry-auth]\n\n"
                "Host the topology of FILE in the foreground: connect to NATS, create or update\n"
                "the declared streams and durable pull consumers, load the handler plugins and\n"
                "route every message to its handler. Logs go to stderr.\n\n"
                "  -c, --config FILE    the YAML topology\n"
                "  -p, --pid-file PATH  write the pid there (and reload outcomes to PATH.reload)\n"
                "  -w, --watch-config   reload, as SIGHUP does, when FILE's content changes\n"
                "                       (edits, renames, a Kubernetes ConfigMap's ..data swap)\n"
                "      --retry-auth     keep retrying when NATS or Redis refuses the credentials\n"
                "                       (default: exit 1 after nats/redis.max_auth_failures, 3)\n\n"
                "The HTTP endpoint starts first: while NATS or Redis is unreachable or refuses\n"
                "the connection, /readyz answers 503 with the reason and /healthz 200.\n\n"
                "signals: SIGHUP reloads the config and plugins; SIGTERM/SIGINT drain in-flight\n"
                "messages and exit 0; a second SIGINT exits at once.\n");
}

/*
 * glibc gives each thread that mallocs its own arena, up to 8 per CPU: with
 * 16 workers, fetchers and cnats threads each arena keeps its own free
 * memory and the audit role held ~4 MB in ten of them (RSS 12.4 MB against
 * the 12 MB budget; 11.6 MB with two). Two arenas plus glibc's per-thread
 * caches keep the hot path lock-free enough on the hosts we target. An
 * operator's MALLOC_ARENA_MAX wins.
 */
static void
run_tune_malloc(void)
{
#ifdef M_ARENA_MAX
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#endif
}

int
cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"pid-file", required_argument, NULL, 'p'},
        {"watch-config", no_argument, NULL, 'w'}, {"retry-auth", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    rt_options o = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:wh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'p':
            o.pid_file = optarg;
            break;
        case 'w':
            o.watch_config = 1;
            break;
        case 'R':
            o.retry_auth = 1;
            break;
        case 'h':
            run_usage(stdout);
            return 0;
        default:
            run_usage(stderr);
            return 2;
        }
    }
    if (!o.config_path || optind != argc) {
        run_usage(stderr);
        return 2;
    }
    run_tune_malloc();
    return rt_main(&o);
}
