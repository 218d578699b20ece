/*
 * layers.h - the layer kernels of the Duo model, each a forward and (where
 * training needs one) a backward function over flat float arrays, and the
 * one OpenMP policy that every elementwise loop of the numerical code
 * follows.  model.c (inference, the oracle's building blocks) and train.c
 * and router_train.c (training with saved activations) assemble their
 * passes from these; none of them defines a kernel of its own.
 *
 * This module must not know about models, routes, caches, trainers or
 * routers: it sees only arrays, their shapes and the weights passed in.
 *
 * Dimension letters, as in model.h and train.h:
 *   C width, H heads, D = C / H head size, V vocabulary, I an FFN
 *   module's inner size (F or S), R rows of a call, T positions of a
 *   sequence, M sequences, N cached positions, n rows routed to a module.
 *
 * Backward functions accumulate (+=) into weight gradients; what they do
 * to the input gradient is said at each.
 *
 * Two pairs of kernels compute the same function in two ways, kept apart
 * because their float results differ in the last bits and each path's
 * numbers are pinned by its tests: the inference path (attention_kv_forward,
 * softmax sums in double through exp_shifted; swiglu_forward through
 * silu_mul) and the training path (attention_forward keeping normalised
 * probabilities, ffn_forward keeping gate and up, both through a scalar
 * exponential the compiler vectorises in the loops that need it).
 */
#ifndef DUO_LAYERS_H
#define DUO_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- the OpenMP policy ------------------------------------------------- */

/*
 * An elementwise loop runs on the OpenMP team when its caller allows it
 * and it touches at least PARALLEL_MIN_WORK elements: below that, waking
 * the team costs more than it saves.  The trainer always allows it (BLAS
 * runs one thread per call there); the inference path allows it only
 * when parallel_elementwise_pays() (see layers.c).  The rule is written
 * once, here: PARALLEL_FOR(allowed, work) before a for loop.
 */
#define PARALLEL_MIN_WORK (1 << 15)

#ifdef _OPENMP
#define LAYERS_PRAGMA(x) _Pragma(#x)
#define PARALLEL_FOR(allowed, work) \
	LAYERS_PRAGMA(omp parallel for schedule(static) \
	    if ((allowed) && (size_t)(work) >= PARALLEL_MIN_WORK))
/* Independent pieces of uneven cost, handed out as threads come free. */
#define PARALLEL_FOR_DYNAMIC(condition) \
	LAYERS_PRAGMA(omp parallel for schedule(dynamic, 1) if (condition))
/* Loops the compiler may vectorise (GCC's -O2 leaves loops with a
 * remainder alone otherwise). */
#define SIMD LAYERS_PRAGMA(omp simd)
#define SIMD_SUM(variable) LAYERS_PRAGMA(omp simd reduction(+:variable))
#define SIMD_MAX(variable) LAYERS_PRAGMA(omp simd reduction(max:variable))
#else
#define PARALLEL_FOR(allowed, work) (void)(allowed); (void)(work);
#define PARALLEL_FOR_DYNAMIC(condition) (void)(condition);
#define SIMD
#define SIMD_SUM(variable)
#define SIMD_MAX(variable)
#endif

/* Whether the inference path's elementwise loops may use the team. */
bool parallel_elementwise_pays(void);
/* OpenMP threads of a parallel region (1 without OpenMP). */
int parallel_thread_count(void);
/* This thread's number in its region (0 without OpenMP). */
int parallel_thread_id(void);

/* Query rows per attention block: a block computes scores only up to the
 * last key its last row may see, so the causal mask wastes at most a
 * block's triangle instead of half of every (T, T) product.  Scratch of
 * the attention kernels is sized in blocks of this many rows. */
#define ATTENTION_BLOCK 64

/* --- exponentials ------------------------------------------------------ */

/* The largest of n >= 1 values. */
float row_max(const float *x, int n);
/* out[i] = exp(x[i] - shift) for n values; returns their sum, added up in
 * double.  out may be x. */
double exp_shifted(float *out, const float *x, float shift, int n);
/* g[i] = silu(g[i]) * u[i] = g u / (1 + exp(-g)) for n values. */
void silu_mul(float *g, const float *u, int n);

/* --- embedding --------------------------------------------------------- */

/* out (R, C) = embedding (V, C) rows of tokens (R). */
void embedding_forward(float *out, const int32_t *tokens,
    const float *embedding, int R, int C, bool parallel);
/* dembedding (V, C) += dout (R, C) scattered to the rows of tokens. */
void embedding_backward(float *dembedding, const float *dout,
    const int32_t *tokens, int R, int C);

/* --- RMSNorm ----------------------------------------------------------- */

/* out (R, C) = x / rms(x) * w (C); rstd (R) = 1 / rms unless NULL. */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w,
    int R, int C, float eps, bool parallel);
/* dx (R, C) += ..., dw (C) += ... (dw may be NULL: not wanted);
 * partial is scratch (threads, C). */
void rmsnorm_backward(float *dx, float *dw, float *partial, const float *dout,
    const float *x, const float *w, const float *rstd, int R, int C);

/* --- linear ------------------------------------------------------------ */

/*
 * out (R, O) = x (R, I) w^T + beta * out, w (O, I), the product split over
 * the OpenMP team (BLAS on one thread per call, as the trainer sets it).
 * The inference path calls linalg.h's linear() instead, which leaves the
 * threads to BLAS.
 */
