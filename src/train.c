/*
 * train.c - training a Duo model: the forward and backward pass of the
 * model over layers.h's kernels with stored activations, random routing,
 * AdamW with warm-up and cosine decay, gradient clipping, validation
 * through the inference path, and checkpoints that continue bit for bit.
 *
 * Shapes in comments use the letters of train.h's legend.  BLAS runs one
 * thread per call; the kernels split each product over the OpenMP
 * threads (rows of the result), because mixing BLAS's thread pool with
 * OpenMP's on two cores makes them fight, and because a fixed split keeps
 * every result independent of timing, which bit-identical resumption
 * needs.  No floating-point sum here depends on thread scheduling.
 */
#include "train.h"
#include "rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "layers.h"
#include "linalg.h"

/* Rows of one pass when the micro-batch is left to the trainer. */
#define DEFAULT_PASS_ROWS 4096

#define CHECKPOINT_VERSION 1

int
train_thread_count(void)
{
	return parallel_thread_count();
}

/* --- random numbers ---------------------------------------------------- */

/* Independent streams from one seed: data, routes, evaluation routes. */
static uint64_t
rng_stream(uint32_t seed, uint64_t stream)
{
	uint64_t s = ((uint64_t)seed << 32) ^ (stream * 0xd1b54a32d192ed03ULL);

	rng_next(&s);
	return s;
}

enum { STREAM_DATA = 1, STREAM_ROUTE = 2, STREAM_EVAL = 3 };

void
train_sample_routes(uint8_t *routes, size_t rows, int n_layer, float p_big,
    float p_skip, uint64_t *rng)
{
	size_t i, n = rows * (size_t)n_layer;

	/* Skip first, then big or small among the rest (train.h). */
	for (i = 0; i < n; i++) {
		if (p_skip > 0.0f && rng_uniform(rng) < (double)p_skip)
			routes[i] = CHOICE_SKIP;
		else
			routes[i] = rng_uniform(rng) < (double)p_big ?
			    CHOICE_BIG : CHOICE_SMALL;
	}
}

/* --- options ----------------------------------------------------------- */

void
train_options_default(struct train_options *o)
{
	memset(o, 0, sizeof *o);
	o->batch = 16;
	o->micro_batch = 0;
	o->steps = 2000;
	o->lr = 1.5e-3f;
	o->min_lr_ratio = 0.1f;
	o->warmup = 100;
	o->weight_decay = 0.1f;
	o->beta1 = 0.9f;
	o->beta2 = 0.95f;
	o->adam_eps = 1e-8f;
	o->clip = 1.0f;
	o->p_big = 0.5f;
	o->p_skip = 0.0f;
	o->seed = 1;
}

int
train_options_validate(const struct train_options *o, struct duo_error *err)
{
	if (o->batch < 1)
		return error_set(err, "batch %d must be at least 1", o->batch);
	if (o->micro_batch < 0 || o->micro_batch > o->batch)
		return error_set(err, "micro-batch %d must be between 0 and "
		    "the batch %d", o->micro_batch, o->batch);
	if (o->steps < 1)
		return error_set(err, "steps %d must be at least 1", o->steps);
	if (o->warmup < 0)
		return error_set(err, "warm-up %d must not be negative",
		    o->warmup);
	if (!(o->lr > 0.0f) || !isfinite(o->lr))
		return error_set(err, "learning rate %g must be positive",
		    (double)o->lr);
	if (!(o->min_lr_ratio >= 0.0f && o->min_lr_ratio <= 1.0f))
		return error_set(err, "minimum learning rate ratio %g must be "
		    "in [0, 1]", (double)o->min_lr_ratio);
	if (!(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
		return error_set(err, "weight decay %g must not be negative",
		    (double)o->weight_decay);
	if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f) ||
	    !(o->beta2 >= 0.0f && o->beta2 < 1.0f) || !(o->adam_eps > 0.0f))
		return error_set(err, "AdamW betas must be in [0, 1) and "
		    "epsilon positive");
	if (!(o->clip >= 0.0f) || !isfinite(o->clip))
		return error_set(err, "gradient clip %g must not be negative",
		    (double)o->clip);
	if (!(o->p_big >= 0.0f && o->p_big <= 1.0f))
		return error_set(err, "p_big %g must be in [0, 1]",
		    (double)o->p_big);
	if (!(o->p_skip >= 0.0f && o->p_skip < 1.0f))
		return error_set(err, "p_skip %g must be in [0, 1)",
		    (double)o->p_skip);
	return 0;
}

float
train_learning_rate(const struct train_options *o, int step)
{
	double progress, lr = o->lr, lr_min = o->lr * o->min_lr_ratio;

	if (step < o->warmup)
		return (float)(lr * (double)(step + 1) / (double)o->warmup);
	if (o->steps <= o->warmup)
		return (float)lr;
	progress = (double)(step - o->warmup) / (double)(o->steps - o->warmup);
	if (progress > 1.0)
		progress = 1.0;
	return (float)(lr_min + 0.5 * (lr - lr_min) *
	    (1.0 + cos(3.14159265358979323846 * progress)));
}

/* --- the attention sublayer -------------------------------------------- */

