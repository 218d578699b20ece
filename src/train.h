/*
 * train.h - stage 1 of the Duo method: training a model from scratch with
 * random big/small routing (doc/design.md sections 1 and 2).
 *
 * The trainer reads like llm.c: the forward and backward kernels of
 * layers.h over flat float arrays, assembled here with the activations
 * kept for the backward pass, and AdamW over the model's single parameter
 * buffer.  Gradients and the
 * two AdamW moments are buffers of the same layout as model->params, so a
 * weight's gradient is at the same offset in tr->grads as the weight in
 * model->params.
 *
 * Dimension letters, as in model.h, plus:
 *   M sequences in one forward/backward pass (the micro-batch),
 *   T = n_ctx positions per sequence, R = M * T rows,
 *   n rows routed to one FFN module, I that module's inner size (F or S).
 *
 * Routing during training: for every row and layer independently, the
 * slot is skipped with probability p_skip; otherwise it goes to the big
 * module with probability p_big and to the small one else.  So
 * P(skip) = p_skip, P(big) = (1 - p_skip) p_big,
 * P(small) = (1 - p_skip) (1 - p_big); with p_skip = 0 this is the paper's
 * rule.  Each module sees only the rows routed to it.
 *
 * A training sequence is BOS followed by T - 1 consecutive corpus tokens
 * from a random offset, its targets the same tokens shifted by one (the
 * last target is the next corpus token), which is how texts are scored.
 *
 * This module computes, saves and restores; it never prints, never exits
 * and installs no signal handler: the command line owns the loop around
 * train_step().
 */
#ifndef DUO_TRAIN_H
#define DUO_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layers.h"
#include "model.h"

struct train_options {
	int batch;           /* B sequences of T tokens per optimizer step */
	int micro_batch;     /* M sequences per pass; 0: as many as fit 4096 rows */
	int steps;           /* optimizer steps in all */
	float lr;            /* peak learning rate */
	float min_lr_ratio;  /* the cosine ends at lr * min_lr_ratio */
	int warmup;          /* steps of linear warm-up from lr / warmup */
	float weight_decay;  /* AdamW decay of matrices (norm gains: none) */
	float beta1, beta2, adam_eps;
	float clip;          /* global gradient norm limit; 0: no clipping */
	float p_big, p_skip; /* routing, see above */
	uint32_t seed;       /* initialisation, data order and routes */
};

/* Defaults: batch 16, lr 1.5e-3 ... (see train.c). */
void train_options_default(struct train_options *o);
/* Check options for sense; the message names the faulty option. */
int train_options_validate(const struct train_options *o,
    struct duo_error *err);

/* Activations of one pass of M sequences, kept for the backward pass. */
struct train_activations {
	int32_t *inputs;       /* (R) token ids */
	int32_t *targets;      /* (R) next token ids */
	uint8_t *routes;       /* (R, L) enum route_choice, like model_forward */
	float *residual;       /* (L+1, R, C) input of layer l; [L] feeds lnf */
	float *residual_mid;   /* (L, R, C) after the attention of layer l */
	float *ln1;            /* (L, R, C) attention norm output */
	float *ln1_rstd;       /* (L, R) 1 / rms of the norm's input rows */
	float *qkv;            /* (L, R, 3C) q | k | v per row, RoPE on q, k */
	float *probs;          /* (L, M, H, T, T) attention, 0 above diagonal */
	float *atty;           /* (L, R, C) attention output before wo */
	float *ln2;            /* (L, R, C) FFN norm output */
	float *ln2_rstd;       /* (L, R) */
	int *rows_big;         /* (L, R) rows routed to the big module */
	int *rows_small;       /* (L, R) rows routed to the small module */
	int *n_big, *n_small;  /* (L) how many */
	float *gate_up_big;    /* (L, R, 2F) [gate | up] of the routed rows */
	float *gate_up_small;  /* (L, R, 2S) */
	float *lnf;            /* (R, C) final norm output */
	float *lnf_rstd;       /* (R) */
	float *logits;         /* (R, V) logits, then probabilities, then
	                        * their gradient */
	float *losses;         /* (R) per-row cross-entropy */
};

/* Scratch of the backward pass (and of the FFN gathers). */
struct train_scratch {
	float *dresidual;      /* (R, C) gradient of the residual stream */
	float *dln;            /* (R, C) gradient of a norm's output */
	float *datty;          /* (R, C) */
	float *dqkv;           /* (R, 3C) */
	struct ffn_scratch ffn;  /* the FFN kernels' gathers */
	float *dprobs;         /* (threads, min(T, 64), T) attention blocks */
	float *norm_partial;   /* (threads, C) RMSNorm gain gradient sums */
};

/* A parameter tensor's place in the layout, and whether it decays. */
struct train_tensor {
	size_t offset, n_elements;
	int decay;
};

struct trainer {
	struct duo_model *model;       /* borrowed */
	struct train_options options;
	int micro_batch;               /* M actually used */
	int threads;                   /* OpenMP threads at init */
	const int32_t *tokens;         /* training corpus, borrowed; may be NULL */
	size_t n_tokens;
	uint64_t corpus_hash;          /* FNV-1a of the corpus tokens */
	int32_t bos;

	float *grads;                  /* (n_params) */
	float *adam_m;                 /* (n_params) */
	float *adam_v;                 /* (n_params) */
	struct train_tensor *tensors;  /* [n_tensors] */
	int n_tensors;

