/*
 * AVX-512 kernels: eight residues per 512-bit register, in two flavours that share the code
 * below through the compile-time flag `ifma`.
 *
 * - hg_kernels_avx512 (AVX-512 F/DQ/VL/BW, q < 2^62): 64-bit lanes. There is no 64x64 -> 128
 *   multiplier, so the high half of a product is assembled from 32x32 -> 64 products
 *   (vpmuludq) and the low half comes from vpmullq.
 * - hg_kernels_ifma (AVX-512 IFMA, q < 2^50): vpmadd52lo/hi give the low and the high 52 bits
 *   of a 52x52-bit product, so a Shoup product costs three multiplications.
 *
 * Every kernel returns exactly what the portable one returns (outputs are fully reduced, so
 * any correct reduction gives the same word); only the intermediate ranges differ, and each is
 * stated where it is used.
 *
 * NTT (Harvey's lazy butterflies, as in kernels_portable.c). Stages with butterfly distance
 * t >= 8 take whole registers and run two stages per pass over memory (radix 4). The three
 * stages with t = 4, 2, 1 run on 16 coefficients held in two registers, regrouped between
 * stages with one interleave (forward) or de-interleave (inverse) of the pair. With the
 * groupings chosen below, the twiddles of those stages are contiguous in the existing tables
 * and come in with plain or broadcast loads (vbroadcasti64x2 / x4), so no extra tables are
 * needed.
 *
 * Lazy reduction. Harvey's correction x -> x - cq is done only on the stages where the bound
 * on the values would otherwise pass the word (fwd_plan, inv_plan): for a 60-bit q on 64-bit
 * lanes every other stage; under IFMA never for q < 2^46 or so, every other stage just under
 * 2^49, every stage just under 2^50. The 52-bit multipliers read only the low 52 bits of their
 * inputs and additions are exact modulo 2^52, so under IFMA a value only needs to be right
 * modulo 2^52 while its true value stays below 2^52: the Shoup product is left unmasked (the
 * true product plus 0 or 2^52), and masking happens right before a comparison.
 */
#include "prime.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

typedef __m512i vec;

enum { MAX_LOG_N = 17 };

INLINE vec vset(uint64_t x) {
    return _mm512_set1_epi64((long long)x);
}
INLINE vec vload(const uint64_t *p) {
    return _mm512_loadu_si512((const void *)p);
}
INLINE void vstore(uint64_t *p, vec v) {
    _mm512_storeu_si512((void *)p, v);
}
INLINE vec vload_m(const uint64_t *p, __mmask8 m) {
    return _mm512_maskz_loadu_epi64(m, (const void *)p);
}
INLINE void vstore_m(uint64_t *p, __mmask8 m, vec v) {
    _mm512_mask_storeu_epi64((void *)p, m, v);
}
INLINE __mmask8 tail_mask(size_t r) {
    return (__mmask8)((1u << r) - 1u);
}
INLINE vec vadd(vec a, vec b) {
    return _mm512_add_epi64(a, b);
}
INLINE vec vsub(vec a, vec b) {
    return _mm512_sub_epi64(a, b);
}
/* x - c if x >= c, else x; for x < 2c the result is below c. When x < c the difference wraps
 * above 2^64 - c > x, so the unsigned minimum picks x. */
INLINE vec csub(vec x, vec c) {
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, c));
}

/* ---- 64-bit lanes: products from 32x32 -> 64 pieces --------------------------------------- */

/* floor(x * y / 2^64) minus 0, 1 or 2, for any 64-bit x, y; yh = y >> 32 (only its low 32 bits
 * are read). With x = xh 2^32 + xl and y = yh 2^32 + yl, x y / 2^64 = xh yh + (xh yl + xl yh +
 * xl yl / 2^32) / 2^32; dropping xl yl and the low halves of the two middle products loses less
 * than 3 units of the result. */
INLINE vec mulhi_approx(vec x, vec y, vec yh) {
    vec xh = _mm512_srli_epi64(x, 32);
    vec hh = _mm512_mul_epu32(xh, yh);
    vec hl = _mm512_mul_epu32(xh, y);
    vec lh = _mm512_mul_epu32(x, yh);
    return vadd(hh, vadd(_mm512_srli_epi64(hl, 32), _mm512_srli_epi64(lh, 32)));
}

/* floor(x * y / 2^64) exactly; yh = y >> 32. The middle sums cannot overflow: each 32x32
 * product is at most (2^32 - 1)^2 and we add at most 2^32 - 1 to it. */
INLINE vec mulhi_exact(vec x, vec y, vec yh) {
    const vec lo32 = vset(0xffffffffu);
    vec xh = _mm512_srli_epi64(x, 32);
    vec ll = _mm512_mul_epu32(x, y);
    vec lh = _mm512_mul_epu32(x, yh);
    vec hl = _mm512_mul_epu32(xh, y);
    vec hh = _mm512_mul_epu32(xh, yh);
    vec t = vadd(hl, _mm512_srli_epi64(ll, 32));
    vec u = vadd(lh, _mm512_and_si512(t, lo32));
    return vadd(hh, vadd(_mm512_srli_epi64(t, 32), _mm512_srli_epi64(u, 32)));
}

/* ---- the two flavours of a Shoup product -------------------------------------------------- */

/* A twiddle w with its Shoup constant ws (floor(w 2^64 / q), or floor(w 2^52 / q) under IFMA)
 * and, for 64-bit lanes, wsh = ws >> 32 in the low half of each lane. */
typedef struct tw {
    vec w, ws, wsh;
} tw;

/* Constants of one prime, in registers. */
typedef struct vconst {
    vec q, two_q, four_q, eight_q;
    vec zero, mask52, negq; /* IFMA: 0, 2^52 - 1, 2^52 - q */
    vec toff;               /* bound of the lazy Shoup product: 2q, or 4q for 64-bit lanes */
} vconst;

/* 64-bit lanes come in two modes. For q < 2^61 the Shoup product is left in [0, 4q) (its
 * quotient comes from mulhi_approx), which Harvey's butterfly can afford since 8q < 2^64. For
 * q in [2^61, 2^62) it is brought back to [0, 2q) (flag tc), as in the portable code. */
INLINE vconst vconst_init(uint64_t q, int ifma, int tc) {
    vconst c;
    c.q = vset(q);
    c.two_q = vset(2 * q);
    c.four_q = vset(4 * q);
    c.eight_q = vset(8 * q); /* wraps for q >= 2^61, where it is not used */
    c.zero = _mm512_setzero_si512();
    c.mask52 = vset((1ull << 52) - 1);
    c.negq = vset((1ull << 52) - q);
    c.toff = (ifma || tc) ? c.two_q : c.four_q;
    return c;
}

/* y * w mod q, lazily:
 * - IFMA: y read modulo 2^52 (true value below 2^52). est = floor(y ws / 2^52) and
 *   y w - est q is in [0, 2q) (Shoup); the low 52 bits of y w and of -est q (through 2^52 - q)
 *   are added without the final mask, so the result is that value plus 0 or 2^52.
 * - 64-bit: any 64-bit y. The quotient is up to 2 short, so y w - est q is in [0, 4q), exact
 *   in 64 bits; with tc it is brought to [0, 2q). */
