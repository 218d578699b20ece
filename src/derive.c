/*
 * derive.c - the methods of derive.h from the losses the search computed.
 */
#include "derive.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "rng.h"

struct oracle_method *
derive_add_method(struct oracle_result *result, enum method_id id,
    const char *name, int budget)
{
	struct oracle_method *m = &result->methods[result->n_methods];
	bool has_routes = method_table[id].has_route;

	m->name = name != NULL ? name : method_table[id].name;
	m->budget = budget;
	m->losses = array_new(result->n_tokens, sizeof *m->losses);
	m->routes = has_routes ? array_new(result->n_tokens *
	    (size_t)result->n_layer, 1) : NULL;
	if (m->losses == NULL || (has_routes && m->routes == NULL)) {
		free(m->losses);
		free(m->routes);
		return NULL;
	}
	result->n_methods++;
	return m;
}

void
derive_set_route(const struct route_space *space, int n_layer,
    struct oracle_method *method, size_t token, uint64_t code, float loss)
{
	method->losses[token] = loss;
	if (method->routes != NULL)
		route_decode(space, code, n_layer,
		    method->routes + token * (size_t)n_layer);
}

/*
 * The lowest value of row (n_routes entries, by route code) at each budget
 * 0..L, and its route code: codes ascend, so the first of equal values is
 * kept.  The oracle takes it over losses, oracle_free over divergences.
 */
static void
lowest_by_budget(const float *row, uint64_t n_routes,
    const uint8_t *route_budget, int L, float *lowest, uint64_t *argmin)
{
	uint64_t c;
	int k;

	for (k = 0; k <= L; k++) {
		lowest[k] = INFINITY;
		argmin[k] = UINT64_MAX;
	}
	for (c = 0; c < n_routes; c++) {
		k = route_budget[c];
		if (argmin[k] == UINT64_MAX || row[c] < lowest[k]) {
			lowest[k] = row[c];
			argmin[k] = c;
		}
	}
}

int
derive_from_tables(const struct oracle_result *result,
    const struct route_space *space, const uint8_t *route_budget,
    const float *tables, struct oracle_method **oracle,
    struct oracle_method *best, struct duo_error *err)
{
	int L = result->n_layer;
	float *lowest = array_new((size_t)L + 1, sizeof *lowest);
	uint64_t *argmin = array_new((size_t)L + 1, sizeof *argmin);
	size_t p;
	int k, i;

	if (lowest == NULL || argmin == NULL) {
		free(lowest);
		free(argmin);
		return error_set(err, "out of memory");
	}
	for (p = 0; p < result->n_tokens; p++) {
		lowest_by_budget(tables + p * result->n_routes,
		    result->n_routes, route_budget, L, lowest, argmin);
		for (i = 0; i < result->n_budgets; i++)
			if (oracle[i] != NULL)
				derive_set_route(space, L, oracle[i], p,
				    argmin[result->budgets[i]],
				    lowest[result->budgets[i]]);
		if (best != NULL) {
			k = 0;
			for (i = 1; i <= L; i++)
				if (lowest[i] < lowest[k] ||
				    (lowest[i] == lowest[k] &&
				    argmin[i] < argmin[k]))
					k = i;
			derive_set_route(space, L, best, p, argmin[k],
			    lowest[k]);
		}
	}
	free(lowest);
	free(argmin);
	return 0;
}

int
derive_label_free(const struct oracle_result *result,
    const struct route_space *space, const uint8_t *route_budget,
    const float *tables, const float *kl_tables,
    struct oracle_method **oracle_free, struct duo_error *err)
{
	int L = result->n_layer;
	float *lowest = array_new((size_t)L + 1, sizeof *lowest);
	uint64_t *argmin = array_new((size_t)L + 1, sizeof *argmin);
	uint64_t c;
	size_t p;
	int i;

	if (lowest == NULL || argmin == NULL) {
		free(lowest);
		free(argmin);
		return error_set(err, "out of memory");
	}
	for (p = 0; p < result->n_tokens; p++) {
		lowest_by_budget(kl_tables + p * result->n_routes,
		    result->n_routes, route_budget, L, lowest, argmin);
		for (i = 0; i < result->n_budgets; i++) {
			c = argmin[result->budgets[i]];
			derive_set_route(space, L, oracle_free[i], p, c,
			    tables[p * result->n_routes + c]);
		}
	}
	free(lowest);
	free(argmin);
	return 0;
}

