/*
 * testlib.h - what the C tests of the engine share: their own
 * deterministic random numbers (xorshift64*, seeded per test), memory
 * that ends the test with status 99 when it runs out, and the report of
 * a check: "ok" or "FAIL", the worst difference and its tolerance, each
 * failure counted in failures.
 *
 * Header only: each test is one program linked with libduo.  Define
 * TEST_NAME (the program's name, for messages) before including it.
 */
#ifndef DUO_TESTLIB_H
#define DUO_TESTLIB_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef TEST_NAME
#error "define TEST_NAME before including testlib.h"
#endif

static int failures;
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static inline void
random_seed(uint64_t seed)
{
	rng_state = seed;
}

static inline uint64_t
random_u64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static inline int
random_int(int n)
{
	return (int)(random_u64() % (uint64_t)n);
}

/* Uniform in [0, 1). */
static inline double
random_uniform(void)
{
	return (double)(random_u64() >> 11) * 0x1.0p-53;
}

/* Uniform in [-1, 1). */
static inline double
random_signed(void)
{
	return (double)(random_u64() >> 11) * 0x1.0p-52 - 1.0;
}

static inline void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL) {
		fprintf(stderr, TEST_NAME ": out of memory\n");
		exit(99);
	}
	return p;
}

static inline void *
xmalloc(size_t n)
{
	return xcalloc(n, 1);
}

/* Report a check: "ok" or "FAIL", the worst difference and the bound. */
static inline void
check(const char *what, double worst, double tolerance)
{
	int ok = worst <= tolerance;

	printf("%s %s: worst %.3g (tolerance %.0e)\n", ok ? "ok  " : "FAIL",
	    what, worst, tolerance);
	if (!ok)
		failures++;
}

static inline void
check_true(const char *what, int condition)
{
	printf("%s %s\n", condition ? "ok  " : "FAIL", what);
	if (!condition)
		failures++;
}

#endif