void linear_forward(float *out, const float *x, const float *w, int R,
    int in, int out_dim, float beta);
/* dx (R, I) = dout (R, O) w (if dx is not NULL; it may alias x);
 * dw (O, I) += dout^T x (if dw is not NULL). */
void linear_backward(float *dx, float *dw, const float *dout, const float *x,
    const float *w, int R, int in, int out_dim);

/* --- RoPE -------------------------------------------------------------- */

/* cos_table, sin_table (N, D/2) = cos, sin of p base^(-2i/D), the angles
 * computed in double: at position 4095 a float angle would already be off
 * by about 1e-4 radians. */
void rope_tables(float *cos_table, float *sin_table, int N, int D,
    float base);
/*
 * Rotate the pairs (2i, 2i+1) of every D-wide head in the first width
 * columns of each row of x (R, stride), row r being position
 * start + r % T (the NORM convention of llama.cpp).  rope_backward applies
 * the inverse rotation to a gradient (start 0).
 */
void rope_forward(float *x, int R, int T, int start, int width, int stride,
    int D, const float *cos_table, const float *sin_table, bool parallel);
void rope_backward(float *dx, int R, int T, int width, int stride, int D,
    const float *cos_table, const float *sin_table);

/* --- attention --------------------------------------------------------- */

/*
 * Inference: causal attention of T queries at positions start.. against
 * the keys and values of positions 0 .. start + T - 1, head by head on
 * strided slices.  out (T, C); q (T, C) with row stride 3C (inside a qkv
 * row); k and v (N, C), RoPE applied to k; scores (min(T, block), N),
 * inverse_sums (min(T, block)) scratch.
 */
void attention_kv_forward(float *out, const float *q, const float *k,
    const float *v, float *scores, float *inverse_sums, int T, int start,
    int C, int H, bool parallel);
/*
 * Training: causal attention of M sequences of T positions, each from
 * position 0: out (R, C) from qkv (R, 3C), keeping probs (M, H, T, T).
 * Parallel over (sequence, head).
 */
void attention_forward(float *out, float *probs, const float *qkv, int M,
    int T, int C, int H);
/* dqkv (R, 3C) = gradient from dout (R, C); dprobs scratch (threads,
 * min(T, ATTENTION_BLOCK), T). */
void attention_backward(float *dqkv, float *dprobs, const float *dout,
    const float *qkv, const float *probs, int M, int T, int C, int H);

/* --- routed rows ------------------------------------------------------- */

/* out (n, C) = the rows rows[0..n) of x (., C). */
void rows_gather(float *out, const float *x, const int *rows, int n, int C,
    bool parallel);
/* x (., C) at rows rows[0..n) += y (n, C). */
void rows_scatter_add(float *x, const float *y, const int *rows, int n,
    int C, bool parallel);

/* --- SwiGLU FFN -------------------------------------------------------- */

/* Inference: gate_up (n, 2I) holds [gate | up] per row; leave
 * silu(gate) * up in the first I columns. */
void swiglu_forward(float *gate_up, int n, int I, bool parallel);
/*
 * Inference: out (n, C) = beta * out + w_down (silu(gate x) * up x) for x
 * (n, C) normalised; w_gate_up (2I, C) the gate then the up matrix
 * (adjacent in the layout, so one (2I, C) product makes both), w_down
 * (C, I); gate_up scratch (n, 2I).
 */
void ffn_module_forward(float *out, float beta, const float *x, int n,
    const float *w_gate_up, const float *w_down, int C, int I,
    float *gate_up, bool parallel);

/* Scratch of the training FFN kernels, (R, .) for the rows of one pass. */
struct ffn_scratch {
	float *gathered;       /* (R, C) rows of one module's input */
	float *module_out;     /* (R, C) its output, or gradient */
	float *hidden;         /* (R, F) silu(gate) * up, or its gradient */
	float *dgate_up;       /* (R, 2F) */
};

/*
 * Training: one SwiGLU module on the n rows listed in rows: out (R, C) at
 * those rows += w_down (silu(gate x) * up x), x (R, C) the normalised
 * input.  Keeps gate_up (n, 2I) for the backward pass.
 */
void ffn_forward(float *out, float *gate_up, const float *x, const int *rows,
    int n, const float *w_gate_up, const float *w_down, int C, int I,
    struct ffn_scratch *scratch);
/* dx (R, C) = input gradient at the n rows (others untouched); the
 * weight gradients may be NULL (a frozen module). */
void ffn_backward(float *dx, float *dw_gate_up, float *dw_down,
    const float *dout, const float *x, const int *rows, int n,
    const float *gate_up, const float *w_gate_up, const float *w_down, int C,
    int I, struct ffn_scratch *scratch);

/* --- cross-entropy ----------------------------------------------------- */

/* -ln softmax(logits (V))[target], summed in double (inference). */
float crossentropy_row(const float *logits, int V, int32_t target);
/* Training: losses (R) of logits (R, V) against targets; logits become
 * softmax. */
void crossentropy_forward(float *losses, float *logits,
    const int32_t *targets, int R, int V);
/* probs (R, V) become scale * (probs - onehot(target)), the logit
 * gradient. */
void crossentropy_backward(float *probs, const int32_t *targets, int R, int V,
    float scale);

#endif
