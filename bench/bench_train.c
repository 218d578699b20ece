/*
 * bench_train.c - training speed against the machine's sgemm.
 *
 * For width 128 and 192 (12 layers, context 256, vocabulary 4096, batch 16
 * unless given), runs a warm-up step and then timed steps of the trainer
 * on random tokens, and reports the median step's tokens/s and its
 * achieved GFLOP/s: 6 FLOPs per active parameter and token for the
 * products (the routed FFN at its expected p_big, the tied head included)
 * plus the causal attention, 6 C (T + 1) per token and layer forward and
 * backward.  The reference is sgemm alone on the same product shapes as
 * one step (BLAS's own threads, or the trainer's split, whichever is
 * faster); the ratio of the two says how much of the step is overhead.
 *
 * With --router, it times instead the paper kind of router training
 * (router_train.h) on the frozen model: every FFN slot runs both modules
 * over every row and mixes them, and the backward pass computes input
 * gradients only (the router's own weights are tiny).  Its FLOPs per
 * token: 2 P for the products forward and backward (P = 2 per weight of
 * L (4 C^2 + 3 C F + 3 C S + m C) + V C) plus 3 times the causal
 * attention's 2 C (T + 1) per layer; the reference is sgemm on the same
 * products, forward and input gradient.
 *
 * usage: bench_train [--router] [STEPS [BATCH [DIM[:HEADS]...]]]
 * (default 5 16 128 192, or 5 8 192 with --router; heads DIM / 32, a
 * head size of 32)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linalg.h"
#include "model.h"
#include "router.h"
#include "router_train.h"
#include "train.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct shape {
	int transpose_a, transpose_b, m, n, k;
};

/* Append a linear layer's three products: forward, input and weight
 * gradients, for R rows from in to out. */
static int
add_linear(struct shape *s, int count, int R, int in, int out)
{
	s[count++] = (struct shape){ 0, 1, R, out, in };
	s[count++] = (struct shape){ 0, 0, R, in, out };
	s[count++] = (struct shape){ 1, 0, out, in, R };
	return count;
}

/* A frozen linear layer's two products: forward and input gradient. */
static int
add_frozen_linear(struct shape *s, int count, int R, int in, int out)
{
	s[count++] = (struct shape){ 0, 1, R, out, in };
	s[count++] = (struct shape){ 0, 0, R, in, out };
	return count;
}

/* Seconds for the products of one step, each run once after a warm-up. */
static double
time_products(const struct shape *s, int count, float *a, float *b, float *c,
    int split_threads)
{
	double t0 = 0.0;
	int rep, i, p;

	for (rep = 0; rep < 2; rep++) {
		if (rep == 1)
			t0 = now();
		for (i = 0; i < count; i++) {
			int lda = s[i].transpose_a ? s[i].m : s[i].k;
			int ldb = s[i].transpose_b ? s[i].k : s[i].n;

			if (split_threads <= 1) {
				gemm(s[i].transpose_a, s[i].transpose_b, s[i].m,
				    s[i].n, s[i].k, 1.0f, a, lda, b, ldb, 0.0f,
				    c, s[i].n);
				continue;
			}
			/* the trainer's way: rows (or columns) of the
			 * result split over threads, one BLAS thread each */
#pragma omp parallel for schedule(static)
			for (p = 0; p < split_threads; p++) {
				int big_m = s[i].m >= s[i].n;
				int extent = big_m ? s[i].m : s[i].n;
				int lo = extent * p / split_threads;
				int hi = extent * (p + 1) / split_threads;

				if (big_m)
					gemm(s[i].transpose_a, s[i].transpose_b,
					    hi - lo, s[i].n, s[i].k, 1.0f,
					    s[i].transpose_a ? a + lo : a +
					    (size_t)lo * lda, lda, b, ldb, 0.0f,
					    c + (size_t)lo * s[i].n, s[i].n);
				else
					gemm(s[i].transpose_a, s[i].transpose_b,
					    s[i].m, hi - lo, s[i].k, 1.0f, a, lda,
					    s[i].transpose_b ? b + (size_t)lo *
					    ldb : b + lo, ldb, 0.0f, c + lo,
					    s[i].n);
			}
		}
	}
	return now() - t0;
}

