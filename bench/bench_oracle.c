/*
 * bench_oracle.c - speed of the exhaustive search against the machine's
 * sgemm and against the naive search (one full forward per route).
 *
 * Model: the default shape, L=12, C=128, H=4, F=512, S=32, V=4096, N=256,
 * tied output, random weights.  Text: 256 random tokens (two windows, of
 * 255 and 1 tokens), shared context over the space BS (4096 routes), every
 * budget: oracle_run() as "duo run" calls it, on every core.
 *
 * FLOPs counted are those the search must do: per node of the prefix
 * tree, its layer's attention (projections, and scores and values over
 * the keys each row may see); per child, its FFN module; per leaf, the LM
 * head; 2 per multiply-add (model_flops_*).  The machine's sgemm rate is
 * measured the way the search uses it: every core running single-threaded
 * products at once, on the head's shape (64 x 128 x 4096) and the big
 * FFN's (256 x 128 x 1024), three times (before the search, after it and
 * after the naive search, since other work on the machine comes and
 * goes), of which the best is compared; and, for reference, one large
 * product with OpenBLAS's own threads.
 *
 * The naive search runs model_window_losses() once per route over the
 * whole text, routes split over the cores (BLAS single-threaded in each),
 * on a sample of routes evenly spread over the space; its time is scaled
 * to all 4096 routes.
 *
 * Also: a beam search (width 16) over BS. (531441 routes) on the first 64
 * tokens, for its time against the exhaustive one's scaled by the number
 * of routes and tokens.
 *
 * With --greedy: the greedy context against the shared one on a real
 * model and text (the shipped model and examples/notes.txt, say), every
 * budget over BS as "duo run --context greedy" runs it: the first TOKENS
 * tokens of the text in each mode, RUNS times (alternating the modes, so
 * that other work on the machine falls on all of them alike), medians of
 * the wall times reported per token, with the FLOPs the search counted,
 * its GFLOP/s, and the machine's sgemm rate measured in the same run on
 * the shapes of the walk's products (the head's 256 x C x 1024 and the big
 * FFN's 256 x C x 2F, every core single-threaded, before and after the
 * runs).  Greedy runs twice: its contexts walked together, one tree per
 * position (the default), and apart, one pass per method and budget (the
 * walk before, oracle_settings.greedy_apart).
 *
 *   bench_oracle [naive-sample]     (default 256 routes)
 *   bench_oracle --greedy MODEL TEXT [TOKENS [RUNS]]   (default 24, 3)
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
#include "host.h"
#include "linalg.h"
#include "model.h"
#include "oracle.h"
#include "route.h"
#include "text.h"
#include "tokenizer.h"

#define N_TOKENS 256
#define BEAM_TOKENS 64

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
thread_count(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

static void
fill(float *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
}

/* GFLOP/s of (m, k) x (k, n)^T products run on every core at once, each
 * single-threaded, for about a second. */
static double
sgemm_rate(int m, int n, int k)
{
	int threads = thread_count(), t;
	double flops = 2.0 * m * n * k, start, seconds, total = 0.0;
	int repeats = (int)(2e10 / flops / threads) + 1;

	linalg_set_threads(1);
	start = now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) reduction(+:total)
#endif
	for (t = 0; t < threads; t++) {
		float *a = malloc(sizeof(float) * (size_t)m * k);
		float *b = malloc(sizeof(float) * (size_t)n * k);
		float *c = malloc(sizeof(float) * (size_t)m * n);
		int r;

		if (a == NULL || b == NULL || c == NULL)
			abort();
		fill(a, (size_t)m * k);
		fill(b, (size_t)n * k);
		for (r = 0; r < repeats; r++)
			gemm(false, true, m, n, k, 1.0f, a, k, b, k, 0.0f, c,
			    n);
		total += flops * repeats;
		free(a);
		free(b);
		free(c);
	}
	seconds = now() - start;
	linalg_set_threads(threads);
	return total / seconds / 1e9;
}

