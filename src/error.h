/*
 * error.h - the one way library modules report failure.
 *
 * Library modules (gguf, tokenizer, model, train, ...) never print and never
 * exit: a failing call fills a struct duo_error with one line of text that
 * names the object and the fault, and returns -1.  Only the command line and
 * the TUI decide what a person sees.
 */
#ifndef DUO_ERROR_H
#define DUO_ERROR_H

#include <stddef.h>

struct duo_error {
	char message[1024];
};

/* Fill err (may be NULL) with a formatted one-line message; return -1. */
int error_set(struct duo_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the message already in err with "prefix: "; return -1. */
int error_prefix(struct duo_error *err, const char *prefix);

#endif
