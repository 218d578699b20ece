/*
 * tokenizer.c - GPT-2 byte-level BPE: pre-tokenization with PCRE2, encoding
 * by merge rank, building a checked tokenizer from a vocabulary and its
 * merges, and the tokenizer.ggml.* GGUF keys.  Training the merges is
 * tokenizer_train.c; what the two share is tokenizer_internal.h.
 *
 * Inside this file a token is its raw bytes; the byte-to-unicode text form
 * of GPT-2 (every byte shown as a printable code point) exists only at the
 * GGUF boundary, in tokenizer_load() and tokenizer_write().
 *
 * Pre-tokenization.  PCRE2 runs GPT-2's pattern with PCRE2_MATCH_INVALID_UTF,
 * so a byte that is not part of well-formed UTF-8 matches nothing and no
 * match crosses it.  Every well-formed character (NUL included) is matched
 * by some alternative of the pattern, so the bytes between two matches are
 * exactly the invalid sequences.  Each maximal run of such bytes becomes one
 * piece of its own, and is merged like any other piece; this keeps any byte
 * string encodable and decode(encode(x)) == x.
 *
 * Special tokens are never produced by tokenizer_encode(): "<|endoftext|>"
 * in the input is plain text.  Callers add BOS by id.
 */
#include "tokenizer_internal.h"

/* GPT-2's pre-tokenizer pattern (OpenAI's encoder.py). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";

/* Mapped code points are U+0021..U+0143; anything above is not byte-level. */
#define MAPPED_LIMIT 0x144

/*
 * The piece cache of one encode call keeps a piece of up to CACHE_KEY bytes
 * with up to CACHE_IDS ids in one 64-byte slot, so that a hit costs one
 * memory access; at most CACHE_MAX_ENTRIES pieces (16 MB of slots).
 */
#define CACHE_KEY 22
#define CACHE_IDS 8
#define CACHE_MAX_ENTRIES ((size_t)1 << 17)
/* Pieces longer than this use the heap-driven merge loop. */
#define SHORT_PIECE 96

struct tokenizer {
	int32_t n_vocab;
	char *piece_data;              /* every token's raw bytes, then a NUL */
	size_t *piece_offset;          /* (n_vocab + 1) into piece_data */
	int32_t *token_type;           /* (n_vocab) */
	int32_t byte_token[256];       /* token of each single byte */
	int32_t n_merges;
	int32_t *merge_left;           /* (n_merges), by rank */
	int32_t *merge_right;          /* (n_merges) */
	int32_t *merge_result;         /* (n_merges) */
	struct pair_table merge_rank;  /* (left, right) -> rank */
	int32_t bos;
	int32_t eos;
	/* GGUF text forms, made once so that tokenizer_write() cannot fail. */
	char *text_data;
	const char **token_text;       /* (n_vocab) */
	size_t *token_text_length;     /* (n_vocab) */
	const char **merge_text;       /* (n_merges) "left right" */
	size_t *merge_text_length;     /* (n_merges) */
	pcre2_code *pattern;
};

/*
 * Hash tables (tokenizer_internal.h has their lookups).
 */

int
pair_table_init(struct pair_table *t, size_t expected)
{
	unsigned bits = 4;
	size_t capacity, i;

	while (bits < 40 && ((size_t)1 << bits) < 2 * expected)
		bits++;
	capacity = (size_t)1 << bits;
	t->keys = malloc(capacity * sizeof *t->keys);
	t->values = malloc(capacity * sizeof *t->values);
	if (t->keys == NULL || t->values == NULL) {
		free(t->keys);
		free(t->values);
		t->keys = NULL;
		t->values = NULL;
		return -1;
	}
	for (i = 0; i < capacity; i++)
		t->keys[i] = PAIR_EMPTY;
	t->shift = 64 - bits;
	t->count = 0;
	return 0;
}

void
pair_table_free(struct pair_table *t)
{
	free(t->keys);
	free(t->values);
	t->keys = NULL;
	t->values = NULL;
}

/* Insert or replace; keeps the load at most one half. */
int
pair_table_put(struct pair_table *t, int32_t left, int32_t right,
    int32_t value)
{
	uint64_t key = pair_key(left, right);
	size_t capacity = (size_t)1 << (64 - t->shift), i;

	if (2 * (t->count + 1) > capacity) {
		struct pair_table bigger;

		if (pair_table_init(&bigger, capacity) != 0)
			return -1;
		for (i = 0; i < capacity; i++) {
			if (t->keys[i] == PAIR_EMPTY)
				continue;
			size_t j = pair_table_slot(&bigger, t->keys[i]);
			bigger.keys[j] = t->keys[i];
			bigger.values[j] = t->values[i];
		}
		bigger.count = t->count;
		pair_table_free(t);
		*t = bigger;
	}
	i = pair_table_slot(t, key);
	if (t->keys[i] == PAIR_EMPTY) {
		t->keys[i] = key;
		t->count++;
	}
	t->values[i] = value;
	return 0;
}

int
string_table_init(struct string_table *t, size_t expected)
{
	size_t capacity = 16, i;

	while (capacity < 2 * expected && capacity < SIZE_MAX / 4)
		capacity *= 2;
	t->slots = malloc(capacity * sizeof *t->slots);
	if (t->slots == NULL)
		return -1;
	for (i = 0; i < capacity; i++)
		t->slots[i].value = -1;
	t->mask = capacity - 1;
	t->count = 0;
	return 0;
}

