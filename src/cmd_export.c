/*
 * cmd_export.c - "duo export": one stored run's results, a row per token,
 * method and budget, as CSV or JSON on standard output (export.c writes
 * them).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "export.h"
#include "store.h"

static const char export_options[] =
    "Options:\n"
    "  -d, --db FILE          database (default: $DUO_DB, else\n"
    "                         $XDG_DATA_HOME/duo/runs.db or\n"
    "                         ~/.local/share/duo/runs.db)\n"
    "  -f, --format FORMAT    csv (the default) or json\n"
    "  -h, --help             show this help and exit\n"
    "\nRUN is a run id, 'last' for the newest run, or a label that one run"
    "\nhas.  Columns: run_id pos token_id piece method budget route loss,"
    "\none row per token, method and budget, sorted by pos, method, budget."
    "\n";

static int cmd_export_exec(int argc, char **argv);

/* "duo export": its row of the command table that duo.c lists. */
const struct command cmd_export_entry = {
	.name = "export",
	.usage = "[-d DB] [--format csv|json] RUN",
	.summary = "Write a stored run's per-token results as CSV or JSON",
	.options = export_options,
	.exec = cmd_export_exec,
};

/* Write one stored run's results as CSV or JSON. */
static int
cmd_export_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_export_entry;
	const char *db_option = NULL, *format_name = "csv";
	enum export_format format;
	struct store *store;
	struct run_data run;
	struct duo_error err;
	int64_t run_id;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:f:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			db_option = optarg;
			break;
		case 'f':
			format_name = optarg;
			break;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (export_format_parse(format_name, &format) != 0)
		die_usage(cmd, "--format '%s' is not csv or json",
		    format_name);
	if (optind == argc)
		die_usage(cmd, "which run? give its id, 'last' or its label");
	if (argc - optind > 1)
		die_usage(cmd, "too many arguments");

	if (store_open_default(&store, db_option, STORE_READONLY, &err) != 0 ||
	    store_find_run(store, argv[optind], &run_id, &err) != 0 ||
	    store_load_run(store, run_id, &run, &err) != 0)
		die("%s", err.message);
	export_write(stdout, &run, format);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	store_free_run(&run);
	store_close(store);
	return EXIT_OK;
}
