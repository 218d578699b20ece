/*
 * route.c - parsing and coding of routes and route spaces, and the
 * arithmetic of route codes: budgets, uniform routes, the routes of one
 * budget, random routes.
 */
#include "route.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "rng.h"

static const struct {
	char symbol;
	enum route_choice choice;
} route_symbols[] = {
	{ 'B', CHOICE_BIG },
	{ 'S', CHOICE_SMALL },
	{ '.', CHOICE_SKIP },
};

static int
symbol_choice(char symbol)
{
	size_t i;

	for (i = 0; i < sizeof route_symbols / sizeof route_symbols[0]; i++)
		if (route_symbols[i].symbol == symbol)
			return (int)route_symbols[i].choice;
	return -1;
}

char
route_choice_char(enum route_choice c)
{
	size_t i;

	for (i = 0; i < sizeof route_symbols / sizeof route_symbols[0]; i++)
		if (route_symbols[i].choice == c)
			return route_symbols[i].symbol;
	return '?';
}

int
route_space_parse(struct route_space *space, const char *name,
    struct duo_error *err)
{
	const char *valid;
	size_t i;
	int d;

	for (i = 0; i < N_ROUTE_SPACES; i++) {
		valid = route_space_names[i].name;
		if (strcmp(name, valid) != 0)
			continue;
		memset(space, 0, sizeof *space);
		strcpy(space->name, valid);
		space->n_choices = (int)strlen(valid);
		for (d = 0; d < space->n_choices; d++)
			space->choices[d] = (enum route_choice)symbol_choice(
			    valid[d]);
		return 0;
	}
	return error_set(err,
	    "route space '%s' is not one of BS, B. or BS.", name);
}

int
route_parse(const char *text, int n_layer, uint8_t *choices,
    struct duo_error *err)
{
	size_t length = strlen(text);
	int l, c;

	if (length != (size_t)n_layer)
		return error_set(err,
		    "route '%s' has %zu characters; the model has %d layers",
		    text, length, n_layer);
	for (l = 0; l < n_layer; l++) {
		c = symbol_choice(text[l]);
		if (c < 0)
			return error_set(err,
			    "route '%s': character %d is '%c'; a route uses "
			    "only B, S and .", text, l + 1,
			    text[l] >= 32 && text[l] < 127 ? text[l] : '?');
		choices[l] = (uint8_t)c;
	}
	return 0;
}

void
route_format(const uint8_t *choices, int n_layer, char *text)
{
	int l;

	for (l = 0; l < n_layer; l++)
		text[l] = route_choice_char((enum route_choice)choices[l]);
	text[n_layer] = '\0';
}

int
route_budget(const uint8_t *choices, int n_layer)
{
	int l, k = 0;

	for (l = 0; l < n_layer; l++)
		k += choices[l] == CHOICE_BIG;
	return k;
}

/* The digit of a choice in the space, 0 when the space has no such
 * choice (route_encode's rule). */
static int
choice_digit(const struct route_space *space, uint8_t choice)
{
	int d;

	for (d = 0; d < space->n_choices; d++)
		if (space->choices[d] == choice)
			return d;
	return 0;
}

uint64_t
route_encode(const struct route_space *space, const uint8_t *choices,
    int n_layer)
{
	uint64_t code = 0;
	int l;

	for (l = 0; l < n_layer; l++)
		code = code * (uint64_t)space->n_choices +
		    (uint64_t)choice_digit(space, choices[l]);
	return code;
}

void
route_decode(const struct route_space *space, uint64_t code, int n_layer,
    uint8_t *choices)
{
	int l;

	for (l = n_layer - 1; l >= 0; l--) {
		choices[l] = (uint8_t)space->choices[code %
		    (uint64_t)space->n_choices];
		code /= (uint64_t)space->n_choices;
	}
}

uint64_t
route_space_size(const struct route_space *space, int n_layer)
{
	uint64_t size = 1;
	int l;

	for (l = 0; l < n_layer; l++) {
		if (size > UINT64_MAX / (uint64_t)space->n_choices)
			return 0;
		size *= (uint64_t)space->n_choices;
	}
	return size;
}

int
route_space_digit(const struct route_space *space, enum route_choice c)
{
	int d;

	for (d = 0; d < space->n_choices; d++)
		if (space->choices[d] == c)
			return d;
	return -1;
}

int
route_code_budget(const struct route_space *space, int n_layer,
    uint64_t code)
{
	int l, k = 0;

	for (l = 0; l < n_layer; l++) {
		k += space->choices[code % (uint64_t)space->n_choices] ==
		    CHOICE_BIG;
		code /= (uint64_t)space->n_choices;
	}
	return k;
}