/* GFLOP/s of one large product with BLAS's own threads. */
static double
sgemm_rate_threaded(int size)
{
	float *a = malloc(sizeof(float) * (size_t)size * size);
	float *b = malloc(sizeof(float) * (size_t)size * size);
	float *c = malloc(sizeof(float) * (size_t)size * size);
	double start, best = 0.0, rate;
	int r;

	if (a == NULL || b == NULL || c == NULL)
		abort();
	fill(a, (size_t)size * size);
	fill(b, (size_t)size * size);
	for (r = 0; r < 4; r++) {
		start = now();
		gemm(false, true, size, size, size, 1.0f, a, size, b, size,
		    0.0f, c, size);
		rate = 2.0 * size * size * (double)size / (now() - start) / 1e9;
		best = rate > best ? rate : best;
	}
	free(a);
	free(b);
	free(c);
	return best;
}

/* The naive search on sample routes: seconds, scaled to every route. */
static double
naive_seconds(const struct duo_model *model, const int32_t *text,
    int32_t bos, int sample, double *flops)
{
	const struct duo_config *c = &model->config;
	struct route_space space;
	int threads = thread_count(), L = c->n_layer, N = c->n_ctx;
	uint64_t n_routes;
	double start, seconds, total_flops = 0.0;
	long i;

	route_space_parse(&space, "BS", NULL);
	n_routes = route_space_size(&space, L);
	linalg_set_threads(1);
	start = now();
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) \
    reduction(+:total_flops)
#endif
	for (i = 0; i < sample; i++) {
		struct forward_workspace *ws = forward_workspace_new(c, N);
		struct duo_error err;
		uint8_t *routes = malloc((size_t)N * (size_t)L), route[64];
		int32_t *window = malloc((size_t)N * sizeof *window);
		float *losses = malloc((size_t)N * sizeof *losses);
		size_t first = 0, count;
		int t, l, T;

		if (ws == NULL || routes == NULL || window == NULL ||
		    losses == NULL)
			abort();
		route_decode(&space, (uint64_t)i * n_routes /
		    (uint64_t)sample, L, route);
		for (t = 0; t < N; t++)
			memcpy(routes + (size_t)t * L, route, (size_t)L);
		while (first < N_TOKENS) {
			count = N_TOKENS - first < (size_t)N - 1 ?
			    N_TOKENS - first : (size_t)N - 1;
			window[0] = bos;
			memcpy(window + 1, text + first,
			    count * sizeof *window);
			T = (int)count + 1;
			if (model_window_losses(model, ws, window, T, routes,
			    losses, &err) != 0)
				abort();
			for (t = 0; t < T - 1; t++) {
				for (l = 0; l < L; l++)
					total_flops += model_flops_attention(c,
					    t + 1) + model_flops_ffn(c,
					    (enum route_choice)route[l]);
				total_flops += model_flops_head(c);
			}
			first += count;
		}
		forward_workspace_free(ws);
		free(routes);
		free(window);
		free(losses);
	}
	seconds = now() - start;
	linalg_set_threads(threads);
	*flops = total_flops * (double)n_routes / sample;
	return seconds * (double)n_routes / sample;
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
	return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { MODE_SHARED, MODE_TOGETHER, MODE_APART, N_MODES };

static const char *const mode_names[N_MODES] = {
	"shared", "greedy, contexts walked together",
	"greedy, contexts walked apart (before)",
};

