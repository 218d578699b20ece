/*
 * test_threads.c - the model run from two threads at once, as the browser
 * does (doc/design.md section 13): one thread computes top-5 style
 * predictions (model_forward over a window, then the last position with
 * the head, as src/tui/predict.c does) over and over, while another runs
 * a whole analysis (oracle_run on two OpenMP workers, whose products run
 * concurrently too).  Every number must equal, bit for bit, what the same
 * calls give one at a time: a product never depends on what another
 * thread does, so the tolerance is zero.  That holds because the
 * browser runs every product on one BLAS thread and the analysis gives
 * back the count it found (linalg_workers_end()): OpenBLAS blocks a
 * product differently on one thread and on two, which changes last bits.
 *
 * The comparison is deterministic however the threads interleave; the
 * test repeats the pair of threads a few times so that they overlap in
 * many ways.
 */
#define TEST_NAME "test_threads"
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "model.h"
#include "oracle.h"
#include "route.h"
#include "testlib.h"

/* Big enough that a window's products are split over OpenBLAS's own
 * threads (m n k above its 262144 threshold) while the analysis's
 * workers run theirs on one thread each. */
enum { L = 6, C = 64, H = 4, F = 256, S = 16, V = 301, N = 64 };
#define N_TOKENS 120
#define N_WINDOWS 6
#define MIN_ROUNDS 3
#define REPEATS 4

struct window {
	int n;                          /* positions, BOS first */
	int32_t tokens[N];
	uint8_t routes[N * L];
	float logits[V];                /* of the last position */
};

struct predictions {
	const struct duo_model *model;
	struct window *windows;         /* the single-threaded answers */
	volatile int *analysis_done;
	int rounds, mismatches, failed;
};

struct analysis {
	const struct duo_model *model;
	const int32_t *text;
	struct oracle_result result;
	int failed;
	volatile int done;
};

static void
fail_setup(const char *what, const struct duo_error *err)
{
	fprintf(stderr, TEST_NAME ": %s: %s\n", what, err->message);
	exit(99);
}

/* One prediction as the browser's predictor computes it. */
static int
predict(const struct duo_model *model, struct kv_cache *cache,
    struct forward_workspace *ws, const struct window *w, float *logits)
{
	struct duo_error err;

	kv_cache_reset(cache);
	if (w->n > 1 && model_forward(model, cache, ws, w->tokens, w->n - 1,
	    w->routes, NULL, &err) != 0)
		return -1;
	return model_forward(model, cache, ws, w->tokens + w->n - 1, 1,
	    w->routes + (size_t)(w->n - 1) * L, logits, &err);
}

static void
settings_of(struct oracle_settings *settings)
{
	oracle_settings_default(settings);
	settings->n_threads = 2;
	/* every subtree goes to the workers, even on this small model */
	settings->split_flops = 1.0;
}

/* Predict every window again and again until the analysis is done. */
static void *
predictions_main(void *arg)
{
	struct predictions *p = arg;
	struct forward_workspace *ws;
	struct kv_cache cache;
	struct duo_error err;
	float logits[V];
	int i;

	ws = forward_workspace_new(&p->model->config, N);
	if (ws == NULL || kv_cache_init(&cache, &p->model->config, &err)) {
		p->failed = 1;
		forward_workspace_free(ws);
		return NULL;
	}
	while (p->rounds < MIN_ROUNDS || !*p->analysis_done) {
		for (i = 0; i < N_WINDOWS; i++) {
			if (predict(p->model, &cache, ws, &p->windows[i],
			    logits) != 0) {
				p->failed = 1;
				break;
			}
			if (memcmp(logits, p->windows[i].logits,
			    sizeof logits) != 0)
				p->mismatches++;
		}
		p->rounds++;
		if (p->failed)
			break;
	}
	kv_cache_free(&cache);
	forward_workspace_free(ws);
	return NULL;
}

static void *
analysis_main(void *arg)
{
	struct analysis *a = arg;
	struct oracle_settings settings;
	struct duo_error err;

	settings_of(&settings);
	a->failed = oracle_run(a->model, a->text, N_TOKENS, V - 1, &settings,
	    &a->result, &err) != 0;
	a->done = 1;
	return NULL;
}

