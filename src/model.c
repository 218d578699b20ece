/*
 * model.c - the Duo model: the parameter layout, random initialisation,
 * loading and saving as GGUF, and the forward pass with a route per token
 * and layer (doc/design.md section 2).
 *
 * Shapes in comments use the letters of model.h's legend.  The pass is
 * assembled here, once: layer_forward() is the one layer step, with the
 * route of each row given (model_forward) or decided at the layer from
 * the FFN inputs (model_window_decided, a learned router); the kernels it
 * calls are layers.h's, every matrix product goes through linear() or
 * gemm() (linalg.h), and the few loops left here (the oracle's cached
 * attention, the losses of a window) follow layers.h's OpenMP policy.
 */
#include "model.h"
#include "rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "linalg.h"
#include "tokenizer.h"

/* Bounds of config_validate: large enough for any model this tool trains
 * or reads, small enough that no product of sizes overflows size_t. */
#define MAX_WIDTH 65536
#define MAX_FFN (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_CONTEXT (1 << 20)

/* --- parameter layout -------------------------------------------------- */

enum dimension { DIM_ONE, DIM_C, DIM_F, DIM_S, DIM_V };
enum init_kind { INIT_ONE, INIT_NORMAL, INIT_RESIDUAL };

/* One tensor of the layout: GGUF name, shape ne = [in, out], how it is
 * initialised, and the field of struct duo_model (global tensors) or
 * struct duo_layer (per-layer tensors) that points at it. */
struct tensor_spec {
	const char *name;
	enum dimension in, out;
	enum init_kind init;
	size_t field;
};

static const struct tensor_spec global_tensors[] = {
	{ "token_embd.weight", DIM_C, DIM_V, INIT_NORMAL,
	  offsetof(struct duo_model, token_embedding) },
	{ "output_norm.weight", DIM_C, DIM_ONE, INIT_ONE,
	  offsetof(struct duo_model, output_norm) },
	{ "output.weight", DIM_C, DIM_V, INIT_NORMAL,
	  offsetof(struct duo_model, output) },
};
#define N_GLOBAL_TENSORS 3    /* the last one only when untied */

static const struct tensor_spec layer_tensors[] = {
	{ "attn_norm.weight", DIM_C, DIM_ONE, INIT_ONE,
	  offsetof(struct duo_layer, attn_norm) },
	{ "attn_q.weight", DIM_C, DIM_C, INIT_NORMAL,
	  offsetof(struct duo_layer, wq) },
	{ "attn_k.weight", DIM_C, DIM_C, INIT_NORMAL,
	  offsetof(struct duo_layer, wk) },
	{ "attn_v.weight", DIM_C, DIM_C, INIT_NORMAL,
	  offsetof(struct duo_layer, wv) },
	{ "attn_output.weight", DIM_C, DIM_C, INIT_RESIDUAL,
	  offsetof(struct duo_layer, wo) },
	{ "ffn_norm.weight", DIM_C, DIM_ONE, INIT_ONE,
	  offsetof(struct duo_layer, ffn_norm) },
	{ "ffn_gate.weight", DIM_C, DIM_F, INIT_NORMAL,
	  offsetof(struct duo_layer, gate) },
	{ "ffn_up.weight", DIM_C, DIM_F, INIT_NORMAL,
	  offsetof(struct duo_layer, up) },
	{ "ffn_down.weight", DIM_F, DIM_C, INIT_RESIDUAL,
	  offsetof(struct duo_layer, down) },
	{ "ffn_gate_small.weight", DIM_C, DIM_S, INIT_NORMAL,
	  offsetof(struct duo_layer, gate_small) },
	{ "ffn_up_small.weight", DIM_C, DIM_S, INIT_NORMAL,
	  offsetof(struct duo_layer, up_small) },
	{ "ffn_down_small.weight", DIM_S, DIM_C, INIT_RESIDUAL,
	  offsetof(struct duo_layer, down_small) },
};
#define N_LAYER_TENSORS \
	((int)(sizeof layer_tensors / sizeof layer_tensors[0]))

/* The size of dimension d at layer (-1 for a global tensor): a dense
 * model's F is its layer's own width. */
static size_t
dimension_size(const struct duo_config *config, enum dimension d, int layer)
{
	switch (d) {
	case DIM_ONE:
		return 1;
	case DIM_C:
		return (size_t)config->d_model;
	case DIM_F:
		if (config->dense && layer >= 0)
			return (size_t)config->ffn_width[layer];
		return (size_t)config->d_ff;
	case DIM_S:
		return (size_t)config->d_ff_small;
	case DIM_V:
		return (size_t)config->n_vocab;
	}
	return 0;
}

static size_t
spec_elements(const struct duo_config *config, const struct tensor_spec *s,
    int layer)
{
	return dimension_size(config, s->in, layer) *
	    dimension_size(config, s->out, layer);
}

static int
global_tensor_count(int tied_output)
{
	return tied_output ? N_GLOBAL_TENSORS - 1 : N_GLOBAL_TENSORS;
}

/* Tensors of one layer: a dense model has no small module, the last
 * three entries of layer_tensors. */
static int
layer_tensor_count(const struct duo_config *config)
{
	return config->dense ? N_LAYER_TENSORS - 3 : N_LAYER_TENSORS;
}

/* Floats taken by the global tensors and by one layer. */
static size_t
global_elements(const struct duo_config *config, int tied_output)
{
	size_t n = 0;
	int i;

	for (i = 0; i < global_tensor_count(tied_output); i++)
		n += spec_elements(config, &global_tensors[i], -1);
	return n;
}

static size_t
layer_elements(const struct duo_config *config, int layer)
{
	size_t n = 0;
	int i;

	for (i = 0; i < layer_tensor_count(config); i++)
		n += spec_elements(config, &layer_tensors[i], layer);
	return n;
}

/* The spec of layout entry index, its layer (-1 for a global tensor) and
 * its offset in floats. */
static const struct tensor_spec *
layout_entry(const struct duo_config *config, int tied_output, int index,
    int *layer, size_t *offset)
{
	int n_global = global_tensor_count(tied_output), i, j;
	int per_layer = layer_tensor_count(config);

	*offset = 0;
	if (index < n_global) {
		for (i = 0; i < index; i++)
			*offset += spec_elements(config, &global_tensors[i], -1);
		*layer = -1;
		return &global_tensors[index];
	}
	index -= n_global;
	*layer = index / per_layer;
	j = index % per_layer;
	*offset = global_elements(config, tied_output);
	for (i = 0; i < *layer; i++)
		*offset += layer_elements(config, i);
	for (i = 0; i < j; i++)
		*offset += spec_elements(config, &layer_tensors[i], *layer);
	return &layer_tensors[j];
}

int
model_tensor_count(const struct duo_config *config, int tied_output)
{
	return global_tensor_count(tied_output) +
	    config->n_layer * layer_tensor_count(config);
}

void
model_tensor_info(const struct duo_config *config, int tied_output,
    int index, struct model_tensor_info *info)
{
	const struct tensor_spec *s;
	int layer;

	memset(info, 0, sizeof *info);
	s = layout_entry(config, tied_output, index, &layer, &info->offset);
	if (layer < 0)
		snprintf(info->name, sizeof info->name, "%s", s->name);
	else
		snprintf(info->name, sizeof info->name, "blk.%d.%s", layer,
		    s->name);
	info->n_dims = s->out == DIM_ONE ? 1 : 2;
	info->ne[0] = dimension_size(config, s->in, layer);
	info->ne[1] = dimension_size(config, s->out, layer);
	info->n_elements = spec_elements(config, s, layer);
}

size_t
model_param_count(const struct duo_config *config, int tied_output)
{
	size_t n = global_elements(config, tied_output);
	int l;

	for (l = 0; l < config->n_layer; l++)
		n += layer_elements(config, l);
	return n;
}

/* a * b into *out; false when it would overflow size_t. */
static bool
size_mul(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return false;
	*out = a * b;
	return true;
}

/* Whether a * b * c fits in size_t. */
static bool
bytes_fit(size_t a, size_t b, size_t c)
{
	size_t n;

	return size_mul(a, b, &n) && size_mul(n, c, &n);
}

static const struct {
	const char *name;
	size_t field;        /* an int of struct duo_config */
	int max;
} config_limits[] = {
	{ "n_layer", offsetof(struct duo_config, n_layer), DUO_MAX_LAYERS },
	{ "d_model", offsetof(struct duo_config, d_model), MAX_WIDTH },
	{ "n_head", offsetof(struct duo_config, n_head), MAX_WIDTH },
	{ "d_ff", offsetof(struct duo_config, d_ff), MAX_FFN },
	{ "d_ff_small", offsetof(struct duo_config, d_ff_small), MAX_FFN },
	{ "n_vocab", offsetof(struct duo_config, n_vocab), MAX_VOCAB },
	{ "n_ctx", offsetof(struct duo_config, n_ctx), MAX_CONTEXT },
};

/* A dense model's widths: each from 1 to d_ff, the widest d_ff and the
 * narrowest d_ff_small, so that every buffer sized from d_ff holds any
 * layer's module. */
