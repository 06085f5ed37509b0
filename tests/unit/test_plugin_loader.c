/*
 * test_plugin_loader.c -- the plugin loader against the real fixture
 * plugins ($JETWAY_BUILD/tests/plugins/NAME.so, JETWAY_BUILD defaults to
 * "build"), copied into a fresh private directory under /tmp per test; and
 * option validation on cfgnode trees built by hand.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>

#include "plugin/plugin.h"

/* Per test: root is a mkdtemp() directory (0700), dir = root/plugins. */
static char root[64];
static char dir[PATH_MAX];

static void
fixture_path(const char *name, char *out, size_t len)
{
    const char *b = getenv("JETWAY_BUILD");
    snprintf(out, len, "%s/tests/plugins/%s.so", b && *b ? b : "build", name);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    /* rename: a new inode at the same path, as an install would do */
    assert_int_equal(rename(tmp, path), 0);
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run `make` first, or set JETWAY_BUILD)", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Copy fixture `name` into the plugin directory as `as` with `mode`. */
static void
install_in(const char *where, const char *name, const char *as, mode_t mode)
{
    char src[PATH_MAX], dst[PATH_MAX * 2];
    fixture_path(name, src, sizeof(src));
    snprintf(dst, sizeof(dst), "%s/%s", where, as);
    size_t len;
    char *data = read_all(src, &len);
    write_file(dst, data, len, mode);
    free(data);
}

static void
install(const char *name, const char *as)
{
    install_in(dir, name, as, 0644);
}

static void
sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    assert_int_equal(EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL), 1);
    assert_int_equal(dl, 32);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void
assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/jw-test-loader.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(dir, sizeof(dir), "%s/plugins", root);
    if (mkdir(dir, 0755) != 0 || chmod(dir, 0755) != 0)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Load `file` from dir expecting refusal; return the message. */
static const char *
refused(const char *file)
{
    static char err[1024];
    plugin_module *m = (plugin_module *)1;
    err[0] = '\0';
    int rc = plugin_module_load(dir, file, &m, err, sizeof(err));
    if (rc != -1)
        fail_msg("loading %s: expected a refusal, got rc %d", file, rc);
    assert_null(m);
    char head[300];
    snprintf(head, sizeof(head), "plugin '%s': ", file);
    assert_contains(err, head);
    return err;
}

static plugin_module *
loaded(const char *file)
{
    char err[1024] = "";
    plugin_module *m = NULL;
    if (plugin_module_load(dir, file, &m, err, sizeof(err)) != 0)
        fail_msg("loading %s failed: %s", file, err);
    assert_non_null(m);
    assert_non_null(m->desc);
    assert_non_null(m->dl);
    return m;
}

/* ---- loading -------------------------------------------------------- */

static void
test_good_load(void **state)
{
    (void)state;
    install("ack", "ack.so");
    plugin_module *m = loaded("ack.so");
    assert_string_equal(m->desc->name, "ack");
    assert_string_equal(m->desc->version, "1");
    assert_string_equal(m->file, "ack.so");
    char want_path[PATH_MAX * 2], *real_dir = realpath(dir, NULL);
    snprintf(want_path, sizeof(want_path), "%s/ack.so", real_dir);
    free(real_dir);
    assert_string_equal(m->path, want_path);

    char src[PATH_MAX], hex[65], dig[65], err[512];
    fixture_path("ack", src, sizeof(src));
    size_t len;
    char *data = read_all(src, &len);
    sha256_hex(data, len, hex);
    free(data);
    assert_string_equal(m->sha256, hex);
    assert_int_equal(plugin_file_digest(dir, "ack.so", dig, err, sizeof(err)), 0);
    assert_string_equal(dig, hex);

    /* The descriptor works: init, handle, fini (no host services used). */
    void *ctx = NULL;
    assert_int_equal(m->desc->init(NULL, NULL, "{}", &ctx, err, sizeof(err)), 0);
    jw_msg msg = {.struct_size = sizeof(jw_msg)};
    jw_result res = {.verdict = JW_REJECT, .delay_ms = -1};
    m->desc->handle(ctx, &msg, &res);
    assert_int_equal(res.verdict, JW_ACK);
    m->desc->fini(ctx);
    plugin_module_unload(m);
}