INLINE vec shoup_lazy(const vconst *c, vec y, tw t, int ifma, int tc) {
    if (ifma) {
        vec est = _mm512_madd52hi_epu64(c->zero, y, t.ws);
        vec r = _mm512_madd52lo_epu64(c->zero, y, t.w);
        return _mm512_madd52lo_epu64(r, est, c->negq);
    }
    vec est = mulhi_approx(y, t.ws, t.wsh);
    vec r = vsub(_mm512_mullo_epi64(y, t.w), _mm512_mullo_epi64(est, c->q));
    return tc ? csub(r, c->two_q) : r;
}

/* Twiddle k of a table, broadcast to all lanes. The high half of ws is read as a 32-bit word
 * (little-endian) so that it is a plain broadcast load. */
INLINE tw tw_bcast(const uint64_t *w, const uint64_t *ws, size_t k, int ifma) {
    tw t;
    t.w = vset(w[k]);
    t.ws = vset(ws[k]);
    if (ifma) {
        t.wsh = t.ws;
    } else {
        uint32_t hi;
        memcpy(&hi, (const char *)(ws + k) + 4, sizeof hi);
        t.wsh = _mm512_set1_epi32((int)hi);
    }
    return t;
}

INLINE tw tw_finish(vec w, vec ws, int ifma) {
    tw t = {w, ws, ifma ? ws : _mm512_srli_epi64(ws, 32)};
    return t;
}
/* Twiddles k, k+1, repeated four times: lanes (w_k, w_k+1, w_k, w_k+1, ...). */
INLINE tw tw_x2(const uint64_t *w, const uint64_t *ws, size_t k, int ifma) {
    return tw_finish(_mm512_broadcast_i64x2(_mm_loadu_si128((const __m128i *)(w + k))),
                     _mm512_broadcast_i64x2(_mm_loadu_si128((const __m128i *)(ws + k))), ifma);
}
/* Twiddles k .. k+3, repeated twice. */
INLINE tw tw_x4(const uint64_t *w, const uint64_t *ws, size_t k, int ifma) {
    return tw_finish(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + k))),
                     _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(ws + k))), ifma);
}
/* Twiddles k .. k+7. */
INLINE tw tw_x8(const uint64_t *w, const uint64_t *ws, size_t k, int ifma) {
    return tw_finish(vload(w + k), vload(ws + k), ifma);
}

/* ---- butterflies -------------------------------------------------------------------------- */

/* Options of a butterfly (constants at every call, so that unused steps compile away). k is
 * the constant of the stage. */
enum {
    BF_CORR = 1, /* forward: x from [0, 2k) to [0, k) first; inverse: x + y likewise */
    BF_PRE = 2,  /* forward: x + k first (offset mode, first stage) */
    BF_NEG = 4,  /* forward: second output x - wy without the offset toff (offset mode) */
};

/* Forward (Cooley-Tukey): (x, y) -> (x + w y, x - w y) with the product T in [0, toff).
 * Plain: for x < B the outputs x + T and x - T + toff are below B + toff. With BF_CORR, x is
 * first corrected (masked to 52 bits under IFMA, where values are only right modulo 2^52).
 * With BF_NEG the outputs are x + T and x - T: for x in [L, B) they are in [L - toff, B + toff),
 * which stays non-negative as long as every value starts with a large enough offset (BF_PRE). */
INLINE void fwd_bf(const vconst *c, vec *x, vec *y, tw t, vec k, int mode, int ifma, int tc) {
    vec u = *x;
    if (mode & BF_CORR) {
        if (ifma)
            u = _mm512_and_si512(u, c->mask52);
        u = csub(u, k);
    }
    if (mode & BF_PRE)
        u = vadd(u, k);
    vec p = shoup_lazy(c, *y, t, ifma, tc);
    *x = vadd(u, p);
    *y = (mode & BF_NEG) ? vsub(u, p) : vsub(vadd(u, c->toff), p);
}

/* Inverse (Gentleman-Sande): (x, y) -> (x + y, (x - y) w), for x, y < k. x - y + k is in
 * (0, 2k); x + y is in [0, 2k), or [0, k) with BF_CORR. */
INLINE void inv_bf(const vconst *c, vec *x, vec *y, tw t, vec k, int mode, int ifma, int tc) {
    vec s = vadd(*x, *y);
    vec d = vsub(vadd(*x, k), *y);
    if (mode & BF_CORR) {
        if (ifma)
            s = _mm512_and_si512(s, c->mask52);
        s = csub(s, k);
    }
    *x = s;
    *y = shoup_lazy(c, d, t, ifma, tc);
}

/* A forward NTT output reduced to [0, q): for 64-bit lanes from below 16q (8q with tc) by
 * halving steps; under IFMA from any value below 2^52 by a Shoup product by 1
 * (one52 = floor(2^52 / q)), which lands in [0, 2q), read modulo 2^52. */
INLINE vec fwd_final(const vconst *c, vec x, vec one52, int ifma, int tc) {
    if (ifma) {
        vec est = _mm512_madd52hi_epu64(c->zero, x, one52);
        vec r = _mm512_and_si512(_mm512_madd52lo_epu64(x, est, c->negq), c->mask52);
        return csub(r, c->q);
    }
    if (!tc)
        x = csub(x, c->eight_q);
    return csub(csub(csub(x, c->four_q), c->two_q), c->q);
}

/* A lazy Shoup product (shoup_lazy) reduced to [0, q). */
INLINE vec shoup_final(const vconst *c, vec r, int ifma) {
    if (ifma)
        return csub(_mm512_and_si512(r, c->mask52), c->q);
    return csub(csub(r, c->two_q), c->q);
}

/* ---- plans -------------------------------------------------------------------------------- */

/* Butterfly options and constant of every stage. */
typedef struct plan {
    uint8_t mode[MAX_LOG_N];
    uint64_t k[MAX_LOG_N];
} plan;

/* Forward. Harvey's butterfly with x corrected only where needed: with values below b q and
 * products below tau q, a stage without correction gives (b + tau) q and one that first brings
 * x from [0, b q) to [0, ceil(b/2) q) gives (ceil(b/2) + tau) q. The correction is skipped
 * while b + tau <= bmax (values stay below bmax q). When it is not, ceil(b/2) + tau <= bmax
 * still holds for any b <= bmax as long as bmax >= 2 tau: IFMA has tau = 2 and
 * bmax = floor(2^52 / q) >= 4; 64-bit lanes tau = 4 and bmax >= 8 for q < 2^61, tau = 2 (the
 * product corrected) and bmax >= 4 above. Values start below 4q. */
static void fwd_plan(uint64_t q, int log_n, uint64_t tau, uint64_t bmax, plan *pl) {
    uint64_t b = 4;
    for (int s = 0; s < log_n; s++) {
        if (b + tau <= bmax) {
            pl->mode[s] = 0;
            pl->k[s] = 0;
            b += tau;
        } else {
            uint64_t h = (b + 1) / 2;
            pl->mode[s] = BF_CORR;
            pl->k[s] = h * q;
            b = h + tau;
        }
    }
}

/* Forward, IFMA. Offset mode, when (4 + 4 log N) q <= 2^52 (q below about 2^46): every value
 * of the first stage gets x + 2q log N, and no stage adds toff or corrects, so a value loses
 * at most 2q of its lower bound and gains at most 2q of its upper bound per stage: it stays in
 * [0, (4 + 4 log N) q). Otherwise fwd_plan. */
static void fwd_plan_ifma(uint64_t q, int log_n, plan *pl) {
    const uint64_t lim = 1ull << 52;
    if ((4 + 4 * (uint64_t)log_n) * q > lim) {
        fwd_plan(q, log_n, 2, lim / q, pl);
        return;
    }
    for (int s = 0; s < log_n; s++) {
        pl->mode[s] = BF_NEG;
        pl->k[s] = 0;
    }
    pl->mode[0] = BF_PRE | BF_NEG;
    pl->k[0] = 2 * q * (uint64_t)log_n;
}

