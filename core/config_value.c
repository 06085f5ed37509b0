/*
 * config_value.c -- pure parsers and formatters of config values:
 * durations, sizes, RFC 3339 times, redis URLs, host:port, NATS subjects.
 *
 * Durations: a sequence of <number><unit> with units ms, s, m, h, d
 * ("250ms", "30s", "1h30m", "1.5s"); a bare integer is milliseconds.
 * Fractions are accepted when the result is a whole number of
 * milliseconds ("1.5s" = 1500, "0.5ms" is refused).
 * Sizes: an integer of bytes, optionally with B, binary KiB/MiB/GiB/TiB or
 * decimal KB (or kB)/MB/GB/TB; fractions as above ("1.5KiB" = 1536).
 * Signs, spaces and overflow are errors.
 *
 * Threads: pure functions, any thread.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_int.h"

typedef struct unit {
    const char *name;
    int64_t mul;
} unit;

static const unit dur_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

static const unit size_units[] = {
    {"B", 1},
    {"KiB", 1024LL},
    {"MiB", 1024LL * 1024},
    {"GiB", 1024LL * 1024 * 1024},
    {"TiB", 1024LL * 1024 * 1024 * 1024},
    {"KB", 1000LL},
    {"kB", 1000LL},
    {"MB", 1000LL * 1000},
    {"GB", 1000LL * 1000 * 1000},
    {"TB", 1000LL * 1000 * 1000 * 1000},
    {NULL, 0},
};

/*
 * Reads "<digits>[.<digits>]" at *p: integer part, fraction digits (at
 * most 9) and their count. 0, or -1 with a reason.
 */
static int
read_number(const char **p, int64_t *ip, int64_t *frac, int *nfrac, char *err, size_t errlen)
{
    const char *s = *p;
    int64_t v = 0;
    if (!isdigit((unsigned char)*s)) {
        snprintf(err, errlen, "expected a number at '%s'", s);
        return -1;
    }
    while (isdigit((unsigned char)*s)) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v)) {
            snprintf(err, errlen, "number too large");
            return -1;
        }
        s++;
    }
    *ip = v;
    *frac = 0;
    *nfrac = 0;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) {
            snprintf(err, errlen, "expected digits after '.'");
            return -1;
        }
        while (isdigit((unsigned char)*s)) {
            if (*nfrac == 9) {
                snprintf(err, errlen, "too many decimals");
                return -1;
            }
            *frac = *frac * 10 + (*s - '0');
            (*nfrac)++;
            s++;
        }
    }
    *p = s;
    return 0;
}

/* ip.frac * mul as an exact integer, or -1 (not whole, or overflow). */
static int
scale(int64_t ip, int64_t frac, int nfrac, int64_t mul, int64_t *out, const char *what, char *err,
      size_t errlen)
{
    int64_t v, pow10 = 1, f;
    for (int i = 0; i < nfrac; i++)
        pow10 *= 10;
    if (__builtin_mul_overflow(ip, mul, &v)) {
        snprintf(err, errlen, "value too large");
        return -1;
    }
    f = frac * mul; /* frac < 1e9 and mul < 1e13 for every unit we accept */
    if (nfrac > 0 && (mul > INT64_MAX / 1000000000 || f % pow10 != 0)) {
        snprintf(err, errlen, "not a whole number of %s", what);
        return -1;
    }
    if (__builtin_add_overflow(v, f / pow10, &v)) {
        snprintf(err, errlen, "value too large");
        return -1;
    }
    *out = v;
    return 0;
}

static int
all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return 0;
    }
    return 1;
}

static int
check_sign(const char *s, char *err, size_t errlen)
{
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty value");
        return -1;
    }
    if (*s == '-') {
        snprintf(err, errlen, "negative values are not allowed");
        return -1;
    }
    return 0;
}