void
string_table_free(struct string_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Grow to keep the load at most one half before one more insertion. */
static int
string_table_reserve(struct string_table *t)
{
	struct string_table bigger;
	size_t i;

	if (2 * (t->count + 1) <= t->mask + 1)
		return 0;
	if (t->mask + 1 > SIZE_MAX / 4 / sizeof *t->slots)
		return -1;
	if (string_table_init(&bigger, t->mask + 1) != 0)
		return -1;
	for (i = 0; i <= t->mask; i++) {
		if (t->slots[i].value < 0)
			continue;
		*string_table_slot(&bigger, t->slots[i].data,
		    t->slots[i].length, t->slots[i].hash) = t->slots[i];
	}
	bigger.count = t->count;
	string_table_free(t);
	*t = bigger;
	return 0;
}

/* Insert data (which must be absent) with value. */
int
string_table_insert(struct string_table *t, const char *data,
    size_t length, uint64_t hash, int32_t value)
{
	struct string_slot *s;

	if (string_table_reserve(t) != 0)
		return -1;
	s = string_table_slot(t, data, length, hash);
	s->data = data;
	s->length = length;
	s->hash = hash;
	s->value = value;
	t->count++;
	return 0;
}

/*
 * GPT-2's bytes_to_unicode.
 */

static int
byte_is_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) ||
	    (b >= 0xae && b <= 0xff);
}

/* Fill the code point of every byte and, for code points, their byte. */
static void
byte_map(uint16_t to_code_point[256], int16_t to_byte[MAPPED_LIMIT])
{
	unsigned b, next = 0x100;

	for (b = 0; b < MAPPED_LIMIT; b++)
		to_byte[b] = -1;
	for (b = 0; b < 256; b++) {
		to_code_point[b] = byte_is_printable(b) ? b : next++;
		to_byte[to_code_point[b]] = (int16_t)b;
	}
}

static char *
mapped_write(char *out, const char *raw, size_t n,
    const uint16_t to_code_point[256])
{
	size_t i;
	unsigned c;

	for (i = 0; i < n; i++) {
		c = to_code_point[(unsigned char)raw[i]];
		if (c < 0x80) {
			*out++ = (char)c;
		} else {
			*out++ = (char)(0xc0 | c >> 6);
			*out++ = (char)(0x80 | (c & 0x3f));
		}
	}
	return out;
}

/*
 * Turn text form back into raw bytes (out has room for n bytes).  Returns
 * the raw length, or -1 if the text is not in byte-to-unicode form.
 */
static long long
mapped_read(const char *text, size_t n, const int16_t to_byte[MAPPED_LIMIT],
    char *out)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, length = 0;
	unsigned c;

	while (i < n) {
		if (p[i] < 0x80) {
			c = p[i++];
		} else if ((p[i] & 0xe0) == 0xc0 && i + 1 < n &&
		    (p[i + 1] & 0xc0) == 0x80) {
			c = (p[i] & 0x1fu) << 6 | (p[i + 1] & 0x3fu);
			i += 2;
		} else {
			return -1;
		}
		if (c >= MAPPED_LIMIT || to_byte[c] < 0)
			return -1;
		out[length++] = (char)to_byte[c];
	}
	return (long long)length;
}

/*
 * Pre-tokenization.
 */

int
gpt2_pattern_compile(pcre2_code **out, struct duo_error *err)
{
	PCRE2_UCHAR message[256];
	PCRE2_SIZE offset;
	int code;

	*out = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &offset,
	    NULL);
	if (*out == NULL) {
		pcre2_get_error_message(code, message, sizeof message);
		return error_set(err, "tokenizer: pattern at offset %zu: %s",
		    (size_t)offset, (const char *)message);
	}
	/* JIT is several times faster; without it the interpreter runs. */
	(void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
	return 0;
}

/* Start walking text piece by piece. */
int
splitter_init(struct splitter *s, const pcre2_code *pattern,
    const char *text, size_t length, struct duo_error *err)
{
	memset(s, 0, sizeof *s);
	s->pattern = pattern;
	s->text = text;
	s->length = length;
	s->match = pcre2_match_data_create_from_pattern(pattern, NULL);
	if (s->match == NULL)
		return error_set(err, "tokenizer: out of memory");
	return 0;
}

/* Free the splitter's match data. */
void
splitter_free(struct splitter *s)
{
	pcre2_match_data_free(s->match);
	s->match = NULL;
}

/* Find the next piece [*start, *end): 1, or 0 at the end, or -1. */
int
splitter_next(struct splitter *s, size_t *start, size_t *end,
    struct duo_error *err)
{
	PCRE2_UCHAR message[256];
	PCRE2_SIZE *ovector;
	int rc;

	if (s->position >= s->length)
		return 0;
	if (!s->have_match) {
		/*
		 * With PCRE2_MATCH_INVALID_UTF, pcre2_match() does not check
		 * the whole subject's UTF-8 on every call, which would make
		 * this loop quadratic.
		 */
		rc = pcre2_match(s->pattern, (PCRE2_SPTR)s->text, s->length,
		    s->position, 0, s->match, NULL);
		if (rc == PCRE2_ERROR_NOMATCH) {
			s->match_start = s->match_end = s->length;
		} else if (rc < 0) {
			pcre2_get_error_message(rc, message, sizeof message);
			return error_set(err, "tokenizer: at byte %zu: %s",
			    s->position, (const char *)message);
		} else {
			ovector = pcre2_get_ovector_pointer(s->match);
			s->match_start = ovector[0];
			s->match_end = ovector[1];
			if (s->match_end <= s->match_start ||
			    s->match_start < s->position)
				return error_set(err, "tokenizer: empty match "
				    "at byte %zu", s->position);
		}
		s->have_match = 1;
	}
	*start = s->position;
	if (s->match_start > s->position) {
		/* Invalid UTF-8 that no match may cross: one piece. */
		*end = s->match_start;
	} else {
		*end = s->match_end;
		s->have_match = 0;
	}
	s->position = *end;
	return 1;
}

