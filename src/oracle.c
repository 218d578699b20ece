/*
 * oracle.c - the analysis engine of oracle.h set up and run: settings
 * checked, results allocated, the strategies of search.h run in order
 * over the walk of walk.h, and the methods derived (derive.h); and the
 * plain one-thread searches of oracle_score_routes() and
 * oracle_capture_states().
 *
 * The files of the engine, bottom up: route.c (route codes), walk.c (the
 * tree walk: codes in, loss columns out), search.c (which codes, rows and
 * caches: tables, beam, greedy and router passes), derive.c (methods from
 * losses), and this file.
 */
#include "oracle.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "derive.h"
#include "linalg.h"
#include "search.h"
#include "text.h"
#include "walk.h"

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int
oracle_context_parse(const char *name, enum oracle_context *context,
    struct duo_error *err)
{
	int i = context_find(name);

	if (i >= 0) {
		*context = (enum oracle_context)i;
		return 0;
	}
	return error_set(err, "context '%s' is not one of shared, fixed or "
	    "greedy", name);
}

const char *
oracle_context_name(enum oracle_context context)
{
	return context_names[context].name;
}

void
oracle_settings_default(struct oracle_settings *settings)
{
	memset(settings, 0, sizeof *settings);
	route_space_parse(&settings->space, "BS", NULL);
	settings->context = ORACLE_SHARED;
	settings->seed = ORACLE_DEFAULT_SEED;
	settings->shuffle_seed = ORACLE_DEFAULT_SHUFFLE_SEED;
}

const struct oracle_method *
oracle_result_method(const struct oracle_result *result, const char *name,
    int budget)
{
	size_t i;

	for (i = 0; i < result->n_methods; i++)
		if (strcmp(result->methods[i].name, name) == 0 &&
		    result->methods[i].budget == budget)
			return &result->methods[i];
	return NULL;
}

void
oracle_result_free(struct oracle_result *result)
{
	size_t i;

	for (i = 0; i < result->n_methods; i++) {
		free(result->methods[i].routes);
		free(result->methods[i].losses);
	}
	free(result->methods);
	free(result->tables);
	free(result->kl_tables);
	free(result->budgets);
	free(result->random_codes);
	free(result->n_random_per_budget);
	for (i = 0; i < (size_t)result->n_method_names; i++)
		free(result->method_names[i]);
	free(result->method_names);
	memset(result, 0, sizeof *result);
}

/* --- oracle_run --------------------------------------------------------- */

/* Check a run's settings against the model and fill the search's space,
 * choices and budgets from them. */
