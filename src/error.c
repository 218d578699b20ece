/* error.c - formatting of the one-line error messages of struct duo_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One line, always: a message quoting file content or a path must not
 * break it. */
static void
one_line(char *message)
{
	char *p;

	for (p = message; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Format a message into err, on one line, with the code DUO_ERROR_FAILED. */
int
error_set(struct duo_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = DUO_ERROR_FAILED;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	one_line(err->message);
	return -1;
}

/* Mark err as a cancellation: a code the caller can test, and a message. */
int
error_cancelled(struct duo_error *err)
{
	if (err == NULL)
		return -1;
	err->code = DUO_ERROR_CANCELLED;
	snprintf(err->message, sizeof err->message, "cancelled");
	return -1;
}

/* Put prefix and ": " before err's message; the code stays. */
int
error_prefix(struct duo_error *err, const char *prefix)
{
	char old[sizeof err->message];

	if (err == NULL)
		return -1;
	memcpy(old, err->message, sizeof old);
	/* Truncate rather than overflow: the message stays one line. */
	snprintf(err->message, sizeof err->message, "%.200s: %.800s", prefix,
	    old);
	one_line(err->message);
	return -1;
}
