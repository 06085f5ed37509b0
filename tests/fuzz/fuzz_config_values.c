/*
 * fuzz_config_values.c -- the config's value parsers on their own, where
 * the whole-file target reaches them only through valid YAML: durations,
 * sizes, RFC 3339 times, Redis URLs, host:port, ${VAR} substitution, URL
 * redaction, names and NATS subjects (validity, matching, subsets,
 * collisions). The first byte picks the parser, the rest is its text (for
 * the two-subject checks, split at the first NUL).
 *
 * Besides "no crash", each parser is checked for what it promises: a
 * formatted duration or size parses back to the same value, a redacted URL
 * has no ":password@" left in it.
 */
#include "fuzz.h"

#include "config/config_int.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("JW_FUZZ_A", "alpha", 1);
    setenv("JW_FUZZ_EMPTY", "", 1);
    return 0;
}

static void
one_duration(const char *s)
{
    int64_t ms = 0;
    char err[256];
    if (cfg_duration_parse(s, &ms, err, sizeof(err)) != 0)
        return;
    char buf[64];
    int64_t back = -1;
    cfg_format_duration(ms, buf, sizeof(buf));
    if (cfg_duration_parse(buf, &back, err, sizeof(err)) != 0 || back != ms) {
        fprintf(stderr, "duration %s = %lld ms formats as %s = %lld\n", s, (long long)ms, buf,
                (long long)back);
        abort();
    }
    int64_t ms2 = 0;
    (void)cfg_parse_duration(s, &ms2);
}

static void
one_size(const char *s)
{
    int64_t n = 0;
    char err[256];
    if (cfg_size_parse(s, &n, err, sizeof(err)) != 0)
        return;
    char buf[64];
    int64_t back = -1;
    cfg_format_size(n, buf, sizeof(buf));
    if (cfg_size_parse(buf, &back, err, sizeof(err)) != 0 || back != n) {
        fprintf(stderr, "size %s = %lld formats as %s = %lld\n", s, (long long)n, buf,
                (long long)back);
        abort();
    }
}

static void
one_redis_url(const char *s)
{
    cfg_redis r = {0};
    char err[256];
    (void)cfg_parse_redis_url(s, &r, err, sizeof(err));
    char *red = cfg_redact_url(s);
    if (red != NULL && r.password != NULL && r.password[0] != '\0') {
        /* The userinfo must be gone: ":<password>@" never survives. */
        size_t nl = strlen(r.password) + 3;
        char *needle = malloc(nl);
        if (needle == NULL)
            abort();
        snprintf(needle, nl, ":%s@", r.password);
        if (strstr(red, needle) != NULL) {
            fprintf(stderr, "redacted url %s still shows password %s\n", red, r.password);
            abort();
        }
        free(needle);
    }
    free(red);
    free(r.host);
    free(r.unix_path);
    free(r.user);
    free(r.password);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    uint8_t which = data[0];
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    fuzz_split(data + 1, size - 1, 0, &a, &alen, &b, &blen);
    char err[256];
    switch (which % 12) {
    case 0:
        one_duration(a);
        break;
    case 1:
        one_size(a);
        break;
    case 2: {
        int64_t ns = 0;
        if (cfg_parse_rfc3339(a, &ns) == 0) {
            char buf[64];
            cfg_format_rfc3339(ns, buf, sizeof(buf));
        }
        break;
    }
    case 3:
        one_redis_url(a);
        break;
    case 4: {
        char *host = NULL;
        int port = 0;
        if (cfg_parse_hostport(a, &host, &port, err, sizeof(err)) == 0 &&
            (port < 0 || port > 65535)) {
            fprintf(stderr, "hostport %s: port %d\n", a, port);
            abort();
        }
        free(host);
        break;
    }
    case 5: {
        char *out = NULL;
        if (cfg_subst(a, &out, err, sizeof(err)) == 0 && out == NULL)
            abort();
        free(out);
        break;
    }
    case 6:
        free(cfg_redact_url(a));
        break;
    case 7:
        (void)cfg_name_valid(a);
        break;
    case 8:
        (void)cfg_subject_valid(a, which & 0x80, err, sizeof(err));
        break;
    case 9:
        if (b != NULL && cfg_subject_valid(a, true, err, sizeof(err)) &&
            cfg_subject_valid(b, false, err, sizeof(err)))
            (void)cfg_subject_match(a, b);
        break;
    case 10:
        if (b != NULL && cfg_subject_valid(a, true, err, sizeof(err)) &&
            cfg_subject_valid(b, true, err, sizeof(err))) {
            (void)cfg_subject_subset(a, b);
            (void)cfg_subject_collide(a, b);
        }
        break;
    case 11:
        if (b != NULL && alen < 256 && blen < 256)
            (void)cfg_edit_distance(a, b);
        break;
    default:
        break;
    }
    free(a);
    free(b);
    return 0;
}
