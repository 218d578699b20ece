/*
 * test_router.c - learned routers (router.c, router_train.c and their
 * place in oracle.c) on small random models.
 *
 * Checks, each with its tolerance:
 *  - the paper kind's gradient (through the softmax mixture, the budget
 *    penalty and every frozen layer) against central differences of its
 *    own loss, in spaces BS and BS.: relative error at most 5% on every
 *    coordinate whose gradient is above 1e-3 of the largest.  The error
 *    left is the differences' own truncation: it shrinks with the step
 *    (measured worst in BS: 19% at 2e-2, 4.8% at 1e-2, 1.2% at 5e-3; 1.3%
 *    at the 2e-3 used, 3.4% in BS.), where a wrong term would not; and
 *    once at k = 0 with alpha 50, where the budget penalty's part of the
 *    gradient is large;
 *  - a fixed context longer than one block of positions: router losses
 *    against oracle_score_routes (1e-4 nats); the shared context on one
 *    thread and on two with the tree cut into pieces: the same routes,
 *    losses within 1e-4;
 *  - exact mode: every route has exactly k B's, for every k, from the
 *    choice rule alone and from oracle_run in every context mode;
 *  - shared and fixed runs: a router's loss is its route's entry in the
 *    loss table (1e-6: the same number), and its choices are the ones
 *    its own logits give on the states along its route, recomputed by
 *    oracle_capture_states (an independent walk);
 *  - greedy runs: the router's losses equal model_window_losses on the
 *    routes it took (1e-4 nats);
 *  - training lowers the loss: the paper kind's loss on fixed held-out
 *    sequences at the final sharpness, before and after 40 steps; the
 *    oracle kind's fit below ln 2 (what zero weights give in BS);
 *  - a model file with routers round-trips: the weights exactly, the
 *    settings, and the model still loads;
 *  - a run whose cancel flag is set (from its progress callback) stops
 *    and fails with "cancelled", in each context mode.
 *
 * Exit status: 0 pass, 1 a mismatch, 99 a setup failure.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "oracle.h"
#include "route.h"
#include "router.h"
#include "router_train.h"
#include "text.h"

#define TEST_NAME "test_router"
#include "testlib.h"

static void
setup_failed(const struct duo_error *err)
{
	fprintf(stderr, "test_router: %s\n", err->message);
	exit(99);
}

/* A random model whose routes matter (as in test_oracle.c). */
static void
make_model(struct duo_model *model, int L, int C, int H, int V, int N)
{
	struct duo_config config;
	struct model_tensor_info info;
	struct duo_error err;
	size_t j;
	int i, n;

	memset(&config, 0, sizeof config);
	config.n_layer = L;
	config.d_model = C;
	config.n_head = H;
	config.d_ff = 4 * C;
	config.d_ff_small = C / 4;
	config.n_vocab = V;
	config.n_ctx = N;
	config.rope_base = 10000.0f;
	config.norm_eps = 1e-5f;
	if (model_alloc(model, &config, 1, &err) != 0)
		setup_failed(&err);
	model_init_random(model, 7);
	n = model_tensor_count(&config, 1);
	for (i = 0; i < n; i++) {
		model_tensor_info(&config, 1, i, &info);
		for (j = 0; j < info.n_elements; j++) {
			float *p = model->params + info.offset + j;

			if (info.n_dims == 1)
				*p = (float)(0.5 + random_uniform());
			else
				*p = (float)((2.0 * random_uniform() - 1.0) *
				    sqrt(3.0 / (double)info.ne[0]));
		}
	}
}

static void
make_router(struct duo_router *r, const char *name, const char *space_name,
    int k, const struct duo_config *config, double scale)
{
	struct route_space space;
	struct duo_error err;
	size_t i, n;

	if (route_space_parse(&space, space_name, &err) != 0 ||
	    router_alloc(r, name, ROUTER_PAPER, &space, k, config, &err) != 0)
		setup_failed(&err);
	n = (size_t)config->n_layer * space.n_choices * config->d_model;
	for (i = 0; i < n; i++)
		r->weight[i] = (float)((2.0 * random_uniform() - 1.0) * scale);
}

