/*
 * test_grad.c - the trainer's backward pass against finite differences.
 *
 * Every layer's forward function is first compared with a naive
 * double-precision version written here; then the layer's backward (in
 * float, as trained) is compared with central differences of that double
 * version, for every input and weight coordinate of a small case.  The
 * whole model is checked the same way on a tiny configuration with random
 * big/small/skip routes, every parameter coordinate included, and the
 * training forward is compared with the inference path
 * (model_window_losses).
 *
 * Why these tolerances: the reference loss is a double function and its
 * central difference with step 1e-6 is exact to about 1e-9 (truncation
 * ~1e-12, rounding ~1e-16 / 1e-6), so the whole error is the float32
 * backward's own rounding, around 1e-6 of the gradient's scale.  A
 * coordinate passes when |analytic - numeric| <= 2e-3 |numeric| + 1e-4
 * scale, scale being the largest |numeric| of that tensor: 100 times the
 * rounding seen in practice, and far below what any wrong formula gives
 * (a missing term or factor errs by the size of the gradient itself).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "train.h"

#define RTOL 2e-3
#define ATOL 1e-4
#define STEP 1e-6

static int failures, checks;

static void
expect(int ok, const char *fmt, const char *what, double a, double b)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s: ", what);
		printf(fmt, a, b);
		printf("\n");
	}
}

/* --- random numbers ---------------------------------------------------- */

static uint64_t rng_state = 12345;

