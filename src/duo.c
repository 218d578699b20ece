/*
 * duo.c - the duo program: finds the subcommand in the list of the rows
 * that the command files define (commands.h) and runs it; its --help
 * lists them from the rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

/* Every command, in the order duo --help lists them. */
static const struct command *const commands[] = {
	&cmd_tui_entry,
	&cmd_info_entry,
	&cmd_tokenize_entry,
	&cmd_score_entry,
	&cmd_convert_entry,
	&cmd_export_entry,
	&cmd_findings_entry,
	&cmd_merge_entry,
	&cmd_run_entry,
	&cmd_train_entry,
	&cmd_router_entry,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Find the command named name, or NULL. */
static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/*
 * Run this program again with OMP_WAIT_POLICY=passive, unless the user
 * chose a policy.  libgomp reads the variable once, when the program is
 * loaded, and by default an idle OpenMP thread spins for milliseconds
 * before it sleeps; on two cores shared with OpenBLAS's threads or other
 * work, that spinning takes the core from the thread everybody waits for.
 * Measured training at width 128 with other jobs busy: 670 tokens/s
 * spinning, 1870 passive; on an idle machine the two are within noise.
 * If exec fails, duo goes on with the default policy.
 */
static void
prefer_passive_waiting(char **argv)
{
	/* DUO_NO_REEXEC: for tools that cannot follow the exec, such as
	 * valgrind, which would run itself as the program */
	if (getenv("DUO_NO_REEXEC") != NULL ||
	    getenv("OMP_WAIT_POLICY") != NULL ||
	    setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
}

/* Print what duo does and its commands, one line each from their rows. */
static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: %s [COMMAND [ARGS]]\n"
	    "Study where a Duo language model's computation pays off.\n"
	    "With no command, open the browser (duo tui); options without a\n"
	    "command are the browser's: duo -d DB is duo tui -d DB.\n\n"
	    "Commands:\n", program_name);
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name,
		    commands[i]->summary);
	fprintf(out, "\nOptions:\n"
	    "  -h, --help     show this help and exit\n"
	    "  -V, --version  show the version and exit\n"
	    "\n'%s COMMAND --help' describes a command; duo(1) describes "
	    "them all.\n", program_name);
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	prefer_passive_waiting(argv);
	if (argc < 2) {
		/* duo alone opens the browser. */
		static char *browse[] = { "tui", NULL };

		return cmd_tui_entry.exec(1, browse);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		print_version();
		return EXIT_OK;
	}
	if (argv[1][0] == '-' && argv[1][1] != '\0') {
		/* Options without a command are the browser's, as duo alone
		 * is the browser: "duo -d DB" is "duo tui -d DB". */
		argv[0] = "tui";
		return cmd_tui_entry.exec(argc, argv);
	}
	cmd = command_find(argv[1]);
	if (cmd == NULL)
		die_usage(NULL, "'%s' is not a duo command", argv[1]);
	return cmd->exec(argc - 1, argv + 1);
}
