/*
 * test_tokenizer.c - byte-level BPE: training, determinism, round trips of
 * any byte string, byte offsets, hand-checked encodings and training, the
 * GGUF round trip, and the one-line messages of bad tokenizer keys.
 *
 * Usage: test_tokenizer [TEXTS_DIR]   (default $srcdir/tests/texts)
 * Exit status 0 pass, 1 fail, 99 hard error.  Every check is exact: token
 * ids and bytes are integers, so there is no tolerance.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

static int failures, checks;
static char tmpdir[] = "/tmp/test_tokenizer.XXXXXX";

static int
expect(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok) {
		failures++;
		printf("FAIL ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	return ok;
}

static void
hard_error(const char *what, const char *message)
{
	printf("ERROR %s: %s\n", what, message);
	exit(99);
}

struct buffer {
	char *data;
	size_t length;
	size_t capacity;
};

static void
append(struct buffer *b, const void *p, size_t n)
{
	while (b->length + n + 1 > b->capacity) {
		b->capacity = 2 * b->capacity + 4096;
		b->data = realloc(b->data, b->capacity);
		if (b->data == NULL)
			hard_error("append", "out of memory");
	}
	memcpy(b->data + b->length, p, n);
	b->length += n;
	b->data[b->length] = '\0';
}

static void
read_file(const char *path, struct buffer *b)
{
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		hard_error(path, "cannot open");
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		append(b, chunk, n);
	fclose(f);
}

/* splitmix64, seeded: every run tests the same strings. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Encode and decode; check decode(encode(x)) == x, that the offsets start
 * at 0, end at the length and grow, that each token's bytes are its slice
 * of the text, and that no special token comes out of text.
 */
static int
round_trip(const struct tokenizer *tok, const char *text, size_t length,
    const char *name)
{
	struct duo_error err;
	int32_t *ids;
	size_t n, i, *offsets, decoded_length, piece_length;
	const char *piece;
	char *decoded;
	int ok = 1;

	if (!expect(tokenizer_encode(tok, text, length, &ids, &n, &offsets,
	    &err) == 0, "%s: encode: %s", name, err.message))
		return 0;
	ok &= expect(offsets[0] == 0 && offsets[n] == length,
	    "%s: offsets span [%zu, %zu), text has %zu bytes", name,
	    offsets[0], offsets[n], length);
	for (i = 0; i < n; i++) {
		piece = tokenizer_piece(tok, ids[i], &piece_length);
		if (piece == NULL || ids[i] == tokenizer_eos(tok) ||
		    offsets[i] >= offsets[i + 1] ||
		    offsets[i + 1] - offsets[i] != piece_length ||
		    memcmp(text + offsets[i], piece, piece_length) != 0)
			break;
	}
	ok &= expect(i == n, "%s: token %zu (id %d) is not its slice of the "
	    "text [%zu, %zu)", name, i, i < n ? (int)ids[i] : -1,
	    i < n ? offsets[i] : 0, i < n ? offsets[i + 1] : 0);
	if (expect(tokenizer_decode(tok, ids, n, &decoded, &decoded_length,
	    &err) == 0, "%s: decode: %s", name, err.message)) {
		ok &= expect(decoded_length == length &&
		    memcmp(decoded, text, length) == 0 &&
		    decoded[length] == '\0',
		    "%s: decode(encode(x)) != x (%zu bytes, %zu back)", name,
		    length, decoded_length);
		free(decoded);
	}
	free(ids);
	free(offsets);
	return ok;
}

static struct tokenizer *
train(const struct buffer *text, int vocab)
{
	struct tokenizer *tok;
	struct duo_error err;

	if (tokenizer_train(&tok, text->data, text->length, vocab, &err) != 0)
		hard_error("train", err.message);
	return tok;
}

static size_t
count_tokens(const struct tokenizer *tok, const struct buffer *text)
{
	struct duo_error err;
	int32_t *ids;
	size_t n;

	if (tokenizer_encode(tok, text->data, text->length, &ids, &n, NULL,
	    &err) != 0)
		hard_error("encode", err.message);
	free(ids);
	return n;
}

static int
same_piece(const struct tokenizer *tok, int32_t id, const char *bytes,
    size_t length)
{
	size_t n;
	const char *p = tokenizer_piece(tok, id, &n);

	return p != NULL && n == length && memcmp(p, bytes, n) == 0;
}

