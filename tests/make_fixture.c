/*
 * make_fixture.c - the program that made tests/fixture.gguf, the small
 * random model the command-line and reference tests run on.
 *
 *   make_fixture OUTPUT TEXT...
 *
 * The tokenizer is trained (vocabulary 320) on the texts, concatenated in
 * the order given; the committed fixture was made with
 *
 *   make_fixture tests/fixture.gguf tests/texts/fixture-corpus.txt
 *
 * The model: L=4, C=32, H=4 (head size 8), F=128, S=8, N=64, tied output,
 * random weights from a fixed seed, so the file is the same on every run.
 * Weights are drawn with std 1/sqrt(fan-in) instead of the training
 * initialisation's 0.02, so that activations and logits are of order one
 * and a route visibly changes the losses; the tests compare
 * implementations, not quality.
 *
 * Exit status: 0 written, 1 failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

#define FIXTURE_SEED 20241014
#define FIXTURE_VOCAB 320

/* strdup, which C11 lacks. */
static char *
copy_string(const char *s)
{
	char *copy = malloc(strlen(s) + 1);

	if (copy != NULL)
		strcpy(copy, s);
	return copy;
}

/* Append the whole file at path to *text (grown with realloc). */
static int
append_file(char **text, size_t *length, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buffer[4096], *grown;
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(buffer, 1, sizeof buffer, f)) > 0) {
		grown = realloc(*text, *length + n + 1);
		if (grown == NULL) {
			fclose(f);
			fprintf(stderr, "make_fixture: out of memory\n");
			return -1;
		}
		*text = grown;
		memcpy(*text + *length, buffer, n);
		*length += n;
		(*text)[*length] = '\0';
	}
	if (ferror(f)) {
		perror(path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Rescale the 0.02-std matrices of model_init_random to std 1/sqrt(in). */
static void
rescale_weights(struct duo_model *model)
{
	struct model_tensor_info info;
	float scale, *p;
	size_t j;
	int i, n = model_tensor_count(&model->config, model->tied_output);

	for (i = 0; i < n; i++) {
		model_tensor_info(&model->config, model->tied_output, i, &info);
		if (info.n_dims != 2)
			continue;
		scale = (float)(1.0 / (0.02 * sqrt((double)info.ne[0])));
		p = model->params + info.offset;
		for (j = 0; j < info.n_elements; j++)
			p[j] *= scale;
	}
}

int
main(int argc, char **argv)
{
	struct duo_config config = { 4, 32, 4, 128, 8, 0, 64, 10000.0f,
	    1e-5f, 0, { 0 } };
	struct tokenizer *tokenizer;
	struct duo_model model;
	struct duo_error err;
	char *text = NULL;
	size_t length = 0;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: make_fixture OUTPUT TEXT...\n");
		return 1;
	}
	for (i = 2; i < argc; i++)
		if (append_file(&text, &length, argv[i]) != 0)
			return 1;
	if (tokenizer_train(&tokenizer, text, length, FIXTURE_VOCAB,
	    &err) != 0) {
		fprintf(stderr, "make_fixture: %s\n", err.message);
		return 1;
	}
	config.n_vocab = tokenizer_vocab_size(tokenizer);
	if (model_alloc(&model, &config, 1, &err) != 0) {
		fprintf(stderr, "make_fixture: %s\n", err.message);
		return 1;
	}
	model.tokenizer = tokenizer;
	model.name = copy_string("duo test fixture");
	model.training.p_big = 0.5f;
	model.training.corpus = copy_string("tests/texts/fixture-corpus.txt");
	model.training.seed = FIXTURE_SEED;
	if (model.name == NULL || model.training.corpus == NULL) {
		fprintf(stderr, "make_fixture: out of memory\n");
		return 1;
	}
	model_init_random(&model, FIXTURE_SEED);
	rescale_weights(&model);
	if (model_save(&model, argv[1], GGUF_TENSOR_F32, &err) != 0) {
		fprintf(stderr, "make_fixture: %s\n", err.message);
		return 1;
	}
	printf("%s: L=%d C=%d H=%d F=%d S=%d V=%d N=%d, %zu parameters\n",
	    argv[1], config.n_layer, config.d_model, config.n_head,
	    config.d_ff, config.d_ff_small, config.n_vocab, config.n_ctx,
	    model.n_params);
	model_free(&model);
	free(text);
	return 0;
}
