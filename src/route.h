/*
 * route.h - routes and route spaces as people write them.
 *
 * A route is L characters, layer 0 first, from 'B' (big), 'S' (small) and
 * '.' (skip).  A route space is the string of allowed choices: "BS", "B."
 * or "BS." (their table is names.h's).  A route's code is the route read as a number in base
 * |space|, layer 0 the most significant digit, each choice's digit its
 * index in the space's name (doc/design.md section 7).
 *
 * This module owns the route code and its arithmetic (budgets, uniform
 * routes, the routes of one budget, random routes); it must not touch a
 * model's weights or the search that scores routes (walk.h, oracle.h).
 */
#ifndef DUO_ROUTE_H
#define DUO_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

struct route_space {
	char name[4];                 /* "BS", "B." or "BS." */
	int n_choices;
	enum route_choice choices[3]; /* digit -> choice */
};

/* Parse "BS", "B." or "BS."; anything else is an error naming it. */
int route_space_parse(struct route_space *space, const char *name,
    struct duo_error *err);

/* Parse a route of n_layer characters into choices (enum route_choice). */
int route_parse(const char *text, int n_layer, uint8_t *choices,
    struct duo_error *err);
/* Write n_layer characters and a NUL into text (n_layer + 1 bytes). */
void route_format(const uint8_t *choices, int n_layer, char *text);

char route_choice_char(enum route_choice c);
/* Number of big modules in a route. */
int route_budget(const uint8_t *choices, int n_layer);

/* Route code <-> choices within a space (digit index, not enum value). */
uint64_t route_encode(const struct route_space *space, const uint8_t *choices,
    int n_layer);
void route_decode(const struct route_space *space, uint64_t code, int n_layer,
    uint8_t *choices);
/* |space|^n_layer, or 0 if it does not fit in 64 bits. */
uint64_t route_space_size(const struct route_space *space, int n_layer);

/* The digit of choice c in the space, or -1 when the space has none. */
int route_space_digit(const struct route_space *space, enum route_choice c);
/* Number of B's in a route code of the space. */
int route_code_budget(const struct route_space *space, int n_layer,
    uint64_t code);
/* The code of the route with choice c at every layer, or UINT64_MAX when
 * the space has no such choice. */
uint64_t route_uniform_code(const struct route_space *space, int n_layer,
    enum route_choice c);
/* Every code of the space with exactly k B's, ascending, into codes (at
 * most max of them); returns how many. */
size_t route_enumerate_budget(const struct route_space *space, int n_layer,
    int k, uint64_t *codes, size_t max);
/* Routes of the space with exactly k B's, as a double (it may be huge). */
double route_budget_count(const struct route_space *space, int n_layer,
    int k);
/* The first index in codes[lo .. hi - 1] (ascending) whose code is >=
 * value; inline, since the walk calls it for every node and choice. */
static inline size_t
route_codes_lower_bound(const uint64_t *codes, size_t lo, size_t hi,
    uint64_t value)
{
	size_t mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (codes[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Sort codes ascending, repeats kept. */
void route_codes_sort(uint64_t *codes, size_t n);
/* Sort codes ascending and drop repeats; returns the new count. */
size_t route_codes_sort_unique(uint64_t *codes, size_t n);

/*
 * The random routes of budget k: min(n, count) distinct route codes of
 * the space with exactly k B's, uniform, ascending, the same for the same
 * seed; *n_codes says how many.  codes holds n.
 */
int route_random_codes(const struct route_space *space, int n_layer, int k,
    int n, uint64_t seed, uint64_t *codes, int *n_codes,
    struct duo_error *err);

#endif
