/*
 * array.h - arrays allocated with their size checked: the one allocation
 * helper of the oracle's files (oracle.c, walk.c, search.c, derive.c).
 * It owns no state and must not grow into an allocator: callers free
 * with free().
 */
#ifndef DUO_ARRAY_H
#define DUO_ARRAY_H

#include <stdint.h>
#include <stdlib.h>

/* An array of n elements of size bytes (at least one element, so that
 * NULL always means no memory), or NULL when it would not fit in size_t. */
static inline void *
array_new(size_t n, size_t size)
{
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / size)
		return NULL;
	return malloc(n * size);
}

#endif
