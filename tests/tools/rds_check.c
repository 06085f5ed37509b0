/*
 * rds_check.c -- drives core/rds.c and core/kv.c against a real Redis for
 * tests/integration/t_rds.sh and t_kv.sh, and measures the dedup hot path.
 *
 *   rds_check [-h host] [-p port] [-s unix_path] [-a password] [-u user]
 *             [-n db] [-t timeout_ms] [-i command_file] MODE [args]
 *
 * Modes:
 *   serve            rds commands, one a line, from stdin or -i FILE (a fifo:
 *                    opened read-write so it never sees EOF); each command
 *                    runs when the previous one has its answer. Prints
 *                    "R TAG RESULT AUX" per answer and "STATE up|down".
 *                    Exit status 0 only if the loop closes cleanly.
 *   bench N [W]      N claim+commit pairs with W (default 1000) in flight;
 *                    prints pairs/s and commands/s.
 *   kv-get KEY | kv-set KEY VAL [TTL] | kv-setnx KEY VAL [TTL] | kv-del KEY
 *   kv-incr KEY BY | kv-eval SCRIPT NKEYS [KEY...] [ARG...]
 *                    one kv call; prints "K CODE [value]".
 *   kv-threads T N   T threads x N rounds of every kv call, checked;
 *                    prints PASS/FAIL lines.
 *   kv-serve         kv commands from stdin or -i FILE on one thread:
 *                    get TAG KEY | set TAG KEY VAL | incr TAG KEY BY |
 *                    eval TAG SCRIPT...; prints "K TAG CODE [value]".
 *   kv-nocfg         kv_setup(NULL): every call must say ENOTSUP.
 *   kv-pipeline      kv_pipeline checks (order, mixed commands and scripts,
 *                    error replies, long pipelines and argument lists,
 *                    invalid input, NOSCRIPT after a SCRIPT FLUSH on the
 *                    live connection); prints PASS/FAIL lines.
 * kv-serve also takes "pipe TAG N KEY": one pipeline of N INCR KEY,
 * printing "K TAG CODE [:last]".
 *
 * serve commands: claim TAG KEY TOKEN LEASE | commit TAG KEY TOKEN TTL MARK |
 *   release TAG KEY TOKEN | extend TAG KEY TOKEN LEASE | ping TAG |
 *   burst TAG N PREFIX LEASE (N claims at once) |
 *   cburst TAG N PREFIX TOKEN TTL MARK (N commits at once) | wait-up TAG SECS |
 *   wait-down TAG SECS | stats TAG | quit
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "redis/redis.h"
#include "base/base.h"

static const char *const result_names[] = {"OK", "CLAIMED", "DONE", "BUSY", "LEASE_LOST", "ERROR"};

static cfg_redis cfg;
static const char *cmd_file;

/* ---- serve: all on the loop thread ---- */

#define LINE_MAX_ 1024

/* Everything serve mode owns; the loop thread only. */
static struct {
    uv_loop_t *loop;
    rds *r;
    uv_pipe_t in;
    int in_open;
    uv_timer_t wait_timer;
    char buf[64 * 1024]; /* bytes read and not yet run */
    size_t blen;
    int busy;     /* a command awaits its answer */
    int stopping; /* quit or EOF seen */
    int up;
    char wait_tag[64];
    int wait_for; /* 1 = up, 0 = down, -1 = none */
    /* burst */
    char burst_tag[64];
    int burst_left;
    int burst_n[6];
    int burst_commits; /* the burst is of commits (cburst) */
} sv;

/* One outstanding command's tag; malloc'd, freed by its callback. */
typedef struct tagged {
    char tag[64];
} tagged;

static void run_lines(void);

static void
next_command(void)
{
    sv.busy = 0;
    run_lines();
}

static void
on_result(void *ud, rds_result res, int64_t aux)
{
    tagged *t = ud;
    printf("R %s %s %" PRId64 "\n", t->tag, result_names[res], aux);
    free(t);
    next_command();
}

