/*
 * Scalar modular arithmetic for word-size moduli q < 2^62. The only place with 128-bit tricks.
 *
 * Conventions: "a < q" inputs are fully reduced; functions named _lazy return a value in a
 * documented wider range ([0, 2q) or [0, 4q)) that callers reduce later.
 */
#ifndef HG_RING_MODARITH_H
#define HG_RING_MODARITH_H

#include <stdbool.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 hg_u128;
__extension__ typedef __int128 hg_i128;

/* A modulus with its Barrett constant: ratio = floor(2^128 / q) as (lo, hi). */
typedef struct hg_modulus {
    uint64_t q;
    uint64_t ratio_lo, ratio_hi;
    int bits; /* bit length of q */
} hg_modulus;

/* Fills m for q; requires 2 <= q < 2^62. */
void hg_modulus_init(hg_modulus *m, uint64_t q);

static inline uint64_t hg_mulhi64(uint64_t a, uint64_t b) {
    return (uint64_t)(((hg_u128)a * b) >> 64);
}

/* (a + b) mod q for a, b < q. */
static inline uint64_t hg_add_mod(uint64_t a, uint64_t b, uint64_t q) {
    uint64_t s = a + b;
    return s >= q ? s - q : s;
}

/* (a - b) mod q for a, b < q. */
static inline uint64_t hg_sub_mod(uint64_t a, uint64_t b, uint64_t q) {
    return a >= b ? a - b : a + q - b;
}

/* -a mod q for a < q. */
static inline uint64_t hg_neg_mod(uint64_t a, uint64_t q) {
    return a ? q - a : 0;
}

/* Reduces x in [0, 2q) to [0, q). */
static inline uint64_t hg_reduce_2q(uint64_t x, uint64_t q) {
    return x >= q ? x - q : x;
}

/* a mod q for any 64-bit a (Barrett with floor(2^64/q) = ratio_hi). */
static inline uint64_t hg_reduce_u64(uint64_t a, const hg_modulus *m) {
    uint64_t est = hg_mulhi64(a, m->ratio_hi);
    uint64_t r = a - est * m->q; /* in [0, 2q) */
    return r >= m->q ? r - m->q : r;
}

/* x mod q for a 128-bit x = (hi, lo) with hi < q (so x < q * 2^64). Barrett reduction with the
 * 128-bit constant floor(2^128/q): the quotient estimate is short by at most 2, one conditional
 * subtraction remains after the estimate because we keep the top word of the product exactly. */
static inline uint64_t hg_reduce_u128(hg_u128 x, const hg_modulus *m) {
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    /* floor(x * ratio / 2^128), computed from the three significant partial products. */
    uint64_t carry = hg_mulhi64(lo, m->ratio_lo);
    hg_u128 t = (hg_u128)lo * m->ratio_hi;
    hg_u128 mid = (hg_u128)(uint64_t)t + carry;
    uint64_t tmp1 = (uint64_t)(t >> 64) + (uint64_t)(mid >> 64);
    hg_u128 t2 = (hg_u128)hi * m->ratio_lo;
    hg_u128 mid2 = (hg_u128)(uint64_t)t2 + (uint64_t)mid;
    uint64_t tmp3 = (uint64_t)(t2 >> 64) + (uint64_t)(mid2 >> 64);
    uint64_t quot = hi * m->ratio_hi + tmp1 + tmp3;
    uint64_t r = lo - quot * m->q;
    return r >= m->q ? r - m->q : r;
}

/* a * b mod q for a, b < q. */
static inline uint64_t hg_mul_mod(uint64_t a, uint64_t b, const hg_modulus *m) {
    return hg_reduce_u128((hg_u128)a * b, m);
}

/* Shoup's precomputation for multiplying by a fixed w < q: floor(w * 2^64 / q). */
static inline uint64_t hg_shoup(uint64_t w, uint64_t q) {
    return (uint64_t)(((hg_u128)w << 64) / q);
}

/* a * w mod q in [0, 2q), for any 64-bit a, w < q, w_shoup = hg_shoup(w, q). */
static inline uint64_t hg_mul_shoup_lazy(uint64_t a, uint64_t w, uint64_t w_shoup, uint64_t q) {
    uint64_t est = hg_mulhi64(a, w_shoup);
    return a * w - est * q;
}

/* a * w mod q in [0, q). */
static inline uint64_t hg_mul_shoup(uint64_t a, uint64_t w, uint64_t w_shoup, uint64_t q) {
    return hg_reduce_2q(hg_mul_shoup_lazy(a, w, w_shoup, q), q);
}

/* base^e mod q. */
uint64_t hg_pow_mod(uint64_t base, uint64_t e, const hg_modulus *m);

/* a^-1 mod q for a prime q and a not divisible by q; 0 if a = 0 mod q. */
uint64_t hg_inv_mod(uint64_t a, const hg_modulus *m);

/* A signed 64-bit value reduced into [0, q). */
static inline uint64_t hg_from_i64(int64_t v, const hg_modulus *m) {
    if (v >= 0)
        return hg_reduce_u64((uint64_t)v, m);
    uint64_t r = hg_reduce_u64((uint64_t)(-(v + 1)) + 1u, m);
    return hg_neg_mod(r, m->q);
}

/* The centred representative of a < q, in (-q/2, q/2]. */
static inline int64_t hg_center(uint64_t a, uint64_t q) {
    return a > (q >> 1) ? (int64_t)a - (int64_t)q : (int64_t)a;
}

#endif
