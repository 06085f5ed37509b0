/*
 * audit_testlib.h -- what the audit plugin's tests (test_audit.c) and the
 * chain verifier's tests (plugins/tools/tests/test_audit_verify.c) share:
 * the plugin, dlopen'ed from $JETWAY_BUILD/plugins/audit.so and driven
 * through the ABI with the fake host of tests/tools/audit_fakehost.h, and
 * helpers that write, read and damage log files. Each includer is one test
 * program (the helpers are static); one test thread.
 */
#ifndef AUDIT_TESTLIB_H
#define AUDIT_TESTLIB_H

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../tests/tools/audit_fakehost.h"
#include "../../tools/audit_chain.h"
#include "../audit_format.h"

/* Loaded by group_setup, for the whole run. */
static const jw_plugin *plugin;

/* ---- helpers ---------------------------------------------------------- */

static char *
tmpdir(void)
{
    char *d = strdup("/tmp/jwaudit.XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void
rmtree(char *dir)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *
seg_path(const char *dir, uint32_t no)
{
    char name[AUD_SEG_NAME_MAX];
    static char path[512];
    aud_segment_name(no, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void
spit(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* Offset of the start of line `line` (1-based) in buf. */
static size_t
line_off(const char *buf, size_t line)
{
    size_t off = 0;
    for (size_t l = 1; l < line; l++) {
        const char *nl = strchr(buf + off, '\n');
        assert_non_null(nl);
        off = (size_t)(nl - buf) + 1;
    }
    return off;
}

static size_t
count_lines(const char *path)
{
    size_t len, n = 0;
    char *buf = slurp(path, &len);
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    free(buf);
    return n;
}

/* Start an instance on dir with the config members in `extra` (",..." or ""). */
static void *
start(const char *extra, const char *dir)
{
    char cfg[1024], err[256] = "";
    snprintf(cfg, sizeof cfg, "{\"dir\":\"%s\"%s}", dir, extra);
    void *ctx = NULL;
    int rc = plugin->init(fh_host(), (jw_instance *)&fh_state, cfg, &ctx, err, sizeof err);
    if (rc != 0)
        fail_msg("init failed: %s", err);
    return ctx;
}

#define CFG_DEFAULT ""
#define CFG_SMALL   ",\"segment_size\":1500,\"fsync_batch\":4,\"fsync_interval\":10"

/* Feed event i (id e<i>) and expect ACK. */
static void
feed(void *ctx, unsigned i)
{
    char id[32], data[128];
    snprintf(id, sizeof id, "e%u", i);
    snprintf(data, sizeof data, "{\"message_id\":\"%s\",\"order_id\":\"o%u\",\"qty\":%u}", id, i,
             i);
    jw_msg m = fh_msg("orders.created", "ORDERS", i, id, data);
    jw_result res;
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
}

static void
feed_n(void *ctx, unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++)
        feed(ctx, i);
}

static int
verify(const char *dir, int strict, audit_chain_result *r)
{
    return audit_chain_verify(dir, strict, r);
}

static int
group_setup(void **state)
{
    (void)state;
    const char *build = getenv("JETWAY_BUILD");
    char so[1024];
    snprintf(so, sizeof so, "%s/plugins/audit.so", build && *build ? build : "build");
    fh_state.quiet = 1;
    plugin = fh_load(so);
    return plugin ? 0 : -1;
}

#endif /* AUDIT_TESTLIB_H */
