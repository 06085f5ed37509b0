/*
 * plugin_loader.c -- see plugin_loader.h. Loading a plugin: the path and
 * permission checks, the copy into a sealed memfd (hashed on the way),
 * dlopen of that memfd, and the checks of the descriptor the plugin returns.
 *
 * Unlike a plain "dlopen then close", the memfd stays open while its object
 * is mapped (see memfd_keep): the object is named /proc/self/fd/N, and
 * without the descriptor the sanitizers cannot symbolize plugin frames, and
 * a later load could reuse N and be handed the old object by glibc.
 */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


/* A plugin larger than this is refused rather than copied into memory. */
#define PLUGIN_MAX_BYTES (256L * 1024 * 1024)
#define PLUGIN_NAME_MAX  64
/* How many other fd numbers to try when a /proc/self/fd/N name is taken. */
#define FD_NAME_TRIES 64

/*
 * The memfd of every loaded object stays open while the object is mapped:
 * glibc names the object "/proc/self/fd/N", and whoever reads the object
 * by that name (the sanitizers' and gdb's symbolizers, dladdr users) must
 * find it there, not a closed or reused descriptor. Closed after dlclose;
 * kept when JW_NO_DLCLOSE leaves the object mapped. Guarded by memfds_mu;
 * only load and unload touch it.
 */
typedef struct memfd_ref {
    void *dl;
    int fd;
    struct memfd_ref *next;
} memfd_ref;

static pthread_mutex_t memfds_mu = PTHREAD_MUTEX_INITIALIZER;
static memfd_ref *memfds;

static int
memfd_keep(void *dl, int fd)
{
    memfd_ref *r = malloc(sizeof(*r));
    if (!r)
        return -1;
    r->dl = dl;
    r->fd = fd;
    pthread_mutex_lock(&memfds_mu);
    r->next = memfds;
    memfds = r;
    pthread_mutex_unlock(&memfds_mu);
    return 0;
}

/* Forget dl's memfd and return it, or -1. */
static int
memfd_take(void *dl)
{
    int fd = -1;
    pthread_mutex_lock(&memfds_mu);
    for (memfd_ref **p = &memfds; *p; p = &(*p)->next) {
        if ((*p)->dl == dl) {
            memfd_ref *r = *p;
            *p = r->next;
            fd = r->fd;
            free(r);
            break;
        }
    }
    pthread_mutex_unlock(&memfds_mu);
    return fd;
}

/* Format "plugin 'file': <what>" into err; always returns -1. */
static int JW_PRINTF(4, 5) fail(char *err, size_t errlen, const char *file, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "plugin '%s': %s", file ? file : "(null)", what);
    return -1;
}

/* A plain file name: no '/', not "." or "..", not empty, not too long. */
static int
check_file_name(const char *file, char *err, size_t errlen)
{
    if (!file || !*file || strchr(file, '/') || strcmp(file, ".") == 0 || strcmp(file, "..") == 0 ||
        strlen(file) > NAME_MAX)
        return fail(err, errlen, file,
                    "refused: must be a plain file name inside the plugin directory "
                    "(no '/' or '..')");
    return 0;
}

static const char *
writable_by(mode_t mode)
{
    if (mode & S_IWOTH)
        return "world-writable";
    if (mode & S_IWGRP)
        return "group-writable";
    return NULL;
}

/*
 * The plugin directory (already open as dirfd, path dir_real resolved) must
 * be a directory owned by root or us and writable by nobody else, sticky or
 * not: anyone who can write there can swap a plugin. Its parents may be
 * group/world-writable only if sticky (/tmp), since then nobody else can
 * rename our directory away.
 */
