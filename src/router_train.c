/*
 * router_train.c - training learned routers on a frozen Duo model
 * (router_train.h).  The paper kind reuses the trainer's layer functions
 * (train.h) with the FFN slot replaced by a mixture of its modules; the
 * oracle kind labels text with the engine of oracle.h.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "linalg.h"
#include "oracle.h"
#include "rng.h"
#include "router_train.h"
#include "train.h"

/* Padding added to every regret weight, in nats. */
#define REGRET_FLOOR 0.01

void
router_train_defaults(struct router_train_options *o, enum router_kind kind)
{
	memset(o, 0, sizeof *o);
	o->seed = 1;
	if (kind == ROUTER_PAPER) {
		o->steps = 300;
		o->batch = 8;
		o->lr = 3e-3f;
		o->alpha = 1.0f;
		o->sharpness_start = 1.0f;
		o->sharpness_end = 20.0f;
	} else {
		o->steps = 400;
		o->lr = 1e-2f;
		o->label_tokens = 4096;
	}
}

static void *
alloc_floats(size_t n, bool *ok)
{
	void *p = malloc((n == 0 ? 1 : n) * sizeof(float));

	if (p == NULL)
		*ok = false;
	return p;
}

/* --- the paper kind: a pass with mixtures ------------------------------- */

/* Activations of a pass of M sequences of T positions, R = M T rows. */
struct mixture {
	const struct duo_model *model;
	const struct duo_router *router;
	int M, T, R, L, C, H, F, S, V, m;
	const int32_t *inputs, *targets;       /* (R) */
	float *res;         /* (L + 1, R, C) input of layer l */
	float *xm;          /* (L, R, C) after attention */
	float *ln1, *rstd1; /* (L, R, C), (L, R) */
	float *qkv;         /* (L, R, 3C) */
	float *probs;       /* (L, M, H, T, T) */
	float *atty;        /* (L, R, C) */
	float *ln2, *rstd2; /* (L, R, C), (L, R): the FFN and router input */
	float *gu_big;      /* (L, R, 2F) */
	float *gu_small;    /* (L, R, 2S) */
	float *y;           /* (L, m, R, C) each module's output, all rows */
	float *p;           /* (L, R, m) mixture weights */
	float *lnf, *rstdf; /* (R, C), (R) */
	float *logits;      /* (R, V) */
	float *losses;      /* (R) */
	double *pbig;       /* (M) a sequence's mean P(big) */
	int *rows;          /* (R) 0 .. R - 1 */
	float *dp;          /* (R, m) */
	float *dz;          /* (R, m) */
	float *dmix;        /* (R, C) one module's share of the gradient */
	float *dtmp;        /* (R, C) */
	float *rope_cos, *rope_sin;
	struct train_scratch s;
};

static void
mixture_free(struct mixture *x)
{
	free(x->res);
	free(x->xm);
	free(x->ln1);
	free(x->rstd1);
	free(x->qkv);
	free(x->probs);
	free(x->atty);
	free(x->ln2);
	free(x->rstd2);
	free(x->gu_big);
	free(x->gu_small);
	free(x->y);
	free(x->p);
	free(x->lnf);
	free(x->rstdf);
	free(x->logits);
	free(x->losses);
	free(x->pbig);
	free(x->rows);
	free(x->dp);
	free(x->dz);
	free(x->dmix);
	free(x->dtmp);
	free(x->rope_cos);
	free(x->rope_sin);
	free(x->s.dresidual);
	free(x->s.dln);
	free(x->s.datty);
	free(x->s.dqkv);
	free(x->s.ffn.gathered);
	free(x->s.ffn.module_out);
	free(x->s.ffn.hidden);
	free(x->s.ffn.dgate_up);
	free(x->s.dprobs);
	free(x->s.norm_partial);
	memset(x, 0, sizeof *x);
}