static void
test_descriptor_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *fixture;
        const char *want;
    } cases[] = {
        {"bad_magic", "refused: bad descriptor magic 0xdeadbeef (expected 0x4a573031)"},
        {"abi_major2", "refused: ABI major 2, host supports 1"},
        {"abi_minor99", "refused: ABI 1.99 is newer than the host's 1.1"},
        {"no_symbol", "refused: does not export jw_plugin_query"},
        {"short_struct", "refused: descriptor struct_size"},
        {"bad_sig", "refused: build signature 'p4.z4.l4.o4321' differs from the host's"},
        {"reserved_set", "refused: descriptor reserved[0] is not NULL"},
        {"declines", "refused: plugin declined host ABI 1.1"},
        {"missing_handle", "refused: descriptor has no handle callback"},
        {"bad_name", "refused: plugin name 'Bad-Name' is invalid"},
        {"bad_options",
         "refused: bad option schema: option 'count': expected an integer, got \"many\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char file[64];
        snprintf(file, sizeof(file), "%s.so", cases[i].fixture);
        install(cases[i].fixture, file);
        assert_contains(refused(file), cases[i].want);
    }
    /* short_struct (a 1.1 stamp) names both sizes: it must reach handle_batch */
    char want[64];
    snprintf(want, sizeof(want), "%zu is smaller than %zu (ABI 1.1)", offsetof(jw_plugin, reserved),
             sizeof(jw_plugin));
    assert_contains(refused("short_struct.so"), want);
}

/*
 * ABI 1.0 and 1.1 side by side: record10.so was compiled against the frozen
 * 1.0 header (its descriptor ends at reserved[], abi_minor 0), record.so
 * against 1.1 without handle_batch, record_batch.so with it. All three load
 * into one process; the module exposes handle_batch only for the last.
 */
static void
test_abi10_and_11_side_by_side(void **state)
{
    (void)state;
    install("record10", "record10.so");
    install("record", "record.so");
    install("record_batch", "record_batch.so");
    plugin_module *m10 = loaded("record10.so");
    plugin_module *m11 = loaded("record.so");
    plugin_module *mb = loaded("record_batch.so");
    assert_int_equal(m10->desc->abi_minor, 0);
    assert_int_equal(m10->desc->struct_size, PLUGIN_DESC_SIZE_1_0);
    assert_true(PLUGIN_DESC_SIZE_1_0 < sizeof(jw_plugin));
    assert_string_equal(m10->desc->name, "record10");
    assert_null(m10->handle_batch);
    assert_int_equal(m11->desc->abi_minor, 1);
    assert_int_equal(m11->desc->struct_size, sizeof(jw_plugin));
    assert_null(m11->handle_batch);
    assert_int_equal(mb->desc->abi_minor, 1);
    assert_non_null(mb->handle_batch);
    assert_ptr_equal(mb->handle_batch, mb->desc->handle_batch);
    plugin_module_unload(m10);
    plugin_module_unload(m11);
    plugin_module_unload(mb);
}

/* The least size follows the plugin's own minor. */
static void
test_desc_min_size(void **state)
{
    (void)state;
    assert_int_equal(plugin_desc_min_size(0), offsetof(jw_plugin, reserved) + 8 * sizeof(void *));
    assert_int_equal(plugin_desc_min_size(1), sizeof(jw_plugin));
    assert_int_equal(plugin_desc_min_size(JW_ABI_MINOR), sizeof(jw_plugin));
}

static void
test_not_elf(void **state)
{
    (void)state;
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/text.so", dir);
    static const char text[] = "This is a text file with a .so name, certainly no ELF object.\n"
                               "It is long enough to hold an ELF header, so the magic is read.\n";
    write_file(path, text, sizeof(text) - 1, 0644);
    const char *err = refused("text.so");
    assert_contains(err, "refused: not a shared object: ");
    assert_contains(err, "invalid ELF header");
    /* the meaningless /proc/self/fd/N prefix of dlerror() is gone */
    assert_null(strstr(err, "/proc/self/fd"));
}

static void
test_init_fails(void **state)
{
    (void)state;
    install("init_fails", "init_fails.so");
    plugin_module *m = loaded("init_fails.so");
    char err[256] = "";
    void *ctx = (void *)1;
    assert_int_equal(m->desc->init(NULL, NULL, "{}", &ctx, err, sizeof(err)), -1);
    assert_string_equal(err, "init refused by test");
    plugin_module_unload(m);
}

