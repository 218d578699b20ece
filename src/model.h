/*
 * model.h - the Duo model: hyperparameters, weights, loading and saving
 * them as GGUF, and the forward pass with a route per token and layer.
 *
 * Dimension letters used in shape comments:
 *   L layers, C width (d_model), H heads, D = C / H head size,
 *   F big FFN inner size (4C), S small FFN inner size (F / 16),
 *   V vocabulary, N context (n_ctx), T positions in a call.
 * Weights are stored as GGUF stores them: a tensor with ne = [in, out] is a
 * row-major (out, in) matrix, and a linear layer computes y = x W^T.
 *
 * All parameters live in one float buffer (model->params) split into named
 * pointers in a fixed order, so the trainer can keep gradients and optimizer
 * moments as buffers of the same layout.
 *
 * This module must not know about training, oracles, routers' training or
 * storage of runs; it only computes.
 */
#ifndef DUO_MODEL_H
#define DUO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

/* One FFN slot's choice.  The digit of a choice in a route code is its
 * index in the space's name (see route.h), not this value. */
enum route_choice {
	CHOICE_BIG = 0,    /* 'B' */
	CHOICE_SMALL = 1,  /* 'S' */
	CHOICE_SKIP = 2,   /* '.' */
};

/*
 * The most layers a model may have, checked when a configuration is
 * validated (so on every load): a route code is a route read as a 64-bit
 * number, and every buffer of a route's letters or choices is sized from
 * this bound.
 */
#define DUO_MAX_LAYERS 64

struct duo_config {
	int n_layer;       /* L */
	int d_model;       /* C */
	int n_head;        /* H */
	int d_ff;          /* F */
	int d_ff_small;    /* S */
	int n_vocab;       /* V */
	int n_ctx;         /* N */
	float rope_base;   /* 10000 */
	float norm_eps;    /* 1e-5 */
	/*
	 * A dense model (a file of architecture 'deci' that "duo convert
	 * --route" writes) has one FFN module per layer, of inner size
	 * ffn_width[l], held where a Duo model holds its big module: its
	 * only route is all B, d_ff is its widest module and d_ff_small
	 * its narrowest.  Zero for a Duo model.
	 */
	int dense;
	int ffn_width[DUO_MAX_LAYERS];
};

struct duo_layer {
	float *attn_norm;   /* (C) */
	float *wq;          /* (C, C) */
	float *wk;          /* (C, C) */
	float *wv;          /* (C, C) */
	float *wo;          /* (C, C) */
	float *ffn_norm;    /* (C) */
	float *gate;        /* (F, C) */
	float *up;          /* (F, C) */
	float *down;        /* (C, F) */
	float *gate_small;  /* (S, C) */
	float *up_small;    /* (S, C) */
	float *down_small;  /* (C, S) */
};

/* Facts about how a model was trained, kept under duo.training.*. */
struct duo_training_info {
	float p_big;
	float p_skip;
	uint64_t tokens_seen;
	uint32_t seed;
	char *corpus;        /* may be NULL */
};

struct tokenizer;

struct duo_model {
	struct duo_config config;
	char *name;                    /* general.name */
	struct duo_training_info training;
	struct tokenizer *tokenizer;   /* owned; NULL for a bare model */

	float *params;                 /* every parameter, in layout order */
	size_t n_params;
	float *token_embedding;        /* (V, C) */
	float *output_norm;            /* (C) */
	float *output;                 /* (V, C); == token_embedding when tied */
	int tied_output;
	struct duo_layer *layers;      /* [L] */
	/* a dense model's route letters from duo.dense.route, or "" */
	char dense_route[DUO_MAX_LAYERS + 1];
};

/*
 * Parameter layout: token_embd, output_norm, [output,] then per layer
 * attn_norm, q, k, v, o, ffn_norm, gate, up, down, gate_small, up_small,
 * down_small.  model_tensor_count() and model_tensor_info() enumerate it
 * with GGUF names and shapes, which both the loader and the writer use.
 */
struct model_tensor_info {
	char name[64];
	uint32_t n_dims;
	uint64_t ne[2];      /* GGUF order: ne[0] = in (fastest) */
	size_t offset;       /* in floats, into params */
	size_t n_elements;
};
int model_tensor_count(const struct duo_config *config, int tied_output);
void model_tensor_info(const struct duo_config *config, int tied_output,
    int index, struct model_tensor_info *info);
