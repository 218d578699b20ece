/*
 * fuzz_parse.c - the parsers of what a person types: route spaces and
 * routes, context, router kind and mode, export format and method names,
 * and the option values of options.h (whole numbers, numbers, budget
 * lists, pairs).  The first byte picks the parser (and a layer count for
 * routes); the rest, up to a NUL, is the text.  Promises checked: no
 * crash; a refusal is one line; what is accepted is in range and, for
 * routes and spaces, formats back to the text.
 */
#include "fuzz.h"

#include <math.h>

#include "export.h"
#include "model.h"
#include "names.h"
#include "options.h"
#include "oracle.h"
#include "route.h"
#include "router.h"

#define TEXT_MAX 4096

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void
parse_route(const char *text, int n_layer)
{
	uint8_t choices[DUO_MAX_LAYERS];
	char back[DUO_MAX_LAYERS + 1];
	struct duo_error err;
	int l;

	if (route_parse(text, n_layer, choices, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return;
	}
	for (l = 0; l < n_layer; l++)
		FUZZ_CHECK(choices[l] <= CHOICE_SKIP, "choice %d", choices[l]);
	route_format(choices, n_layer, back);
	FUZZ_CHECK(strcmp(back, text) == 0, "route '%s' formats as '%s'",
	    text, back);
	FUZZ_CHECK(route_budget(choices, n_layer) <= n_layer, "budget");
}

static void
parse_space(const char *text)
{
	struct route_space space;
	struct duo_error err;

	if (route_space_parse(&space, text, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return;
	}
	FUZZ_CHECK(strcmp(space.name, text) == 0 && space.n_choices >= 2 &&
	    space.n_choices <= 3, "space '%s'", text);
}

static void
parse_names(const char *text)
{
	enum oracle_context context;
	enum router_kind kind;
	enum router_mode mode;
	enum export_format format;
	struct duo_error err;

	if (oracle_context_parse(text, &context, &err) == 0)
		FUZZ_CHECK(strcmp(oracle_context_name(context), text) == 0,
		    "context '%s'", text);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	if (router_kind_parse(text, &kind, &err) == 0)
		FUZZ_CHECK(strcmp(router_kind_name(kind), text) == 0,
		    "router kind '%s'", text);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	if (router_mode_parse(text, &mode, &err) == 0)
		FUZZ_CHECK(strcmp(router_mode_name(mode), text) == 0,
		    "router mode '%s'", text);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	(void)export_format_parse(text, &format);
	(void)method_find(text);
	(void)context_find(text);
	if (router_name_check(text, &err) != 0)
		FUZZ_CHECK_MESSAGE(err.message);
}

static void
parse_options(const char *text, int selector)
{
	struct duo_error err;
	double x, y;
	long v;
	int *list;
	size_t n, i;
	int max = selector % 2 == 0 ? DUO_MAX_LAYERS : 2147483647;

	if (option_long("--steps", text, -5, 1000000, &v, &err) == 0)
		FUZZ_CHECK(v >= -5 && v <= 1000000, "long %ld", v);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	if (option_double("--lr", text, 0.0, 10.0, &x, &err) == 0)
		FUZZ_CHECK(isfinite(x) && x >= 0.0 && x <= 10.0, "double %g",
		    x);
	else
		FUZZ_CHECK_MESSAGE(err.message);
	if (option_budgets("--budgets", text, max, &list, &n, &err) == 0) {
		FUZZ_CHECK(n >= 1 && n <= strlen(text), "%zu budgets", n);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(list[i] >= 0 && list[i] <= max,
			    "budget %d", list[i]);
		free(list);
	} else {
		FUZZ_CHECK_MESSAGE(err.message);
	}
	if (option_positive_pair("--sharpness", text, &x, &y, &err) == 0)
		FUZZ_CHECK(isfinite(x) && isfinite(y) && x > 0 && y > 0,
		    "pair %g,%g", x, y);
	else
		FUZZ_CHECK_MESSAGE(err.message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX + 1];
	size_t length;
	int selector;

	if (size < 1)
		return 0;
	selector = data[0];
	length = size - 1 < TEXT_MAX ? size - 1 : TEXT_MAX;
	memcpy(text, data + 1, length);
	text[length] = '\0';
	switch (selector % 4) {
	case 0:
		parse_route(text, 1 + selector / 4 % DUO_MAX_LAYERS);
		break;
	case 1:
		parse_space(text);
		break;
	case 2:
		parse_names(text);
		break;
	default:
		parse_options(text, selector / 4);
		break;
	}
	return 0;
}