/* Vocabulary layout and compression at a few sizes, and determinism. */
static void
test_training(const struct buffer *texts)
{
	static const int sizes[] = { 257, 300, 600, 1000 };
	struct tokenizer *tok, *again;
	size_t previous = SIZE_MAX, n, i;
	int32_t id, last;
	int k, v, same;
	struct duo_error err;

	for (k = 0; k < 4; k++) {
		tok = train(texts, sizes[k]);
		v = tokenizer_vocab_size(tok);
		last = v - 1;
		/* The texts hold enough repeated pairs for 600, not 1000. */
		if (sizes[k] <= 600)
			expect(v == sizes[k], "vocabulary %d for %d", v,
			    sizes[k]);
		else
			expect(v > 600 && v <= sizes[k],
			    "vocabulary %d for %d", v, sizes[k]);
		expect(tokenizer_bos(tok) == last && tokenizer_eos(tok) ==
		    last && same_piece(tok, last, "<|endoftext|>", 13),
		    "BOS and EOS are the last id %d, <|endoftext|>", last);
		for (id = 0; id < 256; id++) {
			char byte = (char)id;

			if (!expect(same_piece(tok, id, &byte, 1),
			    "id %d is the byte %d", (int)id, (int)id))
				break;
		}
		/* Every merge removes at least two tokens of its text. */
		n = count_tokens(tok, texts);
		expect(n < previous, "vocabulary %d: %zu tokens, not fewer "
		    "than %zu", v, n, previous);
		if (sizes[k] == 257)
			expect(n == texts->length, "no merges: %zu tokens for "
			    "%zu bytes", n, texts->length);
		previous = n;
		tokenizer_free(tok);
	}

	tok = train(texts, 600);
	again = train(texts, 600);
	same = tokenizer_vocab_size(tok) == tokenizer_vocab_size(again);
	for (i = 0; same && i < (size_t)tokenizer_vocab_size(tok); i++) {
		size_t length;
		const char *p = tokenizer_piece(tok, (int32_t)i, &length);

		same = same_piece(again, (int32_t)i, p, length);
	}
	expect(same, "training twice gives the same tokens");
	tokenizer_free(again);
	tokenizer_free(tok);

	expect(tokenizer_train(&tok, "abc", 3, 256, &err) == -1 &&
	    strstr(err.message, "256") != NULL,
	    "vocabulary 256 is refused: %s", err.message);
}

/*
 * "xy xy yx yx": pieces "xy", " xy", " yx" x2.  Pairs of count 2: (x,y),
 * (' ',y), (y,x); the joined bytes " y" sort first (0x20), so merge 0 is
 * " y"; then " yx" (count 2) before "xy" (count 2, 0x20 < 'x'); then no
 * pair occurs twice, so training stops at 256 + 3 + 1 = 260 tokens.
 */
static void
test_training_known_answer(void)
{
	static const char text[] = "xy xy yx yx";
	struct tokenizer *tok;
	struct duo_error err;

	if (tokenizer_train(&tok, text, strlen(text), 300, &err) != 0)
		hard_error("train", err.message);
	expect(tokenizer_vocab_size(tok) == 260, "tie-break text: %d tokens, "
	    "expected 260", tokenizer_vocab_size(tok));
	expect(same_piece(tok, 256, " y", 2) && same_piece(tok, 257, " yx",
	    3) && same_piece(tok, 258, "xy", 2),
	    "tie-break text: merges \" y\", \" yx\", \"xy\" in that order");
	tokenizer_free(tok);
}