/* Inverse. Values start below b q with b = 2. A stage takes x + y and x - y + b q, both below
 * 2 b q, so it needs b <= bmax2 = 2^W / (2q) (W = 52 or 64). Without correction the next
 * stage sees max(2b, tau) (the products are below tau q), with the sum corrected from
 * [0, 2 b q) to [0, b q) it sees max(b, tau); the correction is skipped while the former fits.
 * k[s] = b q is both the offset of x - y and the correction constant; tau <= bmax2 since
 * 2 tau q <= 2^W on every path. */
static void inv_plan(uint64_t q, int log_n, uint64_t tau, uint64_t bmax2, plan *pl) {
    uint64_t b = 2;
    for (int s = 0; s < log_n - 1; s++) {
        uint64_t nb = 2 * b > tau ? 2 * b : tau;
        pl->k[s] = b * q;
        if (nb <= bmax2) {
            pl->mode[s] = 0;
            b = nb;
        } else {
            pl->mode[s] = BF_CORR;
            b = b > tau ? b : tau;
        }
    }
    pl->mode[log_n - 1] = 0;
    pl->k[log_n - 1] = b * q;
}

/* ---- forward NTT -------------------------------------------------------------------------- */

/* Stage s has m = 2^s groups of 2t = n / 2^s coefficients, twiddle root[m + i] for group i.
 * The passes below run the groups that lie in coefficients [e0, e1). */

/* One stage with t >= 8. */
INLINE void fwd_radix2(const hg_prime *p, const vconst *cp, uint64_t *a, int s, size_t e0,
                       size_t e1, const uint64_t *wst, vec k, int mode, int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t m = (size_t)1 << s, t = p->n >> (s + 1);
    for (size_t i = e0 / (2 * t); i < e1 / (2 * t); i++) {
        tw w = tw_bcast(p->root, wst, m + i, ifma);
        uint64_t *x = a + 2 * i * t, *y = x + t;
        for (size_t j = 0; j < t; j += 8) {
            vec u = vload(x + j), v = vload(y + j);
            fwd_bf(c, &u, &v, w, k, mode, ifma, tc);
            vstore(x + j, u);
            vstore(y + j, v);
        }
    }
}

/* Stages s and s + 1 (t/2 >= 8) in one pass: each group of 2t coefficients is four quarters
 * x0..x3; stage s pairs (x0, x2), (x1, x3) with root[m + i], stage s + 1 pairs (x0, x1) with
 * root[2m + 2i] and (x2, x3) with root[2m + 2i + 1]. */
INLINE void fwd_radix4(const hg_prime *p, const vconst *cp, uint64_t *a, int s, size_t e0,
                       size_t e1, const uint64_t *wst, vec k1, vec k2, int mode1, int mode2,
                       int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t m = (size_t)1 << s, t = p->n >> (s + 1), h = t / 2;
    for (size_t i = e0 / (2 * t); i < e1 / (2 * t); i++) {
        tw w1 = tw_bcast(p->root, wst, m + i, ifma);
        tw w2 = tw_bcast(p->root, wst, 2 * m + 2 * i, ifma);
        tw w3 = tw_bcast(p->root, wst, 2 * m + 2 * i + 1, ifma);
        uint64_t *x = a + 2 * i * t;
        for (size_t j = 0; j < h; j += 8) {
            vec v0 = vload(x + j), v1 = vload(x + h + j);
            vec v2 = vload(x + t + j), v3 = vload(x + t + h + j);
            fwd_bf(c, &v0, &v2, w1, k1, mode1, ifma, tc);
            fwd_bf(c, &v1, &v3, w1, k1, mode1, ifma, tc);
            fwd_bf(c, &v0, &v1, w2, k2, mode2, ifma, tc);
            fwd_bf(c, &v2, &v3, w3, k2, mode2, ifma, tc);
            vstore(x + j, v0);
            vstore(x + h + j, v1);
            vstore(x + t + j, v2);
            vstore(x + t + h + j, v3);
        }
    }
}

/* The stages t = 4, 2, 1 and the final reduction, on groups of 16 coefficients e0..e15.
 * Interleaving the two registers of a group (lanes 0,8,1,9,...) gives
 *   t = 4: x = e0 e8 e1 e9 e2 e10 e3 e11, y = e4 e12 ...  twiddles (w_2g, w_2g+1) x 4
 *   t = 2: x = e0 e4 e8 e12 e1 e5 e9 e13, y = e2 e6 ...  twiddles (w_4g .. w_4g+3) x 2
 *   t = 1: x = e0 e2 e4 ... e14,          y = e1 e3 ...  twiddles w_8g .. w_8g+7
 * and a fourth interleave restores the natural order. Each group is one long chain of
 * dependent instructions (about 50 cycles of latency); UNROLL groups side by side give the
 * out-of-order core independent work (about 8% faster than one group at a time here; the
 * stages are mostly bound by the permutes, which only one port executes). */
enum { UNROLL = 4 };

/* Smaller transforms (a few hundred nanoseconds in C) go to the portable code: the register
 * stages need whole sets of UNROLL groups. */
enum { MIN_N = 16 * UNROLL };

INLINE void interleave(vec *x, vec *y, vec lo, vec hi) {
    vec t = _mm512_permutex2var_epi64(*x, lo, *y);
    *y = _mm512_permutex2var_epi64(*x, hi, *y);
    *x = t;
}

INLINE void fwd_last3(const hg_prime *p, const vconst *cp, uint64_t *a, size_t e0, size_t e1,
                      const uint64_t *wst, const plan *pl, int mode1, int mode2, int mode3,
                      int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t n = p->n;
    const int s = p->log_n - 3;
    const vec lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const vec hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const vec k1 = vset(pl->k[s]), k2 = vset(pl->k[s + 1]), k3 = vset(pl->k[s + 2]);
    const vec one52 = vset(p->one_shoup52);
    for (size_t g0 = e0 / 16; g0 < e1 / 16; g0 += UNROLL) {
        vec x[UNROLL], y[UNROLL];
        for (int u = 0; u < UNROLL; u++) {
            x[u] = vload(a + 16 * (g0 + (size_t)u));
            y[u] = vload(a + 16 * (g0 + (size_t)u) + 8);
            interleave(&x[u], &y[u], lo, hi);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            fwd_bf(c, &x[u], &y[u], tw_x2(p->root, wst, n / 8 + 2 * g, ifma), k1, mode1, ifma, tc);
            interleave(&x[u], &y[u], lo, hi);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            fwd_bf(c, &x[u], &y[u], tw_x4(p->root, wst, n / 4 + 4 * g, ifma), k2, mode2, ifma, tc);
            interleave(&x[u], &y[u], lo, hi);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            fwd_bf(c, &x[u], &y[u], tw_x8(p->root, wst, n / 2 + 8 * g, ifma), k3, mode3, ifma, tc);
            x[u] = fwd_final(c, x[u], one52, ifma, tc);
            y[u] = fwd_final(c, y[u], one52, ifma, tc);
            interleave(&x[u], &y[u], lo, hi);
            vstore(a + 16 * g, x[u]);
            vstore(a + 16 * g + 8, y[u]);
        }
    }
}

/* Runs one (stages = 1) or two (stages = 2) stages from s, or with stages = 3 the last three,
 * on coefficients [e0, e1). One function per path, so that the options are constants. */
