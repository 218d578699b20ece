/*
 * cmd_run.c - "duo run": the full analysis of a text (oracle.h), stored as
 * one run (store.h), and a summary of it on standard output.
 *
 * The database is opened before anything else, so that a file that cannot
 * be written (no permission, a missing folder, a newer schema) is reported
 * before the analysis.  The run is written in one transaction: a run
 * interrupted at any moment leaves nothing of itself behind.  The model's
 * identity and the routers come from analysis_prepare(), as for the
 * browser's New run form.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "analysis.h"
#include "commands.h"
#include "model.h"
#include "names.h"
#include "options.h"
#include "oracle.h"
#include "route.h"
#include "router.h"
#include "sha256.h"
#include "shard.h"
#include "store.h"
#include "text.h"
#include "tokenizer.h"

static const char run_options[] =
    "Options:\n"
    "  -m, --model MODEL        model to use (default: $DUO_MODEL or the\n"
    "                           installed model)\n"
    "  -d, --db FILE            database (default: $DUO_DB, else\n"
    "                           $XDG_DATA_HOME/duo/runs.db or\n"
    "                           ~/.local/share/duo/runs.db)\n"
    "  -s, --space S            route space: BS (default), B. or BS.\n"
    "  -c, --context C          context mode: shared (default), fixed or\n"
    "                           greedy\n"
    "  -r, --context-route R    route of earlier positions in the fixed\n"
    "                           context (default: all B)\n"
    "  -b, --budgets K,K,...    budgets to evaluate (default: 0 to L)\n"
    "  -l, --label TEXT         a label for the run\n"
    "      --beam N             beam search of width N instead of the\n"
    "                           exhaustive one (used with width 16 by\n"
    "                           itself on spaces of more than 65536\n"
    "                           routes); the run is marked approximate\n"
    "      --seed N             seed of the random routes (default 1)\n"
    "      --shuffle-seed N     seed of the order in which the shuffled\n"
    "                           method lends each token another's oracle\n"
    "                           route (default 1)\n"
    "      --null-control       also analyse the text on a model of the\n"
    "                           same shape with random weights (the\n"
    "                           trainer's initialisation), stored as a\n"
    "                           second run, the first run's control\n"
    "      --null-seed N        seed of those weights (default 1)\n"
    "      --shard I/N          analyse only the I-th of N equal slices\n"
    "                           of the text's windows, stored as a run\n"
    "                           of its own that 'duo merge --join-shards'\n"
    "                           joins with the others\n"
    "  -R, --router NAME        also evaluate the model's learned router\n"
    "                           NAME (repeatable; 'all' for every one)\n"
    "      --router-mode M      exact (default): each router held to\n"
    "                           every budget; soft: its own choices\n"
    "      --losses F           how the loss and KL tables of every route\n"
    "                           are kept: f32 (default, exact), f16\n"
    "                           (rounded to half precision, half the\n"
    "                           bytes) or none\n"
    "      --busy-timeout MS    wait up to MS milliseconds for a lock\n"
    "                           that another process holds on the\n"
    "                           database (default 5000)\n"
    "  -h, --help               show this help and exit\n"
    "\nThe text is FILE, or standard input for - or no FILE.  The run's id"
    "\nand a summary go to standard output; a progress line to standard"
    "\nerror when it is a terminal.  A run the database cannot take at the"
    "\nend (a lock held too long, a disk filled meanwhile) is kept in a side"
    "\nfile, a database of its own beside it (else in $TMPDIR), which"
    "\n'duo merge DB SIDE' stores; duo then exits with status 1.\n";

static int cmd_run_exec(int argc, char **argv);

/* "duo run": its row of the command table that duo.c lists. */
const struct command cmd_run_entry = {
	.name = "run",
	.usage = "[-m MODEL] [-d DB] [--space S] [--context C] "
	    "[OPTION]... [FILE|-]",
	.summary = "Analyse a text: every route's loss per token, stored "
	    "as a run",
	.options = run_options,
	.exec = cmd_run_exec,
};

enum { OPTION_BEAM = 256, OPTION_SEED, OPTION_SHUFFLE_SEED,
    OPTION_ROUTER_MODE, OPTION_BUSY_TIMEOUT, OPTION_NULL_CONTROL,
    OPTION_NULL_SEED, OPTION_LOSSES, OPTION_SHARD };