static int32_t *
make_text(size_t n, int V)
{
	int32_t *t = xmalloc(n * sizeof *t);
	size_t i;

	/* the last id is BOS */
	for (i = 0; i < n; i++)
		t[i] = (int32_t)(random_u64() % (uint64_t)(V - 1));
	return t;
}

/* n_seq sequences of N: BOS then text, targets the text shifted. */
static void
make_sequences(const int32_t *text, int n_seq, int N, int32_t bos,
    int32_t *inputs, int32_t *targets)
{
	int q, t;

	for (q = 0; q < n_seq; q++) {
		inputs[q * N] = bos;
		for (t = 1; t < N; t++)
			inputs[q * N + t] = text[q * N + t - 1];
		for (t = 0; t < N; t++)
			targets[q * N + t] = text[q * N + t];
	}
}

/* --- the gradient ------------------------------------------------------- */

static void
gradient_check(const struct duo_model *model, const char *space_name, int k,
    float alpha)
{
	const struct duo_config *c = &model->config;
	struct duo_router r;
	struct duo_error err;
	int N = c->n_ctx, n_seq = 2;
	int32_t *text = make_text((size_t)n_seq * N, c->n_vocab);
	int32_t *inputs = xmalloc((size_t)n_seq * N * sizeof *inputs);
	int32_t *targets = xmalloc((size_t)n_seq * N * sizeof *targets);
	float *grad, eps = 2e-3f, saved;
	double plus, minus, loss, fd, worst = 0.0, gmax = 0.0;
	size_t i, n;
	char what[192];
	int checked = 0;

	make_router(&r, "g", space_name, k, c, 0.5);
	n = (size_t)c->n_layer * r.space.n_choices * c->d_model;
	grad = xmalloc(n * sizeof *grad);
	make_sequences(text, n_seq, N, c->n_vocab - 1, inputs, targets);
	if (router_paper_loss(model, &r, inputs, targets, n_seq, alpha, 2.0f,
	    &loss, grad, &err) != 0)
		setup_failed(&err);
	for (i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(grad[i]));
	for (i = 0; i < n; i++) {
		if (fabs(grad[i]) < 1e-3 * gmax)
			continue;
		saved = r.weight[i];
		r.weight[i] = saved + eps;
		router_paper_loss(model, &r, inputs, targets, n_seq, alpha,
		    2.0f, &plus, NULL, &err);
		r.weight[i] = saved - eps;
		router_paper_loss(model, &r, inputs, targets, n_seq, alpha,
		    2.0f, &minus, NULL, &err);
		r.weight[i] = saved;
		fd = (plus - minus) / (2.0 * eps);
		worst = fmax(worst, fabs(fd - grad[i]) / fabs(grad[i]));
		checked++;
	}
	snprintf(what, sizeof what, "paper loss gradient, space %s, k %d, "
	    "alpha %g, %d of %zu coordinates (largest %.3g), relative error",
	    space_name, k, (double)alpha, checked, n, gmax);
	check(what, worst, 5e-2);
	check_true("the gradient is not all zero", gmax > 0.0 && checked > 0);
	router_free(&r);
	free(grad);
	free(text);
	free(inputs);
	free(targets);
}

/* --- the choice rule ---------------------------------------------------- */

static void
exact_rule(void)
{
	struct duo_config config;
	struct duo_router r;
	float logits[3];
	int k, trial, l, used, d, bad = 0, soft_ok = 1;

	memset(&config, 0, sizeof config);
	config.n_layer = 12;
	config.d_model = 4;
	make_router(&r, "x", "BS.", 0, &config, 1.0);
	for (k = 0; k <= 12; k++)
		for (trial = 0; trial < 200; trial++) {
			used = 0;
			for (l = 0; l < 12; l++) {
				for (d = 0; d < 3; d++)
					logits[d] = (float)(random_uniform() *
					    (trial % 2 ? 4.0 : 0.1)) +
					    (d == 0 && trial % 3 == 0 ? 2.0f :
					    0.0f);
				d = router_choose(&r, ROUTER_EXACT, k, l, used,
				    logits);
				used += d == 0;
				if (router_choose(&r, ROUTER_SOFT, k, l, used,
				    logits) != (logits[0] >= logits[1] &&
				    logits[0] >= logits[2] ? 0 : logits[1] >=
				    logits[2] ? 1 : 2))
					soft_ok = 0;
			}
			bad += used != k;
		}
	check_true("exact mode: 2600 random logit sequences over 12 layers "
	    "each spend exactly k", bad == 0);
	check_true("soft mode takes the largest logit, ties to the first",
	    soft_ok);
	router_free(&r);
}

