/*
 * rng.c — the numeric core's own deterministic random numbers:
 * xoshiro256** seeded through splitmix64, uniform and normal variates.
 */
#include "nn_internal.h"

/* splitmix64 step: used only to expand a seed into xoshiro's state */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* seed the generator; every seed (0 too) gives a valid state */
void
nn_rng_seed(nn_rng *r, uint64_t seed)
{
	int			i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

/* rotate left */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* next 64 random bits (xoshiro256**) */
uint64_t
nn_rng_next(nn_rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform in [0, 1) with 24 random bits */
float
nn_rng_uniform(nn_rng *r)
{
	return (float) (nn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* uniform integer in [0, n) by multiply-shift (bias below 2^-32 * n) */
uint32_t
nn_rng_below(nn_rng *r, uint32_t n)
{
	return (uint32_t) (((nn_rng_next(r) >> 32) * (uint64_t) n) >> 32);
}

/* standard normal by Box-Muller from two uniforms in (0, 1] and [0, 1) */
float
nn_rng_normal(nn_rng *r)
{
	double		u1 = ((double) (nn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
	double		u2 = (double) (nn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);

	return (float) (sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
