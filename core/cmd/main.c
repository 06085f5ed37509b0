/*
 * main.c -- the jetway binary: dispatch to a subcommand.
 */
#include <hiredis/hiredis.h>
#include <nats/nats.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>
#include <cjson/cJSON.h>

#include "cmd.h"
#include "jetway/plugin.h"
#include "base/base.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "host the topology of a config file (foreground)"},
    {"check", cmd_check, "validate a config file and print the normalized topology"},
    {"provision", cmd_provision, "create or update the declared streams and consumers"},
    {"reload", cmd_reload, "make a running jetway reload its config (by pid file)"},
    {"consumer", cmd_consumer, "pause or resume a consumer of a running jetway (by pid file)"},
    {"dlq", cmd_dlq, "list, show and replay dead letters"},
    {"pub", cmd_pub, "publish messages to JetStream (testing, smoke checks)"},
    {"plugin", cmd_plugin, "describe a plugin: name, version, ABI, options"},
    {"version", cmd_version, "print versions of jetway, its plugin ABI and libraries"},
};

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: jetway COMMAND [options]\n\n"
                "jetway hosts event handler plugins on NATS JetStream.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'jetway COMMAND --help' documents a command's options.\n");
}

int
cmd_version(int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: jetway version\n\nPrint the versions of jetway, its plugin ABI and the "
               "libraries it runs with.\n");
        return 0;
    }
    printf("jetway %s\n", JW_VERSION);
    printf("plugin ABI %u.%u (%s)\n", JW_ABI_MAJOR, JW_ABI_MINOR, JW_BUILD_SIG);
    printf("libuv %s\n", uv_version_string());
    printf("cnats %s\n", nats_GetVersion());
    printf("hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    printf("libyaml %s\n", yaml_get_version_string());
    printf("cJSON %s\n", cJSON_Version());
    /* The fault tests read this line to refuse a binary that cannot crash
     * where they ask it to (make FAILPOINTS=1). */
#ifdef JW_FAILPOINTS
    printf("failpoints: on\n");
#else
    printf("failpoints: off\n");
#endif
    return 0;
}

int
main(int argc, char **argv)
{
    /* cnats 3.4.1's nats_Close() frees OpenSSL's compression-method stack
     * without resetting it (nats.c issue #904), so OpenSSL's own atexit
     * cleanup crashed every process that had used TLS. Initialise OpenSSL
     * first, without that atexit handler; the OS reclaims it at exit. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "jetway: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
