/* host.c - the model's and the examples' places, files, clock (host.h). */
#include "host.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Name the model file to load, from the option, the environment or the
 * installed data. */
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

/* Find letter.txt in $DUO_EXAMPLES or the installed examples. */
int
example_text_path(char *out, size_t size, struct duo_error *err)
{
	const char *env = getenv("DUO_EXAMPLES");
	const char *dir = env != NULL && *env != '\0' ? env :
	    DUO_DATADIR "/examples";

	snprintf(out, size, "%s/letter.txt", dir);
	if (access(out, R_OK) == 0)
		return 0;
	return error_set(err, "no example text: letter.txt is not in %s",
	    dir);
}

/* Read all of path, or standard input, into a NUL-terminated buffer. */
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

/* Read the monotonic clock, in seconds. */
double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Write seconds as hours and minutes, or minutes and seconds. */
void
format_duration(char *out, size_t size, double seconds)
{
	long s = seconds < 0 || !isfinite(seconds) ? 0 : (long)(seconds + 0.5);

	if (s >= 3600)
		snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
}
