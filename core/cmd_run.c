/*
 * cmd_run.c -- `jetway run -c FILE [--pid-file PATH]`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "runtime.h"

static void
run_usage(FILE *fp)
{
    fprintf(fp,
            "usage: jetway run -c FILE [--pid-file PATH]\n\n"
            "Host the topology of FILE in the foreground: connect to NATS, create or update\n"
            "the declared streams and durable pull consumers, load the handler plugins and\n"
            "route every message to its handler. Logs go to stderr.\n\n"
            "  -c, --config FILE    the YAML topology\n"
            "  -p, --pid-file PATH  write the pid there (and reload outcomes to PATH.reload)\n\n"
            "signals: SIGHUP reloads the config and plugins; SIGTERM/SIGINT drain in-flight\n"
            "messages and exit 0; a second SIGINT exits at once.\n");
}

int
cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rt_options o = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'p':
            o.pid_file = optarg;
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
    return rt_main(&o);
}
