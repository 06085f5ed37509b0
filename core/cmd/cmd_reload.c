/*
 * cmd_reload.c -- `jetway reload --pid-file PATH [--timeout SECS]`: make a
 * running `jetway run` reload its config and report the outcome.
 *
 * The runtime writes "<pid file>.reload" after every reload as one JSON
 * line {"seq":N,"ok":bool,"digest":..,"error":..,"started_ns":T} (see
 * reload.c). This command reads it, sends SIGHUP, and polls the file until
 * an outcome newer than the one it saw appears. "Newer" is seq changed AND,
 * when the runtime writes it, started_ns at or after the moment the signal
 * was sent: a reload that was already running when SIGHUP arrived read the
 * file too early to contain the caller's change, and its outcome must not
 * be taken for this one (the runtime follows it with one more reload).
 *
 * Exit status: 0 reload ok, 1 reload failed / process gone / timeout,
 * 2 usage error.
 *
 * Threads: the main thread only.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "cmd.h"

#define RELOAD_POLL_MS           20
#define RELOAD_DEFAULT_TIMEOUT_S 60

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: jetway reload --pid-file PATH [--timeout SECS]\n\n"
            "Send SIGHUP to the jetway whose pid is in PATH and wait for the outcome\n"
            "it writes to PATH.reload. Prints 'reload ok: config sha256 DIGEST' and\n"
            "exits 0, or 'reload failed: REASON' and exits 1. Also exits 1 when the\n"
            "process is gone or no outcome arrives in time (the running configuration\n"
            "is then whatever the process last reported).\n\n"
            "options:\n"
            "  -p, --pid-file PATH  the pid file given to `jetway run --pid-file`\n"
            "  -t, --timeout SECS   how long to wait for the outcome (default %d)\n"
            "  -h, --help           this help\n",
            RELOAD_DEFAULT_TIMEOUT_S);
}

/* One outcome as read from PATH.reload. */
typedef struct reload_status {
    int present;
    long long seq;
    int ok;
    long long started_ns; /* -1 when the runtime does not write it */
    char digest[80];
    char error[1024];
} reload_status;

static int64_t
now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *
read_small_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(8192);
    size_t n = buf ? fread(buf, 1, 8191, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* Read PATH.reload; st->present = 0 when absent or not (yet) valid JSON. */
static void
read_status(const char *path, reload_status *st)
{
    memset(st, 0, sizeof(*st));
    st->started_ns = -1;
    char *text = read_small_file(path);
    if (!text)
        return;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
    const cJSON *dg = cJSON_GetObjectItemCaseSensitive(j, "digest");
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(j, "started_ns");
    if (cJSON_IsNumber(seq)) {
        st->present = 1;
        st->seq = (long long)seq->valuedouble;
        st->ok = cJSON_IsTrue(ok);
        if (cJSON_IsNumber(sn))
            st->started_ns = (long long)sn->valuedouble;
        snprintf(st->digest, sizeof(st->digest), "%s", cJSON_IsString(dg) ? dg->valuestring : "");
        snprintf(st->error, sizeof(st->error), "%s", cJSON_IsString(er) ? er->valuestring : "");
    }
    cJSON_Delete(j);
}

/* The pid from the pid file, or -1 with a message printed. */
static pid_t
read_pid(const char *path)
{
    char *text = read_small_file(path);
    if (!text) {
        fprintf(stderr, "jetway reload: cannot read pid file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long pid = strtol(text, &end, 10);
    int bad =
        errno != 0 || end == text || pid <= 1 || pid > INT32_MAX || (*end != '\0' && *end != '\n');
    free(text);
    if (bad) {
        fprintf(stderr, "jetway reload: %s does not hold a process id\n", path);
        return -1;
    }
    return (pid_t)pid;
}

static int
alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static void
nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int
parse_timeout(const char *a, double *out)
{
    char *end = NULL;
    double v = strtod(a, &end);
    if (end == a || *end != '\0' || !(v > 0) || v > 86400) {
        fprintf(stderr, "jetway reload: --timeout wants seconds > 0, got '%s'\n", a);
        return -1;
    }
    *out = v;
    return 0;
}

int
cmd_reload(int argc, char **argv)
{
    const char *pid_file = NULL;
    double timeout_s = RELOAD_DEFAULT_TIMEOUT_S;
    /* -h is parsed here, not with cmd_wants_help() (main.c), so this file
     * links into the unit tests, which link every core object but main.o. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-p") == 0 || strcmp(a, "--pid-file") == 0) && i + 1 < argc) {
            pid_file = argv[++i];
        } else if (strncmp(a, "--pid-file=", 11) == 0) {
            pid_file = a + 11;
        } else if ((strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) && i + 1 < argc) {
            if (parse_timeout(argv[++i], &timeout_s) != 0)
                return 2;
        } else if (strncmp(a, "--timeout=", 10) == 0) {
            if (parse_timeout(a + 10, &timeout_s) != 0)
                return 2;
        } else {
            fprintf(stderr, "jetway reload: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!pid_file) {
        fprintf(stderr, "jetway reload: missing --pid-file PATH\n\n");
        usage(stderr);
        return 2;
    }
    pid_t pid = read_pid(pid_file);
    if (pid < 0)
        return 1;
    char status_path[4096];
    if ((size_t)snprintf(status_path, sizeof(status_path), "%s.reload", pid_file) >=
        sizeof(status_path)) {
        fprintf(stderr, "jetway reload: pid file path too long\n");
        return 2;
    }
    reload_status before, now;
    read_status(status_path, &before);

    int64_t sent_ns = now_ns(CLOCK_REALTIME);
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "reload failed: cannot signal jetway (pid %ld): %s\n", (long)pid,
                strerror(errno));
        return 1;
    }
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)(timeout_s * 1e9);
    for (;;) {
        read_status(status_path, &now);
        if (now.present && (!before.present || now.seq != before.seq) &&
            (now.started_ns < 0 || now.started_ns >= sent_ns)) {
            if (now.ok) {
                printf("reload ok: config sha256 %s\n", now.digest);
                return fflush(stdout) == 0 ? 0 : 1;
            }
            fprintf(stderr, "reload failed: %s\n", now.error[0] ? now.error : "(no reason given)");
            return 1;
        }
        if (!alive(pid)) {
            fprintf(stderr, "reload failed: jetway (pid %ld) exited before reporting\n", (long)pid);
            return 1;
        }
        if (now_ns(CLOCK_MONOTONIC) >= deadline) {
            fprintf(stderr, "reload failed: no outcome from jetway (pid %ld) within %g s\n",
                    (long)pid, timeout_s);
            return 1;
        }
        nap_ms(RELOAD_POLL_MS);
    }
}
