/*
 * Key generation: the secret key (uniform ternary), the public key, and key-switching keys
 * (relinearization and Galois) for hybrid key switching with the special primes
 * (Han and Ki, "Better bootstrapping for approximate homomorphic encryption", 2020, section 3).
 */
#include "ckks.h"

#include <stdlib.h>
#include <string.h>

void hg_ckks_sample_error_ntt(const hg_ckks_ctx *ctx, hg_prng *rng, int n_lo, int n_sp,
                              uint64_t *out) {
    const size_t n = ctx->n;
    int8_t e[1 << 16];
    hg_sample_gaussian(rng, e, n);
    for (int k = 0; k < n_lo + n_sp; k++) {
        const hg_prime *p = &ctx->prime[k < n_lo ? k : ctx->L + (k - n_lo)];
        hg_small_to_mod(e, &p->mod, out + (size_t)k * n, n);
        hg_ntt_forward(p, out + (size_t)k * n);
    }
    hg_wipe(e, n);
}

void hg_ckks_sample_ternary_ntt(const hg_ckks_ctx *ctx, hg_prng *rng, int n_lo, int n_sp,
                                uint64_t *out) {
    const size_t n = ctx->n;
    int8_t u[1 << 16];
    hg_sample_ternary(rng, u, n);
    for (int k = 0; k < n_lo + n_sp; k++) {
        const hg_prime *p = &ctx->prime[k < n_lo ? k : ctx->L + (k - n_lo)];
        hg_small_to_mod(u, &p->mod, out + (size_t)k * n, n);
        hg_ntt_forward(p, out + (size_t)k * n);
    }
    hg_wipe(u, n);
}

void hg_ckks_sk_free(hg_ckks_sk *sk) {
    if (!sk)
        return;
    const hg_ckks_ctx *ctx = sk->ctx;
    size_t all = (size_t)(ctx->L + ctx->K) * ctx->n;
    hg_free_secret(sk->coeffs, ctx->n);
    hg_free_secret(sk->s, all * sizeof(uint64_t));
    hg_free_secret(sk->s2, (size_t)ctx->L * ctx->n * sizeof(uint64_t));
    hg_wipe(sk, sizeof *sk);
    free(sk);
}

/* Fills s and s2 from coeffs. */
hg_status hg_ckks_sk_expand(hg_ckks_sk *sk);
hg_status hg_ckks_sk_expand(hg_ckks_sk *sk) {
    const hg_ckks_ctx *ctx = sk->ctx;
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    sk->s = hg_alloc_array(all * n, sizeof(uint64_t));
    sk->s2 = hg_alloc_array((size_t)ctx->L * n, sizeof(uint64_t));
    if (!sk->s || !sk->s2)
        return HG_ERR_NOMEM;
    for (size_t i = 0; i < all; i++) {
        hg_small_to_mod(sk->coeffs, &ctx->prime[i].mod, sk->s + i * n, n);
        hg_ntt_forward(&ctx->prime[i], sk->s + i * n);
        if (i < (size_t)ctx->L)
            ctx->prime[i].k->mul(&ctx->prime[i], sk->s + i * n, sk->s + i * n, sk->s2 + i * n,
                                 n);
    }
    return HG_OK;
}

