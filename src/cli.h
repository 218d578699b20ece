/*
 * cli.h - what the subcommands of the duo program share: the command
 * table entry, fatal errors, option values, the progress line and TSV
 * output.  It brings host.h along (the default model, reading input, the
 * clock), which the browser takes from the library directly.
 *
 * Only the command line (duo.c, cmd_*.c) and the TUI print or exit.
 */
#ifndef DUO_CLI_H
#define DUO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "host.h"

/* Exit statuses of every subcommand. */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* One subcommand: a row that its cmd_NAME.c defines (commands.h). */
struct command {
	const char *name;      /* "score", or "router" */
	const char *usage;     /* after "duo NAME " */
	const char *summary;   /* one line for duo --help */
	const char *options;   /* the option help of "duo NAME --help" */
	int (*exec)(int argc, char **argv);  /* argv[0] is the command name */
};

extern const char *program_name;   /* "duo" */

/* Print "duo: message" (one line) and exit 1; restores the terminal. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Print "duo: message (see 'duo NAME --help')" on one line, exit 2. */
void die_usage(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/*
 * The usage error of getopt_long()'s return c, '?' or ':' (the option
 * string begins with ':' and opterr is 0, so that getopt says nothing
 * itself): "unknown option '--x'", "-m needs a value", "--help takes no
 * value".
 */
void die_option(const struct command *cmd, int c, char *const argv[])
    __attribute__((noreturn));
/* Print the usage of a command and its option help. */
void print_usage(FILE *out, const struct command *cmd);
void print_version(void);
/* Hook run by die() before printing, e.g. endwin() for the TUI. */
extern void (*die_cleanup)(void);

/* Parse integer / float option values, dying with a usage error. */
long parse_long_option(const struct command *cmd, const char *option,
    const char *value, long min, long max);
double parse_double_option(const struct command *cmd, const char *option,
    const char *value, double min, double max);

/*
 * Progress line on stderr, only when stderr is a terminal: "label done/total
 * rate unit/s ETA ...".  progress_update() redraws at most 10 times a second.
 */
struct progress {
	const char *label;
	const char *unit;
	double total;
	double start;
	double last_draw;
	int enabled;
};
void progress_start(struct progress *p, const char *label, const char *unit,
    double total);
void progress_update(struct progress *p, double done, const char *extra);
void progress_finish(struct progress *p);

/*
 * Write bytes as one TSV field: tab, newline, carriage return and backslash
 * as \t \n \r \\, other control bytes, DEL and bytes that are not valid
 * UTF-8 as \xHH; valid UTF-8 as it is.
 */
void tsv_write_escaped(FILE *out, const char *bytes, size_t length);

#endif