static int
check_oracle_settings(struct search *s,
    const struct oracle_settings *settings, struct duo_error *err)
{
	int L = s->L, l, i, j, k, *seen;

	if (settings->space.n_choices < 2 || settings->space.n_choices > 3 ||
	    settings->space.choices[0] != CHOICE_BIG)
		return error_set(err, "the route space is not BS, B. or BS.");
	s->space = settings->space;
	s->m = s->space.n_choices;
	if ((int)settings->context < 0 || settings->context > ORACLE_GREEDY)
		return error_set(err, "unknown context mode %d",
		    (int)settings->context);
	if (settings->context_route != NULL)
		for (l = 0; l < L; l++)
			if (settings->context_route[l] > CHOICE_SKIP ||
			    route_space_digit(&s->space, (enum route_choice)
			    settings->context_route[l]) < 0)
				return error_set(err, "the context route has "
				    "'%c' at layer %d, outside the space %s",
				    route_choice_char((enum route_choice)
				    settings->context_route[l]), l,
				    s->space.name);
	seen = calloc((size_t)L + 1, sizeof *seen);
	if (seen == NULL)
		return error_set(err, "out of memory");
	if (settings->budgets == NULL || settings->n_budgets == 0) {
		for (k = 0; k <= L; k++)
			seen[k] = 1;
	} else {
		for (i = 0; i < settings->n_budgets; i++) {
			k = settings->budgets[i];
			if (k < 0 || k > L) {
				free(seen);
				return error_set(err, "budget %d is not "
				    "0..%d (the model has %d layers)", k, L, L);
			}
			seen[k] = 1;
		}
	}
	/* a soft-mode router's rows stand at the budget it was trained for,
	 * which the oracle and the baselines must have too */
	if (settings->router_mode == ROUTER_SOFT && settings->routers != NULL)
		for (i = 0; i < settings->n_routers; i++)
			if (settings->routers[i].budget >= 0 &&
			    settings->routers[i].budget <= L)
				seen[settings->routers[i].budget] = 1;
	s->budgets = array_new((size_t)L + 1, sizeof *s->budgets);
	if (s->budgets == NULL) {
		free(seen);
		return error_set(err, "out of memory");
	}
	for (k = j = 0; k <= L; k++)
		if (seen[k])
			s->budgets[j++] = k;
	s->n_budgets = j;
	free(seen);
	if (settings->beam_width < 0 || settings->n_random < 0)
		return error_set(err, "negative beam width or random count");
	if (settings->n_routers < 0 || (settings->n_routers > 0 &&
	    settings->routers == NULL) || (int)settings->router_mode < 0 ||
	    settings->router_mode > ROUTER_SOFT)
		return error_set(err, "bad router settings");
	for (i = 0; i < settings->n_routers; i++) {
		const struct duo_router *r = &settings->routers[i];

		if (strcmp(r->space.name, s->space.name) != 0)
			return error_set(err, "router %s chooses in the space "
			    "%s, not in the run's %s", r->name, r->space.name,
			    s->space.name);
		if (r->n_layer != L || r->d_model !=
		    s->model->config.d_model)
			return error_set(err, "router %s was made for %d "
			    "layers of width %d, not this model", r->name,
			    r->n_layer, r->d_model);
		for (j = 0; j < i; j++)
			if (strcmp(settings->routers[j].name, r->name) == 0)
				return error_set(err, "router %s is named "
				    "twice", r->name);
	}
	return 0;
}

/* Route-token losses the run will compute, for the progress fraction. */
static double
expected_work(const struct search *s, const struct oracle_result *result,
    bool greedy)
{
	double tokens = (double)s->n_tokens, work = 0.0, beam = 0.0, level;
	double position = GREEDY_POSITION_WORK * s->L;
	int l, b;

	if (s->exhaustive) {
		work = (double)s->n_routes * tokens;
		if (greedy) {
			work += ((double)s->n_routes + position) * tokens;
			/* oracle and oracle_free */
			for (b = 0; b < s->n_budgets; b++)
				work += 2.0 * (route_budget_count(&s->space,
				    s->L, s->budgets[b]) + position) * tokens;
		}
		return work;
	}
	level = 1.0;
	for (l = 0; l < s->L; l++) {
		level *= s->m;
		beam += fmin(level, 2.0 * s->width * (l + 1) * s->m);
	}
	/* in greedy runs two passes per budget (narrower, counted whole) and
	 * the best pass; else the beam and the label-free beam */
	work = (greedy ? (beam + position) * (2 * s->n_budgets + 1) :
	    2.0 * beam) * tokens;
	work += tokens * (2.0 + (double)s->n_budgets *
	    (result->n_random + s->width));
	return work;
}

/* Draw the random routes of every budget into the result. */
static int
random_routes_all(struct search *s, struct oracle_result *result)
{
	int b, n;

	result->n_random = s->settings->n_random > 0 ?
	    s->settings->n_random : ORACLE_RANDOM_ROUTES;
	result->random_codes = array_new((size_t)s->n_budgets *
	    (size_t)result->n_random, sizeof *result->random_codes);
	result->n_random_per_budget = array_new((size_t)s->n_budgets,
	    sizeof *result->n_random_per_budget);
	if (result->random_codes == NULL ||
	    result->n_random_per_budget == NULL)
		return error_set(s->err, "out of memory");
	for (b = 0; b < s->n_budgets; b++) {
		if (route_random_codes(&s->space, s->L, s->budgets[b],
		    result->n_random, s->settings->seed,
		    result->random_codes + (size_t)b *
		    (size_t)result->n_random, &n, s->err) != 0)
			return -1;
		result->n_random_per_budget[b] = n;
	}
	return 0;
}

/*
 * The routers' methods, named router:NAME, and in exhaustive shared and
 * fixed runs the buffers of their logits at every node of the tree.
 */