/* The null control's seed when none is given: the trainer's default, so
 * that the null model is the shipped model as it was before training. */
#define DEFAULT_NULL_SEED 1

/* Routers named with --router, at most this many. */
#define MAX_ROUTER_OPTIONS 64

/* What the command line asked for. */
struct run_options {
	const char *model;
	const char *db;
	const char *space;
	const char *context;
	const char *context_route;
	const char *budgets;
	const char *label;
	long beam;
	unsigned long long seed, shuffle_seed, null_seed;
	int null_control, null_seed_given;
	const char *routers[MAX_ROUTER_OPTIONS];
	int n_routers;
	const char *router_mode;
	const char *losses;
	long busy_timeout;              /* milliseconds */
	struct shard_spec shard;        /* count 0: the whole text */
	const char *input;
};

/* A seed: a whole number that fits 64 bits, no sign. */
static unsigned long long
parse_seed(const struct command *cmd, const char *option, const char *text)
{
	unsigned long long seed;
	char *end;

	if (*text == '\0' || *text == '-')
		die_usage(cmd, "%s '%s' is not a whole number", option, text);
	errno = 0;
	seed = strtoull(text, &end, 10);
	if (*end != '\0' || errno != 0)
		die_usage(cmd, "%s '%s' is not a whole number", option, text);
	return seed;
}

static void
parse_options(int argc, char **argv, const struct command *cmd,
    struct run_options *o)
{
	static const struct option long_options[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "db", required_argument, NULL, 'd' },
		{ "space", required_argument, NULL, 's' },
		{ "context", required_argument, NULL, 'c' },
		{ "context-route", required_argument, NULL, 'r' },
		{ "budgets", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "beam", required_argument, NULL, OPTION_BEAM },
		{ "seed", required_argument, NULL, OPTION_SEED },
		{ "shuffle-seed", required_argument, NULL,
		    OPTION_SHUFFLE_SEED },
		{ "router", required_argument, NULL, 'R' },
		{ "router-mode", required_argument, NULL, OPTION_ROUTER_MODE },
		{ "losses", required_argument, NULL, OPTION_LOSSES },
		{ "busy-timeout", required_argument, NULL,
		    OPTION_BUSY_TIMEOUT },
		{ "null-control", no_argument, NULL, OPTION_NULL_CONTROL },
		{ "null-seed", required_argument, NULL, OPTION_NULL_SEED },
		{ "shard", required_argument, NULL, OPTION_SHARD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct duo_error err;
	int c;

	memset(o, 0, sizeof *o);
	o->space = "BS";
	o->context = context_names[ORACLE_SHARED].name;
	o->seed = ORACLE_DEFAULT_SEED;
	o->shuffle_seed = ORACLE_DEFAULT_SHUFFLE_SEED;
	o->null_seed = DEFAULT_NULL_SEED;
	o->router_mode = "exact";
	o->losses = "f32";
	o->busy_timeout = STORE_BUSY_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "m:d:s:c:r:b:l:R:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 's':
			o->space = optarg;
			break;
		case 'c':
			o->context = optarg;
			break;
		case 'r':
			o->context_route = optarg;
			break;
		case 'b':
			o->budgets = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case OPTION_BEAM:
			o->beam = parse_long_option(cmd, "--beam", optarg, 1,
			    1000000);
			break;
		case OPTION_SEED:
			o->seed = parse_seed(cmd, "--seed", optarg);
			break;
		case OPTION_SHUFFLE_SEED:
			o->shuffle_seed = parse_seed(cmd, "--shuffle-seed",
			    optarg);
			break;
		case OPTION_NULL_CONTROL:
			o->null_control = 1;
			break;
		case OPTION_NULL_SEED:
			o->null_seed = parse_seed(cmd, "--null-seed", optarg);
			o->null_seed_given = 1;
			break;
		case 'R':
			if (o->n_routers == MAX_ROUTER_OPTIONS)
				die_usage(cmd, "more than %d --router options",
				    MAX_ROUTER_OPTIONS);
			o->routers[o->n_routers++] = optarg;
			break;
		case OPTION_ROUTER_MODE:
			o->router_mode = optarg;
			break;
		case OPTION_LOSSES:
			o->losses = optarg;
			break;
		case OPTION_BUSY_TIMEOUT:
			o->busy_timeout = parse_long_option(cmd,
			    "--busy-timeout", optarg, 0, INT_MAX);
			break;
		case OPTION_SHARD:
			if (shard_parse(optarg, &o->shard, &err) != 0)
				die_usage(cmd, "--shard %s", err.message);
			break;
		case 'h':
			print_usage(stdout, cmd);
			exit(EXIT_OK);
		default:
			die_usage(cmd, "unknown option");
		}
	}
	if (argc - optind > 1)
		die_usage(cmd, "too many arguments");
	if (o->null_seed_given && !o->null_control)
		die_usage(cmd, "--null-seed goes with --null-control");
	o->input = optind < argc ? argv[optind] : "-";
}

