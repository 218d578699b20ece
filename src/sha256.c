/*
 * sha256.c - SHA-256 as FIPS 180-4 section 6.2 describes it: 512-bit
 * blocks, a 64-word message schedule, 64 rounds of the compression
 * function, big-endian words throughout.
 */
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4 section 4.2.2). */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* First 32 bits of the fractional parts of the square roots of the first 8
 * primes (section 5.3.3). */
static const uint32_t sha256_h0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t
rotr(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

/* The six logical functions of section 4.1.2. */
static uint32_t
ch(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (~x & z);
}

static uint32_t
maj(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (x & z) ^ (y & z);
}

static uint32_t
big_sigma0(uint32_t x)
{
	return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static uint32_t
big_sigma1(uint32_t x)
{
	return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static uint32_t
small_sigma0(uint32_t x)
{
	return rotr(x, 7) ^ rotr(x, 18) ^ x >> 3;
}

static uint32_t
small_sigma1(uint32_t x)
{
	return rotr(x, 17) ^ rotr(x, 19) ^ x >> 10;
}

/* Fold one 64-byte block into the state (section 6.2.2, steps 1-4). */
static void
sha256_block(uint32_t state[8], const uint8_t block[64])
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int t;

	for (t = 0; t < 16; t++)
		w[t] = (uint32_t)block[4 * t] << 24 |
		    (uint32_t)block[4 * t + 1] << 16 |
		    (uint32_t)block[4 * t + 2] << 8 |
		    (uint32_t)block[4 * t + 3];
	for (t = 16; t < 64; t++)
		w[t] = small_sigma1(w[t - 2]) + w[t - 7] +
		    small_sigma0(w[t - 15]) + w[t - 16];

	a = state[0]; b = state[1]; c = state[2]; d = state[3];
	e = state[4]; f = state[5]; g = state[6]; h = state[7];
	for (t = 0; t < 64; t++) {
		t1 = h + big_sigma1(e) + ch(e, f, g) + sha256_k[t] + w[t];
		t2 = big_sigma0(a) + maj(a, b, c);
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	state[0] += a; state[1] += b; state[2] += c; state[3] += d;
	state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

void
sha256_init(struct sha256 *ctx)
{
	memcpy(ctx->state, sha256_h0, sizeof ctx->state);
	ctx->length = 0;
	ctx->used = 0;
}

void
sha256_update(struct sha256 *ctx, const void *data, size_t length)
{
	const uint8_t *p = data;
	size_t n;

	ctx->length += length;
	if (ctx->used > 0) {
		n = 64 - ctx->used < length ? 64 - ctx->used : length;
		memcpy(ctx->block + ctx->used, p, n);
		ctx->used += n;
		p += n;
		length -= n;
		if (ctx->used < 64)
			return;
		sha256_block(ctx->state, ctx->block);
		ctx->used = 0;
	}
	for (; length >= 64; p += 64, length -= 64)
		sha256_block(ctx->state, p);
	memcpy(ctx->block, p, length);
	ctx->used = length;
}

void
sha256_final(struct sha256 *ctx, uint8_t digest[SHA256_DIGEST_SIZE])
{
	uint64_t bits = ctx->length * 8;
	int i;

	/* Section 5.1.1: a 1 bit, zeros to 448 mod 512, the length in bits. */
	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		sha256_block(ctx->state, ctx->block);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	for (i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_block(ctx->state, ctx->block);
	for (i = 0; i < 8; i++) {
		digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
		digest[4 * i + 3] = (uint8_t)ctx->state[i];
	}
}

void
sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[2 * SHA256_DIGEST_SIZE] = '\0';
}

int
sha256_file(const char *path, char hex[SHA256_HEX_SIZE], struct duo_error *err)
{
	enum { CHUNK = 1 << 16 };
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;
	uint8_t *buffer;
	FILE *f;
	size_t n;

	f = fopen(path, "rb");
	if (f == NULL)
		return error_set(err, "%s: %s", path, strerror(errno));
	buffer = malloc(CHUNK);
	if (buffer == NULL) {
		fclose(f);
		return error_set(err, "%s: out of memory", path);
	}
	sha256_init(&ctx);
	while ((n = fread(buffer, 1, CHUNK, f)) > 0)
		sha256_update(&ctx, buffer, n);
	free(buffer);
	if (ferror(f)) {
		int saved = errno;

		fclose(f);
		/* A directory fails here with EISDIR. */
		return error_set(err, "%s: %s", path,
		    saved != 0 ? strerror(saved) : "read error");
	}
	fclose(f);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
	return 0;
}
