/*
 * The CKKS encoder: slots <-> coefficients through the canonical embedding.
 *
 * Slot j holds m(zeta^(5^j)) for zeta = exp(i pi / N), j < N/2. Because 5^j = 1 mod 4,
 * zeta^(5^j * N/2) = i and m(zeta^g) = sum_{k<N/2} (m_k + i m_{k+N/2}) zeta^(g k): the slots are
 * a length-N/2 transform of w_k = m_k + i m_{k+N/2}. Splitting w into even and odd halves gives
 * the same problem with zeta^2 and N/2 (the points come in pairs +-x since 5^(N/4) = N + 1 mod
 * 2N), hence a radix-2 FFT whose twiddle in the block of length len is exp(2 pi i g / 4 len),
 * g = 5^j mod 4 len; input in bit-reversed order, output in natural order.
 */
#include "ckks.h"

#include "ring/lazy.h"

#include <math.h>
#include <string.h>

/* The working vector is n complex values as (re, im) pairs. */
static void bit_reverse(double *v, size_t n) {
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double re = v[2 * i], im = v[2 * i + 1];
            v[2 * i] = v[2 * j];
            v[2 * i + 1] = v[2 * j + 1];
            v[2 * j] = re;
            v[2 * j + 1] = im;
        }
    }
}

/* w (bit-reversed) -> slot values (natural order). */
static void fft_special(const hg_ckks_ctx *ctx, double *v, size_t n) {
    for (size_t len = 2; len <= n; len <<= 1) {
        const size_t half = len >> 1;
        const double *tw = ctx->fft_tw + 2 * (half - 1);
        for (size_t i = 0; i < n; i += len)
            for (size_t j = 0; j < half; j++) {
                double *u = v + 2 * (i + j), *t = v + 2 * (i + j + half);
                const double wr = tw[2 * j], wi = tw[2 * j + 1];
                const double tr = t[0] * wr - t[1] * wi, ti = t[0] * wi + t[1] * wr;
                t[0] = u[0] - tr;
                t[1] = u[1] - ti;
                u[0] += tr;
                u[1] += ti;
            }
    }
}

/* slot values (natural order) -> w (natural order): the exact inverse of the above. */
static void fft_special_inv(const hg_ckks_ctx *ctx, double *v, size_t n) {
    for (size_t len = n; len >= 2; len >>= 1) {
        const size_t half = len >> 1;
        const double *tw = ctx->fft_tw + 2 * (half - 1);
        for (size_t i = 0; i < n; i += len)
            for (size_t j = 0; j < half; j++) {
                double *u = v + 2 * (i + j), *t = v + 2 * (i + j + half);
                const double wr = tw[2 * j], wi = -tw[2 * j + 1]; /* the conjugate */
                const double dr = u[0] - t[0], di = u[1] - t[1];
                u[0] += t[0];
                u[1] += t[1];
                t[0] = dr * wr - di * wi;
                t[1] = dr * wi + di * wr;
            }
    }
    bit_reverse(v, n);
    const double inv = 1.0 / (double)n;
    for (size_t i = 0; i < 2 * n; i++)
        v[i] *= inv;
}

/* log2 of the modulus at a level. */
static double log2_modulus(const hg_ckks_ctx *ctx, int level) {
    double b = 0;
    for (int i = 0; i <= level; i++)
        b += log2((double)ctx->prime[i].mod.q);
    return b;
}

/* x mod q for a 128-bit signed x. */
static uint64_t reduce_i128(hg_i128 x, const hg_modulus *m) {
    bool neg = x < 0;
    hg_u128 u = neg ? (hg_u128)(-(x + 1)) + 1 : (hg_u128)x;
    uint64_t hi = hg_reduce_u64((uint64_t)(u >> 64), m);
    uint64_t r = hg_reduce_u128(((hg_u128)hi << 64) | (uint64_t)u, m);
    return neg ? hg_neg_mod(r, m->q) : r;
}

/* Writes the polynomial with real coefficients coef[0..N) * scale (rounded) into limbs
 * 0..level of out, NTT form. */