static int
routers_init(struct search *s, struct oracle_result *result)
{
	const struct oracle_settings *settings = s->settings;
	const struct duo_router *r;
	const char *prefix = method_table[METHOD_ROUTER].name;
	struct oracle_method *m;
	size_t nodes = (size_t)s->engine.node_base[s->L], size, limit, tables;
	int j, b, k;

	s->engine.routers = settings->routers;
	s->engine.n_routers = settings->n_routers;
	result->method_names = calloc((size_t)settings->n_routers,
	    sizeof *result->method_names);
	s->router_methods = calloc((size_t)settings->n_routers *
	    (size_t)s->n_router_budgets, sizeof *s->router_methods);
	if (result->method_names == NULL || s->router_methods == NULL)
		return error_set(s->err, "out of memory");
	for (j = 0; j < settings->n_routers; j++) {
		r = &settings->routers[j];
		size = strlen(prefix) + strlen(r->name) + 1;
		if ((result->method_names[j] = malloc(size)) == NULL)
			return error_set(s->err, "out of memory");
		snprintf(result->method_names[j], size, "%s%s", prefix,
		    r->name);
		result->n_method_names++;
		for (b = 0; b < s->n_router_budgets; b++) {
			k = settings->router_mode == ROUTER_EXACT ?
			    s->budgets[b] : r->budget;
			m = derive_add_method(result, METHOD_ROUTER,
			    result->method_names[j], k);
			if (m == NULL)
				return error_set(s->err, "out of memory for "
				    "the results");
			s->router_methods[j * s->n_router_budgets + b] = m;
		}
	}
	if (!s->exhaustive || settings->context == ORACLE_GREEDY)
		return 0;
	/* what the loss tables leave of the memory limit */
	limit = settings->max_table_bytes > 0 ? settings->max_table_bytes :
	    ORACLE_MAX_TABLE_BYTES;
	tables = s->n_tokens * (size_t)s->n_routes * sizeof(float);
	limit = limit > tables ? limit - tables : 0;
	if (nodes > limit / sizeof(float) / (size_t)s->N / (size_t)s->m /
	    (size_t)settings->n_routers)
		return error_set(s->err, "the routers' logits over %zu nodes "
		    "would pass the memory limit", nodes);
	s->router_logits = calloc((size_t)settings->n_routers,
	    sizeof *s->router_logits);
	if (s->router_logits == NULL)
		return error_set(s->err, "out of memory");
	for (j = 0; j < settings->n_routers; j++) {
		s->router_logits[j] = array_new(nodes * (size_t)s->N *
		    (size_t)s->m, sizeof(float));
		if (s->router_logits[j] == NULL)
			return error_set(s->err, "out of memory for the "
			    "routers' logits");
		s->n_router_logits++;
	}
	return 0;
}

/* Score the routes the routers' passes chose in the run's context (shared
 * or fixed): what search_routers_pass() found are greedy-context losses. */
static int
score_router_routes(struct search *s)
{
	struct oracle_method *method;
	int j;

	for (j = 0; j < s->engine.n_routers * s->n_router_budgets; j++) {
		method = s->router_methods[j];
		if (oracle_score_routes(s->model, s->tokens, s->n_tokens,
		    s->bos, s->settings->context, s->settings->context_route,
		    method->routes, method->losses, s->err) != 0)
			return -1;
	}
	return 0;
}

/*
 * shuffled@k: oracle@k's routes in the seeded order, their losses from the
 * tables of an exhaustive shared or fixed run, else scored in the run's
 * context like the routers' routes.
 */
static int
shuffled_methods(struct search *s, struct oracle_result *result,
    struct oracle_method **oracle, bool from_tables)
{
	struct oracle_method **shuffled;
	size_t *order;
	int b, status = -1;

