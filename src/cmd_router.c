/*
 * cmd_router.c - "duo router train": stage 3, a learned router trained on
 * a frozen model (router_train.h) and written with the model's tensors
 * and its other routers into a new model file, or over the model with
 * --in-place; the file is written to a temporary name and renamed, so it
 * is never half-written.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "options.h"
#include "router.h"
#include "router_train.h"
#include "text.h"
#include "tokenizer.h"

static const char router_options_help[] =
    "Options:\n"
    "  -m, --model MODEL        the model to add the router to (default:\n"
    "                           $DUO_MODEL or the installed model)\n"
    "  -k, --budget K           big modules per token it is trained for\n"
    "                           (required)\n"
    "  -n, --name NAME          its name: letters, digits, _ . - (required)\n"
    "      --kind KIND          paper (default): softmax mixture with a\n"
    "                           budget penalty; oracle: learns the\n"
    "                           oracle's choices\n"
    "      --data FILE          training text (required)\n"
    "  -o, --out FILE           model file to write, with the router\n"
    "      --in-place           write over MODEL instead\n"
    "      --replace            replace a router of the same name\n"
    "  -s, --space S            route space: BS (default), B. or BS.\n"
    "      --steps N            optimizer steps (paper 300, oracle 400)\n"
    "      --lr X               learning rate (paper 0.003, oracle 0.01)\n"
    "      --seed N             seed of the data order (1)\n"
    "paper kind:\n"
    "      --batch N            sequences per step (8)\n"
    "      --alpha A            weight of the budget penalty (1)\n"
    "      --sharpness A,B      inverse temperature from A to B (1,20)\n"
    "oracle kind:\n"
    "      --label-tokens N     tokens labelled by the oracle (4096)\n"
    "      --weighted           weight examples by what a wrong choice\n"
    "                           costs\n"
    "      --target T           oracle (default): learn the oracle's\n"
    "                           choices; free: oracle_free's (the route\n"
    "                           closest to all-big, chosen without the\n"
    "                           next token)\n"
    "  -h, --help               show this help and exit\n";

static int cmd_router_exec(int argc, char **argv);

/* "duo router": its row of the command table that duo.c lists. */
const struct command cmd_router_entry = {
	.name = "router",
	.usage = "train [-m MODEL] --budget K --name NAME --data FILE "
	    "(--out FILE | --in-place) [OPTION]...",
	.summary = "Train a learned router into a model file",
	.options = router_options_help,
	.exec = cmd_router_exec,
};

enum {
	OPT_KIND = 256, OPT_DATA, OPT_IN_PLACE, OPT_REPLACE, OPT_STEPS, OPT_LR,
	OPT_SEED, OPT_BATCH, OPT_ALPHA, OPT_SHARPNESS, OPT_LABEL_TOKENS,
	OPT_WEIGHTED, OPT_TARGET,
};

struct router_args {
	const char *model, *name, *data, *out, *space, *kind, *target;
	long budget;
	int in_place, replace;
	struct router_train_options train;
	/* options given, applied over the kind's defaults */
	long steps, batch, label_tokens, seed;
	double lr, alpha, sharp_a, sharp_b;
	int weighted;
};

static void
parse_sharpness(const struct command *cmd, const char *text,
    struct router_args *a)
{
	struct duo_error err;

	if (option_positive_pair("--sharpness", text, &a->sharp_a,
	    &a->sharp_b, &err) != 0)
		die_usage(cmd, "%s", err.message);
}

