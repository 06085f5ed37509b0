/*
 * audit_s3.c -- PUT/HEAD/GET of whole objects against an S3-compatible
 * server, signed with libcurl's CURLOPT_AWS_SIGV4.
 *
 * The body is handed to curl as POSTFIELDS under a custom PUT (not as an
 * upload read callback) because curl hashes POSTFIELDS into the SigV4
 * payload hash; x-amz-content-sha256 is set to the same hash, which S3
 * requires and curl 7.88 does not add by itself.
 */
#include "audit_s3.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

/* sha256("") for requests without a body */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static CURLcode s3_init_rc;

/* Once per process. Never cleaned up: the host may use libcurl too (OTLP). */
static void
s3_global_init(void)
{
    s3_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
name_ok(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("._/-", *s))
            return 0;
    }
    return 1;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The keys of an AWS credentials file's [default] section (or of no section). */
static int
read_creds(audit_s3 *s, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        int e = errno;
        snprintf(err, errlen, "credentials file %s: %s", path, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0;
    int in_default = 1, rc = 0;
    while (rc == 0 && getline(&line, &cap, fp) > 0) {
        char *l = trim(line);
        if (l[0] == '#' || l[0] == ';' || l[0] == '\0')
            continue;
        if (l[0] == '[') {
            in_default = strcmp(l, "[default]") == 0;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_default || !eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        char **dst = strcmp(k, "aws_access_key_id") == 0       ? &s->access_key
                     : strcmp(k, "aws_secret_access_key") == 0 ? &s->secret_key
                     : strcmp(k, "aws_session_token") == 0     ? &s->session_token
                                                               : NULL;
        if (dst && !*dst && !(*dst = strdup(v)))
            rc = -ENOMEM;
    }
    free(line);
    fclose(fp);
    if (rc == 0 && (!s->access_key || !s->secret_key)) {
        snprintf(err, errlen,
                 "credentials file %s: no aws_access_key_id and aws_secret_access_key in "
                 "[default]",
                 path);
        rc = -EINVAL;
    }
    return rc;
}

int
audit_s3_init(audit_s3 *s, const char *endpoint, const char *bucket, const char *prefix,
              const char *region, const char *creds_file, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->timeout_ms = 30000;
    pthread_once(&s3_once, s3_global_init);
    if (s3_init_rc != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(s3_init_rc));
        return -EIO;
    }
    if (!endpoint ||
        (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)) {
        snprintf(err, errlen, "endpoint must be an http:// or https:// URL");
        return -EINVAL;
    }
    if (!bucket || !bucket[0] || !name_ok(bucket) || strchr(bucket, '/')) {
        snprintf(err, errlen, "bucket must be a non-empty name of [A-Za-z0-9._-]");
        return -EINVAL;
    }
    if (!prefix)
        prefix = "";
    if (!name_ok(prefix) || prefix[0] == '/') {
        snprintf(err, errlen, "prefix may hold only [A-Za-z0-9._/-] and not start with /");
        return -EINVAL;
    }
    s->endpoint = strdup(endpoint);
    s->bucket = strdup(bucket);
    s->prefix = strdup(prefix);
    s->region = strdup(region && region[0] ? region : "us-east-1");
    if (!s->endpoint || !s->bucket || !s->prefix || !s->region) {
        audit_s3_free(s);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t n = strlen(s->endpoint);
    while (n > 0 && s->endpoint[n - 1] == '/')
        s->endpoint[--n] = '\0';
    int rc = 0;
    if (creds_file && creds_file[0]) {
        rc = read_creds(s, creds_file, err, errlen);
    } else {
        const char *k = getenv("AWS_ACCESS_KEY_ID"), *v = getenv("AWS_SECRET_ACCESS_KEY");
        const char *t = getenv("AWS_SESSION_TOKEN");
        if (!k || !k[0] || !v || !v[0]) {
            snprintf(err, errlen,
                     "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or name a "
                     "credentials file");
            rc = -EINVAL;
        } else if (!(s->access_key = strdup(k)) || !(s->secret_key = strdup(v)) ||
                   (t && t[0] && !(s->session_token = strdup(t)))) {
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
        }
    }
    if (rc != 0)
        audit_s3_free(s);
    return rc;
}

void
audit_s3_free(audit_s3 *s)
{
    free(s->endpoint);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->access_key);
    if (s->secret_key)
        memset(s->secret_key, 0, strlen(s->secret_key));
    free(s->secret_key);
    free(s->session_token);
    memset(s, 0, sizeof *s);
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
digest(const EVP_MD *md, const void *p, size_t len, unsigned char *out, unsigned *outlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, p, len) == 1 &&
             EVP_DigestFinal_ex(ctx, out, outlen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EIO;
}

int
audit_s3_sums_of(const void *p, size_t len, audit_s3_sums *o)
{
    unsigned char md5[16], sha[32];
    unsigned n5 = 0, n2 = 0;
    if (digest(EVP_md5(), p, len, md5, &n5) != 0 || n5 != 16 ||
        digest(EVP_sha256(), p, len, sha, &n2) != 0 || n2 != 32)
        return -EIO;
    hex_of(md5, 16, o->md5_hex);
    hex_of(sha, 32, o->sha256_hex);
    EVP_EncodeBlock((unsigned char *)o->md5_b64, md5, 16);
    EVP_EncodeBlock((unsigned char *)o->sha256_b64, sha, 32);
    return 0;
}

/* What one request brought back; the caller's, one thread. */
typedef struct s3_resp {
    long status;
    char etag[80];
    long long content_length;
    char *body; /* malloc'd */
    size_t len;
    size_t keep; /* keep at most this much body */
} s3_resp;

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    s3_resp *r = arg;
    size_t n = size * nmemb;
    char line[256];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    char *v = trim(colon + 1);
    if (strcasecmp(line, "ETag") == 0) {
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = '\0';
            v++;
        }
        snprintf(r->etag, sizeof r->etag, "%s", v);
    } else if (strcasecmp(line, "Content-Length") == 0) {
        r->content_length = strtoll(v, NULL, 10);
    }
    return n;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    s3_resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n > r->keep)
        return n; /* drop the excess: an error body is needed only for its start */
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, n);
    r->body = b;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Abandon the transfer once the owner asked to (audit_s3.cancel). */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const atomic_int *cancel = arg;
    return atomic_load(cancel) ? 1 : 0;
}

