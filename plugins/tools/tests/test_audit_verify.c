/*
 * test_audit_verify.c -- the example's audit chain verifier
 * (plugins/tools/audit_chain.c, `jetway-audit-verify`) on every kind of
 * corruption of a log the audit plugin wrote: each is found and named with
 * its segment, line and error.
 */
#include "../../audit/tests/audit_testlib.h"

/* Length of line `line` (1-based) of buf, its newline included. */
static size_t
line_len(const char *buf, size_t line)
{
    size_t off = line_off(buf, line);
    const char *nl = strchr(buf + off, '\n');
    assert_non_null(nl);
    return (size_t)(nl - (buf + off)) + 1;
}

static void
expect_broken(const char *dir, const char *seg, uint64_t line, const char *error)
{
    audit_chain_result r;
    assert_int_equal(verify(dir, 0, &r), 1);
    assert_string_equal(r.segment, seg);
    assert_int_equal(r.line, line);
    assert_string_equal(r.error, error);
}

/* A log of 3+ segments written by the plugin. */
static char *
three_segments(void)
{
    char *dir = tmpdir();
    void *ctx = start(CFG_SMALL, dir);
    feed_n(ctx, 1, 19);
    plugin->fini(ctx);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_true(r.segments >= 3);
    assert_int_equal(r.records, 18);
    return dir;
}

/* ---- verify: each corruption is found and named ------------------------ */

static void
test_verify_flip_byte(void **state)
{
    (void)state;
    char *dir = three_segments();
    size_t len;
    char *buf = slurp(seg_path(dir, 2), &len);
    size_t off = line_off(buf, 2);
    char *q = strstr(buf + off, "\"order_id\":\"o");
    assert_non_null(q);
    q[13] ^= 1; /* one bit of one byte of the event */
    spit(seg_path(dir, 2), buf, len);
    expect_broken(dir, "audit-000002.jsonl", 2, "hash mismatch");
    free(buf);
    rmtree(dir);
}

static void
test_verify_rehashed_line(void **state)
{
    (void)state;
    /* Change a record and fix up its own hash: the next record's prev breaks. */
    char *dir = three_segments();
    size_t len;
    char *buf = slurp(seg_path(dir, 2), &len);
    size_t off = line_off(buf, 1), ll = line_len(buf, 1) - 1;
    char *q = strstr(buf + off, "\"order_id\":\"o");
    q[13] ^= 1;
    char *h = buf + off + ll - 66;
    char hash[65];
    assert_int_equal(aud_sha256_hex(buf + off, ll - 75, "}", 1, hash), 0);
    memcpy(h, hash, 64);
    aud_rec rec;
    assert_int_equal(aud_line_check(buf + off, ll, &rec, NULL), AUD_OK);
    spit(seg_path(dir, 2), buf, len);
    expect_broken(dir, "audit-000002.jsonl", 2, "prev mismatch");
    free(buf);
    rmtree(dir);
}

static void
test_verify_delete_line(void **state)
{
    (void)state;
    char *dir = three_segments();
    size_t len;
    char *buf = slurp(seg_path(dir, 2), &len);
    size_t off = line_off(buf, 2), ll = line_len(buf, 2);
    memmove(buf + off, buf + off + ll, len - off - ll);
    spit(seg_path(dir, 2), buf, len - ll);
    expect_broken(dir, "audit-000002.jsonl", 2, "n not consecutive");
    free(buf);
    rmtree(dir);
}

static void
test_verify_reorder(void **state)
{
    (void)state;
    char *dir = three_segments();
    size_t len;
    char *buf = slurp(seg_path(dir, 1), &len);
    size_t o2 = line_off(buf, 2), l2 = line_len(buf, 2), l3 = line_len(buf, 3);
    char *out = malloc(len);
    memcpy(out, buf, o2);
    memcpy(out + o2, buf + o2 + l2, l3);
    memcpy(out + o2 + l3, buf + o2, l2);
    memcpy(out + o2 + l2 + l3, buf + o2 + l2 + l3, len - o2 - l2 - l3);
    spit(seg_path(dir, 1), out, len);
    expect_broken(dir, "audit-000001.jsonl", 2, "n not consecutive");
    free(out);
    free(buf);
    rmtree(dir);
}

static void
test_verify_truncated_segment(void **state)
{
    (void)state;
    /* Mid-line in a segment that is not the last: always corruption. */
    char *dir = three_segments();
    size_t n2 = count_lines(seg_path(dir, 2));
    struct stat st;
    assert_int_equal(stat(seg_path(dir, 2), &st), 0);
    assert_int_equal(truncate(seg_path(dir, 2), st.st_size - 30), 0);
    expect_broken(dir, "audit-000002.jsonl", n2, "torn line");
    rmtree(dir);
}

