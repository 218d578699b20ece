/*
 * names.h - the names a run is described by, one table each: the methods
 * it compares (doc/design.md section 5), the route spaces and the context
 * modes, with the one-line descriptions that duo(1) and the browser show.
 * The store's checks, the summary of "duo run", the browser's lists and
 * tests/test_names.c (against duo(1), duo-db(5) and the schema's CHECK
 * constraints) all read these tables, so that adding a method is one row
 * here, its enum constant, and its computation (derive.c, search.c).
 *
 * This module owns names and words only: it must not know how a method
 * is computed, stored or drawn, and it includes nothing else of duo's, so
 * that every module may use it.
 */
#ifndef DUO_NAMES_H
#define DUO_NAMES_H

#include <stdbool.h>

/* The methods, in the order every list shows them. */
enum method_id {
	METHOD_ORACLE,
	METHOD_BIG,
	METHOD_SMALL,
	METHOD_BEST,
	METHOD_FIXED,
	METHOD_RANDOM_BEST,
	METHOD_RANDOM_MEAN,
	METHOD_ORACLE_FREE,
	METHOD_SHUFFLED,
	METHOD_ROUTER,
	N_METHODS
};

struct method_info {
	const char *name;       /* as stored; for a named method the prefix
				   its NAME follows ("router:") */
	bool per_budget;        /* a row per budget k; else one row, whose
				   budget is its route's number of B's */
	bool has_route;         /* its rows carry a route */
	bool named;             /* one method per NAME (a learned router) */
	const char *description;
};

extern const struct method_info method_table[N_METHODS];

/* The method a stored name is (any "router:..." is METHOD_ROUTER; the
 * store checks the NAME), or -1. */
int method_find(const char *name);

/* A name from a small fixed set and the few words shown beside it. */
struct described_name {
	const char *name;
	const char *description;
};

/* The route spaces (route.h), in the order they are offered. */
#define N_ROUTE_SPACES 3
extern const struct described_name route_space_names[N_ROUTE_SPACES];

/* How the positions before the scored one are routed (oracle.h). */
enum oracle_context {
	ORACLE_SHARED,
	ORACLE_FIXED,
	ORACLE_GREEDY,
	N_CONTEXTS
};

extern const struct described_name context_names[N_CONTEXTS];

/* The context mode of that name, or -1. */
int context_find(const char *name);

#endif
