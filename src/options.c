/*
 * options.c - option values parsed into numbers, with errors instead of
 * exits (options.h).
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>


/* Texts quoted in messages are cut here, so that a message stays one
 * line of reasonable length whatever was typed. */
#define QUOTE_MAX 40

int
option_long(const char *option, const char *text, long min, long max,
    long *value, struct duo_error *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno == ERANGE)
		return error_set(err, "%s '%.*s' is out of range %ld..%ld",
		    option, QUOTE_MAX, text, min, max);
	if (end == text || *end != '\0')
		return error_set(err, "%s '%.*s' is not a whole number",
		    option, QUOTE_MAX, text);
	if (v < min || v > max)
		return error_set(err, "%s %ld is out of range %ld..%ld",
		    option, v, min, max);
	*value = v;
	return 0;
}

int
option_double(const char *option, const char *text, double min,
    double max, double *value, struct duo_error *err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || isnan(v))
		return error_set(err, "%s '%.*s' is not a number", option,
		    QUOTE_MAX, text);
	if (errno == ERANGE || !isfinite(v) || v < min || v > max)
		return error_set(err, "%s '%.*s' is out of range %g..%g",
		    option, QUOTE_MAX, text, min, max);
	*value = v;
	return 0;
}

int
option_budgets(const char *option, const char *text, int max, int **list,
    size_t *n, struct duo_error *err)
{
	const char *p = text;
	char *end;
	long value;
	int *values = NULL, *grown;
	size_t count = 0, capacity = 0;

	*list = NULL;
	*n = 0;
	for (;;) {
		/* strtol would take a sign or spaces; a budget has neither. */
		if (*p < '0' || *p > '9') {
			free(values);
			return error_set(err, "%s '%.*s' is not a list of "
			    "whole numbers like 2,4,6", option, QUOTE_MAX,
			    text);
		}
		errno = 0;
		value = strtol(p, &end, 10);
		if (errno == ERANGE || value > max) {
			free(values);
			return error_set(err, "%s: %.*s is more than %d",
			    option, (int)(end - p) > QUOTE_MAX ? QUOTE_MAX :
			    (int)(end - p), p, max);
		}
		if (count == capacity) {
			/* A list is shorter than its text: no overflow. */
			capacity = capacity == 0 ? 8 : 2 * capacity;
			grown = realloc(values, capacity * sizeof *values);
			if (grown == NULL) {
				free(values);
				return error_set(err, "out of memory for %s",
				    option);
			}
			values = grown;
		}
		values[count++] = (int)value;
		if (*end == '\0')
			break;
		if (*end != ',') {
			free(values);
			return error_set(err, "%s '%.*s' is not a list of "
			    "whole numbers like 2,4,6", option, QUOTE_MAX,
			    text);
		}
		p = end + 1;
	}
	*list = values;
	*n = count;
	return 0;
}

int
option_positive_pair(const char *option, const char *text, double *a,
    double *b, struct duo_error *err)
{
	char *end;
	double first, second;

	first = strtod(text, &end);
	if (end == text || *end != ',')
		return error_set(err, "%s '%.*s' is not two numbers A,B",
		    option, QUOTE_MAX, text);
	text = end + 1;
	second = strtod(text, &end);
	if (end == text || *end != '\0' || !(first > 0) || !(second > 0) ||
	    !isfinite(first) || !isfinite(second))
		return error_set(err, "%s needs two positive numbers A,B",
		    option);
	*a = first;
	*b = second;
	return 0;
}
