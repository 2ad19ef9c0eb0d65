/* The context: primes with their NTT tables, the level chain's constants (rescaling, key
 * switching), the encoder's tables, and the parameters' fingerprint. */
#include "ckks.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Serialized parameters (serialize.c), hashed into the fingerprint that keys and ciphertexts
 * carry. */
hg_status hg_ckks_params_fingerprint(const hg_ckks_params *p, uint8_t out[16]);

static hg_status build_keyswitch(hg_ckks_ctx *ctx) {
    const int L = ctx->L, K = ctx->K;
    if (K == 0) {
        /* No key switching: public-key encryption works modulo Q_l alone (P = 1). */
        ctx->beta = 0;
        for (int i = 0; i < L; i++) {
            ctx->p_mod[i] = 1;
            ctx->p_inv[i] = 1;
            ctx->p_inv_shoup[i] = hg_shoup(1, ctx->prime[i].mod.q);
        }
        return HG_OK;
    }
    ctx->beta = (L + K - 1) / K;
    for (int j = 0; j < ctx->beta; j++) {
        ctx->digit[j].first = j * K;
        ctx->digit[j].count = L - j * K < K ? L - j * K : K;
    }
    ctx->modup = hg_alloc_array((size_t)L * (size_t)ctx->beta, sizeof(hg_baseconv));
    ctx->moddown = hg_alloc_array((size_t)L, sizeof(hg_baseconv));
    if (!ctx->modup || !ctx->moddown)
        return HG_ERR_NOMEM;
    const hg_prime *in[HG_CKKS_MAX_PRIMES], *out[HG_CKKS_MAX_PRIMES];
    for (int l = 0; l < L; l++) {
        for (int j = 0; j < ctx->beta; j++) {
            const hg_ckks_digit *d = &ctx->digit[j];
            if (d->first > l)
                continue;
            int n_in = 0, n_out = 0;
            for (int i = 0; i <= l; i++) {
                if (i >= d->first && i < d->first + d->count)
                    in[n_in++] = &ctx->prime[i];
                else
                    out[n_out++] = &ctx->prime[i];
            }
            for (int k = 0; k < K; k++)
                out[n_out++] = &ctx->prime[L + k];
            HG_TRY(hg_baseconv_init(&ctx->modup[l * ctx->beta + j], in, n_in, out, n_out));
        }
        for (int k = 0; k < K; k++)
            in[k] = &ctx->prime[L + k];
        for (int i = 0; i <= l; i++)
            out[i] = &ctx->prime[i];
        HG_TRY(hg_baseconv_init(&ctx->moddown[l], in, K, out, l + 1));
    }
    /* P = p_0 ... p_{K-1} modulo every data prime, and its inverse. */
    for (int i = 0; i < L; i++) {
        const hg_modulus *m = &ctx->prime[i].mod;
        uint64_t pm = 1;
        for (int k = 0; k < K; k++)
            pm = hg_mul_mod(pm, hg_reduce_u64(ctx->prime[L + k].mod.q, m), m);
        ctx->p_mod[i] = pm;
        ctx->p_inv[i] = hg_inv_mod(pm, m);
        ctx->p_inv_shoup[i] = hg_shoup(ctx->p_inv[i], m->q);
    }
    return HG_OK;
}

static hg_status build_rescale(hg_ckks_ctx *ctx) {
    const size_t L = (size_t)ctx->L;
    ctx->rescale_inv = hg_alloc_array(2 * L * L, sizeof(uint64_t));
    if (!ctx->rescale_inv)
        return HG_ERR_NOMEM;
    ctx->rescale_inv_shoup = ctx->rescale_inv + L * L;
    for (size_t l = 1; l < L; l++)
        for (size_t i = 0; i < l; i++) {
            const hg_modulus *m = &ctx->prime[i].mod;
            uint64_t inv = hg_inv_mod(hg_reduce_u64(ctx->prime[l].mod.q, m), m);
            ctx->rescale_inv[l * L + i] = inv;
            ctx->rescale_inv_shoup[l * L + i] = hg_shoup(inv, m->q);
        }
    return HG_OK;
}