int
cfg_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen)
{
    int64_t total = 0, ip, frac, part;
    int nfrac;
    if (check_sign(s, err, errlen) != 0)
        return -1;
    if (all_digits(s)) {
        if (read_number(&s, &ip, &frac, &nfrac, err, errlen) != 0)
            return -1;
        *ms = ip;
        return 0;
    }
    while (*s) {
        if (read_number(&s, &ip, &frac, &nfrac, err, errlen) != 0)
            return -1;
        const char *u = s;
        while (isalpha((unsigned char)*s))
            s++;
        size_t ulen = (size_t)(s - u);
        const unit *un = NULL;
        for (const unit *d = dur_units; d->name; d++) {
            if (strlen(d->name) == ulen && strncmp(d->name, u, ulen) == 0)
                un = d;
        }
        if (un == NULL) {
            if (ulen == 0 && *s != '\0')
                snprintf(err, errlen, "unexpected '%c' (write e.g. 1h30m, without spaces)", *s);
            else if (ulen == 0)
                snprintf(err, errlen, "missing unit (use ms, s, m, h or d)");
            else
                snprintf(err, errlen, "unknown unit '%.*s' (use ms, s, m, h or d)", (int)ulen, u);
            return -1;
        }
        if (scale(ip, frac, nfrac, un->mul, &part, "milliseconds", err, errlen) != 0)
            return -1;
        if (__builtin_add_overflow(total, part, &total)) {
            snprintf(err, errlen, "value too large");
            return -1;
        }
    }
    *ms = total;
    return 0;
}

int
cfg_parse_duration(const char *s, int64_t *ms)
{
    char err[128];
    return cfg_duration_parse(s, ms, err, sizeof(err));
}

int
cfg_size_parse(const char *s, int64_t *bytes, char *err, size_t errlen)
{
    int64_t ip, frac;
    int nfrac;
    if (check_sign(s, err, errlen) != 0)
        return -1;
    if (read_number(&s, &ip, &frac, &nfrac, err, errlen) != 0)
        return -1;
    if (*s == '\0') {
        if (nfrac > 0) {
            snprintf(err, errlen, "a fraction needs a unit");
            return -1;
        }
        *bytes = ip;
        return 0;
    }
    for (const unit *u = size_units; u->name; u++) {
        if (strcmp(u->name, s) == 0)
            return scale(ip, frac, nfrac, u->mul, bytes, "bytes", err, errlen);
    }
    snprintf(err, errlen, "unknown unit '%s' (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s);
    return -1;
}

int
cfg_parse_size(const char *s, int64_t *bytes)
{
    char err[128];
    return cfg_size_parse(s, bytes, err, sizeof(err));
}

/* The inverse of cfg_duration_parse, shortest of "1h30m", "250ms", "1.5s". */
void
cfg_format_duration(int64_t ms, char *buf, size_t len)
{
    size_t o = 0;
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, f = ms % 1000;
    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    if (h > 0)
        o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%" PRId64 "h", h);
    if (m > 0 && o < len)
        o += (size_t)snprintf(buf + o, len - o, "%" PRId64 "m", m);
    if (o >= len)
        return;
    if (f == 0) {
        if (s > 0)
            snprintf(buf + o, len - o, "%" PRId64 "s", s);
    } else if (ms < 1000) {
        snprintf(buf + o, len - o, "%" PRId64 "ms", f);
    } else {
        char fr[8];
        snprintf(fr, sizeof(fr), "%03" PRId64, f);
        for (int i = 2; i > 0 && fr[i] == '0'; i--)
            fr[i] = '\0';
        snprintf(buf + o, len - o, "%" PRId64 ".%ss", s, fr);
    }
}

void
cfg_format_size(int64_t bytes, char *buf, size_t len)
{
    static const char *const order[] = {"TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "KB", NULL};
    if (bytes > 0) {
        for (int i = 0; order[i]; i++) {
            for (const unit *u = size_units; u->name; u++) {
                if (strcmp(u->name, order[i]) == 0 && bytes % u->mul == 0) {
                    snprintf(buf, len, "%" PRId64 "%s", bytes / u->mul, u->name);
                    return;
                }
            }
        }
    }
    snprintf(buf, len, "%" PRId64, bytes);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p. */
static int
digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int
cfg_parse_rfc3339(const char *s, int64_t *ns)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;
    int nfrac = 0;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return -1;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return -1;
    s++;
    if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
        digits(&s, 2, &sec))
        return -1;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s)) {
            if (nfrac == 9)
                return -1;
            frac = frac * 10 + (*s++ - '0');
            nfrac++;
        }
    }
    for (int i = nfrac; i < 9; i++)
        frac *= 10;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    if (y < 1970 || y > 2261)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60);
    if (secs < 0)
        return -1;
    *ns = secs * 1000000000LL + frac;
    return 0;
}

