/*
 * nkey -- the public key of a NATS user NKey seed.
 *
 * cnats's natsOptions_SetNKeyFromSeed() wants both the public key and the
 * seed file, but operators keep only the seed ("SU..."), as the nats CLI
 * does. The public key ("U...") is derived here: base32 decode, CRC16
 * check, Ed25519 public key from the 32-byte seed (libcrypto), re-encode.
 *
 * Pure functions, any thread. Seed bytes are wiped before returning.
 */
#ifndef JW_NKEY_H
#define JW_NKEY_H

#include <stddef.h>

/* 0 on success; -1 when `seed` is not a valid user seed. */
int nkey_public_from_seed(const char *seed, char *pub, size_t publen);
/* Find the first user seed in a file (a bare seed or a creds-style file).
 * Errors name the file, never its content. */
int nkey_public_from_file(const char *path, char *pub, size_t publen, char *err, size_t errlen);

#endif /* JW_NKEY_H */
