/*
 * cmd_consumer.c -- `jetway consumer pause|resume NAME --pid-file PATH`:
 * pause or resume one consumer of a running `jetway run --pid-file PATH`
 * through its control socket PATH.sock (runtime/ctlsock_int.h).
 *
 * Exit status: 0 done (the process said "ok"), 1 refused (no such
 * consumer), unreachable, or no answer in time, 2 usage error.
 *
 * Threads: the main thread only.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

#define CONSUMER_DEFAULT_TIMEOUT_S 10

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: jetway consumer pause|resume NAME --pid-file PATH [--timeout SECS]\n\n"
            "Pause or resume consumer NAME of the jetway whose pid file is PATH, through\n"
            "its control socket PATH.sock. Paused: no new fetches; messages in flight\n"
            "finish and settle; the backlog stays on the server. The pause lasts until\n"
            "resumed (a reload keeps it; a restart forgets it). Prints the outcome;\n"
            "exits 0 when done, 1 when refused or unreachable.\n\n"
            "options:\n"
            "  -p, --pid-file PATH  the pid file given to `jetway run --pid-file`\n"
            "  -t, --timeout SECS   how long to wait for the answer (default %d)\n"
            "  -h, --help           this help\n",
            CONSUMER_DEFAULT_TIMEOUT_S);
}

/* Send line, read the one-line answer into ans; 0, or -1 with errno-ish text. */
static int
exchange(const char *sock_path, const char *line, int timeout_ms, char *ans, size_t anslen,
         char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long for a unix socket", sock_path);
        return -1;
    }
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot reach jetway at %s: %s (is it running with --pid-file?)",
                 sock_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t n = write(fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "writing to %s: %s", sock_path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left =
            timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            snprintf(err, errlen, "no answer from jetway within %d ms", timeout_ms);
            close(fd);
            return -1;
        }
        ssize_t n = read(fd, ans + got, anslen - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) >= anslen - 1 || memchr(ans, '\n', got))
            break;
    }
    close(fd);
    ans[got] = '\0';
    char *nl = strchr(ans, '\n');
    if (!nl) {
        snprintf(err, errlen, "jetway closed the control connection without an answer");
        return -1;
    }
    *nl = '\0';
    return 0;
}

int
cmd_consumer(int argc, char **argv)
{
    const char *pid_file = NULL, *verb = NULL, *name = NULL;
    double timeout_s = CONSUMER_DEFAULT_TIMEOUT_S;
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
            char *end = NULL;
            timeout_s = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(timeout_s > 0) || timeout_s > 3600) {
                fprintf(stderr, "jetway consumer: --timeout wants seconds > 0, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "jetway consumer: unexpected option '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else if (!verb) {
            verb = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "jetway consumer: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!verb || (strcmp(verb, "pause") != 0 && strcmp(verb, "resume") != 0) || !name ||
        !pid_file) {
        fprintf(stderr, "jetway consumer: want pause|resume, a consumer NAME and --pid-file\n\n");
        usage(stderr);
        return 2;
    }
    if (strlen(name) > 256 || strpbrk(name, " \n\r")) {
        fprintf(stderr, "jetway consumer: '%s' is not a consumer name\n", name);
        return 2;
    }
    char sock_path[4096], line[512], ans[600], err[4400];
    if ((size_t)snprintf(sock_path, sizeof(sock_path), "%s.sock", pid_file) >= sizeof(sock_path)) {
        fprintf(stderr, "jetway consumer: pid file path too long\n");
        return 2;
    }
    snprintf(line, sizeof(line), "%s %s\n", verb, name);
    if (exchange(sock_path, line, (int)(timeout_s * 1000), ans, sizeof(ans), err, sizeof(err)) !=
        0) {
        fprintf(stderr, "%s failed: %s\n", verb, err);
        return 1;
    }
    if (strncmp(ans, "ok ", 3) == 0) {
        printf("%s\n", ans + 3);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    fprintf(stderr, "%s failed: %s\n", verb, strncmp(ans, "error ", 6) == 0 ? ans + 6 : ans);
    return 1;
}