static void
test_round_trips(const struct tokenizer *tok, int n_texts,
    const char *const *names, const struct buffer *each)
{
	static const char *const alphabet[] = {
		"a", "b", "t", "h", "e", " ", "  ", "\t", "\n", "'", "'s",
		"'t", "'re", "7", "42", ".", ",", "?", "\xc3\xa9",
		"\xc3\xaf", "\xe2\x80\x94", "\xe6\x9d\xb1", "\xe4\xba\xac",
		"\xf0\x9f\x99\x82", "\r\n", "\xc2\xa0",
	};
	struct buffer b = { 0 };
	uint64_t state = 12345;
	size_t n, j;
	char name[64], c;
	int i, ok;

	round_trip(tok, "", 0, "empty input");
	for (i = 0; i < n_texts; i++)
		round_trip(tok, each[i].data, each[i].length, names[i]);

	/* Uniform bytes: invalid UTF-8 and NUL bytes are common. */
	ok = 1;
	for (i = 0; i < 2000 && ok; i++) {
		b.length = 0;
		n = next_random(&state) % 301;
		for (j = 0; j < n; j++) {
			c = (char)(next_random(&state) & 0xff);
			append(&b, &c, 1);
		}
		snprintf(name, sizeof name, "random bytes %d", i);
		ok = round_trip(tok, b.data ? b.data : "", b.length, name);
	}
	/* ASCII and multibyte characters, whitespace runs, contractions. */
	for (i = 0; i < 1000 && ok; i++) {
		b.length = 0;
		n = next_random(&state) % 120;
		for (j = 0; j < n; j++) {
			const char *s = alphabet[next_random(&state) %
			    (sizeof alphabet / sizeof alphabet[0])];
			append(&b, s, strlen(s));
		}
		snprintf(name, sizeof name, "random characters %d", i);
		ok = round_trip(tok, b.data ? b.data : "", b.length, name);
	}
	/* Long pieces take the heap-driven merge path. */
	b.length = 0;
	for (j = 0; j < 100000; j++)
		append(&b, " ", 1);
	round_trip(tok, b.data, b.length, "100000 spaces");
	b.length = 0;
	for (j = 0; j < 100000; j++)
		append(&b, &"thee"[next_random(&state) % 4], 1);
	round_trip(tok, b.data, b.length, "a word of 100000 letters");
	b.length = 0;
	for (j = 0; j < 50000; j++)
		append(&b, "\xff\x80", 2);
	round_trip(tok, b.data, b.length, "100000 invalid bytes");
	free(b.data);
}

/*
 * Writing tokenizer keys by hand: texts are in byte-to-unicode form.
 */

struct keys {
	const char *model;
	const char *pre;
	const char *tokens[300];
	size_t n_tokens;
	int32_t types[300];
	int n_types;
	const char *merges[8];
	size_t n_merges;
	uint32_t bos;
	uint32_t eos;
};

/* GPT-2's byte-to-unicode text of one byte, in a static buffer per byte. */
static const char *
byte_text(unsigned b)
{
	static char text[256][3];
	unsigned c, next = 0x100, i;

	for (i = 0; i <= b; i++) {
		int printable = (i >= 0x21 && i <= 0x7e) ||
		    (i >= 0xa1 && i <= 0xac) || (i >= 0xae);

		c = printable ? i : next++;
	}
	if (c < 0x80) {
		text[b][0] = (char)c;
		text[b][1] = '\0';
	} else {
		text[b][0] = (char)(0xc0 | c >> 6);
		text[b][1] = (char)(0x80 | (c & 0x3f));
		text[b][2] = '\0';
	}
	return text[b];
}

/*
 * The hand-checked vocabulary: byte b has id 255 - b (not byte order, as
 * a foreign file might have it), then "th", "the", " the" (256..258), then
 * <|endoftext|> (259); merges "t h", "th e", "Ġ the".
 */
static void
small_keys(struct keys *k)
{
	unsigned b;

	memset(k, 0, sizeof *k);
	k->model = "gpt2";
	k->pre = "gpt-2";
	for (b = 0; b < 256; b++)
		k->tokens[255 - b] = byte_text(b);
	k->tokens[256] = "th";
	k->tokens[257] = "the";
	k->tokens[258] = "\xc4\xa0the";      /* "Ġthe" */
	k->tokens[259] = "<|endoftext|>";
	k->n_tokens = 260;
	for (b = 0; b < 260; b++)
		k->types[b] = 1;
	k->types[259] = 3;
	k->n_types = 260;
	k->merges[0] = "t h";
	k->merges[1] = "th e";
	k->merges[2] = "\xc4\xa0 the";
	k->n_merges = 3;
	k->bos = k->eos = 259;
}

static int
write_keys(const struct keys *k, const char *path, struct duo_error *err)
{
	struct gguf_writer *w = gguf_writer_new();
	int rc;

	if (k->model != NULL)
		gguf_writer_set_string(w, "tokenizer.ggml.model", k->model);
	if (k->pre != NULL)
		gguf_writer_set_string(w, "tokenizer.ggml.pre", k->pre);
	gguf_writer_set_string_array(w, "tokenizer.ggml.tokens", k->tokens,
	    NULL, k->n_tokens);
	gguf_writer_set_i32_array(w, "tokenizer.ggml.token_type", k->types,
	    (size_t)k->n_types);
	gguf_writer_set_string_array(w, "tokenizer.ggml.merges", k->merges,
	    NULL, k->n_merges);
	gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", k->bos);
	gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", k->eos);
	rc = gguf_writer_save(w, path, err);
	gguf_writer_free(w);
	return rc;
}

