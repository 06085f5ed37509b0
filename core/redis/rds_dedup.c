/*
 * rds_dedup.c -- the dedup protocol of the rds client (redis.h, rds_int.h):
 * the Lua scripts of delivery-notes §2.3, how each call is sent, and how
 * each answer is read.
 *
 * A script is called by EVALSHA with the SHA-1 the handshake loaded. A
 * NOSCRIPT reply (Redis restarted, SCRIPT FLUSH) is answered by sending the
 * same call once more as EVAL with the script's text, which also puts the
 * script back in Redis's cache for the EVALSHAs that follow; the request
 * kept copies of its arguments for that.
 *
 * Two shortcuts keep Redis's share of the hot path small, with the same
 * answers as the scripts:
 *  - a claim is first sent as the native SET key P|token NX PX lease (what
 *    the claim script does when the key is absent, and no Lua); only when
 *    the key exists is the claim script sent to tell DONE from BUSY;
 *  - commits issued in one loop iteration are sent as one call of a
 *    commit-many script (one Lua call for up to RDS_BATCH_MAX keys, each
 *    with its own answer) from an idle handle, before the loop next polls.
 */
#include "rds_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* Lua sources: delivery-notes §2.3. KEYS[1] is the dedup key everywhere. */
static const char script_claim[] = "local v = redis.call('GET', KEYS[1])\n"
                                   "if not v then\n"
                                   "  redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'PX', ARGV[2])\n"
                                   "  return {'CLAIMED'}\n"
                                   "end\n"
                                   "if string.sub(v, 1, 2) == 'D|' then return {'DONE'} end\n"
                                   "return {'BUSY', redis.call('PTTL', KEYS[1])}\n";

/* Absent means our lease ran out and nobody claimed since: the effect is
 * ours and done, so the marker is written. */
static const char script_commit[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, 2) == 'D|' then return 'ALREADY_DONE' end\n"
    "if v and v ~= 'P|' .. ARGV[1] then return 'LEASE_LOST' end\n"
    "redis.call('SET', KEYS[1], 'D|' .. ARGV[3], 'PX', ARGV[2])\n"
    "return 'OK'\n";

/* The commit script for #KEYS keys at once; ARGV holds token, ttl, mark per
 * key. Answers 0 OK, 1 ALREADY_DONE, 2 LEASE_LOST per key. */
static const char script_commit_many[] =
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local v = redis.call('GET', KEYS[i])\n"
    "  if v and string.sub(v, 1, 2) == 'D|' then out[i] = 1\n"
    "  elseif v and v ~= 'P|' .. ARGV[3 * i - 2] then out[i] = 2\n"
    "  else\n"
    "    redis.call('SET', KEYS[i], 'D|' .. ARGV[3 * i], 'PX', ARGV[3 * i - 1])\n"
    "    out[i] = 0\n"
    "  end\n"
    "end\n"
    "return out\n";

static const char script_release[] = "if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then\n"
                                     "  return redis.call('DEL', KEYS[1])\n"
                                     "end\n"
                                     "return 0\n";

static const char script_extend[] = "if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then\n"
                                    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                    "end\n"
                                    "return 0\n";

const char *const rds_scripts[RDS_OP_NSCRIPTS] = {script_claim, script_commit, script_release,
                                                  script_extend, script_commit_many};

/* ---- sending ---- */

/* Room for n keys in the commit-many scratch; 0 or -1. */
static int
scratch_grow(rds *r, size_t n)
{
    if (n <= r->argv_cap)
        return 0;
    size_t argc = 3 + 4 * n;
    const char **av = realloc(r->argv, argc * sizeof(*av));
    if (!av)
        return -1;
    r->argv = av;
    size_t *al = realloc(r->lens, argc * sizeof(*al));
    if (!al)
        return -1;
    r->lens = al;
    char *nums = realloc(r->nums, n * 24);
    if (!nums)
        return -1;
    r->nums = nums;
    r->argv_cap = n;
    return 0;
}

void
rds_dedup_free(rds *r)
{
    free(r->argv);
    free(r->lens);
    free(r->nums);
    r->argv = NULL;
    r->lens = NULL;
    r->nums = NULL;
    r->argv_cap = 0;
}