static int
mixture_init(struct mixture *x, const struct duo_model *model,
    const struct duo_router *router, int M, struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	size_t L, R, C, T, H, F, S, V, m, I, threads, block;
	int r, half;
	bool ok = true;

	memset(x, 0, sizeof *x);
	x->model = model;
	x->router = router;
	x->M = M;
	x->T = c->n_ctx;
	x->R = M * c->n_ctx;
	x->L = c->n_layer;
	x->C = c->d_model;
	x->H = c->n_head;
	x->F = c->d_ff;
	x->S = c->d_ff_small;
	x->V = c->n_vocab;
	x->m = router->space.n_choices;
	L = (size_t)x->L;
	R = (size_t)x->R;
	C = (size_t)x->C;
	T = (size_t)x->T;
	H = (size_t)x->H;
	F = (size_t)x->F;
	S = (size_t)x->S;
	V = (size_t)x->V;
	m = (size_t)x->m;
	I = F > S ? F : S;
	threads = (size_t)parallel_thread_count();
	block = T < ATTENTION_BLOCK ? T : ATTENTION_BLOCK;
	x->res = alloc_floats((L + 1) * R * C, &ok);
	x->xm = alloc_floats(L * R * C, &ok);
	x->ln1 = alloc_floats(L * R * C, &ok);
	x->rstd1 = alloc_floats(L * R, &ok);
	x->qkv = alloc_floats(L * R * 3 * C, &ok);
	x->probs = alloc_floats(L * (size_t)M * H * T * T, &ok);
	x->atty = alloc_floats(L * R * C, &ok);
	x->ln2 = alloc_floats(L * R * C, &ok);
	x->rstd2 = alloc_floats(L * R, &ok);
	x->gu_big = alloc_floats(L * R * 2 * F, &ok);
	x->gu_small = alloc_floats(L * R * 2 * S, &ok);
	x->y = alloc_floats(L * m * R * C, &ok);
	x->p = alloc_floats(L * R * m, &ok);
	x->lnf = alloc_floats(R * C, &ok);
	x->rstdf = alloc_floats(R, &ok);
	x->logits = alloc_floats(R * V, &ok);
	x->losses = alloc_floats(R, &ok);
	x->pbig = malloc((size_t)M * sizeof *x->pbig);
	x->rows = malloc(R * sizeof *x->rows);
	x->dp = alloc_floats(R * m, &ok);
	x->dz = alloc_floats(R * m, &ok);
	x->dmix = alloc_floats(R * C, &ok);
	x->dtmp = alloc_floats(R * C, &ok);
	half = c->d_model / c->n_head / 2;
	x->rope_cos = alloc_floats(T * (size_t)half, &ok);
	x->rope_sin = alloc_floats(T * (size_t)half, &ok);
	x->s.dresidual = alloc_floats(R * C, &ok);
	x->s.dln = alloc_floats(R * C, &ok);
	x->s.datty = alloc_floats(R * C, &ok);
	x->s.dqkv = alloc_floats(R * 3 * C, &ok);
	x->s.ffn.gathered = alloc_floats(R * C, &ok);
	x->s.ffn.module_out = alloc_floats(R * C, &ok);
	x->s.ffn.hidden = alloc_floats(R * I, &ok);
	x->s.ffn.dgate_up = alloc_floats(R * 2 * I, &ok);
	x->s.dprobs = alloc_floats(threads * block * T, &ok);
	x->s.norm_partial = alloc_floats(threads * C, &ok);
	if (!ok || x->pbig == NULL || x->rows == NULL) {
		mixture_free(x);
		return error_set(err, "out of memory for router training "
		    "(%d sequences of %d)", M, c->n_ctx);
	}
	for (r = 0; r < x->R; r++)
		x->rows[r] = r;
	/* the same tables as the trainer's and the model's */
	rope_tables(x->rope_cos, x->rope_sin, x->T, c->d_model / c->n_head,
	    c->rope_base);
	return 0;
}

/* Layer l's part of the attention sublayer's saved activations. */
static void
attention_saved_of(const struct mixture *x, int l, struct attention_saved *a)
{
	size_t RC = (size_t)x->R * x->C;

	a->ln1 = x->ln1 + (size_t)l * RC;
	a->rstd = x->rstd1 + (size_t)l * x->R;
	a->qkv = x->qkv + (size_t)l * 3 * RC;
	a->probs = x->probs + (size_t)l * x->M * x->H * x->T * x->T;
	a->atty = x->atty + (size_t)l * RC;
}