	struct train_activations act;
	struct train_scratch scratch;
	float *rope_cos;               /* (T, D/2) */
	float *rope_sin;               /* (T, D/2) */
	size_t bytes;                  /* memory held by the trainer */

	/* Everything below is saved in a checkpoint. */
	int step;                      /* optimizer steps done */
	uint64_t tokens_seen;
	uint64_t rng_data;             /* stream of sequence offsets */
	uint64_t rng_route;            /* stream of training routes */
	double seconds;                /* training time so far */

	/* Facts about the last step. */
	float last_loss, last_lr, last_grad_norm;
};

/*
 * Prepare training of model (its parameters already initialised or
 * loaded) on tokens (n_tokens corpus ids, borrowed until trainer_free;
 * NULL for tests that fill tr->act themselves).  Sets OpenMP to the
 * current thread count and BLAS to one thread per call: the trainer
 * splits every product over its OpenMP threads itself.
 */
int trainer_init(struct trainer *tr, struct duo_model *model,
    const struct train_options *options, const int32_t *tokens,
    size_t n_tokens, int32_t bos, struct duo_error *err);
void trainer_free(struct trainer *tr);

/* Learning rate of step (0-based): warm-up, then cosine to the minimum. */
float train_learning_rate(const struct train_options *o, int step);

/* One optimizer step on B fresh sequences; *loss gets their mean loss. */
int train_step(struct trainer *tr, float *loss, struct duo_error *err);

/*
 * Forward pass of n_seq <= tr->micro_batch sequences held in tr->act
 * (inputs, targets, routes); returns the mean loss and leaves per-row
 * losses in tr->act.losses.  train_backward() accumulates into tr->grads
 * the gradient of scale * (sum of the row losses).
 */
float train_forward(struct trainer *tr, int n_seq);
void train_backward(struct trainer *tr, int n_seq, float scale);

/* Draw the routes of rows rows (rows * L choices) from a generator. */
void train_sample_routes(uint8_t *routes, size_t rows, int n_layer,
    float p_big, float p_skip, uint64_t *rng);

/* Mean validation losses per route kind, in nats per token. */
struct train_eval {
	double big, small, random;
	size_t n_tokens;    /* tokens scored per kind */
};

/*
 * Score the first windows (BOS + T - 1 tokens each, at most max_windows)
 * of tokens with model_window_losses under all-big, all-small and random
 * routes drawn from seed with p_big and p_skip: the same windows and the
 * same random routes at every call.  Windows run in parallel over the
 * OpenMP threads (BLAS is set to one thread per call).
 */
int train_evaluate(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, int max_windows, float p_big, float p_skip,
    uint32_t seed, struct train_eval *out, struct duo_error *err);

/*
 * Checkpoints.  A checkpoint is a duo model file (model_load reads it as
 * the model it holds) with these keys added:
 *   duo.checkpoint.version        u32  1
 *   duo.checkpoint.step           u64  optimizer steps done
 *   duo.checkpoint.tokens_seen    u64
 *   duo.checkpoint.rng.data       u64  generator states
 *   duo.checkpoint.rng.route      u64
 *   duo.checkpoint.milliseconds   u64  training time so far
 *   duo.checkpoint.corpus.tokens  u64  corpus length and FNV-1a hash of
 *   duo.checkpoint.corpus.hash    u64  its tokens, checked on resume
 *   duo.checkpoint.adam.m         f32 array (n_params) AdamW moments
 *   duo.checkpoint.adam.v         f32 array (n_params)
 *   duo.checkpoint.batch ...      every field of struct train_options
 * The file is written to PATH.tmp and renamed over path.
 */
int train_checkpoint_save(struct trainer *tr, const char *path,
    struct duo_error *err);
/* Read the training options stored in a checkpoint. */
int train_checkpoint_options(const char *path, struct train_options *o,
    struct duo_error *err);
/*
 * Restore moments, step, generators and counters into tr, made by
 * trainer_init on the model loaded from the same checkpoint and on the
 * same corpus (checked).  Continuing is then bit-identical to never having
 * stopped, given the same thread count.
 */
int train_checkpoint_restore(struct trainer *tr, const char *path,
    struct duo_error *err);

/*
 * The layer kernels, each a forward and a backward function, are in
 * layers.h; train_forward() and train_backward() assemble them with the
 * activations above, and so does the router's training with the
 * attention sublayer below.
 */

/*
 * The attention sublayer of one layer over M sequences of T positions
 * (R = M T rows): xm (R, C) = x + Attn(RMSNorm(x)), keeping the norm's
 * output ln1 (R, C) and rstd (R), qkv (R, 3C), probs (M, H, T, T) and
 * the attention output atty (R, C) for the backward pass.
 */
struct attention_saved {
	float *ln1, *rstd, *qkv, *probs, *atty;
};
void attention_sublayer_forward(const struct duo_layer *w, float *xm,
    const float *x, const struct attention_saved *a, int M, int T, int C,
    int H, float eps, const float *rope_cos, const float *rope_sin);
/*
 * dres (R, C) holds the gradient at xm and becomes the gradient at x;
 * the weight gradients (wq, wk, wv adjacent; wo; the norm's gain) are
 * accumulated where not NULL (a frozen layer passes NULL).
 */
void attention_sublayer_backward(const struct duo_layer *w, float *dres,
    const float *x, const struct attention_saved *a, float *dw_qkv,
    float *dw_o, float *dw_norm, int M, int T, int C, int H,
    const float *rope_cos, const float *rope_sin, struct train_scratch *s);

/* OpenMP threads the trainer splits work over. */
int train_thread_count(void);

#endif