static void
on_burst(void *ud, rds_result res, int64_t aux)
{
    (void)ud;
    (void)aux;
    sv.burst_n[res]++;
    if (--sv.burst_left > 0)
        return;
    int total = 0;
    for (int i = 0; i < 6; i++)
        total += sv.burst_n[i];
    if (sv.burst_commits) {
        printf("R %s CBURST ok=%d done=%d lost=%d error=%d total=%d\n", sv.burst_tag,
               sv.burst_n[RDS_OK], sv.burst_n[RDS_DONE], sv.burst_n[RDS_LEASE_LOST],
               sv.burst_n[RDS_ERROR], total);
        next_command();
        return;
    }
    printf("R %s BURST claimed=%d busy=%d done=%d error=%d total=%d\n", sv.burst_tag,
           sv.burst_n[RDS_CLAIMED], sv.burst_n[RDS_BUSY], sv.burst_n[RDS_DONE],
           sv.burst_n[RDS_ERROR], total);
    next_command();
}

static void
wait_done(const char *what)
{
    printf("R %s %s 0\n", sv.wait_tag, what);
    sv.wait_for = -1;
    uv_timer_stop(&sv.wait_timer);
    next_command();
}

static void
on_wait_timeout(uv_timer_t *t)
{
    (void)t;
    wait_done("TIMEOUT");
}

static void
on_state(void *ud, int up)
{
    (void)ud;
    sv.up = up;
    printf("STATE %s\n", up ? "up" : "down");
    if (sv.wait_for == up)
        wait_done(up ? "UP" : "DOWN");
}

static void
closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void
on_stopped(void *ud)
{
    (void)ud;
    printf("STOPPED\n");
    sv.r = NULL;
    uv_close((uv_handle_t *)&sv.wait_timer, closed_cb);
    if (sv.in_open) {
        sv.in_open = 0;
        uv_close((uv_handle_t *)&sv.in, closed_cb);
    }
}

static void
begin_stop(void)
{
    if (sv.stopping)
        return;
    sv.stopping = 1;
    if (sv.in_open)
        uv_read_stop((uv_stream_t *)&sv.in);
    rds_stop(sv.r, on_stopped, NULL);
}

static tagged *
tag_new(const char *tag)
{
    tagged *t = malloc(sizeof(*t));
    if (!t)
        abort();
    snprintf(t->tag, sizeof(t->tag), "%s", tag);
    return t;
}

/* Run one line; sets sv.busy when an answer is awaited. */
static void
run_line(char *line)
{
    char *argv[8];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r"); tok && argc < 8; tok = strtok(NULL, " \t\r"))
        argv[argc++] = tok;
    if (argc == 0)
        return;
    const char *cmd = argv[0];
    const char *tag = argc > 1 ? argv[1] : "-";
    sv.busy = 1;
    if (!strcmp(cmd, "claim") && argc == 5) {
        rds_claim(sv.r, argv[2], argv[3], atoll(argv[4]), on_result, tag_new(tag));
    } else if (!strcmp(cmd, "commit") && argc == 6) {
        rds_commit(sv.r, argv[2], argv[3], atoll(argv[4]), argv[5], on_result, tag_new(tag));
    } else if (!strcmp(cmd, "release") && argc == 4) {
        rds_release(sv.r, argv[2], argv[3], on_result, tag_new(tag));
    } else if (!strcmp(cmd, "extend") && argc == 5) {
        rds_extend(sv.r, argv[2], argv[3], atoll(argv[4]), on_result, tag_new(tag));
    } else if (!strcmp(cmd, "ping") && argc == 2) {
        rds_ping(sv.r, on_result, tag_new(tag));
    } else if (!strcmp(cmd, "burst") && argc == 5) {
        int n = atoi(argv[2]);
        snprintf(sv.burst_tag, sizeof(sv.burst_tag), "%s", tag);
        memset(sv.burst_n, 0, sizeof(sv.burst_n));
        sv.burst_left = n;
        sv.burst_commits = 0;
        for (int i = 0; i < n; i++) {
            char key[256];
            snprintf(key, sizeof(key), "%s:%d", argv[3], i);
            rds_claim(sv.r, key, "burst", atoll(argv[4]), on_burst, NULL);
        }
    } else if (!strcmp(cmd, "cburst") && argc == 7) {
        int n = atoi(argv[2]);
        snprintf(sv.burst_tag, sizeof(sv.burst_tag), "%s", tag);
        memset(sv.burst_n, 0, sizeof(sv.burst_n));
        sv.burst_left = n;
        sv.burst_commits = 1;
        for (int i = 0; i < n; i++) {
            char key[256];
            snprintf(key, sizeof(key), "%s:%d", argv[3], i);
            rds_commit(sv.r, key, argv[4], atoll(argv[5]), argv[6], on_burst, NULL);
        }
    } else if ((!strcmp(cmd, "wait-up") || !strcmp(cmd, "wait-down")) && argc == 3) {
        int want = !strcmp(cmd, "wait-up");
        snprintf(sv.wait_tag, sizeof(sv.wait_tag), "%s", tag);
        if (rds_connected(sv.r) == want) {
            printf("R %s %s 0\n", tag, want ? "UP" : "DOWN");
            sv.busy = 0;
        } else {
            sv.wait_for = want;
            uv_timer_start(&sv.wait_timer, on_wait_timeout, (uint64_t)atoi(argv[2]) * 1000, 0);
        }
    } else if (!strcmp(cmd, "stats") && argc == 2) {
        printf("R %s STATS connected=%d reconnects=%" PRIuFAST64 " timeouts=%" PRIuFAST64 "\n", tag,
               atomic_load(&stats.redis_connected), atomic_load(&stats.redis_reconnects),
               atomic_load(&stats.redis_timeouts));
        sv.busy = 0;
    } else if (!strcmp(cmd, "quit")) {
        sv.busy = 0;
        begin_stop();
    } else {
        printf("R %s BADCOMMAND 0\n", tag);
        sv.busy = 0;
    }
}