/* One EVALSHA (or EVAL after NOSCRIPT) of commit-many for q's members. */
static int
send_many(rds *r, rds_req *q)
{
    size_t n = (size_t)q->nmembers;
    if (scratch_grow(r, n) != 0)
        return -1;
    const char **av = r->argv;
    size_t *al = r->lens;
    char cnt[24];
    av[0] = q->retried ? "EVAL" : "EVALSHA";
    al[0] = q->retried ? 4 : 7;
    av[1] = q->retried ? rds_scripts[RDS_OP_COMMIT_MANY] : r->sha[RDS_OP_COMMIT_MANY];
    al[1] = q->retried ? strlen(rds_scripts[RDS_OP_COMMIT_MANY]) : 40;
    av[2] = cnt;
    al[2] = rds_fmt_i64(cnt, (int64_t)n);
    size_t k = 3, a = 3 + n, i = 0;
    for (rds_req *m = q->members; m; m = m->next, i++) {
        const char *key = m->args;
        const char *token = key + m->klen + 1;
        const char *mark = token + m->tlen + 1;
        char *num = r->nums + i * 24;
        av[k] = key;
        al[k++] = m->klen;
        av[a] = token;
        al[a++] = m->tlen;
        av[a] = num;
        al[a++] = rds_fmt_i64(num, m->num);
        av[a] = mark;
        al[a++] = m->mlen;
    }
    return rds_req_write(r, q, (int)a, av, al);
}

int
rds_dedup_send(rds *r, rds_req *q)
{
    const char *argv[8];
    size_t lens[8];
    int argc = 0;
    char num[24];
    const char *key = q->args;
    const char *token = key + q->klen + 1;
    const char *mark = token + q->tlen + 1;

    if (q->op == RDS_OP_CLAIM && q->native) {
        /* "P|" and the token, as the claim script writes it */
        char val[RDS_REQ_INLINE + 2];
        val[0] = 'P';
        val[1] = '|';
        memcpy(val + 2, token, q->tlen);
        const char *av[6] = {"SET", key, val, "NX", "PX", num};
        size_t al[6] = {3, q->klen, (size_t)q->tlen + 2, 2, 2, rds_fmt_i64(num, q->num)};
        return rds_req_write(r, q, 6, av, al);
    }
    if (q->op == RDS_OP_COMMIT_MANY)
        return send_many(r, q);

    if (q->retried) {
        argv[argc] = "EVAL";
        lens[argc++] = 4;
        argv[argc] = rds_scripts[q->op];
        lens[argc++] = strlen(rds_scripts[q->op]);
    } else {
        argv[argc] = "EVALSHA";
        lens[argc++] = 7;
        argv[argc] = r->sha[q->op];
        lens[argc++] = 40;
    }
    argv[argc] = "1";
    lens[argc++] = 1;
    argv[argc] = key;
    lens[argc++] = q->klen;
    argv[argc] = token;
    lens[argc++] = q->tlen;
    if (q->op != RDS_OP_RELEASE) {
        argv[argc] = num;
        lens[argc++] = rds_fmt_i64(num, q->num);
    }
    if (q->op == RDS_OP_COMMIT) {
        argv[argc] = mark;
        lens[argc++] = q->mlen;
    }
    return rds_req_write(r, q, argc, argv, lens);
}

/* ---- replies ---- */

/* Each commit of a commit-many gets its own answer: 0 OK, 1 ALREADY_DONE,
 * 2 LEASE_LOST. Returns 0, or -1 when the reply has not that shape (q is
 * then untouched). */
static int
many_reply(rds *r, rds_req *q, const redisReply *rep)
{
    static const rds_result map[3] = {RDS_OK, RDS_DONE, RDS_LEASE_LOST};
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)q->nmembers)
        return -1;
    rds_req *m = q->members;
    q->members = NULL;
    rds_req_put(r, q);
    for (size_t i = 0; m; i++) {
        rds_req *next = m->next;
        const redisReply *e = rep->element[i];
        int ok = e->type == REDIS_REPLY_INTEGER && e->integer >= 0 && e->integer <= 2;
        if (!ok)
            rds_errlog(r, "unexpected reply", NULL);
        rds_req_finish(r, m, ok ? map[e->integer] : RDS_ERROR, 0);
        m = next;
    }
    return 0;
}

void
rds_dedup_reply(rds *r, rds_req *q, redisReply *rep)
{
    if (q->op == RDS_OP_CLAIM && q->native && rep->type != REDIS_REPLY_ERROR) {
        if (rds_is_str(rep, "OK", 2)) {
            rds_req_finish(r, q, RDS_CLAIMED, 0);
            return;
        }
        /* The key exists: the script tells DONE from BUSY (or claims it,
         * should the lease have run out in between). */
        q->native = 0;
        if (rep->type == REDIS_REPLY_NIL && r->state == RDS_ST_UP && rds_req_send(r, q) == 0)
            return;
        rds_errlog(r, "unexpected reply", rep->type == REDIS_REPLY_NIL ? NULL : rep);
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!q->retried && rep->len >= 8 && memcmp(rep->str, "NOSCRIPT", 8) == 0 &&
            r->state == RDS_ST_UP) {
            q->retried = 1;
            if (rds_req_send(r, q) == 0)
                return;
        }
        rds_errlog(r, "command failed", rep);
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }

    rds_result res = RDS_ERROR;
    int64_t aux = 0;
    switch (q->op) {
    case RDS_OP_CLAIM:
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1) {
            const redisReply *e = rep->element[0];
            if (rds_is_str(e, "CLAIMED", 7)) {
                res = RDS_CLAIMED;
            } else if (rds_is_str(e, "DONE", 4)) {
                res = RDS_DONE;
            } else if (rds_is_str(e, "BUSY", 4)) {
                res = RDS_BUSY;
                if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_INTEGER)
                    aux = rep->element[1]->integer;
            }
        }
        break;
    case RDS_OP_COMMIT:
        if (rds_is_str(rep, "OK", 2))
            res = RDS_OK;
        else if (rds_is_str(rep, "ALREADY_DONE", 12))
            res = RDS_DONE;
        else if (rds_is_str(rep, "LEASE_LOST", 10))
            res = RDS_LEASE_LOST;
        break;
    case RDS_OP_RELEASE:
    case RDS_OP_EXTEND:
        if (rep->type == REDIS_REPLY_INTEGER)
            res = rep->integer == 1 ? RDS_OK : RDS_LEASE_LOST;
        break;
    case RDS_OP_COMMIT_MANY:
        if (many_reply(r, q, rep) == 0)
            return;
        break;
    default:
        break;
    }
    if (res == RDS_ERROR)
        rds_errlog(r, "unexpected reply", NULL);
    rds_req_finish(r, q, res, aux);
}