size_t model_param_count(const struct duo_config *config, int tied_output);

/* Check a configuration for sense (positive sizes, C divisible by 2H ...). */
int config_validate(const struct duo_config *config, struct duo_error *err);

/* Allocate zeroed parameters for config and point the named pointers. */
int model_alloc(struct duo_model *model, const struct duo_config *config,
    int tied_output, struct duo_error *err);
/* Random initialisation (normal, std 0.02; residual projections scaled by
 * 1/sqrt(2L); norms at 1), deterministic for a seed. */
void model_init_random(struct duo_model *model, uint64_t seed);
/* Load a duo GGUF file (F32 or F16 tensors), tokenizer included; a
 * dense file is refused with a line saying which commands read it. */
int model_load(struct duo_model *model, const char *path,
    struct duo_error *err);
/* model_load that also reads a dense file (architecture 'deci'), for
 * the commands that only score with the model's own route. */
int model_load_dense(struct duo_model *model, const char *path,
    struct duo_error *err);
/* Add a dense model's keys (architecture 'deci', the per-layer arrays
 * llama.cpp reads), tokenizer and tensors to a writer; model must be
 * dense. */
void model_write_dense(const struct duo_model *model,
    struct gguf_writer *writer, enum gguf_tensor_type type);
/* The dense model of model under route (L choices): layer l holds the
 * big module, the small one, or for a skip a module of width 1 whose
 * weights are zero (it adds exactly nothing).  dense takes model's
 * name, training facts and tokenizer. */
int model_make_dense(struct duo_model *dense, struct duo_model *model,
    const uint8_t *route, struct duo_error *err);
/* Add every model key, tokenizer key and tensor to a writer. */
void model_write(const struct duo_model *model, struct gguf_writer *writer,
    enum gguf_tensor_type type);
/* model_write to a new writer and save it atomically to path. */
int model_save(const struct duo_model *model, const char *path,
    enum gguf_tensor_type type, struct duo_error *err);
void model_free(struct duo_model *model);

/* FLOPs per token of one layer's pieces and the head, for compute ratios. */
double model_flops_attention(const struct duo_config *config, int context);
double model_flops_ffn(const struct duo_config *config, enum route_choice c);
double model_flops_head(const struct duo_config *config);

/*
 * Key/value cache for one sequence: positions 0..length-1 are filled.
 */
struct kv_cache {
	int n_layer, n_ctx, d_model;
	int length;
	float *k;            /* (L, N, C), RoPE applied */
	float *v;            /* (L, N, C) */
};
int kv_cache_init(struct kv_cache *cache, const struct duo_config *config,
    struct duo_error *err);
void kv_cache_reset(struct kv_cache *cache);
void kv_cache_free(struct kv_cache *cache);

/* Scratch space for forward passes of up to max_tokens positions. */
struct forward_workspace;
struct forward_workspace *forward_workspace_new(const struct duo_config *c,
    int max_tokens);
void forward_workspace_free(struct forward_workspace *ws);

/*
 * Run T tokens at positions cache->length .. cache->length + T - 1 through
 * the model, position t using routes[t * L + l] at layer l (enum
 * route_choice), appending their keys and values to the cache.  Writes
 * logits (T, V) if logits is non-NULL.  T == 1 is the single-token step.
 * Fails if the cache would pass n_ctx or T exceeds the workspace.
 */
int model_forward(const struct duo_model *model, struct kv_cache *cache,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    const uint8_t *routes, float *logits, struct duo_error *err);

/*
 * Who decides the route of a pass when it is not given (a learned
 * router): called at each layer with the FFN inputs xn (n, C) of the
 * pass's n rows, after the layer's ffn_norm (the rows the FFN modules
 * see), it writes row t's choice at that layer (enum route_choice) to
 * choices[t * stride].  arg is the caller's.
 */
typedef void (*model_route_decider)(void *arg, int layer, const float *xn,
    int n, uint8_t *choices, int stride);

/*
 * The pass of model_forward() over one window of T tokens from position 0
 * (ws's own cache), with decide choosing each row's route layer by layer:
 * routes (T, L) receives the choices.  When losses is not NULL and T > 1,
 * losses[t] = -ln P(tokens[t + 1]) for t = 0 .. T-2 from
 * model_head_losses().
 */
int model_window_decided(const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    model_route_decider decide, void *decide_arg, uint8_t *routes,
    float *losses, struct duo_error *err);