/* Run buffered lines until one awaits an answer. */
static void
run_lines(void)
{
    static int depth;
    if (depth)
        return; /* a synchronous answer inside run_line: the outer loop continues */
    depth++;
    while (!sv.busy && !sv.stopping) {
        char *nl = memchr(sv.buf, '\n', sv.blen);
        if (!nl)
            break;
        char line[LINE_MAX_];
        size_t n = (size_t)(nl - sv.buf);
        snprintf(line, sizeof(line), "%.*s", (int)n, sv.buf);
        memmove(sv.buf, nl + 1, sv.blen - n - 1);
        sv.blen -= n + 1;
        run_line(line);
    }
    depth--;
}

static void
on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    b->base = sv.buf + sv.blen;
    b->len = sizeof(sv.buf) - sv.blen;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)s;
    (void)b;
    if (n < 0) {
        /* EOF: run what is left, then quit */
        uv_read_stop((uv_stream_t *)&sv.in);
        if (sv.blen && sv.buf[sv.blen - 1] != '\n' && sv.blen < sizeof(sv.buf))
            sv.buf[sv.blen++] = '\n';
        if (sv.blen + 5 > sizeof(sv.buf))
            sv.blen = 0;
        memcpy(sv.buf + sv.blen, "quit\n", 5);
        sv.blen += 5;
        run_lines();
        return;
    }
    sv.blen += (size_t)n;
    run_lines();
}

static int
mode_serve(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sv.loop = &loop;
    sv.wait_for = -1;
    int fd = 0;
    if (cmd_file) {
        fd = open(cmd_file, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            perror(cmd_file);
            return 2;
        }
    }
    if (uv_guess_handle(fd) == UV_FILE) {
        /* a regular file cannot be polled: take it all now */
        ssize_t n;
        while ((n = read(fd, sv.buf + sv.blen, sizeof(sv.buf) - sv.blen - 6)) > 0)
            sv.blen += (size_t)n;
        if (sv.blen && sv.buf[sv.blen - 1] != '\n')
            sv.buf[sv.blen++] = '\n';
        memcpy(sv.buf + sv.blen, "quit\n", 5);
        sv.blen += 5;
    } else {
        uv_pipe_init(&loop, &sv.in, 0);
        if (uv_pipe_open(&sv.in, fd) != 0) {
            fprintf(stderr, "rds_check: commands must come from a pipe or a file\n");
            return 2;
        }
        sv.in_open = 1;
    }
    uv_timer_init(&loop, &sv.wait_timer);
    if (rds_start(&loop, &cfg, on_state, NULL, &sv.r) != 0) {
        fprintf(stderr, "rds_start failed\n");
        return 2;
    }
    if (sv.in_open)
        uv_read_start((uv_stream_t *)&sv.in, on_alloc, on_read);
    else
        run_lines();
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    printf("LOOP %s\n", rc == 0 ? "closed" : uv_strerror(rc));
    return rc == 0 ? 0 : 3;
}

/* ---- bench ---- */

/* One in-flight pair of the bench; the loop thread only. */
typedef struct bslot {
    int64_t i;
    char key[64];
    char token[32];
} bslot;

static struct {
    rds *r;
    int64_t n, issued, completed, errors;
    int window;
    bslot *slots;
    uint64_t t0;
    int started;
} bn;

static void bench_issue(bslot *s);

