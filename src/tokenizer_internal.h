/*
 * tokenizer_internal.h - what tokenizer.c lends tokenizer_train.c: the
 * hash tables, growable arrays and binary heap both use, the GPT-2
 * pre-splitter, and the one place a tokenizer is built and checked
 * (tokenizer_build).  Nothing outside those two files includes it.
 *
 * The lookups that run once per symbol or pair (hashing, finding, growing,
 * the heap) are static inline here, so that each file gets its own inlined
 * copy; the rest is defined in tokenizer.c.  A token here is its raw bytes;
 * the GGUF text form stays inside tokenizer.c.
 */
#ifndef DUO_TOKENIZER_INTERNAL_H
#define DUO_TOKENIZER_INTERNAL_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer.h"

/* tokenizer.ggml.token_type values (llama.cpp's numbering). */
enum token_type {
	TOKEN_TYPE_NORMAL = 1,
	TOKEN_TYPE_CONTROL = 3,
	TOKEN_TYPE_USER_DEFINED = 4,
};

/*
 * Hashing.
 */

/* Hash a byte string (a 64-bit multiply-xorshift mix, 8 bytes a step). */
static inline uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
	uint64_t v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 29;
	return h;
}

/*
 * Make room for n more elements of size bytes after used in the growable
 * array whose pointer is at array (any object pointer type; it is read and
 * written with memcpy).
 */
static inline int
grow(void *array, size_t *capacity, size_t used, size_t n, size_t size)
{
	size_t want, cap = *capacity;
	void *old, *bigger;

	if (n <= cap - used)
		return 0;
	if (n > SIZE_MAX / size - used)
		return -1;
	want = used + n;
	while (cap < want)
		cap = cap < SIZE_MAX / size / 2 ? 2 * cap + 16 : want;
	if (cap > SIZE_MAX / size)
		cap = want;
	memcpy(&old, array, sizeof old);
	bigger = realloc(old, cap * size);
	if (bigger == NULL)
		return -1;
	memcpy(array, &bigger, sizeof bigger);
	*capacity = cap;
	return 0;
}

/*
 * A hash map from a pair of token ids to an int32 value (open addressing,
 * linear probing, load at most one half).
 */
struct pair_table {
	uint64_t *keys;                /* (capacity); PAIR_EMPTY when free */
	int32_t *values;               /* (capacity) */
	unsigned shift;                /* capacity = 2^(64 - shift) */
	size_t count;
};

#define PAIR_EMPTY UINT64_MAX

/* Make an empty table with room for expected pairs. */
int pair_table_init(struct pair_table *t, size_t expected);
void pair_table_free(struct pair_table *t);
/* Insert or replace the value of (left, right). */
int pair_table_put(struct pair_table *t, int32_t left, int32_t right,
    int32_t value);

