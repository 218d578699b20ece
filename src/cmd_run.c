/*
 * cmd_run.c - "duo run": the full analysis of each text (oracle.h),
 * stored as one run each (store.h), and a summary of it on standard
 * output, read back from the database; "duo run --resume" continues a
 * run stopped or killed on the way.
 *
 * The database is opened before anything else, so that a file that cannot
 * be written (no permission, a missing folder, a newer schema) is reported
 * before the analysis, and every text is read and tokenized before the
 * first is analysed.  How a run is written (window by window, or whole)
 * is analysis.h's; Ctrl-C, SIGTERM and SIGHUP ask it to stop where it
 * is, the windows stored kept.  The model's identity and the routers come from
 * analysis_prepare(), as for the browser's New run form.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "analysis.h"
#include "cli.h"
#include "commands.h"
#include "host.h"
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
    "  -l, --label TEXT         a label for the run (with several FILEs,\n"
    "                           each run's label is TEXT: FILE)\n"
    "      --corpus NAME        tag the runs as one corpus (runs.corpus;\n"
    "                           the views corpus_curve and\n"
    "                           corpus_difficulty aggregate it)\n"
    "      --resume RUN         continue a stopped or killed run (an id,\n"
    "                           'last' or a label) from its first window\n"
    "                           not stored, with its own text and\n"
    "                           settings; FILE, if given, must be its text\n"
    "  -q, --quiet              no progress line or log lines\n"
    "      --log-every S        seconds between log lines when standard\n"
    "                           error is not a terminal (default 60)\n"
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
    "\nThe text is each FILE in turn, one run each, or standard input for -"
    "\nor no FILE.  Each run's id and summary go to standard output; a"
    "\nprogress line (the file's share, tokens/s, ETA, and the whole's) to"
    "\nstandard error when it is a terminal, else a log line a minute."
    "\nAn exhaustive run is stored window by window: one stopped (Ctrl-C,"
    "\na full disk) or killed keeps its windows, and 'duo run --resume RUN'"
    "\ncontinues it.  A beam run is stored whole at the end; one the"
    "\ndatabase cannot take then is kept in a"
    "\nside file (beside it, else in $TMPDIR) that 'duo merge DB SIDE'"
    "\nstores; duo then exits with status 1.\n";

static int cmd_run_exec(int argc, char **argv);

/* "duo run": its row of the command table that duo.c lists. */
const struct command cmd_run_entry = {
	.name = "run",
	.usage = "[-m MODEL] [-d DB] [--space S] [--context C] "
	    "[OPTION]... [FILE...|-]",
	.summary = "Analyse a text: every route's loss per token, stored "
	    "as a run",
	.options = run_options,
	.exec = cmd_run_exec,
};

