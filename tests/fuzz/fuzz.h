/*
 * fuzz.h -- what every libFuzzer target of tests/fuzz/ shares.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize); it is built with clang -fsanitize=fuzzer,address,
 * undefined against the core objects compiled by clang with the same
 * sanitizers (make fuzz-build, BUILD=build/fuzz). tests/fuzz/run.sh runs
 * each target over its committed seeds (corpus/NAME/), its regression
 * inputs (regress/NAME/, every crash found so far) and then for a bounded
 * time.
 *
 * Threads: libFuzzer calls the target on one thread; the helpers here keep
 * static state and are not reentrant.
 */
#ifndef JW_FUZZ_H
#define JW_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * cnats's own constructor of a received message (exported by libnats.so,
 * declared in its private msg.h): `buf` is the header block followed by the
 * payload, `hdrLen` the header block's length. A message built this way
 * has its headers parsed lazily by cnats on the first natsMsgHeader_*()
 * call, exactly as a message read off the wire, so the wire-format header
 * parser is fuzzed along with ours.
 */
natsStatus natsMsg_create(natsMsg **newMsg, const char *subject, int subjLen, const char *reply,
                          int replyLen, const char *buf, int bufLen, int hdrLen);

/* A NUL-terminated copy of the input (free() it). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Split the input at the first occurrence of `sep` (a byte): the part
 * before in *a (a NUL-terminated copy), the rest in *b (NULL when absent).
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, uint8_t sep, char **a, size_t *alen, char **b,
           size_t *blen)
{
    const uint8_t *p = memchr(data, sep, size);
    size_t n = p ? (size_t)(p - data) : size;
    *a = fuzz_str(data, n);
    *alen = n;
    if (p) {
        *b = fuzz_str(p + 1, size - n - 1);
        *blen = size - n - 1;
    } else {
        *b = NULL;
        *blen = 0;
    }
}

/*
 * A private scratch directory for targets that read files (made once per
 * process, under $JW_FUZZ_TMP, else on tmpfs when there is one: /dev/shm,
 * else $TMPDIR or /tmp).
 */
static inline const char *
fuzz_tmpdir(void)
{
    static char dir[256];
    if (dir[0])
        return dir;
    const char *base = getenv("JW_FUZZ_TMP"); /* tests/fuzz/run.sh: removed after the run */
    if (base == NULL)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/jw-fuzz.XXXXXX", base ? base : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("fuzz: mkdtemp");
        abort();
    }
    return dir;
}

/* Write len bytes to path (replacing it). */
static inline void
fuzz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror(path);
            abort();
        }
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

/*
 * A received message from fuzz input: `hdr` (the wire header block,
 * "NATS/1.0\r\nKey: value\r\n\r\n" when well formed, may be empty) and
 * `payload`, as cnats builds it off the wire. NULL when cnats refuses.
 */
static inline natsMsg *
fuzz_msg(const char *subject, const char *reply, const char *hdr, size_t hlen, const char *payload,
         size_t plen)
{
    if (hlen + plen > 1 << 20)
        return NULL;
    /* natsMsg_Create does this itself; natsMsg_Destroy needs the library
     * (its garbage collector's lock) initialised. Idempotent. */
    static int opened;
    if (!opened && nats_Open(-1) != NATS_OK)
        abort();
    opened = 1;
    char *buf = malloc(hlen + plen + 1);
    if (buf == NULL)
        abort();
    memcpy(buf, hdr, hlen);
    memcpy(buf + hlen, payload, plen);
    natsMsg *m = NULL;
    if (natsMsg_create(&m, subject, (int)strlen(subject), reply, reply ? (int)strlen(reply) : 0,
                       buf, (int)(hlen + plen), (int)hlen) != NATS_OK)
        m = NULL;
    free(buf);
    return m;
}

#endif /* JW_FUZZ_H */