/* "2,4,6" into budgets; the range is checked once the model is known. */
static int
parse_budgets(const struct command *cmd, const char *text, int **budgets)
{
	struct duo_error err;
	size_t n;

	if (option_budgets("--budgets", text, INT_MAX, budgets, &n,
	    &err) != 0)
		die_usage(cmd, "%s", err.message);
	return (int)n;
}

struct progress_state {
	struct progress line;
	double n_tokens;
};

static void
show_progress(void *arg, double fraction, double route_tokens)
{
	struct progress_state *s = arg;
	double elapsed = now_seconds() - s->line.start;
	char extra[64];

	snprintf(extra, sizeof extra, "%.3g route-tokens/s", elapsed > 0 ?
	    route_tokens / elapsed : 0.0);
	progress_update(&s->line, fraction * s->n_tokens, extra);
}

/* A note when the model file has changed since runs made from its path:
 * those runs keep their own hash, the new run gets a new model row. */
static void
note_changed_model(struct store *store, const char *path, const char *sha)
{
	struct run_info *runs;
	struct duo_error err;
	size_t n, i, last = SIZE_MAX;

	if (store_list_runs(store, &runs, &n, &err) != 0)
		die("%s", err.message);
	for (i = 0; i < n; i++)
		/* a null control has its own model at the same path */
		if (runs[i].control_of == 0 &&
		    strcmp(runs[i].model_path, path) == 0 &&
		    strcmp(runs[i].model_sha256, sha) != 0)
			last = i;
	if (last != SIZE_MAX)
		fprintf(stderr, "%s: note: %s has changed since run %lld was "
		    "made with it (sha256 %.12s..., now %.12s...); that run "
		    "keeps its model, this one is stored with the new file\n",
		    program_name, path, (long long)runs[last].id,
		    runs[last].model_sha256, sha);
	store_free_runs(runs, n);
}

/* The share of the gap from fixed (lf) to a reference (lref) that a
 * router (lr) closes, printed under label; "-" when the reference is
 * no better than fixed (at budgets 0 and L the two are one route, and
 * what is left is rounding). */
static void
print_gap(const char *label, double lf, double lr, double lref)
{
	if (lf - lref > 1e-5)
		printf("  %s %6.1f%%", label, 100.0 * (lf - lr) / (lf - lref));
	else
		printf("  %s      -", label);
}

/* The routers' perplexity per budget beside the oracle's and fixed's,
 * the share of the fixed-to-oracle gap each closes and of the
 * fixed-to-oracle_free gap (the achievable gap: what routing without
 * the answer reaches), and the budget it actually spent. */