enum { OPTION_BEAM = 256, OPTION_SEED, OPTION_SHUFFLE_SEED,
    OPTION_ROUTER_MODE, OPTION_BUSY_TIMEOUT, OPTION_NULL_CONTROL,
    OPTION_NULL_SEED, OPTION_LOSSES, OPTION_SHARD, OPTION_CORPUS,
    OPTION_RESUME, OPTION_LOG_EVERY };

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
	const char *corpus;
	const char *resume;
	int quiet;
	long log_every;                 /* seconds */
	int analysis_options;           /* options that set the analysis */
	char **inputs;                  /* [n_inputs], "-" when none */
	int n_inputs;
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
		{ "corpus", required_argument, NULL, OPTION_CORPUS },
		{ "resume", required_argument, NULL, OPTION_RESUME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "log-every", required_argument, NULL, OPTION_LOG_EVERY },
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
	o->log_every = 60;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:d:s:c:r:b:l:R:qh", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 's':
			o->analysis_options++;
			o->space = optarg;
			break;
		case 'c':
			o->analysis_options++;
			o->context = optarg;
			break;
		case 'r':
			o->analysis_options++;
			o->context_route = optarg;
			break;
		case 'b':
			o->analysis_options++;
			o->budgets = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case OPTION_BEAM:
			o->analysis_options++;
			o->beam = parse_long_option(cmd, "--beam", optarg, 1,
			    1000000);
			break;
		case OPTION_SEED:
			o->analysis_options++;
			o->seed = parse_seed(cmd, "--seed", optarg);
			break;
		case OPTION_SHUFFLE_SEED:
			o->analysis_options++;
			o->shuffle_seed = parse_seed(cmd, "--shuffle-seed",
			    optarg);
			break;
		case OPTION_NULL_CONTROL:
			o->analysis_options++;
			o->null_control = 1;
			break;
		case OPTION_NULL_SEED:
			o->analysis_options++;
			o->null_seed = parse_seed(cmd, "--null-seed", optarg);
			o->null_seed_given = 1;
			break;
		case 'R':
			o->analysis_options++;
			if (o->n_routers == MAX_ROUTER_OPTIONS)
				die_usage(cmd, "more than %d --router options",
				    MAX_ROUTER_OPTIONS);
			o->routers[o->n_routers++] = optarg;
			break;
		case OPTION_ROUTER_MODE:
			o->analysis_options++;
			o->router_mode = optarg;
			break;
		case OPTION_LOSSES:
			o->analysis_options++;
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
		case OPTION_CORPUS:
			if (*optarg == '\0')
				die_usage(cmd, "--corpus: the name is empty");
			o->corpus = optarg;
			break;
		case OPTION_RESUME:
			o->resume = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPTION_LOG_EVERY:
			o->log_every = parse_long_option(cmd, "--log-every",
			    optarg, 0, 86400);
			break;
		case 'h':
			print_usage(stdout, cmd);
			exit(EXIT_OK);
		default:
			die_option(cmd, c, argv);
		}
	}
	if (o->null_seed_given && !o->null_control)
		die_usage(cmd, "--null-seed goes with --null-control");
	o->n_inputs = argc - optind;
	o->inputs = argv + optind;
	if (o->n_inputs == 0) {
		static char *standard_input[] = { "-" };

		o->inputs = standard_input;
		o->n_inputs = 1;
	}
	for (c = 0; c < o->n_inputs; c++)
		if (strcmp(o->inputs[c], "-") == 0 && o->n_inputs > 1)
			die_usage(cmd, "standard input (-) goes alone, not "
			    "among other FILEs");
	if (o->shard.count > 0 && o->n_inputs > 1)
		die_usage(cmd, "--shard goes with one FILE");
	if (o->resume != NULL && (o->n_inputs > 1 || o->corpus != NULL ||
	    o->shard.count > 0 || o->label != NULL || o->analysis_options > 0))
		die_usage(cmd, "--resume goes on with the run's own text, "
		    "settings, label and corpus: it takes -m, -d, -q, "
		    "--busy-timeout and at most the one FILE to check");
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

/* The progress of the whole command: the file being analysed among the
 * others, on the terminal's line or, when standard error is not a
 * terminal, as a log line every log_every seconds. */
struct progress_state {
	struct progress line;
	const char *name;               /* the file's */
	int index, count;               /* its number, of so many */
	double n_tokens;                /* the file's tokens */
	double done_before, total;      /* the whole's */
	double whole_start;
	double log_every, last_log;     /* seconds between log lines */
	int quiet;
};

static void
show_progress(void *arg, double fraction, double route_tokens)
{
	struct progress_state *s = arg;
	double t = now_seconds(), elapsed = t - s->line.start;
	double whole = s->done_before + fraction * s->n_tokens;
	double rate = t > s->whole_start ? whole / (t - s->whole_start) : 0;
	char extra[160], eta[32], spent[32];

	if (s->quiet)
		return;
	if (rate > 0 && s->total > whole)
		format_duration(eta, sizeof eta, (s->total - whole) / rate);
	else
		snprintf(eta, sizeof eta, "-");
	if (s->line.enabled) {
		if (s->count > 1)
			/* the least needed last: a narrow terminal cuts
			 * the line's end */
			snprintf(extra, sizeof extra, "%.0f%%  all: %.0f%% of "
			    "%.0f tokens, ETA %s  %.3g route-tokens/s",
			    100.0 * fraction, s->total > 0 ? 100.0 * whole /
			    s->total : 0.0, s->total, eta, elapsed > 0 ?
			    route_tokens / elapsed : 0.0);
		else
			snprintf(extra, sizeof extra, "%.0f%%  %.3g "
			    "route-tokens/s", 100.0 * fraction, elapsed > 0 ?
			    route_tokens / elapsed : 0.0);
		progress_update(&s->line, fraction * s->n_tokens, extra);
		return;
	}
	if (t - s->last_log < s->log_every)
		return;
	s->last_log = t;
	format_duration(spent, sizeof spent, elapsed);
	fprintf(stderr, "%s: %s", program_name, s->name);
	if (s->count > 1)
		fprintf(stderr, " (%d/%d)", s->index, s->count);
	fprintf(stderr, ": %.0f%%, %.0f/%.0f tokens, %.1f tokens/s, %s "
	    "elapsed", 100.0 * fraction, fraction * s->n_tokens, s->n_tokens,
	    elapsed > 0 ? fraction * s->n_tokens / elapsed : 0.0, spent);
	if (s->count > 1)
		fprintf(stderr, "; all: %.0f%% of %.0f tokens, ETA %s",
		    s->total > 0 ? 100.0 * whole / s->total : 0.0, s->total,
		    eta);
	else
		fprintf(stderr, ", ETA %s", eta);
	fputc('\n', stderr);
}

