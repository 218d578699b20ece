/*
 * test_forward.c - the forward pass of model.c against a naive reference.
 *
 * The reference here is written from doc/design.md section 2 alone: plain
 * loops, double accumulation, no BLAS and no cache; every call recomputes
 * every position from the token embeddings.  It is compared with
 * model_forward() and model_window_losses() on random small models of
 * several shapes (non-power-of-two widths, one and many heads, head size
 * 2, tied and untied output, contexts longer than one attention block)
 * with random per-token routes over B, S and skip.
 *
 * Tolerance: 1e-4 absolute on every logit and every loss.  The model
 * computes in float32 (unit roundoff 6e-8); each value is a sum of at most
 * a few hundred O(1) products per layer, through at most four layers,
 * which leaves errors of 1e-6 to 1e-5 (the largest seen: 8e-6).  A real fault (a wrong RoPE pair, a
 * missing scale, a leaking causal mask, a mis-routed row) moves values by
 * far more than 1e-2.
 *
 * Everything runs twice: with the elementwise loops on one thread, then on
 * the OpenMP team (model.c uses the team when OMP_WAIT_POLICY=passive;
 * the largest shape is big enough for most loops to be split).
 *
 * Exit status: 0 pass, 1 a mismatch (the worst difference is printed),
 * 99 a setup failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "error.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

#define TEST_NAME "test_forward"
#include "testlib.h"

#define TOLERANCE 1e-4

static double
max_diff_float_double(const float *got, const double *want, size_t n)
{
	double worst = 0.0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = fabs((double)got[i] - want[i]);
		if (!(d <= worst))      /* NaN counts as the worst */
			worst = isnan(d) ? INFINITY : d;
	}
	return worst;
}

static double
max_diff_float(const float *a, const float *b, size_t n)
{
	double worst = 0.0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = fabs((double)a[i] - (double)b[i]);
		if (!(d <= worst))
			worst = isnan(d) ? INFINITY : d;
	}
	return worst;
}

/* --- the reference ----------------------------------------------------- */

static void
reference_rmsnorm(double *out, const double *x, const float *w, int C,
    double eps)
{
	double sum = 0.0, scale;
	int i;

	for (i = 0; i < C; i++)
		sum += x[i] * x[i];
	scale = 1.0 / sqrt(sum / C + eps);
	for (i = 0; i < C; i++)
		out[i] = x[i] * scale * w[i];
}

/* out (n_out) = W (n_out, n_in) x (n_in) */
static void
reference_matvec(double *out, const float *w, const double *x, int n_in,
    int n_out)
{
	double sum;
	int o, i;

	for (o = 0; o < n_out; o++) {
		sum = 0.0;
		for (i = 0; i < n_in; i++)
			sum += (double)w[(size_t)o * n_in + i] * x[i];
		out[o] = sum;
	}
}

/* Rotate pairs (2i, 2i+1) of each head by pos * base^(-2i/D). */
static void
reference_rope(double *x, int C, int D, int pos, double base)
{
	double angle, x0, x1;
	int h, i;

	for (h = 0; h < C / D; h++)
		for (i = 0; i < D / 2; i++) {
			angle = pos * pow(base, -2.0 * i / D);
			x0 = x[h * D + 2 * i];
			x1 = x[h * D + 2 * i + 1];
			x[h * D + 2 * i] = x0 * cos(angle) - x1 * sin(angle);
			x[h * D + 2 * i + 1] = x0 * sin(angle) + x1 * cos(angle);
		}
}

static double
reference_silu(double x)
{
	return x / (1.0 + exp(-x));
}

