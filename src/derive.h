/*
 * derive.h - the methods of a run (oracle.h) derived from the losses the
 * search computed: oracle@k and best from the full loss tables,
 * oracle_free@k from the KL tables, shuffled@k from oracle@k; big,
 * small, fixed@k, random_best@k and random_mean@k from the loss columns
 * of chosen routes (every route in an exhaustive run, the beam run's
 * candidates otherwise); and the method rows of a result they fill.
 *
 * This module owns how a method's route and loss follow from losses.  It
 * must not evaluate a route (walk.h, search.h) nor decide which routes
 * are evaluated; it reads the result's budgets and random routes, set
 * before it is called.  Ties go to the lowest route code.
 */
#ifndef DUO_DERIVE_H
#define DUO_DERIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "names.h"
#include "oracle.h"
#include "route.h"

/* Add a method to result->methods at a budget, named as in the table or
 * name (static; a router's "router:NAME"), with room for every token's
 * loss and, if the method has one, route; NULL when out of memory. */
struct oracle_method *derive_add_method(struct oracle_result *result,
    enum method_id id, const char *name, int budget);

/* Set a method's loss and, if it keeps routes, route (a code of the space)
 * at a token. */
void derive_set_route(const struct route_space *space, int n_layer,
    struct oracle_method *method, size_t token, uint64_t code, float loss);

/*
 * oracle@k (oracle[b] for result->budgets[b]; NULL ones skipped) and best
 * per token from the full tables (n_tokens, n_routes); route_budget[c] is
 * route c's number of B's.
 */
int derive_from_tables(const struct oracle_result *result,
    const struct route_space *space, const uint8_t *route_budget,
    const float *tables, struct oracle_method **oracle,
    struct oracle_method *best, struct duo_error *err);

/*
 * oracle_free@k (oracle_free[b] for result->budgets[b]) per token from the
 * KL tables (n_tokens, n_routes): the route with exactly k B's whose
 * next-token distribution is the least KL divergence from the all-B
 * route's (ties to the lowest code), chosen without the token's loss,
 * then scored by its loss in tables.
 */
int derive_label_free(const struct oracle_result *result,
    const struct route_space *space, const uint8_t *route_budget,
    const float *tables, const float *kl_tables,
    struct oracle_method **oracle_free, struct duo_error *err);

/*
 * The order of the shuffled method: order[i] = j means that token i + 1
 * takes the oracle route of token j + 1.  A uniform random derangement of
 * 0 .. n - 1 from seed (no token keeps its own) when n > 1, by shuffles
 * drawn until one has no fixed point; the identity when n is 1.
 */
void derive_shuffle_order(size_t n, uint64_t seed, size_t *order);

/*
 * shuffled@k's routes (shuffled[b] for result->budgets[b]): token p takes
 * oracle[b]'s route of token order[p]; with tables (n_tokens, n_routes)
 * its loss is that route's in token p's table, else the caller scores
 * the routes (a beam or greedy run keeps no tables in its context).
 */
void derive_shuffled(const struct oracle_result *result,
    const struct route_space *space, struct oracle_method **oracle,
    const size_t *order, const float *tables,
    struct oracle_method **shuffled);

/*
 * Add big, small, fixed@k, random_best@k and random_mean@k to the result
 * from the losses of the routes codes (n_tokens, n, ascending codes):
 * exact when codes are every route of the space.
 */
int derive_from_columns(struct oracle_result *result,
    const struct route_space *space, const uint64_t *codes, size_t n,
    const float *columns, struct duo_error *err);

#endif