static int
check_dirs(int dirfd, const char *dir_real, const char *file, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(dirfd, &st) != 0)
        return fail(err, errlen, file, "cannot stat plugin directory '%s': %s", dir_real,
                    strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(err, errlen, file, "refused: plugin directory '%s' is not a directory",
                    dir_real);
    const char *w = writable_by(st.st_mode);
    if (w)
        return fail(err, errlen, file, "refused: plugin directory '%s' is %s (mode %04o)", dir_real,
                    w, (unsigned)(st.st_mode & 07777));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return fail(err, errlen, file,
                    "refused: plugin directory '%s' is owned by uid %u, not root or uid %u",
                    dir_real, (unsigned)st.st_uid, (unsigned)geteuid());

    char *p = strdup(dir_real);
    if (!p)
        return fail(err, errlen, file, "out of memory");
    int rc = 0;
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || (slash == p && p[1] == '\0'))
            break; /* "/" was the last one checked */
        if (slash == p)
            slash[1] = '\0'; /* parent is "/" */
        else
            *slash = '\0';
        if (stat(p, &st) != 0) {
            rc = fail(err, errlen, file, "cannot stat directory '%s': %s", p, strerror(errno));
            break;
        }
        w = writable_by(st.st_mode);
        if (w && !(st.st_mode & S_ISVTX)) {
            rc = fail(err, errlen, file,
                      "refused: parent directory '%s' of the plugin directory is %s and not "
                      "sticky (mode %04o)",
                      p, w, (unsigned)(st.st_mode & 07777));
            break;
        }
    }
    free(p);
    return rc;
}

/*
 * Steps 1 and 2 of the header: resolve and check plugin_dir/file and open
 * it. Returns the open fd of a checked regular file and its realpath in
 * *real_out (malloc'ed), or -1 with err set.
 */
static int
open_checked(const char *plugin_dir, const char *file, char **real_out, char *err, size_t errlen)
{
    if (check_file_name(file, err, errlen) != 0)
        return -1;
    if (!plugin_dir || !*plugin_dir)
        return fail(err, errlen, file, "no plugin directory configured");

    char *dir_real = realpath(plugin_dir, NULL);
    if (!dir_real)
        return fail(err, errlen, file, "cannot resolve plugin directory '%s': %s", plugin_dir,
                    strerror(errno));
    int fd = -1;
    char *full = NULL, *real = NULL;
    int dirfd = open(dir_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fail(err, errlen, file, "cannot open plugin directory '%s': %s", dir_real, strerror(errno));
        goto out;
    }
    if (check_dirs(dirfd, dir_real, file, err, errlen) != 0)
        goto out;

    const char *sep = strcmp(dir_real, "/") == 0 ? "" : "/";
    if (asprintf(&full, "%s%s%s", dir_real, sep, file) < 0) {
        full = NULL;
        fail(err, errlen, file, "out of memory");
        goto out;
    }
    real = realpath(full, NULL);
    if (!real) {
        int e = errno;
        struct stat lst;
        if (lstat(full, &lst) == 0 && S_ISLNK(lst.st_mode))
            fail(err, errlen, file, "refused: is a symbolic link (dangling)");
        else
            fail(err, errlen, file, "cannot open '%s': %s", full, strerror(e));
        goto out;
    }
    size_t dl = strlen(dir_real);
    int inside = strncmp(real, dir_real, dl) == 0 && (real[dl] == '/' || dl == 1);
    if (!inside) {
        fail(err, errlen, file, "refused: resolves to '%s', outside the plugin directory '%s'",
             real, dir_real);
        goto out;
    }
    /* Relative to the checked directory fd and without following a final
     * symlink: what we open is the entry we checked, not a racing rename. */
    fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            fail(err, errlen, file, "refused: is a symbolic link");
        else
            fail(err, errlen, file, "cannot open '%s': %s", full, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fail(err, errlen, file, "cannot stat '%s': %s", full, strerror(errno));
        goto fail_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, errlen, file, "refused: not a regular file");
        goto fail_fd;
    }
    /* A hard link is the file itself wherever its other names are: one
     * outside plugins.dir (in a writable place, or owned by someone else's
     * deployment) would pass every check made here through this name. */
    if (st.st_nlink > 1) {
        fail(err, errlen, file,
             "refused: file has %lu hard links (a link to a file outside the plugin "
             "directory cannot be told apart; copy the file in instead)",
             (unsigned long)st.st_nlink);
        goto fail_fd;
    }
    const char *w = writable_by(st.st_mode);
    if (w) {
        fail(err, errlen, file, "refused: file is %s (mode %04o)", w,
             (unsigned)(st.st_mode & 07777));
        goto fail_fd;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        fail(err, errlen, file, "refused: file is owned by uid %u, not root or uid %u",
             (unsigned)st.st_uid, (unsigned)geteuid());
        goto fail_fd;
    }
    if (st.st_size > PLUGIN_MAX_BYTES) {
        fail(err, errlen, file, "refused: file is larger than %ld bytes", PLUGIN_MAX_BYTES);
        goto fail_fd;
    }
    *real_out = real;
    real = NULL;
    goto out;