static void
bench_finish(void)
{
    double secs = (double)(uv_hrtime() - bn.t0) / 1e9;
    printf("bench: %" PRId64 " claim+commit pairs in %.3f s: %.0f pairs/s (%.0f commands/s), "
           "window %d, errors %" PRId64 "\n",
           bn.completed, secs, (double)bn.completed / secs, 2.0 * (double)bn.completed / secs,
           bn.window, bn.errors);
    rds_stop(bn.r, NULL, NULL);
}

static void
on_bench_commit(void *ud, rds_result res, int64_t aux)
{
    (void)aux;
    bslot *s = ud;
    if (res != RDS_OK)
        bn.errors++;
    if (++bn.completed == bn.n) {
        bench_finish();
        return;
    }
    if (bn.issued < bn.n)
        bench_issue(s);
}

static void
on_bench_claim(void *ud, rds_result res, int64_t aux)
{
    (void)aux;
    bslot *s = ud;
    if (res != RDS_CLAIMED)
        bn.errors++;
    rds_commit(bn.r, s->key, s->token, 60000, "ok", on_bench_commit, s);
}

static void
bench_issue(bslot *s)
{
    s->i = bn.issued++;
    snprintf(s->key, sizeof(s->key), "bench:%d:%" PRId64, (int)getpid(), s->i);
    snprintf(s->token, sizeof(s->token), "tok%" PRId64, s->i);
    rds_claim(bn.r, s->key, s->token, 30000, on_bench_claim, s);
}

static void
on_bench_state(void *ud, int up)
{
    (void)ud;
    if (!up || bn.started)
        return;
    bn.started = 1;
    bn.t0 = uv_hrtime();
    for (int i = 0; i < bn.window && bn.issued < bn.n; i++)
        bench_issue(&bn.slots[i]);
}

static int
mode_bench(int argc, char **argv)
{
    if (argc < 1)
        return 2;
    bn.n = atoll(argv[0]);
    bn.window = argc > 1 ? atoi(argv[1]) : 1000;
    if (bn.n <= 0 || bn.window <= 0)
        return 2;
    bn.slots = calloc((size_t)bn.window, sizeof(*bn.slots));
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (rds_start(&loop, &cfg, on_bench_state, NULL, &bn.r) != 0)
        return 2;
    uv_run(&loop, UV_RUN_DEFAULT);
    free(bn.slots);
    int rc = uv_loop_close(&loop);
    return rc == 0 && bn.completed == bn.n && bn.errors == 0 ? 0 : 1;
}

/* ---- kv ---- */

static const char *
code_name(int c)
{
    switch (c) {
    case JW_OK:
        return "OK";
    case JW_ENOENT:
        return "ENOENT";
    case JW_ETIMEDOUT:
        return "ETIMEDOUT";
    case JW_EIO:
        return "EIO";
    case JW_EINVAL:
        return "EINVAL";
    case JW_ENOMEM:
        return "ENOMEM";
    case JW_ENOTSUP:
        return "ENOTSUP";
    default:
        return "?";
    }
}

static void
print_reply(const jw_kv_reply *r)
{
    switch (r->type) {
    case JW_KV_NIL:
        printf("nil");
        break;
    case JW_KV_INT:
        printf(":%lld", r->integer);
        break;
    case JW_KV_STRING:
        printf("\"%s\"", r->str);
        break;
    case JW_KV_ERROR:
        printf("(error %s)", r->str);
        break;
    case JW_KV_ARRAY:
        printf("[");
        for (size_t i = 0; i < r->nelements; i++) {
            if (i)
                printf(",");
            print_reply(r->elements[i]);
        }
        printf("]");
        break;
    }
}