typedef void fwd_pass_fn(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                         int stages, size_t e0, size_t e1);

/* The instances below read as tables, one line each. */
/* clang-format off */
#define FWD_R2(md) fwd_radix2(p, c, a, s, e0, e1, ws, k1, md, ifma, tc)
#define FWD_R4(m1, m2) fwd_radix4(p, c, a, s, e0, e1, ws, k1, k2, m1, m2, ifma, tc)
#define FWD_L3(m1, m2, m3) fwd_last3(p, c, a, e0, e1, ws, pl, m1, m2, m3, ifma, tc)
#define KEY2(m1, m2) ((m1) | (m2) << 3)
#define KEY3(m1, m2, m3) ((m1) | (m2) << 3 | (m3) << 6)

INLINE void fwd_pass_any(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                         int stages, size_t e0, size_t e1, int ifma, int tc) {
    const uint64_t *ws = ifma ? p->root_shoup52 : p->root_shoup;
    const int m1 = pl->mode[s];
    if (stages == 3) {
        const int key = KEY3(m1, pl->mode[s + 1], pl->mode[s + 2]);
        if (ifma && key == KEY3(BF_NEG, BF_NEG, BF_NEG)) {
            FWD_L3(BF_NEG, BF_NEG, BF_NEG);
            return;
        }
        switch (key) {
        case KEY3(0, 0, 0): FWD_L3(0, 0, 0); break;
        case KEY3(1, 0, 0): FWD_L3(1, 0, 0); break;
        case KEY3(0, 1, 0): FWD_L3(0, 1, 0); break;
        case KEY3(1, 1, 0): FWD_L3(1, 1, 0); break;
        case KEY3(0, 0, 1): FWD_L3(0, 0, 1); break;
        case KEY3(1, 0, 1): FWD_L3(1, 0, 1); break;
        case KEY3(0, 1, 1): FWD_L3(0, 1, 1); break;
        default: FWD_L3(1, 1, 1); break;
        }
        return;
    }
    const vec k1 = vset(pl->k[s]);
    if (stages == 1) {
        if (ifma && m1 == (BF_PRE | BF_NEG))
            FWD_R2(BF_PRE | BF_NEG);
        else if (ifma && m1 == BF_NEG)
            FWD_R2(BF_NEG);
        else if (m1)
            FWD_R2(BF_CORR);
        else
            FWD_R2(0);
        return;
    }
    const vec k2 = vset(pl->k[s + 1]);
    const int key = KEY2(m1, pl->mode[s + 1]);
    if (ifma && key == KEY2(BF_PRE | BF_NEG, BF_NEG)) {
        FWD_R4(BF_PRE | BF_NEG, BF_NEG);
        return;
    }
    if (ifma && key == KEY2(BF_NEG, BF_NEG)) {
        FWD_R4(BF_NEG, BF_NEG);
        return;
    }
    switch (key) {
    case KEY2(0, 0): FWD_R4(0, 0); break;
    case KEY2(1, 0): FWD_R4(1, 0); break;
    case KEY2(0, 1): FWD_R4(0, 1); break;
    default: FWD_R4(1, 1); break;
    }
}

#undef FWD_R2
#undef FWD_R4
#undef FWD_L3
/* clang-format on */

static void fwd_pass_ifma(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                          int stages, size_t e0, size_t e1) {
    fwd_pass_any(p, c, a, pl, s, stages, e0, e1, 1, 0);
}

static void fwd_pass_64(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                        int stages, size_t e0, size_t e1) {
    fwd_pass_any(p, c, a, pl, s, stages, e0, e1, 0, 0);
}

static void fwd_pass_64tc(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                          int stages, size_t e0, size_t e1) {
    fwd_pass_any(p, c, a, pl, s, stages, e0, e1, 0, 1);
}

/* Coefficients per block of the cache-blocked order: the first stages run over the whole
 * array, two at a time; from the stage whose groups fit in a block on, each block runs all its
 * remaining stages while it sits in L1 (16 KiB of data, plus the twiddles it streams). */
enum { BLOCK = 2048 };

static void fwd_run(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl,
                    fwd_pass_fn *pass) {
    const int log_n = p->log_n;
    const size_t n = p->n, bsz = n < BLOCK ? n : BLOCK;
    const int sb = log_n - __builtin_ctzll(bsz); /* first stage with groups <= bsz */
    int s = 0;
    if (sb & 1)
        pass(p, c, a, pl, s++, 1, 0, n);
    for (; s < sb; s += 2)
        pass(p, c, a, pl, s, 2, 0, n);
    for (size_t e0 = 0; e0 < n; e0 += bsz) {
        s = sb;
        if ((log_n - 3 - sb) & 1)
            pass(p, c, a, pl, s++, 1, e0, e0 + bsz);
        for (; s < log_n - 3; s += 2)
            pass(p, c, a, pl, s, 2, e0, e0 + bsz);
        pass(p, c, a, pl, s, 3, e0, e0 + bsz);
    }
}

static void ntt_forward_ifma(const hg_prime *p, uint64_t *a) {
    if (p->n < MIN_N) {
        hg_kernels_portable.ntt_forward(p, a);
        return;
    }
    const vconst c = vconst_init(p->mod.q, 1, 0);
    plan pl = {{0}, {0}};
    fwd_plan_ifma(p->mod.q, p->log_n, &pl);
    fwd_run(p, &c, a, &pl, fwd_pass_ifma);
}

static void ntt_forward_avx512(const hg_prime *p, uint64_t *a) {
    if (p->n < MIN_N) {
        hg_kernels_portable.ntt_forward(p, a);
        return;
    }
    /* fwd_final reduces from below 16q (8q with tc). */
    const uint64_t q = p->mod.q;
    const int tc = q >= (1ull << 61);
    const vconst c = vconst_init(q, 0, tc);
    const uint64_t bmax = UINT64_MAX / q;
    plan pl = {{0}, {0}};
    fwd_plan(q, p->log_n, tc ? 2 : 4, bmax < (tc ? 8 : 16) ? bmax : (tc ? 8 : 16), &pl);
    fwd_run(p, &c, a, &pl, tc ? fwd_pass_64tc : fwd_pass_64);
}

/* ---- inverse NTT -------------------------------------------------------------------------- */

/* Stage s has distance t = 2^s and h = n / 2^(s+1) groups of 2t coefficients, twiddle
 * iroot[h + i] for group i; the last stage (s = log N - 1) is the one with 1/N folded in. */

/* The stages t = 1, 2, 4 on groups of 16 coefficients, UNROLL groups side by side;
 * de-interleaving the pair of registers of a group (even lanes, odd lanes) gives the groupings
 * of fwd_last3 in reverse order:
 *   t = 1: x = e0 e2 ... e14,             twiddles iroot[n/2 + 8g .. +7]
 *   t = 2: x = e0 e4 e8 e12 e1 e5 e9 e13, twiddles iroot[n/4 + 4g .. +3] x 2
 *   t = 4: x = e0 e8 e1 e9 e2 e10 e3 e11, twiddles iroot[n/8 + 2g, +1] x 4 */