static int
dense_validate(const struct duo_config *config, struct duo_error *err)
{
	int l, widest = 0, narrowest = MAX_FFN;

	for (l = 0; l < config->n_layer; l++) {
		if (config->ffn_width[l] < 1 || config->ffn_width[l] > MAX_FFN)
			return error_set(err, "layer %d's feed-forward width "
			    "is %d; it must be between 1 and %d", l,
			    config->ffn_width[l], MAX_FFN);
		if (config->ffn_width[l] > widest)
			widest = config->ffn_width[l];
		if (config->ffn_width[l] < narrowest)
			narrowest = config->ffn_width[l];
	}
	if (widest != config->d_ff || narrowest != config->d_ff_small)
		return error_set(err, "d_ff %d and d_ff_small %d are not the "
		    "widest and narrowest layer widths %d and %d",
		    config->d_ff, config->d_ff_small, widest, narrowest);
	return 0;
}

int
config_validate(const struct duo_config *config, struct duo_error *err)
{
	size_t i, per_layer, total;
	int value, l;

	for (i = 0; i < sizeof config_limits / sizeof config_limits[0]; i++) {
		memcpy(&value, (const char *)config + config_limits[i].field,
		    sizeof value);
		if (value < 1 || value > config_limits[i].max)
			return error_set(err, "%s is %d; it must be between 1 "
			    "and %d", config_limits[i].name, value,
			    config_limits[i].max);
	}
	if (config->d_model % config->n_head != 0)
		return error_set(err, "d_model %d is not a multiple of n_head %d",
		    config->d_model, config->n_head);
	if ((config->d_model / config->n_head) % 2 != 0)
		return error_set(err, "head size %d (d_model %d / n_head %d) is "
		    "odd; RoPE rotates pairs", config->d_model / config->n_head,
		    config->d_model, config->n_head);
	if (!isfinite(config->rope_base) || config->rope_base <= 1.0f)
		return error_set(err, "rope base %g must be finite and above 1",
		    (double)config->rope_base);
	if (!isfinite(config->norm_eps) || config->norm_eps <= 0.0f ||
	    config->norm_eps >= 1.0f)
		return error_set(err, "norm epsilon %g must be in (0, 1)",
		    (double)config->norm_eps);

	/* The largest buffers in bytes: the embedding V*C, an FFN matrix
	 * F*C, the cache 2*L*N*C, logits and scores N*(V+N). */
	if (!bytes_fit((size_t)config->n_vocab, (size_t)config->d_model, 4) ||
	    !bytes_fit((size_t)config->d_ff, (size_t)config->d_model, 4) ||
	    !bytes_fit((size_t)config->n_layer * (size_t)config->n_ctx,
	    (size_t)config->d_model, 8) ||
	    !bytes_fit((size_t)config->n_ctx, (size_t)config->n_vocab +
	    (size_t)config->n_ctx, 4))
		return error_set(err, "model sizes are too large");
	if (config->dense && dense_validate(config, err) != 0)
		return -1;
	total = 0;
	for (l = 0; l < config->n_layer; l++) {
		/* each layer is below 8 F C + C, which fits (checked above) */
		per_layer = layer_elements(config, l);
		if (total > SIZE_MAX / sizeof(float) - per_layer)
			return error_set(err, "model sizes are too large");
		total += per_layer;
	}
	if (total > SIZE_MAX / sizeof(float) - global_elements(config, 0))
		return error_set(err, "model sizes are too large");
	return 0;
}

/* Point every named pointer of model at its place in model->params. */
static void
model_point(struct duo_model *model)
{
	const struct tensor_spec *s;
	char *base;
	float *p;
	int i, layer, n = model_tensor_count(&model->config,
	    model->tied_output);
	size_t offset;

	for (i = 0; i < n; i++) {
		s = layout_entry(&model->config, model->tied_output, i, &layer,
		    &offset);
		p = model->params + offset;
		base = layer < 0 ? (char *)model : (char *)&model->layers[layer];
		memcpy(base + s->field, &p, sizeof p);
	}
	if (model->tied_output)
		model->output = model->token_embedding;
}

int
model_alloc(struct duo_model *model, const struct duo_config *config,
    int tied_output, struct duo_error *err)
{
	size_t n_params;

	memset(model, 0, sizeof *model);
	if (config_validate(config, err) != 0)
		return -1;
	model->config = *config;
	model->tied_output = tied_output != 0;
	n_params = model_param_count(config, model->tied_output);
	model->n_params = n_params;
	model->params = calloc(n_params, sizeof *model->params);
	model->layers = calloc((size_t)config->n_layer,
	    sizeof *model->layers);
	if (model->params == NULL || model->layers == NULL) {
		/* model_free clears the count: report the one asked for. */
		model_free(model);
		return error_set(err, "out of memory for %zu parameters "
		    "(%.3g GB)", n_params, (double)n_params *
		    sizeof(float) / 1e9);
	}
	model_point(model);
	return 0;
}

void
model_free(struct duo_model *model)
{
	free(model->params);
	free(model->layers);
	free(model->name);
	free(model->training.corpus);
	if (model->tokenizer != NULL)
		tokenizer_free(model->tokenizer);
	memset(model, 0, sizeof *model);
}

/* --- random initialisation --------------------------------------------- */

struct normal_rng {
	uint64_t state;
	double spare;
	bool has_spare;
};

/* Standard normal by Box-Muller, one pair per two calls. */
static double
normal_next(struct normal_rng *rng)
{
	double radius, angle;

	if (rng->has_spare) {
		rng->has_spare = false;
		return rng->spare;
	}
	radius = sqrt(-2.0 * log(rng_uniform_open(&rng->state)));
	angle = 6.283185307179586 * rng_uniform_open(&rng->state);  /* 2 pi */
	rng->spare = radius * sin(angle);
	rng->has_spare = true;
	return radius * cos(angle);
}

void
model_init_random(struct duo_model *model, uint64_t seed)
{
	const struct duo_config *config = &model->config;
	const struct tensor_spec *s;
	struct normal_rng rng = { seed, 0.0, false };
	double std, residual_std = 0.02 / sqrt(2.0 * config->n_layer);
	size_t offset, j, n;
	int i, layer, count = model_tensor_count(config, model->tied_output);

	for (i = 0; i < count; i++) {
		s = layout_entry(config, model->tied_output, i, &layer, &offset);
		n = spec_elements(config, s, layer);
		if (s->init == INIT_ONE) {
			for (j = 0; j < n; j++)
				model->params[offset + j] = 1.0f;
			continue;
		}
		std = s->init == INIT_RESIDUAL ? residual_std : 0.02;
		for (j = 0; j < n; j++)
			model->params[offset + j] =
			    (float)(std * normal_next(&rng));
	}
}

/* --- loading and saving ------------------------------------------------ */

/* Hyperparameter keys, each an int or a float of struct duo_config; the
 * vocabulary size is not a key: it is the row count of token_embd. */
static const struct {
	const char *key;
	size_t field;
} config_u32_keys[] = {
	{ "duo.block_count", offsetof(struct duo_config, n_layer) },
	{ "duo.embedding_length", offsetof(struct duo_config, d_model) },
	{ "duo.feed_forward_length", offsetof(struct duo_config, d_ff) },
	{ "duo.feed_forward_length_small",
	  offsetof(struct duo_config, d_ff_small) },
	{ "duo.attention.head_count", offsetof(struct duo_config, n_head) },
	{ "duo.context_length", offsetof(struct duo_config, n_ctx) },
}, config_f32_keys[] = {
	{ "duo.rope.freq_base", offsetof(struct duo_config, rope_base) },
	{ "duo.attention.layer_norm_rms_epsilon",
	  offsetof(struct duo_config, norm_eps) },
};

#define KEY_P_BIG "duo.training.p_big"
#define KEY_P_SKIP "duo.training.p_skip"
#define KEY_TOKENS_SEEN "duo.training.tokens_seen"
#define KEY_SEED "duo.training.seed"
#define KEY_CORPUS "duo.training.corpus"

#define ROUTER_TENSOR_PREFIX "router."

/* The vocabulary size, the row count of token_embd, then the check of
 * the whole configuration. */
static int
read_vocab_and_validate(struct duo_config *config,
    const struct gguf_file *file, struct duo_error *err)
{
	const struct gguf_tensor *embd;

	embd = gguf_find_tensor(file, "token_embd.weight");
	if (embd == NULL)
		return error_set(err, "%s: tensor 'token_embd.weight' is "
		    "missing", file->path);
	if (embd->ne[1] < 1 || embd->ne[1] > MAX_VOCAB)
		return error_set(err, "%s: token_embd.weight has %llu rows; "
		    "a vocabulary has 1 to %d tokens", file->path,
		    (unsigned long long)embd->ne[1], MAX_VOCAB);
	config->n_vocab = (int)embd->ne[1];
	if (config_validate(config, err) != 0)
		return error_prefix(err, file->path);
	return 0;
}

