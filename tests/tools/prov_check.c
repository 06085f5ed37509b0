/*
 * prov_check.c -- TEMPORARY test tool: provision a hand-built topology
 * (what config_load() will produce once the config branch is merged) and
 * print one line per object exactly as `jetway provision` does.
 *
 *   prov_check URL [--dry-run] [key=value...]
 *
 * keys: storage=file|memory retention=limits|workqueue|interest
 *       deliver=all|new|last ack_wait_ms=N max_ack_pending=N filter=SUBJ
 *       max_age_ms=N dlq=SUBJECT with_dlq_stream (declare DLQ [dlq.>])
 *       nkey=SEEDFILE user=U password=P (connection auth)
 * The topology: stream ORDERS [orders.>], consumer ORDERS/payment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/base.h"
#include "nats/nats.h"

static void
print_result(const prov_result *r, void *ud)
{
    (void)ud;
    char line[1024];
    prov_result_format(r, line, sizeof(line));
    printf("%s\n", line);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: prov_check URL [--dry-run] [key=value...]\n");
        return 2;
    }
    log_setup(0, JW_LOG_WARN, "prov_check");
    char *orders_subj[] = {(char *)"orders.>"};
    char *dlq_subj[] = {(char *)"dlq.>"};
    cfg_stream streams[2];
    memset(streams, 0, sizeof(streams));
    streams[0] = (cfg_stream){.name = (char *)"ORDERS",
                              .subjects = orders_subj,
                              .nsubjects = 1,
                              .max_bytes = -1,
                              .max_msgs = -1,
                              .max_msg_size = -1,
                              .replicas = 1,
                              .duplicate_window_ms = 120000};
    streams[1] = (cfg_stream){.name = (char *)"DLQ",
                              .subjects = dlq_subj,
                              .nsubjects = 1,
                              .max_bytes = -1,
                              .max_msgs = -1,
                              .max_msg_size = -1,
                              .replicas = 1,
                              .duplicate_window_ms = 120000};
    cfg_consumer cons = {.name = (char *)"payment",
                         .stream = (char *)"ORDERS",
                         .ack_wait_ms = 30000,
                         .max_deliver = 5,
                         .max_ack_pending = 128,
                         .concurrency = 1,
                         .batch = 64};
    jw_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.streams = streams;
    cfg.nstreams = 1;
    cfg.consumers = &cons;
    cfg.nconsumers = 1;

    int dry_run = 0;
    const char *nkey_file = NULL, *user = NULL, *password = NULL;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        const char *v = eq ? eq + 1 : "";
        if (strcmp(argv[i], "--dry-run") == 0)
            dry_run = 1;
        else if (strncmp(argv[i], "storage=", 8) == 0)
            streams[0].storage = strcmp(v, "memory") == 0 ? CFG_STORAGE_MEMORY : CFG_STORAGE_FILE;
        else if (strncmp(argv[i], "retention=", 10) == 0)
            streams[0].retention = strcmp(v, "workqueue") == 0  ? CFG_RETENTION_WORKQUEUE
                                   : strcmp(v, "interest") == 0 ? CFG_RETENTION_INTEREST
                                                                : CFG_RETENTION_LIMITS;
        else if (strncmp(argv[i], "max_age_ms=", 11) == 0)
            streams[0].max_age_ms = atoll(v);
        else if (strncmp(argv[i], "deliver=", 8) == 0)
            cons.deliver_policy = strcmp(v, "new") == 0    ? CFG_DELIVER_NEW
                                  : strcmp(v, "last") == 0 ? CFG_DELIVER_LAST
                                                           : CFG_DELIVER_ALL;
        else if (strncmp(argv[i], "ack_wait_ms=", 12) == 0)
            cons.ack_wait_ms = atoll(v);
        else if (strncmp(argv[i], "max_ack_pending=", 16) == 0)
            cons.max_ack_pending = atoi(v);
        else if (strncmp(argv[i], "filter=", 7) == 0)
            cons.filter_subject = (char *)v;
        else if (strncmp(argv[i], "dlq=", 4) == 0)
            cons.dead_letter = (char *)v;
        else if (strncmp(argv[i], "nkey=", 5) == 0)
            nkey_file = v;
        else if (strncmp(argv[i], "user=", 5) == 0)
            user = v;
        else if (strncmp(argv[i], "password=", 9) == 0)
            password = v;
        else if (strcmp(argv[i], "with_dlq_stream") == 0)
            cfg.nstreams = 2;
        else {
            fprintf(stderr, "prov_check: unknown argument %s\n", argv[i]);
            return 2;
        }
    }

    cfg_nats ncfg;
    char *slot;
    natscli url = {.url = argv[1]};
    natscli_apply(&url, &ncfg, 0, &slot);
    ncfg.nkey_seed_file = (char *)nkey_file;
    ncfg.user = (char *)user;
    ncfg.password = (char *)password;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    char err[512];
    if (natsconn_open(&ncfg, NULL, &nc, &js, err, sizeof(err)) != 0) {
        fprintf(stderr, "prov_check: %s\n", err);
        return 1;
    }
    int rc = provision_apply_ex(js, &cfg, dry_run, print_result, NULL, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "prov_check: %s\n", err);
    natsconn_close(nc, js);
    nats_Close();
    return rc == 0 ? 0 : 1;
}