/* Write keys, load them; the tokenizer or NULL with the message in err. */
static struct tokenizer *
load_keys(const struct keys *k, const char *path, struct duo_error *err)
{
	struct gguf_file file;
	struct tokenizer *tok = NULL;

	if (write_keys(k, path, err) != 0)
		hard_error(path, err->message);
	if (gguf_open(&file, path, err) != 0)
		hard_error(path, err->message);
	if (tokenizer_load(&tok, &file, err) != 0)
		tok = NULL;
	gguf_close(&file);
	return tok;
}

static int
encodes_to(const struct tokenizer *tok, const char *text,
    const int32_t *want, size_t n_want)
{
	struct duo_error err;
	int32_t *ids;
	size_t n;
	int same;

	if (tokenizer_encode(tok, text, strlen(text), &ids, &n, NULL,
	    &err) != 0)
		return 0;
	same = n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
	free(ids);
	return same;
}

/*
 * "the then  the other" splits into "the", " then", " ", " the", " other"
 * (two spaces before a word: the first stands alone, the second joins the
 * word).  By rank: "the" -> t,h,e -> th,e -> the; " then" -> Ġ,t,h,e,n ->
 * Ġ,th,e,n -> Ġ,the,n -> " the",n; " other" -> Ġ,o,t,h,e,r -> Ġ,o,the,r
 * (no merge for o+the).  Byte b is id 255 - b.
 */
static void
test_known_answer(const char *dir)
{
	static const int32_t want[] = {
		257, 258, 255 - 'n', 255 - ' ', 258, 255 - ' ', 255 - 'o', 257,
		255 - 'r',
	};
	static const int32_t want_long[] = { 257, 257, 257, 257, 255 - 't' };
	struct duo_error err;
	struct tokenizer *tok;
	struct keys k;
	char path[4096];

	snprintf(path, sizeof path, "%s/small.gguf", dir);
	small_keys(&k);
	tok = load_keys(&k, path, &err);
	if (!expect(tok != NULL, "hand-written keys load: %s", err.message))
		return;
	expect(tokenizer_vocab_size(tok) == 260 && tokenizer_bos(tok) == 259,
	    "hand-written vocabulary: 260 tokens, BOS 259");
	expect(encodes_to(tok, "the then  the other", want,
	    sizeof want / sizeof want[0]),
	    "\"the then  the other\" encodes to the hand-checked ids");
	expect(encodes_to(tok, "thethethethet", want_long, 5),
	    "\"thethethethet\" encodes to the x4, t");
	expect(same_piece(tok, 258, " the", 4) && same_piece(tok, 255 - 'A',
	    "A", 1), "pieces are raw bytes: \" the\", \"A\"");
	round_trip(tok, "the then  the other", 19, "hand-written vocabulary");
	tokenizer_free(tok);
}

/* Each bad key gives a load error naming the file and the fault. */
static void
test_validation(const char *dir)
{
	struct duo_error err;
	struct tokenizer *tok;
	struct keys k;
	char path[4096];
	int i;

	snprintf(path, sizeof path, "%s/bad.gguf", dir);
	for (i = 0; i < 11; i++) {
		const char *want = NULL;

		small_keys(&k);
		switch (i) {
		case 0:
			k.tokens[255 - 'A'] = "\xc4\x80\xc4\x80";  /* NUL NUL */
			want = "byte 0x41 has no token";
			break;
		case 1:
			k.merges[1] = "th zz";
			want = "does not exist";
			break;
		case 2:
			k.merges[1] = "t e";
			want = "no token";
			break;
		case 3:
			k.bos = 260;
			want = "bos_token_id is 260";
			break;
		case 4:
			k.model = "llama";
			want = "\"gpt2\"";
			break;
		case 5:
			k.pre = "llama3";
			want = "\"gpt-2\"";
			break;
		case 6:
			k.tokens[257] = "t e";      /* raw space: not mapped */
			want = "tokens[257] is not byte-level";
			break;
		case 7:
			k.tokens[257] = "th";
			want = "same bytes";
			break;
		case 8:
			k.n_types = 259;
			want = "259 entries for 260 tokens";
			break;
		case 9:
			k.merges[2] = "\xc4\xa0the";
			want = "merges[2] is not two tokens";
			break;
		case 10:
			k.merges[2] = "t h";
			want = "repeats merge 0";
			break;
		}
		tok = load_keys(&k, path, &err);
		expect(tok == NULL && strstr(err.message, want) != NULL &&
		    strstr(err.message, path) != NULL &&
		    strchr(err.message, '\n') == NULL,
		    "bad keys %d: want one line with \"%s\" and the path, got "
		    "\"%s\"", i, want, tok == NULL ? err.message : "success");
		tokenizer_free(tok);
	}
	unlink(path);
}