uint64_t
route_uniform_code(const struct route_space *space, int n_layer,
    enum route_choice c)
{
	uint64_t code = 0;
	int d = route_space_digit(space, c), l;

	if (d < 0)
		return UINT64_MAX;
	for (l = 0; l < n_layer; l++)
		code = code * (uint64_t)space->n_choices + (uint64_t)d;
	return code;
}

/* Every code with exactly k B's in layers l .. n_layer - 1 below the
 * prefix code, ascending, into codes (at most max). */
static void
enumerate_below(const struct route_space *space, int n_layer, int l, int k,
    uint64_t code, uint64_t *codes, size_t *n, size_t max)
{
	int d, big;

	if (l == n_layer) {
		if (k == 0 && *n < max)
			codes[(*n)++] = code;
		return;
	}
	for (d = 0; d < space->n_choices; d++) {
		big = space->choices[d] == CHOICE_BIG;
		if (k - big < 0 || k - big > n_layer - l - 1)
			continue;
		enumerate_below(space, n_layer, l + 1, k - big,
		    code * (uint64_t)space->n_choices + (uint64_t)d, codes, n,
		    max);
	}
}

size_t
route_enumerate_budget(const struct route_space *space, int n_layer, int k,
    uint64_t *codes, size_t max)
{
	size_t n = 0;

	enumerate_below(space, n_layer, 0, k, 0, codes, &n, max);
	return n;
}

double
route_budget_count(const struct route_space *space, int n_layer, int k)
{
	double count = 1.0;
	int i;

	for (i = 1; i <= k; i++)
		count = count * (double)(n_layer - k + i) / (double)i;
	return count * pow((double)(space->n_choices - 1), n_layer - k);
}

static int
compare_codes(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void
route_codes_sort(uint64_t *codes, size_t n)
{
	qsort(codes, n, sizeof *codes, compare_codes);
}

size_t
route_codes_sort_unique(uint64_t *codes, size_t n)
{
	size_t i, j = 0;

	qsort(codes, n, sizeof *codes, compare_codes);
	for (i = 0; i < n; i++)
		if (j == 0 || codes[i] != codes[j - 1])
			codes[j++] = codes[i];
	return j;
}

int
route_random_codes(const struct route_space *space, int n_layer, int k,
    int n, uint64_t seed, uint64_t *codes, int *n_codes,
    struct duo_error *err)
{
	uint64_t state = seed, code;
	size_t found = 0, i;
	int layers[DUO_MAX_LAYERS], big[DUO_MAX_LAYERS], l, j, t, swap;
	int other;

	*n_codes = 0;
	if (k < 0 || k > n_layer || n < 0)
		return error_set(err, "random routes: budget %d of %d layers",
		    k, n_layer);
	/* a stream per seed and budget: mixed, so that near seeds do not
	 * give shifted copies of one stream */
	state = rng_next(&state) ^ ((uint64_t)k * 0xd1b54a32d192ed03ULL);
	if (route_space_digit(space, CHOICE_BIG) != 0)
		return error_set(err, "random routes: space %s has no B first",
		    space->name);
	if (route_budget_count(space, n_layer, k) <= (double)n) {
		*n_codes = (int)route_enumerate_budget(space, n_layer, k, codes,
		    (size_t)n);
		return 0;
	}
	if (n_layer > DUO_MAX_LAYERS || route_space_size(space, n_layer) == 0)
		return error_set(err, "random routes: %d layers are too many",
		    n_layer);
	while (found < (size_t)n) {
		/* a uniform k-subset of the layers by a partial shuffle, then
		 * a uniform non-B choice at each other layer: every route
		 * with k B's has the same chance */
		for (l = 0; l < n_layer; l++) {
			layers[l] = l;
			big[l] = 0;
		}
		for (j = 0; j < k; j++) {
			t = j + (int)rng_below(&state,
			    (uint64_t)(n_layer - j));
			swap = layers[j];
			layers[j] = layers[t];
			layers[t] = swap;
			big[layers[j]] = 1;
		}
		code = 0;
		for (l = 0; l < n_layer; l++) {
			other = big[l] ? 0 : 1 + (int)rng_below(&state,
			    (uint64_t)(space->n_choices - 1));
			code = code * (uint64_t)space->n_choices +
			    (uint64_t)other;
		}
		for (i = 0; i < found && codes[i] != code; i++)
			;
		if (i == found)
			codes[found++] = code;
	}
	qsort(codes, found, sizeof *codes, compare_codes);
	*n_codes = (int)found;
	return 0;
}