void
attention_sublayer_forward(const struct duo_layer *w, float *xm,
    const float *x, const struct attention_saved *a, int M, int T, int C,
    int H, float eps, const float *rope_cos, const float *rope_sin)
{
	int R = M * T;

	rmsnorm_forward(a->ln1, a->rstd, x, w->attn_norm, R, C, eps, true);
	/* qkv (R, 3C) = ln1 [wq; wk; wv]^T: adjacent in the layout */
	linear_forward(a->qkv, a->ln1, w->wq, R, C, 3 * C, 0.0f);
	/* q and k side by side are 2H heads of size D */
	rope_forward(a->qkv, R, T, 0, 2 * C, 3 * C, C / H, rope_cos, rope_sin,
	    true);
	attention_forward(a->atty, a->probs, a->qkv, M, T, C, H);
	memcpy(xm, x, (size_t)R * C * sizeof *xm);
	linear_forward(xm, a->atty, w->wo, R, C, C, 1.0f);
}

void
attention_sublayer_backward(const struct duo_layer *w, float *dres,
    const float *x, const struct attention_saved *a, float *dw_qkv,
    float *dw_o, float *dw_norm, int M, int T, int C, int H,
    const float *rope_cos, const float *rope_sin, struct train_scratch *s)
{
	int R = M * T;

	/* datty (R, C) = dres wo; dwo += dres^T atty */
	linear_backward(s->datty, dw_o, dres, a->atty, w->wo, R, C, C);
	attention_backward(s->dqkv, s->dprobs, s->datty, a->qkv, a->probs, M,
	    T, C, H);
	rope_backward(s->dqkv, R, T, 2 * C, 3 * C, C / H, rope_cos, rope_sin);
	/* dln1 (R, C) = dqkv [wq; wk; wv]; dw += dqkv^T ln1 */
	linear_backward(s->dln, dw_qkv, s->dqkv, a->ln1, w->wq, R, C, 3 * C);
	rmsnorm_backward(dres, dw_norm, s->norm_partial, s->dln, x,
	    w->attn_norm, a->rstd, R, C);
}

/* --- the model --------------------------------------------------------- */

/* Gradient buffer location of a parameter pointer. */
static float *
grad_of(struct trainer *tr, const float *param)
{
	return tr->grads + (param - tr->model->params);
}

/* Split the rows of layer l by their route into the big and small lists. */
static void
route_rows(struct trainer *tr, int l, int R)
{
	struct train_activations *a = &tr->act;
	int L = tr->model->config.n_layer, r, nb = 0, ns = 0;
	int *big = a->rows_big + (size_t)l * R, *small = a->rows_small +
	    (size_t)l * R;

	for (r = 0; r < R; r++) {
		uint8_t c = a->routes[(size_t)r * L + l];

		if (c == CHOICE_BIG)
			big[nb++] = r;
		else if (c == CHOICE_SMALL)
			small[ns++] = r;
	}
	a->n_big[l] = nb;
	a->n_small[l] = ns;
}

float
train_forward(struct trainer *tr, int n_seq)
{
	const struct duo_model *model = tr->model;
	const struct duo_config *cfg = &model->config;
	struct train_activations *a = &tr->act;
	int L = cfg->n_layer, C = cfg->d_model, H = cfg->n_head;
	int T = cfg->n_ctx, F = cfg->d_ff, S = cfg->d_ff_small;
	int V = cfg->n_vocab, R = n_seq * T, l, r;
	size_t RC = (size_t)R * C;
	double sum = 0.0;

	embedding_forward(a->residual, a->inputs, model->token_embedding, R, C,
	    true);
	for (l = 0; l < L; l++) {
		const struct duo_layer *w = &model->layers[l];
		float *x = a->residual + (size_t)l * RC;
		float *xm = a->residual_mid + (size_t)l * RC;
		float *xn = a->residual + (size_t)(l + 1) * RC;
		float *ln2 = a->ln2 + (size_t)l * RC;
		struct attention_saved saved = {
			a->ln1 + (size_t)l * RC, a->ln1_rstd + (size_t)l * R,
			a->qkv + (size_t)l * 3 * RC, a->probs + (size_t)l *
			n_seq * H * T * T, a->atty + (size_t)l * RC,
		};

		attention_sublayer_forward(w, xm, x, &saved, n_seq, T, C, H,
		    cfg->norm_eps, tr->rope_cos, tr->rope_sin);
		rmsnorm_forward(ln2, a->ln2_rstd + (size_t)l * R, xm,
		    w->ffn_norm, R, C, cfg->norm_eps, true);
		memcpy(xn, xm, RC * sizeof *xn);
		route_rows(tr, l, R);
		ffn_forward(xn, a->gate_up_big + (size_t)l * R * 2 * F, ln2,
		    a->rows_big + (size_t)l * R, a->n_big[l], w->gate, w->down,
		    C, F, &tr->scratch.ffn);
		ffn_forward(xn, a->gate_up_small + (size_t)l * R * 2 * S, ln2,
		    a->rows_small + (size_t)l * R, a->n_small[l],
		    w->gate_small, w->down_small, C, S, &tr->scratch.ffn);
	}
	rmsnorm_forward(a->lnf, a->lnf_rstd, a->residual + (size_t)L * RC,
	    model->output_norm, R, C, cfg->norm_eps, true);
	linear_forward(a->logits, a->lnf, model->output, R, C, V, 0.0f);
	crossentropy_forward(a->losses, a->logits, a->targets, R, V);
	for (r = 0; r < R; r++)
		sum += a->losses[r];
	return (float)(sum / R);
}