INLINE void inv_first3(const hg_prime *p, const vconst *cp, uint64_t *a, size_t e0, size_t e1,
                       const uint64_t *wst, const plan *pl, int mode1, int mode2, int mode3,
                       int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t n = p->n;
    const vec ev = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const vec od = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const vec k1 = vset(pl->k[0]), k2 = vset(pl->k[1]), k3 = vset(pl->k[2]);
    for (size_t g0 = e0 / 16; g0 < e1 / 16; g0 += UNROLL) {
        vec x[UNROLL], y[UNROLL];
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            x[u] = vload(a + 16 * g);
            y[u] = vload(a + 16 * g + 8);
            interleave(&x[u], &y[u], ev, od);
            inv_bf(c, &x[u], &y[u], tw_x8(p->iroot, wst, n / 2 + 8 * g, ifma), k1, mode1, ifma, tc);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            interleave(&x[u], &y[u], ev, od);
            inv_bf(c, &x[u], &y[u], tw_x4(p->iroot, wst, n / 4 + 4 * g, ifma), k2, mode2, ifma, tc);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            interleave(&x[u], &y[u], ev, od);
            inv_bf(c, &x[u], &y[u], tw_x2(p->iroot, wst, n / 8 + 2 * g, ifma), k3, mode3, ifma, tc);
        }
        for (int u = 0; u < UNROLL; u++) {
            size_t g = g0 + (size_t)u;
            interleave(&x[u], &y[u], ev, od);
            vstore(a + 16 * g, x[u]);
            vstore(a + 16 * g + 8, y[u]);
        }
    }
}

/* One stage with t >= 8, on the groups in coefficients [e0, e1). */
INLINE void inv_radix2(const hg_prime *p, const vconst *cp, uint64_t *a, int s, size_t e0,
                       size_t e1, const uint64_t *wst, vec k, int mode, int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t t = (size_t)1 << s, h = p->n >> (s + 1);
    for (size_t i = e0 / (2 * t); i < e1 / (2 * t); i++) {
        tw w = tw_bcast(p->iroot, wst, h + i, ifma);
        uint64_t *x = a + 2 * i * t, *y = x + t;
        for (size_t j = 0; j < t; j += 8) {
            vec u = vload(x + j), v = vload(y + j);
            inv_bf(c, &u, &v, w, k, mode, ifma, tc);
            vstore(x + j, u);
            vstore(y + j, v);
        }
    }
}

/* Stages s and s + 1 (t >= 8) in one pass: each group of 4t coefficients is four quarters
 * x0..x3; stage s pairs (x0, x1) with iroot[h + 2i] and (x2, x3) with iroot[h + 2i + 1],
 * stage s + 1 pairs (x0, x2), (x1, x3) with iroot[h/2 + i]. */
INLINE void inv_radix4(const hg_prime *p, const vconst *cp, uint64_t *a, int s, size_t e0,
                       size_t e1, const uint64_t *wst, vec k1, vec k2, int mode1, int mode2,
                       int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t t = (size_t)1 << s, h = p->n >> (s + 1);
    for (size_t i = e0 / (4 * t); i < e1 / (4 * t); i++) {
        tw w1 = tw_bcast(p->iroot, wst, h + 2 * i, ifma);
        tw w2 = tw_bcast(p->iroot, wst, h + 2 * i + 1, ifma);
        tw w3 = tw_bcast(p->iroot, wst, h / 2 + i, ifma);
        uint64_t *x = a + 4 * i * t;
        for (size_t j = 0; j < t; j += 8) {
            vec v0 = vload(x + j), v1 = vload(x + t + j);
            vec v2 = vload(x + 2 * t + j), v3 = vload(x + 3 * t + j);
            inv_bf(c, &v0, &v1, w1, k1, mode1, ifma, tc);
            inv_bf(c, &v2, &v3, w2, k1, mode1, ifma, tc);
            inv_bf(c, &v0, &v2, w3, k2, mode2, ifma, tc);
            inv_bf(c, &v1, &v3, w3, k2, mode2, ifma, tc);
            vstore(x + j, v0);
            vstore(x + t + j, v1);
            vstore(x + 2 * t + j, v2);
            vstore(x + 3 * t + j, v3);
        }
    }
}

/* The last stage (distance n/2) with 1/N folded in: (x + y) / N and (x - y) w / N, x, y < k,
 * reduced to [0, q). */
INLINE void inv_final_bf(const vconst *c, vec *x, vec *y, tw ninv, tw lastw, vec k, int ifma) {
    vec s = vadd(*x, *y);
    vec d = vsub(vadd(*x, k), *y);
    *x = shoup_final(c, shoup_lazy(c, s, ninv, ifma, 0), ifma);
    *y = shoup_final(c, shoup_lazy(c, d, lastw, ifma, 0), ifma);
}

INLINE tw tw_scalar(uint64_t w, uint64_t ws, int ifma) {
    tw t = {vset(w), vset(ws), vset(ifma ? ws : ws >> 32)};
    return t;
}

/* The last stage alone. */
INLINE void inv_final2(const hg_prime *p, const vconst *cp, uint64_t *a, vec k, int ifma) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t half = p->n / 2;
    tw ninv = tw_scalar(p->n_inv, ifma ? p->n_inv_shoup52 : p->n_inv_shoup, ifma);
    tw lastw = tw_scalar(p->last_w, ifma ? p->last_w_shoup52 : p->last_w_shoup, ifma);
    for (size_t j = 0; j < half; j += 8) {
        vec u = vload(a + j), v = vload(a + half + j);
        inv_final_bf(c, &u, &v, ninv, lastw, k, ifma);
        vstore(a + j, u);
        vstore(a + half + j, v);
    }
}

/* The last two stages in one pass: distance n/4 (twiddles iroot[2], iroot[3]), then the last
 * stage with 1/N. */
INLINE void inv_final4(const hg_prime *p, const vconst *cp, uint64_t *a, const uint64_t *wst,
                       vec k1, vec k2, int mode1, int ifma, int tc) {
    /* A local copy: stores through a cannot alias it, so it stays in registers. */
    const vconst cl = *cp, *c = &cl;
    const size_t t = p->n / 4;
    tw w1 = tw_bcast(p->iroot, wst, 2, ifma);
    tw w2 = tw_bcast(p->iroot, wst, 3, ifma);
    tw ninv = tw_scalar(p->n_inv, ifma ? p->n_inv_shoup52 : p->n_inv_shoup, ifma);
    tw lastw = tw_scalar(p->last_w, ifma ? p->last_w_shoup52 : p->last_w_shoup, ifma);
    for (size_t j = 0; j < t; j += 8) {
        vec v0 = vload(a + j), v1 = vload(a + t + j);
        vec v2 = vload(a + 2 * t + j), v3 = vload(a + 3 * t + j);
        inv_bf(c, &v0, &v1, w1, k1, mode1, ifma, tc);
        inv_bf(c, &v2, &v3, w2, k1, mode1, ifma, tc);
        inv_final_bf(c, &v0, &v2, ninv, lastw, k2, ifma);
        inv_final_bf(c, &v1, &v3, ninv, lastw, k2, ifma);
        vstore(a + j, v0);
        vstore(a + t + j, v1);
        vstore(a + 2 * t + j, v2);
        vstore(a + 3 * t + j, v3);
    }
}

/* Runs one (stages = 1) or two (2) stages from s on coefficients [e0, e1), the first three
 * (3), or the last one or two with 1/N (stages = -1, -2: whole array). */
typedef void inv_pass_fn(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                         int stages, size_t e0, size_t e1);

/* clang-format off */
#define INV_R2(md) inv_radix2(p, c, a, s, e0, e1, ws, k1, md, ifma, tc)
#define INV_R4(m1, m2) inv_radix4(p, c, a, s, e0, e1, ws, k1, k2, m1, m2, ifma, tc)
#define INV_F3(m1, m2, m3) inv_first3(p, c, a, e0, e1, ws, pl, m1, m2, m3, ifma, tc)

