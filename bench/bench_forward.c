/*
 * bench_forward.c - speed of the forward pass against the machine's sgemm.
 *
 * Model: L=12, C=128, H=4 (head size D=32), F=512, S=32, V=4096, N=256,
 * tied output, random weights.  Text: 4096 random tokens scored as 16
 * windows of 256 with model_window_losses() (255 positions run per
 * window; the last token is only a target), once with the all-B route and
 * once with random routes (each token and layer B or S with p = 0.5).
 * Each figure is the median of 5 runs.
 *
 * FLOPs per pass count what the pass must do: 2 per multiply-add of the
 * projections, the FFN modules each row uses, causal attention (scores and
 * values over the keys a row may see) and the LM head
 * (model_flops_attention/ffn/head).  Beside the forward's GFLOP/s the
 * bench times the same sequence of sgemm calls that one pass makes (same
 * shapes, no elementwise work) and reports its GFLOP/s and the ratio.
 *
 * Threads: OpenBLAS honours OPENBLAS_NUM_THREADS, unset it uses every
 * core; model.c's elementwise loops use the OpenMP team (OMP_NUM_THREADS)
 * only under OMP_WAIT_POLICY=passive, and one thread otherwise.
 *
 *   bench_forward [runs]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "error.h"
#include "linalg.h"
#include "model.h"

#define N_TOKENS 4096
#define N_WINDOWS 16
#define WINDOW 256
#define MAX_RUNS 31

/* OpenBLAS's own, declared in its cblas.h. */
int openblas_get_num_threads(void);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, compare_doubles);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* FLOPs a window's pass must do: T positions, position t seeing t + 1
 * keys, each layer's module as its route says, and the head. */
static double
pass_flops(const struct duo_config *c, const uint8_t *routes, int T)
{
	double flops = 0.0;
	int t, l;

	for (t = 0; t < T; t++) {
		for (l = 0; l < c->n_layer; l++)
			flops += model_flops_attention(c, t + 1) +
			    model_flops_ffn(c, (enum route_choice)
			    routes[(size_t)t * c->n_layer + l]);
		flops += model_flops_head(c);
	}
	return flops;
}

struct sgemm_buffers {
	float *a, *b, *c;
};

/* One gemm of the pass's shapes on scratch buffers; returns its FLOPs. */
static double
shape(struct sgemm_buffers *m, bool transpose_b, int rows, int cols,
    int inner, int lda, int ldb, int ldc)
{
	gemm(false, transpose_b, rows, cols, inner, 1.0f, m->a, lda, m->b, ldb,
	    0.0f, m->c, ldc);
	return 2.0 * rows * cols * inner;
}

/*
 * The sgemm calls of one window's pass, in model.c's order and shapes
 * (T rows, n_big and n_small of them routed to each module at every
 * layer); returns the FLOPs they perform.
 */
static double
pass_gemms(struct sgemm_buffers *m, const struct duo_config *c, int T,
    const int *n_big, const int *n_small)
{
	int C = c->d_model, H = c->n_head, D = C / H, F = c->d_ff;
	int S = c->d_ff_small, l, h, t0, rows, keys, block = 64;
	double flops = 0.0;

	for (l = 0; l < c->n_layer; l++) {
		flops += shape(m, true, T, 3 * C, C, C, C, 3 * C);
		for (h = 0; h < H; h++)
			for (t0 = 0; t0 < T; t0 += block) {
				rows = T - t0 < block ? T - t0 : block;
				keys = t0 + rows;
				flops += shape(m, true, rows, keys, D, 3 * C, C,
				    keys);
				flops += shape(m, false, rows, D, keys, keys,
				    C, C);
			}
		flops += shape(m, true, T, C, C, C, C, C);
		if (n_big[l] > 0) {
			flops += shape(m, true, n_big[l], 2 * F, C, C, C,
			    2 * F);
			flops += shape(m, true, n_big[l], C, F, 2 * F, F, C);
		}
		if (n_small[l] > 0) {
			flops += shape(m, true, n_small[l], 2 * S, C, C, C,
			    2 * S);
			flops += shape(m, true, n_small[l], C, S, 2 * S, S, C);
		}
	}
	flops += shape(m, true, T, c->n_vocab, C, C, C, c->n_vocab);
	return flops;
}

/* GFLOP/s of single shapes, for the table. */
static void
print_shape(struct sgemm_buffers *m, const char *name, int rows, int cols,
    int inner, int repeats)
{
	double t0, flops = 0.0, seconds[MAX_RUNS];
	int run, i;

	for (run = 0; run < 5; run++) {
		t0 = now();
		for (i = 0; i < repeats; i++)
			flops = shape(m, true, rows, cols, inner, inner, inner,
			    cols);
		seconds[run] = (now() - t0) / repeats;
	}
	printf("  sgemm %-22s (%4d,%4d)x(%4d,%4d)^T  %7.2f GFLOP/s\n", name,
	    rows, inner, cols, inner, flops / median(seconds, 5) / 1e9);
}

/*
 * Time the 16 windows with the forward pass and with its sgemm calls
 * alone, alternating, so that both see the same load on a shared machine.
 */
static void
run_bench(const char *label, const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *text, const uint8_t *routes,
    struct sgemm_buffers *m, int runs)
{
	const struct duo_config *c = &model->config;
	int L = c->n_layer, T = WINDOW - 1, w, l, t, run;
	int n_big[N_WINDOWS][64], n_small[N_WINDOWS][64];
	double forward[MAX_RUNS], sgemm[MAX_RUNS], ratio[MAX_RUNS], t0;
	double flops = 0.0, sgemm_flops = 0.0, f, s;
	float losses[WINDOW];
	struct duo_error err;