/* Train, write, read back: the same tokenizer; the keys as documented. */
static void
test_gguf_round_trip(const struct tokenizer *tok, const struct buffer *texts,
    const char *dir)
{
	struct gguf_writer *w;
	struct gguf_file file;
	struct tokenizer *back;
	struct duo_error err;
	const struct gguf_kv *kv;
	char path[4096], *s;
	uint32_t u;
	int32_t *a, *b, id, v = tokenizer_vocab_size(tok);
	size_t na, nb, length;
	const char *p;
	int same = 1;

	snprintf(path, sizeof path, "%s/trained.gguf", dir);
	w = gguf_writer_new();
	tokenizer_write(tok, w);
	if (gguf_writer_save(w, path, &err) != 0)
		hard_error(path, err.message);
	gguf_writer_free(w);
	if (gguf_open(&file, path, &err) != 0)
		hard_error(path, err.message);
	if (!expect(tokenizer_load(&back, &file, &err) == 0,
	    "load what was written: %s", err.message)) {
		gguf_close(&file);
		return;
	}
	expect(tokenizer_vocab_size(back) == v && tokenizer_bos(back) ==
	    tokenizer_bos(tok) && tokenizer_eos(back) == tokenizer_eos(tok),
	    "read back: same size, BOS and EOS");
	for (id = 0; id < v && same; id++) {
		p = tokenizer_piece(tok, id, &length);
		same = same_piece(back, id, p, length);
	}
	expect(same, "read back: same pieces");
	if (tokenizer_encode(tok, texts->data, texts->length, &a, &na, NULL,
	    &err) != 0 || tokenizer_encode(back, texts->data, texts->length,
	    &b, &nb, NULL, &err) != 0)
		hard_error("encode", err.message);
	expect(na == nb && memcmp(a, b, na * sizeof *a) == 0,
	    "read back: same ids for the texts");
	free(a);
	free(b);

	expect(gguf_get_string(&file, "tokenizer.ggml.model", &s, &err) == 0 &&
	    strcmp(s, "gpt2") == 0, "tokenizer.ggml.model is \"gpt2\"");
	free(s);
	expect(gguf_get_string(&file, "tokenizer.ggml.pre", &s, &err) == 0 &&
	    strcmp(s, "gpt-2") == 0, "tokenizer.ggml.pre is \"gpt-2\"");
	free(s);
	expect(gguf_get_u32(&file, "tokenizer.ggml.bos_token_id", &u,
	    &err) == 0 && u == (uint32_t)v - 1 &&
	    gguf_get_u32(&file, "tokenizer.ggml.eos_token_id", &u, &err) == 0 &&
	    u == (uint32_t)v - 1, "BOS and EOS ids are UINT32 %d", v - 1);
	expect(gguf_get_array(&file, "tokenizer.ggml.token_type",
	    GGUF_TYPE_INT32, &kv, &err) == 0 && kv->array_count ==
	    (uint64_t)v && kv->value[0] == 1 &&
	    kv->value[4 * ((size_t)v - 1)] == 3,
	    "token_type: INT32, 1 for bytes, 3 for <|endoftext|>");
	expect(gguf_get_array(&file, "tokenizer.ggml.tokens",
	    GGUF_TYPE_STRING, &kv, &err) == 0 && kv->strings[' '].length ==
	    2 && memcmp(kv->strings[' '].data, "\xc4\xa0", 2) == 0 &&
	    kv->strings['a'].length == 1 && kv->strings['a'].data[0] == 'a',
	    "tokens in byte-to-unicode form: ' ' is \"\\u0120\", 'a' is \"a\"");
	expect(gguf_get_array(&file, "tokenizer.ggml.merges",
	    GGUF_TYPE_STRING, &kv, &err) == 0 && kv->array_count ==
	    (uint64_t)v - 257, "%d merges for %d tokens", v - 257, v);
	gguf_close(&file);
	tokenizer_free(back);

	/* Training is deterministic to the byte: the same file twice. */
	{
		struct tokenizer *t1, *t2;
		struct buffer f1 = { 0 }, f2 = { 0 };
		char path2[4096];

		t1 = train(texts, 600);
		t2 = train(texts, 600);
		w = gguf_writer_new();
		tokenizer_write(t1, w);
		if (gguf_writer_save(w, path, &err) != 0)
			hard_error(path, err.message);
		gguf_writer_free(w);
		snprintf(path2, sizeof path2, "%s/trained2.gguf", dir);
		w = gguf_writer_new();
		tokenizer_write(t2, w);
		if (gguf_writer_save(w, path2, &err) != 0)
			hard_error(path2, err.message);
		gguf_writer_free(w);
		read_file(path, &f1);
		read_file(path2, &f2);
		expect(f1.length == f2.length && f1.length > 0 &&
		    memcmp(f1.data, f2.data, f1.length) == 0,
		    "two trainings write identical files (merges included)");
		free(f1.data);
		free(f2.data);
		unlink(path2);
		tokenizer_free(t1);
		tokenizer_free(t2);
	}
	unlink(path);
}

