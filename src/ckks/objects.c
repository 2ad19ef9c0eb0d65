/* Plaintexts, ciphertexts and evaluators: allocation and accessors. */
#include "ckks.h"

#include <stdlib.h>
#include <string.h>

hg_status hg_ckks_pt_new(const hg_ckks_ctx *ctx, hg_ckks_pt **out) {
    *out = calloc(1, sizeof **out);
    if (!*out)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    (*out)->ctx = ctx;
    (*out)->scale = 1.0;
    return HG_OK;
}

void hg_ckks_pt_free(hg_ckks_pt *pt) {
    if (!pt)
        return;
    hg_free_secret(pt->data, pt->cap * sizeof(uint64_t));
    free(pt);
}

int hg_ckks_pt_level(const hg_ckks_pt *pt) {
    return pt->level;
}
double hg_ckks_pt_scale(const hg_ckks_pt *pt) {
    return pt->scale;
}

hg_status hg_ckks_pt_reserve(hg_ckks_pt *pt, int level) {
    size_t need = (size_t)(level + 1) * pt->ctx->n;
    if (need > pt->cap) {
        uint64_t *d = hg_alloc_array(need, sizeof(uint64_t));
        if (!d)
            return HG_ERR_NOMEM;
        hg_free_secret(pt->data, pt->cap * sizeof(uint64_t));
        pt->data = d;
        pt->cap = need;
    }
    pt->level = level;
    return HG_OK;
}

hg_status hg_ckks_ct_new(const hg_ckks_ctx *ctx, hg_ckks_ct **out) {
    *out = calloc(1, sizeof **out);
    if (!*out)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    (*out)->ctx = ctx;
    (*out)->size = 2;
    (*out)->scale = 1.0;
    return HG_OK;
}

void hg_ckks_ct_free(hg_ckks_ct *ct) {
    if (!ct)
        return;
    hg_free(ct->data);
    free(ct);
}

int hg_ckks_ct_level(const hg_ckks_ct *ct) {
    return ct->level;
}
double hg_ckks_ct_scale(const hg_ckks_ct *ct) {
    return ct->scale;
}
int hg_ckks_ct_size(const hg_ckks_ct *ct) {
    return ct->size;
}
void hg_ckks_ct_set_scale(hg_ckks_ct *ct, double scale) {
    ct->scale = scale;
}

hg_status hg_ckks_ct_reserve(hg_ckks_ct *ct, int size, int level) {
    size_t need = (size_t)size * (size_t)(level + 1) * ct->ctx->n;
    if (need > ct->cap) {
        uint64_t *d = hg_alloc_array(need, sizeof(uint64_t));
        if (!d)
            return HG_ERR_NOMEM;
        hg_free(ct->data);
        ct->data = d;
        ct->cap = need;
    }
    ct->size = size;
    ct->level = level;
    ct->seeded = false;
    return HG_OK;
}

hg_status hg_ckks_ct_copy(const hg_ckks_ct *src, hg_ckks_ct *dst) {
    if (src == dst)
        return HG_OK;
    if (src->ctx != dst->ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertexts of different contexts", __func__);
    HG_TRY(hg_ckks_ct_reserve(dst, src->size, src->level));
    memcpy(dst->data, src->data,
           (size_t)src->size * (size_t)(src->level + 1) * src->ctx->n * sizeof(uint64_t));
    dst->scale = src->scale;
    dst->seeded = src->seeded;
    memcpy(dst->seed, src->seed, HG_SEED_BYTES);
    return HG_OK;
}

hg_status hg_ckks_eval_new(const hg_ckks_ctx *ctx, hg_ckks_eval **out) {
    *out = NULL;
    hg_ckks_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    ev->ctx = ctx;
    size_t limbs = (size_t)(ctx->L + ctx->K), n = ctx->n;
    uint64_t **bufs[] = {&ev->t0, &ev->t1, &ev->t2, &ev->t3, &ev->t4, &ev->t5};
    bool ok = true;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ok &= (*bufs[i] = hg_alloc_array(limbs * n, sizeof(uint64_t))) != NULL;
    ev->big = hg_alloc_array(4 * (size_t)ctx->L * n, sizeof(uint64_t));
    ev->fft = hg_alloc_array(n / 2, sizeof(double complex));
    ev->coef = hg_alloc_array(n, sizeof(double));
    if (!ok || !ev->big || !ev->fft || !ev->coef) {
        hg_ckks_eval_free(ev);
        return HG_ERR_NOMEM;
    }
    *out = ev;
    return HG_OK;
}

void hg_ckks_eval_free(hg_ckks_eval *ev) {
    if (!ev)
        return;
    /* Scratch may have held decrypted values or secret-dependent intermediates. */
    size_t words = (size_t)(ev->ctx->L + ev->ctx->K) * ev->ctx->n;
    hg_free_secret(ev->t0, words * 8);
    hg_free_secret(ev->t1, words * 8);
    hg_free_secret(ev->t2, words * 8);
    hg_free_secret(ev->t3, words * 8);
    hg_free_secret(ev->t4, words * 8);
    hg_free_secret(ev->t5, words * 8);
    hg_free_secret(ev->big, 4 * (size_t)ev->ctx->L * ev->ctx->n * 8);
    hg_free_secret(ev->fft, ev->ctx->n / 2 * sizeof(double complex));
    hg_free_secret(ev->coef, ev->ctx->n * sizeof(double));
    free(ev);
}
