/*
 * host.h - what duo needs from the system it runs on, for the command
 * line and the browser alike: where its model and example texts are, a
 * whole file read into memory, and the clock.
 *
 * The model and the examples are found from the environment ($DUO_MODEL,
 * $DUO_EXAMPLES) or where "make install" put them (DUO_DATADIR, the
 * package's data folder); never from the build tree, so that a test names
 * the files it uses.  Like every library module it neither prints nor
 * exits.
 */
#ifndef DUO_HOST_H
#define DUO_HOST_H

#include <stddef.h>

#include "error.h"

/*
 * The model to use: the -m argument if given, else $DUO_MODEL, else the
 * installed default model (DUO_DATADIR/duo.gguf).
 */
const char *default_model_path(const char *from_option);

/*
 * The shipped example text, letter.txt: in $DUO_EXAMPLES if set, else in
 * the installed examples (DUO_DATADIR/examples).  Its path goes to out;
 * -1 and a message naming where it was looked for if it is not there.
 */
int example_text_path(char *out, size_t size, struct duo_error *err);

/*
 * Read a whole file ("-" or NULL is standard input) into a fresh buffer,
 * NUL-terminated; fails with a message naming the file.
 */
int read_input(const char *path, char **data, size_t *length,
    struct duo_error *err);

/* Seconds on the monotonic clock, for durations and rates. */
double now_seconds(void);
/* "1h05m" or "4m07s". */
void format_duration(char *out, size_t size, double seconds);

#endif