	for (w = 0; w < N_WINDOWS; w++) {
		flops += pass_flops(c, routes + (size_t)w * WINDOW * L, T);
		for (l = 0; l < L; l++) {
			n_big[w][l] = n_small[w][l] = 0;
			for (t = 0; t < T; t++) {
				uint8_t choice = routes[((size_t)w * WINDOW +
				    t) * L + l];

				n_big[w][l] += choice == CHOICE_BIG;
				n_small[w][l] += choice == CHOICE_SMALL;
			}
		}
	}
	for (run = 0; run < runs; run++) {
		t0 = now();
		for (w = 0; w < N_WINDOWS; w++)
			if (model_window_losses(model, ws, text +
			    (size_t)w * WINDOW, WINDOW, routes +
			    (size_t)w * WINDOW * L, losses, &err) != 0) {
				fprintf(stderr, "bench_forward: %s\n",
				    err.message);
				exit(1);
			}
		forward[run] = now() - t0;
		sgemm_flops = 0.0;
		t0 = now();
		for (w = 0; w < N_WINDOWS; w++)
			sgemm_flops += pass_gemms(m, c, T, n_big[w],
			    n_small[w]);
		sgemm[run] = now() - t0;
		ratio[run] = (flops / forward[run]) / (sgemm_flops /
		    sgemm[run]);
	}
	f = median(forward, runs);
	s = median(sgemm, runs);
	printf("%-13s %6.0f tokens/s  %5.3f GFLOP/window  forward %6.3f s "
	    "%5.1f GFLOP/s | its sgemm calls alone %6.3f s %5.1f GFLOP/s | "
	    "ratio %.2f\n", label, N_TOKENS / f, flops / N_WINDOWS / 1e9, f,
	    flops / f / 1e9, s, sgemm_flops / s / 1e9, median(ratio, runs));
}

int
main(int argc, char **argv)
{
	static const struct duo_config config = { 12, 128, 4, 512, 32, 4096,
	    256, 10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct forward_workspace *ws;
	struct duo_error err;
	struct sgemm_buffers m;
	int32_t *text;
	uint8_t *routes;
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	size_t i, n_routes = (size_t)N_TOKENS * config.n_layer;
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int omp_threads = 1;

	if (runs < 1 || runs > MAX_RUNS)
		runs = 5;
#ifdef _OPENMP
	omp_threads = omp_get_max_threads();
#endif
	if (model_alloc(&model, &config, 1, &err) != 0) {
		fprintf(stderr, "bench_forward: %s\n", err.message);
		return 1;
	}
	model_init_random(&model, 1);
	ws = forward_workspace_new(&config, config.n_ctx);
	text = malloc(N_TOKENS * sizeof *text);
	routes = malloc(n_routes);
	m.a = calloc((size_t)WINDOW * 2 * config.d_ff, sizeof(float));
	m.b = calloc((size_t)config.n_vocab * config.d_model, sizeof(float));
	m.c = calloc((size_t)WINDOW * config.n_vocab, sizeof(float));
	if (ws == NULL || text == NULL || routes == NULL || m.a == NULL ||
	    m.b == NULL || m.c == NULL) {
		fprintf(stderr, "bench_forward: out of memory\n");
		return 1;
	}
	for (i = 0; i < N_TOKENS; i++)
		text[i] = (int32_t)(next_random(&state) % config.n_vocab);
	for (i = 0; i < (size_t)config.n_vocab * config.d_model; i++)
		m.b[i] = 0.01f * (float)(i % 97);

	printf("model L=%d C=%d H=%d (D=%d) F=%d S=%d V=%d N=%d; %d tokens in "
	    "%d windows of %d; median of %d runs\n", config.n_layer,
	    config.d_model, config.n_head, config.d_model / config.n_head,
	    config.d_ff, config.d_ff_small, config.n_vocab, config.n_ctx,
	    N_TOKENS, N_WINDOWS, WINDOW, runs);
	printf("threads: OpenBLAS %d, OpenMP %d\n",
	    openblas_get_num_threads(), omp_threads);

	print_shape(&m, "q+k+v", WINDOW, 384, 128, 20);
	print_shape(&m, "o", WINDOW, 128, 128, 20);
	print_shape(&m, "gate+up (big)", WINDOW, 1024, 128, 10);
	print_shape(&m, "down (big)", WINDOW, 128, 512, 10);
	print_shape(&m, "gate+up (small)", WINDOW / 2, 64, 128, 20);
	print_shape(&m, "LM head", WINDOW, 4096, 128, 5);
	print_shape(&m, "scores (1 head)", 64, 256, 32, 20);

	memset(routes, CHOICE_BIG, n_routes);
	run_bench("all-B", &model, ws, text, routes, &m, runs);
	for (i = 0; i < n_routes; i++)
		routes[i] = next_random(&state) & 1 ? CHOICE_BIG :
		    CHOICE_SMALL;
	run_bench("random p=0.5", &model, ws, text, routes, &m, runs);

	forward_workspace_free(ws);
	model_free(&model);
	free(text);
	free(routes);
	free(m.a);
	free(m.b);
	free(m.c);
	return 0;
}
