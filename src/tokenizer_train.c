/*
 * tokenizer_train.c - learning BPE merges from a text (tokenizer_train.h).
 * The result is made and checked by tokenizer_build() of tokenizer.c, like
 * a vocabulary loaded from a file.
 *
 * The text is cut into pieces as for encoding and each distinct piece
 * becomes a word with a count.  A pair of adjacent symbols has a count (the
 * sum over the words it occurs in) and a list of those words; the best pair
 * comes from a max-heap.  Merging a pair rewrites only the words on its
 * list.  A pair's count rises only in the merge that creates its newer
 * symbol and otherwise only falls, so the heap is lazy: a popped entry
 * whose count is out of date is pushed again with the current count.
 *
 * A pair whose joined bytes are already a token (made from another split
 * of the same bytes) is never merged, so that every merge adds exactly one
 * token.  This cannot happen with merges applied to every word at once: a
 * stretch of a word whose ends no merge has crossed evolves as the same
 * bytes would alone, and alone they become the one token.  The guard stays
 * so that a vocabulary never holds the same bytes twice, whatever the text.
 */
#include "tokenizer_internal.h"
#include "tokenizer_train.h"

/* The special token that ends a trained vocabulary, used as BOS and EOS. */
static const char endoftext[] = "<|endoftext|>";

/* A pair of adjacent symbols, its count over the text and its words. */
struct train_pair {
	int32_t left;
	int32_t right;
	int64_t count;
	int32_t *words;                /* may hold words that lost the pair */
	size_t n_words, words_capacity;
	size_t stamp;                  /* last merge that raised the count */
	int banned;
};

/* A heap entry: a pair with the count it had when it was queued. */
struct train_entry {
	int64_t count;
	int32_t pair;
};

/* The state of one tokenizer_train() call. */
struct bpe_trainer {
	/* Words: distinct pieces of the text. */
	int32_t *symbols;              /* all words' symbols, concatenated */
	size_t *word_start;            /* (n_words) */
	size_t *word_length;           /* (n_words) */
	int64_t *word_count;           /* (n_words) */
	size_t *word_stamp;            /* (n_words) last merge that saw it */
	size_t n_words;
	/* Tokens so far: raw bytes, and bytes -> id. */
	char **token;
	size_t *token_length;
	int32_t n_tokens;
	struct string_table token_ids;
	/* Pairs. */
	struct pair_table pair_index;  /* (left, right) -> index in pairs */
	struct train_pair *pairs;
	size_t n_pairs, pairs_capacity;
	struct heap heap;              /* of struct train_entry */
	int32_t *raised;               /* pairs raised by the current merge */
	size_t n_raised, raised_capacity;
	char *joined;                  /* scratch for a pair's joined bytes */
	size_t joined_capacity;
	/* Result. */
	int32_t *merge_left;
	int32_t *merge_right;
	int32_t n_merges;
};

