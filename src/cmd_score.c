/* cmd_score.c - "duo score": every token's loss under one route, as TSV. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "route.h"
#include "text.h"
#include "tokenizer.h"
#include "train.h"

static const char score_options[] =
    "Options:\n"
    "  -m, --model MODEL      model to use (default: $DUO_MODEL or the\n"
    "                         installed model)\n"
    "  -r, --route R          route for the position before each token,\n"
    "                         one of B, S, . per layer (required, but\n"
    "                         for a dense model, whose route is fixed)\n"
    "  -c, --context-route R  route for the earlier positions (default:\n"
    "                         R itself, the shared context mode)\n"
    "      --random P         instead of --route: every position draws\n"
    "                         its own route, B with probability P at\n"
    "                         each layer, else S (as in training)\n"
    "      --seed N           seed of --random (1)\n"
    "  -q, --quiet            no summary line on standard error\n"
    "  -h, --help             show this help and exit\n"
    "\nOutput columns: pos token_id piece loss (nats).\n";

static int cmd_score_exec(int argc, char **argv);

/* "duo score": its row of the command table that duo.c lists. */
const struct command cmd_score_entry = {
	.name = "score",
	.usage = "[-q] [-m MODEL] [--route R [--context-route R] | "
	    "--random P [--seed N]] [FILE|-]",
	.summary = "Print every token's loss under one route, as TSV",
	.options = score_options,
	.exec = cmd_score_exec,
};

/*
 * Losses of one window in one batched pass: every position uses route, or
 * with route NULL draws its own (p_big, seeded by *rng).
 */
static void
score_window_batched(const struct duo_model *model,
    struct forward_workspace *ws, const int32_t *window, int T,
    const uint8_t *route, float p_big, uint64_t *rng, uint8_t *routes,
    float *losses)
{
	struct duo_error err;
	int L = model->config.n_layer, t;

	if (route == NULL)
		train_sample_routes(routes, (size_t)T, L, p_big, 0.0f, rng);
	else
		for (t = 0; t < T; t++)
			memcpy(routes + (size_t)t * L, route, (size_t)L);
	if (model_window_losses(model, ws, window, T, routes, losses, &err) != 0)
		die("%s", err.message);
}

/*
 * Losses of one window when position p - 1 uses route and the positions
 * before it use context_route: the cache holds the context positions; each
 * token is scored by a step under route, which is then replaced in the
 * cache by a step under context_route.
 */
static void
score_window_context(const struct duo_model *model, struct kv_cache *cache,
    struct forward_workspace *ws, const int32_t *window, int T,
    const uint8_t *route, const uint8_t *context_route, float *logits,
    float *losses)
{
	struct duo_error err;
	int V = model->config.n_vocab, p;

	kv_cache_reset(cache);
	for (p = 1; p < T; p++) {
		if (model_forward(model, cache, ws, &window[p - 1], 1, route,
		    logits, &err) != 0)
			die("%s", err.message);
		losses[p - 1] = model_row_loss(logits, V, window[p]);
		if (p + 1 == T)
			break;
		cache->length = p - 1;
		if (model_forward(model, cache, ws, &window[p - 1], 1,
		    context_route, NULL, &err) != 0)
			die("%s", err.message);
	}
}

/* A Duo model needs a route or --random; a dense model has its own
 * route, fixed when it was written, and takes neither. */
static void
check_route_options(const struct command *cmd, const struct duo_model *model,
    int given)
{
	if (!model->config.dense && !given)
		die_usage(cmd, "--route or --random is required");
	if (model->config.dense && given)
		die("a dense model (architecture 'deci') has one module per "
		    "layer and its route%s%s is fixed; score it without --route, "
		    "--context-route or --random", model->dense_route[0] ?
		    " " : "", model->dense_route[0] ? model->dense_route : "");
}