fail_fd:
    close(fd);
    fd = -1;
out:
    if (dirfd >= 0)
        close(dirfd);
    free(dir_real);
    free(full);
    free(real);
    return fd;
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read fd to its end, hashing the bytes and copying them to `to` (or not,
 * when to < 0). 0, or -1 with err set. */
static int
copy_and_hash(int fd, int to, const char *file, char hex[65], char *err, size_t errlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return fail(err, errlen, file, "cannot initialise SHA-256");
    }
    static const size_t bufsz = 64 * 1024;
    unsigned char *buf = malloc(bufsz);
    int rc = -1;
    long total = 0;
    if (!buf) {
        fail(err, errlen, file, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, bufsz);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fail(err, errlen, file, "read failed: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        total += r;
        if (total > PLUGIN_MAX_BYTES) {
            fail(err, errlen, file, "refused: file is larger than %ld bytes", PLUGIN_MAX_BYTES);
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)r);
        if (to >= 0 && write_all(to, buf, (size_t)r) != 0) {
            fail(err, errlen, file, "cannot copy into memory: %s", strerror(errno));
            goto out;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != 32) {
        fail(err, errlen, file, "SHA-256 failed");
        goto out;
    }
    for (unsigned i = 0; i < dlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    rc = 0;
out:
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

/*
 * glibc looks a dlopen() name up among the loaded objects by its text
 * before it opens anything, so "/proc/self/fd/N" would return an older
 * plugin still loaded under that name (an object that outlived its memfd,
 * e.g. one marked NODELETE). Probe with RTLD_NOLOAD and move to another fd
 * number until the name is free. The dups are closed by the caller.
 */
static int
free_fd_name(int memfd, char path[64], int dups[FD_NAME_TRIES], int *ndups)
{
    int fd = memfd;
    *ndups = 0;
    for (;;) {
        snprintf(path, 64, "/proc/self/fd/%d", fd);
        void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
        if (!h) {
            (void)dlerror(); /* the probe's "not loaded" is not an error */
            return 0;
        }
        dlclose(h);
        if (*ndups == FD_NAME_TRIES)
            return -1;
        fd = fcntl(memfd, F_DUPFD_CLOEXEC, fd + 1);
        if (fd < 0)
            return -1;
        dups[(*ndups)++] = fd;
    }
}

/* dlerror() text without the meaningless "/proc/self/fd/N: " prefix. */
static const char *
dl_reason(const char *e, const char *path)
{
    if (!e)
        return "unknown dlopen error";
    size_t pl = strlen(path);
    if (strncmp(e, path, pl) == 0 && e[pl] == ':' && e[pl + 1] == ' ')
        return e + pl + 2;
    return e;
}

/* Step 3: copy fd into a sealed memfd and dlopen it. The memfd the object
 * is named after is registered with memfd_keep. */
static void *
dlopen_copy(int fd, const char *file, char hex[65], char *err, size_t errlen)
{
    int named = -1;
    char mname[64];
    snprintf(mname, sizeof(mname), "jw-plugin:%.50s", file);
    int memfd = memfd_create(mname, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0) {
        fail(err, errlen, file, "memfd_create failed: %s", strerror(errno));
        return NULL;
    }
    void *h = NULL;
    int dups[FD_NAME_TRIES], ndups = 0;
    if (copy_and_hash(fd, memfd, file, hex, err, errlen) != 0)
        goto out;
    /* Sealed, the bytes that were hashed are the bytes that get mapped. */
    if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        fail(err, errlen, file, "cannot seal the in-memory copy: %s", strerror(errno));
        goto out;
    }
    char path[64];
    if (free_fd_name(memfd, path, dups, &ndups) != 0) {
        fail(err, errlen, file, "no free /proc/self/fd name to load from");
        goto out;
    }
    (void)dlerror();
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) {
        named = ndups ? dups[ndups - 1] : memfd;
        if (memfd_keep(h, named) != 0) {
            dlclose(h);
            h = NULL;
            named = -1;
            fail(err, errlen, file, "out of memory");
        }
    } else {
        const char *why = dl_reason(dlerror(), path);
        if (strstr(why, "ELF") || strstr(why, "file too short"))
            fail(err, errlen, file, "refused: not a shared object: %s", why);
        else
            fail(err, errlen, file, "refused: cannot be loaded: %s", why);
    }
out:
    for (int i = 0; i < ndups; i++) {
        if (dups[i] != named)
            close(dups[i]);
    }
    if (memfd != named)
        close(memfd);
    return h;
}