/* Softmax of sharpness * z over m choices into p. */
static void
softmax_sharp(float *p, const float *z, int m, float sharpness)
{
	float max = z[0] * sharpness, sum = 0.0f;
	int c;

	for (c = 1; c < m; c++)
		if (z[c] * sharpness > max)
			max = z[c] * sharpness;
	for (c = 0; c < m; c++) {
		p[c] = expf(z[c] * sharpness - max);
		sum += p[c];
	}
	for (c = 0; c < m; c++)
		p[c] /= sum;
}

/* Forward pass; returns the loss, *ce its cross-entropy part. */
static double
mixture_forward(struct mixture *x, float alpha, float sharpness, double *ce)
{
	const struct duo_model *model = x->model;
	const struct route_space *space = &x->router->space;
	int L = x->L, C = x->C, R = x->R, T = x->T, m = x->m, l, r, c, q;
	size_t RC = (size_t)R * C;
	double sum = 0.0, penalty = 0.0, target;

	embedding_forward(x->res, x->inputs, model->token_embedding, R, C,
	    true);
	for (l = 0; l < L; l++) {
		const struct duo_layer *w = &model->layers[l];
		float *in = x->res + (size_t)l * RC, *xm = x->xm + (size_t)l * RC;
		float *ln2 = x->ln2 + (size_t)l * RC;
		float *out = x->res + (size_t)(l + 1) * RC;
		float *p = x->p + (size_t)l * R * m;
		float *y = x->y + (size_t)l * m * RC;
		struct attention_saved saved;

		attention_saved_of(x, l, &saved);
		attention_sublayer_forward(w, xm, in, &saved, x->M, T, C, x->H,
		    model->config.norm_eps, x->rope_cos, x->rope_sin);
		rmsnorm_forward(ln2, x->rstd2 + (size_t)l * R, xm, w->ffn_norm,
		    R, C, model->config.norm_eps, true);
		/* mixture weights from the router's logits */
		router_logits(x->router, l, ln2, R, x->dz);
		for (r = 0; r < R; r++)
			softmax_sharp(p + (size_t)r * m, x->dz + (size_t)r * m,
			    m, sharpness);
		/* every module over every row */
		for (c = 0; c < m; c++) {
			float *yc = y + (size_t)c * RC;

			memset(yc, 0, RC * sizeof *yc);
			if (space->choices[c] == CHOICE_BIG)
				ffn_forward(yc, x->gu_big + (size_t)l * R * 2 *
				    x->F, ln2, x->rows, R, w->gate, w->down, C,
				    x->F, &x->s.ffn);
			else if (space->choices[c] == CHOICE_SMALL)
				ffn_forward(yc, x->gu_small + (size_t)l * R *
				    2 * x->S, ln2, x->rows, R, w->gate_small,
				    w->down_small, C, x->S, &x->s.ffn);
		}
		memcpy(out, xm, RC * sizeof *out);
		for (r = 0; r < R; r++) {
			float *o = out + (size_t)r * C;
			int i;

			for (c = 0; c < m; c++) {
				const float *yc = y + (size_t)c * RC +
				    (size_t)r * C;
				float pc = p[(size_t)r * m + c];

				for (i = 0; i < C; i++)
					o[i] += pc * yc[i];
			}
		}
	}
	rmsnorm_forward(x->lnf, x->rstdf, x->res + (size_t)L * RC,
	    model->output_norm, R, C, model->config.norm_eps, true);
	linear_forward(x->logits, x->lnf, model->output, R, C, x->V, 0.0f);
	crossentropy_forward(x->losses, x->logits, x->targets, R, x->V);
	for (r = 0; r < R; r++)
		sum += x->losses[r];
	*ce = sum / R;
	/* the budget penalty: B is digit 0 of every space */
	target = (double)x->router->budget / L;
	for (q = 0; q < x->M; q++) {
		double s = 0.0;

		for (l = 0; l < L; l++)
			for (r = q * T; r < (q + 1) * T; r++)
				s += x->p[((size_t)l * R + r) * m];
		x->pbig[q] = s / ((double)T * L);
		penalty += (x->pbig[q] - target) * (x->pbig[q] - target);
	}
	return *ce + alpha * penalty / x->M;
}

