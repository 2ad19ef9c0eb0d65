/* Out-of-line modular arithmetic: constants, powers and inverses. */
#include "modarith.h"

#include "util/util.h"

void hg_modulus_init(hg_modulus *m, uint64_t q) {
    HG_ASSERT(q >= 2 && q < (1ull << 62));
    m->q = q;
    /* floor(2^128 / q) = floor((2^128 - 1) / q) because q is not a power of two > 1 here, and
     * for q a power of two the two differ only when q divides 2^128, handled the same way. */
    hg_u128 all = ~(hg_u128)0;
    hg_u128 r = all / q;
    if (all % q == q - 1)
        r += 1;
    m->ratio_lo = (uint64_t)r;
    m->ratio_hi = (uint64_t)(r >> 64);
    m->bits = 64 - __builtin_clzll(q);
}

uint64_t hg_pow_mod(uint64_t base, uint64_t e, const hg_modulus *m) {
    uint64_t r = 1 % m->q, b = hg_reduce_u64(base, m);
    while (e) {
        if (e & 1)
            r = hg_mul_mod(r, b, m);
        b = hg_mul_mod(b, b, m);
        e >>= 1;
    }
    return r;
}

uint64_t hg_inv_mod(uint64_t a, const hg_modulus *m) {
    /* Extended Euclid on (a mod q, q); valid for any q coprime with a. */
    int64_t t = 0, newt = 1;
    uint64_t r = m->q, newr = hg_reduce_u64(a, m);
    if (newr == 0)
        return 0;
    while (newr) {
        uint64_t quot = r / newr;
        int64_t tt = t - (int64_t)quot * newt;
        t = newt;
        newt = tt;
        uint64_t rr = r - quot * newr;
        r = newr;
        newr = rr;
    }
    if (r != 1)
        return 0;
    return t < 0 ? (uint64_t)(t + (int64_t)m->q) : (uint64_t)t;
}
