/*
 * Lazy multiply-accumulate for primes below 2^32: acc += a * b without reduction. With
 * a, b < q < 2^32 each product is below q^2, so floor((2^64 - 1) / (q - 1)^2) products fit in
 * a 64-bit accumulator before it must be reduced (hg_lazy_terms); reducing is the ring's
 * `reduce` kernel (any 64-bit value mod q). This is the inner loop of key switching, where one
 * reduction per several digits replaces one per product.
 */
#ifndef HG_RING_LAZY_H
#define HG_RING_LAZY_H

#include "prime.h"

#include <stddef.h>
#include <stdint.h>

/* Products that fit an accumulator for prime q (0 if q >= 2^32: use the reducing kernels). */
static inline unsigned hg_lazy_terms(uint64_t q) {
    if (q >= ((uint64_t)1 << 32))
        return 0;
    uint64_t m = (q - 1) * (q - 1);
    return m ? (unsigned)(UINT64_MAX / m > 1024 ? 1024 : UINT64_MAX / m) : 1024;
}

/* acc[i] += a[i] * b[i] for a, b < 2^32 (no reduction). Picks the vector path of simd. */
void hg_mul_acc32(hg_simd simd, const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n);
/* acc[i] = a[i] * b[i] (the first term, no reduction). */
void hg_mul32(hg_simd simd, const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n);

/* out = y + (y > half ? shift : 0): the centred lift of residues y of one prime, shifted into
 * another prime's range (shift = p - (q mod p)); the caller reduces when needed. */
void hg_center_shift(hg_simd simd, const uint64_t *y, uint64_t half, uint64_t shift,
                     uint64_t *out, size_t n);
void hg_center_shift_avx512(const uint64_t *y, uint64_t half, uint64_t shift, uint64_t *out,
                            size_t n);

/* out[i] = in[i] + c, no reduction (inputs of an NTT may be up to 4q). */
void hg_add_const_lazy(hg_simd simd, const uint64_t *in, uint64_t c, uint64_t *out, size_t n);
/* out[i] = (uint64_t)(v[i] + offset) for signed v: with offset a multiple of q above |v|, the
 * result has v's residue mod q (for the ring's reduce kernel). */
void hg_signed_offset(hg_simd simd, const int64_t *v, uint64_t offset, uint64_t *out, size_t n);
void hg_add_const_lazy_avx512(const uint64_t *in, uint64_t c, uint64_t *out, size_t n);
void hg_signed_offset_avx512(const int64_t *v, uint64_t offset, uint64_t *out, size_t n);

/* out[i] = (x[i] - t[i]) * w mod q for x, t < q (w < q): a subtraction and a Shoup product in
 * one pass (the last step of rescaling and of ModDown). */
void hg_sub_mul_scalar(const hg_prime *p, const uint64_t *x, const uint64_t *t, uint64_t w,
                       uint64_t w_shoup, uint64_t *out, size_t n);
void hg_sub_mul_scalar_ifma(const uint64_t *x, const uint64_t *t, uint64_t q, uint64_t w,
                            uint64_t w_shoup52, uint64_t *out, size_t n);

void hg_mul_acc32_avx512(const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n);
void hg_mul32_avx512(const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n);

#endif
