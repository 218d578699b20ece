/*
 * cmd_findings.c - "duo findings": the paper's findings checked on one
 * stored run, beside its controls (findings.c computes them), as text or
 * TSV on standard output.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "findings.h"
#include "store.h"

static const char findings_options[] =
    "Options:\n"
    "  -d, --db FILE          database (default: $DUO_DB, else\n"
    "                         $XDG_DATA_HOME/duo/runs.db or\n"
    "                         ~/.local/share/duo/runs.db)\n"
    "      --tsv              one number a row: finding, measure, method,\n"
    "                         budget, value (and a verdict row each)\n"
    "  -h, --help             show this help and exit\n"
    "\nRUN is a run id, 'last' or a label that one run has; without it,"
    "\nthe newest run that is not a null-model control.  Each finding"
    "\nstands beside its controls: the label-free oracle (oracle_free)"
    "\nand, when the run has one, its null-model control run."
    "\n";

static int cmd_findings_exec(int argc, char **argv);

/* "duo findings": its row of the command table that duo.c lists. */
const struct command cmd_findings_entry = {
	.name = "findings",
	.usage = "[-d DB] [--tsv] [RUN]",
	.summary = "Check the paper's findings on a stored run, beside "
	    "their controls",
	.options = findings_options,
	.exec = cmd_findings_exec,
};

static void
print_line(void *arg, const char *text)
{
	printf("%s\n", text);
}

/*
 * Load run_id, or when it is a null-model control and not named, the
 * run it controls; then its newest control, if any.  *has_control is 1
 * when control was loaded.
 */
static void
load_runs(struct store *store, int64_t run_id, int named,
    struct run_data *run, struct run_data *control, int *has_control)
{
	struct duo_error err;
	int64_t control_id;
	int found;

	if (store_load_run(store, run_id, run, &err) != 0)
		die("%s", err.message);
	if (!named && run->info.control_of != 0) {
		run_id = run->info.control_of;
		store_free_run(run);
		if (store_load_run(store, run_id, run, &err) != 0)
			die("%s", err.message);
	}
	found = store_find_control(store, run_id, &control_id, &err);
	if (found < 0)
		die("%s", err.message);
	*has_control = found == 0;
	if (*has_control && store_load_run(store, control_id, control,
	    &err) != 0)
		die("%s", err.message);
}

/* Print the findings of one stored run. */
static int
cmd_findings_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "tsv", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_findings_entry;
	const char *db_option = NULL;
	struct store *store;
	struct run_data run, control;
	struct findings findings;
	struct duo_error err;
	int64_t run_id;
	int c, tsv = 0, has_control;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:h", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			db_option = optarg;
			break;
		case 't':
			tsv = 1;
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

	if (store_open_default(&store, db_option, STORE_READONLY, &err) != 0 ||
	    store_find_run(store, optind < argc ? argv[optind] : "last",
	    &run_id, &err) != 0)
		die("%s", err.message);
	load_runs(store, run_id, optind < argc, &run, &control, &has_control);
	if (findings_compute(&run, has_control ? &control : NULL, &findings,
	    &err) != 0)
		die("%s", err.message);
	if (tsv)
		findings_write_tsv(stdout, &findings);
	else
		findings_text(&findings, print_line, NULL);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	findings_free(&findings);
	if (has_control)
		store_free_run(&control);
	store_free_run(&run);
	store_close(store);
	return EXIT_OK;
}
