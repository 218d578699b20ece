/* cmd_convert.c - "duo convert": rewrite a model with F32 or F16 tensors. */
#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"

static const char convert_options[] =
    "Options:\n"
    "  -t, --type TYPE  tensor type of the new file: f32 or f16 (f16)\n"
    "  -h, --help       show this help and exit\n"
    "\nKeys, tokenizer and training facts are kept; OUT is written under a\n"
    "temporary name and renamed, so it is never left half-written.\n";

/*
 * Learned routers live in keys and tensors that the model loader does not
 * keep; rather than drop them silently, refuse such a file.
 */
static void
refuse_routers(const char *path)
{
	struct gguf_file file;
	struct duo_error err;
	uint64_t i;

	if (gguf_open(&file, path, &err) != 0)
		die("%s", err.message);
	for (i = 0; i < file.n_kv; i++)
		if (file.kv[i].key.length > 11 &&
		    memcmp(file.kv[i].key.data, "duo.router.", 11) == 0)
			die("%s: the model has learned routers, which convert "
			    "would drop", path);
	gguf_close(&file);
}

/* Read the model IN and write it to OUT with tensors of the chosen type. */
int
cmd_convert(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = command_find("convert");
	enum gguf_tensor_type type = GGUF_TENSOR_F16;
	struct duo_model model;
	struct duo_error err;
	int c;

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
			print_usage(stdout, cmd, convert_options);
			return EXIT_OK;
		default:
			die_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 2)
		die_usage(cmd, "give the model to read and the file to write");
	if (model_load(&model, argv[optind], &err) != 0)
		die("%s", err.message);
	refuse_routers(argv[optind]);
	if (model_save(&model, argv[optind + 1], type, &err) != 0)
		die("%s", err.message);
	model_free(&model);
	return EXIT_OK;
}