void
train_backward(struct trainer *tr, int n_seq, float scale)
{
	struct duo_model *model = tr->model;
	const struct duo_config *cfg = &model->config;
	struct train_activations *a = &tr->act;
	struct train_scratch *s = &tr->scratch;
	int L = cfg->n_layer, C = cfg->d_model, H = cfg->n_head;
	int T = cfg->n_ctx, F = cfg->d_ff, S = cfg->d_ff_small;
	int V = cfg->n_vocab, R = n_seq * T, l;
	size_t RC = (size_t)R * C;

	crossentropy_backward(a->logits, a->targets, R, V, scale);
	/* dlnf (R, C) = dlogits E; dE (V, C) += dlogits^T lnf */
	linear_backward(s->dln, grad_of(tr, model->output), a->logits, a->lnf,
	    model->output, R, C, V);
	memset(s->dresidual, 0, RC * sizeof *s->dresidual);
	rmsnorm_backward(s->dresidual, grad_of(tr, model->output_norm),
	    s->norm_partial, s->dln, a->residual + (size_t)L * RC,
	    model->output_norm, a->lnf_rstd, R, C);
	for (l = L - 1; l >= 0; l--) {
		const struct duo_layer *w = &model->layers[l];
		const float *x = a->residual + (size_t)l * RC;
		const float *xm = a->residual_mid + (size_t)l * RC;
		const float *ln2 = a->ln2 + (size_t)l * RC;
		struct attention_saved saved = {
			a->ln1 + (size_t)l * RC, a->ln1_rstd + (size_t)l * R,
			a->qkv + (size_t)l * 3 * RC, a->probs + (size_t)l *
			n_seq * H * T * T, a->atty + (size_t)l * RC,
		};

		/* The residual passes dresidual on unchanged; the FFN adds
		 * its input's gradient, zero for skipped rows. */
		memset(s->dln, 0, RC * sizeof *s->dln);
		ffn_backward(s->dln, grad_of(tr, w->gate), grad_of(tr, w->down),
		    s->dresidual, ln2, a->rows_big + (size_t)l * R, a->n_big[l],
		    a->gate_up_big + (size_t)l * R * 2 * F, w->gate, w->down, C,
		    F, &s->ffn);
		ffn_backward(s->dln, grad_of(tr, w->gate_small),
		    grad_of(tr, w->down_small), s->dresidual, ln2,
		    a->rows_small + (size_t)l * R, a->n_small[l],
		    a->gate_up_small + (size_t)l * R * 2 * S, w->gate_small,
		    w->down_small, C, S, &s->ffn);
		rmsnorm_backward(s->dresidual, grad_of(tr, w->ffn_norm),
		    s->norm_partial, s->dln, xm, w->ffn_norm,
		    a->ln2_rstd + (size_t)l * R, R, C);
		attention_sublayer_backward(w, s->dresidual, x, &saved,
		    grad_of(tr, w->wq), grad_of(tr, w->wo),
		    grad_of(tr, w->attn_norm), n_seq, T, C, H, tr->rope_cos,
		    tr->rope_sin, s);
	}
	embedding_backward(grad_of(tr, model->token_embedding), s->dresidual,
	    a->inputs, R, C);
}

/* --- optimizer --------------------------------------------------------- */

/* Global L2 norm of the gradient, summed in a fixed order. */
static double
grad_norm(const float *g, size_t n)
{
	enum { CHUNKS = 64 };
	double partial[CHUNKS], sum = 0.0;
	int c;

	PARALLEL_FOR(true, n)
	for (c = 0; c < CHUNKS; c++) {
		size_t i, i0 = n * (size_t)c / CHUNKS;
		size_t i1 = n * (size_t)(c + 1) / CHUNKS;
		double s = 0.0;

		for (i = i0; i < i1; i++)
			s += (double)g[i] * g[i];
		partial[c] = s;
	}
	for (c = 0; c < CHUNKS; c++)
		sum += partial[c];
	return sqrt(sum);
}

/* AdamW with bias correction; decay only where the tensor decays. */
static void
adamw_update(struct trainer *tr, float lr, float grad_scale)
{
	const struct train_options *o = &tr->options;
	float *params = tr->model->params;
	float b1c = 1.0f - powf(o->beta1, (float)(tr->step + 1));
	float b2c = 1.0f - powf(o->beta2, (float)(tr->step + 1));
	int t;

	for (t = 0; t < tr->n_tensors; t++) {
		const struct train_tensor *ten = &tr->tensors[t];
		float decay = ten->decay ? o->weight_decay : 0.0f;
		long i, n = (long)ten->n_elements;
		float *p = params + ten->offset, *g = tr->grads + ten->offset;
		float *m = tr->adam_m + ten->offset;
		float *v = tr->adam_v + ten->offset;

		PARALLEL_FOR(true, n)
		for (i = 0; i < n; i++) {
			float gi = g[i] * grad_scale, mh, vh;

			m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * gi;
			v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * gi * gi;
			mh = m[i] / b1c;
			vh = v[i] / b2c;
			p[i] -= lr * (mh / (sqrtf(vh) + o->adam_eps) +
			    decay * p[i]);
		}
	}
}

