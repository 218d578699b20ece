/*
 * search.h - the PCRE2 patterns of '/' (search.c).
 */
#ifndef DUO_TUI_SEARCH_H
#define DUO_TUI_SEARCH_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>

/* Compile a '/' pattern; NULL and a message naming the fault. */
pcre2_code *pattern_compile(const char *pattern, char *message, size_t size);
/* Call found(start, end, arg) for every match of the subject that is
 * not empty, in order, with one match block for them all; 0, or -1 out
 * of memory or when found() returns non-zero. */
int pattern_each(const pcre2_code *code, const char *subject, size_t length,
    int (*found)(size_t start, size_t end, void *arg), void *arg);
/* The first match at or after from: 1 and its bytes, 0 none, -1 error. */
int pattern_find(const pcre2_code *code, const char *subject, size_t length,
    size_t from, size_t *start, size_t *end);

#endif