/* logits (T, V) of tokens (T), position t using routes[t * L + l]. */
static void
reference_forward(const struct duo_model *m, const int32_t *tokens, int T,
    const uint8_t *routes, double *logits)
{
	const struct duo_config *c = &m->config;
	int L = c->n_layer, C = c->d_model, H = c->n_head, D = C / H;
	int V = c->n_vocab, F = c->d_ff, l, t, s, h, i, j, I;
	double *x = xcalloc((size_t)T * C, sizeof *x);
	double *q = xcalloc((size_t)T * C, sizeof *q);
	double *k = xcalloc((size_t)T * C, sizeof *k);
	double *v = xcalloc((size_t)T * C, sizeof *v);
	double *att = xcalloc((size_t)T * C, sizeof *att);
	double *xn = xcalloc((size_t)C, sizeof *xn);
	double *tmp = xcalloc((size_t)C, sizeof *tmp);
	double *gate = xcalloc((size_t)F, sizeof *gate);
	double *up = xcalloc((size_t)F, sizeof *up);
	double *p = xcalloc((size_t)T, sizeof *p);
	double max, sum;
	const struct duo_layer *w;
	const float *wg, *wu, *wd;

	for (t = 0; t < T; t++)
		for (i = 0; i < C; i++)
			x[(size_t)t * C + i] =
			    m->token_embedding[(size_t)tokens[t] * C + i];
	for (l = 0; l < L; l++) {
		w = &m->layers[l];
		for (t = 0; t < T; t++) {
			reference_rmsnorm(xn, x + (size_t)t * C, w->attn_norm,
			    C, c->norm_eps);
			reference_matvec(q + (size_t)t * C, w->wq, xn, C, C);
			reference_matvec(k + (size_t)t * C, w->wk, xn, C, C);
			reference_matvec(v + (size_t)t * C, w->wv, xn, C, C);
			reference_rope(q + (size_t)t * C, C, D, t,
			    c->rope_base);
			reference_rope(k + (size_t)t * C, C, D, t,
			    c->rope_base);
		}
		for (t = 0; t < T; t++)
			for (h = 0; h < H; h++) {
				max = -INFINITY;
				for (s = 0; s <= t; s++) {
					sum = 0.0;
					for (i = 0; i < D; i++)
						sum += q[(size_t)t * C + h * D + i] *
						    k[(size_t)s * C + h * D + i];
					p[s] = sum / sqrt((double)D);
					max = p[s] > max ? p[s] : max;
				}
				sum = 0.0;
				for (s = 0; s <= t; s++) {
					p[s] = exp(p[s] - max);
					sum += p[s];
				}
				for (i = 0; i < D; i++) {
					double a = 0.0;

					for (s = 0; s <= t; s++)
						a += p[s] / sum *
						    v[(size_t)s * C + h * D + i];
					att[(size_t)t * C + h * D + i] = a;
				}
			}
		for (t = 0; t < T; t++) {
			reference_matvec(tmp, w->wo, att + (size_t)t * C, C, C);
			for (i = 0; i < C; i++)
				x[(size_t)t * C + i] += tmp[i];
			switch (routes[(size_t)t * L + l]) {
			case CHOICE_BIG:
				I = F;
				wg = w->gate, wu = w->up, wd = w->down;
				break;
			case CHOICE_SMALL:
				I = c->d_ff_small;
				wg = w->gate_small, wu = w->up_small;
				wd = w->down_small;
				break;
			default:
				continue;
			}
			reference_rmsnorm(xn, x + (size_t)t * C, w->ffn_norm,
			    C, c->norm_eps);
			reference_matvec(gate, wg, xn, C, I);
			reference_matvec(up, wu, xn, C, I);
			for (j = 0; j < I; j++)
				gate[j] = reference_silu(gate[j]) * up[j];
			reference_matvec(tmp, wd, gate, I, C);
			for (i = 0; i < C; i++)
				x[(size_t)t * C + i] += tmp[i];
		}
	}
	for (t = 0; t < T; t++) {
		reference_rmsnorm(xn, x + (size_t)t * C, m->output_norm, C,
		    c->norm_eps);
		reference_matvec(logits + (size_t)t * V, m->output, xn, C, V);
	}
	free(x);
	free(q);
	free(k);
	free(v);
	free(att);
	free(xn);
	free(tmp);
	free(gate);
	free(up);
	free(p);
}

static double
reference_loss(const double *logits, int V, int target)
{
	double max = logits[0], sum = 0.0;
	int i;

	for (i = 1; i < V; i++)
		max = logits[i] > max ? logits[i] : max;
	for (i = 0; i < V; i++)
		sum += exp(logits[i] - max);
	return log(sum) + max - logits[target];
}

/* --- test models ------------------------------------------------------- */

/*
 * A random model whose activations are of order one: std 0.02 weights
 * would make every logit nearly zero and hide faults, so matrices get std
 * 1/sqrt(in) and norm weights scatter around 1.
 */
static void
make_model(struct duo_model *m, const struct duo_config *config, int tied,
    uint64_t seed)
{
	struct model_tensor_info info;
	struct duo_error err;
	size_t j;
	float *p;
	int i, n;

	if (model_alloc(m, config, tied, &err) != 0) {
		fprintf(stderr, "test_forward: model_alloc: %s\n", err.message);
		exit(99);
	}
	model_init_random(m, seed);
	n = model_tensor_count(config, tied);
	for (i = 0; i < n; i++) {
		model_tensor_info(config, tied, i, &info);
		p = m->params + info.offset;
		for (j = 0; j < info.n_elements; j++) {
			if (info.n_dims == 1)
				p[j] = (float)(1.0 + 0.2 * random_signed());
			else
				p[j] *= (float)(1.0 / (0.02 *
				    sqrt((double)info.ne[0])));
		}
	}
}

