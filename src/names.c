/* names.c - the tables of names.h. */
#include "names.h"

#include <string.h>

const struct method_info method_table[N_METHODS] = {
	[METHOD_ORACLE] = { "oracle", true, true, false,
	    "per token, the lowest-loss route with exactly k big modules" },
	[METHOD_BIG] = { "big", false, true, false,
	    "the big module at every layer (all-B)" },
	[METHOD_SMALL] = { "small", false, true, false,
	    "the small module at every layer (all-S), where the space has it" },
	[METHOD_BEST] = { "best", false, true, false,
	    "per token, the lowest-loss route of the whole space" },
	[METHOD_FIXED] = { "fixed", true, true, false,
	    "one route with k big modules for the whole run, the lowest mean "
	    "loss" },
	[METHOD_RANDOM_BEST] = { "random_best", true, true, false,
	    "of 100 random routes with k big modules, the one of lowest mean "
	    "loss" },
	[METHOD_RANDOM_MEAN] = { "random_mean", true, false, false,
	    "the mean loss of those 100 random routes, which has no route" },
	[METHOD_ORACLE_FREE] = { "oracle_free", true, true, false,
	    "per token, the route with k big modules closest to all-big (KL), "
	    "label-free" },
	[METHOD_SHUFFLED] = { "shuffled", true, true, false,
	    "the oracle route of another token (a seeded permutation), scored "
	    "on this one" },
	[METHOD_ROUTER] = { "router:", true, true, true,
	    "the route learned router NAME chooses, layer by layer" },
};

int
method_find(const char *name)
{
	int i;

	for (i = 0; i < N_METHODS; i++)
		if (method_table[i].named ? strncmp(name, method_table[i].name,
		    strlen(method_table[i].name)) == 0 :
		    strcmp(name, method_table[i].name) == 0)
			return i;
	return -1;
}

const struct described_name route_space_names[N_ROUTE_SPACES] = {
	{ "BS", "big or small at each layer" },
	{ "B.", "big or skip" },
	{ "BS.", "big, small or skip" },
};

const struct described_name context_names[N_CONTEXTS] = {
	[ORACLE_SHARED] = { "shared", "the window takes the route" },
	[ORACLE_FIXED] = { "fixed", "earlier tokens all-big" },
	[ORACLE_GREEDY] = { "greedy", "earlier tokens keep theirs" },
};

int
context_find(const char *name)
{
	int i;

	for (i = 0; i < N_CONTEXTS; i++)
		if (strcmp(name, context_names[i].name) == 0)
			return i;
	return -1;
}
