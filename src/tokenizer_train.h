/*
 * tokenizer_train.h - learning the merges of a byte-level BPE tokenizer
 * (tokenizer.h) from a text, for duo train and the test fixtures.
 *
 * The text is pre-split as for encoding; merges are learnt by count until
 * the vocabulary is full, and the result is checked and built exactly as a
 * vocabulary read from a model file.  This module owns only the learning;
 * it reads no files and writes none.
 */
#ifndef DUO_TOKENIZER_TRAIN_H
#define DUO_TOKENIZER_TRAIN_H

#include <stddef.h>

#include "error.h"
#include "tokenizer.h"

/*
 * Learn merges from text until the vocabulary holds vocab_size tokens
 * (256 bytes + merges + 1 special).  Deterministic: ties between pairs of
 * equal count go to the pair whose merged bytes sort first.
 */
int tokenizer_train(struct tokenizer **out, const char *text, size_t length,
    int vocab_size, struct duo_error *err);

#endif
