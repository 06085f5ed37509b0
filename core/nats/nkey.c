/*
 * nkey.c -- see nkey.h. Encoding (nats-io/nkeys): base32 (RFC 4648, no
 * padding) of prefix bytes + key + CRC16/XMODEM little-endian. A seed's two
 * prefix bytes pack 'S' (18<<3) and the key type (user: 20<<3).
 */
#include "nkey_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NKEY_PREFIX_SEED 144u /* 18 << 3 */
#define NKEY_PREFIX_USER 160u /* 20 << 3 */
#define NKEY_SEED_LEN    58   /* base32 chars of 2 + 32 + 2 bytes */

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint16_t
crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static int
b32_decode(const char *s, size_t n, unsigned char *out, size_t outcap, size_t *outlen)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = strchr(b32, s[i]);
        if (!c || !s[i])
            return -1;
        buf = (buf << 5) | (uint32_t)(c - b32);
        bits += 5;
        if (bits >= 8) {
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    *outlen = o;
    return 0;
}

static size_t
b32_encode(const unsigned char *p, size_t n, char *out, size_t outcap)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        buf = (buf << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            if (o + 1 >= outcap)
                return 0;
            out[o++] = b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        if (o + 1 >= outcap)
            return 0;
        out[o++] = b32[(buf << (5 - bits)) & 31];
    }
    out[o] = '\0';
    return o;
}

int
nkey_public_from_seed(const char *seed, char *pub, size_t publen)
{
    unsigned char raw[40];
    size_t n = 0;
    int rc = -1;
    if (strlen(seed) != NKEY_SEED_LEN || b32_decode(seed, NKEY_SEED_LEN, raw, sizeof(raw), &n) ||
        n != 36)
        goto out;
    uint16_t want = (uint16_t)(raw[34] | (raw[35] << 8));
    if (crc16(raw, 34) != want)
        goto out;
    unsigned b1 = raw[0] & 248u;
    unsigned type = ((raw[0] & 7u) << 5) | ((raw[1] & 248u) >> 3);
    if (b1 != NKEY_PREFIX_SEED || type != NKEY_PREFIX_USER)
        goto out;

    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 2, 32);
    if (!pk)
        goto out;
    unsigned char key[35];
    size_t klen = 32;
    int ok = EVP_PKEY_get_raw_public_key(pk, key + 1, &klen) == 1 && klen == 32;
    EVP_PKEY_free(pk);
    if (!ok)
        goto out;
    key[0] = (unsigned char)NKEY_PREFIX_USER;
    uint16_t crc = crc16(key, 33);
    key[33] = (unsigned char)(crc & 0xff);
    key[34] = (unsigned char)(crc >> 8);
    rc = b32_encode(key, sizeof(key), pub, publen) ? 0 : -1;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

int
nkey_public_from_file(const char *path, char *pub, size_t publen, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "nats: nkey_seed_file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    int rc = -1;
    for (char *p = buf; (p = strstr(p, "SU")) != NULL; p++) {
        size_t run = strspn(p, b32);
        if (run != NKEY_SEED_LEN)
            continue;
        char seed[NKEY_SEED_LEN + 1];
        memcpy(seed, p, NKEY_SEED_LEN);
        seed[NKEY_SEED_LEN] = '\0';
        rc = nkey_public_from_seed(seed, pub, publen);
        OPENSSL_cleanse(seed, sizeof(seed));
        if (rc == 0)
            break;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc != 0)
        snprintf(err, errlen, "nats: nkey_seed_file %s: no valid user seed (SU...) found", path);
    return rc;
}