/* Pack a pair of ids into one key. */
static inline uint64_t
pair_key(int32_t left, int32_t right)
{
	return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

/* Fibonacci hashing: the high bits of key * 2^64/phi pick the slot. */
static inline size_t
pair_table_slot(const struct pair_table *t, uint64_t key)
{
	size_t mask = ((size_t)1 << (64 - t->shift)) - 1;
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> t->shift);

	while (t->keys[i] != PAIR_EMPTY && t->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

/* Find the value of (left, right), or -1. */
static inline int32_t
pair_table_find(const struct pair_table *t, int32_t left, int32_t right)
{
	uint64_t key = pair_key(left, right);
	size_t i = pair_table_slot(t, key);

	return t->keys[i] == key ? t->values[i] : -1;
}

/* A hash map from a byte string (borrowed, not copied) to an int32 value. */
struct string_slot {
	const char *data;
	size_t length;
	uint64_t hash;
	int32_t value;                 /* -1 when free */
};

struct string_table {
	struct string_slot *slots;     /* (mask + 1) */
	size_t mask;
	size_t count;
};

/* Make an empty table with room for expected strings. */
int string_table_init(struct string_table *t, size_t expected);
void string_table_free(struct string_table *t);
/* Insert data (which must be absent) with value; data stays borrowed. */
int string_table_insert(struct string_table *t, const char *data,
    size_t length, uint64_t hash, int32_t value);

/* The slot holding data, or the free slot where it belongs. */
static inline struct string_slot *
string_table_slot(const struct string_table *t, const char *data,
    size_t length, uint64_t hash)
{
	size_t i = (size_t)hash & t->mask;
	struct string_slot *s;

	for (;;) {
		s = &t->slots[i];
		if (s->value < 0 || (s->hash == hash && s->length == length &&
		    memcmp(s->data, data, length) == 0))
			return s;
		i = (i + 1) & t->mask;
	}
}

/* Find the value of a byte string, or -1. */
static inline int32_t
string_table_find(const struct string_table *t, const char *data,
    size_t length)
{
	return string_table_slot(t, data, length,
	    hash_bytes(data, length))->value;
}

/*
 * A binary heap of items of one size in a growable array: before(a, b,
 * context) is true when a must come out before b.  The encoder's merge
 * candidates and the trainer's pairs both live in one; push and pop are
 * static inline so that each caller's comparison is inlined into its copy,
 * as fast as a heap written for one type.
 */
struct heap {
	void *items;                   /* (capacity) items of the caller's size */
	size_t n;
	size_t capacity;
};

typedef int heap_before_fn(const void *a, const void *b,
    const void *context);

/* Add a copy of item (size bytes) to the heap. */
static inline int
heap_push(struct heap *h, const void *item, size_t size,
    heap_before_fn *before, const void *context)
{
	char *items;
	size_t i, parent;

	if (grow(&h->items, &h->capacity, h->n, 1, size) != 0)
		return -1;
	items = h->items;
	i = h->n++;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!before(item, items + parent * size, context))
			break;
		memcpy(items + i * size, items + parent * size, size);
		i = parent;
	}
	memcpy(items + i * size, item, size);
	return 0;
}

/*
 * Take the first item out of a heap that is not empty, into top.  The last
 * item waits in its old place, past the shrunk heap, while the hole sinks.
 */
static inline void
heap_pop(struct heap *h, void *top, size_t size, heap_before_fn *before,
    const void *context)
{
	char *items = h->items, *last;
	size_t i = 0, child, n;

	memcpy(top, items, size);
	n = --h->n;
	last = items + n * size;
	for (;;) {
		child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n && before(items + (child + 1) * size,
		    items + child * size, context))
			child++;
		if (!before(items + child * size, last, context))
			break;
		memcpy(items + i * size, items + child * size, size);
		i = child;
	}
	if (n > 0)
		memcpy(items + i * size, last, size);
}

static inline void
heap_free(struct heap *h)
{
	free(h->items);
	h->items = NULL;
	h->n = h->capacity = 0;
}

/*
 * Pre-tokenization: GPT-2's pattern, and a walk over a text piece by
 * piece (the pattern's matches and the invalid UTF-8 between them).
 */

/* Compile GPT-2's pre-tokenizer pattern (JIT when available). */
int gpt2_pattern_compile(pcre2_code **out, struct duo_error *err);

struct splitter {
	const pcre2_code *pattern;
	pcre2_match_data *match;
	const char *text;
	size_t length;
	size_t position;               /* first byte not yet returned */
	size_t match_start;            /* pending match, if have_match */
	size_t match_end;
	int have_match;
};

int splitter_init(struct splitter *s, const pcre2_code *pattern,
    const char *text, size_t length, struct duo_error *err);
void splitter_free(struct splitter *s);
/* Find the next piece [*start, *end): 1, or 0 at the end, or -1. */
int splitter_next(struct splitter *s, size_t *start, size_t *end,
    struct duo_error *err);

/*
 * A vocabulary as raw token bytes and merges as id pairs: loading and
 * training both end in tokenizer_build(), where all checking lives.
 */
struct vocab_source {
	int32_t n_vocab;
	const char *const *piece;      /* (n_vocab) raw bytes */
	const size_t *piece_length;    /* (n_vocab) */
	const int32_t *token_type;     /* (n_vocab) */
	int32_t n_merges;
	const int32_t *merge_left;     /* (n_merges) */
	const int32_t *merge_right;    /* (n_merges) */
	int32_t bos;
	int32_t eos;
	const char *name;              /* for messages */
};

/* Check a vocabulary and its merges and make a tokenizer of them. */
int tokenizer_build(struct tokenizer **out, const struct vocab_source *src,
    struct duo_error *err);

#endif
