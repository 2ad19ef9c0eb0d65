/* Encryption (public key, and secret key in seeded form) and decryption. */
#include "ckks.h"

#include <string.h>

void hg_ckks_moddown(hg_ckks_eval *ev, uint64_t *acc, int level, uint64_t *out);

hg_status hg_ckks_encrypt(hg_ckks_eval *ev, const hg_ckks_pk *pk, const hg_ckks_pt *pt,
                          hg_ckks_ct *ct) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (pk->ctx != ctx || pt->ctx != ctx || ct->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: objects of different contexts", __func__);
    const int l = pt->level, K = ctx->K, n_ext = l + 1 + K;
    const size_t n = ctx->n;
    /* (u b + e0, u a + e1) modulo Q_l P, then divided by P: the division shrinks the noise
     * u e + e0 + e1 s to a rounding error. */
    uint64_t *u = ev->t0, *c0 = ev->t1, *c1 = ev->t2;
    hg_prng rng;
    hg_prng_init_random(&rng);
    hg_ckks_sample_ternary_ntt(ctx, &rng, l + 1, K, u);
    hg_ckks_sample_error_ntt(ctx, &rng, l + 1, K, c0);
    hg_ckks_sample_error_ntt(ctx, &rng, l + 1, K, c1);
    hg_prng_clear(&rng);
    for (int e = 0; e < n_ext; e++) {
        int pi = e <= l ? e : ctx->L + (e - l - 1);
        const hg_prime *p = &ctx->prime[pi];
        p->k->mul_add(p, u + (size_t)e * n, pk->b + (size_t)pi * n, c0 + (size_t)e * n, n);
        p->k->mul_add(p, u + (size_t)e * n, pk->a + (size_t)pi * n, c1 + (size_t)e * n, n);
    }
    hg_wipe(u, (size_t)n_ext * n * sizeof(uint64_t));
    HG_TRY(hg_ckks_ct_reserve(ct, 2, l));
    hg_ckks_moddown(ev, c0, l, hg_ct_limb(ct, 0, 0));
    hg_ckks_moddown(ev, c1, l, hg_ct_limb(ct, 1, 0));
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *x = hg_ct_limb(ct, 0, i);
        p->k->add(p, x, pt->data + (size_t)i * n, x, n);
    }
    ct->scale = pt->scale;
    return HG_OK;
}

hg_status hg_ckks_encrypt_sym(hg_ckks_eval *ev, const hg_ckks_sk *sk, const hg_ckks_pt *pt,
                              hg_ckks_ct *ct) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (sk->ctx != ctx || pt->ctx != ctx || ct->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: objects of different contexts", __func__);
    const int l = pt->level;
    const size_t n = ctx->n;
    HG_TRY(hg_ckks_ct_reserve(ct, 2, l));
    uint8_t seed[HG_SEED_BYTES];
    hg_random_bytes(seed, sizeof seed);
    /* c1 = a (uniform, from the seed), c0 = -a s + e + m. */
    hg_ckks_expand_uniform(ctx, seed, HG_DOMAIN_SYM, 0, 0, l + 1, hg_ct_limb(ct, 1, 0));
    hg_prng rng;
    hg_prng_init_random(&rng);
    hg_ckks_sample_error_ntt(ctx, &rng, l + 1, 0, hg_ct_limb(ct, 0, 0));
    hg_prng_clear(&rng);
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *c0 = hg_ct_limb(ct, 0, i);
        p->k->add(p, c0, pt->data + (size_t)i * n, c0, n);
        p->k->neg(p, c0, c0, n);
        p->k->mul_add(p, hg_ct_limb(ct, 1, i), sk->s + (size_t)i * n, c0, n);
        p->k->neg(p, c0, c0, n);
    }
    ct->scale = pt->scale;
    ct->seeded = true;
    memcpy(ct->seed, seed, sizeof seed);
    return HG_OK;
}

hg_status hg_ckks_decrypt(hg_ckks_eval *ev, const hg_ckks_sk *sk, const hg_ckks_ct *ct,
                          hg_ckks_pt *pt) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (sk->ctx != ctx || pt->ctx != ctx || ct->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: objects of different contexts", __func__);
    if (ct->size != 2 && ct->size != 3)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertext of %d components", __func__,
                       ct->size);
    const int l = ct->level;
    const size_t n = ctx->n;
    HG_TRY(hg_ckks_pt_reserve(pt, l));
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *m = pt->data + (size_t)i * n;
        memcpy(m, hg_ct_limb(ct, 0, i), n * sizeof(uint64_t));
        p->k->mul_add(p, hg_ct_limb(ct, 1, i), sk->s + (size_t)i * n, m, n);
        if (ct->size == 3)
            p->k->mul_add(p, hg_ct_limb(ct, 2, i), sk->s2 + (size_t)i * n, m, n);
    }
    pt->scale = ct->scale;
    return HG_OK;
}