/* The S3 error code in an XML error body, for messages. */
static void
error_code(const s3_resp *r, char *out, size_t outlen)
{
    const char *c = r->body ? strstr(r->body, "<Code>") : NULL;
    const char *e = c ? strstr(c, "</Code>") : NULL;
    if (c && e && e - c - 6 < 64)
        snprintf(out, outlen, " %.*s", (int)(e - c - 6), c + 6);
    else
        out[0] = '\0';
}

static int
s3_request(const audit_s3 *s, const char *method, const char *name, const void *body, size_t len,
           const audit_s3_sums *sums, size_t keep, s3_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    r->keep = keep;
    size_t ulen = strlen(s->endpoint) + strlen(s->bucket) + strlen(s->prefix) + strlen(name) + 4;
    char *url = malloc(ulen);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char sigv4[128], hdr[160];
    int rc = 0;
    if (!url || !h) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    snprintf(url, ulen, "%s/%s/%s%s", s->endpoint, s->bucket, s->prefix, name);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", sums ? sums->sha256_hex : EMPTY_SHA256);
    hdrs = curl_slist_append(hdrs, hdr);
    if (s->session_token) {
        char *t = malloc(strlen(s->session_token) + 32);
        if (t) {
            sprintf(t, "x-amz-security-token: %s", s->session_token);
            hdrs = curl_slist_append(hdrs, t);
            free(t);
        }
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (s->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)s->cancel);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (strcmp(method, "PUT") == 0) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        hdrs = curl_slist_append(hdrs, "Expect:");
        snprintf(hdr, sizeof hdr, "Content-MD5: %s", sums->md5_b64);
        hdrs = curl_slist_append(hdrs, hdr);
        snprintf(hdr, sizeof hdr, "x-amz-checksum-sha256: %s", sums->sha256_b64);
        hdrs = curl_slist_append(hdrs, hdr);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(cc));
        rc = cc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : -EIO;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status < 200 || r->status > 299) {
        char code[72];
        error_code(r, code, sizeof code);
        snprintf(err, errlen, "%s %s: HTTP %ld%s", method, url, r->status, code);
        rc = r->status == 404 ? -ENOENT : r->status == 403 ? -EACCES : -EIO;
    }
out:
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    free(url);
    return rc;
}

int
audit_s3_put_verified(const audit_s3 *s, const char *name, const void *p, size_t len,
                      const audit_s3_sums *sums, char *err, size_t errlen)
{
    if (!sums) {
        snprintf(err, errlen, "PUT %s: no checksums", name);
        return -EINVAL;
    }
    s3_resp r;
    int rc = s3_request(s, "PUT", name, p, len, sums, 4096, &r, err, errlen);
    free(r.body);
    if (rc != 0)
        return rc;
    /* A single-part upload's ETag is the MD5 of the bytes the server stored. */
    if (strcasecmp(r.etag, sums->md5_hex) != 0) {
        snprintf(err, errlen, "PUT %s%s: ETag \"%s\" is not the MD5 %s of the segment", s->prefix,
                 name, r.etag, sums->md5_hex);
        return -EIO;
    }
    rc = s3_request(s, "HEAD", name, NULL, 0, NULL, 0, &r, err, errlen);
    free(r.body);
    if (rc != 0)
        return rc;
    if (strcasecmp(r.etag, sums->md5_hex) != 0 || r.content_length != (long long)len) {
        snprintf(err, errlen,
                 "HEAD %s%s after PUT: ETag \"%s\", %lld bytes; uploaded MD5 %s, %zu bytes",
                 s->prefix, name, r.etag, r.content_length, sums->md5_hex, len);
        return -EIO;
    }
    return 0;
}

int
audit_s3_get(const audit_s3 *s, const char *name, char **out, size_t *outlen, char *err,
             size_t errlen)
{
    s3_resp r;
    *out = NULL;
    *outlen = 0;
    int rc = s3_request(s, "GET", name, NULL, 0, NULL, (size_t)1 << 40, &r, err, errlen);
    if (rc != 0) {
        free(r.body);
        return rc;
    }
    if (!r.body && !(r.body = calloc(1, 1))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *out = r.body;
    *outlen = r.len;
    return 0;
}
