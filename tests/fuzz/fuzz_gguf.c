/*
 * fuzz_gguf.c - a model file from the fuzzer, through everything that
 * reads one: the GGUF reader and every typed getter, the model loader
 * (hyperparameters, tokenizer, tensors), the routers, and, when the file
 * is a small enough model, a forward pass on a few tokens and a tokenizer
 * round trip.  Promises checked: no crash or sanitizer report; a refusal
 * is one line; a loaded model's losses are finite or the pass refuses;
 * the tokenizer gives the text back.
 */
#include "fuzz.h"

#include <math.h>

#include "gguf.h"
#include "model.h"
#include "router.h"
#include "tokenizer.h"

/* A forward pass is tried on models up to this many parameters, so that
 * one input stays well under a millisecond of arithmetic. */
#define FORWARD_MAX_PARAMS 200000

/* Bytes of tensor data are read into this, so the reads are not elided. */
static volatile unsigned char touched;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* Every key through the getter of its type, every tensor by its name. */
static void
read_every_key(const struct gguf_file *file)
{
	const struct gguf_kv *kv, *array;
	struct duo_error err;
	char key[256], *text;
	uint32_t u;
	float f;
	uint64_t i;
	int status;

	for (i = 0; i < file->n_kv; i++) {
		kv = &file->kv[i];
		if (kv->key.length >= sizeof key)
			continue;
		memcpy(key, kv->key.data, kv->key.length);
		key[kv->key.length] = '\0';
		FUZZ_CHECK(gguf_type_name(kv->type) != NULL, "type name");
		status = 0;
		switch (kv->type) {
		case GGUF_TYPE_UINT32:
			status = gguf_get_u32(file, key, &u, &err);
			break;
		case GGUF_TYPE_FLOAT32:
			status = gguf_get_f32(file, key, &f, &err);
			break;
		case GGUF_TYPE_STRING:
			status = gguf_get_string(file, key, &text, &err);
			if (status == 0)
				free(text);
			break;
		case GGUF_TYPE_ARRAY:
			status = gguf_get_array(file, key, kv->array_type,
			    &array, &err);
			break;
		default:
			/* The wrong getter must refuse, in one line. */
			status = gguf_get_u32(file, key, &u, &err);
			FUZZ_CHECK(status != 0, "u32 getter took type %d",
			    (int)kv->type);
			FUZZ_CHECK_MESSAGE(err.message);
			status = 0;
			break;
		}
		/* A duplicate key may make a lookup find another entry;
		 * a refusal is then fine, but it must be one line. */
		if (status != 0)
			FUZZ_CHECK_MESSAGE(err.message);
	}
	for (i = 0; i < file->n_tensors; i++) {
		const struct gguf_tensor *t = &file->tensors[i];
		char name[256];
		uint64_t b;

		/* The reader promised the data lies in the mapping. */
		for (b = 0; b < t->n_bytes; b += 4096)
			touched ^= ((const unsigned char *)t->data)[b];
		if (t->n_bytes > 0)
			touched ^= ((const unsigned char *)t->data)[
			    t->n_bytes - 1];
		if (t->name.length >= sizeof name)
			continue;
		memcpy(name, t->name.data, t->name.length);
		name[t->name.length] = '\0';
		FUZZ_CHECK(gguf_find_tensor(file, name) != NULL,
		    "tensor '%s' not found by its name", name);
	}
}

/* The tokenizer gives back any text, and a small model runs. */
static void
use_model(const struct duo_model *model)
{
	static const char text[] = "The small module, or the big one?\n\xff";
	struct forward_workspace *ws;
	struct duo_error err;
	int32_t *ids = NULL;
	uint8_t routes[8 * DUO_MAX_LAYERS];
	float losses[8];
	size_t n_ids = 0, length, i;
	char *back = NULL;
	int T;

	if (tokenizer_encode(model->tokenizer, text, sizeof text - 1, &ids,
	    &n_ids, NULL, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return;
	}
	if (tokenizer_decode(model->tokenizer, ids, n_ids, &back, &length,
	    &err) == 0) {
		FUZZ_CHECK(length == sizeof text - 1 &&
		    memcmp(back, text, length) == 0,
		    "the tokenizer does not give the text back");
		free(back);
	} else {
		FUZZ_CHECK_MESSAGE(err.message);
	}
	T = n_ids > 8 ? 8 : (int)n_ids;
	if (model->n_params > FORWARD_MAX_PARAMS || T < 2 ||
	    T > model->config.n_ctx) {
		free(ids);
		return;
	}
	/* a dense model's one module per layer is its big one */
	for (i = 0; i < (size_t)T * (size_t)model->config.n_layer; i++)
		routes[i] = model->config.dense ? CHOICE_BIG : (uint8_t)(i % 3);
	ws = forward_workspace_new(&model->config, T);
	if (ws != NULL && model_window_losses(model, ws, ids, T, routes,
	    losses, &err) != 0)
		FUZZ_CHECK_MESSAGE(err.message);
	forward_workspace_free(ws);
	free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_file(data, size);
	struct gguf_file file;
	struct duo_model model;
	struct duo_router *routers;
	struct duo_error err;
	int n_routers;

	memset(&file, 0, sizeof file);
	if (gguf_open(&file, path, &err) == 0) {
		read_every_key(&file);
		gguf_close(&file);
	} else {
		FUZZ_CHECK_MESSAGE(err.message);
	}
	/* dense files (duo convert --route) too: their per-layer arrays */
	if (model_load_dense(&model, path, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return 0;
	}
	if (model.config.dense)
		n_routers = 0;
	else if (router_load_all(path, &model.config, &routers, &n_routers,
	    &err) == 0)
		router_free_all(routers, n_routers);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	use_model(&model);
	model_free(&model);
	return 0;
}
