/*
 * Samplers for RLWE: uniform residues (from a seeded ChaCha20 stream, so that a seed can stand for
 * a uniform polynomial), uniform ternary secrets, and a bounded discrete Gaussian for errors.
 * Every stream is an hg_prng; fresh randomness comes from hg_prng_init_random (the OS CSPRNG).
 */
#ifndef HG_RING_SAMPLER_H
#define HG_RING_SAMPLER_H

#include "prime.h"
#include "util/util.h"

#include <stddef.h>
#include <stdint.h>

/* Standard deviation and bound of the error distribution (HomomorphicEncryption.org standard:
 * sigma = 8/sqrt(2 pi) ~ 3.19; samples beyond 6 sigma are never produced). */
#define HG_GAUSSIAN_SIGMA 3.2
#define HG_GAUSSIAN_BOUND 19

/* n values uniform in [0, q) by rejection sampling from the stream. Which words are drawn is
 * fixed (32-bit words when q < 2^32, 64-bit otherwise, masked to the bit length of q), so the
 * same stream gives the same values everywhere. */
void hg_sample_uniform(hg_prng *rng, const hg_modulus *m, uint64_t *out, size_t n);

/* n values uniform in {-1, 0, 1}. */
void hg_sample_ternary(hg_prng *rng, int8_t *out, size_t n);

/* n values of the discrete Gaussian of deviation HG_GAUSSIAN_SIGMA restricted to
 * [-HG_GAUSSIAN_BOUND, HG_GAUSSIAN_BOUND], by inversion of a 63-bit cumulative table; the table
 * scan does not branch on the sample. */
void hg_sample_gaussian(hg_prng *rng, int8_t *out, size_t n);

/* out[i] = v[i] mod q for small signed values. */
void hg_small_to_mod(const int8_t *v, const hg_modulus *m, uint64_t *out, size_t n);

#endif