/* One kv call named by argv; prints "<prefix>CODE [value]". */
static int
kv_one(const char *prefix, int argc, char **argv)
{
    const char *op = argv[0];
    int rc = JW_EINVAL;
    printf("%s", prefix);
    if (!strcmp(op, "get") && argc == 2) {
        char *v = NULL;
        size_t len = 0;
        rc = kv_get(argv[1], &v, &len);
        printf("%s", code_name(rc));
        if (rc == JW_OK)
            printf(" %zu \"%s\"", len, v);
        free(v);
    } else if ((!strcmp(op, "set") || !strcmp(op, "setnx")) && (argc == 3 || argc == 4)) {
        int64_t ttl = argc == 4 ? atoll(argv[3]) : 0;
        rc = op[3] ? kv_setnx(argv[1], argv[2], strlen(argv[2]), ttl)
                   : kv_set(argv[1], argv[2], strlen(argv[2]), ttl);
        printf("%s", rc >= 0 && op[3] ? (rc ? "SET" : "EXISTS") : code_name(rc));
    } else if (!strcmp(op, "del") && argc == 2) {
        rc = kv_del(argv[1]);
        printf("%s", code_name(rc));
    } else if (!strcmp(op, "incr") && argc == 3) {
        int64_t v = 0;
        rc = kv_incr(argv[1], atoll(argv[2]), &v);
        printf("%s", code_name(rc));
        if (rc == JW_OK)
            printf(" %" PRId64, v);
    } else if (!strcmp(op, "eval") && argc >= 3) {
        size_t nkeys = (size_t)atoi(argv[2]);
        if (nkeys > (size_t)(argc - 3))
            nkeys = (size_t)(argc - 3);
        jw_kv_reply *rep = NULL;
        rc = kv_eval(argv[1], nkeys, (const char *const *)argv + 3, (size_t)argc - 3 - nkeys,
                     (const char *const *)argv + 3 + nkeys, &rep);
        printf("%s", code_name(rc));
        if (rep) {
            printf(" ");
            print_reply(rep);
        }
        kv_reply_free(rep);
    } else {
        printf("BADCOMMAND");
    }
    printf("\n");
    fflush(stdout);
    return rc;
}

static void kv_pipe_incr(int n, const char *key);

static int
mode_kv_serve(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    FILE *in = stdin;
    if (cmd_file) {
        int fd = open(cmd_file, O_RDWR | O_CLOEXEC);
        in = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!in) {
            perror(cmd_file);
            return 2;
        }
    }
    kv_setup(&cfg);
    char line[LINE_MAX_];
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcmp(line, "quit"))
            break;
        char *argv[3 + 16];
        int argc = 0;
        char *save = NULL;
        char *op = strtok_r(line, " ", &save);
        char *tag = op ? strtok_r(NULL, " ", &save) : NULL;
        if (!tag)
            continue;
        char prefix[96];
        snprintf(prefix, sizeof(prefix), "K %s ", tag);
        argv[argc++] = op;
        if (!strcmp(op, "pipe")) {
            char *ns = strtok_r(NULL, " ", &save);
            char *key = ns ? strtok_r(NULL, " ", &save) : NULL;
            printf("%s", prefix);
            if (!key) {
                printf("EINVAL\n");
                fflush(stdout);
                continue;
            }
            kv_pipe_incr(atoi(ns), key);
            continue;
        }
        if (!strcmp(op, "eval")) {
            argv[argc++] = save; /* the rest of the line is the script */
            argv[argc++] = (char *)"0";
        } else {
            for (char *t = strtok_r(NULL, " ", &save); t && argc < 18;
                 t = strtok_r(NULL, " ", &save))
                argv[argc++] = t;
        }
        kv_one(prefix, argc, argv);
    }
    if (in != stdin)
        fclose(in);
    kv_teardown();
    return 0;
}

/* One pipeline of n INCR key; prints "CODE [:last]". */
static void
kv_pipe_incr(int n, const char *key)
{
    if (n <= 0 || n > 10000) {
        printf("EINVAL\n");
        fflush(stdout);
        return;
    }
    jw_kv_cmd *cmds = calloc((size_t)n, sizeof(*cmds));
    jw_kv_reply **reps = calloc((size_t)n, sizeof(*reps));
    const char *args[2] = {"INCR", key};
    for (int i = 0; i < n; i++)
        cmds[i] = (jw_kv_cmd){.nargs = 2, .args = args};
    int rc = kv_pipeline(cmds, (size_t)n, reps);
    printf("%s", code_name(rc));
    if (rc == JW_OK) {
        printf(" ");
        print_reply(reps[n - 1]);
    }
    printf("\n");
    fflush(stdout);
    for (int i = 0; i < n; i++)
        kv_reply_free(reps[i]);
    free(cmds);
    free(reps);
}

/* ---- kv-pipeline ---- */

static int kvp_failures;

#define KVP_CHECK(cond, ...)              \
    do {                                  \
        if (cond) {                       \
            printf("PASS: " __VA_ARGS__); \
        } else {                          \
            printf("FAIL: " __VA_ARGS__); \
            kvp_failures++;               \
        }                                 \
        printf("\n");                     \
    } while (0)

static int
is_int(const jw_kv_reply *r, long long v)
{
    return r && r->type == JW_KV_INT && r->integer == v;
}