static hg_status coeffs_to_rns(const hg_ckks_ctx *ctx, const double *coef, double scale,
                               int level, uint64_t *out, const char *fn) {
    const size_t n = ctx->n;
    double maxabs = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(coef[i]);
        if (!(a <= maxabs))
            maxabs = a; /* NaN propagates here and is caught below */
    }
    double top = maxabs * scale;
    if (!isfinite(top))
        return hg_fail(HG_ERR_SCALE, "%s: values are not finite", fn);
    double room = log2_modulus(ctx, level) - 1;
    if (top >= 1 && (log2(top) >= room || log2(top) >= 126))
        return hg_fail(HG_ERR_SCALE,
                       "%s: encoded values reach 2^%.1f, above the 2^%.1f the modulus holds at "
                       "level %d",
                       fn, log2(top), room < 126 ? room : 126, level);
    if (top < 0x1p62) {
        /* Rounded once into signed integers (kept in the first limb's slot), then per limb:
         * an offset that is a multiple of q_l above 2^62 makes them non-negative with the same
         * residue, and the vector Barrett reduction does the rest. */
        int64_t *v = (int64_t *)(out + (size_t)level * n);
        for (size_t i = 0; i < n; i++)
            v[i] = (int64_t)nearbyint(coef[i] * scale);
        for (int l = 0; l <= level; l++) {
            const hg_prime *p = &ctx->prime[l];
            const uint64_t q = p->mod.q;
            const uint64_t offset = (((uint64_t)1 << 62) / q + 1) * q;
            uint64_t *o = out + (size_t)l * n;
            hg_signed_offset(p->k->simd, v, offset, o, n);
            p->k->reduce(p, o, o, n);
            hg_ntt_forward(p, o);
        }
    } else {
        for (int l = 0; l <= level; l++) {
            const hg_prime *p = &ctx->prime[l];
            uint64_t *o = out + (size_t)l * n;
            for (size_t i = 0; i < n; i++)
                o[i] = reduce_i128((hg_i128)nearbyint(coef[i] * scale), &p->mod);
            hg_ntt_forward(p, o);
        }
    }
    return HG_OK;
}

static hg_status check_level(const hg_ckks_ctx *ctx, int level, const char *fn) {
    if (level < 0 || level >= ctx->L)
        return hg_fail(HG_ERR_LEVEL, "%s: level %d outside [0, %d]", fn, level, ctx->L - 1);
    return HG_OK;
}

hg_status hg_ckks_encode(hg_ckks_eval *ev, const double complex *z, size_t n, int level,
                         double scale, hg_ckks_pt *pt) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(check_level(ctx, level, __func__));
    if (n > ctx->slots)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu values for %zu slots", __func__, n,
                       ctx->slots);
    if (!(scale >= 1.0) || !isfinite(scale))
        return hg_fail(HG_ERR_SCALE, "%s: scale %g is not a finite value >= 1", __func__, scale);
    double *w = (double *)ev->fft;
    for (size_t i = 0; i < ctx->slots; i++) {
        w[2 * i] = i < n ? creal(z[i]) : 0;
        w[2 * i + 1] = i < n ? cimag(z[i]) : 0;
    }
    fft_special_inv(ctx, w, ctx->slots);
    for (size_t i = 0; i < ctx->slots; i++) {
        ev->coef[i] = w[2 * i];
        ev->coef[i + ctx->slots] = w[2 * i + 1];
    }
    HG_TRY(hg_ckks_pt_reserve(pt, level));
    hg_status s = coeffs_to_rns(ctx, ev->coef, scale, level, pt->data, __func__);
    hg_wipe(w, ctx->slots * sizeof(double complex));
    hg_wipe(ev->coef, ctx->n * sizeof(double));
    if (s != HG_OK)
        return s;
    pt->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_encode_real(hg_ckks_eval *ev, const double *x, size_t n, int level,
                              double scale, hg_ckks_pt *pt) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (n > ctx->slots)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu values for %zu slots", __func__, n,
                       ctx->slots);
    /* The fft buffer doubles as the complex input: encode reads it before writing. */
    double complex *z = ev->fft;
    for (size_t i = 0; i < n; i++)
        z[i] = x[i];
    return hg_ckks_encode(ev, z, n, level, scale, pt);
}

