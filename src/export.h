/*
 * export.h - one stored run's results as CSV or JSON, a row per token,
 * method and budget: what "duo export" prints and what the browser's
 * ":export" writes, from one writer so that the two cannot differ.
 *
 * Both formats are UTF-8.  A piece that is not valid UTF-8 (a token may be
 * part of a character) is written with U+FFFD for each bad byte, and so is
 * a NUL; the exact bytes stay in the database and follow from token_id.
 */
#ifndef DUO_EXPORT_H
#define DUO_EXPORT_H

#include <stdio.h>

#include "store.h"

enum export_format {
	EXPORT_CSV,
	EXPORT_JSON,
};

/* "csv" or "json" into *format; -1 for anything else. */
int export_format_parse(const char *name, enum export_format *format);
/* Write run to out; the caller checks out for write errors. */
void export_write(FILE *out, const struct run_data *run,
    enum export_format format);

#endif