/* Do two results hold the same numbers, bit for bit? */
static int
same_result(const struct oracle_result *x, const struct oracle_result *y)
{
	size_t i, n = x->n_tokens;

	if (x->n_tokens != y->n_tokens || x->n_routes != y->n_routes ||
	    x->n_methods != y->n_methods || x->tables == NULL ||
	    y->tables == NULL || memcmp(x->tables, y->tables, n *
	    x->n_routes * sizeof *x->tables) != 0)
		return 0;
	for (i = 0; i < x->n_methods; i++) {
		const struct oracle_method *a = &x->methods[i],
		    *b = &y->methods[i];

		if (strcmp(a->name, b->name) != 0 || a->budget != b->budget ||
		    memcmp(a->losses, b->losses, n * sizeof *a->losses) != 0 ||
		    (a->routes == NULL) != (b->routes == NULL) ||
		    (a->routes != NULL && memcmp(a->routes, b->routes,
		    n * L) != 0))
			return 0;
	}
	return 1;
}

int
main(void)
{
	struct duo_config config = { .n_layer = L, .d_model = C, .n_head = H,
	    .d_ff = F, .d_ff_small = S, .n_vocab = V, .n_ctx = N,
	    .rope_base = 10000.0f, .norm_eps = 1e-5f };
	struct duo_model model;
	struct window *windows;
	struct forward_workspace *ws;
	struct kv_cache cache;
	struct oracle_settings settings;
	struct oracle_result reference;
	struct duo_error err;
	int32_t text[N_TOKENS];
	pthread_t threads[2];
	int i, t, r, same = 1, mismatches = 0, rounds = 0, failed = 0;

	/* As the browser does (src/tui/app.c), before any work. */
	linalg_set_threads(1);
	printf("OpenBLAS: %s; threading %d; products %s\n",
	    openblas_get_config(), openblas_get_parallel(),
	    linalg_serialized() ? "serialized" : "concurrent");
	if (model_alloc(&model, &config, 1, &err) != 0)
		fail_setup("model", &err);
	model_init_random(&model, 7);
	for (i = 0; i < N_TOKENS; i++)
		text[i] = random_int(V - 1);

	/* The answers, one call at a time. */
	windows = xcalloc(N_WINDOWS, sizeof *windows);
	ws = forward_workspace_new(&config, N);
	if (ws == NULL || kv_cache_init(&cache, &config, &err) != 0)
		fail_setup("workspace", &err);
	for (i = 0; i < N_WINDOWS; i++) {
		struct window *w = &windows[i];

		w->n = N - 8 * i;
		w->tokens[0] = V - 1;
		for (t = 1; t < w->n; t++)
			w->tokens[t] = random_int(V - 1);
		for (t = 0; t < w->n * L; t++)
			w->routes[t] = random_int(2) ? CHOICE_BIG :
			    CHOICE_SMALL;
		if (predict(&model, &cache, ws, w, w->logits) != 0)
			fail_setup("prediction", &err);
	}
	kv_cache_free(&cache);
	forward_workspace_free(ws);
	settings_of(&settings);
	if (oracle_run(&model, text, N_TOKENS, V - 1, &settings, &reference,
	    &err) != 0)
		fail_setup("analysis", &err);

	/* The same calls from two threads at once. */
	for (r = 0; r < REPEATS; r++) {
		struct analysis a = { .model = &model, .text = text };
		struct predictions p = { .model = &model, .windows = windows,
		    .analysis_done = &a.done };

		if (pthread_create(&threads[0], NULL, predictions_main,
		    &p) != 0 || pthread_create(&threads[1], NULL,
		    analysis_main, &a) != 0) {
			fprintf(stderr, TEST_NAME ": cannot start threads\n");
			return 99;
		}
		pthread_join(threads[0], NULL);
		pthread_join(threads[1], NULL);
		failed |= p.failed || a.failed;
		mismatches += p.mismatches;
		rounds += p.rounds;
		if (!a.failed) {
			same &= same_result(&reference, &a.result);
			oracle_result_free(&a.result);
		}
	}
	printf("%d rounds of %d predictions beside %d analyses\n", rounds,
	    N_WINDOWS, REPEATS);
	check_true("every call succeeds on both threads", !failed);
	check_true("predictions beside an analysis equal those made alone",
	    mismatches == 0);
	check_true("an analysis beside predictions equals one made alone",
	    same);
	oracle_result_free(&reference);
	free(windows);
	model_free(&model);
	return failures == 0 ? 0 : 1;
}
