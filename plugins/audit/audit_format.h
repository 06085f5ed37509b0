/*
 * audit_format.h -- the one definition of the audit log's bytes, shared by the
 * writer (the audit plugin) and the reader (`jetway audit verify`,
 * core/audit_chain.c). Header-only (static inline) because a plugin links
 * nothing of the host's; both sides link cJSON and libcrypto.
 *
 * The log is a directory of segment files audit-000001.jsonl,
 * audit-000002.jsonl... numbered from 1 without gaps. Each holds JSON lines,
 * one record a line, members in exactly this order and no whitespace outside
 * strings:
 *
 *   {"n":7,"ts":"2024-05-01T12:00:00.123Z","subject":"orders.created",
 *    "stream":"ORDERS","seq":42,"message_id":"o-1","data":{...},
 *    "prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * n counts records over the whole log from 1. ts is when the record was
 * appended (UTC, milliseconds). subject, stream, seq and message_id are the
 * message's; stream and message_id may be null. data is the event's JSON with the whitespace
 * outside strings removed (numbers and strings are kept byte for byte). The canonical bytes of a
 * record are the line without its hash member: the text before `,"hash":"`
 * followed by `}`, itself the JSON object of the record without "hash".
 * hash = lowercase hex SHA-256 of the canonical bytes; prev = hash of the
 * record before (also across segments), 64 zeros for record 1. So every
 * line's fixed-size tail is `,"prev":"<64>","hash":"<64>"}`.
 */
#ifndef JW_AUDIT_FORMAT_H
#define JW_AUDIT_FORMAT_H

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#define AUD_HEX_LEN   64
#define AUD_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* `,"prev":"` 64 `"` `,"hash":"` 64 `"}` */
#define AUD_TAIL_LEN     149
#define AUD_HASH_OFF     74 /* offset of `,"hash":"` inside the tail */
#define AUD_SEG_NAME_MAX 32

/* A growable byte buffer; owned by whoever declared it, one thread at a time. */
typedef struct aud_buf {
    char *p;
    size_t len;
    size_t cap;
} aud_buf;

