/* NTT-friendly primes: q prime, q = 1 mod 2N, so that Z_q has the 2N-th roots of unity that a
 * negacyclic NTT of size N needs. */
#ifndef HG_RING_PRIMES_H
#define HG_RING_PRIMES_H

#include "hegraph/hg_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deterministic Miller-Rabin for all 64-bit n. */
bool hg_is_prime(uint64_t n);

/* Writes to out the `count` largest primes q < 2^bits with q = 1 mod two_n, skipping the
 * n_exclude values in exclude. bits in [20, 60]. HG_ERR_PARAMS (with the bit size and N named)
 * when there are not enough such primes. */
hg_status hg_primes_generate(int bits, size_t count, uint64_t two_n, const uint64_t *exclude,
                             size_t n_exclude, uint64_t *out) HG_WUR;

/* The smallest primitive two_n-th root of unity mod q (two_n a power of two dividing q - 1).
 * Choosing the smallest makes tables identical wherever they are built. */
hg_status hg_primitive_root(uint64_t two_n, uint64_t q, uint64_t *root) HG_WUR;

#endif
