/*
 * make_gguf_seeds.c - the program that made the GGUF seeds of
 * tests/fuzz/corpus/gguf/: the smallest duo models that load (so the
 * fuzzer starts from files that reach every check of the loader, the
 * tokenizer and the routers), and a container with a key of every GGUF
 * type (for the reader alone).
 *
 *   make tests/fuzz/make_gguf_seeds
 *   tests/fuzz/make_gguf_seeds tests/fuzz/corpus/gguf
 *
 * Writes tiny-f32.gguf (tied output, one router), tiny-f16.gguf (untied,
 * F16), dense-f16.gguf (the dense model of route "S.", as duo convert
 * --route writes it), and every-type.gguf.  Deterministic: fixed seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "route.h"
#include "router.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

/* Words of our own for the tokenizer's few merges. */
static const char seed_text[] =
    "the big module and the small module; the token skips the layer. "
    "the the the big big small";

static int
write_model(const char *directory, const char *file, int tied,
    enum gguf_tensor_type type, int with_router)
{
	struct duo_config config = { 2, 8, 2, 16, 4, 0, 8,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct tokenizer *tokenizer;
	struct duo_model model;
	struct duo_router router;
	struct route_space space;
	struct duo_error err;
	char path[4096];
	size_t i;
	int status;

	snprintf(path, sizeof path, "%s/%s", directory, file);
	if (tokenizer_train(&tokenizer, seed_text, sizeof seed_text - 1, 262,
	    &err) != 0)
		goto fail;
	config.n_vocab = tokenizer_vocab_size(tokenizer);
	if (model_alloc(&model, &config, tied, &err) != 0)
		goto fail;
	model.tokenizer = tokenizer;
	model_init_random(&model, 7);
	if (!with_router) {
		status = model_save(&model, path, type, &err);
		model_free(&model);
		if (status != 0)
			goto fail;
		return 0;
	}
	if (route_space_parse(&space, "BS.", &err) != 0 ||
	    router_alloc(&router, "probe", ROUTER_PAPER, &space, 1, &config,
	    &err) != 0) {
		model_free(&model);
		goto fail;
	}
	for (i = 0; i < (size_t)config.n_layer * 3 * (size_t)config.d_model;
	    i++)
		router.weight[i] = (float)((int)(i % 7) - 3) / 8.0f;
	status = router_save(&model, &router, 1, path, type, &err);
	router_free(&router);
	model_free(&model);
	if (status != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "make_gguf_seeds: %s: %s\n", path, err.message);
	return -1;
}

/* The dense model of tiny-f16.gguf's shape at route "S.": a small
 * module, then a skip (width 1, zero weights). */
static int
write_dense(const char *directory)
{
	struct duo_config config = { 2, 8, 2, 16, 4, 0, 8,
	    10000.0f, 1e-5f, 0, { 0 } };
	static const uint8_t route[2] = { CHOICE_SMALL, CHOICE_SKIP };
	struct tokenizer *tokenizer;
	struct duo_model model, dense;
	struct gguf_writer *w;
	struct duo_error err;
	char path[4096];
	int status;

	snprintf(path, sizeof path, "%s/dense-f16.gguf", directory);
	if (tokenizer_train(&tokenizer, seed_text, sizeof seed_text - 1, 262,
	    &err) != 0)
		goto fail;
	config.n_vocab = tokenizer_vocab_size(tokenizer);
	if (model_alloc(&model, &config, 1, &err) != 0)
		goto fail;
	model.tokenizer = tokenizer;
	model_init_random(&model, 7);
	status = model_make_dense(&dense, &model, route, &err);
	model_free(&model);
	if (status != 0 || (w = gguf_writer_new()) == NULL)
		goto fail;
	model_write_dense(&dense, w, GGUF_TENSOR_F16);
	status = gguf_writer_save(w, path, &err);
	gguf_writer_free(w);
	model_free(&dense);
	if (status == 0)
		return 0;
fail:
	fprintf(stderr, "make_gguf_seeds: %s: %s\n", path, err.message);
	return -1;
}

static int
write_every_type(const char *directory)
{
	static const char *const words[] = { "one", "", "three" };
	static const size_t lengths[] = { 3, 0, 5 };
	static const int32_t ints[] = { -1, 0, 1 };
	static const float floats[] = { 0.5f, -2.0f };
	static const float tensor[6] = { 1, 2, 3, 4, 5, 6 };
	static const uint64_t ne[2] = { 3, 2 };
	struct gguf_writer *w = gguf_writer_new();
	struct duo_error err;
	char path[4096];
	int status;

	snprintf(path, sizeof path, "%s/every-type.gguf", directory);
	gguf_writer_set_string(w, "general.architecture", "other");
	gguf_writer_set_u32(w, "a.u32", 7);
	gguf_writer_set_i32(w, "a.i32", -7);
	gguf_writer_set_u64(w, "a.u64", 1ULL << 40);
	gguf_writer_set_f32(w, "a.f32", 0.25f);
	gguf_writer_set_bool(w, "a.bool", 1);
	gguf_writer_set_string_array(w, "a.strings", words, lengths, 3);
	gguf_writer_set_i32_array(w, "a.ints", ints, 3);
	gguf_writer_set_f32_array(w, "a.floats", floats, 2);
	gguf_writer_add_tensor(w, "t.f32", GGUF_TENSOR_F32, 2, ne, tensor);
	gguf_writer_add_tensor(w, "t.f16", GGUF_TENSOR_F16, 2, ne, tensor);
	status = gguf_writer_save(w, path, &err);
	gguf_writer_free(w);
	if (status != 0)
		fprintf(stderr, "make_gguf_seeds: %s\n", err.message);
	return status;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_gguf_seeds DIRECTORY\n");
		return 1;
	}
	if (write_model(argv[1], "tiny-f32.gguf", 1, GGUF_TENSOR_F32, 1) != 0 ||
	    write_model(argv[1], "tiny-f16.gguf", 0, GGUF_TENSOR_F16, 0) != 0 ||
	    write_dense(argv[1]) != 0 || write_every_type(argv[1]) != 0)
		return 1;
	return 0;
}