/* sgemm alone on one step's products: the first per_layer of them once
 * per layer, the rest (the head) once. */
struct reference {
	double flops;
	double t_blas;          /* BLAS's own threads */
	double t_split;         /* rows split over threads, one BLAS each */
	double t_gemm;          /* the faster */
};

static int
time_reference(const struct shape *s, int count, int per_layer, int L,
    int threads, struct reference *ref)
{
	size_t biggest = 0;
	float *a, *b, *c;
	int i;

	ref->flops = 0.0;
	for (i = 0; i < count; i++) {
		size_t m = (size_t)s[i].m, n = (size_t)s[i].n;
		size_t k = (size_t)s[i].k;

		ref->flops += 2.0 * s[i].m * s[i].n * s[i].k *
		    (i < per_layer ? L : 1);
		biggest = m * k > biggest ? m * k : biggest;
		biggest = k * n > biggest ? k * n : biggest;
		biggest = m * n > biggest ? m * n : biggest;
	}
	a = calloc(biggest, sizeof *a);
	b = calloc(biggest, sizeof *b);
	c = calloc(biggest, sizeof *c);
	if (a == NULL || b == NULL || c == NULL) {
		free(a);
		free(b);
		free(c);
		fprintf(stderr, "bench_train: out of memory\n");
		return -1;
	}
	/* layers repeat the same products: time one layer and the head */
	linalg_set_threads(threads);
	ref->t_blas = time_products(s, per_layer, a, b, c, 1) * L +
	    time_products(s + per_layer, count - per_layer, a, b, c, 1);
	linalg_set_threads(1);
	ref->t_split = time_products(s, per_layer, a, b, c, threads) * L +
	    time_products(s + per_layer, count - per_layer, a, b, c, threads);
	ref->t_gemm = ref->t_blas < ref->t_split ? ref->t_blas : ref->t_split;
	free(a);
	free(b);
	free(c);
	return 0;
}

