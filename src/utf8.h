/*
 * utf8.h - where a UTF-8 sequence ends, for the writers that must not
 * pass invalid bytes on as they are (TSV, CSV, JSON).  Knows bytes only:
 * no output, no allocation.
 */
#ifndef DUO_UTF8_H
#define DUO_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

#endif
