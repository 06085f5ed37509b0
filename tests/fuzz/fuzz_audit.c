/*
 * fuzz_audit.c -- the audit plugin's event decoding (plugins/audit/audit.c:
 * audit_minify, then the append of plugins/audit/audit_log.c) against the
 * fake host of its tests, writing a real log in a scratch directory.
 *
 * Input: byte 0 picks the message's stream (or none) and id (one of eight,
 * or none, so the dedup of repeated ids is reached); the rest is the
 * payload as delivered (any bytes).
 *
 * Checked: a payload the plugin takes minifies to the same JSON document
 * (cJSON_Compare) and is one line; after every input the log verifies
 * intact and strict with the chain verifier. The log starts afresh every
 * 256 inputs.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/stat.h>

#include "../../plugins/audit/audit.c"
#include "../../plugins/tools/audit_chain.h"
/* Its fh_log is a vsnprintf wrapper without a format attribute, which clang's
 * -Wformat-nonliteral (from -Wformat=2) flags and gcc's does not. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#include "../../tests/tools/audit_fakehost.h"
#pragma clang diagnostic pop
#include "fuzz.h"

static const jw_plugin *fz_p;
static void *fz_ctx;
static char dir[512];
static unsigned fz_n;

static void
fz_clear(void)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static void
fz_open(void)
{
    char cfg[1024], err[256] = "";
    snprintf(cfg, sizeof(cfg),
             "{\"dir\":\"%s\",\"segment_size\":16384,\"fsync_batch\":1,"
             "\"fsync_interval\":0}",
             dir);
    if (fz_p->init(fh_host(), (jw_instance *)&fh_state, cfg, &fz_ctx, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_audit: init: %s\n", err);
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fh_state.quiet = 1;
    snprintf(dir, sizeof(dir), "%s/audit", fuzz_tmpdir());
    fz_p = jw_plugin_query(JW_ABI_MAJOR, JW_ABI_MINOR);
    if (fz_p == NULL)
        abort();
    fz_open();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = {"a", "b", "c", "d", "e-1", "f:2", "g~h", NULL};
    static const char *const streams[] = {"ORDERS", "PAYMENTS", "X", NULL};
    if (size < 1 || size > 65536)
        return 0;
    if (++fz_n % 256 == 0) {
        fz_p->fini(fz_ctx);
        fz_clear();
        fz_open();
    }
    size_t len = size - 1;
    char *payload = malloc(len ? len : 1);
    if (payload == NULL)
        abort();
    memcpy(payload, data + 1, len);
    jw_msg m =
        fh_msg("orders.created.v1", streams[(data[0] >> 3) & 3], fz_n, ids[data[0] & 7], NULL);
    m.data = payload;
    m.len = len;

    /* The minified form is the same document, on one line. */
    jw_result mr = {.verdict = JW_ACK, .delay_ms = -1};
    char *min = audit_minify(&m, &mr);
    if (min != NULL) {
        cJSON *a = cJSON_ParseWithLength(payload, len);
        cJSON *b = cJSON_Parse(min);
        if (a == NULL || b == NULL || !cJSON_Compare(a, b, 1) || strchr(min, '\n') != NULL) {
            fprintf(stderr, "fuzz_audit: minified payload differs: %s\n", min);
            abort();
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
        free(min);
    } else if (mr.verdict != JW_REJECT || mr.reason[0] == '\0') {
        abort();
    }

    jw_result res;
    jw_verdict v = fh_handle(fz_p, fz_ctx, &m, &res);
    if (v != JW_ACK && v != JW_REJECT && v != JW_RETRY)
        abort();
    audit_chain_result r;
    if (audit_chain_verify(dir, 1, &r) != 0) {
        fprintf(stderr, "fuzz_audit: log broken at %s line %llu: %s\n", r.segment,
                (unsigned long long)r.line, r.error);
        abort();
    }
    free(payload);
    return 0;
}
