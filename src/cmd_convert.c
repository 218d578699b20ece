/* cmd_convert.c - "duo convert": rewrite a model with F32 or F16 tensors. */
#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "router.h"

static const char convert_options[] =
    "Options:\n"
    "  -t, --type TYPE  tensor type of the new file: f32 or f16 (f16)\n"
    "  -h, --help       show this help and exit\n"
    "\nKeys, tokenizer, training facts and learned routers (kept in F32)\n"
    "are kept; OUT is written under a\n"
    "temporary name and renamed, so it is never left half-written.\n";

static int cmd_convert_exec(int argc, char **argv);

/* "duo convert": its row of the command table that duo.c lists. */
const struct command cmd_convert_entry = {
	.name = "convert",
	.usage = "[--type f32|f16] IN OUT",
	.summary = "Rewrite a model file with F32 or F16 tensors",
	.options = convert_options,
	.exec = cmd_convert_exec,
};

/* Read the model IN and write it to OUT with tensors of the chosen type. */
static int
cmd_convert_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_convert_entry;
	enum gguf_tensor_type type = GGUF_TENSOR_F16;
	struct duo_model model;
	struct duo_router *routers;
	struct duo_error err;
	int c, n_routers;

	while ((c = getopt_long(argc, argv, "t:h", long_options, NULL)) != -1) {
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
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 2)
		die_usage(cmd, "give the model to read and the file to write");
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