/* Begin the progress of one file of n_tokens. */
static void
progress_file(struct progress_state *s, const char *name, int index,
    double n_tokens)
{
	char *label = (char *)s->line.label;

	free(label);
	s->name = name;
	s->index = index;
	s->n_tokens = n_tokens;
	if (s->count > 1) {
		/* the file's name: the whole path is in the log lines and
		 * the summary, and the line must fit the terminal */
		const char *base = strrchr(name, '/');
		size_t n = strlen(name) + 32;

		if ((label = malloc(n)) == NULL)
			die("out of memory");
		snprintf(label, n, "%s (%d/%d)", base != NULL && base[1] !=
		    '\0' ? base + 1 : name, index, s->count);
	} else if ((label = strdup("analysing")) == NULL)
		die("out of memory");
	progress_start(&s->line, label, "tokens", n_tokens);
	if (s->quiet)
		s->line.enabled = 0;
}

/* Ctrl-C and kill: the run stops where it is; its stored windows are
 * kept. */
static volatile int stop_requested;

static void
on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static void
catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
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

/* The mean loss of a method at a budget (-1: at its one budget, for big,
 * small and best) in a run's means, or NAN. */
static double
mean_of(const struct store_mean *means, size_t n, const char *method,
    int budget)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((budget < 0 || means[i].budget == budget) &&
		    strcmp(means[i].method, method) == 0)
			return means[i].mean_loss;
	return NAN;
}

/* The routers' perplexity per budget beside the oracle's and fixed's,
 * the share of the fixed-to-oracle gap each closes and of the
 * fixed-to-oracle_free gap (the achievable gap: what routing without
 * the answer reaches), and the budget it actually spent. */
static void
print_routers(const struct store_mean *means, size_t n)
{
	double lr, lf, lo, la;
	size_t i;

	for (i = 0; i < n; i++) {
		if (method_find(means[i].method) != METHOD_ROUTER)
			continue;
		if (i == 0 || strcmp(means[i - 1].method,
		    means[i].method) != 0)
			printf("\n%s: perplexity; gap closed (fixed - "
			    "router) / (fixed - oracle); achievable gap "
			    "closed, the same against oracle_free; mean big "
			    "modules spent\n", means[i].method);
		lr = means[i].mean_loss;
		lf = mean_of(means, n, method_table[METHOD_FIXED].name,
		    means[i].budget);
		lo = mean_of(means, n, method_table[METHOD_ORACLE].name,
		    means[i].budget);
		la = mean_of(means, n, method_table[METHOD_ORACLE_FREE].name,
		    means[i].budget);
		printf("%6d %12.3f", means[i].budget, exp(lr));
		if (!isnan(lf)) {
			if (!isnan(lo))
				print_gap("gap closed", lf, lr, lo);
			if (!isnan(la))
				print_gap("achievable", lf, lr, la);
		}
		printf("  spent %.2f\n", means[i].mean_spent);
	}
}

/* The budgets of a run: those of its oracle rows, ascending. */
static size_t
run_budgets(const struct store_mean *means, size_t n, int *budgets)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (strcmp(means[i].method, method_table[METHOD_ORACLE].name)
		    == 0 && k <= DUO_MAX_LAYERS)
			budgets[k++] = means[i].budget;
	return k;
}

/* A stored run's means, or die. */
static void
read_means(struct store *store, int64_t id, struct store_mean **means,
    size_t *n)
{
	struct duo_error err;

	if (store_run_means(store, id, means, n, &err) != 0)
		die("%s", err.message);
}

/* The null control beside the run: the oracle's perplexity against
 * all-big's at each budget on both models. */
