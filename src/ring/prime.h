/*
 * One RNS prime with everything the ring needs to compute modulo it: the Barrett constants, the
 * negacyclic NTT tables, and the element-wise kernels chosen for this CPU and this prime size.
 *
 * NTT convention (Longa-Naehrig, as in SEAL): the forward transform takes coefficients in natural
 * order and returns evaluations in bit-reversed order, a_hat[k] = a(psi^(2*brv(k)+1)), where psi
 * is the smallest primitive 2N-th root of unity mod q and brv reverses log2(N) bits. Products of
 * NTT-form polynomials are element-wise; the inverse undoes the forward exactly.
 *
 * Kernel paths: portable C always; AVX-512F/DQ for q < 2^62; AVX-512 IFMA (52-bit multipliers)
 * for q < 2^50. The path is picked once per prime from the CPU features, or forced with the
 * environment variable HG_SIMD=portable|avx512|ifma (for tests and ablation).
 */
#ifndef HG_RING_PRIME_H
#define HG_RING_PRIME_H

#include "hegraph/hg_common.h"
#include "modarith.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hg_simd {
    HG_SIMD_PORTABLE = 0,
    HG_SIMD_AVX512 = 1, /* AVX-512 F, DQ, VL, BW */
    HG_SIMD_IFMA = 2,   /* the above plus AVX-512 IFMA */
} hg_simd;

/* The best level this CPU supports, lowered by HG_SIMD if set. Computed once. */
hg_simd hg_simd_detect(void);
/* Name for reports: "portable", "avx512", "ifma". */
const char *hg_simd_name(hg_simd s);

struct hg_prime;

/* Element-wise kernels on n words modulo one prime. Unless stated, inputs are in [0, q) and
 * outputs in [0, q); out may alias an input. n is any size (vector paths handle the tail). */
typedef struct hg_ring_kernels {
    hg_simd simd;
    /* In place. Input in [0, 4q), output in [0, q), bit-reversed order. */
    void (*ntt_forward)(const struct hg_prime *p, uint64_t *a);
    /* In place. Input in [0, 2q) bit-reversed, output in [0, q) natural order. */
    void (*ntt_inverse)(const struct hg_prime *p, uint64_t *a);
    void (*add)(const struct hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n);
    void (*sub)(const struct hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n);
    void (*neg)(const struct hg_prime *p, const uint64_t *a, uint64_t *out, size_t n);
    /* out = a + c, c < q. */
    void (*add_scalar)(const struct hg_prime *p, const uint64_t *a, uint64_t c, uint64_t *out,
                       size_t n);
    /* out = a * w, w < q, w_shoup = hg_shoup(w, q). */
    void (*mul_scalar)(const struct hg_prime *p, const uint64_t *a, uint64_t w, uint64_t w_shoup,
                       uint64_t *out, size_t n);
    /* out = a * b (element-wise). */
    void (*mul)(const struct hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n);
    /* acc = acc + a * b (element-wise). */
    void (*mul_add)(const struct hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *acc,
                    size_t n);
    /* out = a mod q for arbitrary 64-bit a (reduction of residues of another prime). */
    void (*reduce)(const struct hg_prime *p, const uint64_t *a, uint64_t *out, size_t n);
    /* Optional (NULL: composed from mul and mul_add): the tensor product of two ciphertexts'
     * limbs, d0 = a0 b0, d1 = a0 b1 + a1 b0, d2 = a1 b1, in one pass. Outputs must not alias
     * inputs. */
    void (*tensor)(const struct hg_prime *p, const uint64_t *a0, const uint64_t *a1,
                   const uint64_t *b0, const uint64_t *b1, uint64_t *d0, uint64_t *d1,
                   uint64_t *d2, size_t n);
} hg_ring_kernels;

typedef struct hg_prime {
    hg_modulus mod;
    size_t n;  /* ring degree N (power of two) */
    int log_n;
    uint64_t psi; /* smallest primitive 2N-th root of unity */
    /* root[k] = psi^brv(k), iroot[k] = psi^-brv(k), k in [0, N); with Shoup constants
     * floor(w * 2^64 / q) and, when q < 2^50, the 52-bit ones floor(w * 2^52 / q). */
    uint64_t *root, *root_shoup, *root_shoup52;
    uint64_t *iroot, *iroot_shoup, *iroot_shoup52;
    uint64_t n_inv, n_inv_shoup, n_inv_shoup52;
    /* iroot[1] * n_inv, for the last inverse stage with the scaling by 1/N folded in. */
    uint64_t last_w, last_w_shoup, last_w_shoup52;
    /* Constants of the vector kernels, with k = bits(q): when q < 2^50, one_shoup52 =
     * floor(2^52 / q) (reduction of a 52-bit value), mu52 = floor(2^(k+51) / q) (Barrett on
     * 52-bit limbs), pow40 = 2^40 mod q and pow40_shoup52 = floor(pow40 2^52 / q) (reduction
     * of a 64-bit word); when k >= 33, mu64 = floor(2^(k+63) / q) (Barrett on 64-bit lanes).
     * The NTT of the vector paths reads only the tables above. */
    uint64_t one_shoup52, mu52, pow40, pow40_shoup52, mu64;
    const hg_ring_kernels *k;
} hg_prime;

/* Builds the tables of prime q for degree n (power of two in [2, 2^17]); q = 1 mod 2n, q < 2^62.
 * The kernels are those of hg_simd_detect(), limited by the size of q. */
hg_status hg_prime_init(hg_prime *p, uint64_t q, size_t n) HG_WUR;
/* As hg_prime_init with an explicit kernel level (lowered if q is too large for it). */
hg_status hg_prime_init_simd(hg_prime *p, uint64_t q, size_t n, hg_simd simd) HG_WUR;
void hg_prime_clear(hg_prime *p);

/* The kernel table for a level and a prime size; never NULL (falls back to portable). */
const hg_ring_kernels *hg_ring_kernels_select(hg_simd simd, uint64_t q);

/* Kernel tables of each path (the vector ones exist only if compiled in). */
extern const hg_ring_kernels hg_kernels_portable;
extern const hg_ring_kernels hg_kernels_avx512;
extern const hg_ring_kernels hg_kernels_ifma;

/* Convenience wrappers. */
static inline void hg_ntt_forward(const hg_prime *p, uint64_t *a) {
    p->k->ntt_forward(p, a);
}
static inline void hg_ntt_inverse(const hg_prime *p, uint64_t *a) {
    p->k->ntt_inverse(p, a);
}

/* Bit reversal of the low `bits` bits of x. */
static inline uint32_t hg_bitrev(uint32_t x, int bits) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    x = (x >> 16) | (x << 16);
    return bits ? x >> (32 - bits) : 0;
}

#endif
