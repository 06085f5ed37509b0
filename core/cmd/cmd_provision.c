/*
 * cmd_provision.c -- `jetway provision -c FILE [--dry-run] [-s URL]`: make
 * the server's streams and consumers match the file; one line per object.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config/config.h"
#include "base/base.h"
#include "nats/nats.h"

static void
usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: jetway provision -c FILE [--dry-run] [-s URL] [auth]\n\n"
        "Create the streams and durable pull consumers the config declares, update\n"
        "the fields JetStream can change in place, and refuse (exit 1) changes it\n"
        "cannot make (storage, retention, deliver policy, ack policy...). Nothing is\n"
        "ever deleted or recreated. One line per object:\n"
        "  <object>: created | updated | unchanged | bound | refused | error [: detail]\n"
        "A stream declared manage: false is only bound: it must exist, is checked\n"
        "and never created or changed ('bound', with any difference shown).\n\n"
        "  -c, --config FILE  the topology\n"
        "  -n, --dry-run      compare only; print 'would create' / 'would update'\n" NATSCLI_USAGE
        "  -h, --help         this text\n");
}

static void
print_result(const prov_result *r, void *ud)
{
    (void)ud;
    char line[1024];
    prov_result_format(r, line, sizeof(line));
    printf("%s\n", line);
}

int
cmd_provision(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dry-run", no_argument, NULL, 'n'},
        NATSCLI_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    natscli nopt = {0};
    int dry_run = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:ns:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (natscli_option(&nopt, c, optarg))
                break;
            usage(stderr);
            return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* Progress goes to stdout; the log stays for errors only. */
    log_setup(0, JW_LOG_WARN, "jetway-provision");

    jw_config *cfg = NULL;
    cfg_errors errs = {0};
    if (config_load(path, &cfg, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i].text);
        cfg_errors_free(&errs);
        return 1;
    }
    cfg_errors_free(&errs);

    cfg_nats ncfg = cfg->nats;
    char *server_slot = NULL;
    natscli_apply(&nopt, &ncfg, 1, &server_slot);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    char err[512];
    if (natsconn_open(&ncfg, NULL, &nc, &js, err, sizeof(err)) != 0) {
        fprintf(stderr, "jetway provision: %s\n", err);
        config_free(cfg);
        return 1;
    }
    int rc = provision_apply_ex(js, cfg, dry_run, print_result, NULL, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "jetway provision: %s\n", err);
    natsconn_close(nc, js);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}