	shuffled = calloc((size_t)s->n_budgets, sizeof *shuffled);
	order = array_new(s->n_tokens, sizeof *order);
	if (shuffled == NULL || order == NULL) {
		error_set(s->err, "out of memory");
		goto done;
	}
	for (b = 0; b < s->n_budgets; b++)
		if ((shuffled[b] = derive_add_method(result, METHOD_SHUFFLED,
		    NULL, s->budgets[b])) == NULL) {
			error_set(s->err, "out of memory for the results");
			goto done;
		}
	derive_shuffle_order(s->n_tokens, s->settings->shuffle_seed, order);
	derive_shuffled(result, &s->space, oracle, order, from_tables ?
	    result->tables : NULL, shuffled);
	for (b = 0; !from_tables && b < s->n_budgets; b++) {
		if (walk_cancelled(&s->engine)) {
			error_cancelled(s->err);
			goto done;
		}
		if (oracle_score_routes(s->model, s->tokens, s->n_tokens,
		    s->bos, s->settings->context, s->settings->context_route,
		    shuffled[b]->routes, shuffled[b]->losses, s->err) != 0)
			goto done;
	}
	status = 0;
done:
	free(shuffled);
	free(order);
	return status;
}

int
oracle_plan(const struct duo_model *model,
    const struct oracle_settings *settings, struct oracle_plan *plan,
    struct duo_error *err)
{
	struct search s;
	uint64_t max_routes = settings->max_routes > 0 ?
	    settings->max_routes : ORACLE_MAX_ROUTES;
	size_t router_budgets;
	int status;

	memset(plan, 0, sizeof *plan);
	memset(&s, 0, sizeof s);
	s.model = model;
	s.L = model->config.n_layer;
	s.N = model->config.n_ctx;
	status = check_oracle_settings(&s, settings, err);
	if (status == 0) {
		/* as oracle_run() counts them: big, small, best, four
		 * methods per budget, then the routers' */
		router_budgets = settings->router_mode == ROUTER_EXACT ?
		    (size_t)s.n_budgets : 1;
		plan->n_methods = 3 + 4 * (size_t)s.n_budgets +
		    (size_t)settings->n_routers * router_budgets;
		plan->n_budgets = s.n_budgets;
		plan->n_routes = route_space_size(&s.space, s.L);
		plan->keeps_tables = settings->beam_width == 0 &&
		    plan->n_routes != 0 && plan->n_routes <= max_routes;
	}
	free(s.budgets);
	return status;
}

int
oracle_run(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct oracle_settings *settings,
    struct oracle_result *result, struct duo_error *err)
{
	struct search s;
	struct oracle_method **oracle = NULL, **oracle_free = NULL;
	struct oracle_method *best = NULL;
	uint64_t max_routes = settings->max_routes > 0 ?
	    settings->max_routes : ORACLE_MAX_ROUTES, *columns_codes = NULL;
	size_t max_bytes = settings->max_table_bytes > 0 ?
	    settings->max_table_bytes : ORACLE_MAX_TABLE_BYTES, n_columns = 0, i;
	float *columns = NULL;
	double start = 0.0;
	bool greedy = settings->context == ORACLE_GREEDY;
	bool fixed = settings->context == ORACLE_FIXED;
	int b, status = -1, blas_held = 0;