/* Every load is its own object, and what is on disk now is what loads. */
static void
test_memfd_distinct_loads(void **state)
{
    (void)state;
    install("ack", "p.so");
    plugin_module *m1 = loaded("p.so");
    plugin_module *m2 = loaded("p.so");
    assert_ptr_not_equal(m1->dl, m2->dl);
    assert_ptr_not_equal(m1->desc, m2->desc);
    assert_string_equal(m1->sha256, m2->sha256);

    install("ack_v2", "p.so"); /* "rebuilt" at the same path */
    plugin_module *m3 = loaded("p.so");
    assert_string_equal(m3->desc->version, "2");
    assert_string_not_equal(m3->sha256, m1->sha256);
    assert_ptr_not_equal(m3->dl, m1->dl);
    assert_ptr_not_equal(m3->dl, m2->dl);
    /* the old generation is untouched and still runs */
    assert_string_equal(m1->desc->version, "1");
    char err[128];
    void *ctx = NULL;
    assert_int_equal(m1->desc->init(NULL, NULL, "{}", &ctx, err, sizeof(err)), 0);
    jw_result res = {.verdict = JW_RETRY};
    jw_msg msg = {.struct_size = sizeof(jw_msg)};
    m1->desc->handle(ctx, &msg, &res);
    assert_int_equal(res.verdict, JW_ACK);
    m1->desc->fini(ctx);

    char dig[65];
    assert_int_equal(plugin_file_digest(dir, "p.so", dig, err, sizeof(err)), 0);
    assert_string_equal(dig, m3->sha256);
    plugin_module_unload(m1);
    plugin_module_unload(m2);
    plugin_module_unload(m3);
}

/* Unload, rebuild, load: with and without dlclose (JW_NO_DLCLOSE keeps the
 * old object mapped under its /proc/self/fd name; it must not be reused). */
static void
reload_cycle(void)
{
    install("ack", "p.so");
    plugin_module *m = loaded("p.so");
    assert_string_equal(m->desc->version, "1");
    plugin_module_unload(m);
    install("ack_v2", "p.so");
    m = loaded("p.so");
    assert_string_equal(m->desc->version, "2");
    plugin_module_unload(m);
    install("ack", "p.so");
    m = loaded("p.so");
    assert_string_equal(m->desc->version, "1");
    plugin_module_unload(m);
}

