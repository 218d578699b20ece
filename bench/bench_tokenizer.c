/*
 * bench_tokenizer.c - BPE training time and encoding throughput.
 *
 * Usage: bench_tokenizer [TEXTS_DIR] [MEGABYTES]
 *        (default $srcdir/tests/texts, 4)
 *
 * The benchmark text is generated, not repeated: the encoder caches the
 * pieces it has seen within a call, so a repeated text would measure the
 * cache.  The words of the test texts plus pseudo-words glued from pieces
 * of them make 50000 word types; sentences draw words from a Zipf
 * distribution over those types (the real words most frequent), with
 * numbers and punctuation now and then, from a seeded generator.  Like
 * real prose, the text keeps meeting words it has not seen before.
 *
 * Prints the training time of a 4096-token vocabulary on the text, and the
 * median of 5 encodings of the whole text in MB/s (10^6 bytes a second).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer.h"
#include "tokenizer_train.h"

#define N_TYPES 50000
#define N_RUNS 5

struct buffer {
	char *data;
	size_t length;
	size_t capacity;
};

static void
fail(const char *what)
{
	fprintf(stderr, "bench_tokenizer: %s\n", what);
	exit(1);
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
	b->data[b->length] = '\0';
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

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
uniform(uint64_t *state)
{
	return (double)(next_random(state) >> 11) / 9007199254740992.0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Word types: the texts' words (space-separated) first, then made-up ones. */
static size_t
make_types(const struct buffer *texts, char **types, uint64_t *state)
{
	size_t n = 0, i, start, k, length;
	const char *t = texts->data;
	char word[64];

	for (i = 0; i < texts->length && n < N_TYPES; ) {
		while (i < texts->length && isspace((unsigned char)t[i]))
			i++;
		start = i;
		while (i < texts->length && !isspace((unsigned char)t[i]))
			i++;
		length = i - start;
		if (length == 0 || length >= sizeof word)
			continue;
		for (k = 0; k < n; k++)
			if (strlen(types[k]) == length &&
			    memcmp(types[k], t + start, length) == 0)
				break;
		if (k < n)
			continue;
		types[n] = strndup(t + start, length);
		if (types[n] == NULL)
			fail("out of memory");
		n++;
	}
	if (n == 0)
		fail("no words in the texts");
	/* Pseudo-words: 2 to 4 chunks of 2 to 4 letters cut from words. */
	while (n < N_TYPES) {
		size_t parts = 2 + next_random(state) % 3, used = 0, p;

		for (p = 0; p < parts; p++) {
			const char *w = types[next_random(state) % n];
			size_t wl = strlen(w), cut = 2 + next_random(state) % 3;
			size_t from;

			if (wl < cut)
				cut = wl;
			from = next_random(state) % (wl - cut + 1);
			for (k = 0; k < cut; k++)
				if (isalpha((unsigned char)w[from + k]))
					word[used++] = (char)tolower(
					    (unsigned char)w[from + k]);
		}
		if (used < 2)
			continue;
		types[n] = strndup(word, used);
		if (types[n] == NULL)
			fail("out of memory");
		n++;
	}
	return n;
}

static void
make_text(struct buffer *out, size_t bytes, char **types, size_t n_types,
    uint64_t *state)
{
	static const char *const ends[] = { ". ", ". ", ". ", "? ", "! ",
	    ".\n\n", ", ", "; ", " -- " };
	double *cumulative = malloc(n_types * sizeof *cumulative), total = 0;
	size_t i, lo, hi, words_left = 0;
	char number[32];

	if (cumulative == NULL)
		fail("out of memory");
	for (i = 0; i < n_types; i++) {
		total += 1.0 / (double)(i + 1);
		cumulative[i] = total;
	}
	while (out->length < bytes) {
		double u = uniform(state) * total;

		if (words_left == 0) {
			const char *end = ends[next_random(state) % 9];

			if (out->length > 0)
				append(out, end, strlen(end));
			words_left = 5 + next_random(state) % 16;
		} else {
			append(out, " ", 1);
		}
		words_left--;
		if (next_random(state) % 40 == 0) {
			snprintf(number, sizeof number, "%u",
			    (unsigned)(next_random(state) % 100000));
			append(out, number, strlen(number));
			continue;
		}
		lo = 0;
		hi = n_types - 1;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cumulative[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		append(out, types[lo], strlen(types[lo]));
	}
	free(cumulative);
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"harbour.txt", "workshop.txt", "travels.txt",
	};
	struct buffer texts = { 0 }, text = { 0 };
	struct tokenizer *tok;
	struct duo_error err;
	char path[8192], *types[N_TYPES];
	const char *srcdir = getenv("srcdir"), *dir;
	double t0, train_seconds, rates[N_RUNS];
	uint64_t state = 4096;
	size_t n_types, n_ids = 0, i, megabytes;
	int32_t *ids;

	dir = argc > 1 ? argv[1] : NULL;
	megabytes = argc > 2 ? (size_t)atoi(argv[2]) : 4;
	for (i = 0; i < 3; i++) {
		if (dir != NULL)
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		else
			snprintf(path, sizeof path, "%s/tests/texts/%s",
			    srcdir ? srcdir : ".", names[i]);
		read_file(path, &texts);
		append(&texts, "\n", 1);
	}
	n_types = make_types(&texts, types, &state);
	make_text(&text, megabytes * 1000000, types, n_types, &state);
	printf("text: %.2f MB of generated sentences, Zipf over %zu word "
	    "types (the test texts' words and pseudo-words from them)\n",
	    (double)text.length / 1e6, n_types);

	t0 = now();
	if (tokenizer_train(&tok, text.data, text.length, 4096, &err) != 0)
		fail(err.message);
	train_seconds = now() - t0;
	printf("train: vocabulary %d in %.2f s\n", tokenizer_vocab_size(tok),
	    train_seconds);

	for (i = 0; i < N_RUNS; i++) {
		t0 = now();
		if (tokenizer_encode(tok, text.data, text.length, &ids, &n_ids,
		    NULL, &err) != 0)
			fail(err.message);
		rates[i] = (double)text.length / 1e6 / (now() - t0);
		free(ids);
	}
	qsort(rates, N_RUNS, sizeof rates[0], compare_double);
	printf("encode: %.1f MB/s median of %d (min %.1f, max %.1f), %zu "
	    "tokens, %.2f bytes a token\n", rates[N_RUNS / 2], N_RUNS,
	    rates[0], rates[N_RUNS - 1], n_ids,
	    (double)text.length / (double)n_ids);

	tokenizer_free(tok);
	for (i = 0; i < n_types; i++)
		free(types[i]);
	free(texts.data);
	free(text.data);
	return 0;
}