/* --- routers in runs ---------------------------------------------------- */

static void
runs(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	struct duo_router routers[2];
	struct oracle_settings settings;
	struct oracle_result result;
	struct duo_error err;
	size_t n_tokens = (size_t)c->n_ctx * 2 + 5, t, i;
	int32_t *text = make_text(n_tokens, c->n_vocab), bos = c->n_vocab - 1;
	int L = c->n_layer, mode, ctx, b, j, l, bad_budget = 0, bad_choice = 0;
	double worst_table = 0.0, worst_greedy = 0.0;
	float *states = NULL, logits[3];
	uint64_t *codes = xmalloc(n_tokens * sizeof *codes);
	uint8_t *window_routes = xmalloc((size_t)c->n_ctx * L);
	float *window_losses = xmalloc((size_t)c->n_ctx * sizeof(float));
	int32_t *ids = xmalloc((size_t)c->n_ctx * sizeof *ids);

	make_router(&routers[0], "a", "BS", 2, c, 0.5);
	make_router(&routers[1], "b", "BS", 3, c, 0.5);
	states = xmalloc(n_tokens * (size_t)L * c->d_model * sizeof *states);
	for (ctx = 0; ctx < 3; ctx++)
		for (mode = 0; mode < 2; mode++) {
			oracle_settings_default(&settings);
			settings.context = (enum oracle_context)ctx;
			settings.routers = routers;
			settings.n_routers = 2;
			settings.router_mode = (enum router_mode)mode;
			settings.n_random = 4;
			if (oracle_run(model, text, n_tokens, bos, &settings,
			    &result, &err) != 0)
				setup_failed(&err);
			for (i = 0; i < result.n_methods; i++) {
				const struct oracle_method *m =
				    &result.methods[i];
				const struct duo_router *r;

				if (strncmp(m->name, "router:", 7) != 0)
					continue;
				r = router_find(routers, 2, m->name + 7);
				for (t = 0; t < n_tokens; t++) {
					const uint8_t *route = m->routes +
					    t * (size_t)L;

					codes[t] = route_encode(&r->space,
					    route, L);
					if (mode == ROUTER_EXACT &&
					    route_budget(route, L) != m->budget)
						bad_budget++;
					if (ctx != ORACLE_GREEDY)
						worst_table = fmax(worst_table,
						    fabs(m->losses[t] -
						    result.tables[t *
						    result.n_routes +
						    codes[t]]));
				}
				if (ctx != ORACLE_SHARED)
					continue;
				/* the choices again, from the states along
				 * each token's route */
				if (oracle_capture_states(model, text,
				    n_tokens, bos, &r->space, codes, states,
				    &err) != 0)
					setup_failed(&err);
				for (t = 0; t < n_tokens; t++) {
					int used = 0;

					for (l = 0; l < L; l++) {
						router_logits(r, l, states +
						    (t * (size_t)L +
						    (size_t)l) * c->d_model, 1,
						    logits);
						b = router_choose(r,
						    (enum router_mode)mode,
						    m->budget, l, used, logits);
						used += b == 0;
						if (r->space.choices[b] !=
						    m->routes[t * L + l])
							bad_choice++;
					}
				}
			}
			if (ctx == ORACLE_GREEDY) {
				/* the first window again, plainly */
				for (j = 0; j < 2; j++) {
					const struct oracle_method *m;
					int k = mode == ROUTER_EXACT ? 2 :
					    routers[j].budget;
					char name[600];

					snprintf(name, sizeof name,
					    "router:%s", routers[j].name);
					m = oracle_result_method(&result, name,
					    k);
					ids[0] = bos;
					memcpy(ids + 1, text, (size_t)(c->n_ctx -
					    1) * sizeof *ids);
					memcpy(window_routes, m->routes,
					    (size_t)(c->n_ctx - 1) * L);
					memset(window_routes + (size_t)(c->n_ctx
					    - 1) * L, CHOICE_BIG, (size_t)L);
					{
						struct forward_workspace *ws =
						    forward_workspace_new(c,
						    c->n_ctx);

						if (model_window_losses(model,
						    ws, ids, c->n_ctx,
						    window_routes,
						    window_losses, &err) != 0)
							setup_failed(&err);
						forward_workspace_free(ws);
					}
					for (t = 0; t + 1 < (size_t)c->n_ctx;
					    t++)
						worst_greedy = fmax(
						    worst_greedy, fabs(
						    window_losses[t] -
						    m->losses[t]));
				}
			}
			oracle_result_free(&result);
		}
	check_true("exact mode: every router route in every context has "
	    "exactly k big modules", bad_budget == 0);
	check("shared and fixed: router loss against its table entry",
	    worst_table, 1e-6);
	check_true("shared: the router's choices follow from its logits on "
	    "the captured states along its route", bad_choice == 0);
	check("greedy: router losses against model_window_losses",
	    worst_greedy, 1e-4);
	router_free(&routers[0]);
	router_free(&routers[1]);
	free(text);
	free(states);
	free(codes);
	free(window_routes);
	free(window_losses);
	free(ids);
}