/*
 * Building a tokenizer from raw token bytes and merges given as id pairs;
 * both loading and training end here, and all validation lives here.
 */

static int
token_is_raw(int32_t type)
{
	return type == TOKEN_TYPE_CONTROL || type == TOKEN_TYPE_USER_DEFINED;
}

/* Copy the raw pieces and index the byte-level ones (bytes -> id). */
static int
build_pieces(struct tokenizer *tok, const struct vocab_source *src,
    struct string_table *by_bytes, struct duo_error *err)
{
	size_t total = 0, offset = 0;
	int32_t i;
	struct string_slot *slot;
	uint64_t hash;

	for (i = 0; i < src->n_vocab; i++) {
		if (src->piece_length[i] > SIZE_MAX - 1 - total)
			return error_set(err, "%s: tokens too long", src->name);
		total += src->piece_length[i] + 1;
	}
	tok->piece_data = malloc(total);
	tok->piece_offset = malloc(((size_t)src->n_vocab + 1) *
	    sizeof *tok->piece_offset);
	tok->token_type = malloc((size_t)src->n_vocab *
	    sizeof *tok->token_type);
	if (tok->piece_data == NULL || tok->piece_offset == NULL ||
	    tok->token_type == NULL ||
	    string_table_init(by_bytes, (size_t)src->n_vocab) != 0)
		return error_set(err, "%s: out of memory", src->name);
	for (i = 0; i < 256; i++)
		tok->byte_token[i] = -1;
	for (i = 0; i < src->n_vocab; i++) {
		tok->piece_offset[i] = offset;
		memcpy(tok->piece_data + offset, src->piece[i],
		    src->piece_length[i]);
		tok->piece_data[offset + src->piece_length[i]] = '\0';
		tok->token_type[i] = src->token_type[i];
		offset += src->piece_length[i] + 1;
	}
	tok->piece_offset[src->n_vocab] = offset;
	for (i = 0; i < src->n_vocab; i++) {
		const char *p = tok->piece_data + tok->piece_offset[i];
		size_t n = src->piece_length[i];

		if (token_is_raw(tok->token_type[i]))
			continue;
		if (n == 0)
			return error_set(err, "%s: token %d is empty",
			    src->name, (int)i);
		hash = hash_bytes(p, n);
		slot = string_table_slot(by_bytes, p, n, hash);
		if (slot->value >= 0)
			return error_set(err, "%s: tokens %d and %d are the "
			    "same bytes", src->name, (int)slot->value, (int)i);
		if (string_table_insert(by_bytes, p, n, hash, i) != 0)
			return error_set(err, "%s: out of memory", src->name);
		if (n == 1)
			tok->byte_token[(unsigned char)p[0]] = i;
	}
	for (i = 0; i < 256; i++)
		if (tok->byte_token[i] < 0)
			return error_set(err, "%s: byte 0x%02x has no token",
			    src->name, (unsigned)i);
	return 0;
}

static const char *
piece_of(const struct tokenizer *tok, int32_t id, size_t *length)
{
	*length = tok->piece_offset[id + 1] - tok->piece_offset[id] - 1;
	return tok->piece_data + tok->piece_offset[id];
}

/* Check every merge and index it: (left, right) -> rank, and its result. */
static int
build_merges(struct tokenizer *tok, const struct vocab_source *src,
    const struct string_table *by_bytes, struct duo_error *err)
{
	size_t left_length, right_length, n;
	const char *left, *right;
	char *joined = NULL;
	size_t joined_capacity = 0;
	int32_t r, a, b, result;

	tok->n_merges = src->n_merges;
	n = (size_t)src->n_merges;
	tok->merge_left = malloc((n + 1) * sizeof *tok->merge_left);
	tok->merge_right = malloc((n + 1) * sizeof *tok->merge_right);
	tok->merge_result = malloc((n + 1) * sizeof *tok->merge_result);
	if (tok->merge_left == NULL || tok->merge_right == NULL ||
	    tok->merge_result == NULL || pair_table_init(&tok->merge_rank, n))
		return error_set(err, "%s: out of memory", src->name);
	for (r = 0; r < src->n_merges; r++) {
		a = src->merge_left[r];
		b = src->merge_right[r];
		if (a < 0 || a >= src->n_vocab || b < 0 || b >= src->n_vocab ||
		    token_is_raw(tok->token_type[a]) ||
		    token_is_raw(tok->token_type[b])) {
			free(joined);
			return error_set(err, "%s: merge %d names a token that "
			    "is not in the vocabulary", src->name, (int)r);
		}
		left = piece_of(tok, a, &left_length);
		right = piece_of(tok, b, &right_length);
		if (left_length + right_length > joined_capacity) {
			char *bigger;

			joined_capacity = 2 * (left_length + right_length);
			bigger = realloc(joined, joined_capacity);
			if (bigger == NULL) {
				free(joined);
				return error_set(err, "%s: out of memory",
				    src->name);
			}
			joined = bigger;
		}
		memcpy(joined, left, left_length);
		memcpy(joined + left_length, right, right_length);
		result = string_table_find(by_bytes, joined,
		    left_length + right_length);
		if (result < 0) {
			free(joined);
			return error_set(err, "%s: merge %d joins tokens %d "
			    "and %d into bytes that are no token", src->name,
			    (int)r, (int)a, (int)b);
		}
		if (pair_table_find(&tok->merge_rank, a, b) >= 0) {
			free(joined);
			return error_set(err, "%s: merge %d repeats merge %d",
			    src->name, (int)r,
			    (int)pair_table_find(&tok->merge_rank, a, b));
		}
		if (pair_table_put(&tok->merge_rank, a, b, r) != 0) {
			free(joined);
			return error_set(err, "%s: out of memory", src->name);
		}
		tok->merge_left[r] = a;
		tok->merge_right[r] = b;
		tok->merge_result[r] = result;
	}
	free(joined);
	return 0;
}