static int
valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > PLUGIN_NAME_MAX)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    }
    return 1;
}

size_t
plugin_desc_min_size(unsigned abi_minor)
{
    if (abi_minor == 0)
        return PLUGIN_DESC_SIZE_1_0;
    return offsetof(jw_plugin, handle_batch) + sizeof(((jw_plugin *)0)->handle_batch);
}

/* Step 4: the descriptor's stamp, then its contents, one message each. */
static int
check_desc(const jw_plugin *d, const char *file, char *err, size_t errlen)
{
    if (d->magic != JW_PLUGIN_MAGIC)
        return fail(err, errlen, file,
                    "refused: bad descriptor magic 0x%08x (expected 0x%08x): not a jetway "
                    "plugin",
                    (unsigned)d->magic, (unsigned)JW_PLUGIN_MAGIC);
    if (d->abi_major != JW_ABI_MAJOR)
        return fail(err, errlen, file, "refused: ABI major %u, host supports %u",
                    (unsigned)d->abi_major, (unsigned)JW_ABI_MAJOR);
    if (d->abi_minor > JW_ABI_MINOR)
        return fail(err, errlen, file, "refused: ABI %u.%u is newer than the host's %u.%u",
                    (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)JW_ABI_MAJOR,
                    (unsigned)JW_ABI_MINOR);
    /* A descriptor is as long as its minor says: a 1.0 plugin's ends after
     * reserved[], a 1.1 plugin's after handle_batch. Shorter than its own
     * minor promises is a broken build; longer is harmless (members of a
     * minor newer than the host's are refused above, so never read). */
    size_t need = plugin_desc_min_size(d->abi_minor);
    if (d->struct_size < need)
        return fail(err, errlen, file,
                    "refused: descriptor struct_size %u is smaller than %zu (ABI %u.%u)",
                    (unsigned)d->struct_size, need, (unsigned)d->abi_major, (unsigned)d->abi_minor);
    if (!d->build_sig || strcmp(d->build_sig, JW_BUILD_SIG) != 0)
        return fail(err, errlen, file,
                    "refused: build signature '%s' differs from the host's '%s' (not binary "
                    "compatible)",
                    d->build_sig ? d->build_sig : "(null)", JW_BUILD_SIG);
    if (!valid_name(d->name))
        return fail(err, errlen, file,
                    "refused: plugin name '%.80s' is invalid (want [a-z0-9_]+, at most %d)",
                    d->name ? d->name : "(null)", PLUGIN_NAME_MAX);
    if (!d->init)
        return fail(err, errlen, file, "refused: descriptor has no init callback");
    if (!d->handle)
        return fail(err, errlen, file, "refused: descriptor has no handle callback");
    if (!d->fini)
        return fail(err, errlen, file, "refused: descriptor has no fini callback");
    for (size_t i = 0; i < sizeof(d->reserved) / sizeof(d->reserved[0]); i++) {
        if (d->reserved[i])
            return fail(err, errlen, file, "refused: descriptor reserved[%zu] is not NULL", i);
    }
    char msg[512];
    if (plugin_options_check_schema(d->options, msg, sizeof(msg)) != 0)
        return fail(err, errlen, file, "refused: bad option schema: %s", msg);
    return 0;
}

