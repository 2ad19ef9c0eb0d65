/*
 * The linear engine's block kernel, written once and compiled twice: portable (engine.c) and
 * for AVX-512 (engine_avx512.c, where the compiler vectorizes the lane loops with 64-bit
 * multiplies). Included with HE_KERNEL_NAME defined.
 *
 * For each row, a block of lanes accumulates sum_k w_k x[col_k] in signed 64-bit integers:
 * x < q < 2^32 and |w| <= max_abs_w, so `chunk` terms fit before a reduction. A reduction is
 * a Barrett step with a double-precision quotient: for |a| < 2^63 the estimate
 * floor(a / q) computed from (double)a * (1/q) is off by at most one, which two conditional
 * corrections absorb.
 */
#include <math.h>

#include "ring/modarith.h"

#define SUB 32 /* lanes kept in registers per row */

static inline int64_t he_reduce_signed(int64_t a, int64_t q, double q_inv) {
    int64_t e = (int64_t)floor((double)a * q_inv);
    int64_t r = a - e * q;
    r += r < 0 ? q : 0;
    r -= r >= q ? q : 0;
    return r;
}

/* The wide path, for primes and weights whose products do not fit 63 bits: each weight reduced
 * mod q, products accumulated in 128 bits (below 2^122 each, 32 terms at a time). */
static void HE_WIDE_NAME(const he_block *b) {
    const he_linear *lin = b->lin;
    hg_modulus m;
    hg_modulus_init(&m, b->q);
    for (size_t r = b->r0; r < b->r1; r++) {
        const uint32_t k0 = lin->row_ptr[r], k1 = lin->row_ptr[r + 1];
        uint64_t *y = b->y + r * b->y_stride + b->slab;
        for (size_t j0 = 0; j0 < b->lanes; j0 += SUB) {
            const size_t len = b->lanes - j0 < SUB ? b->lanes - j0 : SUB;
            uint64_t acc[SUB] = {0};
            hg_u128 wide[SUB] = {0};
            size_t since = 0;
            for (uint32_t k = k0; k < k1; k++) {
                if (b->skip_zero && lin->w[k] == 0)
                    continue;
                const uint64_t w = hg_from_i64(lin->w[k], &m);
                const uint64_t *x = b->x + (size_t)lin->col[k] * b->x_stride + b->slab + j0;
                for (size_t j = 0; j < len; j++)
                    wide[j] += (hg_u128)w * x[j];
                if (++since == 32) {
                    for (size_t j = 0; j < len; j++) {
                        acc[j] = hg_add_mod(acc[j], hg_reduce_u128(wide[j] % ((hg_u128)m.q << 64),
                                                                   &m), m.q);
                        wide[j] = 0;
                    }
                    since = 0;
                }
            }
            for (size_t j = 0; j < len; j++) {
                uint64_t v = hg_add_mod(acc[j], hg_reduce_u128(wide[j] % ((hg_u128)m.q << 64), &m),
                                        m.q);
                if (b->bias) {
                    v = hg_add_mod(v, b->bias[r * (size_t)lin->n_limbs], m.q);
                    if (b->bias_i) {
                        uint64_t bi = b->bias_i[r * (size_t)lin->n_limbs];
                        v = b->lane0 + j0 + j < b->half ? hg_add_mod(v, bi, m.q)
                                                        : hg_sub_mod(v, bi, m.q);
                    }
                }
                if (b->accumulate)
                    v = hg_add_mod(v, y[j0 + j], m.q);
                y[j0 + j] = v;
            }
        }
    }
}

void HE_KERNEL_NAME(const he_block *b) {
    const he_linear *lin = b->lin;
    const int64_t q = (int64_t)b->q;
    const double q_inv = b->q_inv;
    /* Terms a signed 64-bit accumulator holds for this prime: |w| q each, with room for the
     * value below 2q left by a reduction. */
    size_t chunk = SIZE_MAX;
    if (lin->max_abs_w > 0) {
        hg_u128 t = (hg_u128)lin->max_abs_w * b->q;
        hg_u128 room = ((hg_u128)1 << 63) - ((hg_u128)1 << 40);
        if (t >= room || b->q >= ((uint64_t)1 << 40)) {
            HE_WIDE_NAME(b);
            return;
        }
        chunk = (size_t)(room / t);
    }
    for (size_t r = b->r0; r < b->r1; r++) {
        const uint32_t k0 = lin->row_ptr[r], k1 = lin->row_ptr[r + 1];
        uint64_t *y = b->y + r * b->y_stride + b->slab;
        uint64_t badd = 0, badd_i = 0;
        if (b->bias) {
            badd = b->bias[r * (size_t)lin->n_limbs];
            if (b->bias_i)
                badd_i = b->bias_i[r * (size_t)lin->n_limbs];
        }
        for (size_t j0 = 0; j0 < b->lanes; j0 += SUB) {
            const size_t len = b->lanes - j0 < SUB ? b->lanes - j0 : SUB;
            int64_t acc[SUB] = {0};
            size_t since = 0;
            for (uint32_t k = k0; k < k1; k++) {
                const int64_t w = lin->w[k];
                if (b->skip_zero && w == 0)
                    continue;
                const uint64_t *x = b->x + (size_t)lin->col[k] * b->x_stride + b->slab + j0;
                if (len == SUB) {
                    for (size_t j = 0; j < SUB; j++)
                        acc[j] += w * (int64_t)x[j];
                } else {
                    for (size_t j = 0; j < len; j++)
                        acc[j] += w * (int64_t)x[j];
                }
                if (++since == chunk) {
                    for (size_t j = 0; j < SUB; j++)
                        acc[j] = he_reduce_signed(acc[j], q, q_inv);
                    since = 0;
                }
            }
            for (size_t j = 0; j < len; j++) {
                int64_t v = he_reduce_signed(acc[j], q, q_inv);
                if (b->bias) {
                    /* complex packing: the bias b(1 + i), with i = +-I_q at NTT point k */
                    uint64_t add = badd;
                    if (b->bias_i) {
                        uint64_t bi = b->lane0 + j0 + j < b->half ? badd_i : (uint64_t)q - badd_i;
                        add += bi;
                        add -= add >= (uint64_t)q ? (uint64_t)q : 0;
                    }
                    v += (int64_t)add;
                    v -= v >= q ? q : 0;
                }
                if (b->accumulate) {
                    v += (int64_t)y[j0 + j];
                    v -= v >= q ? q : 0;
                }
                y[j0 + j] = (uint64_t)v;
            }
        }
    }
}

#undef SUB