static void
print_routers(const struct oracle_result *result)
{
	const struct oracle_method *m, *oracle, *fixed, *free_oracle;
	size_t n = result->n_tokens, p, i;
	double lr, lf, spent;
	int L = result->n_layer;

	for (i = 0; i < result->n_methods; i++) {
		m = &result->methods[i];
		if (method_find(m->name) != METHOD_ROUTER)
			continue;
		if (i == 0 || strcmp(result->methods[i - 1].name, m->name) != 0)
			printf("\n%s: perplexity; gap closed (fixed - "
			    "router) / (fixed - oracle); achievable gap "
			    "closed, the same against oracle_free; mean big "
			    "modules spent\n", m->name);
		spent = 0.0;
		for (p = 0; p < n; p++)
			spent += route_budget(m->routes + p * (size_t)L, L);
		lr = analysis_mean_loss(m, n);
		oracle = oracle_result_method(result,
		    method_table[METHOD_ORACLE].name, m->budget);
		fixed = oracle_result_method(result,
		    method_table[METHOD_FIXED].name, m->budget);
		free_oracle = oracle_result_method(result,
		    method_table[METHOD_ORACLE_FREE].name, m->budget);
		printf("%6d %12.3f", m->budget, exp(lr));
		if (fixed != NULL) {
			lf = analysis_mean_loss(fixed, n);
			if (oracle != NULL)
				print_gap("gap closed", lf, lr,
				    analysis_mean_loss(oracle, n));
			if (free_oracle != NULL)
				print_gap("achievable", lf, lr,
				    analysis_mean_loss(free_oracle, n));
		}
		printf("  spent %.2f\n", spent / (double)n);
	}
}

/* The percentage by which the oracle's perplexity at budget k is below
 * (negative) or above all-big's; NAN where the run has no such budget. */
static double
oracle_change(const struct oracle_result *result, int k)
{
	const struct oracle_method *oracle, *big;
	size_t n = result->n_tokens;

	oracle = oracle_result_method(result,
	    method_table[METHOD_ORACLE].name, k);
	big = oracle_result_method(result, method_table[METHOD_BIG].name, -1);
	if (oracle == NULL || big == NULL)
		return NAN;
	return 100.0 * (exp(analysis_mean_loss(oracle, n) -
	    analysis_mean_loss(big, n)) - 1.0);
}

/* The null control beside the run: the oracle's perplexity against
 * all-big's at each budget on both models. */
static void
print_control(const struct analysis *run, unsigned long long seed)
{
	const struct oracle_result *real = &run->result;
	const struct oracle_result *null = &run->control->result;
	const struct oracle_method *o, *no;
	size_t n = real->n_tokens;
	int b, k;

	printf("\nnull control: run %lld, the same analysis on a model of the "
	    "same shape with random weights (seed %llu), %.1f s\n"
	    "oracle against all-big (perplexity, and the oracle's change "
	    "from all-big):\n%6s %12s %12s %8s %12s %12s %8s\n",
	    (long long)run->control->run_id, seed, null->seconds, "budget",
	    "oracle", "big", "change", "null oracle", "null big", "change");
	for (b = 0; b < real->n_budgets; b++) {
		k = real->budgets[b];
		o = oracle_result_method(real, method_table[METHOD_ORACLE].name,
		    k);
		no = oracle_result_method(null,
		    method_table[METHOD_ORACLE].name, k);
		if (o == NULL || no == NULL)
			continue;
		printf("%6d %12.3f %12.3f %7.1f%% %12.3f %12.3f %7.1f%%\n", k,
		    exp(analysis_mean_loss(o, n)), exp(analysis_mean_loss(
		    oracle_result_method(real, method_table[METHOD_BIG].name,
		    -1), n)), oracle_change(real, k),
		    exp(analysis_mean_loss(no, n)), exp(analysis_mean_loss(
		    oracle_result_method(null, method_table[METHOD_BIG].name,
		    -1), n)), oracle_change(null, k));
	}
}