/*
 * A model with a context longer than the fixed mode's blocks of positions
 * and enough work to split over threads: the fixed context's router losses
 * against oracle_score_routes (one position at a time, another path), and
 * the routers' choices on one and on two threads with the tree split
 * into many small pieces.
 */
static void
threads_and_blocks(void)
{
	struct duo_model model;
	struct duo_router routers[2];
	struct oracle_settings settings;
	struct oracle_result one, two;
	struct duo_error err;
	const struct oracle_method *m, *m2;
	size_t n_tokens, t, i;
	int32_t *text, bos;
	float *losses;
	double worst_fixed = 0.0, worst_threads = 0.0;
	int bad_routes = 0, L;

	make_model(&model, 4, 16, 2, 48, 48);
	L = model.config.n_layer;
	bos = model.config.n_vocab - 1;
	n_tokens = 47 + 40;
	text = make_text(n_tokens, model.config.n_vocab);
	losses = xmalloc(n_tokens * sizeof *losses);
	make_router(&routers[0], "a", "BS", 2, &model.config, 0.5);
	make_router(&routers[1], "b", "BS", 1, &model.config, 0.5);

	oracle_settings_default(&settings);
	settings.context = ORACLE_FIXED;
	settings.routers = routers;
	settings.n_routers = 2;
	settings.n_random = 4;
	if (oracle_run(&model, text, n_tokens, bos, &settings, &one,
	    &err) != 0)
		setup_failed(&err);
	for (i = 0; i < one.n_methods; i++) {
		m = &one.methods[i];
		if (strncmp(m->name, "router:", 7) != 0)
			continue;
		if (oracle_score_routes(&model, text, n_tokens, bos,
		    ORACLE_FIXED, NULL, m->routes, losses, &err) != 0)
			setup_failed(&err);
		for (t = 0; t < n_tokens; t++)
			worst_fixed = fmax(worst_fixed, fabs(losses[t] -
			    m->losses[t]));
	}
	oracle_result_free(&one);
	check("fixed context, 2 windows of 48 (two blocks of positions): "
	    "router losses against oracle_score_routes", worst_fixed, 1e-4);

	settings.context = ORACLE_SHARED;
	settings.n_threads = 1;
	if (oracle_run(&model, text, n_tokens, bos, &settings, &one,
	    &err) != 0)
		setup_failed(&err);
	settings.n_threads = 2;
	settings.split_flops = 1.0;
	settings.chunk_rows = 48;
	if (oracle_run(&model, text, n_tokens, bos, &settings, &two,
	    &err) != 0)
		setup_failed(&err);
	for (i = 0; i < one.n_methods; i++) {
		m = &one.methods[i];
		if (strncmp(m->name, "router:", 7) != 0)
			continue;
		m2 = oracle_result_method(&two, m->name, m->budget);
		if (m2 == NULL || memcmp(m->routes, m2->routes, n_tokens *
		    (size_t)L) != 0)
			bad_routes++;
		for (t = 0; m2 != NULL && t < n_tokens; t++)
			worst_threads = fmax(worst_threads, fabs(m->losses[t] -
			    m2->losses[t]));
	}
	check_true("shared context: the routers choose the same routes on one "
	    "thread and on two with the tree split into pieces",
	    bad_routes == 0);
	check("... and their losses agree", worst_threads, 1e-4);
	oracle_result_free(&one);
	oracle_result_free(&two);
	router_free(&routers[0]);
	router_free(&routers[1]);
	model_free(&model);
	free(text);
	free(losses);
}

