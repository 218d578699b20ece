/*
 * options.h - the values of command-line options, parsed without printing
 * or exiting: whole numbers and numbers in a range, lists of budgets
 * ("2,4,6") and pairs ("A,B").  The command line (cli.c) turns an error
 * into its usage message; the fuzz harness of tests/fuzz/ feeds these the
 * bytes it likes.  Each error names the option and the text it refused.
 */
#ifndef DUO_OPTIONS_H
#define DUO_OPTIONS_H

#include <stddef.h>

#include "error.h"

/* A whole number in min..max, the whole text and nothing else. */
int option_long(const char *option, const char *text, long min, long max,
    long *value, struct duo_error *err);
/* A finite number in min..max, the whole text and nothing else. */
int option_double(const char *option, const char *text, double min,
    double max, double *value, struct duo_error *err);
/*
 * "2,4,6": one or more whole numbers from 0 to max, separated by single
 * commas.  *list is allocated (free it), *n its length.
 */
int option_budgets(const char *option, const char *text, int max,
    int **list, size_t *n, struct duo_error *err);
/* "A,B": two positive finite numbers. */
int option_positive_pair(const char *option, const char *text, double *a,
    double *b, struct duo_error *err);

#endif