/* Make the GGUF text forms of tokens and merges once, for writing. */
static int
build_texts(struct tokenizer *tok, struct duo_error *err)
{
	uint16_t to_code_point[256];
	int16_t to_byte[MAPPED_LIMIT];
	size_t total = 0, length, left_length, right_length, nv, nm;
	const char *piece, *left, *right;
	char *out;
	int32_t i;

	byte_map(to_code_point, to_byte);
	nv = (size_t)tok->n_vocab;
	nm = (size_t)tok->n_merges;
	/* Text forms are at most twice the raw bytes; no overflow past that. */
	if (tok->piece_offset[nv] > SIZE_MAX / 8)
		return error_set(err, "tokenizer: tokens too long");
	total = 2 * tok->piece_offset[nv];
	for (i = 0; i < tok->n_merges; i++) {
		piece_of(tok, tok->merge_result[i], &length);
		if (2 * length + 1 > SIZE_MAX - total)
			return error_set(err, "tokenizer: merges too long");
		total += 2 * length + 1;
	}
	tok->text_data = malloc(total + 1);
	tok->token_text = malloc((nv + 1) * sizeof *tok->token_text);
	tok->token_text_length = malloc((nv + 1) *
	    sizeof *tok->token_text_length);
	tok->merge_text = malloc((nm + 1) * sizeof *tok->merge_text);
	tok->merge_text_length = malloc((nm + 1) *
	    sizeof *tok->merge_text_length);
	if (tok->text_data == NULL || tok->token_text == NULL ||
	    tok->token_text_length == NULL || tok->merge_text == NULL ||
	    tok->merge_text_length == NULL)
		return error_set(err, "tokenizer: out of memory");
	out = tok->text_data;
	for (i = 0; i < tok->n_vocab; i++) {
		piece = piece_of(tok, i, &length);
		tok->token_text[i] = out;
		if (token_is_raw(tok->token_type[i])) {
			memcpy(out, piece, length);
			out += length;
		} else {
			out = mapped_write(out, piece, length, to_code_point);
		}
		tok->token_text_length[i] = (size_t)(out - tok->token_text[i]);
	}
	for (i = 0; i < tok->n_merges; i++) {
		left = piece_of(tok, tok->merge_left[i], &left_length);
		right = piece_of(tok, tok->merge_right[i], &right_length);
		tok->merge_text[i] = out;
		out = mapped_write(out, left, left_length, to_code_point);
		*out++ = ' ';
		out = mapped_write(out, right, right_length, to_code_point);
		tok->merge_text_length[i] = (size_t)(out - tok->merge_text[i]);
	}
	return 0;
}

int
tokenizer_build(struct tokenizer **out, const struct vocab_source *src,
    struct duo_error *err)
{
	struct tokenizer *tok;
	struct string_table by_bytes = { 0 };

	*out = NULL;
	if (src->n_vocab < 256 || src->n_merges < 0)
		return error_set(err, "%s: %d tokens, fewer than the 256 "
		    "bytes", src->name, (int)src->n_vocab);
	if (src->bos < 0 || src->bos >= src->n_vocab || src->eos < 0 ||
	    src->eos >= src->n_vocab)
		return error_set(err, "%s: BOS %d or EOS %d is not a token id "
		    "below %d", src->name, (int)src->bos, (int)src->eos,
		    (int)src->n_vocab);
	tok = calloc(1, sizeof *tok);
	if (tok == NULL)
		return error_set(err, "%s: out of memory", src->name);
	tok->n_vocab = src->n_vocab;
	tok->bos = src->bos;
	tok->eos = src->eos;
	if (build_pieces(tok, src, &by_bytes, err) != 0 ||
	    build_merges(tok, src, &by_bytes, err) != 0 ||
	    build_texts(tok, err) != 0 ||
	    gpt2_pattern_compile(&tok->pattern, err) != 0) {
		string_table_free(&by_bytes);
		tokenizer_free(tok);
		return -1;
	}
	string_table_free(&by_bytes);
	*out = tok;
	return 0;
}

void
tokenizer_free(struct tokenizer *tok)
{
	if (tok == NULL)
		return;
	free(tok->piece_data);
	free(tok->piece_offset);
	free(tok->token_type);
	free(tok->merge_left);
	free(tok->merge_right);
	free(tok->merge_result);
	pair_table_free(&tok->merge_rank);
	free(tok->text_data);
	free(tok->token_text);
	free(tok->token_text_length);
	free(tok->merge_text);
	free(tok->merge_text_length);
	pcre2_code_free(tok->pattern);
	free(tok);
}

/*
 * GGUF keys.
 */

