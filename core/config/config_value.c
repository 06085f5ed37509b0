/*
 * config_value.c -- pure parsers and formatters of config values:
 * durations, sizes, RFC 3339 times (URLs: config_url.c, subjects:
 * config_subject.c).
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
    /*
     * frac < 1e9, so frac * mul fits unless mul > INT64_MAX / 1e9 (TB, TiB):
     * fractions of those are refused before multiplying (fuzz_config_values
     * found "1.45445446TB" overflowing here when the test came after).
     */
    if (nfrac > 0 && mul > INT64_MAX / 1000000000) {
        snprintf(err, errlen, "not a whole number of %s", what);
        return -1;
    }
    f = frac * mul;
    if (nfrac > 0 && f % pow10 != 0) {
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