/* Score FILE (or standard input) under one route and print every loss. */
static int
cmd_score_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "route", required_argument, NULL, 'r' },
		{ "context-route", required_argument, NULL, 'c' },
		{ "random", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_score_entry;
	const char *model_option = NULL, *route_text = NULL;
	const char *context_text = NULL, *input, *name, *piece;
	struct duo_model model;
	struct text_tokens tokens;
	struct forward_workspace *ws;
	struct kv_cache cache;
	struct duo_error err;
	struct progress progress;
	uint8_t *route, *context_route, *routes;
	int32_t *window;
	float *losses, *logits;
	double total_loss = 0;
	char *text;
	size_t length, n_windows, w, first, piece_length;
	int c, quiet = 0, L, N, T, t;
	double p_random = -1;
	uint64_t rng = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:r:c:qh", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'm':
			model_option = optarg;
			break;
		case 'r':
			route_text = optarg;
			break;
		case 'c':
			context_text = optarg;
			break;
		case 'R':
			p_random = parse_double_option(cmd, "--random", optarg,
			    0, 1);
			break;
		case 'S':
			rng = (uint64_t)parse_long_option(cmd, "--seed", optarg,
			    0, LONG_MAX);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (route_text != NULL && p_random >= 0)
		die_usage(cmd, "--route and --random exclude each other");
	if (context_text != NULL && p_random >= 0)
		die_usage(cmd, "--context-route goes with --route, not --random");
	if (argc - optind > 1)
		die_usage(cmd, "too many arguments");
	input = optind < argc ? argv[optind] : "-";
	name = strcmp(input, "-") == 0 ? "standard input" : input;

	if (model_load_dense(&model, default_model_path(model_option),
	    &err) != 0)
		die("%s", err.message);
	check_route_options(cmd, &model, route_text != NULL || p_random >= 0 ||
	    context_text != NULL);
	L = model.config.n_layer;
	N = model.config.n_ctx;
	route = calloc((size_t)L, 1);
	context_route = malloc((size_t)L);
	if (route == NULL || context_route == NULL)
		die("out of memory");
	if (model.config.dense)
		route_text = "";    /* all CHOICE_BIG: each layer's module */
	if (route_text != NULL && !model.config.dense &&
	    route_parse(route_text, L, route, &err) != 0)
		die("--route: %s", err.message);
	if (context_text != NULL &&
	    route_parse(context_text, L, context_route, &err) != 0)
		die("--context-route: %s", err.message);
	if (context_text != NULL && memcmp(route, context_route, (size_t)L) == 0)
		context_text = NULL;    /* the same thing as shared */

	if (read_input(input, &text, &length, &err) != 0)
		die("%s", err.message);
	if (text_tokenize(&tokens, model.tokenizer, text, length, name,
	    &err) != 0)
		die("%s", err.message);

	ws = forward_workspace_new(&model.config, N);
	window = malloc((size_t)N * sizeof *window);
	routes = malloc((size_t)N * (size_t)L);
	losses = malloc((size_t)N * sizeof *losses);
	logits = malloc((size_t)model.config.n_vocab * sizeof *logits);
	if (ws == NULL || window == NULL || routes == NULL || losses == NULL ||
	    logits == NULL || kv_cache_init(&cache, &model.config, &err) != 0)
		die("out of memory");

	printf("pos\ttoken_id\tpiece\tloss\n");
	n_windows = text_window_count(tokens.n, N);
	progress_start(&progress, "scoring", "tokens", (double)tokens.n);
	for (w = 0; w < n_windows; w++) {
		text_window(&tokens, N, tokenizer_bos(model.tokenizer), w,
		    window, &T, &first);
		if (context_text == NULL)
			score_window_batched(&model, ws, window, T,
			    route_text != NULL ? route : NULL, (float)p_random,
			    &rng, routes, losses);
		else
			score_window_context(&model, &cache, ws, window, T,
			    route, context_route, logits, losses);
		for (t = 1; t < T; t++) {
			piece = tokenizer_piece(model.tokenizer, window[t],
			    &piece_length);
			printf("%zu\t%d\t", first + (size_t)t, (int)window[t]);
			tsv_write_escaped(stdout, piece, piece_length);
			printf("\t%.6f\n", losses[t - 1]);
			total_loss += losses[t - 1];
		}
		progress_update(&progress, (double)(first + (size_t)T - 1),
		    NULL);
	}
	progress_finish(&progress);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	if (!quiet)
		fprintf(stderr, "%s: %zu tokens in %zu windows, mean loss %.4f "
		    "nats, perplexity %.3f\n", name, tokens.n, n_windows,
		    total_loss / (double)tokens.n,
		    exp(total_loss / (double)tokens.n));

	kv_cache_free(&cache);
	forward_workspace_free(ws);
	free(window);
	free(routes);
	free(losses);
	free(logits);
	free(route);
	free(context_route);
	text_tokens_free(&tokens);
	free(text);
	model_free(&model);
	return EXIT_OK;
}