static int
is_str(const jw_kv_reply *r, const char *v)
{
    return r && r->type == JW_KV_STRING && strcmp(r->str, v) == 0;
}

static void
free_all(jw_kv_reply **reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kv_reply_free(reps[i]);
        reps[i] = NULL;
    }
}

static int
mode_kv_pipeline(void)
{
    kv_setup(&cfg);
    static const char incr_by[] = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
    static const char count_args[] = "return #KEYS * 1000 + #ARGV";
    jw_kv_reply *reps[300] = {0};

    /* Mixed: plain commands and scripts in order, an error reply in the
     * middle changes nothing around it. */
    const char *del[] = {"DEL", "p:a", "p:s", "p:n"};
    const char *set[] = {"SET", "p:a", "5"};
    const char *ka[] = {"p:a"};
    const char *a3[] = {"3"};
    const char *get[] = {"GET", "p:a"};
    const char *setstr[] = {"SET", "p:s", "text"};
    const char *incr_s[] = {"INCR", "p:s"};
    const char *ks[] = {"p:a"};
    const char *a10[] = {"10"};
    jw_kv_cmd mixed[] = {
        {.nargs = 4, .args = del},
        {.nargs = 3, .args = set},
        {.script = incr_by, .nkeys = 1, .keys = ka, .nargs = 1, .args = a3},
        {.nargs = 2, .args = get},
        {.nargs = 3, .args = setstr},
        {.nargs = 2, .args = incr_s},
        {.script = incr_by, .nkeys = 1, .keys = ks, .nargs = 1, .args = a10},
    };
    int rc = kv_pipeline(mixed, 7, reps);
    KVP_CHECK(rc == JW_OK && reps[0] && reps[0]->type == JW_KV_INT,
              "pipeline of 7 mixed commands: OK");
    KVP_CHECK(rc == JW_OK && is_str(reps[1], "OK") && is_int(reps[2], 8) && is_str(reps[3], "8") &&
                  is_str(reps[4], "OK") && reps[5]->type == JW_KV_ERROR && is_int(reps[6], 18),
              "replies in order; the failed INCR is an error reply, its neighbours ran");
    free_all(reps, 7);

    /* Long: 300 commands (more than the stack arrays), replies 1..300. */
    const char *incr_n[] = {"INCR", "p:n"};
    jw_kv_cmd many[300];
    for (int i = 0; i < 300; i++)
        many[i] = (jw_kv_cmd){.nargs = 2, .args = incr_n};
    rc = kv_pipeline(many, 300, reps);
    int inorder = rc == JW_OK;
    for (int i = 0; inorder && i < 300; i++)
        inorder = is_int(reps[i], i + 1);
    KVP_CHECK(inorder, "300 INCR in one pipeline answer 1..300 in order");
    free_all(reps, 300);

    /* A script with more keys and args than the stack argv holds. */
    const char *k20[20], *a20[20];
    char kb[20][16], ab[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(kb[i], sizeof(kb[i]), "p:k%d", i);
        snprintf(ab[i], sizeof(ab[i]), "a%d", i);
        k20[i] = kb[i];
        a20[i] = ab[i];
    }
    jw_kv_cmd wide = {.script = count_args, .nkeys = 20, .keys = k20, .nargs = 20, .args = a20};
    rc = kv_pipeline(&wide, 1, reps);
    KVP_CHECK(rc == JW_OK && is_int(reps[0], 20020), "a script with 20 keys and 20 args");
    free_all(reps, 1);

    /* Invalid input: nothing is sent, every reply NULL. */
    const char *nul[] = {"GET", NULL};
    jw_kv_cmd bad1[] = {{.nargs = 3, .args = set}, {.nargs = 2, .args = nul}};
    reps[0] = (jw_kv_reply *)1;
    rc = kv_pipeline(bad1, 2, reps);
    KVP_CHECK(rc == JW_EINVAL && !reps[0] && !reps[1], "a NULL argument is EINVAL, replies NULL");
    jw_kv_cmd bad2 = {.nkeys = 1, .keys = ka, .nargs = 2, .args = get};
    KVP_CHECK(kv_pipeline(&bad2, 1, reps) == JW_EINVAL, "a plain command with keys is EINVAL");
    jw_kv_cmd bad3 = {.nargs = 0};
    KVP_CHECK(kv_pipeline(&bad3, 1, reps) == JW_EINVAL, "an empty plain command is EINVAL");
    KVP_CHECK(kv_pipeline(NULL, 0, reps) == JW_OK, "an empty pipeline is OK");

    /* NOSCRIPT on the live connection: the script has run here (EVALSHA
     * next), then Redis's cache is flushed; the pipeline must still answer
     * every command, the script through EVAL. */
    const char *flush[] = {"SCRIPT", "FLUSH"};
    jw_kv_cmd f = {.nargs = 2, .args = flush};
    rc = kv_pipeline(&f, 1, reps);
    KVP_CHECK(rc == JW_OK && is_str(reps[0], "OK"), "SCRIPT FLUSH through the pipeline");
    free_all(reps, 1);
    jw_kv_cmd after[] = {
        {.nargs = 3, .args = set},
        {.script = incr_by, .nkeys = 1, .keys = ka, .nargs = 1, .args = a3},
        {.nargs = 2, .args = get},
        {.script = incr_by, .nkeys = 1, .keys = ka, .nargs = 1, .args = a3},
    };
    rc = kv_pipeline(after, 4, reps);
    KVP_CHECK(rc == JW_OK && is_str(reps[0], "OK") && is_int(reps[1], 8) &&
                  reps[2]->type == JW_KV_STRING && is_int(reps[3], 11),
              "after SCRIPT FLUSH: NOSCRIPT answered by EVAL (script replies %lld, %lld)",
              rc == JW_OK && reps[1] ? reps[1]->integer : -1,
              rc == JW_OK && reps[3] ? reps[3]->integer : -1);
    free_all(reps, 4);
    rc = kv_pipeline(after, 4, reps);
    KVP_CHECK(rc == JW_OK && is_int(reps[1], 8) && is_int(reps[3], 11),
              "and the next pipeline runs as EVALSHA again");
    free_all(reps, 4);
    kv_teardown();
    return kvp_failures ? 1 : 0;
}

