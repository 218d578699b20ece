/* test_sha256.c - SHA-256 against the examples of FIPS 180-4 and NIST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

static int failures, checks;

static void
expect(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s\n", what);
	}
}

static void
digest_of(const void *data, size_t length, char hex[SHA256_HEX_SIZE])
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, length);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
}

static void
expect_digest(const char *message, const char *want, const char *what)
{
	char hex[SHA256_HEX_SIZE];

	digest_of(message, strlen(message), hex);
	if (strcmp(hex, want) != 0)
		printf("  %s: got %s\n  expected    %s\n", what, hex, want);
	expect(strcmp(hex, want) == 0, what);
}

int
main(void)
{
	static const char two_blocks[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char four_blocks[] =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	uint8_t digest[SHA256_DIGEST_SIZE], other[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE], path[] = "/tmp/duo-sha256-XXXXXX";
	struct sha256 ctx;
	struct duo_error err;
	char *million;
	size_t split, i;
	FILE *f;
	int fd;

	/* The one-block, empty and 448-bit messages of the standard's
	 * examples, and the 896-bit message of the NIST test vectors. */
	expect_digest("abc", "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad", "\"abc\"");
	expect_digest("", "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855", "empty string");
	expect_digest(two_blocks, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1", "448-bit message");
	expect_digest(four_blocks, "cf5b16a778af8380036ce59e7b049237"
	    "0b249b11e8f07a51afac45037afee9d1", "896-bit message");

	/* One million 'a', fed in pieces of 1000 to use the partial block. */
	million = malloc(1000000);
	if (million == NULL)
		return 99;
	memset(million, 'a', 1000000);
	sha256_init(&ctx);
	for (i = 0; i < 1000; i++)
		sha256_update(&ctx, million + i * 1000, 1000);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
	expect(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0") == 0, "one million 'a'");

	/* Every split of a 3-block message gives the one-shot digest:
	 * padding at 55, 56 and 64 bytes left in the block is exercised. */
	sha256_init(&ctx);
	sha256_update(&ctx, million, 150);
	sha256_final(&ctx, other);
	for (split = 0; split <= 150; split++) {
		sha256_init(&ctx);
		sha256_update(&ctx, million, split);
		sha256_update(&ctx, million + split, 150 - split);
		sha256_final(&ctx, digest);
		if (memcmp(digest, other, sizeof digest) != 0)
			break;
	}
	expect(split == 151, "split updates equal one update");

	/* The file reader: the same million bytes through a file. */
	fd = mkstemp(path);
	f = fd < 0 ? NULL : fdopen(fd, "wb");
	if (f == NULL || fwrite(million, 1, 1000000, f) != 1000000 ||
	    fclose(f) != 0) {
		printf("cannot write %s\n", path);
		return 99;
	}
	expect(sha256_file(path, hex, &err) == 0 &&
	    strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0") == 0, "sha256_file");
	unlink(path);
	expect(sha256_file(path, hex, &err) == -1 &&
	    strstr(err.message, path) != NULL &&
	    strstr(err.message, "No such file") != NULL,
	    "a missing file is named");
	expect(sha256_file("/", hex, &err) == -1 &&
	    strstr(err.message, "/: ") != NULL, "a directory is an error");
	free(million);

	printf("sha256: %d of %d checks passed\n", checks - failures, checks);
	return failures == 0 ? 0 : 1;
}