static void
parse_args(int argc, char **argv, const struct command *cmd,
    struct router_args *a)
{
	static const struct option options[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "budget", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "space", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "data", required_argument, NULL, OPT_DATA },
		{ "in-place", no_argument, NULL, OPT_IN_PLACE },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "alpha", required_argument, NULL, OPT_ALPHA },
		{ "sharpness", required_argument, NULL, OPT_SHARPNESS },
		{ "label-tokens", required_argument, NULL, OPT_LABEL_TOKENS },
		{ "weighted", no_argument, NULL, OPT_WEIGHTED },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof *a);
	a->budget = -1;
	a->space = "BS";
	a->kind = "paper";
	a->steps = a->batch = a->label_tokens = a->seed = -1;
	a->lr = a->alpha = a->sharp_a = -1.0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:k:n:o:s:h", options, NULL)) !=
	    -1) {
		switch (c) {
		case 'm':
			a->model = optarg;
			break;
		case 'k':
			a->budget = parse_long_option(cmd, "--budget", optarg,
			    0, 64);
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 's':
			a->space = optarg;
			break;
		case OPT_KIND:
			a->kind = optarg;
			break;
		case OPT_DATA:
			a->data = optarg;
			break;
		case OPT_IN_PLACE:
			a->in_place = 1;
			break;
		case OPT_REPLACE:
			a->replace = 1;
			break;
		case OPT_STEPS:
			a->steps = parse_long_option(cmd, "--steps", optarg, 1,
			    10000000);
			break;
		case OPT_LR:
			a->lr = parse_double_option(cmd, "--lr", optarg, 1e-9,
			    0.999);
			break;
		case OPT_SEED:
			a->seed = parse_long_option(cmd, "--seed", optarg, 0,
			    4294967295L);
			break;
		case OPT_BATCH:
			a->batch = parse_long_option(cmd, "--batch", optarg, 1,
			    1024);
			break;
		case OPT_ALPHA:
			a->alpha = parse_double_option(cmd, "--alpha", optarg,
			    0.0, 1e6);
			break;
		case OPT_SHARPNESS:
			parse_sharpness(cmd, optarg, a);
			break;
		case OPT_LABEL_TOKENS:
			a->label_tokens = parse_long_option(cmd,
			    "--label-tokens", optarg, 1, 100000000);
			break;
		case OPT_WEIGHTED:
			a->weighted = 1;
			break;
		case OPT_TARGET:
			a->target = optarg;
			break;
		case 'h':
			print_usage(stdout, cmd);
			exit(EXIT_OK);
		default:
			die_option(cmd, c, argv);
		}
	}
	if (optind < argc)
		die_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (a->budget < 0)
		die_usage(cmd, "--budget K is required");
	if (a->name == NULL)
		die_usage(cmd, "--name NAME is required");
	if (a->data == NULL)
		die_usage(cmd, "--data FILE is required (the text to train "
		    "on)");
	if ((a->out == NULL) == !a->in_place)
		die_usage(cmd, "say where the model goes: --out FILE or "
		    "--in-place");
}

struct train_progress {
	struct progress line;
	const char *phase;
	const char *name;
	int logged;                     /* tenths of the phase logged */
};

/* A progress line on a terminal; otherwise a log line at every tenth of
 * each phase, as "duo train" logs. */
static void
show_progress(void *arg, const char *phase, double fraction, double loss)
{
	struct train_progress *p = arg;
	char extra[48] = "";

	if (p->phase == NULL || strcmp(p->phase, phase) != 0) {
		if (p->phase != NULL)
			progress_finish(&p->line);
		p->phase = phase;
		p->logged = 0;
		progress_start(&p->line, phase, "%", 100.0);
	}
	if (!isnan(loss))
		snprintf(extra, sizeof extra, "loss %.4f", loss);
	if (p->line.enabled) {
		progress_update(&p->line, 100.0 * fraction, extra);
		return;
	}
	if ((int)(fraction * 10.0 + 1e-9) > p->logged) {
		p->logged = (int)(fraction * 10.0 + 1e-9);
		fprintf(stderr, "%s: router %s: %s %3.0f%%%s%s, %.0f s\n",
		    program_name, p->name, phase, 100.0 * fraction,
		    extra[0] != '\0' ? ", " : "", extra,
		    now_seconds() - p->line.start);
	}
}

/* F16 if the model file stores its embedding so, else F32. */
static enum gguf_tensor_type
file_tensor_type(const char *path)
{
	struct gguf_file file;
	struct duo_error err;
	const struct gguf_tensor *t;
	enum gguf_tensor_type type = GGUF_TENSOR_F32;

	if (gguf_open(&file, path, &err) != 0)
		die("%s", err.message);
	if ((t = gguf_find_tensor(&file, "token_embd.weight")) != NULL)
		type = t->type;
	gguf_close(&file);
	return type;
}

