/* cli.c - what the subcommands share: errors, input, options, progress. */
#include "cli.h"
#include "options.h"
#include "utf8.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *program_name = "duo";
void (*die_cleanup)(void);

void
die(const char *fmt, ...)
{
	va_list ap;

	if (die_cleanup != NULL) {
		void (*cleanup)(void) = die_cleanup;

		die_cleanup = NULL;
		cleanup();
	}
	fflush(stdout);
	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_ERROR);
}

void
die_usage(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* one line, as every error: the help is a command away */
	if (cmd != NULL)
		fprintf(stderr, " (see '%s %s --help')\n", program_name,
		    cmd->name);
	else
		fprintf(stderr, " (see '%s --help')\n", program_name);
	exit(EXIT_USAGE);
}

void
die_option(const struct command *cmd, int c, char *const argv[])
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const char *equals;
	int is_long = arg != NULL && strncmp(arg, "--", 2) == 0;

	if (arg == NULL)
		arg = "";
	if (c == ':') {
		if (is_long)
			die_usage(cmd, "%s needs a value", arg);
		die_usage(cmd, "-%c needs a value", optopt);
	}
	if (!is_long)
		die_usage(cmd, "unknown option '-%c'", optopt > 32 &&
		    optopt < 127 ? optopt : '?');
	/* "--help=x": a known long option given a value it does not take
	 * (getopt_long sets optopt to its value); else no option, or the
	 * prefix of more than one */
	equals = strchr(arg, '=');
	if (optopt != 0 && equals != NULL)
		die_usage(cmd, "%.*s takes no value", (int)(equals - arg),
		    arg);
	die_usage(cmd, "unknown option '%.*s'", equals != NULL ?
	    (int)(equals - arg) : (int)strlen(arg), arg);
}

void
print_usage(FILE *out, const struct command *cmd)
{
	fprintf(out, "usage: %s %s %s\n%s.\n", program_name, cmd->name,
	    cmd->usage, cmd->summary);
	if (cmd->options != NULL && *cmd->options != '\0')
		fprintf(out, "\n%s", cmd->options);
	fprintf(out, "\nSee duo(1) for details.\n");
}

void
print_version(void)
{
	printf("%s %s\n", program_name, PACKAGE_VERSION);
}

long
parse_long_option(const struct command *cmd, const char *option,
    const char *value, long min, long max)
{
	struct duo_error err;
	long v;

	if (option_long(option, value, min, max, &v, &err) != 0)
		die_usage(cmd, "%s", err.message);
	return v;
}

double
parse_double_option(const struct command *cmd, const char *option,
    const char *value, double min, double max)
{
	struct duo_error err;
	double v;

	if (option_double(option, value, min, max, &v, &err) != 0)
		die_usage(cmd, "%s", err.message);
	return v;
}

void
progress_start(struct progress *p, const char *label, const char *unit,
    double total)
{
	p->label = label;
	p->unit = unit;
	p->total = total;
	p->start = now_seconds();
	p->last_draw = 0;
	p->enabled = isatty(STDERR_FILENO);
}

/* The terminal's columns on standard error, or 80. */
static int
terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The bytes of line that fill at most columns, a character a column (a
 * UTF-8 continuation byte takes none), never cutting a character. */
static size_t
fit_columns(const char *line, int columns)
{
	size_t i = 0;
	int used = 0;

	for (;;) {
		if (line[i] == '\0')
			return i;
		if (((unsigned char)line[i] & 0xC0) != 0x80 &&
		    used++ == columns)
			return i;
		i++;
	}
}

void
progress_update(struct progress *p, double done, const char *extra)
{
	double t = now_seconds(), elapsed = t - p->start, rate;
	char eta[32], spent[32], line[1024];
	int columns = terminal_columns() - 1;
	size_t n;

	if (!p->enabled || (t - p->last_draw < 0.1 && done < p->total))
		return;
	p->last_draw = t;
	rate = elapsed > 0 ? done / elapsed : 0;
	format_duration(spent, sizeof spent, elapsed);
	if (rate > 0 && p->total > done)
		format_duration(eta, sizeof eta, (p->total - done) / rate);
	else
		snprintf(eta, sizeof eta, "-");
	snprintf(line, sizeof line, "%s %.0f/%.0f %s  %.1f %s/s  %s elapsed"
	    "  ETA %s%s%s", p->label, done, p->total, p->unit, rate, p->unit,
	    spent, eta, extra != NULL ? "  " : "", extra != NULL ? extra : "");
	/* A line wider than the terminal would wrap, and \r would then
	 * redraw only its last row: its end is cut instead. */
	n = fit_columns(line, columns > 0 ? columns : 0);
	fprintf(stderr, "\r\033[K%.*s", (int)n, line);
	fflush(stderr);
}

void
progress_finish(struct progress *p)
{
	if (p->enabled) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

void
tsv_write_escaped(FILE *out, const char *bytes, size_t length)
{
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0, n;

	while (i < length) {
		switch (s[i]) {
		case '\t': fputs("\\t", out); i++; continue;
		case '\n': fputs("\\n", out); i++; continue;
		case '\r': fputs("\\r", out); i++; continue;
		case '\\': fputs("\\\\", out); i++; continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(out, "\\x%02x", s[i]);
			i++;
			continue;
		}
		n = utf8_sequence_length(s + i, length - i);
		if (n == 0) {
			fprintf(out, "\\x%02x", s[i]);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
}