/* Centred value of the CRT composition of residues r[0..k) (primes q_0..q_{k-1}) as a double. */
static double crt_to_double(const hg_ckks_ctx *ctx, const uint64_t *r, int k, const uint64_t *big_q,
                            const uint64_t *qhat, const uint64_t *qhat_inv, int words) {
    if (k == 1)
        return (double)hg_center(r[0], ctx->prime[0].mod.q);
    /* x = sum_i [r_i * qhat_inv_i]_{q_i} * (Q / q_i) mod Q, in `words` 64-bit words. */
    uint64_t acc[HG_CKKS_MAX_PRIMES + 2] = {0};
    for (int i = 0; i < k; i++) {
        uint64_t y = hg_mul_mod(r[i], qhat_inv[i], &ctx->prime[i].mod);
        const uint64_t *qh = qhat + (size_t)i * (size_t)words;
        uint64_t carry = 0;
        for (int w = 0; w < words; w++) {
            hg_u128 t = (hg_u128)qh[w] * y + carry + acc[w];
            acc[w] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        acc[words] += carry;
        /* acc < 2Q now: subtract Q once if needed. */
        bool ge = acc[words] != 0;
        if (!ge) {
            ge = true;
            for (int w = words - 1; w >= 0; w--)
                if (acc[w] != big_q[w]) {
                    ge = acc[w] > big_q[w];
                    break;
                }
        }
        if (ge) {
            uint64_t borrow = 0;
            for (int w = 0; w < words; w++) {
                hg_u128 t = (hg_u128)acc[w] - big_q[w] - borrow;
                acc[w] = (uint64_t)t;
                borrow = (uint64_t)(t >> 64) ? 1 : 0;
            }
            acc[words] -= borrow;
        }
    }
    /* Centre: if 2x > Q, x - Q. */
    uint64_t twice[HG_CKKS_MAX_PRIMES + 2];
    uint64_t c = 0;
    for (int w = 0; w < words; w++) {
        twice[w] = (acc[w] << 1) | c;
        c = acc[w] >> 63;
    }
    bool neg = c != 0;
    if (!neg)
        for (int w = words - 1; w >= 0; w--)
            if (twice[w] != big_q[w]) {
                neg = twice[w] > big_q[w];
                break;
            }
    if (neg) {
        uint64_t borrow = 0;
        for (int w = 0; w < words; w++) {
            hg_u128 t = (hg_u128)big_q[w] - acc[w] - borrow;
            acc[w] = (uint64_t)t;
            borrow = (uint64_t)(t >> 64) ? 1 : 0;
        }
    }
    double v = 0;
    for (int w = words - 1; w >= 0; w--)
        v = v * 0x1p64 + (double)acc[w];
    return neg ? -v : v;
}

hg_status hg_ckks_decode(hg_ckks_eval *ev, const hg_ckks_pt *pt, double complex *z, size_t n) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (n > ctx->slots)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu values for %zu slots", __func__, n,
                       ctx->slots);
    if (pt->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: plaintext of another context", __func__);
    const int k = pt->level + 1;
    const size_t N = ctx->n;
    uint64_t *c = ev->t0;
    memcpy(c, pt->data, (size_t)k * N * sizeof(uint64_t));
    for (int i = 0; i < k; i++)
        hg_ntt_inverse(&ctx->prime[i], c + (size_t)i * N);

    /* CRT constants for this level: Q, Q/q_i (words each), (Q/q_i)^-1 mod q_i. Kept in the
     * evaluator's scratch (t1), computed per call: O(k^2) words, negligible next to the NTTs. */
    const int words = k + 1;
    uint64_t *big_q = ev->t1, *qhat = big_q + words, *qhat_inv = qhat + (size_t)k * words;
    memset(big_q, 0, (size_t)(words + k * words + k) * sizeof(uint64_t));
    big_q[0] = 1;
    for (int i = 0; i < k; i++) {
        uint64_t carry = 0;
        for (int w = 0; w < words; w++) {
            hg_u128 t = (hg_u128)big_q[w] * ctx->prime[i].mod.q + carry;
            big_q[w] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
    }
    for (int i = 0; i < k; i++) {
        uint64_t *qh = qhat + (size_t)i * words;
        qh[0] = 1;
        const hg_modulus *mi = &ctx->prime[i].mod;
        uint64_t inv = 1;
        for (int j = 0; j < k; j++) {
            if (j == i)
                continue;
            uint64_t carry = 0;
            for (int w = 0; w < words; w++) {
                hg_u128 t = (hg_u128)qh[w] * ctx->prime[j].mod.q + carry;
                qh[w] = (uint64_t)t;
                carry = (uint64_t)(t >> 64);
            }
            inv = hg_mul_mod(inv, hg_reduce_u64(ctx->prime[j].mod.q, mi), mi);
        }
        qhat_inv[i] = hg_inv_mod(inv, mi);
    }
    uint64_t r[HG_CKKS_MAX_PRIMES];
    const double inv_scale = 1.0 / pt->scale;
    const bool small_q = words <= 3 && big_q[2] == 0 && (big_q[1] >> 58) == 0;
    if (k == 1) {
        const uint64_t q = ctx->prime[0].mod.q;
        for (size_t j = 0; j < N; j++)
            ev->coef[j] = (double)hg_center(c[j], q) * inv_scale;
    } else if (small_q) {
        /* Q < 2^122: the composition in 128-bit integers. Each term y_i (Q / q_i) is below Q,
         * so the sum of k <= 64 terms stays below 2^128 and k subtractions at most bring it
         * below Q. */
        const hg_u128 Q = (hg_u128)big_q[1] << 64 | big_q[0], half = Q >> 1;
        for (size_t j = 0; j < N; j++) {
            hg_u128 x = 0;
            for (int i = 0; i < k; i++) {
                const uint64_t *qh = qhat + (size_t)i * words;
                uint64_t y = hg_mul_mod(c[(size_t)i * N + j], qhat_inv[i], &ctx->prime[i].mod);
                x += ((hg_u128)qh[1] * y << 64) + (hg_u128)qh[0] * y;
            }
            while (x >= Q)
                x -= Q;
            ev->coef[j] = (x > half ? -(double)(Q - x) : (double)x) * inv_scale;
        }
    } else {
        for (size_t j = 0; j < N; j++) {
            for (int i = 0; i < k; i++)
                r[i] = c[(size_t)i * N + j];
            ev->coef[j] = crt_to_double(ctx, r, k, big_q, qhat, qhat_inv, words) * inv_scale;
        }
    }
    double *w = (double *)ev->fft;
    for (size_t i = 0; i < ctx->slots; i++) {
        w[2 * i] = ev->coef[i];
        w[2 * i + 1] = ev->coef[i + ctx->slots];
    }
    bit_reverse(w, ctx->slots);
    fft_special(ctx, w, ctx->slots);
    for (size_t i = 0; i < n; i++)
        z[i] = w[2 * i] + w[2 * i + 1] * I;
    hg_wipe(c, (size_t)k * N * sizeof(uint64_t));
    hg_wipe(w, ctx->slots * sizeof(double complex));
    hg_wipe(ev->coef, N * sizeof(double));
    hg_wipe(r, sizeof r);
    return HG_OK;
}

hg_status hg_ckks_decode_real(hg_ckks_eval *ev, const hg_ckks_pt *pt, double *x, size_t n) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (n > ctx->slots)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu values for %zu slots", __func__, n,
                       ctx->slots);
    /* Decode into t2 (free during decode), then keep the real parts. */
    double complex *z = (double complex *)ev->t2;
    HG_TRY(hg_ckks_decode(ev, pt, z, n));
    for (size_t i = 0; i < n; i++)
        x[i] = creal(z[i]);
    hg_wipe(z, n * sizeof *z);
    return HG_OK;
}

hg_status hg_ckks_scalar_encode(const hg_ckks_ctx *ctx, double value, int level, double scale,
                                hg_ckks_scalar *out) {
    HG_TRY(check_level(ctx, level, __func__));
    double v = value * scale;
    if (!isfinite(v))
        return hg_fail(HG_ERR_SCALE, "%s: %g * %g is not finite", __func__, value, scale);
    double room = log2_modulus(ctx, level) - 1;
    if (fabs(v) >= 1 && (log2(fabs(v)) >= room || log2(fabs(v)) >= 126))
        return hg_fail(HG_ERR_SCALE, "%s: %g at scale 2^%.1f does not fit the modulus at level %d",
                       __func__, value, log2(scale), level);
    out->level = level;
    out->scale = scale;
    out->value = value;
    if (fabs(v) < 0x1p62) {
        int64_t iv = (int64_t)llround(v);
        for (int i = 0; i <= level; i++)
            out->r[i] = hg_from_i64(iv, &ctx->prime[i].mod);
    } else {
        hg_i128 iv = (hg_i128)nearbyint(v);
        for (int i = 0; i <= level; i++)
            out->r[i] = reduce_i128(iv, &ctx->prime[i].mod);
    }
    return HG_OK;
}