static int
router_train_command(int argc, char **argv)
{
	const struct command *cmd = &cmd_router_entry;
	struct router_args a;
	struct duo_model model;
	struct duo_router *routers, *grown, *router;
	struct route_space space;
	enum router_kind kind;
	struct text_tokens tokens;
	struct train_progress progress;
	struct duo_error err;
	const char *model_file, *out, *base;
	char *text;
	size_t length;
	double start;
	int n_routers, i;

	parse_args(argc, argv, cmd, &a);
	if (router_name_check(a.name, &err) != 0)
		die_usage(cmd, "--name: %s", err.message);
	if (route_space_parse(&space, a.space, &err) != 0)
		die_usage(cmd, "--space: %s", err.message);
	if (router_kind_parse(a.kind, &kind, &err) != 0)
		die_usage(cmd, "--kind: %s", err.message);
	router_train_defaults(&a.train, kind);
	if (a.steps > 0)
		a.train.steps = (int)a.steps;
	if (a.batch > 0)
		a.train.batch = (int)a.batch;
	if (a.label_tokens > 0)
		a.train.label_tokens = (size_t)a.label_tokens;
	if (a.seed >= 0)
		a.train.seed = (uint32_t)a.seed;
	if (a.lr > 0)
		a.train.lr = (float)a.lr;
	if (a.alpha >= 0)
		a.train.alpha = (float)a.alpha;
	if (a.sharp_a > 0) {
		a.train.sharpness_start = (float)a.sharp_a;
		a.train.sharpness_end = (float)a.sharp_b;
	}
	a.train.weighted = a.weighted;
	if (a.target != NULL && strcmp(a.target, "free") != 0 &&
	    strcmp(a.target, "oracle") != 0)
		die_usage(cmd, "--target: '%s' is not oracle or free",
		    a.target);
	if (a.target != NULL && kind != ROUTER_ORACLE)
		die_usage(cmd, "--target is for the oracle kind (--kind "
		    "oracle)");
	a.train.label_free = a.target != NULL && strcmp(a.target, "free") ==
	    0;

	model_file = default_model_path(a.model);
	out = a.in_place ? model_file : a.out;
	if (model_load(&model, model_file, &err) != 0)
		die("%s", err.message);
	if (a.budget > model.config.n_layer)
		die("--budget %ld is more than the model's %d layers",
		    a.budget, model.config.n_layer);
	if (router_load_all(model_file, &model.config, &routers, &n_routers,
	    &err) != 0)
		die("%s", err.message);
	for (i = 0; i < n_routers && strcmp(routers[i].name, a.name) != 0;
	    i++)
		;
	if (i < n_routers && !a.replace)
		die("%s already has a router named %s; give another --name or "
		    "--replace", model_file, a.name);
	if (i == n_routers) {
		grown = realloc(routers, (size_t)(n_routers + 1) *
		    sizeof *routers);
		if (grown == NULL)
			die("out of memory");
		routers = grown;
		n_routers++;
	} else {
		router_free(&routers[i]);
	}
	router = &routers[i];
	if (router_alloc(router, a.name, kind, &space, (int)a.budget,
	    &model.config, &err) != 0)
		die("%s", err.message);
	base = strrchr(a.data, '/');
	snprintf(router->data, sizeof router->data, "%s",
	    base != NULL ? base + 1 : a.data);

	if (read_input(a.data, &text, &length, &err) != 0)
		die("%s", err.message);
	if (text_tokenize(&tokens, model.tokenizer, text, length, a.data,
	    &err) != 0)
		die("%s", err.message);
	free(text);

	memset(&progress, 0, sizeof progress);
	progress.name = router->name;
	start = now_seconds();
	if (router_train(&model, router, tokens.ids, tokens.n,
	    tokenizer_bos(model.tokenizer), &a.train, show_progress,
	    &progress, &err) != 0) {
		if (progress.phase != NULL)
			progress_finish(&progress.line);
		die("%s: %s", a.data, err.message);
	}
	if (progress.phase != NULL)
		progress_finish(&progress.line);
	if (router_save(&model, routers, n_routers, out,
	    file_tensor_type(model_file), &err) != 0)
		die("%s", err.message);
	printf("router %s: %s kind, space %s, budget %d; %d steps on %llu "
	    "tokens of %s, final loss %.4f, %.1f s\nwritten to %s with %d "
	    "router%s\n", router->name, router_kind_name(router->kind),
	    router->space.name, router->budget, router->steps,
	    (unsigned long long)router->tokens, router->data,
	    router->final_loss, now_seconds() - start, out, n_routers,
	    n_routers == 1 ? "" : "s");
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	text_tokens_free(&tokens);
	router_free_all(routers, n_routers);
	model_free(&model);
	return EXIT_OK;
}

/* Run "duo router SUBCOMMAND": train is the only one. */
static int
cmd_router_exec(int argc, char **argv)
{
	const struct command *cmd = &cmd_router_entry;

	if (argc < 2)
		die_usage(cmd, "say what to do: duo router train ...");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_usage(stdout, cmd);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "train") != 0)
		die_usage(cmd, "'%s' is not a router command (train)",
		    argv[1]);
	return router_train_command(argc - 1, argv + 1);
}
