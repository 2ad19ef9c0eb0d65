/*
 * Hybrid key switching. The input d (modulo Q_l = q_0..q_l) is split into digits of up to K
 * primes; each digit is raised to the basis Q_l * P by fast basis conversion (ModUp), multiplied
 * by its key pair and accumulated; the sums are divided by P with rounding (ModDown). The
 * digit's noise, of the size of the digit's modulus, is divided by P, which is why P should be
 * at least as large as the largest digit.
 *
 * Extended basis at level l: limbs 0..l are q_0..q_l, limbs l+1..l+K the special primes.
 */
#include "ckks.h"

#include "ring/lazy.h"

#include <string.h>

static inline int ext_prime(const hg_ckks_ctx *ctx, int level, int e) {
    return e <= level ? e : ctx->L + (e - level - 1);
}

/* out (level + 1 limbs, NTT) = round(acc / P) for acc over the extended basis (NTT form).
 * Uses t3, t4, t5 of the evaluator. acc's special limbs are destroyed. */
void hg_ckks_moddown(hg_ckks_eval *ev, uint64_t *acc, int level, uint64_t *out);
void hg_ckks_moddown(hg_ckks_eval *ev, uint64_t *acc, int level, uint64_t *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    const size_t n = ctx->n;
    const int K = ctx->K;
    if (K == 0) { /* P = 1 */
        if (out != acc)
            memmove(out, acc, (size_t)(level + 1) * n * sizeof(uint64_t));
        return;
    }
    uint64_t *sp = acc + (size_t)(level + 1) * n; /* the special limbs */
    /* The basis conversion takes residues centred, so conv = [x]_P in (-P/2, P/2] (up to a
     * small multiple of P when K > 1) and (x - conv) / P = round(x / P). */
    for (int k = 0; k < K; k++)
        hg_ntt_inverse(&ctx->prime[ctx->L + k], sp + (size_t)k * n);
    uint64_t *conv = ev->t3;
    hg_baseconv_apply(&ctx->moddown[level], sp, conv, ev->t4, n);
    for (int i = 0; i <= level; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *c = conv + (size_t)i * n;
        hg_ntt_forward(p, c);
        hg_sub_mul_scalar(p, acc + (size_t)i * n, c, ctx->p_inv[i], ctx->p_inv_shoup[i],
                          out + (size_t)i * n, n);
    }
}

void hg_ckks_keyswitch(hg_ckks_eval *ev, const hg_ckks_ksk *key, const uint64_t *d, int level,
                       uint64_t *out0, uint64_t *out1) {
    const hg_ckks_ctx *ctx = ev->ctx;
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    const int n_ext = level + 1 + ctx->K;
    uint64_t *y = ev->t0, *acc0 = ev->t1, *acc1 = ev->t2, *up = ev->t3;

    /* The digits, in coefficient form, prepared for basis conversion. */
    memcpy(y, d, (size_t)(level + 1) * n * sizeof(uint64_t));
    int n_digits = 0;
    for (int j = 0; j < ctx->beta && ctx->digit[j].first <= level; j++) {
        const hg_ckks_digit *dg = &ctx->digit[j];
        int end = dg->first + dg->count < level + 1 ? dg->first + dg->count : level + 1;
        for (int i = dg->first; i < end; i++)
            hg_ntt_inverse(&ctx->prime[i], y + (size_t)i * n);
        hg_baseconv_prepare(&ctx->modup[level * ctx->beta + j], y + (size_t)dg->first * n,
                            y + (size_t)dg->first * n, n);
        n_digits++;
    }

    /* One extended limb at a time: every digit raised to this prime (a conversion and an NTT,
     * except on the digit's own primes, where d is already in NTT form) and multiplied by its
     * key, accumulated lazily when the prime is below 2^32. The working set (a limb of each
     * key pair, the converted limb, two accumulators) stays in cache. */
    for (int e = 0; e < n_ext; e++) {
        const int pi = ext_prime(ctx, level, e);
        const hg_prime *p = &ctx->prime[pi];
        const unsigned lazy = hg_lazy_terms(p->mod.q);
        uint64_t *a0 = acc0 + (size_t)e * n, *a1 = acc1 + (size_t)e * n;
        unsigned pending = 0;
        for (int j = 0; j < n_digits; j++) {
            const hg_ckks_digit *dg = &ctx->digit[j];
            int end = dg->first + dg->count < level + 1 ? dg->first + dg->count : level + 1;
            const uint64_t *src;
            if (e >= dg->first && e < end) {
                src = d + (size_t)e * n;
            } else {
                /* index of prime e among the conversion's outputs: the data primes outside
                 * the digit, then the special primes */
                int o = e < dg->first ? e : e - (end - dg->first);
                hg_baseconv_one(&ctx->modup[level * ctx->beta + j], y + (size_t)dg->first * n,
                                o, up, n);
                hg_ntt_forward(p, up);
                src = up;
            }
            const uint64_t *kb = key->b + ((size_t)j * all + (size_t)pi) * n;
            const uint64_t *ka = key->a + ((size_t)j * all + (size_t)pi) * n;
            if (lazy) {
                if (pending == 0) {
                    hg_mul32(p->k->simd, src, kb, a0, n);
                    hg_mul32(p->k->simd, src, ka, a1, n);
                } else {
                    hg_mul_acc32(p->k->simd, src, kb, a0, n);
                    hg_mul_acc32(p->k->simd, src, ka, a1, n);
                }
                if (++pending == lazy && j + 1 < n_digits) {
                    /* fold the sum back below q before more terms are added */
                    p->k->reduce(p, a0, a0, n);
                    p->k->reduce(p, a1, a1, n);
                    pending = 1;
                }
            } else if (j == 0) {
                p->k->mul(p, src, kb, a0, n);
                p->k->mul(p, src, ka, a1, n);
            } else {
                p->k->mul_add(p, src, kb, a0, n);
                p->k->mul_add(p, src, ka, a1, n);
            }
        }
        if (lazy) {
            p->k->reduce(p, a0, a0, n);
            p->k->reduce(p, a1, a1, n);
        }
    }
    hg_ckks_moddown(ev, acc0, level, out0);
    hg_ckks_moddown(ev, acc1, level, out1);
}