static double
uniform(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double
normal(void)
{
	return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static float *
random_floats(size_t n, double std)
{
	float *x = malloc(n * sizeof *x);
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (float)(std * normal());
	return x;
}

static double *
to_double(const float *x, size_t n)
{
	double *d = malloc(n * sizeof *d);
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = x[i];
	return d;
}

/* --- double-precision reference layers --------------------------------- */

static void
ref_rmsnorm(double *out, const double *x, const double *w, int R, int C,
    double eps)
{
	int r, i;

	for (r = 0; r < R; r++) {
		double ss = 0.0, s;

		for (i = 0; i < C; i++)
			ss += x[r * C + i] * x[r * C + i];
		s = 1.0 / sqrt(ss / C + eps);
		for (i = 0; i < C; i++)
			out[r * C + i] = x[r * C + i] * s * w[i];
	}
}

/* out (R, O) = x (R, I) w^T, w (O, I) */
static void
ref_linear(double *out, const double *x, const double *w, int R, int I, int O)
{
	int r, o, i;

	for (r = 0; r < R; r++)
		for (o = 0; o < O; o++) {
			double s = 0.0;

			for (i = 0; i < I; i++)
				s += x[r * I + i] * w[o * I + i];
			out[r * O + o] = s;
		}
}

static void
ref_rope(double *x, int R, int T, int width, int stride, int D, double base)
{
	int r, h, i;

	for (r = 0; r < R; r++)
		for (h = 0; h < width; h += D)
			for (i = 0; i < D / 2; i++) {
				double a = (r % T) * pow(base, -2.0 * i / D);
				double *p = x + (size_t)r * stride + h + 2 * i;
				double x0 = p[0], x1 = p[1];

				p[0] = x0 * cos(a) - x1 * sin(a);
				p[1] = x0 * sin(a) + x1 * cos(a);
			}
}

/* out (M*T, C) from qkv (M*T, 3C), causal, per head */
static void
ref_attention(double *out, const double *qkv, int M, int T, int C, int H)
{
	int D = C / H, b, h, t, j, i;
	double *p = malloc((size_t)T * sizeof *p);

	for (b = 0; b < M; b++)
		for (h = 0; h < H; h++)
			for (t = 0; t < T; t++) {
				const double *q = qkv + (size_t)(b * T + t) * 3 *
				    C + h * D;
				double max = -1e300, sum = 0.0;

				for (j = 0; j <= t; j++) {
					const double *k = qkv + (size_t)(b * T +
					    j) * 3 * C + C + h * D;
					double s = 0.0;

					for (i = 0; i < D; i++)
						s += q[i] * k[i];
					p[j] = s / sqrt((double)D);
					max = p[j] > max ? p[j] : max;
				}
				for (j = 0; j <= t; j++) {
					p[j] = exp(p[j] - max);
					sum += p[j];
				}
				for (i = 0; i < D; i++) {
					double y = 0.0;

					for (j = 0; j <= t; j++)
						y += p[j] / sum * qkv[(size_t)(b *
						    T + j) * 3 * C + 2 * C + h *
						    D + i];
					out[(size_t)(b * T + t) * C + h * D + i] =
					    y;
				}
			}
	free(p);
}

/* out (R, C) += SwiGLU of the listed rows of x */
static void
ref_ffn(double *out, const double *x, const int *rows, int n,
    const double *wgu, const double *wd, int C, int I)
{
	double *g = malloc((size_t)2 * I * sizeof *g);
	int k, j, i;

	for (k = 0; k < n; k++) {
		const double *xr = x + (size_t)rows[k] * C;

		for (j = 0; j < 2 * I; j++) {
			g[j] = 0.0;
			for (i = 0; i < C; i++)
				g[j] += wgu[(size_t)j * C + i] * xr[i];
		}
		for (j = 0; j < I; j++)
			g[j] = g[j] / (1.0 + exp(-g[j])) * g[I + j];
		for (i = 0; i < C; i++) {
			double s = 0.0;

			for (j = 0; j < I; j++)
				s += wd[(size_t)i * I + j] * g[j];
			out[(size_t)rows[k] * C + i] += s;
		}
	}
	free(g);
}

static double
ref_crossentropy(const double *logits, const int32_t *targets, int R, int V,
    double *losses)
{
	double total = 0.0;
	int r, i;

	for (r = 0; r < R; r++) {
		const double *row = logits + (size_t)r * V;
		double max = row[0], sum = 0.0;

		for (i = 1; i < V; i++)
			max = row[i] > max ? row[i] : max;
		for (i = 0; i < V; i++)
			sum += exp(row[i] - max);
		losses[r] = log(sum) + max - row[targets[r]];
		total += losses[r];
	}
	return total;
}

/* --- gradient comparison ----------------------------------------------- */

/*
 * A layer under test: its double forward as a scalar function of the
 * array being perturbed (loss = sum of weights * outputs).
 */
typedef double (*loss_fn)(void *ctx);

/* Central differences of fn over the n doubles of x, every stride-th. */
static void
numeric_grad(double *numeric, double *x, size_t n, size_t stride, loss_fn fn,
    void *ctx)
{
	size_t i;

	for (i = 0; i < n; i++)
		numeric[i] = 0.0;
	for (i = 0; i < n; i += stride) {
		double saved = x[i], up, down;

		x[i] = saved + STEP;
		up = fn(ctx);
		x[i] = saved - STEP;
		down = fn(ctx);
		x[i] = saved;
		numeric[i] = (up - down) / (2.0 * STEP);
	}
}

/* Compare analytic (float) with numeric over every stride-th coordinate. */
static void
compare_grad(const char *what, const float *analytic, const double *numeric,
    size_t n, size_t stride)
{
	double scale = 0.0, worst = 0.0, worst_a = 0.0, worst_n = 0.0, bound;
	char label[160];
	size_t i;

	for (i = 0; i < n; i += stride)
		scale = fabs(numeric[i]) > scale ? fabs(numeric[i]) : scale;
	for (i = 0; i < n; i += stride) {
		bound = RTOL * fabs(numeric[i]) + ATOL * scale + 1e-12;
		if (fabs(analytic[i] - numeric[i]) / bound > worst) {
			worst = fabs(analytic[i] - numeric[i]) / bound;
			worst_a = analytic[i];
			worst_n = numeric[i];
		}
	}
	snprintf(label, sizeof label, "%s gradient (worst error / tolerance "
	    "%.3g, scale %.3g)", what, worst, scale);
	expect(worst <= 1.0 && scale > 0.0, "analytic %.9g numeric %.9g",
	    label, worst_a, worst_n);
	if (getenv("VERBOSE") != NULL)
		printf("  %-40s worst/tol %.3g scale %.3g\n", what, worst,
		    scale);
}

/* Compare a float forward with its double reference. */
static void
compare_values(const char *what, const float *got, const double *want,
    size_t n, double tolerance)
{
	double worst = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		if (fabs(got[i] - want[i]) > worst)
			worst = fabs(got[i] - want[i]);
	expect(worst <= tolerance, "max difference %.3g > %.3g", what, worst,
	    tolerance);
}

static double
weighted_sum(const double *out, const double *weights, size_t n)
{
	double s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += out[i] * weights[i];
	return s;
}

/* --- rmsnorm ----------------------------------------------------------- */

struct norm_case {
	int R, C;
	double *x, *w, *weights, *out;
};

static double
norm_loss(void *p)
{
	struct norm_case *c = p;

	ref_rmsnorm(c->out, c->x, c->w, c->R, c->C, 1e-5);
	return weighted_sum(c->out, c->weights, (size_t)c->R * c->C);
}

static void
test_rmsnorm(void)
{
	struct norm_case c = { 5, 12, NULL, NULL, NULL, NULL };
	size_t n = (size_t)c.R * c.C;
	float *x = random_floats(n, 1.0), *w = random_floats((size_t)c.C, 0.5);
	float *dout = random_floats(n, 1.0), *out = malloc(n * sizeof *out);
	float *rstd = malloc((size_t)c.R * sizeof *rstd);
	float *dx = calloc(n, sizeof *dx), *dw = calloc((size_t)c.C, 4);
	float *partial = malloc((size_t)train_thread_count() * c.C * 4);
	double *numeric = malloc(n * sizeof *numeric);
	int i;

	for (i = 0; i < c.C; i++)
		w[i] += 1.0f;
	c.x = to_double(x, n);
	c.w = to_double(w, (size_t)c.C);
	c.weights = to_double(dout, n);
	c.out = malloc(n * sizeof *c.out);
	rmsnorm_forward(out, rstd, x, w, c.R, c.C, 1e-5f, true);
	norm_loss(&c);
	compare_values("rmsnorm forward", out, c.out, n, 1e-5);
	rmsnorm_backward(dx, dw, partial, dout, x, w, rstd, c.R, c.C);
	numeric_grad(numeric, c.x, n, 1, norm_loss, &c);
	compare_grad("rmsnorm dx", dx, numeric, n, 1);
	numeric_grad(numeric, c.w, (size_t)c.C, 1, norm_loss, &c);
	compare_grad("rmsnorm dw", dw, numeric, (size_t)c.C, 1);
	free(x); free(w); free(dout); free(out); free(rstd); free(dx);
	free(dw); free(partial); free(numeric); free(c.x); free(c.w);
	free(c.weights); free(c.out);
}

/* --- linear ------------------------------------------------------------ */

struct linear_case {
	int R, I, O;
	double *x, *w, *weights, *out;
};

static double
linear_loss(void *p)
{
	struct linear_case *c = p;

	ref_linear(c->out, c->x, c->w, c->R, c->I, c->O);
	return weighted_sum(c->out, c->weights, (size_t)c->R * c->O);
}

/* A small case by finite differences; a large one (split over threads)
 * against the exact products in double. */
static void
test_linear(void)
{
	int sizes[2][3] = { { 7, 9, 5 }, { 300, 64, 70 } }, k;

	for (k = 0; k < 2; k++) {
		struct linear_case c = { sizes[k][0], sizes[k][1], sizes[k][2],
		    NULL, NULL, NULL, NULL };
		size_t nx = (size_t)c.R * c.I, nw = (size_t)c.O * c.I;
		size_t no = (size_t)c.R * c.O;
		float *x = random_floats(nx, 1.0), *w = random_floats(nw, 0.3);
		float *dout = random_floats(no, 1.0);
		float *out = malloc(no * sizeof *out);
		float *dx = malloc(nx * sizeof *dx), *dw = calloc(nw, 4);
		double *nx_grad = malloc(nx * sizeof(double));
		double *nw_grad = malloc(nw * sizeof(double));
		char what[64];
		int r, o, i;

		c.x = to_double(x, nx);
		c.w = to_double(w, nw);
		c.weights = to_double(dout, no);
		c.out = malloc(no * sizeof *c.out);
		linear_forward(out, x, w, c.R, c.I, c.O, 0.0f);
		linear_loss(&c);
		snprintf(what, sizeof what, "linear forward %dx%dx%d", c.R, c.I,
		    c.O);
		compare_values(what, out, c.out, no, 1e-4);
		linear_backward(dx, dw, dout, x, w, c.R, c.I, c.O);
		if (k == 0) {
			numeric_grad(nx_grad, c.x, nx, 1, linear_loss, &c);
			numeric_grad(nw_grad, c.w, nw, 1, linear_loss, &c);
		} else {
			for (r = 0; r < c.R; r++)
				for (i = 0; i < c.I; i++) {
					double s = 0.0;

					for (o = 0; o < c.O; o++)
						s += c.weights[r * c.O + o] *
						    c.w[o * c.I + i];
					nx_grad[r * c.I + i] = s;
				}
			for (o = 0; o < c.O; o++)
				for (i = 0; i < c.I; i++) {
					double s = 0.0;

					for (r = 0; r < c.R; r++)
						s += c.weights[r * c.O + o] *
						    c.x[r * c.I + i];
					nw_grad[o * c.I + i] = s;
				}
		}
		snprintf(what, sizeof what, "linear dx %dx%dx%d", c.R, c.I,
		    c.O);
		compare_grad(what, dx, nx_grad, nx, 1);
		snprintf(what, sizeof what, "linear dw %dx%dx%d", c.R, c.I,
		    c.O);
		compare_grad(what, dw, nw_grad, nw, 1);
		free(x); free(w); free(dout); free(out); free(dx); free(dw);
		free(nx_grad); free(nw_grad); free(c.x); free(c.w);
		free(c.weights); free(c.out);
	}
}

/* --- rope -------------------------------------------------------------- */

struct rope_case {
	int R, T, width, stride, D;
	double *x, *weights, *work;
};

static double
rope_loss(void *p)
{
	struct rope_case *c = p;
	size_t n = (size_t)c->R * c->stride;

	memcpy(c->work, c->x, n * sizeof *c->work);
	ref_rope(c->work, c->R, c->T, c->width, c->stride, c->D, 10000.0);
	return weighted_sum(c->work, c->weights, n);
}

static void
test_rope(void)
{
	/* 2 sequences of 5 positions; q and k (width 16) inside rows of 24 */
	struct rope_case c = { 10, 5, 16, 24, 8, NULL, NULL, NULL };
	size_t n = (size_t)c.R * c.stride, half = (size_t)c.D / 2, p, i;
	float *x = random_floats(n, 1.0), *dout = random_floats(n, 1.0);
	float *cos_table = malloc((size_t)c.T * half * 4);
	float *sin_table = malloc((size_t)c.T * half * 4);
	double *numeric = malloc(n * sizeof *numeric);

	for (p = 0; p < (size_t)c.T; p++)
		for (i = 0; i < half; i++) {
			double a = p * pow(10000.0, -2.0 * i / c.D);

			cos_table[p * half + i] = (float)cos(a);
			sin_table[p * half + i] = (float)sin(a);
		}
	c.x = to_double(x, n);
	c.weights = to_double(dout, n);
	c.work = malloc(n * sizeof *c.work);
	rope_loss(&c);
	rope_forward(x, c.R, c.T, 0, c.width, c.stride, c.D, cos_table,
	    sin_table, true);
	compare_values("rope forward", x, c.work, n, 1e-5);
	/* columns past width are gradient-free: the loss passes them
	 * through unchanged, so dout stays there */
	rope_backward(dout, c.R, c.T, c.width, c.stride, c.D, cos_table,
	    sin_table);
	numeric_grad(numeric, c.x, n, 1, rope_loss, &c);
	compare_grad("rope dx", dout, numeric, n, 1);
	free(x); free(dout); free(cos_table); free(sin_table); free(numeric);
	free(c.x); free(c.weights); free(c.work);
}

/* --- attention --------------------------------------------------------- */

struct attention_case {
	int M, T, C, H;
	double *qkv, *weights, *out;
};

static double
attention_loss(void *p)
{
	struct attention_case *c = p;

	ref_attention(c->out, c->qkv, c->M, c->T, c->C, c->H);
	return weighted_sum(c->out, c->weights, (size_t)c->M * c->T * c->C);
}

/* T = 70 spans two query blocks of 64, so the blocked causal products
 * and their edges are covered. */
static void
test_attention(void)
{
	struct attention_case c = { 2, 70, 8, 2, NULL, NULL, NULL };
	size_t R = (size_t)c.M * c.T, nq = R * 3 * c.C, no = R * c.C;
	float *qkv = random_floats(nq, 1.0), *dout = random_floats(no, 1.0);
	float *out = malloc(no * 4), *dqkv = malloc(nq * 4);
	float *probs = malloc((size_t)c.M * c.H * c.T * c.T * 4);
	float *dprobs = malloc((size_t)train_thread_count() * 64 * c.T * 4);
	double *numeric = malloc(nq * sizeof *numeric);

	c.qkv = to_double(qkv, nq);
	c.weights = to_double(dout, no);
	c.out = malloc(no * sizeof *c.out);
	attention_forward(out, probs, qkv, c.M, c.T, c.C, c.H);
	attention_loss(&c);
	compare_values("attention forward", out, c.out, no, 1e-5);
	attention_backward(dqkv, dprobs, dout, qkv, probs, c.M, c.T, c.C, c.H);
	/* every 3rd coordinate keeps the double reference fast */
	numeric_grad(numeric, c.qkv, nq, 3, attention_loss, &c);
	compare_grad("attention dqkv", dqkv, numeric, nq, 3);
	free(qkv); free(dout); free(out); free(dqkv); free(probs);
	free(dprobs); free(numeric); free(c.qkv); free(c.weights); free(c.out);
}

/* --- SwiGLU module with routed rows ------------------------------------ */

struct ffn_case {
	int R, C, I, n;
	const int *rows;
	double *x, *wgu, *wd, *weights, *out, *base;
};

static double
ffn_loss(void *p)
{
	struct ffn_case *c = p;
	size_t n = (size_t)c->R * c->C;

	memcpy(c->out, c->base, n * sizeof *c->out);
	ref_ffn(c->out, c->x, c->rows, c->n, c->wgu, c->wd, c->C, c->I);
	return weighted_sum(c->out, c->weights, n);
}

static void
test_ffn(int I, const char *name)
{
	/* 9 rows, 4 routed to the module; the rest must get no gradient */
	static const int rows[] = { 1, 4, 5, 8 };
	struct ffn_case c = { 9, 8, I, 4, rows, NULL, NULL, NULL, NULL, NULL,
	    NULL };
	size_t n = (size_t)c.R * c.C, ngu = (size_t)2 * I * c.C;
	size_t nd = (size_t)c.C * I;
	float *x = random_floats(n, 1.0), *wgu = random_floats(ngu, 0.4);
	float *wd = random_floats(nd, 0.4), *dout = random_floats(n, 1.0);
	float *out = random_floats(n, 1.0), *gate_up = malloc(ngu * c.R);
	float *dx = calloc(n, 4), *dwgu = calloc(ngu, 4), *dwd = calloc(nd, 4);
	double *numeric = malloc((ngu > n ? ngu : n) * sizeof *numeric);
	struct ffn_scratch s;
	char what[64];

	memset(&s, 0, sizeof s);
	s.gathered = malloc(n * 4);
	s.module_out = malloc(n * 4);
	s.hidden = malloc((size_t)c.R * I * 4);
	s.dgate_up = malloc((size_t)c.R * 2 * I * 4);
	c.x = to_double(x, n);
	c.wgu = to_double(wgu, ngu);
	c.wd = to_double(wd, nd);
	c.weights = to_double(dout, n);
	c.base = to_double(out, n);
	c.out = malloc(n * sizeof *c.out);
	ffn_forward(out, gate_up, x, rows, c.n, wgu, wd, c.C, I, &s);
	ffn_loss(&c);
	snprintf(what, sizeof what, "%s forward", name);
	compare_values(what, out, c.out, n, 1e-5);
	ffn_backward(dx, dwgu, dwd, dout, x, rows, c.n, gate_up, wgu, wd, c.C,
	    I, &s);
	numeric_grad(numeric, c.x, n, 1, ffn_loss, &c);
	snprintf(what, sizeof what, "%s dx", name);
	compare_grad(what, dx, numeric, n, 1);
	numeric_grad(numeric, c.wgu, ngu, 1, ffn_loss, &c);
	snprintf(what, sizeof what, "%s d[gate; up]", name);
	compare_grad(what, dwgu, numeric, ngu, 1);
	numeric_grad(numeric, c.wd, nd, 1, ffn_loss, &c);
	snprintf(what, sizeof what, "%s ddown", name);
	compare_grad(what, dwd, numeric, nd, 1);
	free(x); free(wgu); free(wd); free(dout); free(out); free(gate_up);
	free(dx); free(dwgu); free(dwd); free(numeric); free(s.gathered);
	free(s.module_out); free(s.hidden); free(s.dgate_up); free(c.x);
	free(c.wgu); free(c.wd); free(c.weights); free(c.base); free(c.out);
}

/* --- embedding and cross-entropy --------------------------------------- */

static void
test_embedding(void)
{
	/* tokens repeat, so rows of the gradient must sum */
	static const int32_t tokens[] = { 3, 0, 3, 5, 1, 3, 5 };
	int R = 7, V = 6, C = 5, r, i;
	float *table = random_floats((size_t)V * C, 1.0);
	float *dout = random_floats((size_t)R * C, 1.0);
	float *out = malloc((size_t)R * C * 4), *dtable = calloc((size_t)V * C,
	    4);
	double *want = calloc((size_t)V * C, sizeof *want), worst = 0.0;

	embedding_forward(out, tokens, table, R, C, true);
	for (r = 0; r < R; r++)
		for (i = 0; i < C; i++) {
			if (out[r * C + i] != table[tokens[r] * C + i])
				worst = 1.0;
			want[tokens[r] * C + i] += dout[r * C + i];
		}
	expect(worst == 0.0, "%g %g", "embedding forward copies rows", worst,
	    0.0);
	embedding_backward(dtable, dout, tokens, R, C);
	/* the loss is linear in the table: the gradient is exact */
	compare_grad("embedding dE", dtable, want, (size_t)V * C, 1);
	free(table); free(dout); free(out); free(dtable); free(want);
}

struct ce_case {
	int R, V;
	const int32_t *targets;
	double *logits, *weights, *losses;
};

static double
ce_loss(void *p)
{
	struct ce_case *c = p;

	ref_crossentropy(c->logits, c->targets, c->R, c->V, c->losses);
	return weighted_sum(c->losses, c->weights, (size_t)c->R);
}

static void
test_crossentropy(void)
{
	static const int32_t targets[] = { 2, 0, 10, 4 };
	struct ce_case c = { 4, 11, targets, NULL, NULL, NULL };
	size_t n = (size_t)c.R * c.V;
	float *logits = random_floats(n, 2.0), *losses = malloc(4 * 4);
	double *numeric = malloc(n * sizeof *numeric);
	float scale = 0.37f;
	int r;

	c.logits = to_double(logits, n);
	c.weights = malloc(4 * sizeof *c.weights);
	c.losses = malloc(4 * sizeof *c.losses);
	for (r = 0; r < c.R; r++)
		c.weights[r] = scale;
	ce_loss(&c);
	crossentropy_forward(losses, logits, targets, c.R, c.V);
	compare_values("cross-entropy forward", losses, c.losses, 4, 1e-5);
	crossentropy_backward(logits, targets, c.R, c.V, scale);
	numeric_grad(numeric, c.logits, n, 1, ce_loss, &c);
	compare_grad("cross-entropy dlogits", logits, numeric, n, 1);
	free(logits); free(losses); free(numeric); free(c.logits);
	free(c.weights); free(c.losses);
}

/* --- the whole model --------------------------------------------------- */

struct model_case {
	const struct duo_model *model;   /* for offsets and sizes */
	double *params;                  /* perturbed copy */
	const int32_t *inputs, *targets;
	const uint8_t *routes;
	int M;
};

#define OFF(mc, p) ((mc)->params + ((p) - (mc)->model->params))

/* Mean loss of the model in double, naive and independent of train.c. */
static double
model_loss(void *p)
{
	struct model_case *mc = p;
	const struct duo_config *cf = &mc->model->config;
	int L = cf->n_layer, C = cf->d_model, H = cf->n_head, T = cf->n_ctx;
	int V = cf->n_vocab, R = mc->M * T, l, r, i;
	size_t RC = (size_t)R * C;
	double *x = malloc(RC * 8), *xn = malloc(RC * 8);
	double *qkv = malloc(3 * RC * 8), *y = malloc(RC * 8);
	double *o = malloc(RC * 8), *logits = malloc((size_t)R * V * 8);
	double *losses = malloc((size_t)R * 8), total;
	int *rows = malloc((size_t)R * sizeof *rows);

	for (r = 0; r < R; r++)
		for (i = 0; i < C; i++)
			x[r * C + i] = OFF(mc, mc->model->token_embedding)[
			    mc->inputs[r] * C + i];
	for (l = 0; l < L; l++) {
		const struct duo_layer *w = &mc->model->layers[l];
		int m, n;

		ref_rmsnorm(xn, x, OFF(mc, w->attn_norm), R, C, cf->norm_eps);
		/* q, k and v are adjacent: one (3C, C) matrix */
		ref_linear(qkv, xn, OFF(mc, w->wq), R, C, 3 * C);
		ref_rope(qkv, R, T, 2 * C, 3 * C, C / H, cf->rope_base);
		ref_attention(y, qkv, mc->M, T, C, H);
		ref_linear(o, y, OFF(mc, w->wo), R, C, C);
		for (i = 0; i < (int)RC; i++)
			x[i] += o[i];
		ref_rmsnorm(xn, x, OFF(mc, w->ffn_norm), R, C, cf->norm_eps);
		for (m = 0; m < 2; m++) {
			for (n = 0, r = 0; r < R; r++)
				if (mc->routes[r * L + l] == (m == 0 ?
				    CHOICE_BIG : CHOICE_SMALL))
					rows[n++] = r;
			if (m == 0)
				ref_ffn(x, xn, rows, n, OFF(mc, w->gate),
				    OFF(mc, w->down), C, cf->d_ff);
			else
				ref_ffn(x, xn, rows, n, OFF(mc, w->gate_small),
				    OFF(mc, w->down_small), C, cf->d_ff_small);
		}
	}
	ref_rmsnorm(xn, x, OFF(mc, mc->model->output_norm), R, C,
	    cf->norm_eps);
	ref_linear(logits, xn, OFF(mc, mc->model->output), R, C, V);
	total = ref_crossentropy(logits, mc->targets, R, V, losses) / R;
	free(x); free(xn); free(qkv); free(y); free(o); free(logits);
	free(losses); free(rows);
	return total;
}

static void
test_model(void)
{
	struct duo_config cf = { 2, 8, 2, 32, 4, 11, 6,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct train_options opts;
	struct trainer tr;
	struct duo_error err;
	struct model_case mc;
	struct model_tensor_info info;
	double *numeric, want;
	float got;
	int M = 2, R = M * cf.n_ctx, r, t, n;
	size_t i;

	if (model_alloc(&model, &cf, 1, &err) != 0) {
		printf("FAIL model_alloc: %s\n", err.message);
		failures++;
		return;
	}
	/* larger weights than the initialisation, so every path matters */
	for (i = 0; i < model.n_params; i++)
		model.params[i] = (float)(0.4 * normal());
	n = model_tensor_count(&cf, 1);
	for (t = 0; t < n; t++) {
		model_tensor_info(&cf, 1, t, &info);
		if (info.n_dims == 1)
			for (i = 0; i < info.n_elements; i++)
				model.params[info.offset + i] += 1.0f;
	}
	train_options_default(&opts);
	opts.batch = M;
	if (trainer_init(&tr, &model, &opts, NULL, 0, 10, &err) != 0) {
		printf("FAIL trainer_init: %s\n", err.message);
		failures++;
		model_free(&model);
		return;
	}
	for (r = 0; r < R; r++) {
		tr.act.inputs[r] = (int32_t)(uniform() * cf.n_vocab);
		tr.act.targets[r] = (int32_t)(uniform() * cf.n_vocab);
	}
	/* every choice, skip included, at random per row and layer */
	for (r = 0; r < R * cf.n_layer; r++)
		tr.act.routes[r] = (uint8_t)(uniform() * 3);
	memset(tr.grads, 0, model.n_params * sizeof *tr.grads);
	got = train_forward(&tr, M);
	mc.model = &model;
	mc.params = to_double(model.params, model.n_params);
	mc.inputs = tr.act.inputs;
	mc.targets = tr.act.targets;
	mc.routes = tr.act.routes;
	mc.M = M;
	want = model_loss(&mc);
	expect(fabs(got - want) <= 1e-5, "train_forward %.9g, double %.9g",
	    "whole-model loss", got, want);
	train_backward(&tr, M, 1.0f / (float)R);
	numeric = malloc(model.n_params * sizeof *numeric);
	numeric_grad(numeric, mc.params, model.n_params, 1, model_loss, &mc);
	for (t = 0; t < n; t++) {
		model_tensor_info(&cf, 1, t, &info);
		compare_grad(info.name, tr.grads + info.offset,
		    numeric + info.offset, info.n_elements, 1);
	}
	free(numeric);
	free(mc.params);
	trainer_free(&tr);
	model_free(&model);
}

/*
 * The training forward against the inference path on the same tokens and
 * routes: the losses of positions 0 .. T-2 (model_window_losses does not
 * score the last position) agree within 1e-4 nats, the size of float32
 * rounding through a dozen layers and two different product orders.
 */
static void
test_matches_inference(void)
{
	struct duo_config cf = { 3, 32, 4, 128, 8, 50, 40,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct train_options opts;
	struct forward_workspace *ws;
	struct trainer tr;
	struct duo_error err;
	float *losses, worst = 0.0f;
	int T = cf.n_ctx, L = cf.n_layer, t;

	if (model_alloc(&model, &cf, 1, &err) != 0) {
		printf("FAIL model_alloc: %s\n", err.message);
		failures++;
		return;
	}
	model_init_random(&model, 7);
	/* the initialisation's tiny weights would hide routing errors */
	for (size_t i = 0; i < model.n_params; i++)
		model.params[i] *= 5.0f;
	train_options_default(&opts);
	opts.batch = 1;
	ws = forward_workspace_new(&cf, T);
	losses = malloc((size_t)T * sizeof *losses);
	if (ws == NULL || trainer_init(&tr, &model, &opts, NULL, 0, 0, &err)
	    != 0) {
		printf("FAIL setup of the inference comparison\n");
		failures++;
		return;
	}
	for (t = 0; t < T; t++) {
		tr.act.inputs[t] = (int32_t)(uniform() * cf.n_vocab);
		if (t > 0)
			tr.act.targets[t - 1] = tr.act.inputs[t];
	}
	tr.act.targets[T - 1] = 0;
	for (t = 0; t < T * L; t++)
		tr.act.routes[t] = (uint8_t)(uniform() * 3);
	train_forward(&tr, 1);
	if (model_window_losses(&model, ws, tr.act.inputs, T, tr.act.routes,
	    losses, &err) != 0) {
		printf("FAIL model_window_losses: %s\n", err.message);
		failures++;
	} else {
		for (t = 0; t < T - 1; t++)
			if (fabsf(losses[t] - tr.act.losses[t]) > worst)
				worst = fabsf(losses[t] - tr.act.losses[t]);
		expect(worst <= 1e-4f, "max difference %.3g > %.3g",
		    "training forward vs model_window_losses", worst, 1e-4);
	}
	free(losses);
	forward_workspace_free(ws);
	trainer_free(&tr);
	model_free(&model);
}

int
main(void)
{
	test_rmsnorm();
	test_linear();
	test_rope();
	test_attention();
	test_ffn(32, "SwiGLU big");
	test_ffn(2, "SwiGLU small");
	test_embedding();
	test_crossentropy();
	test_model();
	test_matches_inference();
	printf("%d checks, %d failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