static int
read_config(struct duo_config *config, const struct gguf_file *file,
    struct duo_error *err)
{
	uint32_t u;
	size_t i;
	int value;

	memset(config, 0, sizeof *config);
	for (i = 0; i < sizeof config_u32_keys / sizeof config_u32_keys[0];
	    i++) {
		if (gguf_get_u32(file, config_u32_keys[i].key, &u, err) != 0)
			return -1;
		if (u > INT32_MAX)
			return error_set(err, "%s: %s is %u, too large",
			    file->path, config_u32_keys[i].key, u);
		value = (int)u;
		memcpy((char *)config + config_u32_keys[i].field, &value,
		    sizeof value);
	}
	for (i = 0; i < sizeof config_f32_keys / sizeof config_f32_keys[0];
	    i++)
		if (gguf_get_f32(file, config_f32_keys[i].key,
		    (float *)((char *)config + config_f32_keys[i].field),
		    err) != 0)
			return -1;
	return read_vocab_and_validate(config, file, err);
}

/* duo.training.*: every key is optional; a present key must have its
 * type (tokens_seen may also be a uint32, as a smaller count). */
static int
read_training(struct duo_training_info *info, const struct gguf_file *file,
    struct duo_error *err)
{
	const struct gguf_kv *kv;
	uint32_t u32;

	memset(info, 0, sizeof *info);
	if (gguf_find_kv(file, KEY_P_BIG) != NULL &&
	    gguf_get_f32(file, KEY_P_BIG, &info->p_big, err) != 0)
		return -1;
	if (gguf_find_kv(file, KEY_P_SKIP) != NULL &&
	    gguf_get_f32(file, KEY_P_SKIP, &info->p_skip, err) != 0)
		return -1;
	if (gguf_find_kv(file, KEY_SEED) != NULL &&
	    gguf_get_u32(file, KEY_SEED, &info->seed, err) != 0)
		return -1;
	if (gguf_find_kv(file, KEY_CORPUS) != NULL &&
	    gguf_get_string(file, KEY_CORPUS, &info->corpus, err) != 0)
		return -1;
	kv = gguf_find_kv(file, KEY_TOKENS_SEEN);
	if (kv != NULL) {
		if (kv->type == GGUF_TYPE_UINT64) {
			memcpy(&info->tokens_seen, kv->value,
			    sizeof info->tokens_seen);
		} else if (kv->type == GGUF_TYPE_UINT32) {
			memcpy(&u32, kv->value, sizeof u32);
			info->tokens_seen = u32;
		} else {
			return error_set(err, "%s: %s has type %s; expected "
			    "uint64", file->path, KEY_TOKENS_SEEN,
			    gguf_type_name(kv->type));
		}
	}
	return 0;
}

static void
format_shape(char *out, size_t size, const uint64_t *ne, uint32_t n_dims)
{
	size_t used = 0;
	uint32_t i;

	out[0] = '\0';
	for (i = 0; i < n_dims && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%llu",
		    i == 0 ? "[" : ", ", (unsigned long long)ne[i]);
	if (used < size)
		snprintf(out + used, size - used, "]");
}

/* Check one tensor of the layout against the file: present, of its
 * shape and of a type duo reads.  Every tensor is checked before the
 * parameters are allocated, so a small file that declares huge sizes is
 * refused by its shapes instead of by an allocation the size of its claim
 * (the reader has already checked that each tensor's data lies in the
 * file). */
static int
check_tensor(const struct gguf_file *file,
    const struct model_tensor_info *info, struct duo_error *err)
{
	const struct gguf_tensor *t = gguf_find_tensor(file, info->name);
	char expected[64], found[128];
	uint32_t d;
	bool same;

	format_shape(expected, sizeof expected, info->ne, info->n_dims);
	if (t == NULL)
		return error_set(err, "%s: tensor '%s' is missing (expected "
		    "shape %s)", file->path, info->name, expected);
	same = t->ne[0] == info->ne[0] &&
	    t->ne[1] == (info->n_dims > 1 ? info->ne[1] : 1);
	for (d = 2; d < GGUF_MAX_DIMS; d++)
		same = same && t->ne[d] == 1;
	if (!same) {
		format_shape(found, sizeof found, t->ne,
		    t->n_dims > GGUF_MAX_DIMS ? GGUF_MAX_DIMS : t->n_dims);
		return error_set(err, "%s: tensor '%s' has shape %s; expected "
		    "%s", file->path, info->name, found, expected);
	}
	if (t->type != GGUF_TENSOR_F32 && t->type != GGUF_TENSOR_F16)
		return error_set(err, "%s: tensor '%s' has type %d; duo reads "
		    "F32 and F16 tensors", file->path, info->name,
		    (int)t->type);
	return 0;
}

/* Copy a tensor that check_tensor accepted to dst, as floats. */
static void
copy_tensor(const struct gguf_file *file,
    const struct model_tensor_info *info, float *dst)
{
	const struct gguf_tensor *t = gguf_find_tensor(file, info->name);
	const unsigned char *src = t->data;
	uint16_t h;
	size_t i;

	if (t->type == GGUF_TENSOR_F32) {
		memcpy(dst, src, info->n_elements * sizeof *dst);
		return;
	}
	for (i = 0; i < info->n_elements; i++) {
		memcpy(&h, src + 2 * i, sizeof h);
		dst[i] = gguf_f16_to_f32(h);
	}
}

/* Whether a tensor name not in the layout is one duo knows to skip:
 * blk.N.router.* (learned routers, read by the router module). */