/* Fill sequence b of the pass from the data stream. */
static void
sample_sequence(struct trainer *tr, int b)
{
	int T = tr->model->config.n_ctx, t;
	int32_t *in = tr->act.inputs + (size_t)b * T;
	int32_t *target = tr->act.targets + (size_t)b * T;
	/* T corpus tokens are needed: T - 1 inputs after BOS, T targets. */
	uint64_t span = (uint64_t)(tr->n_tokens - (size_t)T + 1);
	size_t start = (size_t)(rng_next(&tr->rng_data) % span);
	const int32_t *src = tr->tokens + start;

	in[0] = tr->bos;
	for (t = 1; t < T; t++)
		in[t] = src[t - 1];
	memcpy(target, src, (size_t)T * sizeof *target);
}

int
train_step(struct trainer *tr, float *loss, struct duo_error *err)
{
	const struct train_options *o = &tr->options;
	int B = o->batch, T = tr->model->config.n_ctx;
	int L = tr->model->config.n_layer, done, n, b;
	float scale = 1.0f / ((float)B * (float)T), lr, clip_scale = 1.0f;
	double sum = 0.0, norm;

	if (tr->tokens == NULL || tr->n_tokens < (size_t)T)
		return error_set(err, "the training corpus has %zu tokens; a "
		    "sequence needs %d", tr->n_tokens, T);
	memset(tr->grads, 0, tr->model->n_params * sizeof *tr->grads);
	for (done = 0; done < B; done += n) {
		n = B - done < tr->micro_batch ? B - done : tr->micro_batch;
		for (b = 0; b < n; b++)
			sample_sequence(tr, b);
		train_sample_routes(tr->act.routes, (size_t)n * T, L, o->p_big,
		    o->p_skip, &tr->rng_route);
		sum += (double)train_forward(tr, n) * n;
		train_backward(tr, n, scale);
	}
	norm = grad_norm(tr->grads, tr->model->n_params);
	if (!isfinite(norm))
		return error_set(err, "step %d: the gradient is not finite "
		    "(the learning rate may be too high)", tr->step + 1);
	if (o->clip > 0.0f && norm > o->clip)
		clip_scale = (float)(o->clip / norm);
	lr = train_learning_rate(o, tr->step);
	adamw_update(tr, lr, clip_scale);
	tr->step++;
	tr->tokens_seen += (uint64_t)B * (uint64_t)T;
	tr->last_loss = (float)(sum / B);
	tr->last_lr = lr;
	tr->last_grad_norm = (float)norm;
	if (loss != NULL)
		*loss = tr->last_loss;
	return 0;
}

/* --- setup ------------------------------------------------------------- */

/* malloc n * size bytes, counting them; NULL on overflow or failure. */
static void *
trainer_alloc(struct trainer *tr, size_t n, size_t size)
{
	void *p;

	if (n != 0 && size > SIZE_MAX / n)
		return NULL;
	p = malloc(n * size == 0 ? 1 : n * size);
	if (p != NULL)
		tr->bytes += n * size;
	return p;
}

static uint64_t
fnv1a_tokens(const int32_t *tokens, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;
	int j;

	for (i = 0; i < n; i++)
		for (j = 0; j < 4; j++) {
			h ^= ((uint32_t)tokens[i] >> (8 * j)) & 0xff;
			h *= 0x100000001b3ULL;
		}
	return h;
}

/* The q, k, v and gate, up matrices must be adjacent for the fused
 * products; the layout of model.h promises it, this checks it. */
static int
check_layout(const struct duo_model *model, struct duo_error *err)
{
	size_t CC = (size_t)model->config.d_model * model->config.d_model;
	size_t FC = (size_t)model->config.d_ff * model->config.d_model;
	size_t SC = (size_t)model->config.d_ff_small * model->config.d_model;
	int l;

	for (l = 0; l < model->config.n_layer; l++) {
		const struct duo_layer *w = &model->layers[l];

		if (w->wk != w->wq + CC || w->wv != w->wk + CC ||
		    w->up != w->gate + FC || w->up_small != w->gate_small + SC)
			return error_set(err, "layer %d: the parameter layout "
			    "does not keep q, k, v and gate, up adjacent", l);
	}
	return 0;
}

void
trainer_free(struct trainer *tr)
{
	struct train_activations *a = &tr->act;
	struct train_scratch *s = &tr->scratch;

	free(tr->grads);
	free(tr->adam_m);
	free(tr->adam_v);
	free(tr->tensors);
	free(tr->rope_cos);
	free(tr->rope_sin);
	free(a->inputs);
	free(a->targets);
	free(a->routes);
	free(a->residual);
	free(a->residual_mid);
	free(a->ln1);
	free(a->ln1_rstd);
	free(a->qkv);
	free(a->probs);
	free(a->atty);
	free(a->ln2);
	free(a->ln2_rstd);
	free(a->rows_big);
	free(a->rows_small);
	free(a->n_big);
	free(a->n_small);
	free(a->gate_up_big);
	free(a->gate_up_small);
	free(a->lnf);
	free(a->lnf_rstd);
	free(a->logits);
	free(a->losses);
	free(s->dresidual);
	free(s->dln);
	free(s->datty);
	free(s->dqkv);
	free(s->ffn.gathered);
	free(s->ffn.module_out);
	free(s->ffn.hidden);
	free(s->ffn.dgate_up);
	free(s->dprobs);
	free(s->norm_partial);
	memset(tr, 0, sizeof *tr);
}