static void
random_tokens(int32_t *tokens, int T, int V)
{
	int t;

	for (t = 0; t < T; t++)
		tokens[t] = random_int(V);
}

/* Choices drawn from the first n_choices of B, S, skip. */
static void
random_routes(uint8_t *routes, int T, int L, int n_choices)
{
	int i;

	for (i = 0; i < T * L; i++)
		routes[i] = (uint8_t)random_int(n_choices);
}

/* --- checks ------------------------------------------------------------ */

static void
format_config(char *out, size_t size, const struct duo_config *c, int tied)
{
	snprintf(out, size, "L=%d C=%d H=%d F=%d S=%d V=%d N=%d %s",
	    c->n_layer, c->d_model, c->n_head, c->d_ff, c->d_ff_small,
	    c->n_vocab, c->n_ctx, tied ? "tied" : "untied");
}

/* Every check that compares with the reference, for one model shape. */
static void
test_against_reference(const struct duo_config *config, int tied,
    uint64_t seed)
{
	struct duo_model m;
	struct kv_cache cache;
	struct forward_workspace *ws;
	struct duo_error err;
	int N = config->n_ctx, V = config->n_vocab, L = config->n_layer;
	int32_t *tokens = xcalloc((size_t)N, sizeof *tokens);
	uint8_t *routes = xcalloc((size_t)N * L, 1);
	float *logits = xcalloc((size_t)N * V, sizeof *logits);
	float *steps = xcalloc((size_t)N * V, sizeof *steps);
	float *losses = xcalloc((size_t)N, sizeof *losses);
	double *want = xcalloc((size_t)N * V, sizeof *want);
	double *want_losses = xcalloc((size_t)N, sizeof *want_losses);
	char name[128], what[256];
	int t, first, status;

	format_config(name, sizeof name, config, tied);
	make_model(&m, config, tied, seed);
	ws = forward_workspace_new(config, N);
	if (ws == NULL || kv_cache_init(&cache, config, &err) != 0) {
		fprintf(stderr, "test_forward: workspace or cache failed\n");
		exit(99);
	}
	random_tokens(tokens, N, V);

	/* One batched call over the whole context, routes over B, S, skip. */
	random_routes(routes, N, L, 3);
	reference_forward(&m, tokens, N, routes, want);
	kv_cache_reset(&cache);
	status = model_forward(&m, &cache, ws, tokens, N, routes, logits, &err);
	check_true("model_forward succeeds", status == 0);
	snprintf(what, sizeof what, "%s: logits, %d positions, routes B/S/.",
	    name, N);
	check(what, max_diff_float_double(logits, want, (size_t)N * V),
	    TOLERANCE);
	check_true("cache length is T after the call", cache.length == N);

	/* Losses of the window. */
	for (t = 0; t + 1 < N; t++)
		want_losses[t] = reference_loss(want + (size_t)t * V, V,
		    tokens[t + 1]);
	status = model_window_losses(&m, ws, tokens, N, routes, losses, &err);
	check_true("model_window_losses succeeds", status == 0);
	snprintf(what, sizeof what, "%s: window losses", name);
	check(what, max_diff_float_double(losses, want_losses,
	    (size_t)N - 1), TOLERANCE);

	/* Single-token steps reusing the cache equal the batched call. */
	kv_cache_reset(&cache);
	for (t = 0; t < N; t++)
		if (model_forward(&m, &cache, ws, tokens + t, 1,
		    routes + (size_t)t * L, steps + (size_t)t * V, &err) != 0)
			break;
	check_true("T=1 steps succeed", t == N);
	snprintf(what, sizeof what, "%s: T=1 steps vs one batched call", name);
	check(what, max_diff_float(steps, logits, (size_t)N * V), TOLERANCE);

	/* Split calls: 5 then 7 (or what fits), then the rest. */
	kv_cache_reset(&cache);
	first = N < 12 ? N / 2 : 5;
	status = model_forward(&m, &cache, ws, tokens, first, routes, steps,
	    &err);
	status |= model_forward(&m, &cache, ws, tokens + first, N - first,
	    routes + (size_t)first * L, steps + (size_t)first * V, &err);
	check_true("split calls succeed", status == 0);
	snprintf(what, sizeof what, "%s: calls of %d and %d positions vs one",
	    name, first, N - first);
	check(what, max_diff_float(steps, logits, (size_t)N * V), TOLERANCE);
	if (N >= 12) {
		kv_cache_reset(&cache);
		status = model_forward(&m, &cache, ws, tokens, 5, routes,
		    steps, &err);
		status |= model_forward(&m, &cache, ws, tokens + 5, 7,
		    routes + (size_t)5 * L, steps + (size_t)5 * V, &err);
		check_true("T=5 then T=7 succeed", status == 0);
		reference_forward(&m, tokens, 12, routes, want);
		snprintf(what, sizeof what, "%s: T=5 then T=7 vs reference",
		    name);
		check(what, max_diff_float_double(steps, want,
		    (size_t)12 * V), TOLERANCE);
	}

	/* Routes of B and S only, and all skip. */
	random_routes(routes, N, L, 2);
	reference_forward(&m, tokens, N, routes, want);
	kv_cache_reset(&cache);
	status = model_forward(&m, &cache, ws, tokens, N, routes, logits, &err);
	snprintf(what, sizeof what, "%s: logits, routes B/S", name);
	check(what, status == 0 ? max_diff_float_double(logits, want,
	    (size_t)N * V) : INFINITY, TOLERANCE);
	memset(routes, CHOICE_SKIP, (size_t)N * L);
	reference_forward(&m, tokens, N, routes, want);
	kv_cache_reset(&cache);
	status = model_forward(&m, &cache, ws, tokens, N, routes, logits, &err);
	snprintf(what, sizeof what, "%s: logits, all-skip route", name);
	check(what, status == 0 ? max_diff_float_double(logits, want,
	    (size_t)N * V) : INFINITY, TOLERANCE);

	/* A workspace smaller than the window: losses come in chunks. */
	forward_workspace_free(ws);
	ws = forward_workspace_new(config, 3);
	random_routes(routes, N, L, 3);
	reference_forward(&m, tokens, N, routes, want);
	for (t = 0; t + 1 < N; t++)
		want_losses[t] = reference_loss(want + (size_t)t * V, V,
		    tokens[t + 1]);
	status = ws == NULL ? -1 :
	    model_window_losses(&m, ws, tokens, N, routes, losses, &err);
	snprintf(what, sizeof what, "%s: window losses, workspace of 3", name);
	check(what, status == 0 ? max_diff_float_double(losses, want_losses,
	    (size_t)N - 1) : INFINITY, TOLERANCE);

	forward_workspace_free(ws);
	kv_cache_free(&cache);
	model_free(&m);
	free(tokens);
	free(routes);
	free(logits);
	free(steps);
	free(losses);
	free(want);
	free(want_losses);
}