static int
bench(int dim, int heads, int batch, int steps)
{
	struct duo_config cf = { 12, 0, 0, 0, 0, 4096, 256,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct train_options o;
	struct trainer tr;
	struct duo_error err;
	struct shape shapes[64];
	struct reference ref;
	double *times, median, flops_token, active, attention, tokens, gflops;
	size_t n_corpus = 1 << 20, i;
	int32_t *corpus;
	int s, count = 0, L, C, F, S, V, T, R, threads;

	cf.d_model = dim;
	cf.n_head = heads > 0 ? heads : dim / 32;
	cf.d_ff = 4 * dim;
	cf.d_ff_small = cf.d_ff / 16;
	if (model_alloc(&model, &cf, 1, &err) != 0) {
		fprintf(stderr, "bench_train: %s\n", err.message);
		return -1;
	}
	model_init_random(&model, 1);
	corpus = malloc(n_corpus * sizeof *corpus);
	times = malloc((size_t)steps * sizeof *times);
	for (i = 0; i < n_corpus; i++)
		corpus[i] = (int32_t)((i * 2654435761u) % 4095);
	train_options_default(&o);
	o.batch = batch;
	o.steps = steps + 1;
	if (trainer_init(&tr, &model, &o, corpus, n_corpus, 4095, &err) != 0) {
		fprintf(stderr, "bench_train: %s\n", err.message);
		return -1;
	}
	threads = tr.threads;
	for (s = 0; s <= steps; s++) {
		double t0 = now();

		if (train_step(&tr, NULL, &err) != 0) {
			fprintf(stderr, "bench_train: %s\n", err.message);
			return -1;
		}
		if (s > 0)
			times[s - 1] = now() - t0;
	}
	qsort(times, (size_t)steps, sizeof *times, compare_double);
	median = times[steps / 2];

	L = cf.n_layer;
	C = cf.d_model;
	F = cf.d_ff;
	S = cf.d_ff_small;
	V = cf.n_vocab;
	T = cf.n_ctx;
	active = (double)L * (4.0 * C * C + o.p_big * 3.0 * C * F +
	    (1.0 - o.p_big) * 3.0 * C * S) + (double)V * C;
	attention = (double)L * 6.0 * C * (T + 1);
	flops_token = 6.0 * active + attention;
	tokens = (double)batch * T;
	gflops = flops_token * tokens / median / 1e9;

	/* One step's products at the expected routing split, per pass of
	 * the trainer's micro-batch. */
	R = tr.micro_batch * T;
	count = add_linear(shapes, count, R, C, 3 * C);
	count = add_linear(shapes, count, R, C, C);
	count = add_linear(shapes, count, R / 2, C, 2 * F);
	count = add_linear(shapes, count, R / 2, F, C);
	count = add_linear(shapes, count, R / 2, C, 2 * S);
	count = add_linear(shapes, count, R / 2, S, C);
	count = add_linear(shapes, count, R, C, V);
	if (time_reference(shapes, count, 18, L, threads, &ref) != 0)
		return -1;
	/* per pass of the micro-batch: scale to the whole step */
	ref.flops *= (double)batch / tr.micro_batch;
	ref.t_gemm *= (double)batch / tr.micro_batch;
	ref.t_blas *= (double)batch / tr.micro_batch;
	ref.t_split *= (double)batch / tr.micro_batch;

	printf("dim %4d  heads %d  batch %d  %zu params  %zu MB  step %.3f s "
	    "(min %.3f)  %.0f tokens/s  %.1f GFLOP/s  sgemm %.1f GFLOP/s "
	    "(BLAS threads %.1f, split %.1f)  ratio %.0f%%\n", dim, cf.n_head,
	    batch, model.n_params, tr.bytes >> 20, median, times[0],
	    tokens / median, gflops, ref.flops / ref.t_gemm / 1e9,
	    ref.flops / ref.t_blas / 1e9, ref.flops / ref.t_split / 1e9,
	    100.0 * gflops / (ref.flops / ref.t_gemm / 1e9));
	fflush(stdout);
	free(corpus);
	free(times);
	trainer_free(&tr);
	model_free(&model);
	return 0;
}

/* The time of each training step, as the router trainer reports it. */
struct step_clock {
	double *at;
	int n, capacity;
};

static void
clock_step(void *arg, const char *phase, double fraction, double loss)
{
	struct step_clock *k = arg;

	(void)phase;
	(void)fraction;
	(void)loss;
	if (k->n < k->capacity)
		k->at[k->n++] = now();
}

/*
 * The paper kind of router training at budget 4 on a random model of the
 * default shape: 1 + steps steps, the median of the last steps' times.
 */
static int
bench_router(int dim, int heads, int batch, int steps)
{
	struct duo_config cf = { 12, 0, 0, 0, 0, 4096, 256,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct duo_router router;
	struct router_train_options o;
	struct route_space space;
	struct duo_error err;
	struct shape shapes[32];
	struct step_clock clock;
	struct reference ref;
	double step, products, attention, tokens, gflops, *times;
	size_t n_corpus = 1 << 20, i;
	int32_t *corpus;
	int s, count = 0, L, C, F, S, V, T, R, m;

	cf.d_model = dim;
	cf.n_head = heads > 0 ? heads : dim / 32;
	cf.d_ff = 4 * dim;
	cf.d_ff_small = cf.d_ff / 16;
	if (model_alloc(&model, &cf, 1, &err) != 0 ||
	    route_space_parse(&space, "BS", &err) != 0) {
		fprintf(stderr, "bench_train: %s\n", err.message);
		return -1;
	}
	model_init_random(&model, 1);
	corpus = malloc(n_corpus * sizeof *corpus);
	for (i = 0; i < n_corpus; i++)
		corpus[i] = (int32_t)((i * 2654435761u) % 4095);
	router_train_defaults(&o, ROUTER_PAPER);
	o.batch = batch;
	o.steps = 1 + steps;
	clock.capacity = o.steps;
	clock.n = 0;
	clock.at = malloc((size_t)o.steps * sizeof *clock.at);
	times = malloc((size_t)steps * sizeof *times);
	if (router_alloc(&router, "bench", ROUTER_PAPER, &space, 4, &cf,
	    &err) != 0 || router_train(&model, &router, corpus, n_corpus, 4095,
	    &o, clock_step, &clock, &err) != 0)
		goto fail;
	router_free(&router);
	/* the first step (with the set-up before it) is the warm-up */
	for (s = 1; s < clock.n; s++)
		times[s - 1] = clock.at[s] - clock.at[s - 1];
	qsort(times, (size_t)(clock.n - 1), sizeof *times, compare_double);
	step = times[(clock.n - 1) / 2];
	free(clock.at);
	free(times);

	L = cf.n_layer;
	C = cf.d_model;
	F = cf.d_ff;
	S = cf.d_ff_small;
	V = cf.n_vocab;
	T = cf.n_ctx;
	m = space.n_choices;
	products = 2.0 * ((double)L * (4.0 * C * C + 3.0 * C * F +
	    3.0 * C * S + (double)m * C) + (double)V * C);
	attention = (double)L * 2.0 * C * (T + 1);
	tokens = (double)batch * T;
	gflops = (2.0 * products + 3.0 * attention) * tokens / step / 1e9;

	R = batch * T;
	count = add_frozen_linear(shapes, count, R, C, 3 * C);
	count = add_frozen_linear(shapes, count, R, C, C);
	count = add_frozen_linear(shapes, count, R, C, 2 * F);
	count = add_frozen_linear(shapes, count, R, F, C);
	count = add_frozen_linear(shapes, count, R, C, 2 * S);
	count = add_frozen_linear(shapes, count, R, S, C);
	count = add_frozen_linear(shapes, count, R, C, V);
	if (time_reference(shapes, count, 12, L, train_thread_count(),
	    &ref) != 0)
		return -1;
	printf("router (paper kind) dim %4d  heads %d  batch %d  step %.3f s  "
	    "%.0f tokens/s  %.1f GFLOP/s  sgemm %.1f GFLOP/s (BLAS threads "
	    "%.1f, split %.1f)  ratio %.0f%%\n", dim, cf.n_head, batch, step,
	    tokens / step, gflops, ref.flops / ref.t_gemm / 1e9,
	    ref.flops / ref.t_blas / 1e9, ref.flops / ref.t_split / 1e9,
	    100.0 * gflops / (ref.flops / ref.t_gemm / 1e9));
	fflush(stdout);
	free(corpus);
	model_free(&model);
	return 0;
fail:
	fprintf(stderr, "bench_train: %s\n", err.message);
	return -1;
}

int
main(int argc, char **argv)
{
	int router = argc > 1 && strcmp(argv[1], "--router") == 0;
	int steps, batch, i;
	static const int dims[] = { 128, 192 };

	if (router) {
		argc--;
		argv++;
	}
	steps = argc > 1 ? atoi(argv[1]) : 5;
	batch = argc > 2 ? atoi(argv[2]) : router ? 8 : 16;
	if (router) {
		if (steps < 1 || batch < 1)
			return 2;
		for (i = 3; i < argc; i++)
			if (bench_router(atoi(argv[i]), 0, batch, steps) != 0)
				return 1;
		return argc > 3 ? 0 : bench_router(192, 0, batch, steps) != 0;
	}

	if (steps < 1 || batch < 1) {
		fprintf(stderr, "usage: bench_train [STEPS [BATCH "
		    "[DIM[:HEADS]...]]]\n");
		return 2;
	}
	if (argc > 3) {
		for (i = 3; i < argc; i++) {
			const char *colon = strchr(argv[i], ':');

			if (bench(atoi(argv[i]), colon != NULL ? atoi(colon + 1)
			    : 0, batch, steps) != 0)
				return 1;
		}
		return 0;
	}
	for (i = 0; i < 2; i++)
		if (bench(dims[i], 0, batch, steps) != 0)
			return 1;
	return 0;
}
