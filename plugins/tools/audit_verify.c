/*
 * audit_verify.c -- `jetway-audit-verify DIR [--json] [--strict]
 * [--s3-endpoint URL --bucket B [--prefix P] [--region R]
 * [--credentials-file F]]`: check the hash chain of an audit log written by
 * the order example's audit plugin, reading the segments that are no longer
 * in DIR from the plugin's archive bucket.
 * A tool of the example, not of the host: it reads the audit plugin's
 * record format (plugins/audit/audit_format.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../audit/audit_s3.h"
#include "audit_chain.h"

/* The chain's fetch function: segment `name` from the archive bucket. */
static int
fetch_s3(void *arg, const char *name, char **buf, size_t *len, char *err, size_t errlen)
{
    return audit_s3_get(arg, name, buf, len, err, errlen);
}

static void
audit_usage(FILE *fp)
{
    fprintf(fp, "usage: jetway-audit-verify DIR [--json] [--strict]\n"
                "         [--s3-endpoint URL --bucket NAME [--prefix P] [--region R]\n"
                "          [--credentials-file FILE]]\n\n"
                "Check the audit log in DIR (the audit plugin's `dir`): every segment from\n"
                "audit-000001.jsonl on is present, every record's hash matches its bytes, its\n"
                "prev is the hash of the record before, and record numbers are consecutive.\n\n"
                "  --json    print the result as one JSON object\n"
                "  --strict  also fail on a torn final line of the last segment (by default\n"
                "            it is reported but accepted: a crash mid-append leaves it, that\n"
                "            record was never acknowledged, and the plugin cuts it on restart)\n"
                "  --s3-endpoint URL, --bucket NAME, --prefix P, --region R\n"
                "            the audit plugin's archive (archive_endpoint, archive_bucket,\n"
                "            archive_prefix, archive_region): segments missing from DIR\n"
                "            (deleted after archiving) are read from there; credentials\n"
                "            from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or\n"
                "  --credentials-file FILE  an AWS credentials file ([default])\n\n"
                "Prints \"ok: N records in S segments, head HASH\" and exits 0, or names the\n"
                "first break, \"broken: SEGMENT:LINE: REASON\", and exits 1. Keep the head\n"
                "hash elsewhere: the chain proves that nothing before it changed, not that no\n"
                "records were cut from the end.\n");
}

static void
print_json(int rc, const audit_chain_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    cJSON_AddNumberToObject(o, "records", (double)r->records);
    cJSON_AddNumberToObject(o, "segments", r->segments);
    cJSON_AddNumberToObject(o, "from_archive", r->fetched);
    cJSON_AddStringToObject(o, "head", r->head);
    if (rc == 1) {
        cJSON_AddStringToObject(o, "segment", r->segment);
        cJSON_AddNumberToObject(o, "line", (double)r->line);
    }
    if (rc != 0)
        cJSON_AddStringToObject(o, "error", r->error);
    if (rc == 0 && r->torn_segment[0]) {
        cJSON *t = cJSON_AddObjectToObject(o, "torn");
        cJSON_AddStringToObject(t, "segment", r->torn_segment);
        cJSON_AddNumberToObject(t, "line", (double)r->torn_line);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void
print_text(int rc, const audit_chain_result *r)
{
    if (rc < 0) {
        fprintf(stderr, "jetway-audit-verify: %s\n", r->error);
    } else if (rc == 1 && r->line == 0) {
        printf("broken: %s: %s\n", r->segment, r->error);
    } else if (rc == 1) {
        printf("broken: %s:%llu: %s\n", r->segment, (unsigned long long)r->line, r->error);
    } else {
        if (r->fetched)
            printf("ok: %llu records in %u segments (%u read from the archive), head %s\n",
                   (unsigned long long)r->records, r->segments, r->fetched, r->head);
        else
            printf("ok: %llu records in %u segments, head %s\n", (unsigned long long)r->records,
                   r->segments, r->head);
        if (r->torn_segment[0])
            fprintf(stderr,
                    "note: %s:%llu is a torn final line (an unacknowledged append cut short "
                    "by a crash); the audit plugin removes it when it starts\n",
                    r->torn_segment, (unsigned long long)r->torn_line);
    }
}

static int
audit_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (audit_wants_help(argc, argv)) {
        audit_usage(stdout);
        return 0;
    }
    const char *dir = NULL, *endpoint = NULL, *bucket = NULL, *prefix = "", *region = NULL;
    const char *creds = NULL;
    struct {
        const char *flag;
        const char **dst;
    } vals[] = {{"--s3-endpoint", &endpoint},
                {"--bucket", &bucket},
                {"--prefix", &prefix},
                {"--region", &region},
                {"--credentials-file", &creds}};
    int json = 0, strict = 0;
    for (int i = 1; i < argc; i++) {
        size_t v = 0;
        while (v < sizeof vals / sizeof vals[0] && strcmp(argv[i], vals[v].flag) != 0)
            v++;
        if (v < sizeof vals / sizeof vals[0]) {
            if (i + 1 >= argc) {
                fprintf(stderr, "jetway-audit-verify: %s needs a value\n", argv[i]);
                return 2;
            }
            *vals[v].dst = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = 1;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "jetway-audit-verify: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        audit_usage(stderr);
        return 2;
    }
    audit_s3 s3;
    int have_s3 = endpoint != NULL;
    if (!have_s3 && (bucket || creds)) {
        fprintf(stderr, "jetway-audit-verify: --bucket/--credentials-file need --s3-endpoint\n");
        return 2;
    }
    if (have_s3) {
        char err[256];
        if (!bucket) {
            fprintf(stderr, "jetway-audit-verify: --s3-endpoint needs --bucket\n");
            return 2;
        }
        if (audit_s3_init(&s3, endpoint, bucket, prefix, region, creds, err, sizeof err) != 0) {
            fprintf(stderr, "jetway-audit-verify: %s\n", err);
            return 2;
        }
    }
    audit_chain_result r;
    int rc =
        audit_chain_verify_from(dir, strict, have_s3 ? fetch_s3 : NULL, have_s3 ? &s3 : NULL, &r);
    if (have_s3)
        audit_s3_free(&s3);
    if (json)
        print_json(rc, &r);
    else
        print_text(rc, &r);
    return rc == 0 ? 0 : 1;
}