/* Perplexity per method and budget, and the hardest token. */
static void
print_summary(int64_t id, const struct oracle_result *result,
    const struct run_record *run)
{
	const struct oracle_method *m, *small, *best, *big;
	const struct token_record *t;
	double mean_budget = 0.0, d, hardest_d = -INFINITY;
	size_t n = result->n_tokens, p, hardest = 0;
	int b, i, L = result->n_layer;

	printf("run %lld: %zu tokens, space %s, context %s%s%s, %s", (long long)
	    id, n, run->space, run->context, run->context_route != NULL ?
	    " route " : "", run->context_route != NULL ? run->context_route :
	    "", result->approximate ? "beam search" : "exhaustive search");
	if (result->approximate)
		printf(" of width %d (approximate)", result->beam_width);
	else
		printf(" over %llu routes", (unsigned long long)
		    result->n_routes);
	printf(", %.1f s\n\nperplexity (exp of the mean loss) at each budget "
	    "(number of big modules):\n%6s", result->seconds, "budget");
	/* a column per method of one name held to each budget */
	for (i = 0; i < N_METHODS; i++)
		if (method_table[i].per_budget && !method_table[i].named)
			printf(" %12s", method_table[i].name);
	printf("\n");
	for (b = 0; b < result->n_budgets; b++) {
		printf("%6d", result->budgets[b]);
		for (i = 0; i < N_METHODS; i++) {
			if (!method_table[i].per_budget ||
			    method_table[i].named)
				continue;
			m = oracle_result_method(result, method_table[i].name,
			    result->budgets[b]);
			printf(" %12.3f", exp(analysis_mean_loss(m, n)));
		}
		printf("\n");
	}
	print_routers(result);
	big = oracle_result_method(result, method_table[METHOD_BIG].name, -1);
	small = oracle_result_method(result, method_table[METHOD_SMALL].name,
	    -1);
	best = oracle_result_method(result, method_table[METHOD_BEST].name, -1);
	for (p = 0; p < n; p++)
		mean_budget += route_budget(best->routes + p * (size_t)L, L);
	printf("\nbig (all B) %.3f", exp(analysis_mean_loss(big, n)));
	if (small != NULL)
		printf(", small (all S) %.3f", exp(analysis_mean_loss(small, n)));
	printf(", best %.3f (mean budget %.2f of %d)\n",
	    exp(analysis_mean_loss(best, n)), mean_budget / (double)n, L);
	if (small == NULL) {
		printf("hardest token: none, the space %s has no small "
		    "modules to compare with\n", run->space);
		return;
	}
	for (p = 0; p < n; p++) {
		d = small->losses[p] - best->losses[p];
		if (d > hardest_d) {
			hardest_d = d;
			hardest = p;
		}
	}
	t = &run->tokens[hardest + 1];
	printf("hardest token (small - best): position %zu, \"", hardest + 1);
	tsv_write_escaped(stdout, t->piece, t->piece_length);
	printf("\": difficulty %.3f nats (small %.3f, best %.3f, big %.3f)\n",
	    hardest_d, small->losses[hardest], best->losses[hardest],
	    big->losses[hardest]);
}

/*
 * Keep only the shard's slice of the text: its tokens, its bytes, and in
 * the settings its place in the whole text (shard.h).
 */
static void
cut_shard(const struct shard_spec *spec, struct analysis_request *req,
    struct text_tokens *tokens, int n_ctx, const char *name)
{
	struct shard_slice slice;
	struct text_tokens part;
	struct duo_error err;
	struct sha256 ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	char *extra;
	size_t n_all = tokens->n;

	if (shard_slice(spec, tokens, req->length, n_ctx, &slice, &err) != 0)
		die("%s: %s", name, err.message);
	if (shard_tokens(tokens, &slice, &part, &err) != 0)
		die("%s", err.message);
	sha256_init(&ctx);
	sha256_update(&ctx, req->text, req->length);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
	extra = shard_settings(spec, &slice, tokens->n, req->length, hex);
	if (extra == NULL)
		die("out of memory");
	text_tokens_free(tokens);
	*tokens = part;
	req->text += slice.byte_start;
	req->length = slice.byte_end - slice.byte_start;
	req->extra_settings = extra;
	fprintf(stderr, "%s: %s: shard %d/%d: windows %zu-%zu of %zu, "
	    "positions %zu-%zu of %zu\n", program_name, name, spec->index,
	    spec->count, slice.first_window, slice.end_window - 1,
	    slice.n_windows, slice.token_start + 1, slice.token_end, n_all);
}

