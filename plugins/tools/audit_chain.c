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

/* 0 when the segment checks out, 1 broken, -1 unreadable. */
static int
verify_segment(const char *dir, uint32_t no, int last, int strict, chain *c, audit_chain_result *r)
{
    char name[AUD_SEG_NAME_MAX], path[4096];
    aud_segment_name(no, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "re");
    if (!fp) {
        snprintf(r->error, sizeof r->error, "open %s: %s", name, strerror(errno));
        return -1;
    }
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

int
audit_chain_verify(const char *dir, int strict, audit_chain_result *r)
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
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (nos[i] != i + 1) {
            char name[AUD_SEG_NAME_MAX];
            aud_segment_name((uint32_t)(i + 1), name);
            rc = broken(r, name, 0, "missing segment");
            break;
        }
        rc = verify_segment(dir, nos[i], i + 1 == n, strict, &c, r);
        if (rc >= 0)
            r->segments++;
    }
    free(nos);
    memcpy(r->head, c.head, sizeof r->head);
    return rc;
}