/* --- training ----------------------------------------------------------- */

static void
training(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	struct router_train_options o;
	struct duo_router r;
	struct route_space space;
	struct duo_error err;
	int N = c->n_ctx, n_eval = 4;
	size_t n_tokens = 40 * (size_t)N;
	int32_t *text = make_text(n_tokens, c->n_vocab), bos = c->n_vocab - 1;
	int32_t *inputs = xmalloc((size_t)n_eval * N * sizeof *inputs);
	int32_t *targets = xmalloc((size_t)n_eval * N * sizeof *targets);
	double before, after;
	char what[128];

	route_space_parse(&space, "BS", NULL);
	router_train_defaults(&o, ROUTER_PAPER);
	o.steps = 40;
	o.batch = 4;
	o.lr = 2e-2f;
	if (router_alloc(&r, "p", ROUTER_PAPER, &space, 2, c, &err) != 0)
		setup_failed(&err);
	make_sequences(text, n_eval, N, bos, inputs, targets);
	router_paper_loss(model, &r, inputs, targets, n_eval, o.alpha,
	    o.sharpness_end, &before, NULL, &err);
	if (router_train(model, &r, text + (size_t)n_eval * N, n_tokens -
	    (size_t)n_eval * N, bos, &o, NULL, NULL, &err) != 0)
		setup_failed(&err);
	router_paper_loss(model, &r, inputs, targets, n_eval, o.alpha,
	    o.sharpness_end, &after, NULL, &err);
	snprintf(what, sizeof what, "paper kind: 40 steps lower the held-out "
	    "loss (%.4f -> %.4f)", before, after);
	check_true(what, after < before - 1e-3);
	router_free(&r);

	router_train_defaults(&o, ROUTER_ORACLE);
	o.label_tokens = 6 * (size_t)(N - 1);
	o.steps = 200;
	if (router_alloc(&r, "o", ROUTER_ORACLE, &space, 2, c, &err) != 0)
		setup_failed(&err);
	o.weighted = 1;
	if (router_train(model, &r, text, n_tokens, bos, &o, NULL, NULL,
	    &err) != 0)
		setup_failed(&err);
	snprintf(what, sizeof what, "oracle kind (regret-weighted): fit %.4f "
	    "below ln 2 = 0.6931 by 0.02", r.final_loss);
	check_true(what, r.final_loss < logf(2.0f) - 0.02f &&
	    strcmp(r.weighting, "regret") == 0);
	router_free(&r);
	free(text);
	free(inputs);
	free(targets);
}

/* Tokens of n on which methods a and b of result (budget k) take the same
 * route. */
static size_t
same_routes(const struct oracle_result *result, const char *a,
    const char *b, int k)
{
	const struct oracle_method *ma = oracle_result_method(result, a, k);
	const struct oracle_method *mb = oracle_result_method(result, b, k);
	size_t t, same = 0, L = (size_t)result->n_layer;

	if (ma == NULL || mb == NULL)
		return 0;
	for (t = 0; t < result->n_tokens; t++)
		same += memcmp(ma->routes + t * L, mb->routes + t * L, L) == 0;
	return same;
}

/*
 * The label-free target (--target free): on a text whose every window is
 * the same (one token repeated, so the labelled window is known), a
 * router trained on oracle_free's choices takes oracle_free's routes, and
 * one trained on the oracle's the oracle's, where the two differ.
 */