/*
 * Per-token losses of one window starting at position 0: losses[t] =
 * -ln P(tokens[t + 1] | tokens[0..t]) for t = 0 .. T-2, position t using
 * routes[t * L ..].  Uses a fresh cache internally.
 */
int model_window_losses(const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *tokens, int T,
    const uint8_t *routes, float *losses, struct duo_error *err);

/*
 * Building blocks, exposed for the oracle and the trainer's tests.
 * rmsnorm: out (n, C) = x / rms(x) * w.
 * ffn: out (n, C) = module c applied to x (n, C), already normalised;
 * scratch needs 3 * n * F floats.  CHOICE_SKIP writes zeros.
 */
void model_rmsnorm(float *out, const float *x, const float *w, int n, int C,
    float eps);
void model_ffn(const struct duo_model *model, int layer,
    enum route_choice choice, const float *x, int n, float *out,
    float *scratch);

/* Log-softmax loss of one logits row against target. */
float model_row_loss(const float *logits, int V, int32_t target);

/*
 * Building blocks for evaluating many routes at once (the oracle): the
 * sublayers of model_forward() over many rows, each row one route
 * prefix's hidden state.  ws is only read (its RoPE tables), so threads
 * may share one.  scratch holds model_attention_scratch_size(n_rows,
 * n_keys) floats, n_keys the most keys a row sees.
 *
 * model_attention_sequences: x (n_seq * T, C) += Attn(RMSNorm(x)) of layer
 * for n_seq independent sequences of T positions, each from position 0,
 * causal within its sequence.
 *
 * model_attention_cached: x (n, C) += Attn(RMSNorm(x)) of layer for n
 * rows, row i at position positions[i], attending to the keys and values
 * of positions 0 .. positions[i] - 1 in its own cache, caches[i], and to
 * its own key and value, which are not written to the cache.  Rows next
 * to each other with the same cache share one product (the greedy walk
 * holds rows of several contexts in one batch).
 *
 * model_ffn_add: out (n, C) += module choice of layer applied to xn (n,
 * C), already normalised; scratch needs 2 * n * F floats.
 *
 * model_head_losses: losses[i] = -ln P(targets[i]) from the final norm,
 * the head and a log-softmax of row i of x (n, C), in blocks of rows;
 * scratch holds model_head_scratch_size() floats.
 *
 * model_head_scores: the same losses, and when reference is not NULL
 * also kl[i] = KL(p_i || q_i) in nats, where q_i is row i's next-token
 * distribution and p_i a reference distribution given by its sum_v p ln p,
 * reference_plogp[i], and its expected output embedding reference[i] =
 * sum_v p[v] E_v (C floats; E the head, model_head_expectation()).  As
 * KL = sum p ln p - sum p z + ln sum exp z for the logits z = xn E^T, and
 * sum p z = xn . sum p E_v, it costs a dot product of length C per row
 * beside the log-sum-exp the loss needs anyway.
 *
 * model_head_expectation: out (n, C) = p (n, V) E, the expected output
 * embedding of each row's distribution p (the reference of
 * model_head_scores()).
 *
 * model_head_logits: logits (n, V) of the rows of x (n, C), final norm
 * and head; scratch holds model_head_scratch_size() floats.
 */
size_t model_attention_scratch_size(const struct duo_config *config,
    int n_rows, int n_keys);
void model_attention_sequences(const struct duo_model *model, int layer,
    const struct forward_workspace *ws, float *x, int n_seq, int T,
    float *scratch);
void model_attention_cached(const struct duo_model *model, int layer,
    const struct forward_workspace *ws, const struct kv_cache *const *caches,
    float *x, int n, const int *positions, float *scratch);
void model_ffn_add(const struct duo_model *model, int layer,
    enum route_choice choice, const float *xn, int n, float *out,
    float *scratch);
size_t model_head_scratch_size(const struct duo_config *config);
void model_head_losses(const struct duo_model *model, const float *x, int n,
    const int32_t *targets, float *losses, float *scratch);
void model_head_scores(const struct duo_model *model, const float *x, int n,
    const int32_t *targets, const float *const *reference,
    const double *reference_plogp, float *losses, float *kl, float *scratch);
void model_head_logits(const struct duo_model *model, const float *x, int n,
    float *logits, float *scratch);
void model_head_expectation(const struct duo_model *model, const float *p,
    int n, float *out);

#endif