static void
test_reload_after_unload(void **state)
{
    (void)state;
    char *saved = getenv("JW_NO_DLCLOSE") ? strdup(getenv("JW_NO_DLCLOSE")) : NULL;
    unsetenv("JW_NO_DLCLOSE");
    reload_cycle();
    setenv("JW_NO_DLCLOSE", "1", 1);
    reload_cycle();
    if (saved)
        setenv("JW_NO_DLCLOSE", saved, 1);
    else
        unsetenv("JW_NO_DLCLOSE");
    free(saved);
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* glibc names the object /proc/self/fd/N: that must stay its memfd while
 * it is mapped (symbolizers read it), and be released by unload. */
static void
test_memfd_name_and_fds(void **state)
{
    (void)state;
    char *saved = getenv("JW_NO_DLCLOSE") ? strdup(getenv("JW_NO_DLCLOSE")) : NULL;
    unsetenv("JW_NO_DLCLOSE");
    install("ack", "p.so");
    int before = count_fds();
    plugin_module *m = loaded("p.so");
    assert_int_equal(count_fds(), before + 1);
    struct link_map *lm = NULL;
    assert_int_equal(dlinfo(m->dl, RTLD_DI_LINKMAP, &lm), 0);
    assert_int_equal(strncmp(lm->l_name, "/proc/self/fd/", 14), 0);
    char target[PATH_MAX];
    ssize_t n = readlink(lm->l_name, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_contains(target, "memfd:jw-plugin:p.so");
    plugin_module_unload(m);
    assert_int_equal(count_fds(), before);

    setenv("JW_NO_DLCLOSE", "1", 1);
    m = loaded("p.so");
    plugin_module_unload(m);
    assert_int_equal(count_fds(), before + 1); /* still mapped, still named */
    if (saved)
        setenv("JW_NO_DLCLOSE", saved, 1);
    else
        unsetenv("JW_NO_DLCLOSE");
    free(saved);
}

static void
test_writable_file(void **state)
{
    (void)state;
    char err[512], dig[65];
    install_in(dir, "ack", "g.so", 0664);
    assert_contains(refused("g.so"), "refused: file is group-writable (mode 0664)");
    assert_int_equal(plugin_file_digest(dir, "g.so", dig, err, sizeof(err)), -1);
    assert_contains(err, "plugin 'g.so': refused: file is group-writable (mode 0664)");
    install_in(dir, "ack", "w.so", 0646);
    assert_contains(refused("w.so"), "refused: file is world-writable (mode 0646)");
}

static void
test_writable_dir(void **state)
{
    (void)state;
    install("ack", "ack.so");
    char *real_dir = realpath(dir, NULL);
    char want[PATH_MAX + 128];
    static const struct {
        mode_t mode;
        const char *what;
    } cases[] = {
        {0777, "world-writable (mode 0777)"},
        {0775, "group-writable (mode 0775)"},
        {01777, "world-writable (mode 1777)"}, /* sticky is no excuse for the dir itself */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(chmod(dir, cases[i].mode), 0);
        snprintf(want, sizeof(want), "refused: plugin directory '%s' is %s", real_dir,
                 cases[i].what);
        assert_contains(refused("ack.so"), want);
    }
    assert_int_equal(chmod(dir, 0755), 0);
    plugin_module_unload(loaded("ack.so"));

    /* a parent: refused unless sticky */
    char *real_root = realpath(root, NULL);
    assert_int_equal(chmod(root, 0777), 0);
    snprintf(want, sizeof(want),
             "refused: parent directory '%s' of the plugin directory is world-writable and "
             "not sticky (mode 0777)",
             real_root);
    assert_contains(refused("ack.so"), want);
    assert_int_equal(chmod(root, 01777), 0);
    plugin_module_unload(loaded("ack.so"));
    assert_int_equal(chmod(root, 0700), 0);
    free(real_root);
    free(real_dir);
}

/* A hard link to a file outside plugins.dir passes the realpath check
 * (it IS inside): refused by its link count, as is a second name inside. */
static void
test_hardlinks(void **state)
{
    (void)state;
    char out[PATH_MAX * 2], in[PATH_MAX * 2];
    install_in(root, "ack", "elsewhere.so", 0644);
    snprintf(out, sizeof(out), "%s/elsewhere.so", root);
    snprintf(in, sizeof(in), "%s/hl.so", dir);
    assert_int_equal(link(out, in), 0);
    assert_contains(refused("hl.so"), "refused: file has 2 hard links");
    /* the same file with its other name gone loads */
    assert_int_equal(unlink(out), 0);
    plugin_module *m = loaded("hl.so");
    plugin_module_unload(m);
}

static void
test_symlinks(void **state)
{
    (void)state;
    char link[PATH_MAX * 2], target[PATH_MAX * 2];
    install("ack", "ack.so");

    /* inside, pointing inside: O_NOFOLLOW */
    snprintf(link, sizeof(link), "%s/in.so", dir);
    assert_int_equal(symlink("ack.so", link), 0);
    assert_contains(refused("in.so"), "refused: is a symbolic link");

    /* inside, pointing outside: the realpath check */
    install_in(root, "ack", "outside.so", 0644);
    snprintf(link, sizeof(link), "%s/out.so", dir);
    assert_int_equal(symlink("../outside.so", link), 0);
    const char *err = refused("out.so");
    assert_contains(err, "outside the plugin directory");
    char *real_target = realpath(root, NULL);
    snprintf(target, sizeof(target), "resolves to '%s/outside.so'", real_target);
    free(real_target);
    assert_contains(err, target);

    /* dangling */
    snprintf(link, sizeof(link), "%s/dangling.so", dir);
    assert_int_equal(symlink("nowhere.so", link), 0);
    assert_contains(refused("dangling.so"), "refused: is a symbolic link (dangling)");

    /* the plugin directory itself may be reached through a symlink */
    char dlink[PATH_MAX * 2], err2[512];
    snprintf(dlink, sizeof(dlink), "%s/plugins-link", root);
    assert_int_equal(symlink("plugins", dlink), 0);
    plugin_module *m = NULL;
    assert_int_equal(plugin_module_load(dlink, "ack.so", &m, err2, sizeof(err2)), 0);
    assert_non_null(strstr(m->path, "/plugins/ack.so"));
    plugin_module_unload(m);
}

static void
test_bad_names_and_files(void **state)
{
    (void)state;
    install("ack", "ack.so");
    static const char *const bad[] = {"../plugins/ack.so", "sub/ack.so", "/tmp/ack.so", "..", "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_contains(refused(bad[i]),
                        "refused: must be a plain file name inside the plugin directory");
    assert_contains(refused(""), "must be a plain file name");

    assert_contains(refused("nope.so"), "No such file or directory");

    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/d.so", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_contains(refused("d.so"), "refused: not a regular file");
    snprintf(p, sizeof(p), "%s/fifo.so", dir);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_contains(refused("fifo.so"), "refused: not a regular file");

    char err[512];
    plugin_module *m = (plugin_module *)1;
    assert_int_equal(plugin_module_load("/nonexistent/jw", "ack.so", &m, err, sizeof(err)), -1);
    assert_null(m);
    assert_contains(err, "cannot resolve plugin directory '/nonexistent/jw'");
}

/* ---- options ------------------------------------------------------- */

static cfgnode *
node(cfgnode_type t, int line, int col)
{
    cfgnode *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->type = t;
    n->line = line;
    n->column = col;
    return n;
}

static cfgnode *
scalar(const char *s, int quoted, int line, int col)
{
    cfgnode *n = node(CFGNODE_SCALAR, line, col);
    n->scalar = strdup(s);
    n->quoted = quoted;
    return n;
}

static void
push(cfgnode *parent, const char *key, int kline, int kcol, cfgnode *v)
{
    size_t i = parent->n++;
    parent->items = realloc(parent->items, parent->n * sizeof(*parent->items));
    assert_non_null(parent->items);
    parent->items[i] = v;
    if (parent->type != CFGNODE_MAP)
        return;
    parent->keys = realloc(parent->keys, parent->n * sizeof(*parent->keys));
    parent->key_lines = realloc(parent->key_lines, parent->n * sizeof(int));
    parent->key_columns = realloc(parent->key_columns, parent->n * sizeof(int));
    assert_true(parent->keys && parent->key_lines && parent->key_columns);
    parent->keys[i] = strdup(key);
    parent->key_lines[i] = kline;
    parent->key_columns[i] = kcol;
}

/* key: value on line `line`, key at column 3, value at column 3+len+2. */
static void
put(cfgnode *map, int line, const char *key, cfgnode *v)
{
    v->line = line;
    v->column = 3 + (int)strlen(key) + 2;
    push(map, key, line, 3, v);
}

static int
opt_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
         size_t errlen)
{
    (void)host;
    (void)inst;
    (void)config_json;
    (void)err;
    (void)errlen;
    *ctx = NULL;
    return 0;
}

static void
opt_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    (void)res;
}

