/*
 * cmd_convert.c - "duo convert": rewrite a model with F32 or F16 tensors,
 * or with --route write the dense model of one fixed route, which
 * llama.cpp reads as its 'deci' architecture (duo-model(5)).
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "route.h"
#include "router.h"
#include "sha256.h"
#include "store.h"

static const char convert_options[] =
    "Options:\n"
    "  -t, --type TYPE   tensor type of the new file: f32 or f16 (f16)\n"
    "  -r, --route R     write the dense model of route R (one of B, S, .\n"
    "                    per layer), or of RUN:METHOD@BUDGET, the one\n"
    "                    route of a stored result (fixed@4, say)\n"
    "  -d, --db FILE     database of RUN (default: $DUO_DB, else\n"
    "                    ~/.local/share/duo/runs.db)\n"
    "  -h, --help        show this help and exit\n"
    "\nWithout --route, keys, tokenizer, training facts and learned routers\n"
    "(kept in F32) are kept.  With --route, OUT has architecture 'deci':\n"
    "layer n holds the big module where R has B, the small one where S,\n"
    "and a module of width 1 with zero weights (adding nothing) where '.';\n"
    "llama.cpp reads it, and so do duo info and duo score.  Routers are\n"
    "dropped.  OUT is written under a temporary name and renamed, so it\n"
    "is never left half-written.\n";

static int cmd_convert_exec(int argc, char **argv);

/* "duo convert": its row of the command table that duo.c lists. */
const struct command cmd_convert_entry = {
	.name = "convert",
	.usage = "[--type f32|f16] [--route R|RUN:METHOD@BUDGET [-d DB]] "
	    "IN OUT",
	.summary = "Rewrite a model file with F32 or F16 tensors, or as the "
	    "dense model of one route",
	.options = convert_options,
	.exec = cmd_convert_exec,
};

/*
 * The one route that method took at budget in run: every result row of
 * (method, budget) must have the same route.  Writes its letters to
 * letters (DUO_MAX_LAYERS + 1 bytes) or fails with one line.
 */
static int
run_route(const struct run_data *run, const char *method, int budget,
    char *letters, struct duo_error *err)
{
	const struct result_record *r;
	const char *route = NULL;
	size_t i, n_rows = 0, n_routes = 0;
	int method_seen = 0;

	for (i = 0; i < run->n_results; i++) {
		r = &run->results[i];
		if (strcmp(r->method, method) != 0)
			continue;
		method_seen = 1;
		if (r->budget != budget)
			continue;
		n_rows++;
		if (r->route == NULL)
			return error_set(err, "run %" PRId64 ": method '%s' "
			    "keeps no route", run->info.id, method);
		if (route == NULL || strcmp(route, r->route) != 0)
			n_routes++;
		if (route == NULL)
			route = r->route;
	}
	if (!method_seen)
		return error_set(err, "run %" PRId64 " has no method '%s'",
		    run->info.id, method);
	if (n_rows == 0)
		return error_set(err, "run %" PRId64 ": method '%s' has no "
		    "budget %d", run->info.id, method, budget);
	if (n_routes != 1)
		return error_set(err, "run %" PRId64 ": method '%s' at budget "
		    "%d takes more than one route; a dense model needs one "
		    "route for the whole run", run->info.id, method, budget);
	if (strlen(route) > DUO_MAX_LAYERS)
		return error_set(err, "run %" PRId64 ": route '%.20s...' is "
		    "too long", run->info.id, route);
	strcpy(letters, route);
	return 0;
}

/*
 * The route letters of RUN:METHOD@BUDGET, from the database, for the
 * model at model_path (the run must have been made with that file).
 * METHOD may hold ':' itself (router:NAME): RUN ends at the first ':'
 * and METHOD at the last '@'.
 */
