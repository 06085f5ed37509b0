/*
 * config_subject.c -- NATS subjects and JetStream names: syntax, matching a
 * literal subject against a pattern, "filter within stream subject" (as
 * nats-server's subjectIsSubsetMatch) and overlap of two patterns.
 * Tokens are separated by '.', '*' matches one token, '>' one or more
 * trailing tokens.
 *
 * Threads: pure functions, any thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

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

bool
config_subject_within(const char *filter, const char *pattern)
{
    return cfg_subject_subset(filter, pattern);
}
