/*
 * fuzz_jsmeta.c -- JetStream metadata read from a delivered message's reply
 * subject (core/nats/jsmeta.c), which the server writes but anything that
 * can publish to a consumer's deliver subject can forge. The input is the
 * reply subject. A subject that parses must point its stream name inside
 * itself.
 */
#include "fuzz.h"

#include "nats/nats.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *reply = fuzz_str(data, size);
    jsmeta meta;
    memset(&meta, 0, sizeof(meta));
    if (jsmeta_parse(reply, &meta) == 0) {
        size_t len = strlen(reply);
        if (meta.stream == NULL || meta.stream < reply || meta.stream_len > len ||
            meta.stream + meta.stream_len > reply + len) {
            fprintf(stderr, "jsmeta: stream outside the subject\n");
            abort();
        }
    }
    /* The same through a message, as the consumer reads it. */
    natsMsg *m = fuzz_msg("orders.created.v1", reply[0] ? reply : NULL, "", 0, "{}", 2);
    if (m != NULL) {
        const char *r = natsMsg_GetReply(m);
        if (r != NULL)
            (void)jsmeta_parse(r, &meta);
        natsMsg_Destroy(m);
    }
    free(reply);
    return 0;
}
