/* cmd_info.c - "duo info": what a model file holds. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "router.h"
#include "tokenizer.h"

static const char info_options[] =
    "Options:\n"
    "  -h, --help  show this help and exit\n"
    "\nMODEL defaults to $DUO_MODEL or the installed model.\n";

static int cmd_info_exec(int argc, char **argv);

/* "duo info": its row of the command table that duo.c lists. */
const struct command cmd_info_entry = {
	.name = "info",
	.usage = "[MODEL]",
	.summary = "Show a model's hyperparameters, tokenizer, tensors "
	    "and routers",
	.options = info_options,
	.exec = cmd_info_exec,
};

static const char *
tensor_type_name(enum gguf_tensor_type type)
{
	return type == GGUF_TENSOR_F16 ? "F16" : "F32";
}

/* Count the parameters of the tensors whose name contains part. */
static uint64_t
count_params(const struct gguf_file *file, const char *part)
{
	uint64_t n = 0, i;
	char name[256];
	size_t length;

	for (i = 0; i < file->n_tensors; i++) {
		length = file->tensors[i].name.length < sizeof name - 1 ?
		    (size_t)file->tensors[i].name.length : sizeof name - 1;
		memcpy(name, file->tensors[i].name.data, length);
		name[length] = '\0';
		/* learned routers are not the model's parameters */
		if (strstr(name, ".router.") != NULL)
			continue;
		if (part == NULL || strstr(name, part) != NULL)
			n += file->tensors[i].n_elements;
	}
	return n;
}

/* The learned routers, one a line: name, kind, space, budget and how
 * each was trained. */
static void
print_routers(const char *path, const struct duo_model *model)
{
	struct duo_router *routers;
	struct duo_error err;
	int n, i;

	if (router_load_all(path, &model->config, &routers, &n, &err) != 0)
		die("%s", err.message);
	printf("routers       %s\n", n == 0 ? "none" : "");
	for (i = 0; i < n; i++) {
		const struct duo_router *r = &routers[i];

		printf("  %-12s %s, space %s, budget %d: %d steps, %llu "
		    "tokens of %s", r->name, router_kind_name(r->kind),
		    r->space.name, r->budget, r->steps,
		    (unsigned long long)r->tokens, r->data[0] != '\0' ?
		    r->data : "-");
		if (r->kind == ROUTER_PAPER)
			printf(", alpha %g, sharpness %g to %g",
			    (double)r->alpha, (double)r->sharpness_start,
			    (double)r->sharpness_end);
		else
			printf(", target %s, weighting %s", r->target,
			    r->weighting);
		printf(", final loss %.4f\n", (double)r->final_loss);
	}
	router_free_all(routers, n);
}

/* Print the hyperparameters, training facts, compute and tensors. */
/* Every tensor's name, type and shape. */
static void
print_tensors(const struct gguf_file *file)
{
	uint64_t i;
	uint32_t d;

	printf("\ntensors\n");
	for (i = 0; i < file->n_tensors; i++) {
		const struct gguf_tensor *t = &file->tensors[i];

		printf("  %-36.*s %s  [", (int)t->name.length, t->name.data,
		    tensor_type_name(t->type));
		for (d = 0; d < t->n_dims; d++)
			printf("%s%" PRIu64, d > 0 ? ", " : "", t->ne[d]);
		printf("]\n");
	}
}

/* A dense model's widths, one per layer, and the route it was made
 * with when the file says. */
static void
print_dense(const struct duo_model *model)
{
	const struct duo_config *c = &model->config;
	int l;

	printf("ffn widths   ");
	for (l = 0; l < c->n_layer; l++)
		printf(" %d", c->ffn_width[l]);
	printf("\n");
	printf("route         %s (one module per layer)\n",
	    model->dense_route[0] != '\0' ? model->dense_route : "-");
}

static void
print_info(const char *path, const struct duo_model *model,
    const struct gguf_file *file)
{
	const struct duo_config *c = &model->config;
	double attention = model_flops_attention(c, c->n_ctx);
	double big = model_flops_ffn(c, CHOICE_BIG);
	double small = model_flops_ffn(c, CHOICE_SMALL);
	double head = model_flops_head(c);
	double all_big = c->n_layer * (attention + big) + head;

	printf("file          %s\n", path);
	printf("name          %s\n", model->name != NULL ? model->name : "-");
	printf("architecture  %s (GGUF v%" PRIu32 ", %" PRIu64 " keys, "
	    "%" PRIu64 " tensors)\n", c->dense ? "deci, a dense duo model" :
	    "duo", file->version, file->n_kv, file->n_tensors);
	printf("layers        %d\n", c->n_layer);
	printf("width         %d\n", c->d_model);
	printf("heads         %d (head size %d)\n", c->n_head,
	    c->d_model / c->n_head);
	if (c->dense) {
		print_dense(model);
	} else {
		printf("ffn big       %d\n", c->d_ff);
		printf("ffn small     %d\n", c->d_ff_small);
	}
	printf("context       %d\n", c->n_ctx);
	printf("vocabulary    %d (bos %d, eos %d)\n", c->n_vocab,
	    (int)tokenizer_bos(model->tokenizer),
	    (int)tokenizer_eos(model->tokenizer));
	printf("rope base     %g\n", (double)c->rope_base);
	printf("norm eps      %g\n", (double)c->norm_eps);
	printf("output        %s\n", model->tied_output ?
	    "tied to token_embd" : "output.weight");
	if (c->dense) {
		printf("parameters    %" PRIu64 " (FFN %" PRIu64 ")\n",
		    count_params(file, NULL), count_params(file, "ffn_gate.") +
		    count_params(file, "ffn_up.") +
		    count_params(file, "ffn_down."));
		print_tensors(file);
		return;
	}
	printf("parameters    %" PRIu64 " (big FFN %" PRIu64 ", small FFN "
	    "%" PRIu64 ")\n", count_params(file, NULL),
	    count_params(file, "ffn_gate.") + count_params(file, "ffn_up.") +
	    count_params(file, "ffn_down."),
	    count_params(file, "_small."));
	printf("compute       %.2f MFLOP/token all-B at context %d; "
	    "all-S %.1f%%, all-skip %.1f%% of it\n", all_big / 1e6, c->n_ctx,
	    100 * (c->n_layer * (attention + small) + head) / all_big,
	    100 * (c->n_layer * attention + head) / all_big);
	if (model->training.tokens_seen > 0 || model->training.p_big > 0) {
		printf("training      p_big %g, p_skip %g, %" PRIu64
		    " tokens seen, seed %" PRIu32 "%s%s\n",
		    (double)model->training.p_big,
		    (double)model->training.p_skip,
		    model->training.tokens_seen, model->training.seed,
		    model->training.corpus != NULL ? ", corpus " : "",
		    model->training.corpus != NULL ?
		    model->training.corpus : "");
	}
	print_routers(path, model);
	print_tensors(file);
}

/* Show what the model file MODEL holds. */
static int
cmd_info_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_info_entry;
	struct duo_model model;
	struct gguf_file file;
	struct duo_error err;
	const char *path;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (argc - optind > 1)
		die_usage(cmd, "too many arguments");
	path = default_model_path(optind < argc ? argv[optind] : NULL);
	if (model_load_dense(&model, path, &err) != 0)
		die("%s", err.message);
	if (gguf_open(&file, path, &err) != 0)
		die("%s", err.message);
	print_info(path, &model, &file);
	gguf_close(&file);
	model_free(&model);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	return EXIT_OK;
}
