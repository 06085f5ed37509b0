/*
 * fuzz_msgid.c -- which id a delivered message is deduplicated by
 * (core/nats/msgid.c): the input is a message as it arrives, a wire header
 * block (Nats-Msg-Id, Jetway-Replay...) and a JSON payload split at the
 * first NUL; the first byte picks header-first or field-only and the JSON
 * field. Whatever id comes out must pass msgid_check's own rule (printable
 * ASCII without spaces, at most MSGID_MAX before a replay suffix).
 */
#include "fuzz.h"

#include "nats/nats.h"

static const char *const fields[] = {"message_id", "id", "order_id", ""};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    char *hdr = NULL, *payload = NULL;
    size_t hlen = 0, plen = 0;
    fuzz_split(data + 1, size - 1, 0, &hdr, &hlen, &payload, &plen);
    if (payload == NULL) { /* no NUL: all payload, no header */
        payload = hdr;
        plen = hlen;
        hdr = fuzz_str((const uint8_t *)"", 0);
        hlen = 0;
    }
    const char *field = fields[(mode >> 1) % 4];
    natsMsg *m = fuzz_msg("orders.created.v1", NULL, hdr, hlen, payload, plen);
    if (m != NULL) {
        char out[MSGID_MAX * 2 + 2], why[256];
        memset(out, 0x5a, sizeof(out));
        const char *bad = msgid_extract(m, mode & 1, field, out, sizeof(out), why, sizeof(why));
        if (bad == NULL) {
            size_t n = strnlen(out, sizeof(out));
            if (n == sizeof(out) || n == 0) {
                fprintf(stderr, "msgid: unterminated or empty id\n");
                abort();
            }
            for (size_t i = 0; i < n; i++) {
                if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f) {
                    fprintf(stderr, "msgid: id with byte 0x%02x accepted\n", out[i]);
                    abort();
                }
            }
        } else if (bad != why || why[0] == '\0') {
            abort(); /* a refusal is explained in `why` */
        }
        natsMsg_Destroy(m);
    }
    /* The payload part alone, as the unit tests call it. */
    char out[MSGID_MAX + 1], why[256];
    (void)msgid_from_json(payload, plen, field[0] ? field : "message_id", out, sizeof(out), why,
                          sizeof(why));
    (void)msgid_check(payload, plen);
    free(hdr);
    free(payload);
    return 0;
}