void
cfg_format_rfc3339(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000LL);
    int64_t frac = ns % 1000000000LL;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t o = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac != 0 && o < len) {
        char fr[16];
        snprintf(fr, sizeof(fr), "%09" PRId64, frac);
        for (int i = 8; i > 0 && fr[i] == '0'; i--)
            fr[i] = '\0';
        o += (size_t)snprintf(buf + o, len - o, ".%s", fr);
    }
    if (o < len)
        snprintf(buf + o, len - o, "Z");
}

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

bool
cfg_name_valid(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 255)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    }
    return true;
}

/* Length of the token at s (up to '.' or the end). */
static size_t
tok_len(const char *s)
{
    return strcspn(s, ".");
}

static bool
tok_is(const char *s, size_t n, char wc)
{
    return n == 1 && s[0] == wc;
}

bool
cfg_subject_valid(const char *s, bool wildcards, char *err, size_t errlen)
{
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty subject");
        return false;
    }
    for (const char *p = s;;) {
        size_t n = tok_len(p);
        if (n == 0) {
            snprintf(err, errlen, "empty token in subject '%s'", s);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (isspace((unsigned char)p[i]) || (unsigned char)p[i] < 0x20) {
                snprintf(err, errlen, "white space in subject '%s'", s);
                return false;
            }
            if ((p[i] == '*' || p[i] == '>') && n > 1) {
                snprintf(err, errlen, "a wildcard must be a whole token in subject '%s'", s);
                return false;
            }
        }
        if ((tok_is(p, n, '*') || tok_is(p, n, '>')) && !wildcards) {
            snprintf(err, errlen, "wildcards are not allowed here, got '%s'", s);
            return false;
        }
        if (tok_is(p, n, '>') && p[n] != '\0') {
            snprintf(err, errlen, "'>' must be the last token in subject '%s'", s);
            return false;
        }
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

bool
cfg_subject_match(const char *pattern, const char *subject)
{
    return cfg_subject_subset(subject, pattern);
}

/* Every subject `filter` matches is matched by `pattern` (nats-server's
 * subjectIsSubsetMatch, which validFilteredSubject uses). */
bool
cfg_subject_subset(const char *filter, const char *pattern)
{
    const char *f = filter, *p = pattern;
    for (;;) {
        size_t fn = tok_len(f), pn = tok_len(p);
        if (tok_is(p, pn, '>'))
            return true;
        if (tok_is(f, fn, '>'))
            return false;
        if (!tok_is(p, pn, '*') && (tok_is(f, fn, '*') || fn != pn || memcmp(f, p, fn) != 0))
            return false;
        if (f[fn] == '\0' || p[pn] == '\0')
            return f[fn] == '\0' && p[pn] == '\0';
        f += fn + 1;
        p += pn + 1;
    }
}

bool
cfg_subject_collide(const char *a, const char *b)
{
    for (;;) {
        size_t an = tok_len(a), bn = tok_len(b);
        if (tok_is(a, an, '>') || tok_is(b, bn, '>'))
            return true;
        if (!tok_is(a, an, '*') && !tok_is(b, bn, '*') && (an != bn || memcmp(a, b, an) != 0))
            return false;
        if (a[an] == '\0' || b[bn] == '\0')
            return a[an] == '\0' && b[bn] == '\0';
        a += an + 1;
        b += bn + 1;
    }
}

size_t
cfg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}
