/*
 * sha256.h - SHA-256 (FIPS 180-4), used to name a model file by its
 * contents: a run remembers the hash of the model it was made with.
 *
 * This module only hashes bytes and files; it knows nothing of models.
 */
#ifndef DUO_SHA256_H
#define DUO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE 65              /* 64 hex digits and a NUL */

struct sha256 {
	uint32_t state[8];              /* H0..H7 */
	uint64_t length;                /* message bytes so far */
	uint8_t block[64];              /* the unfinished block */
	size_t used;                    /* bytes in block */
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t length);
/* Pad, finish and write the digest; ctx must be initialised again to reuse. */
void sha256_final(struct sha256 *ctx, uint8_t digest[SHA256_DIGEST_SIZE]);

/* Lower-case hex of a digest. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE],
    char hex[SHA256_HEX_SIZE]);
/* Hex digest of a whole file; fails with a message naming the file. */
int sha256_file(const char *path, char hex[SHA256_HEX_SIZE],
    struct duo_error *err);

#endif