static int32_t
read_i32_le(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* Fill the raw pieces and types of src from the file's token keys. */
static int
load_tokens(const struct gguf_file *file, struct vocab_source *src,
    char ***pieces, size_t **lengths, int32_t **types, struct duo_error *err)
{
	const struct gguf_kv *tokens, *kv_types;
	uint16_t to_code_point[256];
	int16_t to_byte[MAPPED_LIMIT];
	const struct gguf_string *s;
	long long n;
	size_t i, count;

	if (gguf_get_array(file, "tokenizer.ggml.tokens", GGUF_TYPE_STRING,
	    &tokens, err) != 0)
		return -1;
	count = tokens->array_count;
	if (count < 256 || count > INT32_MAX - 1)
		return error_set(err, "%s: tokenizer.ggml.tokens holds %zu "
		    "tokens, not between 256 and %d", file->path, count,
		    INT32_MAX - 1);
	src->n_vocab = (int32_t)count;
	*pieces = calloc(count, sizeof **pieces);
	*lengths = calloc(count, sizeof **lengths);
	*types = malloc(count * sizeof **types);
	if (*pieces == NULL || *lengths == NULL || *types == NULL)
		return error_set(err, "%s: out of memory", file->path);
	/* Absent types: every token is normal byte-level text. */
	kv_types = gguf_find_kv(file, "tokenizer.ggml.token_type");
	if (kv_types != NULL) {
		if (gguf_get_array(file, "tokenizer.ggml.token_type",
		    GGUF_TYPE_INT32, &kv_types, err) != 0)
			return -1;
		if (kv_types->array_count != count)
			return error_set(err, "%s: tokenizer.ggml.token_type "
			    "holds %llu entries for %zu tokens", file->path,
			    (unsigned long long)kv_types->array_count, count);
	}
	byte_map(to_code_point, to_byte);
	for (i = 0; i < count; i++) {
		s = &tokens->strings[i];
		(*types)[i] = kv_types != NULL ?
		    read_i32_le(kv_types->value + 4 * i) : TOKEN_TYPE_NORMAL;
		(*pieces)[i] = malloc(s->length + 1);
		if ((*pieces)[i] == NULL)
			return error_set(err, "%s: out of memory", file->path);
		if (token_is_raw((*types)[i])) {
			memcpy((*pieces)[i], s->data, s->length);
			n = (long long)s->length;
		} else {
			n = mapped_read(s->data, s->length, to_byte,
			    (*pieces)[i]);
		}
		if (n < 0)
			return error_set(err, "%s: tokenizer.ggml.tokens[%zu] "
			    "is not byte-level BPE text", file->path, i);
		(*lengths)[i] = (size_t)n;
	}
	src->piece = (const char *const *)*pieces;
	src->piece_length = *lengths;
	src->token_type = *types;
	return 0;
}

/* Resolve "left right" merge texts to token id pairs. */
static int
load_merges(const struct gguf_file *file, struct vocab_source *src,
    int32_t **left, int32_t **right, struct duo_error *err)
{
	const struct gguf_kv *merges;
	uint16_t to_code_point[256];
	int16_t to_byte[MAPPED_LIMIT];
	struct string_table by_bytes;
	const struct gguf_string *s;
	const char *space;
	char *raw = NULL;
	long long n[2];
	size_t i, count, split;
	int32_t id, t;

	if (gguf_get_array(file, "tokenizer.ggml.merges", GGUF_TYPE_STRING,
	    &merges, err) != 0)
		return -1;
	count = merges->array_count;
	if (count > INT32_MAX - 1)
		return error_set(err, "%s: tokenizer.ggml.merges holds %zu "
		    "merges", file->path, count);
	src->n_merges = (int32_t)count;
	*left = malloc((count + 1) * sizeof **left);
	*right = malloc((count + 1) * sizeof **right);
	if (*left == NULL || *right == NULL ||
	    string_table_init(&by_bytes, (size_t)src->n_vocab) != 0)
		return error_set(err, "%s: out of memory", file->path);
	for (t = 0; t < src->n_vocab; t++) {
		if (token_is_raw(src->token_type[t]))
			continue;
		id = string_table_find(&by_bytes, src->piece[t],
		    src->piece_length[t]);
		if (id >= 0) {
			string_table_free(&by_bytes);
			return error_set(err, "%s: tokens %d and %d are the "
			    "same bytes", file->path, (int)id, (int)t);
		}
		if (string_table_insert(&by_bytes, src->piece[t],
		    src->piece_length[t], hash_bytes(src->piece[t],
		    src->piece_length[t]), t) != 0)
			goto nomem;
	}
	byte_map(to_code_point, to_byte);
	for (i = 0; i < count; i++) {
		s = &merges->strings[i];
		space = s->length > 0 ? memchr(s->data, ' ', s->length) : NULL;
		if (space == NULL || memchr(space + 1, ' ',
		    s->length - (size_t)(space - s->data) - 1) != NULL) {
			string_table_free(&by_bytes);
			free(raw);
			return error_set(err, "%s: tokenizer.ggml.merges[%zu] "
			    "is not two tokens separated by one space",
			    file->path, i);
		}
		free(raw);
		raw = malloc(s->length + 1);
		if (raw == NULL)
			goto nomem;
		split = (size_t)(space - s->data);
		n[0] = mapped_read(s->data, split, to_byte, raw);
		n[1] = n[0] < 0 ? -1 : mapped_read(space + 1,
		    s->length - split - 1, to_byte, raw + n[0]);
		id = -1;
		if (n[1] >= 0 && (id = string_table_find(&by_bytes, raw,
		    (size_t)n[0])) >= 0)
			(*left)[i] = id;
		if (id >= 0 && (id = string_table_find(&by_bytes, raw + n[0],
		    (size_t)n[1])) >= 0)
			(*right)[i] = id;
		if (id < 0) {
			string_table_free(&by_bytes);
			free(raw);
			return error_set(err, "%s: tokenizer.ggml.merges[%zu] "
			    "\"%.*s\" names a token that does not exist",
			    file->path, i, (int)(s->length > 64 ? 64 :
			    s->length), s->data);
		}
	}
	free(raw);
	string_table_free(&by_bytes);
	src->merge_left = *left;
	src->merge_right = *right;
	return 0;
nomem:
	free(raw);
	string_table_free(&by_bytes);
	return error_set(err, "%s: out of memory", file->path);
}

/* Read a UINT32 token id key and check that it fits the vocabulary. */
static int
load_token_id(const struct gguf_file *file, const char *key, int32_t n_vocab,
    int32_t *out, struct duo_error *err)
{
	uint32_t v;

	if (gguf_get_u32(file, key, &v, err) != 0)
		return -1;
	if (v >= (uint32_t)n_vocab)
		return error_set(err, "%s: %s is %u, not a token id below %d",
		    file->path, key, (unsigned)v, (int)n_vocab);
	*out = (int32_t)v;
	return 0;
}

/* Check that a string key, when present (or if required), has one value. */
static int
load_expect_string(const struct gguf_file *file, const char *key,
    const char *expected, int required, struct duo_error *err)
{
	char *value;
	int rc = 0;

	if (!required && gguf_find_kv(file, key) == NULL)
		return 0;
	if (gguf_get_string(file, key, &value, err) != 0)
		return -1;
	if (strcmp(value, expected) != 0)
		rc = error_set(err, "%s: %s is \"%.64s\", duo reads only "
		    "\"%s\"", file->path, key, value, expected);
	free(value);
	return rc;
}

int
tokenizer_load(struct tokenizer **out, const struct gguf_file *file,
    struct duo_error *err)
{
	struct vocab_source src;
	char **pieces = NULL;
	size_t *lengths = NULL;
	int32_t *types = NULL, *left = NULL, *right = NULL, i;
	int rc = -1;

	*out = NULL;
	memset(&src, 0, sizeof src);
	src.name = file->path;
	if (load_expect_string(file, "tokenizer.ggml.model", "gpt2", 1,
	    err) != 0 ||
	    load_expect_string(file, "tokenizer.ggml.pre", "gpt-2", 0,
	    err) != 0)
		return -1;
	if (load_tokens(file, &src, &pieces, &lengths, &types, err) != 0 ||
	    load_merges(file, &src, &left, &right, err) != 0 ||
	    load_token_id(file, "tokenizer.ggml.bos_token_id", src.n_vocab,
	    &src.bos, err) != 0 ||
	    load_token_id(file, "tokenizer.ggml.eos_token_id", src.n_vocab,
	    &src.eos, err) != 0)
		goto done;
	rc = tokenizer_build(out, &src, err);
done:
	if (pieces != NULL)
		for (i = 0; i < src.n_vocab; i++)
			free(pieces[i]);
	free(pieces);
	free(lengths);
	free(types);
	free(left);
	free(right);
	return rc;
}

void
tokenizer_write(const struct tokenizer *tok, struct gguf_writer *w)
{
	gguf_writer_set_string(w, "tokenizer.ggml.model", "gpt2");
	gguf_writer_set_string(w, "tokenizer.ggml.pre", "gpt-2");
	gguf_writer_set_string_array(w, "tokenizer.ggml.tokens",
	    tok->token_text, tok->token_text_length, (size_t)tok->n_vocab);
	gguf_writer_set_i32_array(w, "tokenizer.ggml.token_type",
	    tok->token_type, (size_t)tok->n_vocab);
	gguf_writer_set_string_array(w, "tokenizer.ggml.merges",
	    tok->merge_text, tok->merge_text_length, (size_t)tok->n_merges);
	gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id",
	    (uint32_t)tok->bos);
	gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id",
	    (uint32_t)tok->eos);
}