static void
opt_fini(void *ctx)
{
    (void)ctx;
}

static const jw_option all_opts[] = {
    {"name", JW_OPT_STRING, NULL, 1, "what to call it"},
    {"count", JW_OPT_INT, "3", 0, NULL},
    {"ratio", JW_OPT_FLOAT, "0.5", 0, NULL},
    {"enabled", JW_OPT_BOOL, "false", 0, NULL},
    {"timeout", JW_OPT_DURATION, "30s", 0, NULL},
    {"limit", JW_OPT_SIZE, "1KiB", 0, NULL},
    {"tags", JW_OPT_LIST, "[]", 0, NULL},
    {"extra", JW_OPT_MAP, NULL, 0, NULL}, /* no default: absent stays absent */
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin opt_desc = {
    JW_PLUGIN_STAMP,  .name = "opts",       .version = "1",   .options = all_opts,
    .init = opt_init, .handle = opt_handle, .fini = opt_fini,
};

static const jw_plugin noopt_desc = {
    JW_PLUGIN_STAMP,  .name = "bare",       .version = "1",
    .init = opt_init, .handle = opt_handle, .fini = opt_fini,
};

#define PFX "plugins.instances[0].config"

static int
to_json(const jw_plugin *d, const cfgnode *cfg, char **json, cfg_errors *errs)
{
    return plugin_options_to_json(d, cfg, "f.yaml", PFX, json, errs);
}

static void
test_options_defaults(void **state)
{
    (void)state;
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "name", scalar("x", 0, 0, 0));
    char *json = NULL;
    cfg_errors errs = {0};
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(json, "{\"name\":\"x\",\"count\":3,\"ratio\":0.5,\"enabled\":false,"
                              "\"timeout\":30000,\"limit\":1024,\"tags\":[]}");
    free(json);
    cfgnode_free(cfg);

    /* `config:` left empty is an empty mapping */
    cfgnode *empty = scalar("", 0, 7, 12);
    assert_int_equal(to_json(&noopt_desc, empty, &json, &errs), 0);
    assert_string_equal(json, "{}");
    free(json);
    assert_int_equal(to_json(&noopt_desc, NULL, &json, &errs), 0);
    assert_string_equal(json, "{}");
    free(json);
    cfgnode_free(empty);
    cfg_errors_free(&errs);
}