int
trainer_init(struct trainer *tr, struct duo_model *model,
    const struct train_options *options, const int32_t *tokens,
    size_t n_tokens, int32_t bos, struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	struct train_activations *a = &tr->act;
	struct train_scratch *s = &tr->scratch;
	struct model_tensor_info info;
	size_t L, C, H, T, F, S, V, R, M, P, half, i;
	int t, threads;
	bool ok;

	memset(tr, 0, sizeof *tr);
	if (train_options_validate(options, err) != 0 ||
	    config_validate(c, err) != 0 || check_layout(model, err) != 0)
		return -1;
	if (bos < 0 || bos >= c->n_vocab)
		return error_set(err, "BOS id %d is outside the vocabulary of "
		    "%d", (int)bos, c->n_vocab);
	for (i = 0; i < n_tokens; i++)
		if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
			return error_set(err, "corpus token %zu has id %d, "
			    "outside the vocabulary of %d", i, (int)tokens[i],
			    c->n_vocab);
	tr->model = model;
	tr->options = *options;
	tr->tokens = tokens;
	tr->n_tokens = n_tokens;
	tr->corpus_hash = fnv1a_tokens(tokens, n_tokens);
	tr->bos = bos;
	tr->rng_data = rng_stream(options->seed, STREAM_DATA);
	tr->rng_route = rng_stream(options->seed, STREAM_ROUTE);

	/* BLAS one thread per call; the trainer splits the work. */
	linalg_set_threads(1);
	threads = train_thread_count();
	tr->threads = threads;

	L = (size_t)c->n_layer;
	C = (size_t)c->d_model;
	H = (size_t)c->n_head;
	T = (size_t)c->n_ctx;
	F = (size_t)c->d_ff;
	S = (size_t)c->d_ff_small;
	V = (size_t)c->n_vocab;
	M = (size_t)options->micro_batch;
	if (M == 0) {
		M = DEFAULT_PASS_ROWS / T;
		if (M < 1)
			M = 1;
		if (M > (size_t)options->batch)
			M = (size_t)options->batch;
	}
	tr->micro_batch = (int)M;
	/* Products below are bounded: config_validate limits each size,
	 * and M <= batch <= INT_MAX; trainer_alloc checks n * size. */
	R = M * T;
	P = (size_t)model->n_params;
	half = C / H / 2;

	tr->grads = trainer_alloc(tr, P, sizeof(float));
	tr->adam_m = trainer_alloc(tr, P, sizeof(float));
	tr->adam_v = trainer_alloc(tr, P, sizeof(float));
	tr->n_tensors = model_tensor_count(c, model->tied_output);
	tr->tensors = trainer_alloc(tr, (size_t)tr->n_tensors,
	    sizeof *tr->tensors);
	tr->rope_cos = trainer_alloc(tr, T * half, sizeof(float));
	tr->rope_sin = trainer_alloc(tr, T * half, sizeof(float));
	a->inputs = trainer_alloc(tr, R, sizeof(int32_t));
	a->targets = trainer_alloc(tr, R, sizeof(int32_t));
	a->routes = trainer_alloc(tr, R * L, 1);
	a->residual = trainer_alloc(tr, (L + 1) * R * C, sizeof(float));
	a->residual_mid = trainer_alloc(tr, L * R * C, sizeof(float));
	a->ln1 = trainer_alloc(tr, L * R * C, sizeof(float));
	a->ln1_rstd = trainer_alloc(tr, L * R, sizeof(float));
	a->qkv = trainer_alloc(tr, L * R * 3 * C, sizeof(float));
	a->probs = trainer_alloc(tr, L * M * H * T, T * sizeof(float));
	a->atty = trainer_alloc(tr, L * R * C, sizeof(float));
	a->ln2 = trainer_alloc(tr, L * R * C, sizeof(float));
	a->ln2_rstd = trainer_alloc(tr, L * R, sizeof(float));
	a->rows_big = trainer_alloc(tr, L * R, sizeof(int));
	a->rows_small = trainer_alloc(tr, L * R, sizeof(int));
	a->n_big = trainer_alloc(tr, L, sizeof(int));
	a->n_small = trainer_alloc(tr, L, sizeof(int));
	a->gate_up_big = trainer_alloc(tr, L * R * 2 * F, sizeof(float));
	a->gate_up_small = trainer_alloc(tr, L * R * 2 * S, sizeof(float));
	a->lnf = trainer_alloc(tr, R * C, sizeof(float));
	a->lnf_rstd = trainer_alloc(tr, R, sizeof(float));
	a->logits = trainer_alloc(tr, R * V, sizeof(float));
	a->losses = trainer_alloc(tr, R, sizeof(float));
	s->dresidual = trainer_alloc(tr, R * C, sizeof(float));
	s->dln = trainer_alloc(tr, R * C, sizeof(float));
	s->datty = trainer_alloc(tr, R * C, sizeof(float));
	s->dqkv = trainer_alloc(tr, R * 3 * C, sizeof(float));
	s->ffn.gathered = trainer_alloc(tr, R * C, sizeof(float));
	s->ffn.module_out = trainer_alloc(tr, R * C, sizeof(float));
	s->ffn.hidden = trainer_alloc(tr, R * (F > S ? F : S), sizeof(float));
	s->ffn.dgate_up = trainer_alloc(tr, R * 2 * (F > S ? F : S),
	    sizeof(float));
	s->dprobs = trainer_alloc(tr, (size_t)threads * (T < ATTENTION_BLOCK ?
	    T : ATTENTION_BLOCK) * T, sizeof(float));
	s->norm_partial = trainer_alloc(tr, (size_t)threads * C,
	    sizeof(float));

	ok = tr->grads && tr->adam_m && tr->adam_v && tr->tensors &&
	    tr->rope_cos && tr->rope_sin && a->inputs && a->targets &&
	    a->routes && a->residual && a->residual_mid && a->ln1 &&
	    a->ln1_rstd && a->qkv && a->probs && a->atty && a->ln2 &&
	    a->ln2_rstd && a->rows_big && a->rows_small && a->n_big &&
	    a->n_small && a->gate_up_big && a->gate_up_small && a->lnf &&
	    a->lnf_rstd && a->logits && a->losses && s->dresidual && s->dln &&
	    s->datty && s->dqkv && s->ffn.gathered && s->ffn.module_out &&
	    s->ffn.hidden && s->ffn.dgate_up && s->dprobs && s->norm_partial;
	if (!ok) {
		size_t bytes = tr->bytes;

		trainer_free(tr);
		return error_set(err, "out of memory for training (%zu MB "
		    "allocated; try a smaller --batch or --ctx)",
		    bytes >> 20);
	}
	memset(tr->grads, 0, P * sizeof(float));
	memset(tr->adam_m, 0, P * sizeof(float));
	memset(tr->adam_v, 0, P * sizeof(float));
	memset(a->routes, CHOICE_BIG, R * L);
	for (t = 0; t < tr->n_tensors; t++) {
		model_tensor_info(c, model->tied_output, t, &info);
		tr->tensors[t].offset = info.offset;
		tr->tensors[t].n_elements = info.n_elements;
		tr->tensors[t].decay = info.n_dims == 2;
	}
	rope_tables(tr->rope_cos, tr->rope_sin, T, c->d_model / c->n_head,
	    c->rope_base);
	return 0;
}