/* The greedy context against the shared one on a real model and text. */
static int
bench_greedy(const char *model_path, const char *text_path, size_t n_tokens,
    int runs)
{
	struct duo_model model;
	struct text_tokens tokens;
	struct oracle_settings settings;
	struct oracle_result result;
	struct duo_error err;
	const struct duo_config *c;
	char *text;
	size_t length;
	double *seconds[N_MODES], flops[N_MODES], rate[N_MODES], head[2];
	double ffn[2], sgemm_best, per_token[N_MODES];
	int mode, r;

	if (model_load(&model, model_path, &err) != 0 ||
	    read_input(text_path, &text, &length, &err) != 0 ||
	    text_tokenize(&tokens, model.tokenizer, text, length, text_path,
	    &err) != 0) {
		fprintf(stderr, "bench_oracle: %s\n", err.message);
		return 1;
	}
	c = &model.config;
	if (n_tokens > tokens.n)
		n_tokens = tokens.n;
	printf("model %s: L=%d C=%d H=%d F=%d S=%d V=%d N=%d; %zu tokens of "
	    "%s, space BS, every budget; %d threads; %d runs a mode\n",
	    model_path, c->n_layer, c->d_model, c->n_head, c->d_ff,
	    c->d_ff_small, c->n_vocab, c->n_ctx, n_tokens, text_path,
	    thread_count(), runs);
	head[0] = sgemm_rate(256, 1024, c->d_model);
	ffn[0] = sgemm_rate(256, 2 * c->d_ff, c->d_model);
	for (mode = 0; mode < N_MODES; mode++) {
		seconds[mode] = calloc((size_t)runs, sizeof(double));
		if (seconds[mode] == NULL)
			return 1;
	}
	for (r = 0; r < runs; r++)
		for (mode = 0; mode < N_MODES; mode++) {
			oracle_settings_default(&settings);
			settings.context = mode == MODE_SHARED ? ORACLE_SHARED :
			    ORACLE_GREEDY;
			settings.greedy_apart = mode == MODE_APART;
			if (oracle_run(&model, tokens.ids, n_tokens,
			    tokenizer_bos(model.tokenizer), &settings,
			    &result, &err) != 0) {
				fprintf(stderr, "bench_oracle: %s\n",
				    err.message);
				return 1;
			}
			seconds[mode][r] = result.seconds;
			flops[mode] = result.flops;
			oracle_result_free(&result);
		}
	head[1] = sgemm_rate(256, 1024, c->d_model);
	ffn[1] = sgemm_rate(256, 2 * c->d_ff, c->d_model);
	sgemm_best = head[0] > head[1] ? head[0] : head[1];
	sgemm_best = ffn[0] > sgemm_best ? ffn[0] : sgemm_best;
	sgemm_best = ffn[1] > sgemm_best ? ffn[1] : sgemm_best;
	printf("sgemm, every core single-threaded: head shape (256x%d)x"
	    "(%dx1024) %.1f, %.1f GFLOP/s; big FFN shape (256x%d)x(%dx%d) "
	    "%.1f, %.1f GFLOP/s (before, after the runs)\n", c->d_model,
	    c->d_model, head[0], head[1], c->d_model, c->d_model, 2 * c->d_ff,
	    ffn[0], ffn[1]);
	for (mode = 0; mode < N_MODES; mode++) {
		per_token[mode] = median(seconds[mode], runs) /
		    (double)n_tokens;
		rate[mode] = flops[mode] / (per_token[mode] *
		    (double)n_tokens) / 1e9;
		printf("%-40s %.3f s a token (median), %.1f GFLOP a token, "
		    "%.1f GFLOP/s, %.0f%% of the best sgemm rate\n",
		    mode_names[mode], per_token[mode], flops[mode] /
		    (double)n_tokens / 1e9, rate[mode], 100.0 * rate[mode] /
		    sgemm_best);
		free(seconds[mode]);
	}
	printf("greedy against shared, a token: %.2f times (together), %.2f "
	    "times (apart); FLOPs %.2f times\n", per_token[MODE_TOGETHER] /
	    per_token[MODE_SHARED], per_token[MODE_APART] /
	    per_token[MODE_SHARED], flops[MODE_TOGETHER] / flops[MODE_SHARED]);
	text_tokens_free(&tokens);
	free(text);
	model_free(&model);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct duo_config config = { 12, 128, 4, 512, 32, 4096,
	    256, 10000.0f, 1e-5f, 0, { 0 } };
	struct duo_model model;
	struct oracle_settings settings;
	struct oracle_result result;
	struct duo_error err;
	int32_t text[N_TOKENS], bos = config.n_vocab - 1;
	uint64_t state = 12345;
	double head_rate[3], ffn_rate, big_rate, naive, naive_flops, rate;
	double exhaustive_per_route, search_seconds, best_head;
	int sample = argc > 1 ? atoi(argv[1]) : 256, i;

	if (argc > 1 && strcmp(argv[1], "--greedy") == 0) {
		if (argc < 4) {
			fprintf(stderr, "usage: bench_oracle --greedy MODEL "
			    "TEXT [TOKENS [RUNS]]\n");
			return 2;
		}
		return bench_greedy(argv[2], argv[3], argc > 4 ?
		    (size_t)atol(argv[4]) : 24, argc > 5 && atoi(argv[5]) > 0 ?
		    atoi(argv[5]) : 3);
	}
	if (sample < 1)
		sample = 1;
	if (model_alloc(&model, &config, 1, &err) != 0) {
		fprintf(stderr, "bench_oracle: %s\n", err.message);
		return 1;
	}
	model_init_random(&model, 1);
	for (i = 0; i < N_TOKENS; i++) {
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		text[i] = (int32_t)((state >> 33) % (uint64_t)(config.n_vocab -
		    1));
	}
	printf("model L=12 C=128 H=4 F=512 S=32 V=4096 N=256; %d tokens, "
	    "shared context, space BS (4096 routes); %d threads\n", N_TOKENS,
	    thread_count());

	head_rate[0] = sgemm_rate(64, 4096, 128);
	ffn_rate = sgemm_rate(256, 1024, 128);
	big_rate = sgemm_rate_threaded(1024);

	oracle_settings_default(&settings);
	if (oracle_run(&model, text, N_TOKENS, bos, &settings, &result,
	    &err) != 0) {
		fprintf(stderr, "bench_oracle: %s\n", err.message);
		return 1;
	}
	head_rate[1] = sgemm_rate(64, 4096, 128);
	rate = result.flops / result.seconds / 1e9;
	search_seconds = result.seconds;
	exhaustive_per_route = result.seconds / (double)result.n_routes;
	printf("exhaustive search: %.2f s, %.3g route-tokens/s, %.1f "
	    "GFLOP/s (%.2f TFLOP needed)\n", result.seconds,
	    result.route_tokens / result.seconds, rate, result.flops / 1e12);
	oracle_result_free(&result);

	naive = naive_seconds(&model, text, bos, sample, &naive_flops);
	head_rate[2] = sgemm_rate(64, 4096, 128);
	printf("naive search (one forward per route, %d sampled routes "
	    "scaled to 4096): %.2f s, %.1f GFLOP/s (%.2f TFLOP); the "
	    "exhaustive search is %.1f times faster\n", sample, naive,
	    naive_flops / naive / 1e9, naive_flops / 1e12,
	    naive / search_seconds);
	best_head = head_rate[0];
	for (i = 1; i < 3; i++)
		best_head = head_rate[i] > best_head ? head_rate[i] : best_head;
	printf("sgemm, every core single-threaded: head shape (64x128)x"
	    "(128x4096) %.1f, %.1f, %.1f GFLOP/s; FFN shape (256x128)x"
	    "(128x1024) %.1f GFLOP/s; one 1024^3 product on BLAS's threads "
	    "%.1f GFLOP/s\n", head_rate[0], head_rate[1], head_rate[2],
	    ffn_rate, big_rate);
	printf("the search runs at %.0f%% of the best head-shape sgemm rate "
	    "(%.0f%% of the 1024^3 rate)\n", 100.0 * rate / best_head,
	    100.0 * rate / big_rate);

	route_space_parse(&settings.space, "BS.", NULL);
	settings.beam_width = ORACLE_DEFAULT_BEAM;
	if (oracle_run(&model, text, BEAM_TOKENS, bos, &settings, &result,
	    &err) != 0) {
		fprintf(stderr, "bench_oracle: %s\n", err.message);
		return 1;
	}
	printf("beam search, width %d, over BS. (531441 routes), %d tokens: "
	    "%.2f s, %.3g route-token losses; the exhaustive search would "
	    "take about %.0f s\n", result.beam_width, BEAM_TOKENS,
	    result.seconds, result.route_tokens, exhaustive_per_route *
	    531441.0 * BEAM_TOKENS / N_TOKENS);
	oracle_result_free(&result);
	model_free(&model);
	return 0;
}
