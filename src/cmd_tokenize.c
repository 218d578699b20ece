/* cmd_tokenize.c - "duo tokenize": a text's tokens, one a line, as TSV. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "text.h"
#include "tokenizer.h"

static const char tokenize_options[] =
    "Options:\n"
    "  -m, --model MODEL  model whose tokenizer to use (default: $DUO_MODEL\n"
    "                     or the installed model)\n"
    "  -h, --help         show this help and exit\n"
    "\nOutput columns: pos token_id piece byte_start byte_end.\n";

static int cmd_tokenize_exec(int argc, char **argv);

/* "duo tokenize": its row of the command table that duo.c lists. */
const struct command cmd_tokenize_entry = {
	.name = "tokenize",
	.usage = "[-m MODEL] [FILE|-]",
	.summary = "Print the tokens of a text, one a line, as TSV",
	.options = tokenize_options,
	.exec = cmd_tokenize_exec,
};

/* Print the tokens of FILE (or standard input) with their byte ranges. */
static int
cmd_tokenize_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_tokenize_entry;
	const char *model_option = NULL, *path, *input;
	struct duo_model model;
	struct text_tokens tokens;
	struct duo_error err;
	char *text;
	size_t length, i, piece_length;
	const char *piece;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'm':
			model_option = optarg;
			break;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (argc - optind > 1)
		die_usage(cmd, "too many arguments");
	input = optind < argc ? argv[optind] : "-";
	path = default_model_path(model_option);
	if (model_load(&model, path, &err) != 0)
		die("%s", err.message);
	if (read_input(input, &text, &length, &err) != 0)
		die("%s", err.message);
	if (text_tokenize(&tokens, model.tokenizer, text, length,
	    strcmp(input, "-") == 0 ? "standard input" : input, &err) != 0)
		die("%s", err.message);
	printf("pos\ttoken_id\tpiece\tbyte_start\tbyte_end\n");
	for (i = 0; i < tokens.n; i++) {
		piece = tokenizer_piece(model.tokenizer, tokens.ids[i],
		    &piece_length);
		printf("%zu\t%d\t", i + 1, (int)tokens.ids[i]);
		tsv_write_escaped(stdout, piece, piece_length);
		printf("\t%zu\t%zu\n", tokens.offsets[i], tokens.offsets[i + 1]);
	}
	text_tokens_free(&tokens);
	free(text);
	model_free(&model);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	return EXIT_OK;
}