/* --- evaluation -------------------------------------------------------- */

int
train_evaluate(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, int max_windows, float p_big, float p_skip,
    uint32_t seed, struct train_eval *out, struct duo_error *err)
{
	enum { KINDS = 3 };
	int L = model->config.n_layer, W, n_windows, w, failed = 0;
	size_t per_window, span;
	uint8_t *random_routes = NULL;
	double *sums = NULL, total[KINDS] = { 0.0, 0.0, 0.0 };
	uint64_t rng = rng_stream(seed, STREAM_EVAL);
	struct duo_error first;

	memset(out, 0, sizeof *out);
	first.message[0] = '\0';
	if (n_tokens == 0 || max_windows < 1 || model->config.n_ctx < 2)
		return error_set(err, "no validation tokens");
	/* W positions per window: BOS and W - 1 text tokens. */
	W = n_tokens + 1 < (size_t)model->config.n_ctx ? (int)n_tokens + 1 :
	    model->config.n_ctx;
	span = (size_t)W - 1;
	n_windows = n_tokens / span > (size_t)max_windows ? max_windows :
	    (int)(n_tokens / span);
	per_window = (size_t)W * (size_t)L;
	random_routes = malloc((size_t)n_windows * per_window);
	sums = calloc((size_t)n_windows * KINDS, sizeof *sums);
	if (random_routes == NULL || sums == NULL) {
		free(random_routes);
		free(sums);
		return error_set(err, "out of memory for validation");
	}
	train_sample_routes(random_routes, (size_t)n_windows * W, L, p_big,
	    p_skip, &rng);
	/* Windows run in parallel, each product on one BLAS thread. */
	linalg_set_threads(1);

#ifdef _OPENMP
#pragma omp parallel
#endif
	{
		struct forward_workspace *ws = forward_workspace_new(
		    &model->config, W);
		int32_t *window = malloc((size_t)W * sizeof *window);
		uint8_t *routes = malloc(2 * per_window);
		float *losses = malloc((size_t)W * sizeof *losses);
		struct duo_error e;
		int k, t, ok = ws != NULL && window != NULL && routes != NULL &&
		    losses != NULL;

		if (!ok) {
#ifdef _OPENMP
#pragma omp critical
#endif
			{
				failed = 1;
				error_set(&first, "out of memory for "
				    "validation");
			}
		} else {
			memset(routes, CHOICE_BIG, per_window);
			memset(routes + per_window, CHOICE_SMALL, per_window);
		}
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
		for (w = 0; w < n_windows; w++) {
			if (!ok)
				continue;
			window[0] = bos;
			memcpy(window + 1, tokens + (size_t)w * span,
			    span * sizeof *window);
			for (k = 0; k < KINDS; k++) {
				const uint8_t *r = k < 2 ? routes +
				    (size_t)k * per_window : random_routes +
				    (size_t)w * per_window;
				double s = 0.0;

				if (model_window_losses(model, ws, window, W, r,
				    losses, &e) != 0) {
#ifdef _OPENMP
#pragma omp critical
#endif
					{
						if (!failed)
							first = e;
						failed = 1;
					}
					break;
				}
				for (t = 0; t < W - 1; t++)
					s += losses[t];
				sums[(size_t)w * KINDS + k] = s;
			}
		}
		forward_workspace_free(ws);
		free(window);
		free(routes);
		free(losses);
	}
	free(random_routes);
	if (failed) {
		free(sums);
		return error_set(err, "validation: %s", first.message);
	}
	for (w = 0; w < n_windows; w++) {
		int k;

		for (k = 0; k < KINDS; k++)
			total[k] += sums[(size_t)w * KINDS + k];
	}
	free(sums);
	out->n_tokens = (size_t)n_windows * span;
	out->big = total[0] / (double)out->n_tokens;
	out->small = total[1] / (double)out->n_tokens;
	out->random = total[2] / (double)out->n_tokens;
	return 0;
}

