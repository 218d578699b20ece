/*
 * error.h - the one way library modules report failure.
 *
 * Library modules (gguf, tokenizer, model, train, ...) never print and never
 * exit: a failing call fills a struct duo_error with one line of text that
 * names the object and the fault, and a code for the few conditions a
 * caller treats differently, and returns -1.  Only the command line and
 * the TUI decide what a person sees.
 */
#ifndef DUO_ERROR_H
#define DUO_ERROR_H

#include <stddef.h>

/* What kind of failure; a code is added only when a caller branches on
 * it, everything else is DUO_ERROR_FAILED and told by its message. */
enum duo_error_code {
	DUO_ERROR_FAILED = 0,   /* the work could not be done */
	DUO_ERROR_CANCELLED,    /* the caller asked the work to stop */
	DUO_ERROR_DAMAGED,      /* a stored run fails a check: the browser
				   lists it as damaged instead */
	DUO_ERROR_KEPT,         /* not stored, but kept elsewhere (the
				   message says where and how to store it) */
	DUO_ERROR_INCOMPLETE,   /* a stored run is not complete (running or
				   stopped): the browser lists its state */
};

/* The message first, so that { "" } still initialises one. */
struct duo_error {
	char message[1024];
	enum duo_error_code code;
};

/* Fill err (may be NULL) with a formatted one-line message and the code
 * DUO_ERROR_FAILED; return -1. */
int error_set(struct duo_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fill err (may be NULL) with the code DUO_ERROR_CANCELLED and the
 * message "cancelled"; return -1. */
int error_cancelled(struct duo_error *err);

/* Prefix the message already in err with "prefix: ", keeping its code;
 * return -1. */
int error_prefix(struct duo_error *err, const char *prefix);

#endif
