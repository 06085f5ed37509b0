/*
 * fuzz_plugin.h -- one driver for the example plugins' event decoding
 * (plugins/order, payment, inventory): the includer includes the plugin's
 * source and the fake host of its unit tests
 * (plugins/shared/tests/orders_fake_host.h), defines FUZZ_SUBJECTS (the
 * subjects it consumes, plus one it does not) and FUZZ_CONFIG (its init()
 * JSON), then includes this file.
 *
 * Input: byte 0 picks the subject (bits 0-2), whether the message is a
 * request with a reply subject (bit 3) and whether publish fails (bit 4);
 * byte 1 picks the replies the fake Redis gives (two bits each, three
 * replies); the rest is the payload, as the consumer delivers it (any
 * bytes, not NUL-terminated).
 *
 * Checked: the verdict is one of the ABI's, a REJECT or RETRY says why,
 * every published payload is JSON (the fake host parses it), and nothing
 * leaks (LeakSanitizer at exit, the fake host freed after each input).
 */
#ifndef JW_FUZZ_PLUGIN_H
#define JW_FUZZ_PLUGIN_H

static const jw_plugin *fz_p;
static void *fz_ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256] = "";
    fz_p = jw_plugin_query(JW_ABI_MAJOR, JW_ABI_MINOR);
    if (fz_p == NULL || fz_p->init(&fh_host, NULL, FUZZ_CONFIG, &fz_ctx, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: plugin init: %s\n", err);
        abort();
    }
    return 0;
}

static void
fz_queue(unsigned kind)
{
    switch (kind & 3) {
    case 0:
        fh_queue_int(1);
        break;
    case 1:
        fh_queue_strings(FUZZ_REPLY_A, NULL);
        break;
    case 2:
        fh_queue_strings(FUZZ_REPLY_B, NULL);
        break;
    default:
        fh_queue_error("ERR fuzz");
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const subjects[] = {FUZZ_SUBJECTS};
    const size_t nsubjects = sizeof(subjects) / sizeof(subjects[0]);
    if (size < 2 || size > 65536)
        return 0;
    fh_reset();
    fh.publish_rc = (data[0] & 0x10) ? JW_EIO : JW_OK;
    for (unsigned i = 0; i < 3; i++)
        fz_queue(data[1] >> (2 * i));
    /* A copy of exactly the payload's bytes, so ASan sees any read past it. */
    size_t len = size - 2;
    char *payload = malloc(len ? len : 1);
    if (payload == NULL)
        abort();
    memcpy(payload, data + 2, len);
    jw_msg m = fh_msg(subjects[(data[0] & 7) % nsubjects], "");
    m.data = payload;
    m.len = len;
    if (data[0] & 8) {
        m.reply = "_INBOX.fuzz";
        m.stream = NULL;
        m.stream_seq = 0;
        m.deliveries = 0;
        m.dedup_key = NULL;
        m.claim_token = NULL;
    }
    jw_result res = fh_handle(fz_p, fz_ctx, &m);
    if (res.verdict != JW_ACK && res.verdict != JW_RETRY && res.verdict != JW_REJECT) {
        fprintf(stderr, "fuzz: verdict %d\n", (int)res.verdict);
        abort();
    }
    if (strnlen(res.reason, sizeof(res.reason)) == sizeof(res.reason)) {
        fprintf(stderr, "fuzz: reason not terminated\n");
        abort();
    }
    if (res.verdict == JW_REJECT && res.reason[0] == '\0' && m.reply == NULL) {
        fprintf(stderr, "fuzz: REJECT without a reason\n");
        abort();
    }
    for (int i = 0; i < fh.npubs; i++) {
        if (fh.pubs[i].doc == NULL) {
            fprintf(stderr, "fuzz: published a payload that is not JSON on %s\n",
                    fh.pubs[i].subject);
            abort();
        }
    }
    fh_drop_unused();
    fh_reset();
    free(payload);
    return 0;
}

#endif /* JW_FUZZ_PLUGIN_H */