/* --- checkpoints ------------------------------------------------------- */

#define CK "duo.checkpoint."

enum option_type { OPTION_INT, OPTION_U32, OPTION_FLOAT };

/* Every field of struct train_options and its checkpoint key. */
static const struct {
	const char *key;
	enum option_type type;
	size_t field;
} option_keys[] = {
	{ CK "batch", OPTION_INT, offsetof(struct train_options, batch) },
	{ CK "micro_batch", OPTION_INT,
	  offsetof(struct train_options, micro_batch) },
	{ CK "steps", OPTION_INT, offsetof(struct train_options, steps) },
	{ CK "lr", OPTION_FLOAT, offsetof(struct train_options, lr) },
	{ CK "min_lr_ratio", OPTION_FLOAT,
	  offsetof(struct train_options, min_lr_ratio) },
	{ CK "warmup", OPTION_INT, offsetof(struct train_options, warmup) },
	{ CK "weight_decay", OPTION_FLOAT,
	  offsetof(struct train_options, weight_decay) },
	{ CK "beta1", OPTION_FLOAT, offsetof(struct train_options, beta1) },
	{ CK "beta2", OPTION_FLOAT, offsetof(struct train_options, beta2) },
	{ CK "adam_eps", OPTION_FLOAT,
	  offsetof(struct train_options, adam_eps) },
	{ CK "clip", OPTION_FLOAT, offsetof(struct train_options, clip) },
	{ CK "p_big", OPTION_FLOAT, offsetof(struct train_options, p_big) },
	{ CK "p_skip", OPTION_FLOAT, offsetof(struct train_options, p_skip) },
	{ CK "seed", OPTION_U32, offsetof(struct train_options, seed) },
};
#define N_OPTION_KEYS (sizeof option_keys / sizeof option_keys[0])

int
train_checkpoint_save(struct trainer *tr, const char *path,
    struct duo_error *err)
{
	struct gguf_writer *w = gguf_writer_new();
	const char *base = (const char *)&tr->options;
	size_t i;
	int32_t iv;
	uint32_t uv;
	float fv;
	int status;

	if (w == NULL)
		return error_set(err, "%s: out of memory", path);
	tr->model->training.p_big = tr->options.p_big;
	tr->model->training.p_skip = tr->options.p_skip;
	tr->model->training.seed = tr->options.seed;
	tr->model->training.tokens_seen = tr->tokens_seen;
	model_write(tr->model, w, GGUF_TENSOR_F32);
	gguf_writer_set_u32(w, CK "version", CHECKPOINT_VERSION);
	gguf_writer_set_u64(w, CK "step", (uint64_t)tr->step);
	gguf_writer_set_u64(w, CK "tokens_seen", tr->tokens_seen);
	gguf_writer_set_u64(w, CK "rng.data", tr->rng_data);
	gguf_writer_set_u64(w, CK "rng.route", tr->rng_route);
	gguf_writer_set_u64(w, CK "milliseconds",
	    (uint64_t)(tr->seconds * 1000.0 + 0.5));
	gguf_writer_set_u64(w, CK "corpus.tokens", (uint64_t)tr->n_tokens);
	gguf_writer_set_u64(w, CK "corpus.hash", tr->corpus_hash);
	for (i = 0; i < N_OPTION_KEYS; i++) {
		switch (option_keys[i].type) {
		case OPTION_INT:
			memcpy(&iv, base + option_keys[i].field, sizeof iv);
			gguf_writer_set_u32(w, option_keys[i].key,
			    (uint32_t)iv);
			break;
		case OPTION_U32:
			memcpy(&uv, base + option_keys[i].field, sizeof uv);
			gguf_writer_set_u32(w, option_keys[i].key, uv);
			break;
		case OPTION_FLOAT:
			memcpy(&fv, base + option_keys[i].field, sizeof fv);
			gguf_writer_set_f32(w, option_keys[i].key, fv);
			break;
		}
	}
	gguf_writer_set_f32_array(w, CK "adam.m", tr->adam_m,
	    tr->model->n_params);
	gguf_writer_set_f32_array(w, CK "adam.v", tr->adam_v,
	    tr->model->n_params);
	status = gguf_writer_save(w, path, err);
	gguf_writer_free(w);
	return status;
}