static hg_status build_encoder(hg_ckks_ctx *ctx) {
    const size_t slots = ctx->n / 2;
    ctx->slots = slots;
    ctx->fft_tw = hg_alloc_array(2 * slots, sizeof(double));
    if (!ctx->fft_tw)
        return HG_ERR_NOMEM;
    for (size_t len = 2; len <= slots; len <<= 1) {
        const size_t half = len >> 1, lenq = len << 2;
        uint64_t g = 1;
        for (size_t j = 0; j < half; j++) {
            double a = 2.0 * M_PI * (double)g / (double)lenq;
            ctx->fft_tw[2 * (half - 1 + j)] = cos(a);
            ctx->fft_tw[2 * (half - 1 + j) + 1] = sin(a);
            g = g * 5 % lenq;
        }
    }
    return HG_OK;
}

hg_status hg_ckks_ctx_new(const hg_ckks_params *p, hg_ckks_ctx **out) {
    *out = NULL;
    HG_TRY(hg_crypto_init());
    hg_ckks_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    ctx->params = *p;
    ctx->n = p->n;
    ctx->log_n = p->log_n;
    ctx->L = p->n_data;
    ctx->K = p->n_special;
    hg_status s = HG_OK;
    for (int i = 0; i < p->n_primes && s == HG_OK; i++) {
        s = hg_prime_init(&ctx->prime[i], p->primes[i], p->n);
        ctx->prime_ptr[i] = &ctx->prime[i];
    }
    if (s == HG_OK)
        s = build_rescale(ctx);
    if (s == HG_OK)
        s = build_keyswitch(ctx);
    if (s == HG_OK)
        s = build_encoder(ctx);
    if (s == HG_OK)
        s = hg_ckks_params_fingerprint(p, ctx->fingerprint);
    if (s != HG_OK) {
        hg_ckks_ctx_free(ctx);
        return s;
    }
    *out = ctx;
    return HG_OK;
}

void hg_ckks_ctx_free(hg_ckks_ctx *ctx) {
    if (!ctx)
        return;
    if (ctx->modup)
        for (int i = 0; i < ctx->L * ctx->beta; i++)
            hg_baseconv_clear(&ctx->modup[i]);
    if (ctx->moddown)
        for (int i = 0; i < ctx->L; i++)
            hg_baseconv_clear(&ctx->moddown[i]);
    hg_free(ctx->modup);
    hg_free(ctx->moddown);
    hg_free(ctx->rescale_inv);
    hg_free(ctx->fft_tw);
    for (int i = 0; i < ctx->params.n_primes; i++)
        hg_prime_clear(&ctx->prime[i]);
    free(ctx);
}

const hg_ckks_params *hg_ckks_ctx_params(const hg_ckks_ctx *ctx) {
    return &ctx->params;
}

int hg_ckks_ctx_max_level(const hg_ckks_ctx *ctx) {
    return ctx->L - 1;
}

const char *hg_ckks_ctx_simd(const hg_ckks_ctx *ctx) {
    return hg_simd_name(ctx->prime[0].k->simd);
}

void hg_ckks_expand_uniform(const hg_ckks_ctx *ctx, const uint8_t seed[HG_SEED_BYTES],
                            uint32_t domain, uint64_t index_base, int first, int count,
                            uint64_t *out) {
    hg_prng rng;
    for (int i = 0; i < count; i++) {
        hg_prng_init(&rng, seed, domain, index_base + (uint64_t)(first + i));
        hg_sample_uniform(&rng, &ctx->prime[first + i].mod, out + (size_t)i * ctx->n, ctx->n);
    }
    hg_prng_clear(&rng);
}

hg_status hg_ckks_check_scale(const char *fn, double a, double b) {
    if (fabs(a - b) > HG_CKKS_SCALE_TOL * fmax(fabs(a), fabs(b)))
        return hg_fail(HG_ERR_SCALE, "%s: scale mismatch (2^%.6f vs 2^%.6f)", fn, log2(a),
                       log2(b));
    return HG_OK;
}