hg_status hg_ckks_sk_new(const hg_ckks_ctx *ctx, hg_ckks_sk **out) {
    *out = NULL;
    hg_ckks_sk *sk = calloc(1, sizeof *sk);
    if (!sk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    sk->ctx = ctx;
    sk->coeffs = hg_alloc_array(ctx->n, 1);
    if (!sk->coeffs) {
        hg_ckks_sk_free(sk);
        return HG_ERR_NOMEM;
    }
    hg_prng rng;
    hg_prng_init_random(&rng);
    hg_sample_ternary(&rng, sk->coeffs, ctx->n);
    hg_prng_clear(&rng);
    hg_status s = hg_ckks_sk_expand(sk);
    if (s != HG_OK) {
        hg_ckks_sk_free(sk);
        return s;
    }
    *out = sk;
    return HG_OK;
}

/* b = -a s + e on `count` limbs of the context's primes given by idx (a and b are laid out in
 * that order). */
static void rlwe_sample(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const uint64_t *a,
                        uint64_t *b, hg_prng *rng) {
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    hg_ckks_sample_error_ntt(ctx, rng, ctx->L, ctx->K, b);
    for (size_t i = 0; i < all; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *bi = b + i * n;
        /* b = e - a s: negate e, accumulate a s, negate back. */
        p->k->neg(p, bi, bi, n);
        p->k->mul_add(p, a + i * n, sk->s + i * n, bi, n);
        p->k->neg(p, bi, bi, n);
    }
}

hg_status hg_ckks_pk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, hg_ckks_pk **out) {
    *out = NULL;
    if (sk->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: secret key of another context", __func__);
    const size_t words = (size_t)(ctx->L + ctx->K) * ctx->n;
    hg_ckks_pk *pk = calloc(1, sizeof *pk);
    if (!pk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    pk->ctx = ctx;
    pk->b = hg_alloc_array(words, sizeof(uint64_t));
    pk->a = hg_alloc_array(words, sizeof(uint64_t));
    if (!pk->a || !pk->b) {
        hg_ckks_pk_free(pk);
        return HG_ERR_NOMEM;
    }
    hg_random_bytes(pk->seed, HG_SEED_BYTES);
    hg_ckks_expand_uniform(ctx, pk->seed, HG_DOMAIN_PK, 0, 0, ctx->L + ctx->K, pk->a);
    hg_prng rng;
    hg_prng_init_random(&rng);
    rlwe_sample(ctx, sk, pk->a, pk->b, &rng);
    hg_prng_clear(&rng);
    *out = pk;
    return HG_OK;
}

void hg_ckks_pk_free(hg_ckks_pk *pk) {
    if (!pk)
        return;
    hg_free(pk->a);
    hg_free(pk->b);
    free(pk);
}

/* Key-switching keys live modulo Q P: parameters without a special prime have none. Checked
 * where the keys are made (rlk_new, gk_new_elts), the only callers of ksk_gen. */
static hg_status need_special(const hg_ckks_ctx *ctx, const char *what) {
    if (ctx->K == 0)
        return hg_fail(HG_ERR_PARAMS,
                       "the parameters have no special prime, so they support no key switching "
                       "(%s); add a special prime to the chain",
                       what);
    return HG_OK;
}

hg_status hg_ckks_ksk_gen(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const uint64_t *s_prime,
                          hg_ckks_ksk *key) {
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    const size_t words = (size_t)ctx->beta * all * n;
    memset(key, 0, sizeof *key);
    key->a = hg_alloc_array(words, sizeof(uint64_t));
    key->b = hg_alloc_array(words, sizeof(uint64_t));
    if (!key->a || !key->b) {
        hg_ckks_ksk_clear(ctx, key);
        return HG_ERR_NOMEM;
    }
    hg_random_bytes(key->seed, HG_SEED_BYTES);
    hg_prng rng;
    hg_prng_init_random(&rng);
    for (int j = 0; j < ctx->beta; j++) {
        uint64_t *a = key->a + (size_t)j * all * n, *b = key->b + (size_t)j * all * n;
        hg_ckks_expand_uniform(ctx, key->seed, HG_DOMAIN_KSK, (uint64_t)j * 256, 0, (int)all, a);
        rlwe_sample(ctx, sk, a, b, &rng);
        /* The gadget: P * s' on the primes of digit j (Q-hat_j * [Q-hat_j^-1]_{Q_j} is 1 modulo
         * those primes and 0 modulo the other data primes; P is 0 modulo the special ones). */
        const hg_ckks_digit *d = &ctx->digit[j];
        for (int i = d->first; i < d->first + d->count; i++) {
            const hg_prime *p = &ctx->prime[i];
            uint64_t *t = hg_alloc_array(n, sizeof(uint64_t));
            if (!t) {
                hg_prng_clear(&rng);
                hg_ckks_ksk_clear(ctx, key);
                return HG_ERR_NOMEM;
            }
            p->k->mul_scalar(p, s_prime + (size_t)i * n, ctx->p_mod[i],
                             hg_shoup(ctx->p_mod[i], p->mod.q), t, n);
            p->k->add(p, b + (size_t)i * n, t, b + (size_t)i * n, n);
            hg_free_secret(t, n * sizeof(uint64_t));
        }
    }
    hg_prng_clear(&rng);
    return HG_OK;
}

void hg_ckks_ksk_clear(const hg_ckks_ctx *ctx, hg_ckks_ksk *key) {
    (void)ctx;
    hg_free(key->a);
    hg_free(key->b);
    memset(key, 0, sizeof *key);
}

hg_status hg_ckks_rlk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, hg_ckks_rlk **out) {
    *out = NULL;
    HG_TRY(need_special(ctx, "relinearization key"));
    if (sk->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: secret key of another context", __func__);
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    hg_ckks_rlk *rlk = calloc(1, sizeof *rlk);
    uint64_t *s2 = hg_alloc_array(all * n, sizeof(uint64_t));
    if (!rlk || !s2) {
        free(rlk);
        hg_free(s2);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    rlk->ctx = ctx;
    for (size_t i = 0; i < all; i++)
        ctx->prime[i].k->mul(&ctx->prime[i], sk->s + i * n, sk->s + i * n, s2 + i * n, n);
    hg_status s = hg_ckks_ksk_gen(ctx, sk, s2, &rlk->key);
    hg_free_secret(s2, all * n * sizeof(uint64_t));
    if (s != HG_OK) {
        free(rlk);
        return s;
    }
    *out = rlk;
    return HG_OK;
}

void hg_ckks_rlk_free(hg_ckks_rlk *rlk) {
    if (!rlk)
        return;
    hg_ckks_ksk_clear(rlk->ctx, &rlk->key);
    free(rlk);
}

void hg_ckks_galois_perm(const hg_ckks_ctx *ctx, uint64_t g, uint32_t *perm) {
    const size_t n = ctx->n;
    const uint64_t mask = 2 * (uint64_t)n - 1;
    for (size_t i = 0; i < n; i++) {
        /* Point i of the NTT is psi^(2 brv(i) + 1); the automorphism sends it to the point
         * psi^((2 brv(i) + 1) g), which is point brv(((2 brv(i) + 1) g mod 2N - 1) / 2). */
        uint64_t e = 2 * (uint64_t)hg_bitrev((uint32_t)i, ctx->log_n) + 1;
        uint64_t e2 = (e * g) & mask;
        perm[i] = hg_bitrev((uint32_t)((e2 - 1) >> 1), ctx->log_n);
    }
}

/* Galois element of a left rotation by steps (mod N/2). */
uint64_t hg_ckks_galois_elt(const hg_ckks_ctx *ctx, int steps);
uint64_t hg_ckks_galois_elt(const hg_ckks_ctx *ctx, int steps) {
    const uint64_t slots = ctx->slots, m = 2 * (uint64_t)ctx->n;
    int64_t r = steps % (int64_t)slots;
    if (r < 0)
        r += (int64_t)slots;
    uint64_t g = 1;
    for (int64_t i = 0; i < r; i++)
        g = g * 5 % m;
    return g;
}

static hg_status galois_key_make(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, uint64_t g,
                                 hg_ckks_galois *key) {
    const size_t n = ctx->n, all = (size_t)(ctx->L + ctx->K);
    memset(key, 0, sizeof *key);
    key->g = g;
    key->perm = hg_alloc_array(n, sizeof(uint32_t));
    uint64_t *sg = hg_alloc_array(all * n, sizeof(uint64_t));
    if (!key->perm || !sg) {
        hg_free(key->perm);
        hg_free(sg);
        key->perm = NULL;
        return HG_ERR_NOMEM;
    }
    hg_ckks_galois_perm(ctx, g, key->perm);
    for (size_t i = 0; i < all; i++)
        for (size_t k = 0; k < n; k++)
            sg[i * n + k] = sk->s[i * n + key->perm[k]];
    hg_status s = hg_ckks_ksk_gen(ctx, sk, sg, &key->key);
    hg_free_secret(sg, all * n * sizeof(uint64_t));
    if (s != HG_OK) {
        hg_free(key->perm);
        key->perm = NULL;
    }
    return s;
}

/* Builds a key set for the Galois elements elts[0..n) (duplicates removed). */
hg_status hg_ckks_gk_new_elts(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const uint64_t *elts,
                              size_t n_elts, hg_ckks_gk **out);
hg_status hg_ckks_gk_new_elts(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const uint64_t *elts,
                              size_t n_elts, hg_ckks_gk **out) {
    *out = NULL;
    HG_TRY(need_special(ctx, "Galois keys"));
    if (sk && sk->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: secret key of another context", __func__);
    hg_ckks_gk *gk = calloc(1, sizeof *gk);
    if (!gk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    gk->ctx = ctx;
    gk->keys = n_elts ? hg_alloc_array(n_elts, sizeof *gk->keys) : NULL;
    if (n_elts && !gk->keys) {
        free(gk);
        return HG_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_elts; i++) {
        bool dup = false;
        for (size_t j = 0; j < gk->n_keys; j++)
            dup |= gk->keys[j].g == elts[i];
        if (dup || elts[i] == 1)
            continue;
        hg_status s = galois_key_make(ctx, sk, elts[i], &gk->keys[gk->n_keys]);
        if (s != HG_OK) {
            hg_ckks_gk_free(gk);
            return s;
        }
        gk->n_keys++;
    }
    *out = gk;
    return HG_OK;
}

hg_status hg_ckks_gk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const int *steps,
                         size_t n_steps, bool conjugate, hg_ckks_gk **out) {
    *out = NULL;
    if (n_steps > 4096)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu rotation keys requested (at most 4096)",
                       __func__, n_steps);
    uint64_t *elts = hg_alloc_array(n_steps + 1, sizeof(uint64_t));
    if (!elts)
        return HG_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n_steps; i++)
        elts[k++] = hg_ckks_galois_elt(ctx, steps[i]);
    if (conjugate)
        elts[k++] = 2 * (uint64_t)ctx->n - 1;
    hg_status s = hg_ckks_gk_new_elts(ctx, sk, elts, k, out);
    hg_free(elts);
    return s;
}

hg_status hg_ckks_gk_new_pow2(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, bool conjugate,
                              hg_ckks_gk **out) {
    int steps[64];
    size_t n = 0;
    for (size_t s = 1; s < ctx->slots; s <<= 1) {
        steps[n++] = (int)s;
        steps[n++] = -(int)s;
    }
    return hg_ckks_gk_new(ctx, sk, steps, n, conjugate, out);
}

void hg_ckks_gk_free(hg_ckks_gk *gk) {
    if (!gk)
        return;
    for (size_t i = 0; i < gk->n_keys; i++) {
        hg_free(gk->keys[i].perm);
        hg_ckks_ksk_clear(gk->ctx, &gk->keys[i].key);
    }
    hg_free(gk->keys);
    free(gk);
}