/* A u64 key of an open file. */
static int
get_u64(const struct gguf_file *file, const char *key, uint64_t *out,
    struct duo_error *err)
{
	const struct gguf_kv *kv = gguf_find_kv(file, key);

	if (kv == NULL)
		return error_set(err, "%s: no key %s; not a duo checkpoint",
		    file->path, key);
	if (kv->type != GGUF_TYPE_UINT64)
		return error_set(err, "%s: %s has type %s, not uint64",
		    file->path, key, gguf_type_name(kv->type));
	memcpy(out, kv->value, sizeof *out);
	return 0;
}

static int
read_options(const struct gguf_file *file, struct train_options *o,
    struct duo_error *err)
{
	char *base = (char *)o;
	uint32_t version, u;
	int32_t iv;
	float f;
	size_t i;

	if (gguf_find_kv(file, CK "version") == NULL)
		return error_set(err, "%s: not a training checkpoint (no %s "
		    "keys)", file->path, CK "*");
	if (gguf_get_u32(file, CK "version", &version, err) != 0)
		return -1;
	if (version != CHECKPOINT_VERSION)
		return error_set(err, "%s: checkpoint version %u; this duo "
		    "reads version %d", file->path, version,
		    CHECKPOINT_VERSION);
	train_options_default(o);
	for (i = 0; i < N_OPTION_KEYS; i++) {
		if (option_keys[i].type == OPTION_FLOAT) {
			if (gguf_get_f32(file, option_keys[i].key, &f, err) != 0)
				return -1;
			memcpy(base + option_keys[i].field, &f, sizeof f);
			continue;
		}
		if (gguf_get_u32(file, option_keys[i].key, &u, err) != 0)
			return -1;
		if (option_keys[i].type == OPTION_U32) {
			memcpy(base + option_keys[i].field, &u, sizeof u);
		} else {
			if (u > INT32_MAX)
				return error_set(err, "%s: %s is %u, too large",
				    file->path, option_keys[i].key, u);
			iv = (int32_t)u;
			memcpy(base + option_keys[i].field, &iv, sizeof iv);
		}
	}
	if (train_options_validate(o, err) != 0)
		return error_prefix(err, file->path);
	return 0;
}

int
train_checkpoint_options(const char *path, struct train_options *o,
    struct duo_error *err)
{
	struct gguf_file file;
	int status;

	memset(&file, 0, sizeof file);
	if (gguf_open(&file, path, err) != 0)
		return -1;
	status = read_options(&file, o, err);
	gguf_close(&file);
	return status;
}

/* Copy the f32 array key of n floats into dst. */
static int
read_moment(const struct gguf_file *file, const char *key, float *dst,
    size_t n, struct duo_error *err)
{
	const struct gguf_kv *kv;

	if (gguf_get_array(file, key, GGUF_TYPE_FLOAT32, &kv, err) != 0)
		return -1;
	if (kv->array_count != (uint64_t)n)
		return error_set(err, "%s: %s has %llu values; the model has "
		    "%zu parameters", file->path, key,
		    (unsigned long long)kv->array_count, n);
	memcpy(dst, kv->value, n * sizeof *dst);
	return 0;
}

int
train_checkpoint_restore(struct trainer *tr, const char *path,
    struct duo_error *err)
{
	struct gguf_file file;
	uint64_t step, tokens_seen, rng_data, rng_route, ms, n_tokens, hash;
	int status = -1;

	memset(&file, 0, sizeof file);
	if (gguf_open(&file, path, err) != 0)
		return -1;
	if (get_u64(&file, CK "step", &step, err) != 0 ||
	    get_u64(&file, CK "tokens_seen", &tokens_seen, err) != 0 ||
	    get_u64(&file, CK "rng.data", &rng_data, err) != 0 ||
	    get_u64(&file, CK "rng.route", &rng_route, err) != 0 ||
	    get_u64(&file, CK "milliseconds", &ms, err) != 0 ||
	    get_u64(&file, CK "corpus.tokens", &n_tokens, err) != 0 ||
	    get_u64(&file, CK "corpus.hash", &hash, err) != 0)
		goto done;
	if (n_tokens != (uint64_t)tr->n_tokens || hash != tr->corpus_hash) {
		error_set(err, "%s: the checkpoint was trained on another "
		    "corpus (%llu tokens; this one has %zu, or they differ)",
		    path, (unsigned long long)n_tokens, tr->n_tokens);
		goto done;
	}
	if (step > INT32_MAX) {
		error_set(err, "%s: step %llu is too large", path,
		    (unsigned long long)step);
		goto done;
	}
	if (read_moment(&file, CK "adam.m", tr->adam_m, tr->model->n_params,
	    err) != 0 ||
	    read_moment(&file, CK "adam.v", tr->adam_v, tr->model->n_params,
	    err) != 0)
		goto done;
	tr->step = (int)step;
	tr->tokens_seen = tokens_seen;
	tr->rng_data = rng_data;
	tr->rng_route = rng_route;
	tr->seconds = (double)ms / 1000.0;
	status = 0;
done:
	gguf_close(&file);
	return status;
}