static void
test_verify_truncated_last_segment(void **state)
{
    (void)state;
    char *dir = three_segments();
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    uint32_t last = r.segments;
    size_t nl = count_lines(seg_path(dir, last));
    struct stat st;
    assert_int_equal(stat(seg_path(dir, last), &st), 0);
    assert_int_equal(truncate(seg_path(dir, last), st.st_size - 30), 0);
    assert_int_equal(verify(dir, 0, &r), 0);
    assert_int_equal(r.records, 18 - 1);
    assert_int_equal(r.torn_line, nl);
    assert_int_equal(verify(dir, 1, &r), 1);
    assert_int_equal(r.line, nl);
    assert_string_equal(r.error, "torn final line");
    rmtree(dir);
}

static void
test_verify_missing_segment(void **state)
{
    (void)state;
    char *dir = three_segments();
    assert_int_equal(unlink(seg_path(dir, 2)), 0);
    expect_broken(dir, "audit-000002.jsonl", 0, "missing segment");
    assert_int_equal(unlink(seg_path(dir, 1)), 0);
    expect_broken(dir, "audit-000001.jsonl", 0, "missing segment");
    rmtree(dir);
}

static void
test_verify_bad_json_and_empty_segment(void **state)
{
    (void)state;
    char *dir = three_segments();
    size_t len;
    char *buf = slurp(seg_path(dir, 3), &len);
    size_t off = line_off(buf, 1);
    buf[off] = '['; /* no longer an object */
    spit(seg_path(dir, 3), buf, len);
    expect_broken(dir, "audit-000003.jsonl", 1, "bad JSON");
    free(buf);
    assert_int_equal(truncate(seg_path(dir, 2), 0), 0);
    expect_broken(dir, "audit-000002.jsonl", 0, "empty segment");
    rmtree(dir);
}

/* A fetch function reading from another directory (the archive's stand-in);
 * arg NULL: the archive is unreachable. */
static int
fetch_from(void *arg, const char *name, char **buf, size_t *len, char *err, size_t errlen)
{
    if (!arg) {
        snprintf(err, errlen, "GET %s: Couldn't connect to server", name);
        return -EIO;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s", (const char *)arg, name);
    if (access(path, F_OK) != 0)
        return -ENOENT;
    *buf = slurp(path, len);
    return 0;
}

static void
test_verify_from_archive(void **state)
{
    (void)state;
    char *dir = three_segments();
    char *stash = tmpdir();
    audit_chain_result r;
    assert_int_equal(audit_chain_verify(dir, 1, &r), 0);
    uint64_t records = r.records;
    uint32_t segments = r.segments;
    char to[600];
    for (uint32_t no = 1; no <= 2; no++) {
        char from[600];
        snprintf(from, sizeof from, "%s", seg_path(dir, no));
        snprintf(to, sizeof to, "%s/audit-%06u.jsonl", stash, no);
        assert_int_equal(rename(from, to), 0);
    }
    expect_broken(dir, "audit-000001.jsonl", 0, "missing segment");
    assert_int_equal(audit_chain_verify_from(dir, 1, fetch_from, stash, &r), 0);
    assert_int_equal(r.records, records);
    assert_int_equal(r.segments, segments);
    assert_int_equal(r.fetched, 2);
    /* The archive unreachable: the verification cannot finish. */
    assert_int_equal(audit_chain_verify_from(dir, 1, fetch_from, NULL, &r), -1);
    assert_non_null(strstr(r.error, "Couldn't connect"));
    /* A changed archived copy is found like a changed local one. */
    size_t len;
    snprintf(to, sizeof to, "%s/audit-000002.jsonl", stash);
    char *buf = slurp(to, &len);
    char *at = strstr(buf + line_off(buf, 2), "\"order_id\":\"o");
    assert_non_null(at);
    at[13] ^= 1;
    spit(to, buf, len);
    free(buf);
    assert_int_equal(audit_chain_verify_from(dir, 1, fetch_from, stash, &r), 1);
    assert_string_equal(r.segment, "audit-000002.jsonl");
    assert_int_equal(r.line, 2);
    assert_string_equal(r.error, "hash mismatch");
    /* Missing in both places. */
    assert_int_equal(unlink(to), 0);
    assert_int_equal(audit_chain_verify_from(dir, 1, fetch_from, stash, &r), 1);
    assert_string_equal(r.segment, "audit-000002.jsonl");
    assert_string_equal(r.error, "missing segment (not in the archive either)");
    rmtree(stash);
    rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_flip_byte),
        cmocka_unit_test(test_verify_rehashed_line),
        cmocka_unit_test(test_verify_delete_line),
        cmocka_unit_test(test_verify_reorder),
        cmocka_unit_test(test_verify_truncated_segment),
        cmocka_unit_test(test_verify_truncated_last_segment),
        cmocka_unit_test(test_verify_missing_segment),
        cmocka_unit_test(test_verify_bad_json_and_empty_segment),
        cmocka_unit_test(test_verify_from_archive),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