/* Calls that must fail, and must leave the cache as it was. */
static void
test_refusals(void)
{
	static const struct duo_config config = { 2, 16, 2, 64, 4, 40, 10,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model m;
	struct kv_cache cache;
	struct forward_workspace *ws, *small;
	struct duo_error err;
	int32_t tokens[12];
	uint8_t routes[12 * 2];
	float logits[12 * 40];
	int status;

	make_model(&m, &config, 1, 7);
	ws = forward_workspace_new(&config, 10);
	small = forward_workspace_new(&config, 4);
	if (ws == NULL || small == NULL ||
	    kv_cache_init(&cache, &config, &err) != 0) {
		fprintf(stderr, "test_forward: workspace or cache failed\n");
		exit(99);
	}
	random_tokens(tokens, 12, 40);
	memset(routes, CHOICE_BIG, sizeof routes);

	cache.length = 8;
	err.message[0] = '\0';
	status = model_forward(&m, &cache, ws, tokens, 3, routes, logits, &err);
	printf("     overflow message: %s\n", err.message);
	check_true("3 tokens after 8 of a 10 context fail with a message",
	    status == -1 && err.message[0] != '\0');
	check_true("the failed call leaves the cache length at 8",
	    cache.length == 8);
	status = model_forward(&m, &cache, ws, tokens, 2, routes, logits, &err);
	check_true("2 tokens after 8 fill the context", status == 0 &&
	    cache.length == 10);
	status = model_forward(&m, &cache, ws, tokens, 1, routes, logits, &err);
	check_true("one more token past a full context fails", status == -1 &&
	    cache.length == 10);

	kv_cache_reset(&cache);
	status = model_forward(&m, &cache, small, tokens, 5, routes, logits,
	    &err);
	check_true("5 tokens in a workspace of 4 fail", status == -1);
	tokens[2] = 40;
	status = model_forward(&m, &cache, ws, tokens, 4, routes, logits, &err);
	check_true("a token id outside the vocabulary fails", status == -1 &&
	    cache.length == 0);
	tokens[2] = 1;
	routes[3] = 3;
	status = model_forward(&m, &cache, ws, tokens, 4, routes, logits, &err);
	check_true("a route choice above skip fails", status == -1);
	routes[3] = CHOICE_BIG;
	status = model_window_losses(&m, ws, tokens, 11, routes, logits, &err);
	check_true("a window longer than the context fails", status == -1);

	forward_workspace_free(ws);
	forward_workspace_free(small);
	kv_cache_free(&cache);
	model_free(&m);
}

/* The building blocks and the layout bookkeeping. */
static void
test_parts(void)
{
	static const struct duo_config config = { 3, 24, 3, 40, 6, 37, 16,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_config bad;
	struct model_tensor_info info;
	struct duo_model m, again;
	struct duo_error err;
	int n = 5, C = config.d_model, i, t, count;
	float x[5 * 24], out[5 * 24], scratch[3 * 5 * 40], row[6];
	double want[5 * 24], xd[24], gate[40], up[40], worst;
	size_t expected_offset;
	double mean = 0.0, var = 0.0;

	make_model(&m, &config, 0, 11);
	for (i = 0; i < n * C; i++)
		x[i] = (float)(2.0 * random_signed());

	model_rmsnorm(out, x, m.layers[1].attn_norm, n, C, config.norm_eps);
	for (t = 0; t < n; t++) {
		for (i = 0; i < C; i++)
			xd[i] = x[t * C + i];
		reference_rmsnorm(want + t * C, xd, m.layers[1].attn_norm, C,
		    config.norm_eps);
	}
	check("model_rmsnorm", max_diff_float_double(out, want,
	    (size_t)n * C), TOLERANCE);

	model_ffn(&m, 2, CHOICE_SMALL, x, n, out, scratch);
	for (t = 0; t < n; t++) {
		for (i = 0; i < C; i++)
			xd[i] = x[t * C + i];
		reference_matvec(gate, m.layers[2].gate_small, xd, C, 6);
		reference_matvec(up, m.layers[2].up_small, xd, C, 6);
		for (i = 0; i < 6; i++)
			gate[i] = reference_silu(gate[i]) * up[i];
		reference_matvec(want + t * C, m.layers[2].down_small, gate,
		    6, C);
	}
	check("model_ffn small", max_diff_float_double(out, want,
	    (size_t)n * C), TOLERANCE);
	model_ffn(&m, 0, CHOICE_BIG, x, n, out, scratch);
	for (t = 0; t < n; t++) {
		for (i = 0; i < C; i++)
			xd[i] = x[t * C + i];
		reference_matvec(gate, m.layers[0].gate, xd, C, 40);
		reference_matvec(up, m.layers[0].up, xd, C, 40);
		for (i = 0; i < 40; i++)
			gate[i] = reference_silu(gate[i]) * up[i];
		reference_matvec(want + t * C, m.layers[0].down, gate, 40, C);
	}
	check("model_ffn big", max_diff_float_double(out, want,
	    (size_t)n * C), TOLERANCE);
	model_ffn(&m, 1, CHOICE_SKIP, x, n, out, scratch);
	memset(want, 0, sizeof want);
	check("model_ffn skip writes zeros", max_diff_float_double(out, want,
	    (size_t)n * C), 0.0);

	/* A stable log-sum-exp: huge logits must not overflow. */
	for (i = 0; i < 6; i++)
		row[i] = (float)(1000.0 + i);
	worst = fabs(model_row_loss(row, 6, 2) -
	    (log(1 + exp(1) + exp(2) + exp(3) + exp(4) + exp(5)) - 2));
	check("model_row_loss on logits near 1000", worst, 1e-5);

	/* Layout: contiguous, in order, summing to model_param_count. */
	count = model_tensor_count(&config, 0);
	expected_offset = 0;
	for (i = 0; i < count; i++) {
		model_tensor_info(&config, 0, i, &info);
		if (info.offset != expected_offset)
			break;
		expected_offset += info.n_elements;
	}
	check_true("tensor offsets are contiguous and sum to the count",
	    i == count && expected_offset == m.n_params &&
	    m.n_params == model_param_count(&config, 0));
	model_tensor_info(&config, 0, 2, &info);
	check_true("untied layout: entry 2 is output.weight [24, 37]",
	    strcmp(info.name, "output.weight") == 0 && info.ne[0] == 24 &&
	    info.ne[1] == 37 && info.n_dims == 2);
	model_tensor_info(&config, 1, 2 + 12 + 8, &info);
	check_true("tied layout: entry 22 is blk.1.ffn_down.weight [40, 24]",
	    strcmp(info.name, "blk.1.ffn_down.weight") == 0 &&
	    info.ne[0] == 40 && info.ne[1] == 24);
	check_true("tied layout has 2 + 12 L tensors",
	    model_tensor_count(&config, 1) == 2 + 3 * 12);

	/* Initialisation: deterministic, std 0.02, residuals smaller. */
	model_free(&m);
	if (model_alloc(&m, &config, 1, &err) != 0 ||
	    model_alloc(&again, &config, 1, &err) != 0) {
		fprintf(stderr, "test_forward: model_alloc: %s\n", err.message);
		exit(99);
	}
	model_init_random(&m, 42);
	model_init_random(&again, 42);
	check_true("model_init_random is deterministic for a seed",
	    memcmp(m.params, again.params, m.n_params * sizeof *m.params) ==
	    0 && m.output == m.token_embedding);
	for (i = 0; i < 37 * 24; i++)
		mean += m.token_embedding[i];
	mean /= 37 * 24;
	for (i = 0; i < 37 * 24; i++)
		var += (m.token_embedding[i] - mean) *
		    (m.token_embedding[i] - mean);
	check("token_embd std is 0.02", fabs(sqrt(var / (37 * 24)) - 0.02),
	    0.002);
	check_true("norm weights start at 1", m.layers[2].ffn_norm[5] == 1.0f &&
	    m.output_norm[0] == 1.0f);
	model_free(&m);
	model_free(&again);

	bad = config;
	bad.n_head = 5;
	check_true("config_validate refuses C % H != 0",
	    config_validate(&bad, &err) == -1);
	bad.n_head = 8;   /* head size 3 */
	check_true("config_validate refuses an odd head size",
	    config_validate(&bad, &err) == -1);
	bad = config;
	bad.d_ff_small = 0;
	check_true("config_validate refuses a zero size",
	    config_validate(&bad, &err) == -1);
	bad = config;
	bad.n_vocab = 2000000000;
	check_true("config_validate refuses a huge vocabulary",
	    config_validate(&bad, &err) == -1);
	check_true("config_validate accepts the test shape",
	    config_validate(&config, &err) == 0);
}

/* strdup, which C11 lacks. */
static char *
copy_string(const char *s)
{
	char *copy = malloc(strlen(s) + 1);

	if (copy != NULL)
		strcpy(copy, s);
	return copy;
}

/* Made-up sentences for a tokenizer that the round-trip models carry. */
static const char tokenizer_text[] =
    "A small boat crossed the bay at dawn, and the fishermen on the pier "
    "watched it go. The water was calm, the sky was pale, and the boat "
    "left a long white line behind it on the grey water of the bay.";

/* A model with a trained tokenizer whose vocabulary sets V. */
static void
make_model_with_tokenizer(struct duo_model *m, int tied, int vocab_extra)
{
	struct duo_config config = { 2, 16, 2, 32, 4, 0, 16, 10000.0f,
	    1e-5f, 0, { 0 } };
	struct tokenizer *tok;
	struct duo_error err;

	if (tokenizer_train(&tok, tokenizer_text, strlen(tokenizer_text),
	    270, &err) != 0) {
		fprintf(stderr, "test_forward: tokenizer_train: %s\n",
		    err.message);
		exit(99);
	}
	config.n_vocab = tokenizer_vocab_size(tok) + vocab_extra;
	make_model(m, &config, tied, 5);
	m->tokenizer = tok;
	m->name = copy_string("round trip");
	m->training.p_big = 0.5f;
	m->training.p_skip = 0.125f;
	m->training.tokens_seen = 5000000000ULL;
	m->training.seed = 77;
	m->training.corpus = copy_string("made-up sentences");
	if (m->name == NULL || m->training.corpus == NULL)
		exit(99);
}

/* Write model to path with a change applied to the writer first. */
static int
save_changed(const struct duo_model *m, const char *path,
    void (*change)(struct gguf_writer *), struct duo_error *err)
{
	struct gguf_writer *w = gguf_writer_new();
	int status;

	model_write(m, w, GGUF_TENSOR_F32);
	if (change != NULL)
		change(w);
	status = gguf_writer_save(w, path, err);
	gguf_writer_free(w);
	return status;
}

static void
change_architecture(struct gguf_writer *w)
{
	gguf_writer_set_string(w, "general.architecture", "llama");
}

static void
change_layers(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "duo.block_count", 3);
}

static void
change_layers_past_bound(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "duo.block_count", DUO_MAX_LAYERS + 1);
}

