/*
 * text.h - a text as the model scores it: its tokens and its windows.
 *
 * doc/design.md section 4: a text longer than n_ctx is cut into consecutive
 * windows, each BOS followed by up to n_ctx - 1 text tokens, so that every
 * text token is scored exactly once.  Text token i (0-based) is position
 * i + 1 of the run; position 0 is the run's BOS.
 */
#ifndef DUO_TEXT_H
#define DUO_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenizer.h"

struct text_tokens {
	int32_t *ids;          /* [n] text tokens, BOS not included */
	size_t *offsets;       /* [n + 1] byte offsets into the text */
	size_t n;
};

/* Tokenize; a text with no tokens is an error ("the text has no tokens"). */
int text_tokenize(struct text_tokens *tokens, const struct tokenizer *tok,
    const char *text, size_t length, const char *name, struct duo_error *err);
void text_tokens_free(struct text_tokens *tokens);

size_t text_window_count(size_t n_tokens, int n_ctx);
/*
 * Fill window (n_ctx ids) with BOS and the text tokens of window w; *T is
 * the number of positions filled, *first the index of its first text token.
 */
void text_window(const struct text_tokens *tokens, int n_ctx, int32_t bos,
    size_t w, int32_t *window, int *T, size_t *first);

#endif
