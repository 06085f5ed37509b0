/*
 * audit_s3.h -- the little S3 client the audit archive needs: PUT an object
 * with its checksums, HEAD it, GET it. Path-style URLs
 * (ENDPOINT/BUCKET/KEY), so any S3-compatible server on any host name
 * works; requests are signed by libcurl itself (CURLOPT_AWS_SIGV4, curl >=
 * 7.75). Shared by the audit plugin (audit_archive.c) and the example's
 * verifier (plugins/tools/audit_verify.c).
 *
 * Threads: an audit_s3 is immutable after audit_s3_init and may be used
 * from any thread; each call makes its own curl handle.
 */
#ifndef JW_AUDIT_S3_H
#define JW_AUDIT_S3_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Where and as whom; strings owned by the struct (audit_s3_free). */
typedef struct audit_s3 {
    char *endpoint; /* "http://127.0.0.1:9000", no trailing slash */
    char *bucket;
    char *prefix; /* prepended verbatim to object names; may be "" */
    char *region;
    char *access_key, *secret_key, *session_token; /* session_token may be NULL */
    long timeout_ms;                               /* whole request */
    /* When not NULL and set, a request under way is abandoned (-ECANCELED):
     * the plugin's fini does not wait out a slow server. */
    const atomic_int *cancel;
} audit_s3;

/*
 * Fill s from the arguments; credentials from creds_file (an AWS
 * credentials file: aws_access_key_id / aws_secret_access_key /
 * aws_session_token lines of its [default] section or of no section) when
 * not NULL, else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN. Bucket and prefix are restricted to [A-Za-z0-9._/-]
 * so that keys need no escaping. 0 or -errno with a message in err.
 */
int audit_s3_init(audit_s3 *s, const char *endpoint, const char *bucket, const char *prefix,
                  const char *region, const char *creds_file, char *err, size_t errlen);
void audit_s3_free(audit_s3 *s);

/* Checksums of a body as S3 spells them. */
typedef struct audit_s3_sums {
    char md5_hex[33];    /* = the ETag of a single-part upload */
    char md5_b64[25];    /* Content-MD5 */
    char sha256_hex[65]; /* x-amz-content-sha256 */
    char sha256_b64[45]; /* x-amz-checksum-sha256 */
} audit_s3_sums;

int audit_s3_sums_of(const void *p, size_t len, audit_s3_sums *out);

/*
 * PUT name (prefix + name is the key) with Content-MD5 and
 * x-amz-checksum-sha256, then HEAD it: 0 only when both answered 2xx and the
 * ETag of both and the HEAD's Content-Length match the body. -errno with a
 * message in err otherwise (the object may or may not exist then).
 */
int audit_s3_put_verified(const audit_s3 *s, const char *name, const void *p, size_t len,
                          const audit_s3_sums *sums, char *err, size_t errlen);

/* GET name into a malloc'd *out (*outlen bytes). 0, -ENOENT (404) or -errno; err. */
int audit_s3_get(const audit_s3 *s, const char *name, char **out, size_t *outlen, char *err,
                 size_t errlen);

#endif /* JW_AUDIT_S3_H */