static void
test_options_values(void **state)
{
    (void)state;
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "name", scalar("true", 1, 0, 0)); /* a string, whatever it reads like */
    put(cfg, 4, "count", scalar("9223372036854775807", 0, 0, 0));
    put(cfg, 5, "ratio", scalar("1e3", 0, 0, 0));
    put(cfg, 6, "enabled", scalar("True", 0, 0, 0));
    put(cfg, 7, "timeout", scalar("1h30m", 0, 0, 0));
    put(cfg, 8, "limit", scalar("10MB", 0, 0, 0));
    cfgnode *tags = node(CFGNODE_SEQ, 9, 9);
    push(tags, NULL, 0, 0, scalar("1", 0, 10, 7));
    push(tags, NULL, 0, 0, scalar("2", 1, 11, 7));
    push(tags, NULL, 0, 0, scalar("true", 0, 12, 7));
    push(tags, NULL, 0, 0, scalar("x", 0, 13, 7));
    push(tags, NULL, 0, 0, scalar("-1.5", 0, 14, 7));
    push(tags, NULL, 0, 0, scalar("~", 0, 15, 7));
    push(tags, NULL, 0, 0, scalar(".inf", 0, 16, 7));
    cfgnode *inner = node(CFGNODE_MAP, 17, 7);
    push(inner, "a", 17, 7, scalar("1", 0, 17, 10));
    push(tags, NULL, 0, 0, inner);
    put(cfg, 9, "tags", tags);
    cfgnode *extra = node(CFGNODE_MAP, 18, 5);
    push(extra, "k", 19, 5, scalar("v", 0, 19, 8));
    cfgnode *deep = node(CFGNODE_MAP, 20, 5);
    push(deep, "zip", 21, 7, scalar("007", 1, 21, 12));
    push(deep, "n", 22, 7, scalar("007", 0, 22, 12));
    push(extra, "deep", 20, 5, deep);
    put(cfg, 18, "extra", extra);

    char *json = NULL;
    cfg_errors errs = {0};
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_non_null(json);
    /* int64 survives exactly (raw JSON, not a double) */
    assert_contains(json, "\"count\":9223372036854775807,");
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "true");
    assert_true(cJSON_GetObjectItem(j, "ratio")->valuedouble == 1000.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "enabled")));
    assert_int_equal((int64_t)cJSON_GetObjectItem(j, "timeout")->valuedouble, 5400000);
    assert_int_equal((int64_t)cJSON_GetObjectItem(j, "limit")->valuedouble, 10000000);
    cJSON *t = cJSON_GetObjectItem(j, "tags");
    assert_int_equal(cJSON_GetArraySize(t), 8);
    assert_true(cJSON_IsNumber(cJSON_GetArrayItem(t, 0)));
    assert_int_equal(cJSON_GetArrayItem(t, 0)->valueint, 1);
    assert_true(cJSON_IsString(cJSON_GetArrayItem(t, 1)));
    assert_string_equal(cJSON_GetArrayItem(t, 1)->valuestring, "2");
    assert_true(cJSON_IsTrue(cJSON_GetArrayItem(t, 2)));
    assert_string_equal(cJSON_GetArrayItem(t, 3)->valuestring, "x");
    assert_true(cJSON_GetArrayItem(t, 4)->valuedouble == -1.5);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(t, 5)));
    assert_string_equal(cJSON_GetArrayItem(t, 6)->valuestring, ".inf");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 7), "a")->valueint, 1);
    cJSON *e = cJSON_GetObjectItem(j, "extra");
    assert_string_equal(cJSON_GetObjectItem(e, "k")->valuestring, "v");
    cJSON *d = cJSON_GetObjectItem(e, "deep");
    assert_string_equal(cJSON_GetObjectItem(d, "zip")->valuestring, "007");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "n")));
    assert_int_equal(cJSON_GetObjectItem(d, "n")->valueint, 7);
    cJSON_Delete(j);
    free(json);
    cfgnode_free(cfg);
    cfg_errors_free(&errs);
}