INLINE void inv_pass_any(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                         int stages, size_t e0, size_t e1, int ifma, int tc) {
    const uint64_t *ws = ifma ? p->iroot_shoup52 : p->iroot_shoup;
    const int m1 = pl->mode[s];
    const vec k1 = vset(pl->k[s]);
    switch (stages) {
    case 3:
        switch (KEY3(m1, pl->mode[s + 1], pl->mode[s + 2])) {
        case KEY3(0, 0, 0): INV_F3(0, 0, 0); break;
        case KEY3(1, 0, 0): INV_F3(1, 0, 0); break;
        case KEY3(0, 1, 0): INV_F3(0, 1, 0); break;
        case KEY3(1, 1, 0): INV_F3(1, 1, 0); break;
        case KEY3(0, 0, 1): INV_F3(0, 0, 1); break;
        case KEY3(1, 0, 1): INV_F3(1, 0, 1); break;
        case KEY3(0, 1, 1): INV_F3(0, 1, 1); break;
        default: INV_F3(1, 1, 1); break;
        }
        break;
    case 1:
        if (m1)
            INV_R2(BF_CORR);
        else
            INV_R2(0);
        break;
    case 2: {
        const vec k2 = vset(pl->k[s + 1]);
        switch (KEY2(m1, pl->mode[s + 1])) {
        case KEY2(0, 0): INV_R4(0, 0); break;
        case KEY2(1, 0): INV_R4(1, 0); break;
        case KEY2(0, 1): INV_R4(0, 1); break;
        default: INV_R4(1, 1); break;
        }
        break;
    }
    case -1: inv_final2(p, c, a, k1, ifma); break;
    default:
        if (m1)
            inv_final4(p, c, a, ws, k1, vset(pl->k[s + 1]), BF_CORR, ifma, tc);
        else
            inv_final4(p, c, a, ws, k1, vset(pl->k[s + 1]), 0, ifma, tc);
        break;
    }
}

#undef INV_R2
#undef INV_R4
#undef INV_F3
/* clang-format on */

static void inv_pass_ifma(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                          int stages, size_t e0, size_t e1) {
    inv_pass_any(p, c, a, pl, s, stages, e0, e1, 1, 0);
}

static void inv_pass_64(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                        int stages, size_t e0, size_t e1) {
    inv_pass_any(p, c, a, pl, s, stages, e0, e1, 0, 0);
}

static void inv_pass_64tc(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl, int s,
                          int stages, size_t e0, size_t e1) {
    inv_pass_any(p, c, a, pl, s, stages, e0, e1, 0, 1);
}

/* Stages [s0, s1) on coefficients [e0, e1), two at a time; s1 = log N includes the last stage
 * (then [e0, e1) is the whole array). */
static void inv_segment(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl,
                        inv_pass_fn *pass, int s0, int s1, size_t e0, size_t e1) {
    int s = s0;
    if (s1 == p->log_n) {
        if ((s1 - s0) & 1) {
            if (s1 - s0 == 1) {
                pass(p, c, a, pl, s, -1, e0, e1);
                return;
            }
            pass(p, c, a, pl, s++, 1, e0, e1);
        }
        for (; s < s1 - 2; s += 2)
            pass(p, c, a, pl, s, 2, e0, e1);
        pass(p, c, a, pl, s, -2, e0, e1);
        return;
    }
    if ((s1 - s0) & 1)
        pass(p, c, a, pl, s++, 1, e0, e1);
    for (; s < s1; s += 2)
        pass(p, c, a, pl, s, 2, e0, e1);
}

/* The mirror of fwd_run: each block runs the stages whose groups fit in it, then the rest run
 * over the whole array. */
static void inv_run(const hg_prime *p, const vconst *c, uint64_t *a, const plan *pl,
                    inv_pass_fn *pass) {
    const size_t n = p->n, bsz = n < BLOCK ? n : BLOCK;
    const int lb = __builtin_ctzll(bsz); /* stages s < lb have groups <= bsz */
    for (size_t e0 = 0; e0 < n; e0 += bsz) {
        pass(p, c, a, pl, 0, 3, e0, e0 + bsz);
        inv_segment(p, c, a, pl, pass, 3, lb, e0, e0 + bsz);
    }
    if (lb < p->log_n)
        inv_segment(p, c, a, pl, pass, lb, p->log_n, 0, n);
}

static void ntt_inverse_ifma(const hg_prime *p, uint64_t *a) {
    if (p->n < MIN_N) {
        hg_kernels_portable.ntt_inverse(p, a);
        return;
    }
    const vconst c = vconst_init(p->mod.q, 1, 0);
    plan pl = {{0}, {0}};
    inv_plan(p->mod.q, p->log_n, 2, (1ull << 51) / p->mod.q, &pl);
    inv_run(p, &c, a, &pl, inv_pass_ifma);
}

static void ntt_inverse_avx512(const hg_prime *p, uint64_t *a) {
    if (p->n < MIN_N) {
        hg_kernels_portable.ntt_inverse(p, a);
        return;
    }
    const int tc = p->mod.q >= (1ull << 61);
    const vconst c = vconst_init(p->mod.q, 0, tc);
    plan pl = {{0}, {0}};
    inv_plan(p->mod.q, p->log_n, tc ? 2 : 4, (1ull << 63) / p->mod.q, &pl);
    inv_run(p, &c, a, &pl, tc ? inv_pass_64tc : inv_pass_64);
}

/* ---- element-wise kernels ----------------------------------------------------------------- */

/* The loops below run whole registers, then the last n mod 8 words with masked loads and
 * stores (masked-off lanes are neither read nor written). */
#define FOR_EACH_VEC(n, i, m, BODY)                                                                \
    do {                                                                                           \
        size_t i = 0;                                                                              \
        __mmask8 m = 0xff;                                                                         \
        for (; i + 8 <= (n); i += 8) {                                                             \
            BODY;                                                                                  \
        }                                                                                          \
        if (i < (n)) {                                                                             \
            m = tail_mask((n)-i);                                                                  \
            BODY;                                                                                  \
        }                                                                                          \
    } while (0)

static void add_v(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                  size_t n) {
    const vec q = vset(p->mod.q);
    FOR_EACH_VEC(n, i, m, {
        vec s = vadd(vload_m(a + i, m), vload_m(b + i, m));
        vstore_m(out + i, m, csub(s, q));
    });
}

/* a - b, plus q when it wrapped: of d and d + q, the right one is the smaller (unsigned). */
static void sub_v(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                  size_t n) {
    const vec q = vset(p->mod.q);
    FOR_EACH_VEC(n, i, m, {
        vec d = vsub(vload_m(a + i, m), vload_m(b + i, m));
        vstore_m(out + i, m, _mm512_min_epu64(d, vadd(d, q)));
    });
}

/* q - a, or 0 for a = 0: of q - a and -a, the smaller (unsigned) is right in both cases. */
static void neg_v(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n) {
    const vec q = vset(p->mod.q), z = _mm512_setzero_si512();
    FOR_EACH_VEC(n, i, m, {
        vec x = vload_m(a + i, m);
        vstore_m(out + i, m, _mm512_min_epu64(vsub(q, x), vsub(z, x)));
    });
}

static void add_scalar_v(const hg_prime *p, const uint64_t *a, uint64_t cst, uint64_t *out,
                         size_t n) {
    const vec q = vset(p->mod.q), cv = vset(cst);
    FOR_EACH_VEC(n, i, m, { vstore_m(out + i, m, csub(vadd(vload_m(a + i, m), cv), q)); });
}

