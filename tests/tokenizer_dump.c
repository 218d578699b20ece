/*
 * tokenizer_dump.c - write a trained tokenizer and its encodings for the
 * independent reference, tests/reference/bpe_ref.py.
 *
 * Usage: tokenizer_dump [-a] DIR VOCAB_SIZE FILE...
 *
 * Makes cases from the FILEs and from generated inputs (random bytes, a
 * small alphabet of ASCII and multibyte characters, long runs that take the
 * long-piece merge path), trains a tokenizer of VOCAB_SIZE on the FILEs
 * (with -a, on all cases, so that merges of invalid UTF-8 and of long runs
 * are learned too), and writes DIR/model.gguf, DIR/train.text (the
 * training text) and, for every case, case-N.bin (input) and case-N.ids
 * (ids, one a line).
 * Exit status 0, or 99 on any error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

struct buffer {
	char *data;
	size_t length;
	size_t capacity;
};

static void
fail(const char *message)
{
	fprintf(stderr, "tokenizer_dump: %s\n", message);
	exit(99);
}

static void
append(struct buffer *b, const void *p, size_t n)
{
	while (b->length + n + 1 > b->capacity) {
		b->capacity = 2 * b->capacity + 4096;
		b->data = realloc(b->data, b->capacity);
		if (b->data == NULL)
			fail("out of memory");
	}
	memcpy(b->data + b->length, p, n);
	b->length += n;
}

/* splitmix64: a seeded generator, so every run dumps the same cases. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *const alphabet[] = {
	"a", "b", "t", "h", "e", "s", " ", " ", "  ", "\t", "\n", "'", "'s",
	"'t", "'ll", "1", "2", "0", ".", ",", "!", "-", "\xc3\xa9" /* é */,
	"\xc3\xaf" /* ï */, "\xe2\x80\x94" /* em dash */,
	"\xe6\x9d\xb1" /* 東 */, "\xe4\xba\xac" /* 京 */, "\xc3\x9f" /* ß */,
	"\xce\xa9" /* Ω */, "\xf0\x9f\x99\x82" /* U+1F642 */, "\r\n",
};

#define N_ALPHABET (sizeof alphabet / sizeof alphabet[0])

/* The generated cases: kind k of 5, i-th of its kind. */
static void
generate(struct buffer *b, int kind, uint64_t *state)
{
	size_t n, i;
	char c;

	switch (kind) {
	case 0:         /* uniform bytes: invalid UTF-8 and NULs */
		n = next_random(state) % 301;
		for (i = 0; i < n; i++) {
			c = (char)(next_random(state) & 0xff);
			append(b, &c, 1);
		}
		break;
	case 1:         /* small alphabet */
		n = next_random(state) % 200;
		for (i = 0; i < n; i++) {
			const char *s = alphabet[next_random(state) %
			    N_ALPHABET];
			append(b, s, strlen(s));
		}
		break;
	case 2:         /* one long word: the long-piece merge path */
		n = 100 + next_random(state) % 900;
		for (i = 0; i < n; i++) {
			c = "ttheehs"[next_random(state) % 7];
			append(b, &c, 1);
		}
		break;
	case 3:         /* long whitespace with a word here and there */
		n = 200 + next_random(state) % 600;
		for (i = 0; i < n; i++) {
			uint64_t r = next_random(state) % 20;
			const char *s = r < 14 ? " " : r < 17 ? "\t" :
			    r < 19 ? "\n" : "the";
			append(b, s, strlen(s));
		}
		break;
	default:        /* long runs of invalid bytes between words */
		n = 20 + next_random(state) % 60;
		for (i = 0; i < n; i++) {
			uint64_t r = next_random(state) % 4;
			const char *s = r == 0 ? "\xff\xfe\x80" : r == 1 ?
			    "\xc3" : r == 2 ? " the" : "\xe2\x80";
			append(b, s, strlen(s));
		}
		break;
	}
}

static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (n > 0 && fwrite(data, 1, n, f) != n) ||
	    fclose(f) != 0)
		fail(path);
}

static void
read_file(const char *path, struct buffer *b)
{
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		fail(path);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		append(b, chunk, n);
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct buffer cases[1024], all = { 0 };
	size_t n_cases = 0, i, k, n_ids;
	struct tokenizer *tok;
	struct gguf_writer *w;
	struct duo_error err;
	uint64_t state = 20240611;
	char path[4096];
	const char *dir;
	int32_t *ids;
	FILE *f;
	int vocab, kind, train_all = 0, first = 1;
	size_t n_files;

	if (argc > 1 && strcmp(argv[1], "-a") == 0) {
		train_all = 1;
		first = 2;
	}
	if (argc - first < 3) {
		fprintf(stderr, "usage: tokenizer_dump [-a] DIR VOCAB_SIZE "
		    "FILE...\n");
		return 99;
	}
	dir = argv[first];
	vocab = atoi(argv[first + 1]);
	memset(cases, 0, sizeof cases);
	for (i = (size_t)first + 2; i < (size_t)argc && n_cases < 64; i++)
		read_file(argv[i], &cases[n_cases++]);
	n_files = n_cases;
	for (kind = 0; kind < 5; kind++)
		for (k = 0; k < (kind < 2 ? 300 : 20); k++)
			generate(&cases[n_cases++], kind, &state);
	for (i = 0; i < (train_all ? n_cases : n_files); i++)
		append(&all, cases[i].data ? cases[i].data : "",
		    cases[i].length);
	if (tokenizer_train(&tok, all.data, all.length, vocab, &err) != 0)
		fail(err.message);
	w = gguf_writer_new();
	tokenizer_write(tok, w);
	snprintf(path, sizeof path, "%s/train.text", dir);
	write_file(path, all.data, all.length);
	snprintf(path, sizeof path, "%s/model.gguf", dir);
	if (gguf_writer_save(w, path, &err) != 0)
		fail(err.message);
	gguf_writer_free(w);
	for (i = 0; i < n_cases; i++) {
		if (tokenizer_encode(tok, cases[i].data ? cases[i].data : "",
		    cases[i].length, &ids, &n_ids, NULL, &err) != 0)
			fail(err.message);
		snprintf(path, sizeof path, "%s/case-%04zu.bin", dir, i);
		write_file(path, cases[i].data, cases[i].length);
		snprintf(path, sizeof path, "%s/case-%04zu.ids", dir, i);
		if ((f = fopen(path, "w")) == NULL)
			fail(path);
		for (k = 0; k < n_ids; k++)
			fprintf(f, "%d\n", (int)ids[k]);
		if (fclose(f) != 0)
			fail(path);
		free(ids);
		free(cases[i].data);
	}
	free(all.data);
	printf("tokenizer_dump: %zu cases, vocabulary %d\n", n_cases,
	    tokenizer_vocab_size(tok));
	tokenizer_free(tok);
	return 0;
}