static void
test_options_typed_quoted(void **state)
{
    (void)state;
    /* the declared type wins over quoting: count: "7" is 7 */
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "name", scalar("n", 0, 0, 0));
    put(cfg, 4, "count", scalar("7", 1, 0, 0));
    put(cfg, 5, "enabled", scalar("true", 1, 0, 0));
    char *json = NULL;
    cfg_errors errs = {0};
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), 0);
    assert_contains(json, "\"count\":7,");
    assert_contains(json, "\"enabled\":true,");
    free(json);
    cfgnode_free(cfg);
    cfg_errors_free(&errs);
}

static void
test_options_errors(void **state)
{
    (void)state;
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 4, "count", scalar("abc", 0, 0, 0));
    put(cfg, 5, "ratio", scalar("nan", 0, 0, 0));
    put(cfg, 6, "enabled", scalar("maybe", 0, 0, 0));
    put(cfg, 7, "timeout", scalar("5 parsecs", 0, 0, 0));
    put(cfg, 8, "limit", scalar("12 zorks", 0, 0, 0));
    put(cfg, 9, "tags", scalar("a,b", 0, 0, 0));
    put(cfg, 10, "extra", node(CFGNODE_SEQ, 0, 0));
    put(cfg, 11, "bogus", scalar("1", 0, 0, 0));
    put(cfg, 12, "count", scalar("9223372036854775808", 0, 0, 0)); /* dup, and overflow */

    char *json = (char *)1;
    cfg_errors errs = {0};
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), -1);
    assert_null(json);
    static const char *const want[] = {
        "f.yaml:11:3: " PFX ".bogus: unknown option of plugin 'opts'; known options: name, "
        "count, ratio, enabled, timeout, limit, tags, extra",
        "f.yaml:12:3: " PFX ".count: duplicate key",
        "f.yaml:3:5: " PFX ".name: required option is missing (string: what to call it)",
        "f.yaml:4:10: " PFX ".count: expected an integer, got \"abc\"",
        "f.yaml:5:10: " PFX ".ratio: expected a number, got \"nan\"",
        "f.yaml:6:12: " PFX ".enabled: expected true or false, got \"maybe\"",
        "f.yaml:7:12: " PFX ".timeout: invalid duration \"5 parsecs\"",
        "f.yaml:8:10: " PFX ".limit: invalid size \"12 zorks\"",
        "f.yaml:9:9: " PFX ".tags: expected a list, got a scalar",
        "f.yaml:10:10: " PFX ".extra: expected a mapping, got a sequence",
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    for (size_t i = 0; i < errs.n; i++)
        print_message("  error: %s\n", errs.v[i].text);
    assert_int_equal(errs.n, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_contains(errs.v[i].text, want[i]);
    cfgnode_free(cfg);
    cfg_errors_free(&errs);

    /* the overflowing value on its own */
    cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "name", scalar("n", 0, 0, 0));
    put(cfg, 4, "count", scalar("9223372036854775808", 0, 0, 0));
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_contains(errs.v[0].text, "f.yaml:4:10: " PFX ".count: expected an integer");
    cfgnode_free(cfg);
    cfg_errors_free(&errs);

    /* a string option given a mapping */
    cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "name", node(CFGNODE_MAP, 0, 0));
    assert_int_equal(to_json(&opt_desc, cfg, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].text,
                        "f.yaml:3:9: " PFX ".name: expected a string, got a mapping");
    cfgnode_free(cfg);
    cfg_errors_free(&errs);
}

static void
test_options_shape_errors(void **state)
{
    (void)state;
    char *json = NULL;
    cfg_errors errs = {0};
    /* config: is a scalar */
    cfgnode *s = scalar("yes please", 0, 7, 13);
    assert_int_equal(to_json(&opt_desc, s, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].text, "f.yaml:7:13: " PFX ": must be a mapping, got a scalar");
    cfgnode_free(s);
    cfg_errors_free(&errs);

    /* no config at all, but a required option: no line to point at */
    assert_int_equal(to_json(&opt_desc, NULL, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].text,
                        "f.yaml: " PFX ".name: required option is missing (string: what to call "
                        "it)");
    cfg_errors_free(&errs);

    /* a plugin without options */
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 4, "x", scalar("1", 0, 0, 0));
    assert_int_equal(to_json(&noopt_desc, cfg, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].text,
                        "f.yaml:4:3: " PFX ".x: unknown option: plugin 'bare' takes no options");
    cfgnode_free(cfg);
    cfg_errors_free(&errs);
}