/* Gradient of the last forward's loss with respect to the router's
 * weights into grad (L, m, C), overwritten. */
static void
mixture_backward(struct mixture *x, float alpha, float sharpness,
    float *grad)
{
	const struct duo_model *model = x->model;
	const struct duo_router *router = x->router;
	const struct route_space *space = &router->space;
	struct train_scratch *s = &x->s;
	int L = x->L, C = x->C, R = x->R, T = x->T, m = x->m, l, r, c;
	size_t RC = (size_t)R * C;
	double target = (double)router->budget / L;

	memset(grad, 0, (size_t)L * m * C * sizeof *grad);
	crossentropy_backward(x->logits, x->targets, R, x->V, 1.0f / R);
	linear_backward(s->dln, NULL, x->logits, x->lnf, model->output, R, C,
	    x->V);
	memset(s->dresidual, 0, RC * sizeof *s->dresidual);
	rmsnorm_backward(s->dresidual, NULL, s->norm_partial, s->dln,
	    x->res + (size_t)L * RC, model->output_norm, x->rstdf, R, C);
	for (l = L - 1; l >= 0; l--) {
		const struct duo_layer *w = &model->layers[l];
		const float *in = x->res + (size_t)l * RC;
		const float *xm = x->xm + (size_t)l * RC;
		const float *ln2 = x->ln2 + (size_t)l * RC;
		const float *p = x->p + (size_t)l * R * m;
		const float *y = x->y + (size_t)l * m * RC;
		const float *dres = s->dresidual;
		struct attention_saved saved;

		/* dp (R, m): the slot's output gradient against each module's
		 * output, plus the penalty's on P(big) */
		for (r = 0; r < R; r++) {
			const float *g = dres + (size_t)r * C;
			int q = r / T, i;

			for (c = 0; c < m; c++) {
				const float *yc = y + (size_t)c * RC +
				    (size_t)r * C;
				double d = 0.0;

				for (i = 0; i < C; i++)
					d += (double)g[i] * yc[i];
				x->dp[(size_t)r * m + c] = (float)d;
			}
			x->dp[(size_t)r * m] += (float)(alpha * 2.0 *
			    (x->pbig[q] - target) / ((double)T * L) / x->M);
		}
		/* dz = sharpness p (dp - sum p dp) */
		for (r = 0; r < R; r++) {
			const float *pr = p + (size_t)r * m;
			float *dz = x->dz + (size_t)r * m, dot = 0.0f;

			for (c = 0; c < m; c++)
				dot += pr[c] * x->dp[(size_t)r * m + c];
			for (c = 0; c < m; c++)
				dz[c] = sharpness * pr[c] *
				    (x->dp[(size_t)r * m + c] - dot);
		}
		/* grad_l (m, C) += dz^T ln2; dln2 = dz W_l */
		linear_backward(s->dln, grad + (size_t)l * m * C, x->dz, ln2,
		    router->weight + (size_t)l * m * C, R, C, m);
		/* each module's input gradient from its share p_c dres */
		for (c = 0; c < m; c++) {
			enum route_choice choice = space->choices[c];
			size_t i;

			if (choice == CHOICE_SKIP)
				continue;
			for (r = 0; r < R; r++)
				for (i = 0; i < (size_t)C; i++)
					x->dmix[(size_t)r * C + i] =
					    p[(size_t)r * m + c] *
					    dres[(size_t)r * C + i];
			if (choice == CHOICE_BIG)
				ffn_backward(x->dtmp, NULL, NULL, x->dmix, ln2,
				    x->rows, R, x->gu_big + (size_t)l * R * 2 *
				    x->F, w->gate, w->down, C, x->F, &s->ffn);
			else
				ffn_backward(x->dtmp, NULL, NULL, x->dmix, ln2,
				    x->rows, R, x->gu_small + (size_t)l * R *
				    2 * x->S, w->gate_small, w->down_small, C,
				    x->S, &s->ffn);
			for (i = 0; i < RC; i++)
				s->dln[i] += x->dtmp[i];
		}
		rmsnorm_backward(s->dresidual, NULL, s->norm_partial, s->dln, xm,
		    w->ffn_norm, x->rstd2 + (size_t)l * R, R, C);
		attention_saved_of(x, l, &saved);
		attention_sublayer_backward(w, s->dresidual, in, &saved, NULL,
		    NULL, NULL, x->M, T, C, x->H, x->rope_cos, x->rope_sin, s);
	}
}

