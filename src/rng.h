/*
 * rng.h - the one random number generator of duo: splitmix64.
 *
 * One 64-bit word of state, so a training checkpoint holds it whole, and
 * every stream is reproducible from its seed on any machine.
 */
#ifndef DUO_RNG_H
#define DUO_RNG_H

#include <stdint.h>

/* Advance the state and return 64 random bits. */
static inline uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double
rng_uniform(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1): never 0, so that log() of it is finite. */
static inline double
rng_uniform_open(uint64_t *state)
{
	return ((double)(rng_next(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform in 0 .. n - 1 (n >= 1), without the bias of a plain modulo. */
static inline uint64_t
rng_below(uint64_t *state, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = rng_next(state);
	while (x >= limit);
	return x % n;
}

#endif
