/*
 * fuzz_config.c -- the YAML config loader end to end: the input is a
 * topology file handed to config_load() (libyaml, ${VAR} substitution, the
 * schema, durations, sizes, URLs, subjects, cross references, timing
 * relations), and a config that loads is dumped (the normalized form and
 * its redaction of secrets) and freed.
 *
 * A few environment variables exist so that ${VAR} and ${VAR:-default} see
 * both set and unset names.
 */
#include "fuzz.h"

#include "config/config.h"

static char path[512];
static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("JW_FUZZ_HOST", "127.0.0.1", 1);
    setenv("JW_FUZZ_PORT", "4222", 1);
    setenv("JW_FUZZ_EMPTY", "", 1);
    setenv("JW_FUZZ_SECRET", "s3cr3t", 1);
    setenv("JW_FUZZ_DUR", "1h30m", 1);
    snprintf(path, sizeof(path), "%s/jetway.yaml", fuzz_tmpdir());
    /* A password_file named in the input: something harmless to read. */
    char secret[512];
    snprintf(secret, sizeof(secret), "%s/secret", fuzz_tmpdir());
    fuzz_write_file(secret, "pw\n", 3);
    devnull = fopen("/dev/null", "we");
    if (devnull == NULL)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0; /* the loader's own 4 MiB cap is not what is fuzzed */
    fuzz_write_file(path, data, size);
    jw_config *cfg = NULL;
    cfg_errors errs = {0};
    if (config_load(path, &cfg, &errs) == 0) {
        if (errs.n != 0)
            abort(); /* a load that succeeds reports no error */
        config_dump(cfg, devnull);
        config_free(cfg);
    } else if (cfg != NULL || errs.n == 0) {
        abort(); /* a failed load has no config and says why */
    }
    for (size_t i = 0; i < errs.n; i++) {
        if (errs.v[i].text == NULL)
            abort();
    }
    cfg_errors_free(&errs);
    return 0;
}