int
tokenizer_vocab_size(const struct tokenizer *tok)
{
	return tok->n_vocab;
}

int32_t
tokenizer_bos(const struct tokenizer *tok)
{
	return tok->bos;
}

int32_t
tokenizer_eos(const struct tokenizer *tok)
{
	return tok->eos;
}

const char *
tokenizer_piece(const struct tokenizer *tok, int32_t id, size_t *length)
{
	if (id < 0 || id >= tok->n_vocab) {
		*length = 0;
		return NULL;
	}
	return piece_of(tok, id, length);
}

int
tokenizer_decode(const struct tokenizer *tok, const int32_t *ids,
    size_t n_ids, char **text, size_t *length, struct duo_error *err)
{
	size_t i, total = 0, n;
	const char *piece;
	char *out;

	*text = NULL;
	*length = 0;
	for (i = 0; i < n_ids; i++) {
		if (ids[i] < 0 || ids[i] >= tok->n_vocab)
			return error_set(err, "tokenizer: token %zu is id %d, "
			    "not below %d", i, (int)ids[i], (int)tok->n_vocab);
		piece_of(tok, ids[i], &n);
		if (n > SIZE_MAX - 1 - total)
			return error_set(err, "tokenizer: decoded text too "
			    "long");
		total += n;
	}
	out = malloc(total + 1);
	if (out == NULL)
		return error_set(err, "tokenizer: out of memory");
	*text = out;
	for (i = 0; i < n_ids; i++) {
		piece = piece_of(tok, ids[i], &n);
		memcpy(out, piece, n);
		out += n;
	}
	*out = '\0';
	*length = total;
	return 0;
}

/*
 * Encoding.
 */

/* A candidate merge at a symbol of a long piece, ordered by (rank, pos). */
struct merge_candidate {
	int32_t rank;
	int32_t position;
	int32_t left;
	int32_t right;
};

struct cache_slot {
	uint64_t hash;
	uint8_t length;                /* 0 when free */
	uint8_t n_ids;
	char key[CACHE_KEY];
	int32_t ids[CACHE_IDS];
};

_Static_assert(sizeof(struct cache_slot) == 64, "a cache slot is 64 bytes");

struct piece_cache {
	struct cache_slot *slots;      /* (mask + 1) */
	size_t mask;
	size_t count;
};

/* Growable arrays that live through one tokenizer_encode() call. */
struct encoder {
	const struct tokenizer *tok;
	int32_t *ids;                  /* output */
	size_t n_ids, ids_capacity;
	int32_t *symbols;              /* (capacity) the piece being merged */
	int32_t *next;                 /* (capacity) long pieces: links */
	int32_t *previous;             /* (capacity) */
	size_t capacity;
	struct heap candidates;        /* of struct merge_candidate */
	struct merge_candidate *round;
	size_t round_capacity;
	struct piece_cache cache;
};