/* Compare the byte strings a1 a2 and b1 b2 (each two parts). */
static int
compare_joined(const char *a1, size_t n1, const char *a2, size_t n2,
    const char *b1, size_t m1, const char *b2, size_t m2)
{
	size_t i, na = n1 + n2, nb = m1 + m2;
	unsigned char x, y;

	for (i = 0; i < na && i < nb; i++) {
		x = (unsigned char)(i < n1 ? a1[i] : a2[i - n1]);
		y = (unsigned char)(i < m1 ? b1[i] : b2[i - m1]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return na < nb ? -1 : na > nb;
}

/*
 * Priority of heap entries: higher count; then joined bytes sorting first
 * (bytewise unsigned, a prefix before its extensions); then lower left id,
 * lower right id.  This is a total order, so training is deterministic.
 */
static int
entry_before(const void *entry_a, const void *entry_b, const void *trainer)
{
	const struct train_entry *a = entry_a, *b = entry_b;
	const struct bpe_trainer *t = trainer;
	const struct train_pair *p = &t->pairs[a->pair];
	const struct train_pair *q = &t->pairs[b->pair];
	int c;

	if (a->count != b->count)
		return a->count > b->count;
	c = compare_joined(t->token[p->left], t->token_length[p->left],
	    t->token[p->right], t->token_length[p->right],
	    t->token[q->left], t->token_length[q->left],
	    t->token[q->right], t->token_length[q->right]);
	if (c != 0)
		return c < 0;
	if (p->left != q->left)
		return p->left < q->left;
	return p->right < q->right;
}

/* Queue pair with its current count. */
static int
train_heap_push(struct bpe_trainer *t, int32_t pair)
{
	struct train_entry e = { t->pairs[pair].count, pair };

	return heap_push(&t->heap, &e, sizeof e, entry_before, t);
}

/* Take the best entry out of the heap (which is not empty). */
static struct train_entry
train_heap_pop(struct bpe_trainer *t)
{
	struct train_entry e;

	heap_pop(&t->heap, &e, sizeof e, entry_before, t);
	return e;
}

/* The index of pair (left, right), created with count 0 if new. */
static int32_t
train_pair(struct bpe_trainer *t, int32_t left, int32_t right)
{
	int32_t index = pair_table_find(&t->pair_index, left, right);
	struct train_pair *p;

	if (index >= 0)
		return index;
	if (t->n_pairs >= INT32_MAX ||
	    grow(&t->pairs, &t->pairs_capacity, t->n_pairs, 1,
	    sizeof *t->pairs) != 0)
		return -1;
	index = (int32_t)t->n_pairs;
	if (pair_table_put(&t->pair_index, left, right, index) != 0)
		return -1;
	p = &t->pairs[t->n_pairs++];
	memset(p, 0, sizeof *p);
	p->left = left;
	p->right = right;
	p->stamp = SIZE_MAX;
	return index;
}

/* Note that word w holds pair index (once per run of additions). */
static int
train_pair_add_word(struct bpe_trainer *t, int32_t index, int32_t w)
{
	struct train_pair *p = &t->pairs[index];

	if (p->n_words > 0 && p->words[p->n_words - 1] == w)
		return 0;
	if (grow(&p->words, &p->words_capacity, p->n_words, 1,
	    sizeof *p->words) != 0)
		return -1;
	p->words[p->n_words++] = w;
	return 0;
}

/* Free everything the trainer holds (not the trainer itself). */
static void
bpe_trainer_free(struct bpe_trainer *t)
{
	size_t i;

	free(t->symbols);
	free(t->word_start);
	free(t->word_length);
	free(t->word_count);
	free(t->word_stamp);
	if (t->token != NULL)
		for (i = 256; i < (size_t)t->n_tokens; i++)
			free(t->token[i]);
	free(t->token);
	free(t->token_length);
	string_table_free(&t->token_ids);
	pair_table_free(&t->pair_index);
	for (i = 0; i < t->n_pairs; i++)
		free(t->pairs[i].words);
	free(t->pairs);
	heap_free(&t->heap);
	free(t->raised);
	free(t->joined);
	free(t->merge_left);
	free(t->merge_right);
}

/* Count the distinct pieces of text and lay them out as byte symbols. */
static int
train_words(struct bpe_trainer *t, const pcre2_code *pattern, const char *text,
    size_t length, struct duo_error *err)
{
	struct string_table pieces;
	struct string_slot *slot;
	struct splitter s;
	size_t start, end, n_symbols = 0, capacity = 0, i, j, words_capacity;
	size_t counts_capacity = 0;
	uint64_t hash;
	int rc;

	if (string_table_init(&pieces, 4096) != 0)
		return error_set(err, "tokenizer: out of memory");
	if (splitter_init(&s, pattern, text, length, err) != 0) {
		string_table_free(&pieces);
		return -1;
	}
	while ((rc = splitter_next(&s, &start, &end, err)) == 1) {
		hash = hash_bytes(text + start, end - start);
		slot = string_table_slot(&pieces, text + start, end - start,
		    hash);
		if (slot->value >= 0) {
			t->word_count[slot->value]++;
			continue;
		}
		if (t->n_words >= INT32_MAX ||
		    grow(&t->word_start, &capacity, t->n_words, 1,
		    sizeof *t->word_start) != 0 ||
		    grow(&t->word_count, &counts_capacity, t->n_words, 1,
		    sizeof *t->word_count) != 0 ||
		    string_table_insert(&pieces, text + start, end - start,
		    hash, (int32_t)t->n_words) != 0) {
			rc = error_set(err, "tokenizer: out of memory");
			break;
		}
		t->word_start[t->n_words] = start;   /* text offset for now */
		t->word_count[t->n_words] = 1;
		n_symbols += end - start;
		t->n_words++;
	}
	splitter_free(&s);
	if (rc != 0) {
		string_table_free(&pieces);
		return -1;
	}
	words_capacity = t->n_words + 1;
	t->word_length = malloc(words_capacity * sizeof *t->word_length);
	t->word_stamp = malloc(words_capacity * sizeof *t->word_stamp);
	t->symbols = malloc((n_symbols + 1) * sizeof *t->symbols);
	if (t->word_length == NULL || t->word_stamp == NULL ||
	    t->symbols == NULL) {
		string_table_free(&pieces);
		return error_set(err, "tokenizer: out of memory");
	}
	/* The piece table knows each word's length; walk it by word. */
	for (i = 0; i <= pieces.mask; i++)
		if (pieces.slots[i].value >= 0)
			t->word_length[pieces.slots[i].value] =
			    pieces.slots[i].length;
	string_table_free(&pieces);
	n_symbols = 0;
	for (i = 0; i < t->n_words; i++) {
		const unsigned char *p = (const unsigned char *)text +
		    t->word_start[i];

		for (j = 0; j < t->word_length[i]; j++)
			t->symbols[n_symbols + j] = p[j];
		t->word_start[i] = n_symbols;
		t->word_stamp[i] = SIZE_MAX;
		n_symbols += t->word_length[i];
	}
	return 0;
}

/* Count every adjacent pair of every word and fill the heap. */
static int
train_pairs(struct bpe_trainer *t)
{
	size_t w, i;
	int32_t *s, index;

	if (pair_table_init(&t->pair_index, 65536) != 0)
		return -1;
	for (w = 0; w < t->n_words; w++) {
		s = t->symbols + t->word_start[w];
		for (i = 0; i + 1 < t->word_length[w]; i++) {
			index = train_pair(t, s[i], s[i + 1]);
			if (index < 0 || train_pair_add_word(t, index,
			    (int32_t)w) != 0)
				return -1;
			t->pairs[index].count += t->word_count[w];
		}
	}
	for (i = 0; i < t->n_pairs; i++)
		if (t->pairs[i].count >= 2 && train_heap_push(t,
		    (int32_t)i) != 0)
			return -1;
	return 0;
}

/* Rewrite word w with (left, right) -> id, updating pair counts. */
static int
train_merge_word(struct bpe_trainer *t, size_t w, int32_t left, int32_t right,
    int32_t id, size_t stamp)
{
	int32_t *s = t->symbols + t->word_start[w], index;
	size_t n = t->word_length[w], i, j;
	int64_t count = t->word_count[w];

	for (i = 0; i + 1 < n; i++)
		if (s[i] == left && s[i + 1] == right)
			break;
	if (i + 1 >= n)
		return 0;
	/* Remove the word's pairs, merge, and add the new pairs back. */
	for (i = 0; i + 1 < n; i++)
		t->pairs[pair_table_find(&t->pair_index, s[i], s[i + 1])].count
		    -= count;
	for (i = j = 0; i < n; j++) {
		if (i + 1 < n && s[i] == left && s[i + 1] == right) {
			s[j] = id;
			i += 2;
		} else {
			s[j] = s[i++];
		}
	}
	n = j;
	t->word_length[w] = n;
	for (i = 0; i + 1 < n; i++) {
		index = train_pair(t, s[i], s[i + 1]);
		if (index < 0)
			return -1;
		t->pairs[index].count += count;
		if (s[i] != id && s[i + 1] != id)
			continue;
		if (train_pair_add_word(t, index, (int32_t)w) != 0)
			return -1;
		if (t->pairs[index].stamp != stamp) {
			t->pairs[index].stamp = stamp;
			if (grow(&t->raised, &t->raised_capacity, t->n_raised,
			    1, sizeof *t->raised) != 0)
				return -1;
			t->raised[t->n_raised++] = index;
		}
	}
	return 0;
}

/* Add the token left+right and apply the merge to every word that has it. */
static int
train_merge(struct bpe_trainer *t, int32_t pair)
{
	int32_t left = t->pairs[pair].left, right = t->pairs[pair].right;
	int32_t id = t->n_tokens;
	size_t length, k, w, stamp = (size_t)t->n_merges;
	char *joined;

	length = t->token_length[left] + t->token_length[right];
	joined = malloc(length);
	if (joined == NULL)
		return -1;
	memcpy(joined, t->token[left], t->token_length[left]);
	memcpy(joined + t->token_length[left], t->token[right],
	    t->token_length[right]);
	t->token[id] = joined;
	t->token_length[id] = length;
	t->n_tokens++;
	if (string_table_insert(&t->token_ids, joined, length,
	    hash_bytes(joined, length), id) != 0)
		return -1;
	t->merge_left[t->n_merges] = left;
	t->merge_right[t->n_merges] = right;
	t->n_merges++;
	t->n_raised = 0;
	/* The list of this pair does not grow: new pairs all contain id. */
	for (k = 0; k < t->pairs[pair].n_words; k++) {
		w = (size_t)t->pairs[pair].words[k];
		if (t->word_stamp[w] == stamp)
			continue;
		t->word_stamp[w] = stamp;
		if (train_merge_word(t, w, left, right, id, stamp) != 0)
			return -1;
	}
	free(t->pairs[pair].words);
	t->pairs[pair].words = NULL;
	t->pairs[pair].n_words = t->pairs[pair].words_capacity = 0;
	for (k = 0; k < t->n_raised; k++)
		if (t->pairs[t->raised[k]].count >= 2 &&
		    train_heap_push(t, t->raised[k]) != 0)
			return -1;
	return 0;
}

/* Pop the best pair that may still be merged; -1 when none has count 2. */
static int32_t
train_best(struct bpe_trainer *t, int *nomem)
{
	struct train_entry e;
	struct train_pair *p;
	size_t n;

	*nomem = 0;
	while (t->heap.n > 0) {
		e = train_heap_pop(t);
		p = &t->pairs[e.pair];
		if (p->banned)
			continue;
		if (e.count != p->count) {
			if (p->count >= 2 && train_heap_push(t, e.pair) != 0) {
				*nomem = 1;
				return -1;
			}
			continue;
		}
		if (e.count < 2)
			return -1;
		/* Joined bytes that already are a token: never merge. */
		n = t->token_length[p->left] + t->token_length[p->right];
		if (grow(&t->joined, &t->joined_capacity, 0, n, 1) != 0) {
			*nomem = 1;
			return -1;
		}
		memcpy(t->joined, t->token[p->left], t->token_length[p->left]);
		memcpy(t->joined + t->token_length[p->left], t->token[p->right],
		    t->token_length[p->right]);
		if (string_table_find(&t->token_ids, t->joined, n) >= 0) {
			p->banned = 1;
			continue;
		}
		return e.pair;
	}
	return -1;
}

/* Learn merges from text; tokenizer_build() makes the tokenizer of them. */
int
tokenizer_train(struct tokenizer **out, const char *text, size_t length,
    int vocab_size, struct duo_error *err)
{
	struct bpe_trainer t;
	struct vocab_source src;
	pcre2_code *pattern;
	const char **pieces;
	int32_t *types, i, target, pair;
	char byte_piece[256];
	int rc, nomem;

	*out = NULL;
	if (vocab_size < 257 || vocab_size > (1 << 24))
		return error_set(err, "tokenizer: vocabulary size %d is not "
		    "between 257 and %d", vocab_size, 1 << 24);
	if (gpt2_pattern_compile(&pattern, err) != 0)
		return -1;
	memset(&t, 0, sizeof t);
	target = vocab_size - 257;
	t.token = calloc((size_t)vocab_size, sizeof *t.token);
	t.token_length = calloc((size_t)vocab_size, sizeof *t.token_length);
	t.merge_left = malloc(((size_t)target + 1) * sizeof *t.merge_left);
	t.merge_right = malloc(((size_t)target + 1) * sizeof *t.merge_right);
	if (t.token == NULL || t.token_length == NULL ||
	    t.merge_left == NULL || t.merge_right == NULL ||
	    string_table_init(&t.token_ids, (size_t)vocab_size) != 0)
		goto nomem;
	for (i = 0; i < 256; i++) {
		byte_piece[i] = (char)i;
		t.token[i] = &byte_piece[i];
		t.token_length[i] = 1;
		if (string_table_insert(&t.token_ids, &byte_piece[i], 1,
		    hash_bytes(&byte_piece[i], 1), i) != 0)
			goto nomem;
	}
	t.n_tokens = 256;
	if (train_words(&t, pattern, text, length, err) != 0) {
		pcre2_code_free(pattern);
		bpe_trainer_free(&t);
		return -1;
	}
	pcre2_code_free(pattern);
	pattern = NULL;
	if (train_pairs(&t) != 0)
		goto nomem;
	/* Stop early when no pair occurs twice: the vocabulary is smaller. */
	while (t.n_merges < target) {
		pair = train_best(&t, &nomem);
		if (nomem)
			goto nomem;
		if (pair < 0)
			break;
		if (train_merge(&t, pair) != 0)
			goto nomem;
	}
	types = malloc(((size_t)t.n_tokens + 1) * sizeof *types);
	pieces = malloc(((size_t)t.n_tokens + 1) * sizeof *pieces);
	if (types == NULL || pieces == NULL) {
		free(types);
		free(pieces);
		goto nomem;
	}
	for (i = 0; i < t.n_tokens; i++) {
		types[i] = TOKEN_TYPE_NORMAL;
		pieces[i] = t.token[i];
	}
	types[t.n_tokens] = TOKEN_TYPE_CONTROL;
	pieces[t.n_tokens] = endoftext;
	t.token_length[t.n_tokens] = strlen(endoftext);
	memset(&src, 0, sizeof src);
	src.n_vocab = t.n_tokens + 1;
	src.piece = pieces;
	src.piece_length = t.token_length;
	src.token_type = types;
	src.n_merges = t.n_merges;
	src.merge_left = t.merge_left;
	src.merge_right = t.merge_right;
	src.bos = src.eos = t.n_tokens;
	src.name = "tokenizer";
	rc = tokenizer_build(out, &src, err);
	free(pieces);
	free(types);
	bpe_trainer_free(&t);
	return rc;
nomem:
	pcre2_code_free(pattern);
	bpe_trainer_free(&t);
	return error_set(err, "tokenizer: out of memory");
}