static void
change_layers_thousand(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "duo.block_count", 1000);
}

static void
change_ffn(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "duo.feed_forward_length", 48);
}

/* 11264 = 2^10 * 11: divisible by the head count, each head even. */
static void
change_width(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "duo.embedding_length", 11264);
}

static const float router_weight[16];

static void
add_router(struct gguf_writer *w)
{
	static const uint64_t ne[2] = { 16, 1 };

	gguf_writer_add_tensor(w, "blk.1.router.test.weight", GGUF_TENSOR_F32,
	    2, ne, router_weight);
}

static void
add_unknown(struct gguf_writer *w)
{
	static const uint64_t ne[1] = { 16 };

	gguf_writer_add_tensor(w, "blk.1.extra.weight", GGUF_TENSOR_F32, 1,
	    ne, router_weight);
}

/* A failing load whose one-line message must contain want. */
static void
check_load_fails(const char *what, const char *path, const char *want)
{
	struct duo_model m;
	struct duo_error err;
	int status;

	err.message[0] = '\0';
	status = model_load(&m, path, &err);
	printf("     %s: %s\n", what, err.message);
	check_true(what, status == -1 && strstr(err.message, want) != NULL &&
	    strstr(err.message, path) != NULL);
}

/* model_save then model_load: every key, tensor and logit comes back. */
static void
test_save_load(void)
{
	struct duo_model m, loaded;
	struct duo_error err;
	struct forward_workspace *ws;
	char path[4096];
	const char *dir = getenv("TMPDIR");
	int32_t tokens[16];
	uint8_t routes[16 * 2];
	float losses[16], losses_loaded[16];
	double worst = 0.0;
	size_t i;
	int status, tied;

	snprintf(path, sizeof path, "%s/test_forward-%ld.gguf",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp", (long)getpid());
	for (tied = 0; tied < 2; tied++) {
		make_model_with_tokenizer(&m, tied, 0);
		status = model_save(&m, path, GGUF_TENSOR_F32, &err);
		if (status == 0)
			status = model_load(&loaded, path, &err);
		if (status != 0) {
			printf("FAIL save and load: %s\n", err.message);
			failures++;
			model_free(&m);
			continue;
		}
		check_true(tied ? "F32 round trip, tied: identical parameters" :
		    "F32 round trip, untied: identical parameters",
		    loaded.n_params == m.n_params && loaded.tied_output == tied &&
		    memcmp(loaded.params, m.params, m.n_params *
		    sizeof *m.params) == 0 && memcmp(&loaded.config, &m.config,
		    sizeof m.config) == 0);
		check_true("name and training facts come back",
		    strcmp(loaded.name, "round trip") == 0 &&
		    loaded.training.p_big == 0.5f &&
		    loaded.training.p_skip == 0.125f &&
		    loaded.training.tokens_seen == 5000000000ULL &&
		    loaded.training.seed == 77 &&
		    strcmp(loaded.training.corpus, "made-up sentences") == 0 &&
		    tokenizer_vocab_size(loaded.tokenizer) ==
		    m.config.n_vocab);
		random_tokens(tokens, 16, m.config.n_vocab);
		random_routes(routes, 16, 2, 3);
		ws = forward_workspace_new(&m.config, 16);
		status = ws == NULL ? -1 : model_window_losses(&m, ws, tokens,
		    16, routes, losses, &err);
		if (status == 0)
			status = model_window_losses(&loaded, ws, tokens, 16,
			    routes, losses_loaded, &err);
		check("losses of the loaded model", status == 0 ?
		    max_diff_float(losses, losses_loaded, 15) : INFINITY, 0.0);
		forward_workspace_free(ws);
		model_free(&loaded);

		/* F16: each weight within half precision (2^-11 relative). */
		status = model_save(&m, path, GGUF_TENSOR_F16, &err);
		if (status == 0)
			status = model_load(&loaded, path, &err);
		if (status == 0) {
			/* Error over the bound of rounding to half: 2^-11
			 * relative for normal halves, 2^-25 absolute below. */
			worst = 0.0;
			for (i = 0; i < m.n_params; i++) {
				double d = fabs((double)loaded.params[i] -
				    m.params[i]) / (fabs(m.params[i]) *
				    0x1.0p-11 + 0x1.0p-25);

				worst = d > worst ? d : worst;
			}
			model_free(&loaded);
		}
		check("F16 round trip, weight error over half rounding",
		    status == 0 ? worst : INFINITY, 1.0);
		model_free(&m);
	}

	make_model_with_tokenizer(&m, 1, 0);
	if (save_changed(&m, path, change_architecture, &err) == 0)
		check_load_fails("architecture llama is refused", path,
		    "general.architecture");
	if (save_changed(&m, path, change_layers, &err) == 0)
		check_load_fails("a missing tensor is named", path,
		    "'blk.2.attn_norm.weight' is missing");
	/* one bound on layers, checked before anything is sized from it */
	if (save_changed(&m, path, change_layers_past_bound, &err) == 0)
		check_load_fails("65 layers are refused", path,
		    "n_layer is 65; it must be between 1 and 64");
	if (save_changed(&m, path, change_layers_thousand, &err) == 0)
		check_load_fails("1000 layers are refused", path,
		    "n_layer is 1000; it must be between 1 and 64");
	if (save_changed(&m, path, change_ffn, &err) == 0)
		check_load_fails("a mis-shaped tensor is named", path,
		    "'blk.0.ffn_gate.weight' has shape [16, 32]; expected "
		    "[16, 48]");
	if (save_changed(&m, path, add_unknown, &err) == 0)
		check_load_fails("an unknown tensor is refused", path,
		    "blk.1.extra.weight");
	status = save_changed(&m, path, add_router, &err);
	if (status == 0) {
		status = model_load(&loaded, path, &err);
		if (status == 0)
			model_free(&loaded);
	}
	check_true("a blk.N.router.* tensor is accepted", status == 0);
	model_free(&m);
	make_model_with_tokenizer(&m, 1, 3);
	if (model_save(&m, path, GGUF_TENSOR_F32, &err) == 0)
		check_load_fails("a vocabulary mismatch is refused", path,
		    "the tokenizer has");
	model_free(&m);
	remove(path);
}

/*
 * A small file that declares a huge width is refused by its shapes, before
 * anything is allocated: in a child under a 1 GiB address-space limit (the
 * declared model would need about 8 GB), the message must be the shape,
 * not "out of memory".  An allocation that does fail must report the
 * count it asked for.  Sanitizers reserve terabytes of address space, so
 * under them the limit is not set and only the messages are checked.
 */
static void
test_huge_declared_width(void)
{
	struct duo_model m, loaded;
	struct duo_config huge = { 64, 65536, 64, 1 << 20, 1 << 16, 1 << 20,
	    1024, 10000.0f, 1e-5f, 0, { 0 } };
	struct duo_error err;
	char path[4096];
	const char *dir = getenv("TMPDIR");
	pid_t pid;
	int status, bad = 0;

	snprintf(path, sizeof path, "%s/test_forward-wide-%ld.gguf",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp", (long)getpid());
	make_model_with_tokenizer(&m, 1, 0);
	status = save_changed(&m, path, change_width, &err);
	model_free(&m);
	if (status != 0) {
		check_true("write the wide model", 0);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
		struct rlimit limit = { 1UL << 30, 1UL << 30 };

		setrlimit(RLIMIT_AS, &limit);
#endif
		err.message[0] = '\0';
		status = model_load(&loaded, path, &err);
		printf("     a declared width of 11264: %s\n", err.message);
		bad |= status != -1 || strstr(err.message, "tensor "
		    "'token_embd.weight' has shape [16, ") == NULL ||
		    strstr(err.message, "expected [11264, ") == NULL;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
		/* About 2^44 floats (64 TB): no machine gives that. */
		err.message[0] = '\0';
		status = model_alloc(&loaded, &huge, 1, &err);
		printf("     a model past memory: %s\n", err.message);
		bad |= status != -1 || strstr(err.message, "out of memory for "
		    "0 ") != NULL || strstr(err.message, "out of memory for ")
		    == NULL;
#else
		(void)huge;
#endif
		fflush(stdout);
		_exit(bad);
	}
	check_true("a declared width past the file is refused by its shape; "
	    "a failed allocation names its size", pid > 0 &&
	    waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	remove(path);
}

int
main(void)
{
	static const struct {
		struct duo_config config;
		int tied;
	} shapes[] = {
		{ { 2, 16, 2, 64, 4, 50, 24, 10000.0f, 1e-5f, 0, { 0 } }, 1 },
		{ { 3, 24, 3, 40, 6, 37, 20, 10000.0f, 1e-5f, 0, { 0 } }, 0 },
		{ { 1, 8, 1, 32, 2, 11, 9, 10000.0f, 1e-5f, 0, { 0 } }, 0 },
		{ { 4, 12, 6, 48, 3, 70, 70, 10000.0f, 1e-5f, 0, { 0 } }, 1 },
		{ { 2, 20, 5, 80, 5, 97, 140, 500.0f, 1e-5f, 0, { 0 } }, 0 },
		{ { 2, 256, 4, 512, 32, 300, 150,
		    10000.0f, 1e-5f, 0, { 0 } }, 1 },
	};
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			printf("-- again with the elementwise loops on the "
			    "OpenMP team\n");
			setenv("OMP_WAIT_POLICY", "passive", 1);
		} else {
			unsetenv("OMP_WAIT_POLICY");
		}
		for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
			test_against_reference(&shapes[i].config,
			    shapes[i].tied, 100 + i);
		test_refusals();
		test_parts();
	}
	test_save_load();
	test_huge_declared_width();
	if (failures > 0) {
		printf("%d checks failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