/* ---- kv-threads ---- */

static atomic_int kvt_failures;
static int kvt_rounds;

#define KVT_CHECK(cond, ...)                    \
    do {                                        \
        if (!(cond)) {                          \
            atomic_fetch_add(&kvt_failures, 1); \
            printf("FAIL: " __VA_ARGS__);       \
            printf("\n");                       \
        }                                       \
    } while (0)

static void *
kvt_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    static const char script[] = "return {KEYS[1], ARGV[1], false, 7, redis.call('GET', "
                                 "'kvt:nope'), redis.pcall('INCR', KEYS[1])}";
    for (int i = 0; i < kvt_rounds; i++) {
        char key[64], key2[64], val[64];
        snprintf(key, sizeof(key), "kvt:%d:%d", id, i);
        snprintf(key2, sizeof(key2), "kvt:%d:%d:nx", id, i);
        snprintf(val, sizeof(val), "value-%d-%d", id, i);
        int rc = kv_set(key, val, strlen(val), 60000);
        KVT_CHECK(rc == JW_OK, "set %s -> %d", key, rc);
        char *v = NULL;
        size_t len = 0;
        rc = kv_get(key, &v, &len);
        KVT_CHECK(rc == JW_OK && v && len == strlen(val) && !strcmp(v, val), "get %s -> %d %s", key,
                  rc, v ? v : "(null)");
        free(v);
        rc = kv_setnx(key, "x", 1, 0);
        KVT_CHECK(rc == 0, "setnx existing %s -> %d", key, rc);
        rc = kv_setnx(key2, "x", 1, 60000);
        KVT_CHECK(rc == 1, "setnx new %s -> %d", key2, rc);
        int64_t n = 0;
        rc = kv_incr("kvt:shared", 1, &n);
        KVT_CHECK(rc == JW_OK && n >= 1, "incr -> %d %" PRId64, rc, n);
        const char *keys[1] = {key};
        const char *args[1] = {val};
        jw_kv_reply *rep = NULL;
        rc = kv_eval(script, 1, keys, 1, args, &rep);
        int shape = rc == JW_OK && rep && rep->type == JW_KV_ARRAY && rep->nelements == 6 &&
                    rep->elements[0]->type == JW_KV_STRING && !strcmp(rep->elements[0]->str, key) &&
                    rep->elements[1]->type == JW_KV_STRING && !strcmp(rep->elements[1]->str, val) &&
                    rep->elements[2]->type == JW_KV_NIL && rep->elements[3]->type == JW_KV_INT &&
                    rep->elements[3]->integer == 7 && rep->elements[4]->type == JW_KV_NIL &&
                    rep->elements[5]->type == JW_KV_ERROR && rep->elements[5]->len > 0;
        KVT_CHECK(shape, "eval shape rc=%d", rc);
        kv_reply_free(rep);
        rc = kv_del(key);
        KVT_CHECK(rc == JW_OK, "del -> %d", rc);
        rc = kv_get(key, &v, &len);
        KVT_CHECK(rc == JW_ENOENT && v == NULL, "get after del -> %d", rc);
        kv_del(key2);
    }
    kv_thread_cleanup();
    return NULL;
}