static void
test_edges(const struct tokenizer *tok)
{
	struct duo_error err;
	int32_t bad[2] = { 65, 0 };
	size_t length;
	char *text;

	bad[1] = tokenizer_vocab_size(tok);
	expect(tokenizer_decode(tok, bad, 2, &text, &length, &err) == -1 &&
	    strstr(err.message, "token 1") != NULL,
	    "decoding an id past the vocabulary fails: %s", err.message);
	expect(tokenizer_piece(tok, -1, &length) == NULL && length == 0,
	    "no piece for id -1");
	expect(tokenizer_decode(tok, bad, 0, &text, &length, &err) == 0 &&
	    length == 0 && text[0] == '\0', "decoding no ids gives \"\"");
	free(text);
	/* Text that looks special is text. */
	bad[0] = tokenizer_eos(tok);
	expect(tokenizer_decode(tok, bad, 1, &text, &length, &err) == 0 &&
	    length == 13 && memcmp(text, "<|endoftext|>", 13) == 0,
	    "EOS decodes to <|endoftext|>");
	free(text);
	round_trip(tok, "<|endoftext|>", 13, "the special token's text");
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"harbour.txt", "workshop.txt", "travels.txt",
	};
	struct buffer texts = { 0 }, each[3], mixed = { 0 };
	struct tokenizer *tok;
	char path[8192], dir[4096];
	const char *srcdir = getenv("srcdir");
	uint64_t state = 99;
	size_t j;
	int i;

	if (argc > 1)
		snprintf(dir, sizeof dir, "%s", argv[1]);
	else
		snprintf(dir, sizeof dir, "%s/tests/texts",
		    srcdir ? srcdir : ".");
	memset(each, 0, sizeof each);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		read_file(path, &each[i]);
		append(&texts, each[i].data, each[i].length);
	}
	if (mkdtemp(tmpdir) == NULL)
		hard_error(tmpdir, "cannot create");

	test_training(&texts);
	test_training_known_answer();

	/* Learn merges of invalid UTF-8 too: texts plus random bytes. */
	append(&mixed, texts.data, texts.length);
	for (j = 0; j < 20000; j++) {
		char c = (char)(next_random(&state) % 8 == 0 ? 0xff :
		    next_random(&state) & 0xff);
		append(&mixed, &c, 1);
	}
	tok = train(&mixed, 700);
	test_round_trips(tok, 3, names, each);
	test_edges(tok);
	tokenizer_free(tok);

	tok = train(&texts, 600);
	test_round_trips(tok, 3, names, each);
	test_gguf_round_trip(tok, &texts, tmpdir);
	tokenizer_free(tok);

	test_known_answer(tmpdir);
	snprintf(path, sizeof path, "%s/small.gguf", tmpdir);
	unlink(path);
	test_validation(tmpdir);
	rmdir(tmpdir);

	for (i = 0; i < 3; i++)
		free(each[i].data);
	free(texts.data);
	free(mixed.data);
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