/* x mod q, lazily in [0, 4q), for any 64-bit x (Barrett with ratio = floor(2^64 / q)): the exact
 * quotient estimate leaves x - est q in [0, 2q), the approximate one up to 2 short. */
INLINE vec reduce64_lazy(const vconst *c, vec x, vec ratio, vec ratio_h) {
    vec est = mulhi_approx(x, ratio, ratio_h);
    return vsub(x, _mm512_mullo_epi64(est, c->q));
}

/* x mod q for q > 2^32, where ratio < 2^32: floor(x ratio / 2^64) is exactly
 * floor((xh ratio + floor(xl ratio / 2^32)) / 2^32), and the sum is at most
 * (2^32 - 1)^2 + 2^32 - 1 < 2^64. The exact quotient leaves [0, 2q). */
INLINE vec reduce64_big(const vconst *c, vec x, vec ratio) {
    vec hi = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), ratio);
    vec est = _mm512_srli_epi64(vadd(hi, _mm512_srli_epi64(_mm512_mul_epu32(x, ratio), 32)), 32);
    return csub(vsub(x, _mm512_mullo_epi64(est, c->q)), c->q);
}

INLINE void reduce_64_body(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n, int big) {
    const vconst c = vconst_init(p->mod.q, 0, 0);
    const vec ratio = vset(p->mod.ratio_hi), ratio_h = vset(p->mod.ratio_hi >> 32);
    FOR_EACH_VEC(n, i, m, {
        vec x = vload_m(a + i, m);
        x = big ? reduce64_big(&c, x, ratio)
                : csub(csub(reduce64_lazy(&c, x, ratio, ratio_h), c.two_q), c.q);
        vstore_m(out + i, m, x);
    });
}

static void reduce_64(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n) {
    if (p->mod.q > (1ull << 32))
        reduce_64_body(p, a, out, n, 1);
    else
        reduce_64_body(p, a, out, n, 0);
}

/* x mod q under IFMA: with x = xh 2^40 + xl, xh 2^40 = xh (2^40 mod q) and the Shoup product
 * by c40 = 2^40 mod q (constant floor(c40 2^52 / q), xh < 2^24) is added onto xl:
 * x' = xl + [0, 2q) < 2^40 + 2^51, right modulo 2^52. A Shoup product by 1 then brings it
 * to [0, 2q). */
static void reduce_ifma(const hg_prime *p, const uint64_t *a, uint64_t *out, size_t n) {
    const vconst c = vconst_init(p->mod.q, 1, 0);
    const vec c40 = vset(p->pow40), c40s = vset(p->pow40_shoup52), one52 = vset(p->one_shoup52);
    const vec lo40 = vset((1ull << 40) - 1);
    FOR_EACH_VEC(n, i, m, {
        vec x = vload_m(a + i, m);
        vec xh = _mm512_srli_epi64(x, 40);
        vec est = _mm512_madd52hi_epu64(c.zero, xh, c40s);
        x = _mm512_madd52lo_epu64(_mm512_and_si512(x, lo40), xh, c40);
        x = _mm512_madd52lo_epu64(x, est, c.negq);
        vstore_m(out + i, m, fwd_final(&c, x, one52, 1, 0));
    });
}

/* ---- element-wise products, 64-bit lanes -------------------------------------------------- */

static void mul_scalar_64(const hg_prime *p, const uint64_t *a, uint64_t w, uint64_t ws,
                          uint64_t *out, size_t n) {
    const vconst c = vconst_init(p->mod.q, 0, 0);
    const tw t = tw_scalar(w, ws, 0);
    FOR_EACH_VEC(n, i, m, {
        vec r = shoup_lazy(&c, vload_m(a + i, m), t, 0, 0);
        vstore_m(out + i, m, shoup_final(&c, r, 0));
    });
}

/* a b mod q for a, b < q < 2^62 with k = bits(q) in [33, 62] (Barrett). The product
 * P = hh 2^64 + (lh + hl) 2^32 + ll from 32-bit halves; lh + hl < 2^63 because the high halves
 * are below 2^30. x = floor(P / 2^(k-1)) < 2^63 is assembled from hh and
 * t = floor(P / 2^32) - hh 2^32; then Q = floor(x mu / 2^64) with mu = floor(2^(k+63) / q)
 * is at most 2 below floor(P / q) (errors: < 1 from x, P / 2^(k+63) <= 1/2 from mu, 1 from the
 * final floor), so P - Q q < 3q < 2^64 and is exact modulo 2^64. For k <= 61 the quotient of
 * mulhi_approx, up to 2 lower, leaves P - Q q < 5q < 2^64: fine too. */
INLINE vec mul_barrett64(const vconst *c, vec a, vec b, vec mu, vec muh, vec sh_hi, vec sh_t,
                         int exact) {
    vec ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
    vec ll = _mm512_mul_epu32(a, b);
    vec mid = vadd(_mm512_mul_epu32(a, bh), _mm512_mul_epu32(ah, b));
    vec hh = _mm512_mul_epu32(ah, bh);
    vec t = vadd(mid, _mm512_srli_epi64(ll, 32));
    vec lo = vadd(ll, _mm512_slli_epi64(mid, 32));
    vec x = vadd(_mm512_sllv_epi64(hh, sh_hi), _mm512_srlv_epi64(t, sh_t));
    vec quot = exact ? mulhi_exact(x, mu, muh) : mulhi_approx(x, mu, muh);
    return vsub(lo, _mm512_mullo_epi64(quot, c->q));
}

/* The three cases of a product on 64-bit lanes, with the range of a b mod q they leave. */
enum {
    MUL_SMALL, /* q < 2^32: P fits in 64 bits, reduce64_lazy: [0, 4q) */
    MUL_MID,   /* k in [33, 61]: approximate quotient, [0, 5q) */
    MUL_BIG,   /* k = 62: exact quotient, [0, 3q) */
};

INLINE vec mul64_lazy(const vconst *c, vec a, vec b, int kind, vec p1, vec p2, vec p3, vec p4) {
    if (kind == MUL_SMALL)
        return reduce64_lazy(c, _mm512_mul_epu32(a, b), p1, p2);
    return mul_barrett64(c, a, b, p1, p2, p3, p4, kind == MUL_BIG);
}

/* A product from mul64_lazy brought to [0, 2q). */
INLINE vec mul64_2q(const vconst *c, vec r, int kind) {
    if (kind == MUL_MID)
        r = csub(r, c->four_q);
    return csub(r, c->two_q);
}

/* Constants of mul64_lazy: (ratio, ratio >> 32) for small q, else (mu, mu >> 32, 65 - k,
 * k - 33). */
#define MUL64_CONSTS(p, kind)                                                                      \
    const int small_ = (kind) == MUL_SMALL;                                                        \
    const vec p1 = vset(small_ ? (p)->mod.ratio_hi : (p)->mu64);                                   \
    const vec p2 = vset((small_ ? (p)->mod.ratio_hi : (p)->mu64) >> 32);                           \
    const vec p3 = vset(small_ ? 0 : (uint64_t)(65 - (p)->mod.bits));                              \
    const vec p4 = vset(small_ ? 0 : (uint64_t)((p)->mod.bits - 33))

INLINE int mul64_kind(const hg_prime *p) {
    return p->mod.bits <= 32 ? MUL_SMALL : p->mod.bits <= 61 ? MUL_MID : MUL_BIG;
}

