/*
 * tokenizer.h - byte-level BPE in the GPT-2 manner.
 *
 * Text is pre-split with GPT-2's regular expression (PCRE2, UTF and UCP,
 * JIT when available); each piece's bytes are mapped to printable code
 * points (GPT-2's bytes_to_unicode) and merged pair by pair, lowest merge
 * rank first, exactly as the reference GPT-2 encoder does.  Any byte string
 * round-trips: decode(encode(x)) == x, invalid UTF-8 and NUL bytes included.
 *
 * Vocabulary layout of tokenizers trained by duo: ids 0..255 are the single
 * bytes (id = byte value), then one token per merge in rank order, then the
 * special token "<|endoftext|>" used as BOS and EOS.  Loading accepts any
 * GPT-2 style vocabulary in which every byte has a token.
 *
 * This module owns the vocabulary and merges; it reads them from and writes
 * them to GGUF keys (tokenizer.ggml.*) but knows nothing of tensors.
 * Learning merges from a text is tokenizer_train.h.
 */
#ifndef DUO_TOKENIZER_H
#define DUO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

struct tokenizer;

/* Read tokenizer.ggml.* from an open model file. */
int tokenizer_load(struct tokenizer **out, const struct gguf_file *file,
    struct duo_error *err);
/* Write tokenizer.ggml.* keys (model "gpt2", pre "gpt-2"). */
void tokenizer_write(const struct tokenizer *tok, struct gguf_writer *w);
void tokenizer_free(struct tokenizer *tok);

int tokenizer_vocab_size(const struct tokenizer *tok);
int32_t tokenizer_bos(const struct tokenizer *tok);
int32_t tokenizer_eos(const struct tokenizer *tok);

/*
 * Encode length bytes of text (no BOS added).  *ids is allocated (caller
 * frees); *byte_offsets, if non-NULL, gets n+1 offsets: token i covers
 * text[offsets[i], offsets[i+1]).
 */
int tokenizer_encode(const struct tokenizer *tok, const char *text,
    size_t length, int32_t **ids, size_t *n_ids, size_t **byte_offsets,
    struct duo_error *err);

/* The raw bytes of token id (special tokens give their text). */
const char *tokenizer_piece(const struct tokenizer *tok, int32_t id,
    size_t *length);

/* Decode ids into a fresh buffer of *length bytes (NUL-terminated too). */
int tokenizer_decode(const struct tokenizer *tok, const int32_t *ids,
    size_t n_ids, char **text, size_t *length, struct duo_error *err);

#endif
