/* text.c - tokenizing a text and cutting it into the model's windows. */
#include "text.h"

#include <stdlib.h>
#include <string.h>

int
text_tokenize(struct text_tokens *tokens, const struct tokenizer *tok,
    const char *text, size_t length, const char *name, struct duo_error *err)
{
	memset(tokens, 0, sizeof *tokens);
	if (tokenizer_encode(tok, text, length, &tokens->ids, &tokens->n,
	    &tokens->offsets, err) != 0)
		return error_prefix(err, name);
	if (tokens->n == 0) {
		text_tokens_free(tokens);
		return error_set(err, "%s: the text has no tokens", name);
	}
	return 0;
}

void
text_tokens_free(struct text_tokens *tokens)
{
	free(tokens->ids);
	free(tokens->offsets);
	memset(tokens, 0, sizeof *tokens);
}

size_t
text_window_count(size_t n_tokens, int n_ctx)
{
	size_t per_window = (size_t)n_ctx - 1;

	return (n_tokens + per_window - 1) / per_window;
}

void
text_window(const struct text_tokens *tokens, int n_ctx, int32_t bos,
    size_t w, int32_t *window, int *T, size_t *first)
{
	size_t per_window = (size_t)n_ctx - 1, start = w * per_window, count;

	count = tokens->n - start < per_window ? tokens->n - start : per_window;
	window[0] = bos;
	memcpy(window + 1, tokens->ids + start, count * sizeof *window);
	*T = (int)count + 1;
	*first = start;
}
