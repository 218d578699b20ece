/* route.c - parsing and coding of routes and route spaces. */
#include "route.h"

#include <string.h>

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
	static const char *const valid[] = { "BS", "B.", "BS." };
	size_t i;
	int d;

	for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		if (strcmp(name, valid[i]) != 0)
			continue;
		memset(space, 0, sizeof *space);
		strcpy(space->name, valid[i]);
		space->n_choices = (int)strlen(valid[i]);
		for (d = 0; d < space->n_choices; d++)
			space->choices[d] = (enum route_choice)symbol_choice(
			    valid[i][d]);
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
