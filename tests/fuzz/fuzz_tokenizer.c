/*
 * fuzz_tokenizer.c - any bytes through the tokenizer of a real model (the
 * shipped model's, else the test fixture's; DUO_FUZZ_MODEL names another).
 * Promises checked (doc/design.md section 3): every byte string encodes;
 * decode(encode(x)) == x; the byte offsets start at 0, end at the length,
 * rise strictly, and token i's piece is exactly the bytes between offsets
 * i and i + 1; every id is inside the vocabulary and never a special
 * token.
 */
#include "fuzz.h"

#include "gguf.h"
#include "tokenizer.h"

static struct tokenizer *tokenizer;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const candidates[] = { FUZZ_MODEL, FUZZ_FIXTURE };
	const char *path = getenv("DUO_FUZZ_MODEL");
	struct gguf_file file;
	struct duo_error err;
	size_t i;

	for (i = 0; i < 2 && (path == NULL || path[0] == '\0'); i++) {
		FILE *f = fopen(candidates[i], "rb");

		if (f != NULL) {
			fclose(f);
			path = candidates[i];
		}
	}
	FUZZ_CHECK(path != NULL, "no model for the tokenizer (set "
	    "DUO_FUZZ_MODEL)");
	memset(&file, 0, sizeof file);
	FUZZ_CHECK(gguf_open(&file, path, &err) == 0, "%s", err.message);
	FUZZ_CHECK(tokenizer_load(&tokenizer, &file, &err) == 0, "%s",
	    err.message);
	gguf_close(&file);
	fprintf(stderr, "tokenizer of %s: %d tokens\n", path,
	    tokenizer_vocab_size(tokenizer));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *piece;
	struct duo_error err;
	int32_t *ids = NULL;
	size_t n = 0, *offsets = NULL, i, piece_length, length;
	char *back = NULL;
	int V = tokenizer_vocab_size(tokenizer);

	FUZZ_CHECK(tokenizer_encode(tokenizer, text, size, &ids, &n,
	    &offsets, &err) == 0, "encode refused %zu bytes: %s", size,
	    err.message);
	FUZZ_CHECK(offsets[0] == 0 && offsets[n] == size,
	    "offsets span %zu..%zu of %zu bytes", offsets[0], offsets[n],
	    size);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(ids[i] >= 0 && ids[i] < V, "id %d outside 0..%d",
		    (int)ids[i], V - 1);
		FUZZ_CHECK(ids[i] != tokenizer_bos(tokenizer) &&
		    ids[i] != tokenizer_eos(tokenizer),
		    "a special token from plain text at %zu", i);
		FUZZ_CHECK(offsets[i] < offsets[i + 1],
		    "offsets do not rise at token %zu", i);
		piece = tokenizer_piece(tokenizer, ids[i], &piece_length);
		FUZZ_CHECK(piece != NULL && piece_length ==
		    offsets[i + 1] - offsets[i] && memcmp(piece,
		    text + offsets[i], piece_length) == 0,
		    "token %zu (id %d) is not the bytes at its offsets", i,
		    (int)ids[i]);
	}
	FUZZ_CHECK(tokenizer_decode(tokenizer, ids, n, &back, &length,
	    &err) == 0, "decode refused: %s", err.message);
	FUZZ_CHECK(length == size && memcmp(back, text, size) == 0 &&
	    back[length] == '\0', "decode(encode(x)) != x for %zu bytes",
	    size);
	free(back);
	free(ids);
	free(offsets);
	return 0;
}
