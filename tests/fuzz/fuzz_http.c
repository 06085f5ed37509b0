/*
 * fuzz_http.c -- the operator HTTP endpoint (core/obs/http.c,
 * http_routes.c) as a client on the network meets it: the real server on
 * a loopback port, each input sent on a fresh connection, written in
 * pieces at each 0xFF byte (which is never valid in a request head, so
 * the split points are free for the fuzzer) with the write side then
 * shut down, and the answer read to the end.
 *
 * Checked: when the input holds a complete request head (an empty line)
 * within the server's 8 KiB, or overflows it, exactly one well-formed
 * answer comes back ("HTTP/1.x NNN ...", a Content-Length matching the
 * body, Connection: close); otherwise nothing is answered. The server
 * runs on its own thread, so a memory error there aborts the process and
 * libFuzzer keeps the input.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "base/base.h"
#include "obs/obs.h"

#define REQ_MAX 8192 /* core/obs/http.c HTTP_REQ_MAX */

static int port;
static http_server *srv;

static int
ready_fn(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    static unsigned n;
    snprintf(reason, reasonlen, "fuzz");
    return (n++ & 1) != 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN); /* the server may answer and close before the input is sent */
    log_setup(0, JW_LOG_ERROR, "fuzz");
    char err[256];
    if (http_start("127.0.0.1", 0, ready_fn, NULL, &srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    http_set_service(srv, "fuzz");
    port = http_port(srv);
    return 0;
}

static int
dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("fuzz_http: connect");
        abort();
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Everything the server sends until it closes (at most cap bytes kept). */
static size_t
read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        /* The server closes every connection within 10 s of accepting it. */
        if (poll(&p, 1, 15000) <= 0) {
            fprintf(stderr, "fuzz_http: no answer and no close within 15 s\n");
            abort();
        }
        char tmp[4096];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return n; /* EOF, or a reset after an oversized head */
        size_t take = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
        memcpy(buf + n, tmp, take);
        n += take;
    }
}

/* Is there an empty line in the head the server keeps (its first REQ_MAX - 1 bytes)? */
static int
has_head(const char *p, size_t n)
{
    if (n > REQ_MAX - 1)
        n = REQ_MAX - 1;
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\n' &&
            (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
            return 1;
    }
    return 0;
}

static void
check_answer(const char *a, size_t n)
{
    if (n < 12 || strncmp(a, "HTTP/1.", 7) != 0 || (a[7] != '0' && a[7] != '1') || a[8] != ' ') {
        fprintf(stderr, "fuzz_http: malformed status line: %.*s\n", (int)(n < 80 ? n : 80), a);
        abort();
    }
    const char *end = strstr(a, "\r\n\r\n");
    const char *cl = strstr(a, "\r\nContent-Length: ");
    if (end == NULL || cl == NULL || cl > end || strstr(a, "\r\nConnection: close\r\n") == NULL) {
        fprintf(stderr, "fuzz_http: malformed answer head\n");
        abort();
    }
    size_t body = strtoull(cl + 18, NULL, 10);
    size_t have = n - (size_t)(end + 4 - a);
    /* HEAD gets the length without the body. */
    if (have != body && have != 0) {
        fprintf(stderr, "fuzz_http: Content-Length %zu, body %zu\n", body, have);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 3 * REQ_MAX)
        return 0;
    int fd = dial();
    /* What the server sees: the input without the 0xFF split markers. */
    char *seen = malloc(size + 1);
    size_t nseen = 0;
    if (seen == NULL)
        abort();
    size_t from = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0xff)
            continue;
        size_t len = i - from;
        if (len > 0) {
            memcpy(seen + nseen, data + from, len);
            nseen += len;
            if (write(fd, data + from, len) < 0)
                break; /* answered and closed early (431) */
        }
        from = i + 1;
    }
    shutdown(fd, SHUT_WR);
    static char answer[1 << 20];
    size_t n = read_all(fd, answer, sizeof(answer));
    answer[n] = '\0';
    close(fd);
    int expect = has_head(seen, nseen) || nseen >= REQ_MAX - 1;
    if (expect && n > 0)
        check_answer(answer, n);
    else if (expect && n == 0 && nseen < REQ_MAX - 1) {
        fprintf(stderr, "fuzz_http: complete head, no answer\n");
        abort();
    } else if (!expect && n > 0) {
        fprintf(stderr, "fuzz_http: answered an incomplete head: %.*s\n", (int)(n < 80 ? n : 80),
                answer);
        abort();
    }
    free(seen);
    return 0;
}