static void
label_free_training(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	struct router_train_options o;
	struct duo_router r[2];
	struct route_space space;
	struct oracle_settings settings;
	struct oracle_result result;
	struct duo_error err;
	int N = c->n_ctx, k = 2, i;
	size_t n = (size_t)N - 1, t, differ;
	int32_t *text = xmalloc(3 * n * sizeof *text), bos = c->n_vocab - 1;
	char what[160];

	for (t = 0; t < 3 * n; t++)
		text[t] = 5;
	route_space_parse(&space, "BS", NULL);
	for (i = 0; i < 2; i++) {
		router_train_defaults(&o, ROUTER_ORACLE);
		o.label_tokens = n;
		o.steps = 600;
		o.lr = 5e-2f;
		o.label_free = i == 0;
		if (router_alloc(&r[i], i == 0 ? "free" : "oracle",
		    ROUTER_ORACLE, &space, k, c, &err) != 0 ||
		    router_train(model, &r[i], text, 3 * n, bos, &o, NULL,
		    NULL, &err) != 0)
			setup_failed(&err);
	}
	check_true("the routers record their targets", strcmp(r[0].target,
	    "oracle_free") == 0 && strcmp(r[1].target, "oracle") == 0);
	oracle_settings_default(&settings);
	settings.budgets = &k;
	settings.n_budgets = 1;
	settings.routers = r;
	settings.n_routers = 2;
	if (oracle_run(model, text, n, bos, &settings, &result, &err) != 0)
		setup_failed(&err);
	differ = n - same_routes(&result, "oracle", "oracle_free", k);
	snprintf(what, sizeof what, "oracle and oracle_free differ on %zu of "
	    "%zu tokens (at least 3)", differ, n);
	check_true(what, differ >= 3);
	snprintf(what, sizeof what, "the label-free router takes "
	    "oracle_free's route on %zu of %zu tokens, the oracle's on %zu",
	    same_routes(&result, "router:free", "oracle_free", k), n,
	    same_routes(&result, "router:free", "oracle", k));
	check_true(what, same_routes(&result, "router:free", "oracle_free",
	    k) >= n - 1 && same_routes(&result, "router:free", "oracle", k) <
	    n - differ + 1);
	snprintf(what, sizeof what, "the oracle router takes the oracle's "
	    "route on %zu of %zu tokens, oracle_free's on %zu",
	    same_routes(&result, "router:oracle", "oracle", k), n,
	    same_routes(&result, "router:oracle", "oracle_free", k));
	check_true(what, same_routes(&result, "router:oracle", "oracle",
	    k) >= n - 1 && same_routes(&result, "router:oracle",
	    "oracle_free", k) < n - differ + 1);
	oracle_result_free(&result);
	router_free(&r[0]);
	router_free(&r[1]);
	free(text);
}

/* --- the file ----------------------------------------------------------- */