/*
 * GPT-2's bpe() on a short piece: find the lowest-ranked adjacent pair,
 * merge all its occurrences left to right, repeat until none merges.
 */
static size_t
merge_short(const struct tokenizer *tok, int32_t *symbols, size_t n)
{
	int32_t best, rank, left, right, result;
	size_t i, j;

	while (n > 1) {
		best = INT32_MAX;
		for (i = 0; i + 1 < n; i++) {
			rank = pair_table_find(&tok->merge_rank, symbols[i],
			    symbols[i + 1]);
			if (rank >= 0 && rank < best)
				best = rank;
		}
		if (best == INT32_MAX)
			break;
		left = tok->merge_left[best];
		right = tok->merge_right[best];
		result = tok->merge_result[best];
		for (i = j = 0; i < n; j++) {
			if (i + 1 < n && symbols[i] == left &&
			    symbols[i + 1] == right) {
				symbols[j] = result;
				i += 2;
			} else {
				symbols[j] = symbols[i++];
			}
		}
		n = j;
	}
	return n;
}

/* Order merge candidates by (rank, position), lowest first. */
static int
candidate_before(const void *a, const void *b, const void *context)
{
	const struct merge_candidate *x = a, *y = b;

	(void)context;
	return x->rank != y->rank ? x->rank < y->rank :
	    x->position < y->position;
}

/* Take the next candidate out of the heap (which is not empty). */
static struct merge_candidate
candidate_pop(struct encoder *e)
{
	struct merge_candidate c;

	heap_pop(&e->candidates, &c, sizeof c, candidate_before, NULL);
	return c;
}

/* The rank of the next candidate, without taking it out. */
static int32_t
candidate_top_rank(const struct encoder *e)
{
	const struct merge_candidate *top = e->candidates.items;

	return top->rank;
}

/* Queue the pair starting at symbol i if it has a merge. */
static int
candidate_add(struct encoder *e, int32_t i)
{
	struct merge_candidate c;
	int32_t j;

	if (i < 0 || (j = e->next[i]) < 0)
		return 0;
	c.rank = pair_table_find(&e->tok->merge_rank, e->symbols[i],
	    e->symbols[j]);
	if (c.rank < 0)
		return 0;
	c.position = i;
	c.left = e->symbols[i];
	c.right = e->symbols[j];
	return heap_push(&e->candidates, &c, sizeof c, candidate_before, NULL);
}

/*
 * The same result as merge_short() in O(n log n) for long pieces: a heap of
 * candidate pairs by (rank, position) over a linked list of symbols.  All
 * candidates of the lowest rank are taken out first and applied left to
 * right, so that pairs created meanwhile wait for the next round, exactly
 * as in GPT-2's loop.  Stale candidates are recognised by their symbols.
 */
