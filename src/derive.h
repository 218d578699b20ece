/*
 * derive.h - the methods of a run (oracle.h) derived from the losses the
 * search computed: oracle@k and best from the full loss tables; big,
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
 * Add big, small, fixed@k, random_best@k and random_mean@k to the result
 * from the losses of the routes codes (n_tokens, n, ascending codes):
 * exact when codes are every route of the space.
 */
int derive_from_columns(struct oracle_result *result,
    const struct route_space *space, const uint64_t *codes, size_t n,
    const float *columns, struct duo_error *err);

#endif