/* Analyse FILE (or standard input) and store the run. */
static int
cmd_run_exec(int argc, char **argv)
{
	const struct command *cmd = &cmd_run_entry;
	struct run_options o;
	struct store *store;
	struct duo_model model;
	struct duo_error err;
	struct analysis_request req;
	struct analysis analysis;
	struct text_tokens tokens;
	struct progress_state progress;
	enum oracle_context context;
	struct route_space space;
	enum router_mode router_mode;
	enum store_tables tables;
	uint8_t *context_route = NULL;
	char *text, context_text[DUO_MAX_LAYERS + 1];
	const char *name, *model_file;
	int *budgets = NULL, n_budgets = 0, L, i;
	size_t length;

	parse_options(argc, argv, cmd, &o);
	if (route_space_parse(&space, o.space, &err) != 0)
		die_usage(cmd, "--space: %s", err.message);
	if (oracle_context_parse(o.context, &context, &err) != 0)
		die_usage(cmd, "--context: %s", err.message);
	if (o.context_route != NULL && context != ORACLE_FIXED)
		die_usage(cmd, "--context-route goes with --context fixed");
	if (o.budgets != NULL)
		n_budgets = parse_budgets(cmd, o.budgets, &budgets);
	if (router_mode_parse(o.router_mode, &router_mode, &err) != 0)
		die_usage(cmd, "--router-mode: %s", err.message);
	if (store_tables_parse(o.losses, &tables, &err) != 0)
		die_usage(cmd, "--losses: %s", err.message);
	name = strcmp(o.input, "-") == 0 ? "standard input" : o.input;

	/* The database first: a file that cannot take the run is reported
	 * before the work. */
	if (store_open_default(&store, o.db, 0, &err) != 0)
		die("%s", err.message);
	store_set_busy_timeout(store, (int)o.busy_timeout);
	model_file = default_model_path(o.model);
	if (model_load(&model, model_file, &err) != 0)
		die("%s", err.message);
	memset(&req, 0, sizeof req);
	oracle_settings_default(&req.settings);
	req.settings.space = space;
	if (analysis_prepare(&req, &model, model_file, o.routers, o.n_routers,
	    &err) != 0)
		die("%s", err.message);
	note_changed_model(store, req.model_path, req.model_sha256);
	L = model.config.n_layer;
	if (o.context_route != NULL) {
		if ((context_route = malloc((size_t)L)) == NULL)
			die("out of memory");
		if (route_parse(o.context_route, L, context_route, &err) != 0)
			die("--context-route: %s", err.message);
		route_format(context_route, L, context_text);
		for (i = 0; i < L; i++)
			if (strchr(space.name, context_text[i]) == NULL)
				die("--context-route %s uses '%c', which the "
				    "space %s does not have", context_text,
				    context_text[i], space.name);
	}
	for (i = 0; i < n_budgets; i++)
		if (budgets[i] > L)
			die("--budgets: %d is more than the model's %d layers",
			    budgets[i], L);

	if (read_input(o.input, &text, &length, &err) != 0)
		die("%s", err.message);

	req.label = o.label;
	req.source = o.input;
	req.input_name = name;
	req.text = text;
	req.length = length;
	req.settings.context = context;
	req.settings.context_route = context_route;
	req.settings.budgets = budgets;
	req.settings.n_budgets = n_budgets;
	req.settings.beam_width = (int)o.beam;
	req.settings.seed = o.seed;
	req.settings.shuffle_seed = o.shuffle_seed;
	req.settings.router_mode = router_mode;
	req.tables = tables;
	req.null_control = o.null_control;
	req.null_seed = o.null_seed;
	req.settings.progress = show_progress;
	req.settings.progress_arg = &progress;
	/* the tokens first, for the progress line's rate and ETA; the
	 * analysis takes them over */
	if (text_tokenize(&tokens, model.tokenizer, text, length, name,
	    &err) != 0)
		die("%s", err.message);
	if (o.shard.count > 0)
		cut_shard(&o.shard, &req, &tokens, model.config.n_ctx, name);
	progress.n_tokens = (double)tokens.n;
	req.tokens = &tokens;
	progress_start(&progress.line, "analysing", "tokens",
	    progress.n_tokens);
	if (analysis_run(store, &model, &req, &analysis, &err) != 0) {
		progress_finish(&progress.line);
		die("%s", err.message);
	}
	progress_finish(&progress.line);
	print_summary(analysis.run_id, &analysis.result, &analysis.run);
	if (analysis.control != NULL)
		print_control(&analysis, o.null_seed);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");

	analysis_free(&analysis);
	analysis_request_free(&req);
	free((char *)req.extra_settings);
	free(text);
	free(budgets);
	free(context_route);
	model_free(&model);
	store_close(store);
	return EXIT_OK;
}
