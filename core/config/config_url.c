/*
 * config_url.c -- URLs and addresses of the config: redis://, unix://,
 * host:port, and the redaction of a URL's userinfo for printing. Messages
 * never quote the URL itself, since it may carry a password.
 *
 * Threads: pure functions, any thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* %XX decoding of a URL part of n bytes; NULL on a bad escape or no memory. */
static char *
pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            if (!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2])) {
                free(out);
                return NULL;
            }
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* A port of 1..65535 from the digits s[0..n). */
static int
parse_port(const char *s, size_t n, int *port)
{
    int v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

static bool
host_valid(const char *h, size_t n, bool bracketed)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (bracketed ? !(isxdigit(ch) || ch == ':' || ch == '.')
                      : !(isalnum(ch) || ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* "host:port" or "[v6]:port" of s[0..n); host malloc'ed. */
static int
split_hostport(const char *s, size_t n, char **host, int *port, int defport, char *err,
               size_t errlen)
{
    const char *h = s, *colon;
    size_t hlen;
    bool br = false;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            snprintf(err, errlen, "unterminated '[' in the host");
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1 < s + n ? close + 1 : NULL;
        if (colon != NULL && *colon != ':') {
            snprintf(err, errlen, "expected ':' after ']'");
            return -1;
        }
        br = true;
    } else {
        colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
    }
    if (!host_valid(h, hlen, br)) {
        snprintf(err, errlen, hlen == 0 ? "missing host" : "bad host name");
        return -1;
    }
    if (colon == NULL) {
        if (defport < 0) {
            snprintf(err, errlen, "missing ':port'");
            return -1;
        }
        *port = defport;
    } else if (parse_port(colon + 1, (size_t)(s + n - colon - 1), port) != 0) {
        snprintf(err, errlen, "bad port (expected 1..65535)");
        return -1;
    }
    *host = strndup(h, hlen);
    if (*host == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
cfg_parse_hostport(const char *s, char **host, int *port, char *err, size_t errlen)
{
    return split_hostport(s, strlen(s), host, port, -1, err, errlen);
}

static int
parse_db(const char *s, int *db)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535)
        return -1;
    *db = (int)v;
    return 0;
}

int
cfg_parse_redis_url(const char *url, cfg_redis *r, char *err, size_t errlen)
{
    r->host = r->unix_path = r->user = r->password = NULL;
    r->port = 0;
    r->db = 0;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7, *q = strchr(p, '?');
        if (*p != '/') {
            snprintf(err, errlen, "a unix socket path must be absolute (unix:///path)");
            return -1;
        }
        if (q != NULL && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &r->db) != 0)) {
            snprintf(err, errlen, "bad query (only ?db=N is understood)");
            return -1;
        }
        r->unix_path = q ? strndup(p, (size_t)(q - p)) : strdup(p);
        if (r->unix_path == NULL)
            snprintf(err, errlen, "out of memory");
        return r->unix_path ? 0 : -1;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// (TLS) is not supported by this hiredis");
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "the url must start with redis:// or unix://");
        return -1;
    }
    const char *a = url + 8, *slash = strchr(a, '/');
    size_t alen = slash ? (size_t)(slash - a) : strlen(a);
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++) {
        if (a[i] == '@')
            at = a + i;
    }
    if (at != NULL) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        size_t ulen = colon ? (size_t)(colon - a) : (size_t)(at - a);
        if (ulen > 0 && (r->user = pct_decode(a, ulen)) == NULL)
            goto bad_userinfo;
        if (colon != NULL &&
            (r->password = pct_decode(colon + 1, (size_t)(at - colon - 1))) == NULL)
            goto bad_userinfo;
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    if (split_hostport(a, alen, &r->host, &r->port, 6379, err, errlen) != 0)
        goto fail;
    if (slash != NULL && slash[1] != '\0' && parse_db(slash + 1, &r->db) != 0) {
        snprintf(err, errlen, "bad database number after '/' (expected 0..65535)");
        goto fail;
    }
    return 0;
bad_userinfo:
    snprintf(err, errlen, "bad %%-escape in the user or password");
fail:
    free(r->user);
    free(r->password);
    free(r->host);
    r->user = r->password = r->host = NULL;
    return -1;
}

char *
cfg_redact_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : url;
    size_t alen = strcspn(auth, "/");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++) {
        if (auth[i] == '@')
            at = auth + i;
    }
    if (at == NULL)
        return strdup(url);
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    char *out = NULL;
    int rc;
    if (colon != NULL)
        rc = asprintf(&out, "%.*s:<redacted>%s", (int)(colon - url), url, at);
    else
        rc = asprintf(&out, "%.*s<redacted>%s", (int)(auth - url), url, at);
    return rc < 0 ? NULL : out;
}