	memset(result, 0, sizeof *result);
	memset(&s, 0, sizeof s);
	s.model = model;
	s.settings = settings;
	s.L = model->config.n_layer;
	s.N = model->config.n_ctx;
	s.tokens = tokens;
	s.n_tokens = n_tokens;
	s.bos = bos;
	s.err = err;
	if (n_tokens == 0)
		return error_set(err, "the text has no tokens");
	if (bos < 0 || bos >= model->config.n_vocab)
		return error_set(err, "BOS id %d is outside the vocabulary",
		    (int)bos);
	for (i = 0; i < n_tokens; i++)
		if (tokens[i] < 0 || tokens[i] >= model->config.n_vocab)
			return error_set(err, "token %zu has id %d, outside the "
			    "vocabulary of %d", i + 1, (int)tokens[i],
			    model->config.n_vocab);
	if (check_oracle_settings(&s, settings, err) != 0)
		goto done;
	s.n_routes = route_space_size(&s.space, s.L);
	s.exhaustive = settings->beam_width == 0 && s.n_routes != 0 &&
	    s.n_routes <= max_routes;
	s.width = settings->beam_width > 0 ? settings->beam_width :
	    ORACLE_DEFAULT_BEAM;
	/* a loss table and a KL table per token */
	if (s.exhaustive && (n_tokens > max_bytes / (2 * sizeof(float)) /
	    s.n_routes)) {
		error_set(err, "the loss and KL tables of %zu tokens over %llu "
		    "routes would take %.1f GiB, more than %.1f GiB; use a "
		    "shorter text, a smaller space or --beam", n_tokens,
		    (unsigned long long)s.n_routes, (double)n_tokens *
		    (double)s.n_routes * 8.0 / 1073741824.0,
		    (double)max_bytes / 1073741824.0);
		goto done;
	}
	/* a beam run keeps the losses of its random and fixed candidates
	 * for every token instead */
	if (!s.exhaustive && n_tokens > max_bytes / sizeof(float) / (2 +
	    (size_t)(s.L + 1) * ((settings->n_random > 0 ?
	    (size_t)settings->n_random : ORACLE_RANDOM_ROUTES) +
	    (size_t)s.width))) {
		error_set(err, "the losses of the random and fixed routes of "
		    "%zu tokens would take more than %.1f GiB; use a shorter "
		    "text", n_tokens, (double)max_bytes / 1073741824.0);
		goto done;
	}
	s.n_windows = text_window_count(n_tokens, s.N);
	result->n_layer = s.L;
	result->n_tokens = n_tokens;
	result->n_routes = s.n_routes;
	result->approximate = !s.exhaustive;
	result->beam_width = s.exhaustive ? 0 : s.width;
	if (random_routes_all(&s, result) != 0)
		goto done;
	result->budgets = array_new((size_t)s.n_budgets,
	    sizeof *result->budgets);
	/* big, small, best, six methods per budget, then the routers' */
	s.n_router_budgets = settings->router_mode == ROUTER_EXACT ?
	    s.n_budgets : 1;
	result->methods = calloc(3 + 6 * (size_t)s.n_budgets +
	    (size_t)settings->n_routers * (size_t)s.n_router_budgets,
	    sizeof *result->methods);
	oracle = calloc((size_t)s.n_budgets, sizeof *oracle);
	oracle_free = calloc((size_t)s.n_budgets, sizeof *oracle_free);
	if (result->budgets == NULL || result->methods == NULL ||
	    oracle == NULL || oracle_free == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memcpy(result->budgets, s.budgets, (size_t)s.n_budgets *
	    sizeof *s.budgets);
	result->n_budgets = s.n_budgets;
	if (s.exhaustive) {
		result->tables = array_new(n_tokens * (size_t)s.n_routes,
		    sizeof *result->tables);
		result->kl_tables = array_new(n_tokens * (size_t)s.n_routes,
		    sizeof *result->kl_tables);
		if (result->tables == NULL || result->kl_tables == NULL) {
			error_set(err, "out of memory for the loss tables");
			goto done;
		}
	}
	s.label_free = true;
	if (search_init(&s, model, settings, err) != 0)
		goto done;
	s.engine.progress = settings->progress;
	s.engine.progress_arg = settings->progress_arg;
	s.engine.cancel = settings->cancel;
	s.engine.work_total = expected_work(&s, result, greedy);
	/* The workers' products run on one BLAS thread each. */
	if ((blas_held = s.engine.n_workers > 1))
		linalg_workers_begin();
	start = wall_seconds();

	best = derive_add_method(result, METHOD_BEST, NULL, -1);
	for (b = 0; b < s.n_budgets; b++)
		if (best == NULL || (oracle[b] = derive_add_method(result,
		    METHOD_ORACLE, NULL, s.budgets[b])) == NULL ||
		    (oracle_free[b] = derive_add_method(result,
		    METHOD_ORACLE_FREE, NULL, s.budgets[b])) == NULL) {
			error_set(err, "out of memory for the results");
			goto done;
		}
	if (settings->n_routers > 0 && routers_init(&s, result) != 0)
		goto done;

	if (s.exhaustive) {
		if (search_table_pass(&s, s.all_codes, (size_t)s.n_routes,
		    fixed, result->tables, result->kl_tables) != 0)
			goto done;
		/* the walk's logits are no longer needed */
		for (b = 0; b < s.n_router_logits; b++) {
			free(s.router_logits[b]);
			s.router_logits[b] = NULL;
		}
		if (!greedy && (derive_from_tables(result, &s.space,
		    s.route_budget, result->tables, oracle, best, err) != 0 ||
		    derive_label_free(result, &s.space, s.route_budget,
		    result->tables, result->kl_tables, oracle_free, err) != 0))
			goto done;
	} else if (!greedy) {
		if (search_beam_pass(&s, fixed, oracle, best,
		    oracle_free) != 0)
			goto done;
	}
	if (greedy && s.exhaustive && !settings->greedy_apart) {
		if (search_greedy_together(&s, oracle, oracle_free, best) != 0)
			goto done;
	} else if (greedy) {
		for (b = 0; b < s.n_budgets; b++)
			if (search_greedy_pass(&s, s.budgets[b], false,
			    oracle[b]) != 0 ||
			    search_greedy_pass(&s, s.budgets[b], true,
			    oracle_free[b]) != 0)
				goto done;
		if (search_greedy_pass(&s, -1, false, best) != 0)
			goto done;
	}
	if (shuffled_methods(&s, result, oracle, s.exhaustive && !greedy) != 0)
		goto done;
	if (settings->n_routers > 0 && s.router_logits == NULL) {
		if (search_routers_pass(&s) != 0)
			goto done;
		if (!greedy && score_router_routes(&s) != 0)
			goto done;
	}
	if (s.exhaustive) {
		status = derive_from_columns(result, &s.space, s.all_codes,
		    (size_t)s.n_routes, result->tables, err);
	} else {
		if (search_beam_columns(&s, result, oracle, &columns_codes,
		    &n_columns) != 0)
			goto done;
		columns = array_new(n_tokens * n_columns, sizeof *columns);
		if (columns == NULL) {
			error_set(err, "out of memory");
			goto done;
		}
		if (search_table_pass(&s, columns_codes, n_columns, fixed,
		    columns, NULL) != 0)
			goto done;
		status = derive_from_columns(result, &s.space, columns_codes,
		    n_columns, columns, err);
	}
done:
	if (s.engine.workers != NULL) {
		for (b = 0; b < s.engine.n_workers; b++) {
			result->flops += s.engine.workers[b].flops;
			result->route_tokens +=
			    s.engine.workers[b].route_tokens;
		}
		if (start > 0.0)
			result->seconds = wall_seconds() - start;
	}
	if (blas_held)
		linalg_workers_end();
	free(columns);
	free(columns_codes);
	free(oracle);
	free(oracle_free);
	search_free(&s);
	if (status != 0)
		oracle_result_free(result);
	return status;
}

/* --- losses of given routes --------------------------------------------- */

/*
 * A search on one thread over a text, for the plain entry points below
 * (settings must outlive it); search_free() it even when this fails.
 */
static int
plain_search(struct search *s, struct oracle_settings *settings,
    const struct duo_model *model, const int32_t *tokens, size_t n_tokens,
    int32_t bos, struct duo_error *err)
{
	settings->n_threads = 1;
	memset(s, 0, sizeof *s);
	s->model = model;
	s->settings = settings;
	s->L = model->config.n_layer;
	s->N = model->config.n_ctx;
	s->tokens = tokens;
	s->n_tokens = n_tokens;
	s->bos = bos;
	s->err = err;
	if (check_oracle_settings(s, settings, err) != 0 ||
	    search_init(s, model, settings, err) != 0)
		return -1;
	s->n_windows = text_window_count(n_tokens, s->N);
	return 0;
}

int
oracle_score_routes(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, enum oracle_context context,
    const uint8_t *context_route, const uint8_t *routes, float *losses,
    struct duo_error *err)
{
	struct oracle_settings settings;
	struct search s;
	struct walk_evaluation ev;
	struct window *win = &s.window;
	uint64_t *codes = NULL;
	float *out = NULL;
	uint8_t *window_routes = NULL;
	size_t w, n, i, token;
	int L = model->config.n_layer, N = model->config.n_ctx, t, R;
	int status = -1;

