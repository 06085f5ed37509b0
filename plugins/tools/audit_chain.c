/*
 * audit_chain.c -- walk an audit log's segments in order and check the hash
 * chain with the plugin's own format code (one definition of the bytes).
 */
#include "audit_chain.h"

#include <fcntl.h>
#include <unistd.h>

#include "../audit/audit_format.h"

/* Chain state carried from line to line and across segments. */
typedef struct chain {
    uint64_t next_n;
    char head[AUD_HEX_LEN + 1];
} chain;

static int
broken(audit_chain_result *r, const char *seg, uint64_t line, const char *what)
{
    snprintf(r->segment, sizeof r->segment, "%s", seg);
    r->line = line;
    snprintf(r->error, sizeof r->error, "%s", what);
    return 1;
}

/* 0 when the segment read from fp checks out, 1 broken, -1 unreadable.
 * Closes fp. */
static int
verify_segment(FILE *fp, const char *name, int last, int strict, chain *c, audit_chain_result *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (line[got - 1] != '\n') {
            if (last && !strict) {
                snprintf(r->torn_segment, sizeof r->torn_segment, "%s", name);
                r->torn_line = lineno;
            } else {
                rc = broken(r, name, lineno, last ? "torn final line" : "torn line");
            }
            break;
        }
        aud_rec rec;
        aud_err e = aud_line_check(line, (size_t)got - 1, &rec, NULL);
        if (e != AUD_OK)
            rc = broken(r, name, lineno, aud_err_str(e));
        else if (rec.n != c->next_n)
            rc = broken(r, name, lineno, "n not consecutive");
        else if (strcmp(rec.prev, c->head) != 0)
            rc = broken(r, name, lineno, "prev mismatch");
        else {
            c->next_n++;
            memcpy(c->head, rec.hash, sizeof c->head);
            r->records++;
        }
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(r->error, sizeof r->error, "read %s: %s", name, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && lineno == 0 && !last)
        rc = broken(r, name, 0, "empty segment");
    free(line);
    fclose(fp);
    return rc;
}

/* Segment no from dir, or through fetch when dir lacks it: as verify_segment,
 * or 2 when it is missing (broken, but not a segment checked). */
static int
verify_no(const char *dir, uint32_t no, int local, int last, int strict, audit_chain_fetch_fn fetch,
          void *arg, chain *c, audit_chain_result *r)
{
    char name[AUD_SEG_NAME_MAX], path[4096];
    aud_segment_name(no, name);
    if (local) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *fp = fopen(path, "re");
        if (!fp) {
            snprintf(r->error, sizeof r->error, "open %s: %s", name, strerror(errno));
            return -1;
        }
        return verify_segment(fp, name, last, strict, c, r);
    }
    if (!fetch)
        return broken(r, name, 0, "missing segment") + 1;
    char *buf = NULL, ferr[160] = "";
    size_t len = 0;
    int rc = fetch(arg, name, &buf, &len, ferr, sizeof ferr);
    if (rc == -ENOENT)
        return broken(r, name, 0, "missing segment (not in the archive either)") + 1;
    if (rc != 0) {
        snprintf(r->error, sizeof r->error, "%s", ferr);
        return -1;
    }
    r->fetched++;
    if (len == 0) {
        free(buf);
        return last ? 0 : broken(r, name, 0, "empty segment");
    }
    FILE *fp = fmemopen(buf, len, "r");
    if (!fp) {
        snprintf(r->error, sizeof r->error, "fmemopen %s: %s", name, strerror(errno));
        free(buf);
        return -1;
    }
    rc = verify_segment(fp, name, last, strict, c, r);
    free(buf);
    return rc;
}

int
audit_chain_verify(const char *dir, int strict, audit_chain_result *r)
{
    return audit_chain_verify_from(dir, strict, NULL, NULL, r);
}

int
audit_chain_verify_from(const char *dir, int strict, audit_chain_fetch_fn fetch, void *arg,
                        audit_chain_result *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->head, AUD_ZERO_HASH, sizeof r->head);
    uint32_t *nos = NULL;
    size_t n = 0;
    int rc = aud_segments_list(dir, &nos, &n);
    if (rc != 0) {
        snprintf(r->error, sizeof r->error, "%s: %s", dir, strerror(-rc));
        return -1;
    }
    chain c = {.next_n = 1};
    memcpy(c.head, AUD_ZERO_HASH, sizeof c.head);
    /* Segments 1 .. the newest in dir; those not in dir through fetch. */
    uint32_t max = n ? nos[n - 1] : 0;
    size_t i = 0;
    for (uint32_t no = 1; no <= max && rc == 0; no++) {
        int local = i < n && nos[i] == no;
        rc = verify_no(dir, no, local, no == max, strict, fetch, arg, &c, r);
        i += local;
        if (rc == 2)
            rc = 1;
        else if (rc >= 0)
            r->segments++;
    }
    free(nos);
    memcpy(r->head, c.head, sizeof r->head);
    return rc;
}
