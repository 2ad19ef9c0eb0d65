/*
 * Portable kernels: the reference every vector path is tested against, and the path used on
 * CPUs without AVX-512.
 *
 * The NTT follows Harvey ("Faster arithmetic for number-theoretic transforms", 2014): Shoup
 * multiplications by precomputed twiddles, values kept in [0, 4q) between stages so that each
 * butterfly needs at most one conditional subtraction.
 */
#include "prime.h"

static void ntt_forward(const hg_prime *p, uint64_t *a) {
    const uint64_t q = p->mod.q, two_q = 2 * q;
    const size_t n = p->n;
    size_t t = n;
    for (size_t m = 1; m < n; m <<= 1) {
        t >>= 1;
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = p->root[m + i], ws = p->root_shoup[m + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j++) {
                /* x, y in [0, 4q) -> x + wy, x - wy in [0, 4q). */
                uint64_t u = x[j] >= two_q ? x[j] - two_q : x[j];
                uint64_t v = hg_mul_shoup_lazy(y[j], w, ws, q);
                x[j] = u + v;
                y[j] = u - v + two_q;
            }
        }
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t v = a[j];
        v = v >= two_q ? v - two_q : v;
        a[j] = v >= q ? v - q : v;
    }
}

static void ntt_inverse(const hg_prime *p, uint64_t *a) {
    const uint64_t q = p->mod.q, two_q = 2 * q;
    const size_t n = p->n;
    size_t t = 1;
    /* All stages but the last: Gentleman-Sande butterflies, values in [0, 2q). */
    for (size_t m = n; m > 2; m >>= 1) {
        size_t h = m >> 1;
        for (size_t i = 0; i < h; i++) {
            const uint64_t w = p->iroot[h + i], ws = p->iroot_shoup[h + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j++) {
                uint64_t u = x[j], v = y[j];
                uint64_t s = u + v;
                x[j] = s >= two_q ? s - two_q : s;
                y[j] = hg_mul_shoup_lazy(u - v + two_q, w, ws, q);
            }
        }
        t <<= 1;
    }
    /* Last stage with the factor 1/N folded in: (u + v)/N and (u - v) w/N. */
    size_t half = n >> 1;
    for (size_t j = 0; j < half; j++) {
        uint64_t u = a[j], v = a[j + half];
        uint64_t s = u + v;
        s = s >= two_q ? s - two_q : s;
        a[j] = hg_mul_shoup(s, p->n_inv, p->n_inv_shoup, q);
        a[j + half] = hg_mul_shoup(u - v + two_q, p->last_w, p->last_w_shoup, q);
    }
}

static void add(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        out[i] = hg_add_mod(a[i], b[i], q);
}

static void sub(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        out[i] = hg_sub_mod(a[i], b[i], q);
}

static void neg(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        out[i] = hg_neg_mod(a[i], q);
}

static void add_scalar(const hg_prime *p, const uint64_t *a, uint64_t c, uint64_t *out,
                       size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        out[i] = hg_add_mod(a[i], c, q);
}

static void mul_scalar(const hg_prime *p, const uint64_t *a, uint64_t w, uint64_t ws,
                       uint64_t *out, size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        out[i] = hg_mul_shoup(a[i], w, ws, q);
}

static void mul(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = hg_mul_mod(a[i], b[i], &p->mod);
}

static void mul_add(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *acc,
                    size_t n) {
    const uint64_t q = p->mod.q;
    for (size_t i = 0; i < n; i++)
        acc[i] = hg_add_mod(acc[i], hg_mul_mod(a[i], b[i], &p->mod), q);
}

static void reduce(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = hg_reduce_u64(a[i], &p->mod);
}

const hg_ring_kernels hg_kernels_portable = {
    .simd = HG_SIMD_PORTABLE,
    .ntt_forward = ntt_forward,
    .ntt_inverse = ntt_inverse,
    .add = add,
    .sub = sub,
    .neg = neg,
    .add_scalar = add_scalar,
    .mul_scalar = mul_scalar,
    .mul = mul,
    .mul_add = mul_add,
    .reduce = reduce,
};