INLINE void mul_64_body(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                        size_t n, int kind) {
    const vconst c = vconst_init(p->mod.q, 0, 0);
    MUL64_CONSTS(p, kind);
    FOR_EACH_VEC(n, i, m, {
        vec r = mul64_lazy(&c, vload_m(a + i, m), vload_m(b + i, m), kind, p1, p2, p3, p4);
        vstore_m(out + i, m, csub(mul64_2q(&c, r, kind), c.q));
    });
}

static void mul_64(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                   size_t n) {
    const int kind = mul64_kind(p);
    if (kind == MUL_SMALL)
        mul_64_body(p, a, b, out, n, MUL_SMALL);
    else if (kind == MUL_MID)
        mul_64_body(p, a, b, out, n, MUL_MID);
    else
        mul_64_body(p, a, b, out, n, MUL_BIG);
}

/* acc + (a b mod q, in [0, 2q)) < 3q: two corrections. */
INLINE void mul_add_64_body(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *acc,
                            size_t n, int kind) {
    const vconst c = vconst_init(p->mod.q, 0, 0);
    MUL64_CONSTS(p, kind);
    FOR_EACH_VEC(n, i, m, {
        vec r = mul64_lazy(&c, vload_m(a + i, m), vload_m(b + i, m), kind, p1, p2, p3, p4);
        r = vadd(vload_m(acc + i, m), mul64_2q(&c, r, kind));
        vstore_m(acc + i, m, csub(csub(r, c.two_q), c.q));
    });
}

static void mul_add_64(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *acc,
                       size_t n) {
    const int kind = mul64_kind(p);
    if (kind == MUL_SMALL)
        mul_add_64_body(p, a, b, acc, n, MUL_SMALL);
    else if (kind == MUL_MID)
        mul_add_64_body(p, a, b, acc, n, MUL_MID);
    else
        mul_add_64_body(p, a, b, acc, n, MUL_BIG);
}

/* ---- element-wise products, IFMA ---------------------------------------------------------- */

/* w_shoup >> 12 = floor(floor(w 2^64 / q) / 2^12) = floor(w 2^52 / q), the 52-bit constant. */
static void mul_scalar_ifma(const hg_prime *p, const uint64_t *a, uint64_t w, uint64_t ws,
                            uint64_t *out, size_t n) {
    const vconst c = vconst_init(p->mod.q, 1, 0);
    const tw t = tw_scalar(w, ws >> 12, 1);
    FOR_EACH_VEC(n, i, m, {
        vec r = shoup_lazy(&c, vload_m(a + i, m), t, 1, 0);
        vstore_m(out + i, m, shoup_final(&c, r, 1));
    });
}

/* a b mod q in [0, 3q) for a, b < q < 2^50, k = bits(q) (Barrett on 52-bit limbs):
 * x = floor(a b / 2^(k-1)) is the high half of (a 2^(52-k)) (2b), both factors below 2^52;
 * Q = floor(x mu / 2^52) with mu = floor(2^(k+51) / q) < 2^52 is at most 2 below floor(ab/q)
 * (errors: < 1 from x, ab / 2^(k+51) < 1/2 from mu, 1 from the floor), so a b - Q q < 3q and
 * its low 52 bits, from the low halves of a b and of Q (2^52 - q), are the value itself. */
INLINE vec mul_ifma(const vconst *c, vec a, vec b, vec mu, vec shift) {
    vec x = _mm512_madd52hi_epu64(c->zero, _mm512_sllv_epi64(a, shift), vadd(b, b));
    vec lo = _mm512_madd52lo_epu64(c->zero, a, b);
    vec quot = _mm512_madd52hi_epu64(c->zero, x, mu);
    return _mm512_and_si512(_mm512_madd52lo_epu64(lo, quot, c->negq), c->mask52);
}

static void mul_ifma_v(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *out,
                       size_t n) {
    const vconst c = vconst_init(p->mod.q, 1, 0);
    const vec mu = vset(p->mu52), shift = vset((uint64_t)(52 - p->mod.bits));
    FOR_EACH_VEC(n, i, m, {
        vec r = mul_ifma(&c, vload_m(a + i, m), vload_m(b + i, m), mu, shift);
        vstore_m(out + i, m, csub(csub(r, c.two_q), c.q));
    });
}

/* acc + r < 4q with r < 3q: two corrections. */
static void mul_add_ifma_v(const hg_prime *p, const uint64_t *a, const uint64_t *b, uint64_t *acc,
                           size_t n) {
    const vconst c = vconst_init(p->mod.q, 1, 0);
    const vec mu = vset(p->mu52), shift = vset((uint64_t)(52 - p->mod.bits));
    FOR_EACH_VEC(n, i, m, {
        vec r = mul_ifma(&c, vload_m(a + i, m), vload_m(b + i, m), mu, shift);
        r = vadd(r, vload_m(acc + i, m));
        vstore_m(acc + i, m, csub(csub(r, c.two_q), c.q));
    });
}

/* The tensor product of two ciphertexts' limbs in one pass: d0 = a0 b0, d1 = a0 b1 + a1 b0,
 * d2 = a1 b1 (each input read once, each output written once). */
static void tensor_ifma_v(const hg_prime *p, const uint64_t *a0, const uint64_t *a1,
                          const uint64_t *b0, const uint64_t *b1, uint64_t *d0, uint64_t *d1,
                          uint64_t *d2, size_t n) {
    const vconst c = vconst_init(p->mod.q, 1, 0);
    const vec mu = vset(p->mu52), shift = vset((uint64_t)(52 - p->mod.bits));
    FOR_EACH_VEC(n, i, m, {
        vec x0 = vload_m(a0 + i, m);
        vec x1 = vload_m(a1 + i, m);
        vec y0 = vload_m(b0 + i, m);
        vec y1 = vload_m(b1 + i, m);
        vec r0 = mul_ifma(&c, x0, y0, mu, shift);
        vec r2 = mul_ifma(&c, x1, y1, mu, shift);
        vec r1 = csub(csub(mul_ifma(&c, x0, y1, mu, shift), c.two_q), c.q);
        r1 = vadd(r1, mul_ifma(&c, x1, y0, mu, shift)); /* < 4q */
        vstore_m(d0 + i, m, csub(csub(r0, c.two_q), c.q));
        vstore_m(d1 + i, m, csub(csub(r1, c.two_q), c.q));
        vstore_m(d2 + i, m, csub(csub(r2, c.two_q), c.q));
    });
}

const hg_ring_kernels hg_kernels_avx512 = {
    .simd = HG_SIMD_AVX512,
    .ntt_forward = ntt_forward_avx512,
    .ntt_inverse = ntt_inverse_avx512,
    .add = add_v,
    .sub = sub_v,
    .neg = neg_v,
    .add_scalar = add_scalar_v,
    .mul_scalar = mul_scalar_64,
    .mul = mul_64,
    .mul_add = mul_add_64,
    .reduce = reduce_64,
};

const hg_ring_kernels hg_kernels_ifma = {
    .simd = HG_SIMD_IFMA,
    .ntt_forward = ntt_forward_ifma,
    .ntt_inverse = ntt_inverse_ifma,
    .add = add_v,
    .sub = sub_v,
    .neg = neg_v,
    .add_scalar = add_scalar_v,
    .mul_scalar = mul_scalar_ifma,
    .mul = mul_ifma_v,
    .mul_add = mul_add_ifma_v,
    .reduce = reduce_ifma,
    .tensor = tensor_ifma_v,
};