/* The real record.so schema, through the loader. */
static void
test_options_record_fixture(void **state)
{
    (void)state;
    install("record", "record.so");
    plugin_module *m = loaded("record.so");
    cfgnode *cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "effects_file", scalar("/tmp/effects", 0, 0, 0));
    put(cfg, 4, "sleep", scalar("250ms", 0, 0, 0));
    char *json = NULL;
    cfg_errors errs = {0};
    assert_int_equal(to_json(m->desc, cfg, &json, &errs), 0);
    assert_string_equal(json, "{\"effects_file\":\"/tmp/effects\",\"commit\":true,"
                              "\"fail_every\":0,\"reject_if_contains\":\"\","
                              "\"retry_if_contains\":\"\",\"sleep\":250,\"version\":\"v1\","
                              "\"crash_if_contains\":\"\",\"fence\":false,\"publish_to\":\"\"}");
    free(json);
    cfgnode_free(cfg);

    cfg = node(CFGNODE_MAP, 3, 5);
    put(cfg, 3, "commit", scalar("false", 0, 0, 0));
    assert_int_equal(to_json(m->desc, cfg, &json, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_contains(errs.v[0].text, "f.yaml:3:5: " PFX ".effects_file: required option is "
                                    "missing");
    cfgnode_free(cfg);
    cfg_errors_free(&errs);
    plugin_module_unload(m);
}

/* record.so without Redis (commit: false): the attempts log and verdicts. */
static void
test_record_fixture_handle(void **state)
{
    (void)state;
    install("record", "record.so");
    plugin_module *m = loaded("record.so");
    char effects[PATH_MAX * 2], cfgjson[PATH_MAX * 3], err[256];
    snprintf(effects, sizeof(effects), "%s/effects.log", root);
    snprintf(cfgjson, sizeof(cfgjson),
             "{\"effects_file\":\"%s\",\"commit\":false,\"fail_every\":3,"
             "\"reject_if_contains\":\"poison\",\"retry_if_contains\":\"later\","
             "\"sleep\":0,\"version\":\"v7\",\"crash_if_contains\":\"\"}",
             effects);
    void *ctx = NULL;
    assert_int_equal(m->desc->init(NULL, NULL, cfgjson, &ctx, err, sizeof(err)), 0);
    static const struct {
        const char *data;
        const char *id;
        jw_verdict want;
    } calls[] = {
        {"fine", "m1", JW_ACK},        {"a poison pill", "m2", JW_REJECT},
        {"fine", NULL, JW_RETRY}, /* third call: fail_every 3 */
        {"try later", "m4", JW_RETRY}, {"fine", "m5", JW_ACK},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        jw_msg msg = {.struct_size = sizeof(jw_msg),
                      .data = calls[i].data,
                      .len = strlen(calls[i].data),
                      .stream_seq = 10 + i,
                      .deliveries = 1,
                      .message_id = calls[i].id};
        jw_result res = {.verdict = JW_ACK, .delay_ms = -1};
        m->desc->handle(ctx, &msg, &res);
        if (res.verdict != calls[i].want)
            fail_msg("call %zu: verdict %d, want %d", i, res.verdict, calls[i].want);
    }
    m->desc->fini(ctx);
    size_t len;
    char *log = read_all(effects, &len);
    log = realloc(log, len + 1);
    log[len] = '\0';
    /* Drop the trailing timestamp of each line before comparing. */
    char *w = log;
    for (char *p = log; *p; p++) {
        const char *ns = strchr(p + 1, ' ');
        char *nl = strchr(p + 1, '\n');
        if (*p == ' ' && nl && (!ns || ns > nl))
            p = nl;
        *w++ = *p;
    }
    *w = '\0';
    assert_string_equal(log, "attempt m1 10 1 v7\n"
                             "attempt m2 11 1 v7\n"
                             "attempt seq-12 12 1 v7\n"
                             "attempt m4 13 1 v7\n"
                             "attempt m5 14 1 v7\n");
    free(log);
    plugin_module_unload(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_elf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memfd_distinct_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_after_unload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memfd_name_and_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_and_files, setup, teardown),
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test(test_options_values),
        cmocka_unit_test(test_options_typed_quoted),
        cmocka_unit_test(test_options_errors),
        cmocka_unit_test(test_options_shape_errors),
        cmocka_unit_test_setup_teardown(test_options_record_fixture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_fixture_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abi10_and_11_side_by_side, setup, teardown),
        cmocka_unit_test(test_desc_min_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
