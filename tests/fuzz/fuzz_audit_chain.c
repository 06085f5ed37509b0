/*
 * fuzz_audit_chain.c -- the audit record readers: the chain verifier of
 * `jetway-audit-verify` (plugins/tools/audit_chain.c) and the audit
 * plugin's own recovery when it opens a log (plugins/audit/audit_log.c:
 * chain head, dedup keys of the last segments, a torn final line cut).
 *
 * Input: a flags byte, then the bytes of segment 1, then (after a NUL, if
 * any) those of segment 2. Flag 1 "seals" every line that has the
 * record's fixed tail: its prev and hash are rewritten to chain correctly,
 * so the fuzzer gets past the SHA-256 check into the records' content.
 * Flag 2 verifies strictly.
 *
 * Checked: a log the verifier finds intact opens, takes one more record,
 * and then verifies intact and strict with one record more.
 */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

#include "../../plugins/audit/audit_format.h"
#include "../../plugins/audit/audit_log.h"
#include "../../plugins/tools/audit_chain.h"

static char dir[512];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/log", fuzz_tmpdir());
    return 0;
}

static void
clear_dir(void)
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

/* Rewrite prev and hash of every line shaped like a record, chaining them. */
static void
seal(char *p, size_t len, char prev[AUD_HEX_LEN + 1])
{
    size_t i = 0;
    while (i < len) {
        char *nl = memchr(p + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (p + i)) : len - i;
        char *line = p + i;
        if (ll >= AUD_TAIL_LEN + 8) {
            char *t = line + ll - AUD_TAIL_LEN;
            if (memcmp(t, ",\"prev\":\"", 9) == 0 && t[73] == '"' &&
                memcmp(t + AUD_HASH_OFF, ",\"hash\":\"", 9) == 0 &&
                memcmp(t + 147, "\"}", 2) == 0) {
                memcpy(t + 9, prev, AUD_HEX_LEN);
                char h[AUD_HEX_LEN + 1];
                if (aud_sha256_hex(line, (size_t)(t - line) + AUD_HASH_OFF, "}", 1, h) == 0) {
                    memcpy(t + 83, h, AUD_HEX_LEN);
                    memcpy(prev, h, AUD_HEX_LEN + 1);
                }
            }
        }
        i += ll + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t flags = data[0];
    char *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    fuzz_split(data + 1, size - 1, 0, &s1, &l1, &s2, &l2);
    if (flags & 1) {
        char prev[AUD_HEX_LEN + 1] = AUD_ZERO_HASH;
        seal(s1, l1, prev);
        if (s2)
            seal(s2, l2, prev);
    }
    mkdir(dir, 0700);
    clear_dir();
    char path[600];
    snprintf(path, sizeof(path), "%s/audit-000001.jsonl", dir);
    fuzz_write_file(path, s1, l1);
    if (s2) {
        snprintf(path, sizeof(path), "%s/audit-000002.jsonl", dir);
        fuzz_write_file(path, s2, l2);
    }
    int strict = (flags & 2) != 0;
    audit_chain_result r1;
    int v1 = audit_chain_verify(dir, strict, &r1);

    audit_log_cfg cfg = {.dir = dir, .segment_size = 1 << 20, .fsync_batch = 1};
    audit_log *log = NULL;
    char err[256];
    int o = audit_log_open(&cfg, &log, err, sizeof(err));
    int appended = 0;
    if (o == 0) {
        aud_event ev = {.subject = "orders.created.v1",
                        .stream = "ORDERS",
                        .seq = 7,
                        .message_id = "fuzz-appended",
                        .data = "{\"ok\":true}",
                        .datalen = 11};
        audit_log_enter(log);
        int a = audit_log_append(log, &ev, err, sizeof(err));
        appended = a == AUDIT_APPENDED;
        audit_log_close(log);
    }
    if (v1 == 0 && o != 0) {
        fprintf(stderr, "audit: verifier says intact (%llu records), open refuses: %s\n",
                (unsigned long long)r1.records, err);
        abort();
    }
    if (v1 == 0 && o == 0) {
        audit_chain_result r2;
        int v2 = audit_chain_verify(dir, 1, &r2);
        if (v2 != 0 || r2.records != r1.records + (uint64_t)appended) {
            fprintf(stderr,
                    "audit: intact log of %llu records, after open+append: rc %d, %llu records, "
                    "%s line %llu: %s\n",
                    (unsigned long long)r1.records, v2, (unsigned long long)r2.records, r2.segment,
                    (unsigned long long)r2.line, r2.error);
            abort();
        }
    }
    free(s1);
    free(s2);
    return 0;
}