static inline int
aud_buf_reserve(aud_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int
aud_buf_put(aud_buf *b, const void *s, size_t n)
{
    if (aud_buf_reserve(b, n) != 0)
        return -ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int
aud_buf_puts(aud_buf *b, const char *s)
{
    return aud_buf_put(b, s, strlen(s));
}

static inline int
aud_buf_u64(aud_buf *b, uint64_t v)
{
    char num[24];
    int k = snprintf(num, sizeof num, "%" PRIu64, v);
    return aud_buf_put(b, num, (size_t)k);
}

/* A JSON string (or null for NULL). Bytes >= 0x80 pass through unchanged. */
static inline int
aud_buf_jstr(aud_buf *b, const char *s)
{
    if (!s)
        return aud_buf_puts(b, "null");
    if (aud_buf_reserve(b, strlen(s) * 6 + 2) != 0)
        return -ENOMEM;
    char *o = b->p + b->len;
    *o++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c;
        } else if (*c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            /* the prefix of a 6-byte escape, in a counted buffer */
            // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
            memcpy(o, "\\u00", 4);
            o[4] = hex[*c >> 4];
            o[5] = hex[*c & 15];
            o += 6;
        } else {
            *o++ = (char)*c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

/* out = lowercase hex SHA-256 of a||b (b may be NULL). 0 or -EIO. */
static inline int
aud_sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[AUD_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, alen) == 1 && (!b || EVP_DigestUpdate(ctx, b, blen) == 1) &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == sizeof md;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -EIO;
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[AUD_HEX_LEN] = '\0';
    return 0;
}

/* The fields of one event; strings borrowed. data is already minified JSON. */
typedef struct aud_event {
    const char *ts;
    const char *subject;
    const char *stream; /* or NULL */
    uint64_t seq;
    const char *message_id; /* or NULL */
    const char *data;
    size_t datalen;
} aud_event;

/*
 * Build record n chained to prev into b (replacing its content), the line
 * including its '\n'; hash_out receives the record's hash. 0 or -errno.
 */
static inline int
aud_record_build(aud_buf *b, uint64_t n, const aud_event *ev, const char *prev,
                 char hash_out[AUD_HEX_LEN + 1])
{
    b->len = 0;
    int rc = aud_buf_puts(b, "{\"n\":");
    rc = rc ? rc : aud_buf_u64(b, n);
    rc = rc ? rc : aud_buf_puts(b, ",\"ts\":");
    rc = rc ? rc : aud_buf_jstr(b, ev->ts);
    rc = rc ? rc : aud_buf_puts(b, ",\"subject\":");
    rc = rc ? rc : aud_buf_jstr(b, ev->subject ? ev->subject : "");
    rc = rc ? rc : aud_buf_puts(b, ",\"stream\":");
    rc = rc ? rc : aud_buf_jstr(b, ev->stream);
    rc = rc ? rc : aud_buf_puts(b, ",\"seq\":");
    rc = rc ? rc : aud_buf_u64(b, ev->seq);
    rc = rc ? rc : aud_buf_puts(b, ",\"message_id\":");
    rc = rc ? rc : aud_buf_jstr(b, ev->message_id);
    rc = rc ? rc : aud_buf_puts(b, ",\"data\":");
    rc = rc ? rc : aud_buf_put(b, ev->data, ev->datalen);
    rc = rc ? rc : aud_buf_puts(b, ",\"prev\":\"");
    rc = rc ? rc : aud_buf_put(b, prev, AUD_HEX_LEN);
    rc = rc ? rc : aud_buf_puts(b, "\"");
    rc = rc ? rc : aud_sha256_hex(b->p, b->len, "}", 1, hash_out);
    rc = rc ? rc : aud_buf_puts(b, ",\"hash\":\"");
    rc = rc ? rc : aud_buf_put(b, hash_out, AUD_HEX_LEN);
    rc = rc ? rc : aud_buf_puts(b, "\"}\n");
    return rc;
}

/* How a line fails; the strings are what `jetway audit verify` prints. */
typedef enum aud_err {
    AUD_OK = 0,
    AUD_BAD_JSON,      /* not one JSON object */
    AUD_BAD_RECORD,    /* JSON, but not in the record layout above */
    AUD_HASH_MISMATCH, /* hash is not the SHA-256 of the canonical bytes */
} aud_err;

static inline const char *
aud_err_str(aud_err e)
{
    switch (e) {
    case AUD_OK:
        return "ok";
    case AUD_BAD_JSON:
        return "bad JSON";
    case AUD_BAD_RECORD:
        return "bad record";
    case AUD_HASH_MISMATCH:
        return "hash mismatch";
    }
    return "?";
}

/* What a checked line says about the chain. */
typedef struct aud_rec {
    uint64_t n;
    char prev[AUD_HEX_LEN + 1];
    char hash[AUD_HEX_LEN + 1];
} aud_rec;

static inline int
aud_is_hex64(const char *s)
{
    for (int i = 0; i < AUD_HEX_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/*
 * Check one line (without its '\n') on its own: JSON, layout, own hash.
 * The chain (n, prev) is the caller's. On AUD_OK and obj != NULL, *obj is the
 * parsed record, the caller's to cJSON_Delete.
 */
static inline aud_err
aud_line_check(const char *line, size_t len, aud_rec *rec, cJSON **obj)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o || end != line + len || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return AUD_BAD_JSON;
    }
    const char *t = len >= AUD_TAIL_LEN ? line + len - AUD_TAIL_LEN : line;
    char *numend = NULL;
    if (len < AUD_TAIL_LEN + 8 || memcmp(line, "{\"n\":", 5) != 0 || line[5] < '1' ||
        line[5] > '9' || memcmp(t, ",\"prev\":\"", 9) != 0 || !aud_is_hex64(t + 9) ||
        t[73] != '"' || memcmp(t + AUD_HASH_OFF, ",\"hash\":\"", 9) != 0 || !aud_is_hex64(t + 83) ||
        memcmp(t + 147, "\"}", 2) != 0) {
        cJSON_Delete(o);
        return AUD_BAD_RECORD;
    }
    errno = 0;
    rec->n = strtoull(line + 5, &numend, 10);
    if (errno != 0 || *numend != ',') {
        cJSON_Delete(o);
        return AUD_BAD_RECORD;
    }
    memcpy(rec->prev, t + 9, AUD_HEX_LEN);
    rec->prev[AUD_HEX_LEN] = '\0';
    memcpy(rec->hash, t + 83, AUD_HEX_LEN);
    rec->hash[AUD_HEX_LEN] = '\0';
    char want[AUD_HEX_LEN + 1];
    size_t body = (size_t)(t - line) + AUD_HASH_OFF;
    if (aud_sha256_hex(line, body, "}", 1, want) != 0 || strcmp(want, rec->hash) != 0) {
        cJSON_Delete(o);
        return AUD_HASH_MISMATCH;
    }
    if (obj)
        *obj = o;
    else
        cJSON_Delete(o);
    return AUD_OK;
}

static inline void
aud_segment_name(uint32_t no, char out[AUD_SEG_NAME_MAX])
{
    snprintf(out, AUD_SEG_NAME_MAX, "audit-%06" PRIu32 ".jsonl", no);
}

/* 1 and *no when name is exactly a segment file's name, else 0. */
static inline int
aud_segment_parse(const char *name, uint32_t *no)
{
    if (strncmp(name, "audit-", 6) != 0 || name[6] < '0' || name[6] > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(name + 6, &end, 10);
    if (errno != 0 || v == 0 || v > UINT32_MAX || strcmp(end, ".jsonl") != 0)
        return 0;
    char canon[AUD_SEG_NAME_MAX];
    aud_segment_name((uint32_t)v, canon);
    if (strcmp(canon, name) != 0)
        return 0;
    *no = (uint32_t)v;
    return 1;
}

static inline int
aud_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The segment numbers in dir, ascending, malloc'd into *nos. 0 or -errno. */
static inline int
aud_segments_list(const char *dir, uint32_t **nos, size_t *count)
{
    *nos = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint32_t no;
        if (!aud_segment_parse(de->d_name, &no))
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            uint32_t *p = realloc(*nos, cap * sizeof **nos);
            if (!p) {
                closedir(d);
                free(*nos);
                *nos = NULL;
                *count = 0;
                return -ENOMEM;
            }
            *nos = p;
        }
        (*nos)[(*count)++] = no;
    }
    closedir(d);
    if (*count > 1)
        qsort(*nos, *count, sizeof **nos, aud_u32_cmp);
    return 0;
}

#endif /* JW_AUDIT_FORMAT_H */