static void
print_control(struct store *store, int64_t run_id, int64_t control_id,
    double seconds, unsigned long long seed)
{
	struct store_mean *real, *null;
	size_t n_real, n_null, n_budgets, b;
	int budgets[DUO_MAX_LAYERS + 1], k;
	double o, big, no, nbig;

	read_means(store, run_id, &real, &n_real);
	read_means(store, control_id, &null, &n_null);
	printf("\nnull control: run %lld, the same analysis on a model of the "
	    "same shape with random weights (seed %llu), %.1f s\n"
	    "oracle against all-big (perplexity, and the oracle's change "
	    "from all-big):\n%6s %12s %12s %8s %12s %12s %8s\n",
	    (long long)control_id, seed, seconds, "budget", "oracle", "big",
	    "change", "null oracle", "null big", "change");
	n_budgets = run_budgets(real, n_real, budgets);
	big = mean_of(real, n_real, method_table[METHOD_BIG].name, -1);
	nbig = mean_of(null, n_null, method_table[METHOD_BIG].name, -1);
	for (b = 0; b < n_budgets; b++) {
		k = budgets[b];
		o = mean_of(real, n_real, method_table[METHOD_ORACLE].name, k);
		no = mean_of(null, n_null, method_table[METHOD_ORACLE].name, k);
		if (isnan(o) || isnan(no))
			continue;
		printf("%6d %12.3f %12.3f %7.1f%% %12.3f %12.3f %7.1f%%\n", k,
		    exp(o), exp(big), 100.0 * (exp(o - big) - 1.0), exp(no),
		    exp(nbig), 100.0 * (exp(no - nbig) - 1.0));
	}
	store_free_means(real, n_real);
	store_free_means(null, n_null);
}

/* Perplexity per method and budget, and the hardest token, of a stored
 * run. */