static int
mode_kv_threads(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int nthreads = atoi(argv[0]);
    kvt_rounds = atoi(argv[1]);
    if (nthreads <= 0 || nthreads > 64 || kvt_rounds <= 0)
        return 2;
    kv_setup(&cfg);
    kv_del("kvt:shared");
    pthread_t th[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, kvt_thread, (void *)(intptr_t)i);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    char *v = NULL;
    int rc = kv_get("kvt:shared", &v, NULL);
    long long want = (long long)nthreads * kvt_rounds;
    if (rc == JW_OK && v && atoll(v) == want)
        printf("PASS: shared counter = %lld\n", want);
    else
        KVT_CHECK(0, "shared counter rc=%d value=%s want %lld", rc, v ? v : "(null)", want);
    free(v);
    kv_teardown();
    int f = atomic_load(&kvt_failures);
    if (f == 0)
        printf("PASS: %d threads x %d rounds of set/get/setnx/incr/eval/del\n", nthreads,
               kvt_rounds);
    return f ? 1 : 0;
}

static int
mode_kv_nocfg(void)
{
    kv_setup(NULL);
    char *v = NULL;
    int64_t n;
    jw_kv_reply *rep = NULL;
    int ok = kv_get("k", &v, NULL) == JW_ENOTSUP && kv_set("k", "v", 1, 0) == JW_ENOTSUP &&
             kv_setnx("k", "v", 1, 0) == JW_ENOTSUP && kv_del("k") == JW_ENOTSUP &&
             kv_incr("k", 1, &n) == JW_ENOTSUP &&
             kv_eval("return 1", 0, NULL, 0, NULL, &rep) == JW_ENOTSUP && !rep;
    kv_teardown();
    printf("%s: kv without redis answers ENOTSUP\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}

/* ---- main ---- */

static void
usage(void)
{
    fprintf(stderr, "usage: rds_check [-h host] [-p port] [-s unix] [-a password] [-u user] "
                    "[-n db] [-t timeout_ms] [-i file] MODE [args]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    log_setup(0, JW_LOG_INFO, "rds_check");
    cfg.host = (char *)"127.0.0.1";
    cfg.port = 6379;
    cfg.timeout_ms = 2000;
    int c;
    while ((c = getopt(argc, argv, "+h:p:s:a:u:n:t:i:v")) != -1) {
        switch (c) {
        case 'h':
            cfg.host = optarg;
            break;
        case 'p':
            cfg.port = atoi(optarg);
            break;
        case 's':
            cfg.unix_path = optarg;
            cfg.host = NULL;
            break;
        case 'a':
            cfg.password = optarg;
            break;
        case 'u':
            cfg.user = optarg;
            break;
        case 'n':
            cfg.db = atoi(optarg);
            break;
        case 't':
            cfg.timeout_ms = atoll(optarg);
            break;
        case 'i':
            cmd_file = optarg;
            break;
        case 'v':
            log_set_level(JW_LOG_DEBUG);
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *mode = argv[optind];
    int rest = argc - optind - 1;
    char **args = argv + optind + 1;
    if (!strcmp(mode, "serve"))
        return mode_serve();
    if (!strcmp(mode, "bench"))
        return mode_bench(rest, args);
    if (!strcmp(mode, "kv-serve"))
        return mode_kv_serve();
    if (!strcmp(mode, "kv-threads"))
        return mode_kv_threads(rest, args);
    if (!strcmp(mode, "kv-nocfg"))
        return mode_kv_nocfg();
    if (!strcmp(mode, "kv-pipeline"))
        return mode_kv_pipeline();
    if (!strncmp(mode, "kv-", 3)) {
        kv_setup(&cfg);
        args[-1] = (char *)mode + 3;
        int rc = kv_one("K ", rest + 1, args - 1);
        kv_teardown();
        return rc == JW_EINVAL ? 2 : 0;
    }
    usage();
    return 2;
}
