/*
 * cmd_merge.c - "duo merge": the runs of other databases copied into one
 * (store_merge.c copies), with a line per input that says what came.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "shard.h"
#include "store.h"

static const char merge_options[] =
    "Options:\n"
    "  --skip-duplicates  leave out a run that OUT already has (same model,\n"
    "                     text and settings) instead of refusing its input\n"
    "  --join-shards      join the shards of one text (duo run --shard I/N)\n"
    "                     in the inputs into one run of OUT, as one run of\n"
    "                     the whole text would be\n"
    "  -h, --help         show this help and exit\n"
    "\nCopies every run of each IN into OUT, which is created if missing."
    "\nEach input is merged in one transaction, whole or not at all; duo"
    "\nstops at the first input it refuses, keeping those merged before it."
    "\n";

static int cmd_merge_exec(int argc, char **argv);

/* "duo merge": its row of the command table that duo.c lists. */
const struct command cmd_merge_entry = {
	.name = "merge",
	.usage = "[--skip-duplicates | --join-shards] OUT IN...",
	.summary = "Copy the runs of other databases into one",
	.options = merge_options,
	.exec = cmd_merge_exec,
};

/* Say what one input brought: "b.db: 3 runs merged (ids 7-9), ...". */
static void
print_report(const char *in_path, const char *out_path,
    const struct store_merge_report *report)
{
	size_t i;

	for (i = 0; i < report->n_skipped; i++)
		fprintf(stderr, "%s: %s: run %" PRId64 " skipped, already in %s "
		    "as run %" PRId64 "\n", program_name, in_path,
		    report->skipped[i].run_id, out_path,
		    report->skipped[i].duplicate_of);
	printf("%s: %zu run%s merged", in_path, report->n_merged,
	    report->n_merged == 1 ? "" : "s");
	if (report->n_merged == 1)
		printf(" (id %" PRId64 ")", report->first_id);
	else if (report->n_merged > 1)
		printf(" (ids %" PRId64 "-%" PRId64 ")", report->first_id,
		    report->last_id);
	if (report->n_skipped > 0)
		printf(", %zu skipped as duplicate%s", report->n_skipped,
		    report->n_skipped == 1 ? "" : "s");
	printf(", %zu model%s added\n", report->n_models_added,
	    report->n_models_added == 1 ? "" : "s");
}

/* Join the shards in the inputs into one run of the output database. */
static int
join_shards(const char *out_path, char **inputs, int n_inputs)
{
	struct shard_join_report report;
	struct store *out;
	struct duo_error err;
	struct stat st;
	int created, rc;

	created = stat(out_path, &st) != 0 && errno == ENOENT;
	if (store_open(&out, out_path, 0, &err) != 0)
		die("%s", err.message);
	rc = shard_join(out, (const char *const *)inputs, n_inputs, &report,
	    &err);
	store_close(out);
	if (rc != 0) {
		/* no empty database left behind that this command made */
		if (created)
			unlink(out_path);
		die("%s", err.message);
	}
	printf("%s: run %" PRId64 " joined from %d shard%s of %s, %zu "
	    "tokens\n", out_path, report.run_id, report.n_shards,
	    report.n_shards == 1 ? "" : "s", report.source, report.n_tokens);
	free(report.source);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	return EXIT_OK;
}

/* Copy the runs of every input into the output database. */
static int
cmd_merge_exec(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "skip-duplicates", no_argument, NULL, 's' },
		{ "join-shards", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = &cmd_merge_entry;
	struct store_merge_report report;
	struct store *out;
	struct duo_error err;
	struct stat st;
	const char *out_path;
	int c, i, flags = 0, created, merged_any = 0, join = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case 's':
			flags |= STORE_MERGE_SKIP_DUPLICATES;
			break;
		case 'j':
			join = 1;
			break;
		case 'h':
			print_usage(stdout, cmd);
			return EXIT_OK;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (optind == argc)
		die_usage(cmd, "give the output database and the inputs");
	if (argc - optind < 2)
		die_usage(cmd, "give at least one input database after %s",
		    argv[optind]);
	out_path = argv[optind];
	if (join && flags != 0)
		die_usage(cmd, "--join-shards makes one new run; it does not "
		    "go with --skip-duplicates");
	if (join)
		return join_shards(out_path, argv + optind + 1,
		    argc - optind - 1);
	created = stat(out_path, &st) != 0 && errno == ENOENT;
	if (store_open(&out, out_path, 0, &err) != 0)
		die("%s", err.message);
	for (i = optind + 1; i < argc; i++) {
		if (store_merge(out, argv[i], flags, &report, &err) != 0) {
			store_close(out);
			/* A refused first input leaves no empty database
			 * behind that this command made. */
			if (created && !merged_any)
				unlink(out_path);
			die("%s", err.message);
		}
		print_report(argv[i], out_path, &report);
		merged_any = 1;
		store_merge_report_free(&report);
	}
	store_close(out);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("standard output: write error");
	return EXIT_OK;
}