static void
stored_route(const struct command *cmd, const char *spec,
    const char *db_option, const char *model_path, char *letters)
{
	char run_spec[256], method[128], hex[SHA256_HEX_SIZE], *end;
	const char *colon = strchr(spec, ':'), *at = strrchr(spec, '@');
	struct store *store;
	struct run_data run;
	struct duo_error err;
	int64_t run_id;
	long budget;

	if (colon == NULL || at == NULL || at < colon || colon == spec ||
	    at == colon + 1 || at[1] == '\0' ||
	    (size_t)(colon - spec) >= sizeof run_spec ||
	    (size_t)(at - colon - 1) >= sizeof method)
		die_usage(cmd, "--route '%s' is not RUN:METHOD@BUDGET", spec);
	memcpy(run_spec, spec, (size_t)(colon - spec));
	run_spec[colon - spec] = '\0';
	memcpy(method, colon + 1, (size_t)(at - colon - 1));
	method[at - colon - 1] = '\0';
	budget = strtol(at + 1, &end, 10);
	if (*end != '\0' || budget < 0 || budget > DUO_MAX_LAYERS)
		die_usage(cmd, "--route '%s': budget '%s' is not a number "
		    "from 0 to %d", spec, at + 1, DUO_MAX_LAYERS);
	if (store_open_default(&store, db_option, STORE_READONLY, &err) != 0 ||
	    store_find_run(store, run_spec, &run_id, &err) != 0 ||
	    sha256_file(model_path, hex, &err) != 0 ||
	    store_check_model(store, run_id, hex, &err) != 0 ||
	    store_load_run(store, run_id, &run, &err) != 0)
		die("%s", err.message);
	if (run_route(&run, method, (int)budget, letters, &err) != 0)
		die("%s: %s", store_path(store), err.message);
	store_free_run(&run);
	store_close(store);
}

/* Write the dense model of route_text (letters, or a stored result). */
static void
convert_dense(const struct command *cmd, const char *route_text,
    const char *db_option, const char *in, const char *out,
    enum gguf_tensor_type type)
{
	struct duo_model model, dense;
	struct gguf_writer *writer;
	struct duo_error err;
	uint8_t route[DUO_MAX_LAYERS];
	char letters[DUO_MAX_LAYERS + 1];
	int n_routers = 0, status;
	struct duo_router *routers;

	if (model_load(&model, in, &err) != 0)
		die("%s", err.message);
	if (strchr(route_text, ':') != NULL)
		stored_route(cmd, route_text, db_option, in, letters);
	else
		snprintf(letters, sizeof letters, "%s", route_text);
	if (route_parse(letters, model.config.n_layer, route, &err) != 0)
		die("--route: %s", err.message);
	/* routers choose among modules a dense model no longer has */
	if (router_load_all(in, &model.config, &routers, &n_routers,
	    &err) != 0)
		die("%s", err.message);
	if (n_routers > 0)
		fprintf(stderr, "%s: %s: %d learned router%s left out: a dense "
		    "model has one module per layer\n", program_name, in,
		    n_routers, n_routers == 1 ? "" : "s");
	router_free_all(routers, n_routers);
	if (model_make_dense(&dense, &model, route, &err) != 0)
		die("%s: %s", in, err.message);
	model_free(&model);
	writer = gguf_writer_new();
	if (writer == NULL)
		die("%s: out of memory", out);
	model_write_dense(&dense, writer, type);
	status = gguf_writer_save(writer, out, &err);
	gguf_writer_free(writer);
	model_free(&dense);
	if (status != 0)
		die("%s", err.message);
}

/* Read the model IN and write it to OUT with tensors of the chosen type,
 * or as the dense model of --route. */
static int
cmd_convert_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "type", required_argument, NULL, 't' },
		{ "route", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_convert_entry;
	enum gguf_tensor_type type = GGUF_TENSOR_F16;
	const char *route_text = NULL, *db_option = NULL;
	struct duo_model model;
	struct duo_router *routers;
	struct duo_error err;
	int c, n_routers;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:r:d:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "f16") == 0)
				type = GGUF_TENSOR_F16;
			else if (strcmp(optarg, "f32") == 0)
				type = GGUF_TENSOR_F32;
			else
				die_usage(cmd, "--type '%s' is not f32 or f16",
				    optarg);
			break;
		case 'r':
			route_text = optarg;
			break;
		case 'd':
			db_option = optarg;
			break;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (argc - optind != 2)
		die_usage(cmd, "give the model to read and the file to write");
	if (db_option != NULL && route_text == NULL)
		die_usage(cmd, "--db goes with --route RUN:METHOD@BUDGET");
	if (route_text != NULL) {
		convert_dense(cmd, route_text, db_option, argv[optind],
		    argv[optind + 1], type);
		return EXIT_OK;
	}
	if (model_load(&model, argv[optind], &err) != 0)
		die("%s", err.message);
	/* learned routers come along, their weights in F32 either way */
	if (router_load_all(argv[optind], &model.config, &routers, &n_routers,
	    &err) != 0)
		die("%s", err.message);
	if (router_save(&model, routers, n_routers, argv[optind + 1], type,
	    &err) != 0)
		die("%s", err.message);
	router_free_all(routers, n_routers);
	model_free(&model);
	return EXIT_OK;
}