static void
print_summary(struct store *store, int64_t id)
{
	struct run_info info;
	struct store_mean *means;
	struct store_hardest hardest;
	struct route_space space;
	struct duo_error err;
	size_t n, n_budgets, b;
	int budgets[DUO_MAX_LAYERS + 1], i, found;
	double big, small, best, spent = NAN;

	if (store_get_run(store, id, &info, NULL, NULL, &err) != 0)
		die("%s", err.message);
	read_means(store, id, &means, &n);
	printf("run %lld: %lld tokens, space %s, context %s%s%s, %s",
	    (long long)id, (long long)info.n_tokens, info.space, info.context,
	    info.context_route != NULL ? " route " : "",
	    info.context_route != NULL ? info.context_route : "",
	    info.approximate ? "beam search" : "exhaustive search");
	if (info.approximate)
		printf(" of width %d (approximate)", info.beam_width);
	else if (route_space_parse(&space, info.space, &err) == 0)
		printf(" over %llu routes", (unsigned long long)
		    route_space_size(&space, info.n_layer));
	printf(", %.1f s\n\nperplexity (exp of the mean loss) at each budget "
	    "(number of big modules):\n%6s", info.seconds, "budget");
	/* a column per method of one name held to each budget */
	for (i = 0; i < N_METHODS; i++)
		if (method_table[i].per_budget && !method_table[i].named)
			printf(" %12s", method_table[i].name);
	printf("\n");
	n_budgets = run_budgets(means, n, budgets);
	for (b = 0; b < n_budgets; b++) {
		printf("%6d", budgets[b]);
		for (i = 0; i < N_METHODS; i++)
			if (method_table[i].per_budget &&
			    !method_table[i].named)
				printf(" %12.3f", exp(mean_of(means, n,
				    method_table[i].name, budgets[b])));
		printf("\n");
	}
	print_routers(means, n);
	big = mean_of(means, n, method_table[METHOD_BIG].name, -1);
	small = mean_of(means, n, method_table[METHOD_SMALL].name, -1);
	best = mean_of(means, n, method_table[METHOD_BEST].name, -1);
	for (b = 0; b < n; b++)
		if (strcmp(means[b].method, method_table[METHOD_BEST].name)
		    == 0)
			spent = means[b].mean_spent;
	printf("\nbig (all B) %.3f", exp(big));
	if (!isnan(small))
		printf(", small (all S) %.3f", exp(small));
	printf(", best %.3f (mean budget %.2f of %d)\n", exp(best), spent,
	    info.n_layer);
	found = isnan(small) ? 1 : store_hardest_token(store, id, &hardest,
	    &err);
	if (found < 0)
		die("%s", err.message);
	if (found == 1)
		printf("hardest token: none, the space %s has no small "
		    "modules to compare with\n", info.space);
	else {
		printf("hardest token (small - best): position %lld, \"",
		    (long long)hardest.pos);
		tsv_write_escaped(stdout, hardest.piece, hardest.piece_length);
		printf("\": difficulty %.3f nats (small %.3f, best %.3f, big "
		    "%.3f)\n", hardest.loss_small - hardest.loss_best,
		    hardest.loss_small, hardest.loss_best, hardest.loss_big);
		free(hardest.piece);
	}
	store_free_means(means, n);
	store_free_run_info(&info);
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

/* What every file's analysis shares: the database, the model, the
 * request's settings. */
struct run_setup {
	struct store *store;
	struct duo_model model;
	struct analysis_request req;
	struct progress_state progress;
	const char *model_file;
};

/* The model, the store and the request's identity, for the options. */
static void
setup(struct run_setup *r, const struct run_options *o, const char *space)
{
	struct route_space parsed;
	struct duo_error err;

	if (route_space_parse(&parsed, space, &err) != 0)
		die("%s", err.message);
	/* The database first: a file that cannot take the run is reported
	 * before the work. */
	if (store_open_default(&r->store, o->db, 0, &err) != 0)
		die("%s", err.message);
	store_set_busy_timeout(r->store, (int)o->busy_timeout);
	r->model_file = default_model_path(o->model);
	if (model_load(&r->model, r->model_file, &err) != 0)
		die("%s", err.message);
	memset(&r->req, 0, sizeof r->req);
	oracle_settings_default(&r->req.settings);
	r->req.settings.space = parsed;
	memset(&r->progress, 0, sizeof r->progress);
	r->progress.quiet = o->quiet;
	r->progress.log_every = (double)o->log_every;
	r->progress.last_log = now_seconds();
	r->req.settings.progress = show_progress;
	r->req.settings.progress_arg = &r->progress;
	r->req.settings.cancel = &stop_requested;
	catch_stop_signals();
}

/*
 * The line of an analysis that failed or was cancelled, and the files
 * after it that were not analysed.  A cancelled run that stored nothing
 * (its first window was under way, or a beam run) is not in the
 * database: say so rather than a bare "cancelled".
 */
static void __attribute__((noreturn))
die_stopped(const struct duo_error *err, const char *name, int n_left)
{
	char left[64] = "";

	if (n_left > 0)
		snprintf(left, sizeof left, "; %d later file%s not analysed",
		    n_left, n_left > 1 ? "s were" : " was");
	if (err->code == DUO_ERROR_CANCELLED &&
	    strcmp(err->message, "cancelled") == 0)
		die("%s: cancelled before its first window was stored; "
		    "nothing of it is kept%s", name, left);
	die("%s%s", err->message, left);
}

/* The summaries of a stored run and its control. */
static void
print_run(struct store *store, const struct analysis *analysis,
    unsigned long long null_seed)
{
	print_summary(store, analysis->run_id);
	if (analysis->control != NULL)
		print_control(store, analysis->run_id,
		    analysis->control->run_id, analysis->control->seconds,
		    null_seed);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
}

/* A setting of a stored run's JSON, as a whole number, or die. */
static unsigned long long
stored_number(struct store *store, const struct run_info *info,
    const char *path, int required, unsigned long long fallback)
{
	struct duo_error err;
	char *value, *end;
	unsigned long long n;
	int rc;

	rc = store_json_get(store, info->settings, path, &value, &err);
	if (rc < 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if (rc == 1) {
		if (required)
			die("run %lld: its settings have no %s", (long long)
			    info->id, path + 2);
		return fallback;
	}
	errno = 0;
	n = strtoull(value, &end, 10);
	if (*value < '0' || *value > '9' || *end != '\0' || errno != 0)
		die("run %lld: its settings' %s is not a whole number",
		    (long long)info->id, path + 2);
	free(value);
	return n;
}

/* The shard members of a stored run's settings, as shard_settings()
 * wrote them, or NULL for a run of a whole text. */
static char *
stored_shard(struct store *store, const struct run_info *info)
{
	static const char *const members[] = { "shard", "shard_windows",
	    "shard_first_pos", "shard_first_byte", "text_windows",
	    "text_tokens", "text_bytes", "text_sha256" };
	struct duo_error err;
	char path[64], *value, *extra;
	size_t n = 0, size = 1024, i;
	int rc;

	if ((extra = malloc(size)) == NULL)
		die("out of memory");
	extra[0] = '\0';
	for (i = 0; i < sizeof members / sizeof members[0]; i++) {
		snprintf(path, sizeof path, "$.%s", members[i]);
		rc = store_json_get(store, info->settings, path, &value, &err);
		if (rc < 0)
			die("run %lld: %s", (long long)info->id, err.message);
		if (rc == 1) {
			if (i == 0) {
				free(extra);
				return NULL;
			}
			die("run %lld: its settings have a shard but no %s",
			    (long long)info->id, members[i]);
		}
		/* strings quoted, numbers and arrays as they are */
		n += (size_t)snprintf(extra + n, n < size ? size - n : 0,
		    i == 0 || i == 7 ? ",\"%s\":\"%s\"" : ",\"%s\":%s",
		    members[i], value);
		free(value);
	}
	if (n >= size)
		die("run %lld: its shard settings are too long",
		    (long long)info->id);
	return extra;
}

/* The request that continues a stored run: its settings, text and
 * routers. */
static void
resume_request(struct run_setup *r, const struct run_info *info,
    const char *text, size_t length, int **budgets, uint8_t **context_route)
{
	struct analysis_request *req = &r->req;
	struct duo_error err;
	char **items = NULL, *value;
	const char **names;
	size_t n = 0, i;
	int L = r->model.config.n_layer, rc;

	if (oracle_context_parse(info->context, &req->settings.context,
	    &err) != 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if (info->context_route != NULL) {
		if ((*context_route = malloc((size_t)L)) == NULL)
			die("out of memory");
		if (route_parse(info->context_route, L, *context_route,
		    &err) != 0)
			die("run %lld: its context route: %s",
			    (long long)info->id, err.message);
		req->settings.context_route = *context_route;
	}
	if (store_json_array(r->store, info->settings, "$.budgets", &items,
	    &n, &err) != 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if ((*budgets = calloc(n + 1, sizeof **budgets)) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		(*budgets)[i] = atoi(items[i]);
	store_json_free_array(items, n);
	req->settings.budgets = *budgets;
	req->settings.n_budgets = (int)n;
	req->settings.seed = stored_number(r->store, info, "$.seed", 1, 0);
	req->settings.shuffle_seed = stored_number(r->store, info,
	    "$.shuffle_seed", 1, 0);
	req->settings.n_random = (int)stored_number(r->store, info,
	    "$.n_random", 1, 0);
	req->null_seed = stored_number(r->store, info, info->control_of != 0 ?
	    "$.null_seed" : "$.null_control_seed", info->control_of != 0, 0);
	req->null_control = info->control_of == 0 &&
	    stored_number(r->store, info, "$.null_control_seed", 0,
	    UINT64_MAX) != UINT64_MAX;
	rc = store_json_get(r->store, info->settings, "$.losses", &value,
	    &err);
	if (rc < 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if (rc == 0) {
		if (store_tables_parse(value, &req->tables, &err) != 0)
			die("run %lld: %s", (long long)info->id, err.message);
		free(value);
	}
	rc = store_json_get(r->store, info->settings, "$.router_mode", &value,
	    &err);
	if (rc < 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if (rc == 0) {
		if (router_mode_parse(value, &req->settings.router_mode,
		    &err) != 0)
			die("run %lld: %s", (long long)info->id, err.message);
		free(value);
	}
	if (store_json_keys(r->store, info->settings, "$.routers", &items, &n,
	    &err) != 0)
		die("run %lld: %s", (long long)info->id, err.message);
	if ((names = calloc(n + 1, sizeof *names)) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		names[i] = items[i];
	if (analysis_prepare(req, &r->model, r->model_file, names, (int)n,
	    &err) != 0)
		die("%s", err.message);
	free(names);
	store_json_free_array(items, n);
	req->extra_settings = stored_shard(r->store, info);
	req->label = info->label;
	req->source = info->source;
	req->input_name = info->source;
	req->text = text;
	req->length = length;
	req->corpus = info->corpus;
}

/* "duo run --resume RUN [FILE]" */
static int
resume(const struct run_options *o)
{
	struct run_setup r;
	struct run_info info;
	struct analysis analysis;
	struct duo_error err;
	uint8_t *context_route = NULL;
	char *text, *given;
	size_t length, given_length;
	int64_t id;
	int *budgets = NULL;
	int status;
	char *model_from_run = NULL;
	struct run_options with_model;

	/* the space first, from the run: the setup needs it */
	{
		struct store *peek;

		if (store_open_default(&peek, o->db, STORE_READONLY, &err) != 0)
			die("%s", err.message);
		if (store_find_run(peek, o->resume, &id, &err) != 0 ||
		    store_get_run(peek, id, &info, NULL, NULL, &err) != 0)
			die("%s", err.message);
		store_close(peek);
	}
	/* without -m, the model file the run was made from, if it is
	 * still there (its hash is checked below either way) */
	if (o->model == NULL && info.model_path != NULL &&
	    access(info.model_path, R_OK) == 0) {
		if ((model_from_run = strdup(info.model_path)) == NULL)
			die("out of memory");
		with_model = *o;
		with_model.model = model_from_run;
		o = &with_model;
	}
	setup(&r, o, info.space);
	store_free_run_info(&info);
	if (store_get_run(r.store, id, &info, &text, &length, &err) != 0)
		die("%s", err.message);
	if (info.status == RUN_COMPLETE && (info.control_of != 0 ||
	    stored_number(r.store, &info, "$.null_control_seed", 0,
	    UINT64_MAX) == UINT64_MAX))
		die("run %lld is complete: there is nothing to continue",
		    (long long)id);
	if (o->n_inputs == 1 && strcmp(o->inputs[0], "-") != 0) {
		if (read_input(o->inputs[0], &given, &given_length, &err) != 0)
			die("%s", err.message);
		if (given_length != length || memcmp(given, text, length) != 0)
			die("%s is not the text of run %lld (%s)", o->inputs[0],
			    (long long)id, info.source);
		free(given);
	}
	resume_request(&r, &info, text, length, &budgets, &context_route);
	if (info.control_of == 0 && strcmp(r.req.model_sha256,
	    info.model_sha256) != 0)
		die("run %lld was made with the model of sha256 %.12s..., not "
		    "%s (%.12s...): give its file with -m", (long long)id,
		    info.model_sha256, r.req.model_path, r.req.model_sha256);
	note_changed_model(r.store, r.req.model_path, r.req.model_sha256);
	/* the tokens left; of the control alone when the run is complete */
	progress_file(&r.progress, info.source, 1, (double)(info.status ==
	    RUN_COMPLETE ? info.n_tokens : info.n_tokens - info.tokens_done));
	r.progress.count = 1;
	r.progress.total = (double)info.n_tokens;
	r.progress.whole_start = now_seconds();
	if (info.status != RUN_COMPLETE && store_check_resumable(r.store,
	    &info, (int64_t)r.model.config.n_ctx - 1, &err) != 0)
		die("%s", err.message);
	if (!o->quiet && info.tokens_done > 0)
		fprintf(stderr, "%s: run %lld: %lld of %lld tokens are stored; "
		    "continuing from position %lld\n", program_name,
		    (long long)id, (long long)info.tokens_done,
		    (long long)info.n_tokens, (long long)info.tokens_done + 1);
	status = analysis_resume(r.store, &r.model, &r.req, &info, &analysis,
	    &err);
	progress_finish(&r.progress.line);
	if (status != 0)
		die("%s", err.message);
	if (info.control_of != 0) {
		/* the control alone: its summary */
		print_summary(r.store, analysis.run_id);
	} else
		print_run(r.store, &analysis, (unsigned long long)
		    r.req.null_seed);
	analysis_free(&analysis);
	free((char *)r.req.extra_settings);
	analysis_request_free(&r.req);
	store_free_run_info(&info);
	free(text);
	free(model_from_run);
	free(budgets);
	free(context_route);
	free((char *)r.progress.line.label);
	model_free(&r.model);
	store_close(r.store);
	return EXIT_OK;
}

/* Analyse each FILE (or standard input) and store one run each. */
static int
cmd_run_exec(int argc, char **argv)
{
	const struct command *cmd = &cmd_run_entry;
	struct run_options o;
	struct run_setup r;
	struct duo_error err;
	struct analysis analysis;
	struct text_tokens *tokens;
	enum oracle_context context;
	struct route_space space;
	enum router_mode router_mode;
	enum store_tables tables;
	uint8_t *context_route = NULL;
	char **texts, context_text[DUO_MAX_LAYERS + 1], *label = NULL;
	size_t *lengths;
	const char *name, *stop_name = NULL;
	struct duo_error stop;
	int *budgets = NULL, n_budgets = 0, L, i, f, failed = 0, stop_left = 0;

	parse_options(argc, argv, cmd, &o);
	if (o.resume != NULL)
		return resume(&o);
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

	setup(&r, &o, o.space);
	if (analysis_prepare(&r.req, &r.model, r.model_file, o.routers,
	    o.n_routers, &err) != 0)
		die("%s", err.message);
	note_changed_model(r.store, r.req.model_path, r.req.model_sha256);
	L = r.model.config.n_layer;
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
	r.req.settings.context = context;
	r.req.settings.context_route = context_route;
	r.req.settings.budgets = budgets;
	r.req.settings.n_budgets = n_budgets;
	r.req.settings.beam_width = (int)o.beam;
	r.req.settings.seed = o.seed;
	r.req.settings.shuffle_seed = o.shuffle_seed;
	r.req.settings.router_mode = router_mode;
	r.req.tables = tables;
	r.req.null_control = o.null_control;
	r.req.null_seed = o.null_seed;
	r.req.corpus = o.corpus;

	/* every text read and cut into tokens first: a missing file or a
	 * bad text is said before hours of work, and the progress knows
	 * the whole */
	texts = calloc((size_t)o.n_inputs, sizeof *texts);
	lengths = calloc((size_t)o.n_inputs, sizeof *lengths);
	tokens = calloc((size_t)o.n_inputs, sizeof *tokens);
	if (texts == NULL || lengths == NULL || tokens == NULL)
		die("out of memory");
	r.progress.count = o.n_inputs;
	for (f = 0; f < o.n_inputs; f++) {
		name = strcmp(o.inputs[f], "-") == 0 ? "standard input" :
		    o.inputs[f];
		if (read_input(o.inputs[f], &texts[f], &lengths[f], &err) != 0)
			die("%s", err.message);
		if (text_tokenize(&tokens[f], r.model.tokenizer, texts[f],
		    lengths[f], name, &err) != 0)
			die("%s", err.message);
	}
	if (o.shard.count > 0) {
		r.req.text = texts[0];
		r.req.length = lengths[0];
		cut_shard(&o.shard, &r.req, &tokens[0], r.model.config.n_ctx,
		    strcmp(o.inputs[0], "-") == 0 ? "standard input" :
		    o.inputs[0]);
	}
	for (f = 0; f < o.n_inputs; f++)
		r.progress.total += (double)tokens[f].n;
	r.progress.whole_start = now_seconds();
	for (f = 0; f < o.n_inputs && !stop_requested; f++) {
		name = strcmp(o.inputs[f], "-") == 0 ? "standard input" :
		    o.inputs[f];
		if (o.label != NULL && o.n_inputs > 1) {
			size_t n = strlen(o.label) + strlen(name) + 3;

			free(label);
			if ((label = malloc(n)) == NULL)
				die("out of memory");
			snprintf(label, n, "%s: %s", o.label, name);
			r.req.label = label;
		} else
			r.req.label = o.label;
		r.req.source = o.inputs[f];
		r.req.input_name = name;
		if (o.shard.count == 0) {
			r.req.text = texts[f];
			r.req.length = lengths[f];
		}
		progress_file(&r.progress, name, f + 1, (double)tokens[f].n);
		r.req.tokens = &tokens[f];
		if (analysis_run(r.store, &r.model, &r.req, &analysis,
		    &err) != 0) {
			progress_finish(&r.progress.line);
			if (o.n_inputs == 1 || stop_requested) {
				/* said once everything is freed */
				stop = err;
				stop_name = name;
				stop_left = o.n_inputs - f - 1;
				break;
			}
			/* the next file may do: say this one's failure */
			fprintf(stderr, "%s: %s\n", program_name, err.message);
			failed = 1;
			continue;
		}
		progress_finish(&r.progress.line);
		r.progress.done_before += r.progress.n_tokens;
		if (f > 0)
			printf("\n");
		print_run(r.store, &analysis, o.null_seed);
		analysis_free(&analysis);
	}
	for (f = 0; f < o.n_inputs; f++) {
		free(texts[f]);
		text_tokens_free(&tokens[f]);
	}
	free(texts);
	free(lengths);
	free(tokens);
	free(label);
	free((char *)r.progress.line.label);
	analysis_request_free(&r.req);
	free((char *)r.req.extra_settings);
	free(budgets);
	free(context_route);
	model_free(&r.model);
	store_close(r.store);
	if (stop_name != NULL)
		die_stopped(&stop, stop_name, stop_left);
	if (stop_requested && f < o.n_inputs)
		die("stopped before %s", o.inputs[f]);
	return failed ? EXIT_FAILURE : EXIT_OK;
}