int
router_paper_loss(const struct duo_model *model,
    const struct duo_router *router, const int32_t *inputs,
    const int32_t *targets, int n_seq, float alpha, float sharpness,
    double *loss, float *grad, struct duo_error *err)
{
	struct mixture x;
	double ce;

	if (mixture_init(&x, model, router, n_seq, err) != 0)
		return -1;
	x.inputs = inputs;
	x.targets = targets;
	*loss = mixture_forward(&x, alpha, sharpness, &ce);
	if (grad != NULL)
		mixture_backward(&x, alpha, sharpness, grad);
	mixture_free(&x);
	return 0;
}

/* Adam (no decay) on n weights. */
static void
adam_step(float *w, const float *g, float *m1, float *m2, size_t n,
    float lr, int step)
{
	const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
	float c1 = 1.0f - powf(b1, (float)step);
	float c2 = 1.0f - powf(b2, (float)step);
	size_t i;

	for (i = 0; i < n; i++) {
		m1[i] = b1 * m1[i] + (1.0f - b1) * g[i];
		m2[i] = b2 * m2[i] + (1.0f - b2) * g[i] * g[i];
		w[i] -= lr * (m1[i] / c1) / (sqrtf(m2[i] / c2) + eps);
	}
}

/* A sequence: BOS and T - 1 tokens from a random offset, targets the
 * tokens after each. */
static void
sample_sequence(const int32_t *tokens, size_t n_tokens, int32_t bos, int T,
    uint64_t *rng, int32_t *inputs, int32_t *targets)
{
	size_t start = (size_t)rng_below(rng, (uint64_t)(n_tokens - (size_t)T +
	    1));
	int t;

	inputs[0] = bos;
	for (t = 1; t < T; t++)
		inputs[t] = tokens[start + (size_t)t - 1];
	for (t = 0; t < T; t++)
		targets[t] = tokens[start + (size_t)t];
}