/* ---- the calls ---- */

/* Queue a script call; fails it at once unless the connection is up. */
static void
script_call(rds *r, int op, const char *key, const char *token, int64_t num, const char *mark,
            rds_cb cb, void *ud)
{
    rds_req *q;
    if (r->state != RDS_ST_UP || !(q = rds_req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = (uint8_t)op;
    q->num = num;
    q->cb = cb;
    q->ud = ud;
    if (rds_req_args(q, key, token, mark) != 0 || rds_req_send(r, q) != 0)
        rds_req_finish(r, q, RDS_ERROR, 0);
}

void
rds_claim(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != RDS_ST_UP || !(q = rds_req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = RDS_OP_CLAIM;
    q->num = lease_ms > 0 ? lease_ms : 1;
    q->cb = cb;
    q->ud = ud;
    if (rds_req_args(q, key, token, NULL) != 0) {
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    /* SET NX first when "P|token" fits the native path's buffer */
    q->native = (size_t)q->tlen + 2 <= RDS_REQ_INLINE;
    if (rds_req_send(r, q) != 0)
        rds_req_finish(r, q, RDS_ERROR, 0);
}

/* Send the gathered commits: one alone as the commit script, more in
 * commit-many calls of up to RDS_BATCH_MAX. Fails them when down. */
void
rds_dedup_flush(rds *r)
{
    while (r->cm_head) {
        rds_req *first = r->cm_head, *last = first;
        int n = 1;
        while (n < RDS_BATCH_MAX && last->next) {
            last = last->next;
            n++;
        }
        r->cm_head = last->next;
        last->next = NULL;
        r->cm_n -= n;
        rds_req *q = first;
        if (n > 1) {
            q = r->state == RDS_ST_UP ? rds_req_get(r) : NULL;
            if (!q) {
                /* not connected (or out of memory): fail them all */
                for (rds_req *m = first; m;) {
                    rds_req *next = m->next;
                    rds_req_finish(r, m, RDS_ERROR, 0);
                    m = next;
                }
                continue;
            }
            q->op = RDS_OP_COMMIT_MANY;
            q->cb = NULL;
            q->ud = NULL;
            q->members = first;
            q->nmembers = n;
        }
        if (r->state != RDS_ST_UP || rds_req_send(r, q) != 0)
            rds_req_finish(r, q, RDS_ERROR, 0);
    }
    r->cm_tail = NULL;
    r->cm_n = 0;
}

static void
on_flush(uv_idle_t *h)
{
    rds *r = h->data;
    uv_idle_stop(h);
    rds_dedup_flush(r);
}

void
rds_commit(rds *r, const char *key, const char *token, int64_t ttl_ms, const char *mark, rds_cb cb,
           void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != RDS_ST_UP || !(q = rds_req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = RDS_OP_COMMIT;
    q->num = ttl_ms > 0 ? ttl_ms : 1;
    q->cb = cb;
    q->ud = ud;
    if (rds_req_args(q, key, token, mark ? mark : "") != 0) {
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    /* Gathered until the loop is idle, then sent together (on_flush). */
    q->next = NULL;
    if (r->cm_tail)
        r->cm_tail->next = q;
    else
        r->cm_head = q;
    r->cm_tail = q;
    if (r->cm_n++ == 0)
        uv_idle_start(&r->flush, on_flush);
}

void
rds_release(rds *r, const char *key, const char *token, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    script_call(r, RDS_OP_RELEASE, key, token, 0, NULL, cb, ud);
}

void
rds_extend(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    script_call(r, RDS_OP_EXTEND, key, token, lease_ms > 0 ? lease_ms : 1, NULL, cb, ud);
}