/* The query must come from the plugin itself, not from a library it links. */
static int
defined_by(void *h, void *sym)
{
    struct link_map *own = NULL, *where = NULL;
    Dl_info info;
    if (dlinfo(h, RTLD_DI_LINKMAP, &own) != 0)
        return 0;
    if (!dladdr1(sym, &info, (void **)&where, RTLD_DL_LINKMAP))
        return 0;
    return own == where;
}

int
plugin_module_load(const char *plugin_dir, const char *file, plugin_module **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    char *real = NULL;
    int fd = open_checked(plugin_dir, file, &real, err, errlen);
    if (fd < 0)
        return -1;
    plugin_module *m = calloc(1, sizeof(*m));
    if (!m || !(m->file = strdup(file))) {
        fail(err, errlen, file, "out of memory");
        goto fail;
    }
    m->path = real;
    real = NULL;
    m->dl = dlopen_copy(fd, file, m->sha256, err, errlen);
    close(fd);
    fd = -1;
    if (!m->dl)
        goto fail;

    (void)dlerror();
    void *sym = dlsym(m->dl, JW_PLUGIN_QUERY_SYMBOL);
    if (!sym || !defined_by(m->dl, sym)) {
        fail(err, errlen, file, "refused: does not export %s", JW_PLUGIN_QUERY_SYMBOL);
        goto fail;
    }
    jw_plugin_query_fn query;
    /* POSIX guarantees a function pointer round-trips through void *. */
    memcpy(&query, &sym, sizeof(query));
    const jw_plugin *d = query(JW_ABI_MAJOR, JW_ABI_MINOR);
    if (!d) {
        fail(err, errlen, file, "refused: plugin declined host ABI %u.%u", (unsigned)JW_ABI_MAJOR,
             (unsigned)JW_ABI_MINOR);
        goto fail;
    }
    if (check_desc(d, file, err, errlen) != 0)
        goto fail;
    m->desc = d;
    /* Read a member newer than 1.0 only where the descriptor has it: a 1.0
     * plugin's descriptor ends at reserved[], and what follows it in the
     * plugin's memory is something else. */
    if (d->struct_size >= plugin_desc_min_size(1))
        m->handle_batch = d->handle_batch;
    *out = m;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(real);
    plugin_module_unload(m);
    return -1;
}

void
plugin_module_unload(plugin_module *m)
{
    if (!m)
        return;
    if (m->dl && !getenv("JW_NO_DLCLOSE")) {
        int fd = memfd_take(m->dl);
        dlclose(m->dl);
        /* Still mapped (NODELETE)? Then it still needs its name. */
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        void *still = fd >= 0 ? dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD) : NULL;
        if (still) {
            dlclose(still);
            memfd_keep(still, fd);
        } else {
            (void)dlerror();
            if (fd >= 0)
                close(fd);
        }
    }
    free(m->path);
    free(m->file);
    free(m);
}

int
plugin_file_digest(const char *plugin_dir, const char *file, char hex[65], char *err, size_t errlen)
{
    char *real = NULL;
    int fd = open_checked(plugin_dir, file, &real, err, errlen);
    if (fd < 0)
        return -1;
    free(real);
    int rc = copy_and_hash(fd, -1, file, hex, err, errlen);
    close(fd);
    return rc;
}