	for (i = 0; i < n_tokens * (size_t)L; i++)
		if (routes[i] > CHOICE_SKIP)
			return error_set(err, "route choice %d for token %zu",
			    routes[i], i / (size_t)L + 1);
	oracle_settings_default(&settings);
	route_space_parse(&settings.space, "BS.", NULL);
	settings.context = context;
	settings.context_route = context_route;
	if (plain_search(&s, &settings, model, tokens, n_tokens, bos,
	    err) != 0)
		goto done;
	codes = array_new((size_t)N, sizeof *codes);
	out = array_new((size_t)N * (size_t)N, sizeof *out);
	window_routes = array_new((size_t)N * (size_t)L, 1);
	if (codes == NULL || out == NULL || window_routes == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memset(&ev, 0, sizeof ev);
	ev.engine = &s.engine;
	for (w = 0; w < s.n_windows; w++) {
		search_load_window(&s, w);
		R = win->T - 1;
		if (context == ORACLE_GREEDY) {
			/* a router's own choices are its context: one pass */
			for (t = 0; t < win->T; t++)
				memcpy(window_routes + (size_t)t * L, routes +
				    (win->first + (size_t)(t < R ? t : R - 1)) *
				    (size_t)L, (size_t)L);
			if (model_window_losses(model, s.engine.ws, win->ids,
			    win->T, window_routes, losses + win->first,
			    err) != 0)
				goto done;
			continue;
		}
		for (t = 0; t < R; t++)
			codes[t] = route_encode(&s.space, routes +
			    (win->first + (size_t)t) * (size_t)L, L);
		if (context == ORACLE_SHARED) {
			n = route_codes_sort_unique(codes, (size_t)R);
			ev.rows = R;
			ev.inputs = win->ids;
			ev.targets = win->ids + 1;
			ev.positions = NULL;
			ev.codes = codes;
			ev.n_codes = n;
			ev.out = out;
			ev.ld = n;
			walk_evaluate(&ev, 0, false);
			for (t = 0; t < R; t++) {
				token = win->first + (size_t)t;
				i = route_codes_lower_bound(codes, 0, n,
				    route_encode(&s.space, routes + token *
				    (size_t)L, L));
				losses[token] = out[(size_t)t * n + i];
			}
			continue;
		}
		/* fixed: each position alone against the context's cache */
		if (search_cache_context(&s) != 0)
			goto done;
		for (t = 0; t < R; t++) {
			uint64_t code = codes[t];

			ev.rows = 1;
			ev.inputs = win->ids + t;
			ev.targets = win->ids + t + 1;
			ev.positions = win->positions + t;
			ev.cache = &s.cache;
			ev.codes = &code;
			ev.n_codes = 1;
			ev.out = out;
			ev.ld = 1;
			walk_evaluate(&ev, 0, false);
			losses[win->first + (size_t)t] = out[0];
		}
	}
	status = 0;
done:
	free(codes);
	free(out);
	free(window_routes);
	search_free(&s);
	return status;
}

/* --- states along given routes ------------------------------------------ */

int
oracle_capture_states(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct route_space *space,
    const uint64_t *codes, float *states, struct duo_error *err)
{
	struct oracle_settings settings;
	struct search s;
	struct walk_evaluation ev;
	struct window *win = &s.window;
	uint64_t *unique = NULL;
	float *out = NULL;
	size_t w, n, C = (size_t)model->config.d_model;
	int L = model->config.n_layer, N = model->config.n_ctx, R;
	int status = -1;

	oracle_settings_default(&settings);
	settings.space = *space;
	if (plain_search(&s, &settings, model, tokens, n_tokens, bos,
	    err) != 0)
		goto done;
	unique = array_new((size_t)N, sizeof *unique);
	out = array_new((size_t)N * (size_t)N, sizeof *out);
	if (unique == NULL || out == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memset(&ev, 0, sizeof ev);
	ev.engine = &s.engine;
	for (w = 0; w < s.n_windows; w++) {
		search_load_window(&s, w);
		R = win->T - 1;
		memcpy(unique, codes + win->first, (size_t)R * sizeof *unique);
		n = route_codes_sort_unique(unique, (size_t)R);
		ev.rows = R;
		ev.inputs = win->ids;
		ev.targets = win->ids + 1;
		ev.positions = NULL;
		ev.codes = unique;
		ev.n_codes = n;
		ev.out = out;
		ev.ld = n;
		ev.capture = states + win->first * (size_t)L * C;
		ev.row_codes = codes + win->first;
		walk_evaluate(&ev, 0, false);
	}
	status = 0;
done:
	free(unique);
	free(out);
	search_free(&s);
	return status;
}

