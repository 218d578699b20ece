/* cli.c - what the subcommands share: errors, input, options, progress. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "usage: %s %s %s\nTry '%s %s --help'.\n",
		    program_name, cmd->name, cmd->usage, program_name,
		    cmd->name);
	else
		fprintf(stderr, "Try '%s --help'.\n", program_name);
	exit(EXIT_USAGE);
}

void
print_usage(FILE *out, const struct command *cmd, const char *options)
{
	fprintf(out, "usage: %s %s %s\n%s.\n", program_name, cmd->name,
	    cmd->usage, cmd->summary);
	if (options != NULL && *options != '\0')
		fprintf(out, "\n%s", options);
	fprintf(out, "\nSee duo(1) for details.\n");
}

void
print_version(void)
{
	printf("%s %s\n", program_name, PACKAGE_VERSION);
}

int
read_input(const char *path, char **data, size_t *length,
    struct duo_error *err)
{
	const char *name = path == NULL || strcmp(path, "-") == 0 ?
	    "standard input" : path;
	FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin :
	    fopen(path, "rb");
	size_t size = 0, capacity = 0, n;
	char *buffer = NULL, *grown;

	if (f == NULL)
		return error_set(err, "%s: %s", name, strerror(errno));
	for (;;) {
		if (capacity - size < 65536 + 1) {
			if (capacity > SIZE_MAX / 2 - 65536) {
				free(buffer);
				if (f != stdin)
					fclose(f);
				return error_set(err, "%s: too large", name);
			}
			capacity = capacity * 2 + 65536 + 1;
			grown = realloc(buffer, capacity);
			if (grown == NULL) {
				free(buffer);
				if (f != stdin)
					fclose(f);
				return error_set(err, "%s: out of memory",
				    name);
			}
			buffer = grown;
		}
		n = fread(buffer + size, 1, capacity - size - 1, f);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int saved = errno;

		free(buffer);
		if (f != stdin)
			fclose(f);
		/* Reading a directory fails here with EISDIR. */
		return error_set(err, "%s: %s", name,
		    saved != 0 ? strerror(saved) : "read error");
	}
	if (f != stdin)
		fclose(f);
	buffer[size] = '\0';
	*data = buffer;
	*length = size;
	return 0;
}

const char *
default_model_path(const char *from_option)
{
	const char *env;

	if (from_option != NULL)
		return from_option;
	env = getenv("DUO_MODEL");
	if (env != NULL && *env != '\0')
		return env;
	return DUO_DATADIR "/duo.gguf";
}

long
parse_long_option(const struct command *cmd, const char *option,
    const char *value, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0')
		die_usage(cmd, "%s '%s' is not a whole number", option, value);
	if (v < min || v > max)
		die_usage(cmd, "%s %ld is out of range %ld..%ld", option, v,
		    min, max);
	return v;
}

double
parse_double_option(const struct command *cmd, const char *option,
    const char *value, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !isfinite(v))
		die_usage(cmd, "%s '%s' is not a number", option, value);
	if (v < min || v > max)
		die_usage(cmd, "%s %g is out of range %g..%g", option, v, min,
		    max);
	return v;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void
format_duration(char *out, size_t size, double seconds)
{
	long s = seconds < 0 || !isfinite(seconds) ? 0 : (long)(seconds + 0.5);

	if (s >= 3600)
		snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
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

void
progress_update(struct progress *p, double done, const char *extra)
{
	double t = now_seconds(), elapsed = t - p->start, rate;
	char eta[32], spent[32];

	if (!p->enabled || (t - p->last_draw < 0.1 && done < p->total))
		return;
	p->last_draw = t;
	rate = elapsed > 0 ? done / elapsed : 0;
	format_duration(spent, sizeof spent, elapsed);
	if (rate > 0 && p->total > done)
		format_duration(eta, sizeof eta, (p->total - done) / rate);
	else
		snprintf(eta, sizeof eta, "-");
	fprintf(stderr, "\r\033[K%s %.0f/%.0f %s  %.1f %s/s  %s elapsed  "
	    "ETA %s%s%s", p->label, done, p->total, p->unit, rate, p->unit,
	    spent, eta, extra != NULL ? "  " : "", extra != NULL ? extra : "");
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

size_t
utf8_sequence_length(const unsigned char *s, size_t n)
{
	size_t length, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		length = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		length = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		length = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (length > n)
		return 0;
	for (i = 1; i < length; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return length;
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