static bool
tensor_ignored(const struct gguf_string *name, int n_layer)
{
	const char *p = name->data, *end = name->data + name->length;
	size_t prefix = strlen(ROUTER_TENSOR_PREFIX);
	long layer = 0;

	if (name->length < 4 || memcmp(p, "blk.", 4) != 0)
		return false;
	p += 4;
	if (p == end || *p < '0' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9' && layer <= n_layer)
		layer = layer * 10 + (*p++ - '0');
	if (layer >= n_layer || p == end || *p++ != '.')
		return false;
	return (size_t)(end - p) > prefix &&
	    memcmp(p, ROUTER_TENSOR_PREFIX, prefix) == 0;
}

/* Every tensor in the file must be in the layout or ignored on purpose. */
static int
check_unknown_tensors(const struct gguf_file *file,
    const struct duo_model *model, struct duo_error *err)
{
	struct model_tensor_info info;
	const struct gguf_string *name;
	uint64_t i;
	int j, n = model_tensor_count(&model->config, model->tied_output);
	bool known;

	for (i = 0; i < file->n_tensors; i++) {
		name = &file->tensors[i].name;
		known = tensor_ignored(name, model->config.n_layer);
		for (j = 0; j < n && !known; j++) {
			model_tensor_info(&model->config, model->tied_output,
			    j, &info);
			known = strlen(info.name) == name->length &&
			    memcmp(info.name, name->data, name->length) == 0;
		}
		if (!known)
			return error_set(err, "%s: unknown tensor '%.*s'",
			    file->path, (int)(name->length > 200 ? 200 :
			    name->length), name->data);
	}
	return 0;
}


/* --- dense files ------------------------------------------------------- */

/*
 * A dense file is what llama.cpp's 'deci' architecture reads: the keys
 * of a Duo model under deci.*, with the feed-forward width and the head
 * counts one per layer (int32 arrays, the type llama.cpp accepts), and
 * one FFN module per layer under the big module's tensor names.  A
 * skipped layer is a module of width 1 whose weights are all zero: it
 * adds exactly nothing, where a width of 0 crashes llama.cpp.
 */
#define DENSE_ARCH "deci"
#define KEY_DENSE_ROUTE "duo.dense.route"
#define KEY_DENSE_FFN "deci.feed_forward_length"
#define KEY_DENSE_HEADS "deci.attention.head_count"
#define KEY_DENSE_HEADS_KV "deci.attention.head_count_kv"

static const struct {
	const char *key;
	size_t field;
} dense_u32_keys[] = {
	{ "deci.embedding_length", offsetof(struct duo_config, d_model) },
	{ "deci.context_length", offsetof(struct duo_config, n_ctx) },
}, dense_f32_keys[] = {
	{ "deci.rope.freq_base", offsetof(struct duo_config, rope_base) },
	{ "deci.attention.layer_norm_rms_epsilon",
	  offsetof(struct duo_config, norm_eps) },
};

/* A per-layer int32 array key: n_layer entries, each from min to max. */
static int
read_layer_array(const struct gguf_file *file, const char *key,
    int n_layer, int min, int max, int *out, struct duo_error *err)
{
	const struct gguf_kv *kv;
	int32_t v;
	int l;

	if (gguf_get_array(file, key, GGUF_TYPE_INT32, &kv, err) != 0)
		return -1;
	if (kv->array_count != (uint64_t)n_layer)
		return error_set(err, "%s: %s has %llu entries; deci.block_count "
		    "is %d", file->path, key,
		    (unsigned long long)kv->array_count, n_layer);
	for (l = 0; l < n_layer; l++) {
		memcpy(&v, kv->value + (size_t)l * sizeof v, sizeof v);
		if (v < min || v > max)
			return error_set(err, "%s: %s[%d] is %d; it must be "
			    "between %d and %d", file->path, key, l, (int)v,
			    min, max);
		out[l] = (int)v;
	}
	return 0;
}

/* The head counts: duo has one count H for every layer and no grouped
 * keys and values, so every entry of both arrays must be the same. */
static int
read_dense_heads(struct duo_config *config, const struct gguf_file *file,
    struct duo_error *err)
{
	int heads[DUO_MAX_LAYERS], heads_kv[DUO_MAX_LAYERS], l;

	if (read_layer_array(file, KEY_DENSE_HEADS, config->n_layer, 1,
	    MAX_WIDTH, heads, err) != 0 ||
	    read_layer_array(file, KEY_DENSE_HEADS_KV, config->n_layer, 1,
	    MAX_WIDTH, heads_kv, err) != 0)
		return -1;
	for (l = 0; l < config->n_layer; l++) {
		if (heads[l] != heads[0])
			return error_set(err, "%s: %s[%d] is %d but [0] is %d; "
			    "duo reads one head count for every layer",
			    file->path, KEY_DENSE_HEADS, l, heads[l], heads[0]);
		if (heads_kv[l] != heads[l])
			return error_set(err, "%s: %s[%d] is %d, not the %d "
			    "heads of %s; duo reads no grouped keys and values",
			    file->path, KEY_DENSE_HEADS_KV, l, heads_kv[l],
			    heads[l], KEY_DENSE_HEADS);
	}
	config->n_head = heads[0];
	return 0;
}

/* The configuration of a dense file: d_ff and d_ff_small become the
 * widest and the narrowest layer. */
static int
read_dense_config(struct duo_config *config, const struct gguf_file *file,
    struct duo_error *err)
{
	uint32_t u;
	size_t i;
	int l, value;

	memset(config, 0, sizeof *config);
	config->dense = 1;
	if (gguf_get_u32(file, "deci.block_count", &u, err) != 0)
		return -1;
	if (u < 1 || u > DUO_MAX_LAYERS)
		return error_set(err, "%s: deci.block_count is %u; it must be "
		    "between 1 and %d", file->path, u, DUO_MAX_LAYERS);
	config->n_layer = (int)u;
	for (i = 0; i < sizeof dense_u32_keys / sizeof dense_u32_keys[0];
	    i++) {
		if (gguf_get_u32(file, dense_u32_keys[i].key, &u, err) != 0)
			return -1;
		if (u > INT32_MAX)
			return error_set(err, "%s: %s is %u, too large",
			    file->path, dense_u32_keys[i].key, u);
		value = (int)u;
		memcpy((char *)config + dense_u32_keys[i].field, &value,
		    sizeof value);
	}
	for (i = 0; i < sizeof dense_f32_keys / sizeof dense_f32_keys[0]; i++)
		if (gguf_get_f32(file, dense_f32_keys[i].key,
		    (float *)((char *)config + dense_f32_keys[i].field),
		    err) != 0)
			return -1;
	if (read_layer_array(file, KEY_DENSE_FFN, config->n_layer, 1, MAX_FFN,
	    config->ffn_width, err) != 0 ||
	    read_dense_heads(config, file, err) != 0)
		return -1;
	config->d_ff = config->d_ff_small = config->ffn_width[0];
	for (l = 1; l < config->n_layer; l++) {
		if (config->ffn_width[l] > config->d_ff)
			config->d_ff = config->ffn_width[l];
		if (config->ffn_width[l] < config->d_ff_small)
			config->d_ff_small = config->ffn_width[l];
	}
	return read_vocab_and_validate(config, file, err);
}

/* duo.dense.route, optional: the route the file was made with, one
 * letter B, S or . per layer. */
static int
read_dense_route(struct duo_model *model, const struct gguf_file *file,
    struct duo_error *err)
{
	char *route = NULL;
	size_t n;

	model->dense_route[0] = '\0';
	if (gguf_find_kv(file, KEY_DENSE_ROUTE) == NULL)
		return 0;
	if (gguf_get_string(file, KEY_DENSE_ROUTE, &route, err) != 0)
		return -1;
	n = strlen(route);
	if (n != (size_t)model->config.n_layer ||
	    strspn(route, "BS.") != n) {
		error_set(err, "%s: %s is '%.*s'; expected one letter B, S or "
		    ". for each of the %d layers", file->path, KEY_DENSE_ROUTE,
		    (int)(n > 80 ? 80 : n), route, model->config.n_layer);
		free(route);
		return -1;
	}
	memcpy(model->dense_route, route, n + 1);
	free(route);
	return 0;
}

/* Load path into model; a dense file only when allow_dense. */
static int
load_file(struct duo_model *model, const char *path, bool allow_dense,
    struct duo_error *err)
{
	struct gguf_file file;
	struct duo_config config;
	struct duo_training_info training;
	struct model_tensor_info info;
	struct tokenizer *tokenizer = NULL;
	char *architecture = NULL, *name = NULL;
	int i, n, tied;
	bool dense;

	memset(model, 0, sizeof *model);
	memset(&training, 0, sizeof training);
	memset(&file, 0, sizeof file);
	if (gguf_open(&file, path, err) != 0)
		return -1;
	if (gguf_get_string(&file, "general.architecture", &architecture,
	    err) != 0)
		goto fail;
	dense = strcmp(architecture, DENSE_ARCH) == 0;
	if (dense && !allow_dense) {
		error_set(err, "%s: a dense model (architecture '%s', one "
		    "module per layer) is read only by duo info and duo score",
		    path, DENSE_ARCH);
		goto fail;
	}
	if (!dense && strcmp(architecture, "duo") != 0) {
		error_set(err, "%s: general.architecture is '%s', not 'duo'",
		    path, architecture);
		goto fail;
	}
	if ((dense ? read_dense_config(&config, &file, err) :
	    read_config(&config, &file, err)) != 0 ||
	    read_training(&training, &file, err) != 0)
		goto fail;
	if (gguf_find_kv(&file, "general.name") != NULL &&
	    gguf_get_string(&file, "general.name", &name, err) != 0)
		goto fail;
	if (tokenizer_load(&tokenizer, &file, err) != 0)
		goto fail;
	if (tokenizer_vocab_size(tokenizer) != config.n_vocab) {
		error_set(err, "%s: the tokenizer has %d tokens but "
		    "token_embd.weight has %d rows", path,
		    tokenizer_vocab_size(tokenizer), config.n_vocab);
		goto fail;
	}

	tied = gguf_find_tensor(&file, "output.weight") == NULL;
	n = model_tensor_count(&config, tied);
	for (i = 0; i < n; i++) {
		model_tensor_info(&config, tied, i, &info);
		if (check_tensor(&file, &info, err) != 0)
			goto fail;
	}
	if (model_alloc(model, &config, tied, err) != 0) {
		error_prefix(err, path);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		model_tensor_info(&config, tied, i, &info);
		copy_tensor(&file, &info, model->params + info.offset);
	}
	if (check_unknown_tensors(&file, model, err) != 0 ||
	    (dense && read_dense_route(model, &file, err) != 0))
		goto fail;
	model->name = name;
	model->training = training;
	model->tokenizer = tokenizer;
	free(architecture);
	gguf_close(&file);
	return 0;

fail:
	if (tokenizer != NULL)
		tokenizer_free(tokenizer);
	free(training.corpus);
	free(name);
	free(architecture);
	model_free(model);
	gguf_close(&file);
	return -1;
}

int
model_load(struct duo_model *model, const char *path, struct duo_error *err)
{
	return load_file(model, path, false, err);
}

int
model_load_dense(struct duo_model *model, const char *path,
    struct duo_error *err)
{
	return load_file(model, path, true, err);
}

/* The keys every Duo or dense file has under the same name: the
 * training facts and the tokenizer; then every tensor of the layout. */
static void
write_training_and_tensors(const struct duo_model *model,
    struct gguf_writer *writer, enum gguf_tensor_type type)
{
	const struct duo_training_info *training = &model->training;
	struct model_tensor_info info;
	int j, n = model_tensor_count(&model->config, model->tied_output);

	gguf_writer_set_f32(writer, KEY_P_BIG, training->p_big);
	gguf_writer_set_f32(writer, KEY_P_SKIP, training->p_skip);
	gguf_writer_set_u64(writer, KEY_TOKENS_SEEN, training->tokens_seen);
	gguf_writer_set_u32(writer, KEY_SEED, training->seed);
	if (training->corpus != NULL)
		gguf_writer_set_string(writer, KEY_CORPUS, training->corpus);
	if (model->tokenizer != NULL)
		tokenizer_write(model->tokenizer, writer);
	for (j = 0; j < n; j++) {
		model_tensor_info(&model->config, model->tied_output, j, &info);
		/* llama.cpp multiplies by a norm's weights only in F32: it
		 * aborts on an F16 one ("binary_op: unsupported types") */
		gguf_writer_add_tensor(writer, info.name, model->config.dense &&
		    info.n_dims == 1 ? GGUF_TENSOR_F32 : type, info.n_dims,
		    info.ne, model->params + info.offset);
	}
}

void
model_write(const struct duo_model *model, struct gguf_writer *writer,
    enum gguf_tensor_type type)
{
	const struct duo_config *config = &model->config;
	uint32_t u;
	float f;
	size_t i;
	int value;

	gguf_writer_set_string(writer, "general.architecture", "duo");
	gguf_writer_set_string(writer, "general.name",
	    model->name != NULL ? model->name : "duo");
	gguf_writer_set_u32(writer, "general.alignment",
	    GGUF_DEFAULT_ALIGNMENT);
	for (i = 0; i < sizeof config_u32_keys / sizeof config_u32_keys[0];
	    i++) {
		memcpy(&value, (const char *)config + config_u32_keys[i].field,
		    sizeof value);
		u = (uint32_t)value;
		gguf_writer_set_u32(writer, config_u32_keys[i].key, u);
	}
	for (i = 0; i < sizeof config_f32_keys / sizeof config_f32_keys[0];
	    i++) {
		memcpy(&f, (const char *)config + config_f32_keys[i].field,
		    sizeof f);
		gguf_writer_set_f32(writer, config_f32_keys[i].key, f);
	}
	write_training_and_tensors(model, writer, type);
}

void
model_write_dense(const struct duo_model *model, struct gguf_writer *writer,
    enum gguf_tensor_type type)
{
	const struct duo_config *c = &model->config;
	int32_t widths[DUO_MAX_LAYERS], heads[DUO_MAX_LAYERS];
	size_t i;
	int l;

	for (l = 0; l < c->n_layer; l++) {
		widths[l] = c->ffn_width[l];
		heads[l] = c->n_head;
	}
	gguf_writer_set_string(writer, "general.architecture", DENSE_ARCH);
	gguf_writer_set_string(writer, "general.name",
	    model->name != NULL ? model->name : "duo");
	gguf_writer_set_u32(writer, "general.alignment",
	    GGUF_DEFAULT_ALIGNMENT);
	gguf_writer_set_u32(writer, "deci.block_count", (uint32_t)c->n_layer);
	for (i = 0; i < sizeof dense_u32_keys / sizeof dense_u32_keys[0]; i++)
		gguf_writer_set_u32(writer, dense_u32_keys[i].key,
		    (uint32_t)*(const int *)((const char *)c +
		    dense_u32_keys[i].field));
	for (i = 0; i < sizeof dense_f32_keys / sizeof dense_f32_keys[0]; i++)
		gguf_writer_set_f32(writer, dense_f32_keys[i].key,
		    *(const float *)((const char *)c + dense_f32_keys[i].field));
	gguf_writer_set_i32_array(writer, KEY_DENSE_FFN, widths,
	    (size_t)c->n_layer);
	gguf_writer_set_i32_array(writer, KEY_DENSE_HEADS, heads,
	    (size_t)c->n_layer);
	gguf_writer_set_i32_array(writer, KEY_DENSE_HEADS_KV, heads,
	    (size_t)c->n_layer);
	/* llama.cpp checks the rotated size against the head size */
	gguf_writer_set_u32(writer, "deci.rope.dimension_count",
	    (uint32_t)(c->d_model / c->n_head));
	gguf_writer_set_u32(writer, "deci.vocab_size", (uint32_t)c->n_vocab);
	if (model->dense_route[0] != '\0')
		gguf_writer_set_string(writer, KEY_DENSE_ROUTE,
		    model->dense_route);
	/* every window begins with BOS, as duo's do */
	gguf_writer_set_bool(writer, "tokenizer.ggml.add_bos_token", 1);
	write_training_and_tensors(model, writer, type);
}

/* Copy n floats of one tensor, or zeros when src is NULL. */
static void
copy_or_zero(float *dst, const float *src, size_t n)
{
	if (src == NULL)
		memset(dst, 0, n * sizeof *dst);
	else
		memcpy(dst, src, n * sizeof *dst);
}

int
model_make_dense(struct duo_model *dense, struct duo_model *model,
    const uint8_t *route, struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	const struct duo_layer *w;
	struct duo_config config = *c;
	struct duo_layer *d;
	size_t C = (size_t)c->d_model, I;
	int l;

	if (c->dense)
		return error_set(err, "the model is dense already");
	config.dense = 1;
	config.d_ff = 1;
	config.d_ff_small = c->d_ff;
	for (l = 0; l < c->n_layer; l++) {
		config.ffn_width[l] = route[l] == CHOICE_BIG ? c->d_ff :
		    route[l] == CHOICE_SMALL ? c->d_ff_small : 1;
		if (config.ffn_width[l] > config.d_ff)
			config.d_ff = config.ffn_width[l];
		if (config.ffn_width[l] < config.d_ff_small)
			config.d_ff_small = config.ffn_width[l];
	}
	if (model_alloc(dense, &config, model->tied_output, err) != 0)
		return -1;
	/* the global tensors and each layer's attention and norms come
	 * first in both layouts and have the same shapes */
	memcpy(dense->params, model->params, global_elements(c,
	    model->tied_output) * sizeof *dense->params);
	for (l = 0; l < c->n_layer; l++) {
		w = &model->layers[l];
		d = &dense->layers[l];
		memcpy(d->attn_norm, w->attn_norm, (size_t)(d->gate -
		    d->attn_norm) * sizeof(float));
		I = (size_t)config.ffn_width[l];
		copy_or_zero(d->gate, route[l] == CHOICE_BIG ? w->gate :
		    route[l] == CHOICE_SMALL ? w->gate_small : NULL, I * C);
		copy_or_zero(d->up, route[l] == CHOICE_BIG ? w->up :
		    route[l] == CHOICE_SMALL ? w->up_small : NULL, I * C);
		copy_or_zero(d->down, route[l] == CHOICE_BIG ? w->down :
		    route[l] == CHOICE_SMALL ? w->down_small : NULL, I * C);
		dense->dense_route[l] = "BS."[route[l]];
	}
	dense->dense_route[c->n_layer] = '\0';
	dense->name = model->name;
	dense->training = model->training;
	dense->tokenizer = model->tokenizer;
	model->name = NULL;
	model->training.corpus = NULL;
	model->tokenizer = NULL;
	return 0;
}

int
model_save(const struct duo_model *model, const char *path,
    enum gguf_tensor_type type, struct duo_error *err)
{
	struct gguf_writer *writer = gguf_writer_new();
	int status;

	if (writer == NULL)
		return error_set(err, "%s: out of memory", path);
	model_write(model, writer, type);
	status = gguf_writer_save(writer, path, err);
	gguf_writer_free(writer);
	return status;
}

/* --- compute counts ---------------------------------------------------- */

/* Projections q, k, v, o, then scores and weighted values over context
 * keys; 2 FLOPs per multiply-add. */
double
model_flops_attention(const struct duo_config *config, int context)
{
	double C = config->d_model;

	return 8.0 * C * C + 4.0 * C * context;
}

/* gate, up (C -> inner) and down (inner -> C). */
double
model_flops_ffn(const struct duo_config *config, enum route_choice c)
{
	double C = config->d_model;

	switch (c) {
	case CHOICE_BIG:
		return 6.0 * C * config->d_ff;
	case CHOICE_SMALL:
		return 6.0 * C * config->d_ff_small;
	case CHOICE_SKIP:
		break;
	}
	return 0.0;
}

double
model_flops_head(const struct duo_config *config)
{
	return 2.0 * config->d_model * (double)config->n_vocab;
}

/* --- key/value cache and workspace ------------------------------------- */

int
kv_cache_init(struct kv_cache *cache, const struct duo_config *config,
    struct duo_error *err)
{
	size_t n;

	memset(cache, 0, sizeof *cache);
	if (config_validate(config, err) != 0)
		return -1;
	n = (size_t)config->n_layer * (size_t)config->n_ctx *
	    (size_t)config->d_model;
	cache->k = malloc(n * sizeof *cache->k);
	cache->v = malloc(n * sizeof *cache->v);
	if (cache->k == NULL || cache->v == NULL) {
		kv_cache_free(cache);
		return error_set(err, "out of memory for a key/value cache of "
		    "%zu floats", 2 * n);
	}
	cache->n_layer = config->n_layer;
	cache->n_ctx = config->n_ctx;
	cache->d_model = config->d_model;
	cache->length = 0;
	return 0;
}

void
kv_cache_reset(struct kv_cache *cache)
{
	cache->length = 0;
}

void
kv_cache_free(struct kv_cache *cache)
{
	free(cache->k);
	free(cache->v);
	memset(cache, 0, sizeof *cache);
}

struct forward_workspace {
	struct duo_config config;
	int max_tokens;       /* T at most */
	float *x;             /* (T, C) residual stream */
	float *xn;            /* (T, C) normalised input of a sublayer */
	float *qkv;           /* (T, 3C) q | k | v per row, RoPE on q, k */
	float *attention;     /* (T, C) attention output, heads side by side */
	float *scores;        /* (min(T, block), N) one head's block of scores */
	float *inverse_sums;  /* (min(T, block)) 1 / softmax sum per row */
	float *gathered;      /* (T, C) rows routed to one FFN module */
	float *ffn_out;       /* (T, C) that module's output */
	float *gate_up;       /* (T, 2F) gate then up, per row */
	int *rows;            /* (T) indices of the gathered rows */
	float *rope_cos;      /* (N, D/2) cos(pos * base^(-2i/D)) */
	float *rope_sin;      /* (N, D/2) */
	float *logits;        /* (T, V) for model_window_losses */
	struct kv_cache cache;  /* for model_window_losses */
	bool parallel;        /* elementwise loops on the OpenMP team */
};

void
forward_workspace_free(struct forward_workspace *ws)
{
	if (ws == NULL)
		return;
	free(ws->x);
	free(ws->xn);
	free(ws->qkv);
	free(ws->attention);
	free(ws->scores);
	free(ws->inverse_sums);
	free(ws->gathered);
	free(ws->ffn_out);
	free(ws->gate_up);
	free(ws->rows);
	free(ws->rope_cos);
	free(ws->rope_sin);
	free(ws->logits);
	kv_cache_free(&ws->cache);
	free(ws);
}

static float *
floats(size_t a, size_t b)
{
	return malloc(a * b * sizeof(float));
}

struct forward_workspace *
forward_workspace_new(const struct duo_config *config, int max_tokens)
{
	struct forward_workspace *ws;
	size_t T, C, N, half, block;

	if (config_validate(config, NULL) != 0 || max_tokens < 1)
		return NULL;
	if (max_tokens > config->n_ctx)
		max_tokens = config->n_ctx;
	ws = calloc(1, sizeof *ws);
	if (ws == NULL)
		return NULL;
	ws->config = *config;
	ws->max_tokens = max_tokens;
	ws->parallel = parallel_elementwise_pays();
	T = (size_t)max_tokens;
	C = (size_t)config->d_model;
	N = (size_t)config->n_ctx;
	half = C / (size_t)config->n_head / 2;
	block = T < ATTENTION_BLOCK ? T : ATTENTION_BLOCK;
	ws->x = floats(T, C);
	ws->xn = floats(T, C);
	ws->qkv = floats(T, 3 * C);
	ws->attention = floats(T, C);
	ws->scores = floats(block, N);
	ws->inverse_sums = floats(block, 1);
	ws->gathered = floats(T, C);
	ws->ffn_out = floats(T, C);
	ws->gate_up = floats(T, 2 * (size_t)(config->d_ff > config->d_ff_small
	    ? config->d_ff : config->d_ff_small));
	ws->rows = malloc(T * sizeof *ws->rows);
	ws->rope_cos = floats(N, half);
	ws->rope_sin = floats(N, half);
	ws->logits = floats(T, (size_t)config->n_vocab);
	if (ws->x == NULL || ws->xn == NULL || ws->qkv == NULL ||
	    ws->attention == NULL || ws->scores == NULL ||
	    ws->inverse_sums == NULL ||
	    ws->gathered == NULL || ws->ffn_out == NULL ||
	    ws->gate_up == NULL || ws->rows == NULL || ws->rope_cos == NULL ||
	    ws->rope_sin == NULL || ws->logits == NULL ||
	    kv_cache_init(&ws->cache, config, NULL) != 0) {
		forward_workspace_free(ws);
		return NULL;
	}
	rope_tables(ws->rope_cos, ws->rope_sin, config->n_ctx,
	    config->d_model / config->n_head, config->rope_base);
	return ws;
}

/* --- forward pass ------------------------------------------------------ */

void
model_rmsnorm(float *out, const float *x, const float *w, int n, int C,
    float eps)
{
	rmsnorm_forward(out, NULL, x, w, n, C, eps, parallel_elementwise_pays());
}

/* The inner size I of module choice (big or small) of layer, and its gate
 * then up matrices (2I, C), adjacent in the layout, and down (C, I). */
static int
ffn_weights(const struct duo_model *model, int layer,
    enum route_choice choice, const float **gate_up, const float **down)
{
	const struct duo_layer *w = &model->layers[layer];

	if (choice == CHOICE_BIG) {
		*gate_up = w->gate;
		*down = w->down;
		return model->config.dense ? model->config.ffn_width[layer] :
		    model->config.d_ff;
	}
	*gate_up = w->gate_small;
	*down = w->down_small;
	return model->config.d_ff_small;
}

void
model_ffn(const struct duo_model *model, int layer, enum route_choice choice,
    const float *x, int n, float *out, float *scratch)
{
	const float *gate_up, *down;
	int I;

	if (choice == CHOICE_SKIP) {
		memset(out, 0, (size_t)n * (size_t)model->config.d_model *
		    sizeof *out);
		return;
	}
	I = ffn_weights(model, layer, choice, &gate_up, &down);
	ffn_module_forward(out, 0.0f, x, n, gate_up, down,
	    model->config.d_model, I, scratch, parallel_elementwise_pays());
}

/*
 * x (T, C) += FFN_route(xn) at one layer, row t taking the module of
 * routes[t * L + layer]: the rows routed to each module are gathered into
 * a contiguous block, pushed through it, and added back, so no FLOP is
 * spent on a module a row does not use.  When every row takes the same
 * module, its product adds straight into x.
 */
static void
ffn_routed_forward(const struct duo_model *model, int layer,
    struct forward_workspace *ws, const uint8_t *routes, int T)
{
	static const enum route_choice modules[] = { CHOICE_BIG,
	    CHOICE_SMALL };
	int C = model->config.d_model, L = model->config.n_layer, m, t, n, I;
	const float *gate_up, *down;

	for (m = 0; m < 2; m++) {
		n = 0;
		for (t = 0; t < T; t++)
			if (routes[(size_t)t * L + layer] == modules[m])
				ws->rows[n++] = t;
		if (n == 0)
			continue;
		I = ffn_weights(model, layer, modules[m], &gate_up, &down);
		if (n == T) {
			ffn_module_forward(ws->x, 1.0f, ws->xn, T, gate_up, down,
			    C, I, ws->gate_up, ws->parallel);
			continue;
		}
		rows_gather(ws->gathered, ws->xn, ws->rows, n, C, false);
		ffn_module_forward(ws->ffn_out, 0.0f, ws->gathered, n, gate_up,
		    down, C, I, ws->gate_up, ws->parallel);
		rows_scatter_add(ws->x, ws->ffn_out, ws->rows, n, C, false);
	}
}

/*
 * One layer of the pass over the T rows of ws->x, positions start ..
 * start + T - 1: the attention sublayer against this layer's cache (the
 * rows' keys and values appended to it), the FFN norm, the route of every
 * row at this layer (read from routes (T, L), or written there first by
 * decide), and the routed FFN.
 */
static void
layer_forward(const struct duo_model *model, int layer,
    struct kv_cache *cache, struct forward_workspace *ws, int T, int start,
    uint8_t *routes, model_route_decider decide, void *decide_arg)
{
	const struct duo_config *c = &model->config;
	const struct duo_layer *w = &model->layers[layer];
	int C = c->d_model, N = c->n_ctx, t;
	/* this layer's cache (N, C); the new rows start at start */
	float *k = cache->k + (size_t)layer * N * C;
	float *v = cache->v + (size_t)layer * N * C;

	rmsnorm_forward(ws->xn, NULL, ws->x, w->attn_norm, T, C, c->norm_eps,
	    ws->parallel);
	/* qkv (T, 3C) = xn [wq; wk; wv]^T: the three matrices are adjacent
	 * in the layout, and one product with 3C outputs runs faster than
	 * three with C */
	linear(ws->qkv, ws->xn, w->wq, T, C, 3 * C, 0.0f);
	/* q and k side by side are 2H heads of size D */
	rope_forward(ws->qkv, T, T, start, 2 * C, 3 * C, C / c->n_head,
	    ws->rope_cos, ws->rope_sin, ws->parallel);
	for (t = 0; t < T; t++) {
		memcpy(k + (size_t)(start + t) * C,
		    ws->qkv + ((size_t)t * 3 + 1) * C, (size_t)C * sizeof(float));
		memcpy(v + (size_t)(start + t) * C,
		    ws->qkv + ((size_t)t * 3 + 2) * C, (size_t)C * sizeof(float));
	}
	attention_kv_forward(ws->attention, ws->qkv, k, v, ws->scores,
	    ws->inverse_sums, T, start, C, c->n_head, ws->parallel);
	/* x += attention wo^T */
	linear(ws->x, ws->attention, w->wo, T, C, C, 1.0f);
	rmsnorm_forward(ws->xn, NULL, ws->x, w->ffn_norm, T, C, c->norm_eps,
	    ws->parallel);
	if (decide != NULL)
		decide(decide_arg, layer, ws->xn, T, routes + layer,
		    c->n_layer);
	ffn_routed_forward(model, layer, ws, routes, T);
}

/* Every layer of the pass of T >= 1 checked tokens at cache->length ..,
 * leaving the last residual stream in ws->x (T, C). */
static void
layers_forward(const struct duo_model *model, struct kv_cache *cache,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    uint8_t *routes, model_route_decider decide, void *decide_arg)
{
	int start = cache->length, l;

	embedding_forward(ws->x, tokens, model->token_embedding, T,
	    model->config.d_model, ws->parallel);
	for (l = 0; l < model->config.n_layer; l++)
		layer_forward(model, l, cache, ws, T, start, routes, decide,
		    decide_arg);
	cache->length = start + T;
}

/* The checks of a forward pass, before anything is written; routes are
 * checked unless NULL (a decider writes them). */
static int
forward_check(const struct duo_model *model, const struct kv_cache *cache,
    const struct forward_workspace *ws, const int32_t *tokens, int T,
    const uint8_t *routes, struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	size_t i;
	int t;

	if (T < 0)
		return error_set(err, "forward: %d tokens", T);
	if (memcmp(&ws->config, c, sizeof *c) != 0)
		return error_set(err, "forward: the workspace was made for "
		    "another model");
	if (cache->n_layer != c->n_layer || cache->n_ctx != c->n_ctx ||
	    cache->d_model != c->d_model)
		return error_set(err, "forward: the cache was made for "
		    "another model");
	if (T > ws->max_tokens)
		return error_set(err, "forward: %d tokens in one call; the "
		    "workspace holds %d", T, ws->max_tokens);
	if (cache->length < 0 || cache->length > c->n_ctx - T)
		return error_set(err, "forward: %d tokens after %d cached "
		    "positions would pass the context of %d", T,
		    cache->length, c->n_ctx);
	for (t = 0; t < T; t++)
		if (tokens[t] < 0 || tokens[t] >= c->n_vocab)
			return error_set(err, "forward: token id %d at "
			    "position %d is outside the vocabulary of %d",
			    (int)tokens[t], cache->length + t, c->n_vocab);
	/* a dense model's one module per layer is its big one */
	for (i = 0; routes != NULL && i < (size_t)T * (size_t)c->n_layer; i++)
		if (routes[i] > (c->dense ? CHOICE_BIG : CHOICE_SKIP))
			return error_set(err, "forward: route choice %d at "
			    "position %d, layer %d", routes[i],
			    cache->length + (int)(i / (size_t)c->n_layer),
			    (int)(i % (size_t)c->n_layer));
	return 0;
}

int
model_forward(const struct duo_model *model, struct kv_cache *cache,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    const uint8_t *routes, float *logits, struct duo_error *err)
{
	const struct duo_config *c = &model->config;

	if (forward_check(model, cache, ws, tokens, T, routes, err) != 0)
		return -1;
	if (T == 0)
		return 0;
	/* given routes are only read: the pass writes them only through a
	 * decider, and there is none here */
	layers_forward(model, cache, ws, tokens, T, (uint8_t *)routes, NULL,
	    NULL);
	if (logits != NULL) {
		rmsnorm_forward(ws->xn, NULL, ws->x, model->output_norm, T,
		    c->d_model, c->norm_eps, ws->parallel);
		linear(logits, ws->xn, model->output, T, c->d_model,
		    c->n_vocab, 0.0f);
	}
	return 0;
}

int
model_window_decided(const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    model_route_decider decide, void *decide_arg, uint8_t *routes,
    float *losses, struct duo_error *err)
{
	float *head;

	if (T < 1)
		return error_set(err, "forward: %d tokens", T);
	kv_cache_reset(&ws->cache);
	if (forward_check(model, &ws->cache, ws, tokens, T, NULL, err) != 0)
		return -1;
	layers_forward(model, &ws->cache, ws, tokens, T, routes, decide,
	    decide_arg);
	if (losses == NULL || T < 2)
		return 0;
	head = malloc(model_head_scratch_size(&model->config) * sizeof *head);
	if (head == NULL)
		return error_set(err, "out of memory for the head's losses");
	model_head_losses(model, ws->x, T - 1, tokens + 1, losses, head);
	free(head);
	return 0;
}

float
model_row_loss(const float *logits, int V, int32_t target)
{
	return crossentropy_row(logits, V, target);
}

int
model_window_losses(const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    const uint8_t *routes, float *losses, struct duo_error *err)
{
	int L = model->config.n_layer, V = model->config.n_vocab;
	int done, n, i;

	if (T < 1 || T > model->config.n_ctx)
		return error_set(err, "window of %d tokens; the context holds "
		    "1 to %d", T, model->config.n_ctx);
	if (tokens[T - 1] < 0 || tokens[T - 1] >= V)
		return error_set(err, "token id %d at position %d is outside "
		    "the vocabulary of %d", (int)tokens[T - 1], T - 1, V);
	kv_cache_reset(&ws->cache);
	/* The last token is only a target: positions 0 .. T-2 run, in
	 * chunks of at most the workspace's size. */
	for (done = 0; done < T - 1; done += n) {
		n = T - 1 - done < ws->max_tokens ? T - 1 - done :
		    ws->max_tokens;
		if (model_forward(model, &ws->cache, ws, tokens + done, n,
		    routes + (size_t)done * L, ws->logits, err) != 0)
			return -1;
		PARALLEL_FOR(ws->parallel, (size_t)n * (size_t)V)
		for (i = 0; i < n; i++)
			losses[done + i] = model_row_loss(ws->logits +
			    (size_t)i * V, V, tokens[done + i + 1]);
	}
	return 0;
}

/* --- building blocks for many routes at once --------------------------- */

/*
 * The oracle pushes many alternative hidden states of the same positions
 * through a layer: the rows of many route prefixes.  These are the
 * sublayers of model_forward() cut apart so that each runs over all those
 * rows with one product per weight matrix; the RoPE tables come from a
 * workspace, which they only read, so threads may share it.
 */

size_t
model_attention_scratch_size(const struct duo_config *config, int n_rows,
    int n_keys)
{
	size_t C = (size_t)config->d_model, n = (size_t)n_rows;
	size_t keys = (size_t)n_keys, block = n > ATTENTION_BLOCK ? n :
	    ATTENTION_BLOCK;

	/* xn, qkv, attention output; k and v of one sequence; scores and
	 * two numbers per row */
	return n * 5 * C + 2 * keys * C + block * keys + 2 * block;
}

void
model_attention_sequences(const struct duo_model *model, int layer,
    const struct forward_workspace *ws, float *x, int n_seq, int T,
    float *scratch)
{
	const struct duo_config *c = &model->config;
	const struct duo_layer *w = &model->layers[layer];
	int C = c->d_model, D = C / c->n_head, R = n_seq * T, s, t;
	bool parallel = ws->parallel;
	float *xn = scratch, *qkv = xn + (size_t)R * C;
	float *att = qkv + (size_t)R * 3 * C, *k = att + (size_t)R * C;
	float *v = k + (size_t)T * C, *scores = v + (size_t)T * C;
	float *inverse_sums = scores + (size_t)ATTENTION_BLOCK * T, *q;

	rmsnorm_forward(xn, NULL, x, w->attn_norm, R, C, c->norm_eps,
	    parallel);
	/* qkv (R, 3C) = xn [wq; wk; wv]^T over every sequence at once */
	linear(qkv, xn, w->wq, R, C, 3 * C, 0.0f);
	for (s = 0; s < n_seq; s++) {
		q = qkv + (size_t)s * T * 3 * C;
		rope_forward(q, T, T, 0, 2 * C, 3 * C, D, ws->rope_cos,
		    ws->rope_sin, parallel);
		for (t = 0; t < T; t++) {
			memcpy(k + (size_t)t * C, q + ((size_t)t * 3 + 1) * C,
			    (size_t)C * sizeof(float));
			memcpy(v + (size_t)t * C, q + ((size_t)t * 3 + 2) * C,
			    (size_t)C * sizeof(float));
		}
		attention_kv_forward(att + (size_t)s * T * C, q, k, v, scores,
		    inverse_sums, T, 0, C, c->n_head, parallel);
	}
	/* x += attention wo^T */
	linear(x, att, w->wo, R, C, C, 1.0f);
}

void
model_attention_cached(const struct duo_model *model, int layer,
    const struct forward_workspace *ws, const struct kv_cache *const *caches,
    float *x, int n, const int *positions, float *scratch)
{
	const struct duo_config *c = &model->config;
	const struct duo_layer *w = &model->layers[layer];
	int C = c->d_model, H = c->n_head, D = C / H, N = c->n_ctx;
	int P = 0, h, i, i0, i1, keys;
	bool parallel = ws->parallel;
	float scale = 1.0f / sqrtf((float)D);
	float *xn = scratch, *qkv = xn + (size_t)n * C;
	float *att = qkv + (size_t)n * 3 * C, *scores = att + (size_t)n * C;
	float *own_weights, *inverse_sums;
	const float *kc, *vc;

	for (i = 0; i < n; i++)
		P = positions[i] > P ? positions[i] : P;
	own_weights = scores + (size_t)n * P;
	inverse_sums = own_weights + n;
	rmsnorm_forward(xn, NULL, x, w->attn_norm, n, C, c->norm_eps,
	    parallel);
	linear(qkv, xn, w->wq, n, C, 3 * C, 0.0f);
	for (i = 0; i < n; i++)
		rope_forward(qkv + (size_t)i * 3 * C, 1, 1, positions[i],
		    2 * C, 3 * C, D, ws->rope_cos, ws->rope_sin, false);
	for (h = 0; h < H; h++) {
		/* scores (n, P) = q_h k_h^T / sqrt(D) against the cached keys,
		 * one product for each run of rows that share a cache */
		for (i0 = 0; P > 0 && i0 < n; i0 = i1) {
			keys = positions[i0];
			for (i1 = i0 + 1; i1 < n && caches[i1] == caches[i0];
			    i1++)
				keys = positions[i1] > keys ? positions[i1] :
				    keys;
			if (keys == 0)
				continue;
			kc = caches[i0]->k + (size_t)layer * N * C;
			gemm(false, true, i1 - i0, keys, D, scale, qkv +
			    (size_t)i0 * 3 * C + (size_t)h * D, 3 * C, kc +
			    (size_t)h * D, C, 0.0f, scores + (size_t)i0 * P,
			    P);
		}
		PARALLEL_FOR(parallel, (size_t)n * (size_t)P)
		for (i = 0; i < n; i++) {
			const float *q = qkv + (size_t)i * 3 * C + h * D;
			float *row = scores + (size_t)i * P, own = 0.0f, max;
			double sum = 0.0, e;
			int pos = positions[i], j;

			/* the row's own key replaces the cache's at pos */
			for (j = 0; j < D; j++)
				own += q[j] * q[C + j];
			own *= scale;
			max = pos > 0 ? row_max(row, pos) : own;
			max = own > max ? own : max;
			if (pos > 0)
				sum = exp_shifted(row, row, max, pos);
			e = exp((double)own - (double)max);
			own_weights[i] = (float)e;
			inverse_sums[i] = (float)(1.0 / (sum + e));
			memset(row + pos, 0, (size_t)(P - pos) * sizeof *row);
		}
		/* out_h (n, D) = scores (n, P) v_h (P, D) per run, then the
		 * own value */
		for (i0 = 0; P > 0 && i0 < n; i0 = i1) {
			keys = positions[i0];
			for (i1 = i0 + 1; i1 < n && caches[i1] == caches[i0];
			    i1++)
				keys = positions[i1] > keys ? positions[i1] :
				    keys;
			if (keys == 0) {
				for (i = i0; i < i1; i++)
					memset(att + (size_t)i * C + h * D, 0,
					    (size_t)D * sizeof *att);
				continue;
			}
			vc = caches[i0]->v + (size_t)layer * N * C;
			gemm(false, false, i1 - i0, D, keys, 1.0f, scores +
			    (size_t)i0 * P, P, vc + (size_t)h * D, C, 0.0f,
			    att + (size_t)i0 * C + (size_t)h * D, C);
		}
		for (i = 0; i < n; i++) {
			float *o = att + (size_t)i * C + h * D;
			const float *own_v = qkv + (size_t)i * 3 * C + 2 * C +
			    h * D;
			float a = own_weights[i], inv = inverse_sums[i];
			int j;

			if (P == 0)
				memset(o, 0, (size_t)D * sizeof *o);
			SIMD
			for (j = 0; j < D; j++)
				o[j] = (o[j] + a * own_v[j]) * inv;
		}
	}
	linear(x, att, w->wo, n, C, C, 1.0f);
}

void
model_ffn_add(const struct duo_model *model, int layer,
    enum route_choice choice, const float *xn, int n, float *out,
    float *scratch)
{
	const float *gate_up, *down;
	int I;

	if (choice == CHOICE_SKIP || n == 0)
		return;
	I = ffn_weights(model, layer, choice, &gate_up, &down);
	ffn_module_forward(out, 1.0f, xn, n, gate_up, down,
	    model->config.d_model, I, scratch, parallel_elementwise_pays());
}

/*
 * The head's product runs in blocks of HEAD_ROWS rows and HEAD_COLUMNS
 * vocabulary entries: each call packs its slice of the embedding once for
 * many rows (with 64 rows a call, packing the whole (V, C) matrix took a
 * fifth of the time), and its (HEAD_ROWS, HEAD_COLUMNS) logits, 1 MB,
 * stay in the second-level cache while the log-sum-exp reads them, which
 * is merged over slices.
 */
#define HEAD_ROWS 256
#define HEAD_COLUMNS 1024

size_t
model_head_scratch_size(const struct duo_config *config)
{
	return (size_t)HEAD_ROWS * ((size_t)config->d_model + HEAD_COLUMNS) +
	    2 * (size_t)HEAD_ROWS;
}

void
model_head_losses(const struct duo_model *model, const float *x, int n,
    const int32_t *targets, float *losses, float *scratch)
{
	model_head_scores(model, x, n, targets, NULL, NULL, losses, NULL,
	    scratch);
}

/* sum_c a[c] b[c] in double. */
static double
dot_double(const float *a, const float *b, int n)
{
	double sum = 0.0;
	int c;

	SIMD_SUM(sum)
	for (c = 0; c < n; c++)
		sum += (double)a[c] * (double)b[c];
	return sum;
}

void
model_head_scores(const struct duo_model *model, const float *x, int n,
    const int32_t *targets, const float *const *reference,
    const double *reference_plogp, float *losses, float *kl, float *scratch)
{
	const struct duo_config *c = &model->config;
	int C = c->d_model, V = c->n_vocab, i0, rows, v0, cols, i;
	float *xn = scratch, *logits = scratch + (size_t)HEAD_ROWS * C;
	float *max = logits + (size_t)HEAD_ROWS * HEAD_COLUMNS;
	float *target_logit = max + HEAD_ROWS, *row, m;
	double sums[HEAD_ROWS], dots[HEAD_ROWS], log_sum;

	for (i0 = 0; i0 < n; i0 += rows) {
		rows = n - i0 < HEAD_ROWS ? n - i0 : HEAD_ROWS;
		rmsnorm_forward(xn, NULL, x + (size_t)i0 * C,
		    model->output_norm, rows, C, c->norm_eps, false);
		/* sum_v p z = sum_v p (xn E_v) = xn (sum_v p E_v) */
		for (i = 0; reference != NULL && i < rows; i++)
			dots[i] = dot_double(xn + (size_t)i * C,
			    reference[i0 + i], C);
		for (v0 = 0; v0 < V; v0 += cols) {
			cols = V - v0 < HEAD_COLUMNS ? V - v0 : HEAD_COLUMNS;
			/* logits (rows, cols) = xn E[v0 .. v0 + cols)^T */
			gemm(false, true, rows, cols, C, 1.0f, xn, C,
			    model->output + (size_t)v0 * C, C, 0.0f, logits,
			    cols);
			for (i = 0; i < rows; i++) {
				int32_t t = targets[i0 + i];

				row = logits + (size_t)i * cols;
				if (t >= v0 && t < v0 + cols)
					target_logit[i] = row[t - v0];
				m = row_max(row, cols);
				if (v0 == 0) {
					max[i] = m;
					sums[i] = exp_shifted(row, row, m,
					    cols);
					continue;
				}
				/* merge: sum of exp(l - max) over both */
				if (m > max[i]) {
					sums[i] *= exp((double)max[i] -
					    (double)m);
					max[i] = m;
				}
				sums[i] += exp_shifted(row, row, max[i], cols);
			}
		}
		for (i = 0; i < rows; i++) {
			log_sum = log(sums[i]) + (double)max[i];
			losses[i0 + i] = (float)(log_sum -
			    (double)target_logit[i]);
			/* KL = sum p ln p - sum p z + ln sum exp z, as p
			 * sums to 1; never below 0 but for rounding */
			if (reference != NULL)
				kl[i0 + i] = (float)fmax(0.0,
				    reference_plogp[i0 + i] - dots[i] +
				    log_sum);
		}
	}
}

void
model_head_expectation(const struct duo_model *model, const float *p, int n,
    float *out)
{
	const struct duo_config *c = &model->config;

	gemm(false, false, n, c->d_model, c->n_vocab, 1.0f, p, c->n_vocab,
	    model->output, c->d_model, 0.0f, out, c->d_model);
}

void
model_head_logits(const struct duo_model *model, const float *x, int n,
    float *logits, float *scratch)
{
	const struct duo_config *c = &model->config;
	int C = c->d_model, V = c->n_vocab, i0, rows;

	for (i0 = 0; i0 < n; i0 += rows) {
		rows = n - i0 < HEAD_ROWS ? n - i0 : HEAD_ROWS;
		rmsnorm_forward(scratch, NULL, x + (size_t)i0 * C,
		    model->output_norm, rows, C, c->norm_eps, false);
		gemm(false, true, rows, V, C, 1.0f, scratch, C, model->output,
		    C, 0.0f, logits + (size_t)i0 * V, V);
	}
}
