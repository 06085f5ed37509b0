/*
 * msgid.c -- see msgid.h.
 */
#include "nats.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const char *
msgid_check(const char *id, size_t len)
{
    if (len == 0)
        return "empty message id";
    if (len > MSGID_MAX)
        return "message id longer than 128 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f)
            return "message id has a space, control or non-ASCII byte";
    }
    return NULL;
}

int
msgid_from_json(const char *data, size_t len, const char *field, char *out, size_t outlen,
                char *why, size_t whylen)
{
    if (len == 0) {
        snprintf(why, whylen, "no message id: empty payload and no Nats-Msg-Id header");
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        snprintf(why, whylen, "no message id: payload is not valid JSON (at byte %zu)",
                 end ? (size_t)(end - data) : (size_t)0);
        return -1;
    }
    int rc = -1;
    const cJSON *v = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, field) : NULL;
    if (!v) {
        snprintf(why, whylen, "no message id: no Nats-Msg-Id header and no '%s' field", field);
    } else if (!cJSON_IsString(v) && !cJSON_IsNumber(v)) {
        snprintf(why, whylen, "bad message id: field '%s' is not a string", field);
    } else {
        char num[32];
        const char *s = v->valuestring;
        if (cJSON_IsNumber(v)) {
            snprintf(num, sizeof(num), "%.0f", v->valuedouble);
            s = num;
        }
        const char *bad = msgid_check(s, strlen(s));
        if (bad) {
            snprintf(why, whylen, "bad message id in field '%s': %s", field, bad);
        } else if (strlen(s) >= outlen) {
            snprintf(why, whylen, "bad message id: too long");
        } else {
            memcpy(out, s, strlen(s) + 1);
            rc = 0;
        }
    }
    cJSON_Delete(root);
    return rc;
}

const char *
msgid_extract(natsMsg *msg, int header_first, const char *field, char *out, size_t outlen,
              char *why, size_t whylen)
{
    const char *hdr = NULL;
    int have = 0;
    if (header_first && natsMsgHeader_Get(msg, "Nats-Msg-Id", &hdr) == NATS_OK && hdr) {
        size_t hl = strlen(hdr);
        const char *bad = msgid_check(hdr, hl);
        if (bad) {
            snprintf(why, whylen, "bad Nats-Msg-Id: %s", bad);
            return why;
        }
        /* (a copy, not snprintf: this runs for every message) */
        if (hl >= outlen)
            hl = outlen - 1;
        memcpy(out, hdr, hl);
        out[hl] = '\0';
        have = 1;
    }
    if (!have) {
        if (msgid_from_json(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), field, out,
                            outlen, why, whylen) != 0)
            return why;
    }
    const char *replay = NULL;
    if (natsMsgHeader_Get(msg, "Jetway-Replay", &replay) == NATS_OK && replay) {
        const char *bad = msgid_check(replay, strlen(replay));
        if (bad || strlen(out) + 1 + strlen(replay) >= outlen) {
            snprintf(why, whylen, "bad Jetway-Replay header");
            return why;
        }
        size_t l = strlen(out);
        out[l] = MSGID_REPLAY_SEP;
        memcpy(out + l + 1, replay, strlen(replay) + 1);
    }
    return NULL;
}