static void
file_round_trip(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	struct duo_router routers[2], *back = NULL;
	struct duo_model again;
	struct duo_error err;
	char path[] = "/tmp/test_router_XXXXXX";
	size_t n;
	int fd, n_back = 0, same = 1, j;

	make_router(&routers[0], "paper4", "BS", 4, c, 0.3);
	make_router(&routers[1], "skip.router-1", "BS.", 1, c, 0.3);
	routers[1].kind = ROUTER_ORACLE;
	snprintf(routers[1].weighting, sizeof routers[1].weighting,
	    "regret");
	snprintf(routers[1].target, sizeof routers[1].target, "oracle_free");
	routers[0].alpha = 0.25f;
	routers[0].steps = 17;
	routers[0].tokens = 123456789012ull;
	snprintf(routers[0].data, sizeof routers[0].data, "train.txt");
	if ((fd = mkstemp(path)) < 0) {
		perror("test_router: mkstemp");
		exit(99);
	}
	close(fd);
	if (router_save(model, routers, 2, path, GGUF_TENSOR_F16, &err) != 0 ||
	    router_load_all(path, c, &back, &n_back, &err) != 0)
		setup_failed(&err);
	check_true("two routers read back", n_back == 2);
	for (j = 0; j < 2 && n_back == 2; j++) {
		n = (size_t)c->n_layer * routers[j].space.n_choices *
		    c->d_model;
		same = same && strcmp(back[j].name, routers[j].name) == 0 &&
		    back[j].kind == routers[j].kind && back[j].budget ==
		    routers[j].budget && strcmp(back[j].space.name,
		    routers[j].space.name) == 0 && memcmp(back[j].weight,
		    routers[j].weight, n * sizeof(float)) == 0;
	}
	same = same && n_back == 2 && back[0].alpha == 0.25f &&
	    back[0].steps == 17 && back[0].tokens == 123456789012ull &&
	    strcmp(back[0].data, "train.txt") == 0 &&
	    strcmp(back[1].weighting, "regret") == 0 &&
	    strcmp(back[1].target, "oracle_free") == 0 &&
	    strcmp(back[0].target, "oracle") == 0;
	check_true("names, kinds, spaces, budgets, settings and F32 weights "
	    "read back exactly", same);
	/* a whole model (the fixture, with its tokenizer) with a router
	 * still loads, its weights unchanged */
	{
		const char *srcdir = getenv("srcdir");
		char fixture[4096];
		struct duo_model f;
		struct duo_router fr;
		int ok;

		snprintf(fixture, sizeof fixture, "%s/tests/fixture.gguf",
		    srcdir != NULL ? srcdir : ".");
		if (model_load(&f, fixture, &err) != 0)
			setup_failed(&err);
		make_router(&fr, "fx", "BS", 1, &f.config, 0.3);
		if (router_save(&f, &fr, 1, path, GGUF_TENSOR_F32, &err) != 0)
			setup_failed(&err);
		ok = model_load(&again, path, &err) == 0;
		if (!ok)
			printf("     %s\n", err.message);
		ok = ok && again.n_params == f.n_params &&
		    memcmp(again.params, f.params, f.n_params *
		    sizeof(float)) == 0;
		check_true("a model with a router loads, weights unchanged",
		    ok);
		if (ok)
			model_free(&again);
		router_free(&fr);
		model_free(&f);
	}
	router_free_all(back, n_back);
	router_free(&routers[0]);
	router_free(&routers[1]);
	unlink(path);
}

/* --- cancelling the engine --------------------------------------------- */

static void
cancel_from_progress(void *arg, double fraction, double route_tokens)
{
	(void)route_tokens;
	if (fraction > 0.2)
		*(volatile int *)arg = 1;
}

static void
cancelling(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	struct oracle_settings settings;
	struct oracle_result result;
	struct duo_error err;
	size_t n_tokens = (size_t)c->n_ctx * 6;
	int32_t *text = make_text(n_tokens, c->n_vocab);
	volatile int cancel = 0;
	int status, mode;

	for (mode = 0; mode < 3; mode++) {
		oracle_settings_default(&settings);
		settings.context = (enum oracle_context)mode;
		settings.cancel = &cancel;
		settings.progress = cancel_from_progress;
		settings.progress_arg = (void *)&cancel;
		settings.n_threads = 1;
		cancel = 0;
		err.message[0] = '\0';
		status = oracle_run(model, text, n_tokens, c->n_vocab - 1,
		    &settings, &result, &err);
		check_true(mode == 0 ? "a shared run cancelled from its "
		    "progress callback fails with \"cancelled\"" : mode == 1 ?
		    "a fixed run cancelled likewise" : "a greedy run "
		    "cancelled likewise", status != 0 &&
		    strcmp(err.message, "cancelled") == 0);
		if (status == 0)
			oracle_result_free(&result);
	}
	free(text);
}

int
main(void)
{
	struct duo_model model;

	make_model(&model, 4, 16, 2, 48, 16);
	gradient_check(&model, "BS", 2, 0.5f);
	gradient_check(&model, "BS.", 2, 0.5f);
	/* far from the budget, the penalty's share of the gradient counts */
	gradient_check(&model, "BS", 0, 50.0f);
	threads_and_blocks();
	exact_rule();
	runs(&model);
	training(&model);
	label_free_training(&model);
	file_round_trip(&model);
	cancelling(&model);
	model_free(&model);
	if (failures > 0) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("all router checks passed\n");
	return 0;
}