static int
merge_long(struct encoder *e, size_t n, size_t *n_out)
{
	const struct tokenizer *tok = e->tok;
	struct merge_candidate c;
	size_t n_round, k, i, m;
	int32_t j, p, q;

	for (i = 0; i < n; i++) {
		e->previous[i] = (int32_t)i - 1;
		e->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	e->candidates.n = 0;
	for (i = 0; i + 1 < n; i++)
		if (candidate_add(e, (int32_t)i) != 0)
			return -1;
	while (e->candidates.n > 0) {
		n_round = 0;
		c = candidate_pop(e);
		for (;;) {
			if (grow(&e->round, &e->round_capacity, n_round, 1,
			    sizeof *e->round) != 0)
				return -1;
			e->round[n_round++] = c;
			if (e->candidates.n == 0 ||
			    candidate_top_rank(e) != c.rank)
				break;
			c = candidate_pop(e);
		}
		for (k = 0; k < n_round; k++) {
			c = e->round[k];
			j = e->next[c.position];
			if (e->symbols[c.position] != c.left || j < 0 ||
			    e->symbols[j] != c.right)
				continue;
			e->symbols[c.position] = tok->merge_result[c.rank];
			e->symbols[j] = -1;
			q = e->next[j];
			e->next[c.position] = q;
			if (q >= 0)
				e->previous[q] = c.position;
			p = e->previous[c.position];
			if (candidate_add(e, p) != 0 ||
			    candidate_add(e, c.position) != 0)
				return -1;
		}
	}
	for (i = 0, m = 0; i < n; i++)
		if (e->symbols[i] >= 0)
			e->symbols[m++] = e->symbols[i];
	*n_out = m;
	return 0;
}

static int
cache_init(struct piece_cache *c, size_t capacity)
{
	c->slots = calloc(capacity, sizeof *c->slots);
	if (c->slots == NULL)
		return -1;
	c->mask = capacity - 1;
	c->count = 0;
	return 0;
}

/* The slot holding piece, or the free slot where it belongs. */
static struct cache_slot *
cache_slot(const struct piece_cache *c, const char *piece, size_t length,
    uint64_t hash)
{
	size_t i = (size_t)hash & c->mask;
	struct cache_slot *s;

	for (;;) {
		s = &c->slots[i];
		if (s->length == 0 || (s->hash == hash && s->length == length &&
		    memcmp(s->key, piece, length) == 0))
			return s;
		i = (i + 1) & c->mask;
	}
}

/* Remember the ids of a piece (not yet in the cache); 0 when full. */
static int
cache_put(struct piece_cache *c, const char *piece, size_t length,
    uint64_t hash, const int32_t *ids, size_t n)
{
	struct piece_cache bigger;
	struct cache_slot *s;
	size_t i;

	if (length > CACHE_KEY || n > CACHE_IDS || c->count >=
	    CACHE_MAX_ENTRIES)
		return 0;
	if (2 * (c->count + 1) > c->mask + 1) {
		if (cache_init(&bigger, 2 * (c->mask + 1)) != 0)
			return -1;
		for (i = 0; i <= c->mask; i++) {
			s = &c->slots[i];
			if (s->length != 0)
				*cache_slot(&bigger, s->key, s->length,
				    s->hash) = *s;
		}
		bigger.count = c->count;
		free(c->slots);
		*c = bigger;
	}
	s = cache_slot(c, piece, length, hash);
	s->hash = hash;
	s->length = (uint8_t)length;
	s->n_ids = (uint8_t)n;
	memcpy(s->key, piece, length);
	memcpy(s->ids, ids, n * sizeof *ids);
	c->count++;
	return 0;
}

/* Append the ids of one piece to the output. */
static int
encode_piece(struct encoder *e, const char *piece, size_t length,
    struct duo_error *err)
{
	const struct tokenizer *tok = e->tok;
	struct cache_slot *slot;
	uint64_t hash = 0;
	size_t i, n;

	if (length == 1) {
		if (grow(&e->ids, &e->ids_capacity, e->n_ids, 1,
		    sizeof *e->ids) != 0)
			goto nomem;
		e->ids[e->n_ids++] = tok->byte_token[(unsigned char)piece[0]];
		return 0;
	}
	if (length <= CACHE_KEY) {
		hash = hash_bytes(piece, length);
		slot = cache_slot(&e->cache, piece, length, hash);
		if (slot->length != 0) {
			n = slot->n_ids;
			if (grow(&e->ids, &e->ids_capacity, e->n_ids, n,
			    sizeof *e->ids) != 0)
				goto nomem;
			memcpy(e->ids + e->n_ids, slot->ids,
			    n * sizeof *e->ids);
			e->n_ids += n;
			return 0;
		}
	}
	if (length > INT32_MAX)
		return error_set(err, "tokenizer: a piece of %zu bytes is too "
		    "long", length);
	if (length > e->capacity) {
		free(e->symbols);
		free(e->next);
		free(e->previous);
		e->capacity = length;
		e->symbols = malloc(length * sizeof *e->symbols);
		e->next = malloc(length * sizeof *e->next);
		e->previous = malloc(length * sizeof *e->previous);
		if (e->symbols == NULL || e->next == NULL ||
		    e->previous == NULL)
			goto nomem;
	}
	for (i = 0; i < length; i++)
		e->symbols[i] = tok->byte_token[(unsigned char)piece[i]];
	if (length <= SHORT_PIECE)
		n = merge_short(tok, e->symbols, length);
	else if (merge_long(e, length, &n) != 0)
		goto nomem;
	if (grow(&e->ids, &e->ids_capacity, e->n_ids, n, sizeof *e->ids) != 0)
		goto nomem;
	memcpy(e->ids + e->n_ids, e->symbols, n * sizeof *e->ids);
	e->n_ids += n;
	if (length <= CACHE_KEY && cache_put(&e->cache, piece, length, hash,
	    e->symbols, n) != 0)
		goto nomem;
	return 0;
nomem:
	return error_set(err, "tokenizer: out of memory");
}

static void
encoder_free(struct encoder *e)
{
	free(e->symbols);
	free(e->next);
	free(e->previous);
	heap_free(&e->candidates);
	free(e->round);
	free(e->cache.slots);
}

/*
 * The piece cache lives for one call, so the tokenizer stays read-only and
 * may be shared between threads; one call on a whole text gets most of the
 * benefit since the words of a text repeat.
 */
int
tokenizer_encode(const struct tokenizer *tok, const char *text,
    size_t length, int32_t **ids, size_t *n_ids, size_t **byte_offsets,
    struct duo_error *err)
{
	struct encoder e;
	struct splitter s;
	size_t start, end, i, n, *offsets;
	int rc;

	*ids = NULL;
	*n_ids = 0;
	if (byte_offsets != NULL)
		*byte_offsets = NULL;
	memset(&e, 0, sizeof e);
	e.tok = tok;
	if (cache_init(&e.cache, 1024) != 0 ||
	    grow(&e.ids, &e.ids_capacity, 0, length / 3 + 1,
	    sizeof *e.ids) != 0) {
		encoder_free(&e);
		free(e.ids);
		return error_set(err, "tokenizer: out of memory");
	}
	if (splitter_init(&s, tok->pattern, text, length, err) != 0) {
		encoder_free(&e);
		free(e.ids);
		return -1;
	}
	while ((rc = splitter_next(&s, &start, &end, err)) == 1)
		if ((rc = encode_piece(&e, text + start, end - start,
		    err)) != 0)
			break;
	splitter_free(&s);
	encoder_free(&e);
	if (rc != 0) {
		free(e.ids);
		return -1;
	}
	if (byte_offsets != NULL) {
		/* Tokens concatenate to pieces, pieces to the text. */
		offsets = malloc((e.n_ids + 1) * sizeof *offsets);
		if (offsets == NULL) {
			free(e.ids);
			return error_set(err, "tokenizer: out of memory");
		}
		offsets[0] = 0;
		for (i = 0; i < e.n_ids; i++) {
			piece_of(tok, e.ids[i], &n);
			offsets[i + 1] = offsets[i] + n;
		}
		if (offsets[e.n_ids] != length) {
			error_set(err, "tokenizer: tokens cover %zu bytes of "
			    "%zu", offsets[e.n_ids], length);
			free(offsets);
			free(e.ids);
			return -1;
		}
		*byte_offsets = offsets;
	}
	*ids = e.ids;
	*n_ids = e.n_ids;
	return 0;
}

