/*
 * cmd_tui.c - "duo tui" (and "duo" alone): the curses browser of the
 * runs in the database.  The browser itself is src/tui/.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tui/actions.h"
#include "tui/tui.h"

static const char options_help[] =
    "Options:\n"
    "  -d, --db FILE   database of runs (default: $DUO_DB, else\n"
    "                  $XDG_DATA_HOME/duo/runs.db)\n"
    "      --no-color  no colours (as when NO_COLOR is set)\n"
    "      --no-mouse  leave the mouse to the terminal\n"
    "      --ascii     draw with ASCII only (no braille, blocks, arrows)\n"
    "      --no-osc52  y copies nothing (OSC 52 is the terminal's clipboard)\n"
    "      --list-keys print every key and command as TSV and exit\n"
    "  -h, --help      show this help and exit\n";

static int cmd_tui_exec(int argc, char **argv);

/* "duo tui": its row of the command table that duo.c lists. */
const struct command cmd_tui_entry = {
	.name = "tui",
	.usage = "[-d DB] [--no-color] [--no-mouse] [--ascii] [--no-osc52]",
	.summary = "Browse the runs token by token in a curses interface",
	.options = options_help,
	.exec = cmd_tui_exec,
};

/* Open the browser on the database of runs. */
static int
cmd_tui_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "no-colour", no_argument, NULL, 'C' },
		{ "no-mouse", no_argument, NULL, 'M' },
		{ "ascii", no_argument, NULL, 'A' },
		{ "no-osc52", no_argument, NULL, 'O' },
		{ "list-keys", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_tui_entry;
	struct tui_options options;
	char message[256];
	int c;

	memset(&options, 0, sizeof options);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			options.db_option = optarg;
			break;
		case 'C':
			options.no_color = 1;
			break;
		case 'M':
			options.no_mouse = 1;
			break;
		case 'A':
			options.ascii = 1;
			break;
		case 'O':
			options.no_osc52 = 1;
			break;
		case 'K':
			if (actions_check(message, sizeof message) != 0)
				die("%s", message);
			actions_print(stdout);
			return EXIT_OK;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (optind < argc)
		die_usage(cmd, "unexpected argument '%s'", argv[optind]);
	return tui_run(&options);
}