static int
train_paper(const struct duo_model *model, struct duo_router *router,
    const int32_t *tokens, size_t n_tokens, int32_t bos,
    const struct router_train_options *o, router_train_progress_fn progress,
    void *progress_arg, struct duo_error *err)
{
	struct mixture x;
	size_t n = (size_t)router->n_layer * router->space.n_choices *
	    (size_t)router->d_model;
	int32_t *inputs = NULL, *targets = NULL;
	float *grad = NULL, *m1 = NULL, *m2 = NULL, sharpness;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ o->seed;
	double loss = NAN, ce;
	int T = model->config.n_ctx, step, q, status = -1;

	if (mixture_init(&x, model, router, o->batch, err) != 0)
		return -1;
	inputs = malloc((size_t)x.R * sizeof *inputs);
	targets = malloc((size_t)x.R * sizeof *targets);
	grad = calloc(n, sizeof *grad);
	m1 = calloc(n, sizeof *m1);
	m2 = calloc(n, sizeof *m2);
	if (inputs == NULL || targets == NULL || grad == NULL || m1 == NULL ||
	    m2 == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	x.inputs = inputs;
	x.targets = targets;
	for (step = 0; step < o->steps; step++) {
		sharpness = o->sharpness_start * powf(o->sharpness_end /
		    o->sharpness_start, o->steps > 1 ? (float)step /
		    (float)(o->steps - 1) : 1.0f);
		for (q = 0; q < o->batch; q++)
			sample_sequence(tokens, n_tokens, bos, T, &rng,
			    inputs + (size_t)q * T, targets + (size_t)q * T);
		loss = mixture_forward(&x, o->alpha, sharpness, &ce);
		mixture_backward(&x, o->alpha, sharpness, grad);
		adam_step(router->weight, grad, m1, m2, n, o->lr, step + 1);
		if (progress != NULL)
			progress(progress_arg, "training", (double)(step + 1) /
			    o->steps, loss);
	}
	router->final_loss = (float)loss;
	router->tokens = (uint64_t)o->steps * (uint64_t)o->batch *
	    (uint64_t)(T - 1);
	status = 0;
done:
	mixture_free(&x);
	free(inputs);
	free(targets);
	free(grad);
	free(m1);
	free(m2);
	return status;
}

/* --- the oracle kind ---------------------------------------------------- */

struct label_progress {
	router_train_progress_fn fn;
	void *arg;
};

static void
label_progress(void *arg, double fraction, double route_tokens)
{
	struct label_progress *p = arg;

	(void)route_tokens;
	p->fn(p->arg, "labels", fraction, NAN);
}

/*
 * Per (token, layer), what the best wrong choice costs: the lowest loss of
 * the routes of budget k that follow the oracle's route up to that layer
 * and then differ from it, minus the oracle's loss; 0 where no such
 * route exists (the choice is forced).  tables are the losses, or for
 * the label-free target the divergences, its choice minimised.
 */
static void
regret_weights(const struct route_space *space, int L, int k,
    const float *tables, uint64_t n_routes, const uint64_t *codes,
    size_t n_tokens, float *weights)
{
	uint8_t oracle[64], route[64];
	double best[64], sum = 0.0;
	size_t t;
	uint64_t code;
	int l;

	for (t = 0; t < n_tokens; t++) {
		const float *row = tables + t * n_routes;

		route_decode(space, codes[t], L, oracle);
		for (l = 0; l < L; l++)
			best[l] = INFINITY;
		for (code = 0; code < n_routes; code++) {
			route_decode(space, code, L, route);
			if (route_budget(route, L) != k || code == codes[t])
				continue;
			for (l = 0; l < L && route[l] == oracle[l]; l++)
				;
			if (row[code] < best[l])
				best[l] = row[code];
		}
		for (l = 0; l < L; l++) {
			double w = isinf(best[l]) ? 0.0 : best[l] -
			    row[codes[t]];

			weights[t * (size_t)L + (size_t)l] = (float)(w +
			    REGRET_FLOOR);
			sum += w + REGRET_FLOOR;
		}
	}
	for (t = 0; t < n_tokens * (size_t)L; t++)
		weights[t] = (float)(weights[t] * (double)(n_tokens *
		    (size_t)L) / sum);
}

/*
 * Softmax regression of one layer: weight (m, C) from states (n, L, C) at
 * the layer, labels (n, L) digits, example weights (n, L) or NULL.
 * Returns the last mean loss.
 */
static double
fit_layer(float *weight, int m, int C, int L, int layer, const float *states,
    const uint8_t *labels, const float *weights, size_t n, int steps,
    float lr, float *x, float *z, float *grad, float *m1, float *m2)
{
	double loss = 0.0, total;
	size_t i;
	int step, c;

	for (i = 0; i < n; i++)
		memcpy(x + i * (size_t)C, states + (i * (size_t)L +
		    (size_t)layer) * C, (size_t)C * sizeof *x);
	memset(m1, 0, (size_t)m * C * sizeof *m1);
	memset(m2, 0, (size_t)m * C * sizeof *m2);
	for (step = 1; step <= steps; step++) {
		/* z (n, m) = x W^T, then the weighted softmax gradient */
		linear(z, x, weight, (int)n, C, m, 0.0f);
		loss = 0.0;
		total = 0.0;
		for (i = 0; i < n; i++) {
			float *zi = z + i * (size_t)m, max = zi[0], sum = 0.0f;
			float wi = weights != NULL ? weights[i * (size_t)L +
			    (size_t)layer] : 1.0f;
			int y = labels[i * (size_t)L + (size_t)layer];

			for (c = 1; c < m; c++)
				max = zi[c] > max ? zi[c] : max;
			for (c = 0; c < m; c++) {
				zi[c] = expf(zi[c] - max);
				sum += zi[c];
			}
			for (c = 0; c < m; c++)
				zi[c] /= sum;
			loss += -wi * log(fmax(zi[y], 1e-30));
			total += wi;
			for (c = 0; c < m; c++)
				zi[c] = wi * (zi[c] - (c == y ? 1.0f : 0.0f));
		}
		for (i = 0; i < n * (size_t)m; i++)
			z[i] = (float)(z[i] / total);
		loss /= total;
		/* grad (m, C) = dz^T x */
		gemm(true, false, m, C, (int)n, 1.0f, z, m, x, C, 0.0f, grad,
		    C);
		adam_step(weight, grad, m1, m2, (size_t)m * C, lr, step);
	}
	return loss;
}

static int
train_oracle(const struct duo_model *model, struct duo_router *router,
    const int32_t *tokens, size_t n_tokens, int32_t bos,
    const struct router_train_options *o, router_train_progress_fn progress,
    void *progress_arg, struct duo_error *err)
{
	const struct route_space *space = &router->space;
	struct oracle_settings settings;
	struct oracle_result result;
	struct label_progress lp = { progress, progress_arg };
	const struct oracle_method *oracle;
	const char *target;
	int T = model->config.n_ctx, L = router->n_layer, C = router->d_model;
	int m = space->n_choices, k = router->budget, l;
	size_t per = (size_t)T - 1, n_windows, n, w, t;
	int32_t *text = NULL;
	uint64_t *codes = NULL, rng = 0x51ed2701f3a5c7b9ull ^ o->seed, start;
	uint8_t *labels = NULL;
	float *states = NULL, *weights = NULL, *x = NULL, *z = NULL;
	float *grad = NULL, *m1 = NULL, *m2 = NULL;
	double loss = 0.0;
	int status = -1;

	memset(&result, 0, sizeof result);
	if (route_space_size(space, L) == 0 ||
	    route_space_size(space, L) > ORACLE_MAX_ROUTES)
		return error_set(err, "the space %s of %d layers has too many "
		    "routes to label exhaustively (at most %d); train an oracle "
		    "router in a smaller space", space->name, L,
		    ORACLE_MAX_ROUTES);
	n_windows = (o->label_tokens + per - 1) / per;
	if (n_windows == 0)
		n_windows = 1;
	n = n_windows * per;
	text = malloc(n * sizeof *text);
	if (text == NULL)
		return error_set(err, "out of memory");
	/* windows from random offsets, each a whole window of the engine */
	for (w = 0; w < n_windows; w++) {
		start = rng_below(&rng, (uint64_t)(n_tokens - per + 1));
		memcpy(text + w * per, tokens + start, per * sizeof *text);
	}
	oracle_settings_default(&settings);
	settings.space = *space;
	settings.budgets = &k;
	settings.n_budgets = 1;
	settings.n_random = 1;
	settings.progress = progress != NULL ? label_progress : NULL;
	settings.progress_arg = &lp;
	if (oracle_run(model, text, n, bos, &settings, &result, err) != 0)
		goto done;
	if (result.tables == NULL) {
		error_set(err, "the space %s of %d layers is too large to "
		    "label exhaustively", space->name, L);
		goto done;
	}
	target = method_table[o->label_free ? METHOD_ORACLE_FREE :
	    METHOD_ORACLE].name;
	if ((oracle = oracle_result_method(&result, target, k)) == NULL) {
		error_set(err, "the %s method gave no routes at budget %d",
		    target, k);
		goto done;
	}
	codes = malloc(n * sizeof *codes);
	labels = malloc(n * (size_t)L);
	states = malloc(n * (size_t)L * (size_t)C * sizeof *states);
	x = malloc(n * (size_t)C * sizeof *x);
	z = malloc(n * (size_t)m * sizeof *z);
	grad = malloc((size_t)m * C * sizeof *grad);
	m1 = malloc((size_t)m * C * sizeof *m1);
	m2 = malloc((size_t)m * C * sizeof *m2);
	if (o->weighted)
		weights = malloc(n * (size_t)L * sizeof *weights);
	if (codes == NULL || labels == NULL || states == NULL || x == NULL ||
	    z == NULL || grad == NULL || m1 == NULL || m2 == NULL ||
	    (o->weighted && weights == NULL)) {
		error_set(err, "out of memory for %zu labelled tokens", n);
		goto done;
	}
	for (t = 0; t < n; t++) {
		const uint8_t *route = oracle->routes + t * (size_t)L;

		codes[t] = route_encode(space, route, L);
		for (l = 0; l < L; l++) {
			int d;

			for (d = 0; d < m && space->choices[d] != route[l]; d++)
				;
			labels[t * (size_t)L + (size_t)l] = (uint8_t)d;
		}
	}
	if (progress != NULL)
		progress(progress_arg, "states", 0.0, NAN);
	linalg_set_threads(1);
	if (oracle_capture_states(model, text, n, bos, space, codes, states,
	    err) != 0)
		goto done;
	if (o->weighted)
		regret_weights(space, L, k, o->label_free ? result.kl_tables :
		    result.tables, result.n_routes, codes, n, weights);
	for (l = 0; l < L; l++) {
		loss += fit_layer(router->weight + (size_t)l * m * C, m, C, L,
		    l, states, labels, weights, n, o->steps, o->lr, x, z, grad,
		    m1, m2);
		if (progress != NULL)
			progress(progress_arg, "training", (double)(l + 1) / L,
			    loss / (l + 1));
	}
	router->final_loss = (float)(loss / L);
	router->tokens = (uint64_t)n;
	snprintf(router->weighting, sizeof router->weighting, "%s",
	    o->weighted ? "regret" : "none");
	snprintf(router->target, sizeof router->target, "%s", target);
	status = 0;
done:
	oracle_result_free(&result);
	free(text);
	free(codes);
	free(labels);
	free(states);
	free(weights);
	free(x);
	free(z);
	free(grad);
	free(m1);
	free(m2);
	return status;
}

int
router_train(const struct duo_model *model, struct duo_router *router,
    const int32_t *tokens, size_t n_tokens, int32_t bos,
    const struct router_train_options *o, router_train_progress_fn progress,
    void *progress_arg, struct duo_error *err)
{
	int T = model->config.n_ctx, status;

	if (n_tokens < (size_t)T)
		return error_set(err, "the training text has %zu tokens; a "
		    "router needs at least %d (one window)", n_tokens, T);
	if (o->steps < 1 || o->lr <= 0.0f || !(o->lr < 1.0f))
		return error_set(err, "steps must be at least 1 and the "
		    "learning rate in (0, 1)");
	if (router->kind == ROUTER_PAPER && (o->batch < 1 ||
	    o->alpha < 0.0f || !(o->sharpness_start > 0.0f) ||
	    !(o->sharpness_end > 0.0f)))
		return error_set(err, "the batch must be at least 1, alpha "
		    "not negative and the sharpness positive");
	if (router->kind == ROUTER_ORACLE && o->label_tokens < 1)
		return error_set(err, "the oracle kind needs labelled tokens");
	router->learning_rate = o->lr;
	router->steps = o->steps;
	router->seed = o->seed;
	router->alpha = router->kind == ROUTER_PAPER ? o->alpha : 0.0f;
	router->sharpness_start = router->kind == ROUTER_PAPER ?
	    o->sharpness_start : 0.0f;
	router->sharpness_end = router->kind == ROUTER_PAPER ?
	    o->sharpness_end : 0.0f;
	linalg_set_threads(1);
	if (router->kind == ROUTER_PAPER)
		status = train_paper(model, router, tokens, n_tokens, bos, o,
		    progress, progress_arg, err);
	else
		status = train_oracle(model, router, tokens, n_tokens, bos, o,
		    progress, progress_arg, err);
	linalg_set_threads(parallel_thread_count());
	return status;
}