void
derive_shuffle_order(size_t n, uint64_t seed, size_t *order)
{
	uint64_t state = seed;
	size_t i, j, swap;
	bool derangement;

	/* a stream of its own, apart from the random routes' of the same
	 * seed */
	state = rng_next(&state) ^ 0x73687566666c6564ULL;
	do {
		for (i = 0; i < n; i++)
			order[i] = i;
		for (i = n; i > 1; i--) {
			j = (size_t)rng_below(&state, (uint64_t)i);
			swap = order[i - 1];
			order[i - 1] = order[j];
			order[j] = swap;
		}
		derangement = true;
		for (i = 0; n > 1 && i < n; i++)
			if (order[i] == i)
				derangement = false;
	} while (!derangement);
}

void
derive_shuffled(const struct oracle_result *result,
    const struct route_space *space, struct oracle_method **oracle,
    const size_t *order, const float *tables,
    struct oracle_method **shuffled)
{
	size_t L = (size_t)result->n_layer, p;
	uint8_t *route;
	uint64_t code;
	int b;

	for (b = 0; b < result->n_budgets; b++)
		for (p = 0; p < result->n_tokens; p++) {
			route = shuffled[b]->routes + p * L;
			memcpy(route, oracle[b]->routes + order[p] * L, L);
			if (tables == NULL)
				continue;
			code = route_encode(space, route, (int)L);
			shuffled[b]->losses[p] = tables[p * result->n_routes +
			    code];
		}
}

int
derive_from_columns(struct oracle_result *result,
    const struct route_space *space, const uint64_t *codes, size_t n,
    const float *columns, struct duo_error *err)
{
	int L = result->n_layer;
	double *sums = calloc(n == 0 ? 1 : n, sizeof *sums), mean;
	struct oracle_method *method, *fixed, *rbest, *rmean;
	uint64_t special[2], code;
	static const enum method_id special_methods[2] = { METHOD_BIG,
	    METHOD_SMALL };
	size_t p, i, col, best_col;
	int b, k, j, kb, nr;

	if (sums == NULL)
		return error_set(err, "out of memory");
	for (p = 0; p < result->n_tokens; p++)
		for (i = 0; i < n; i++)
			sums[i] += columns[p * n + i];
	special[0] = route_uniform_code(space, L, CHOICE_BIG);
	special[1] = route_uniform_code(space, L, CHOICE_SMALL);
	for (j = 0; j < 2; j++) {
		if (special[j] == UINT64_MAX)
			continue;
		col = route_codes_lower_bound(codes, 0, n, special[j]);
		method = derive_add_method(result, special_methods[j], NULL,
		    -1);
		if (method == NULL)
			goto nomem;
		for (p = 0; p < result->n_tokens; p++)
			derive_set_route(space, L, method, p, special[j],
			    columns[p * n + col]);
	}
	for (b = 0; b < result->n_budgets; b++) {
		k = result->budgets[b];
		/* fixed@k: the lowest total; sums in double */
		best_col = SIZE_MAX;
		for (i = 0; i < n; i++)
			if (route_code_budget(space, L, codes[i]) == k &&
			    (best_col == SIZE_MAX || sums[i] < sums[best_col]))
				best_col = i;
		fixed = derive_add_method(result, METHOD_FIXED, NULL, k);
		if (fixed == NULL)
			goto nomem;
		for (p = 0; p < result->n_tokens; p++)
			derive_set_route(space, L, fixed, p, codes[best_col],
			    columns[p * n + best_col]);
		rbest = derive_add_method(result, METHOD_RANDOM_BEST, NULL, k);
		rmean = derive_add_method(result, METHOD_RANDOM_MEAN, NULL, k);
		if (rbest == NULL || rmean == NULL)
			goto nomem;
		nr = result->n_random_per_budget[b];
		best_col = SIZE_MAX;
		for (kb = 0; kb < nr; kb++) {
			code = result->random_codes[(size_t)b *
			    (size_t)result->n_random + (size_t)kb];
			col = route_codes_lower_bound(codes, 0, n, code);
			if (best_col == SIZE_MAX || sums[col] < sums[best_col])
				best_col = col;
		}
		for (p = 0; p < result->n_tokens; p++) {
			derive_set_route(space, L, rbest, p, codes[best_col],
			    columns[p * n + best_col]);
			mean = 0.0;
			for (kb = 0; kb < nr; kb++) {
				code = result->random_codes[(size_t)b *
				    (size_t)result->n_random + (size_t)kb];
				col = route_codes_lower_bound(codes, 0, n,
				    code);
				mean += columns[p * n + col];
			}
			rmean->losses[p] = (float)(mean / nr);
		}
	}
	free(sums);
	return 0;
nomem:
	free(sums);
	return error_set(err, "out of memory for the results");
}

