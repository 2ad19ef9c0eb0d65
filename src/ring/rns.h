/*
 * RNS tools: fast basis conversion and divide-and-round by a product of primes.
 *
 * Fast basis conversion (Bajard et al., Halevi-Polyakov-Shoup) from basis Q = q_0..q_{k-1} to
 * basis P = p_0..p_{m-1}: for x in [0, Q) given by its residues,
 *     conv(x) mod p_j = sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i)  mod p_j,
 * The terms [x_i * (Q/q_i)^-1]_{q_i} are taken centred, in (-q_i/2, q_i/2]: the result is then
 * x' = x + u*Q with |u| <= k/2, and for k = 1 it is the centred representative of x. Centring
 * halves the size of the converted values, which is what key switching multiplies its noise by.
 */
#ifndef HG_RING_RNS_H
#define HG_RING_RNS_H

#include "hegraph/hg_common.h"
#include "prime.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hg_baseconv {
    int n_in, n_out;
    const hg_prime **in, **out;
    uint64_t *qhat_inv, *qhat_inv_shoup; /* [n_in]: (Q/q_i)^-1 mod q_i */
    uint64_t *qhat_mod;                  /* [n_out * n_in]: (Q/q_i) mod p_j, row j */
    uint64_t *big_q_mod;                 /* [n_out]: Q mod p_j */
} hg_baseconv;

/* Precomputes a conversion between two disjoint sets of primes of the same degree. The prime
 * pointers must outlive the conversion. */
hg_status hg_baseconv_init(hg_baseconv *bc, const hg_prime *const *in, int n_in,
                           const hg_prime *const *out, int n_out) HG_WUR;
void hg_baseconv_clear(hg_baseconv *bc);

/* The conversion one output prime at a time: prepare turns the inputs x_i into
 * y_i = [x_i * (Q/q_i)^-1]_{q_i} (in place allowed; a copy when there is one input), then
 * hg_baseconv_one writes conv(x) mod p_j for output j from y. scratch is unused by prepare. */
void hg_baseconv_prepare(const hg_baseconv *bc, const uint64_t *in, uint64_t *y, size_t n);
void hg_baseconv_one(const hg_baseconv *bc, const uint64_t *y, int j, uint64_t *out, size_t n);

/* out[j] (n words each, stride n) = conv(in) mod p_j, for in[i] (stride n) in coefficient form,
 * values in [0, q_i). scratch holds n_in * n words. in and out must not overlap. */
void hg_baseconv_apply(const hg_baseconv *bc, const uint64_t *in, uint64_t *out,
                       uint64_t *scratch, size_t n);

#endif
