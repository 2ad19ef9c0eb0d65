/* The evaluator: arithmetic on ciphertexts, rescaling, level management, rotations. */
#include "ckks.h"

#include "ring/lazy.h"

#include <math.h>
#include <string.h>

uint64_t hg_ckks_galois_elt(const hg_ckks_ctx *ctx, int steps);

#define LIMB_BYTES(ctx) ((ctx)->n * sizeof(uint64_t))

static hg_status same_ctx(const char *fn, const hg_ckks_ctx *ctx, const hg_ckks_ctx *a,
                          const hg_ckks_ctx *b) {
    if (a != ctx || (b && b != ctx))
        return hg_fail(HG_ERR_INVALID_ARG, "%s: objects of different contexts", fn);
    return HG_OK;
}

static hg_status same_level(const char *fn, int a, int b) {
    if (a != b)
        return hg_fail(HG_ERR_LEVEL, "%s: level mismatch (%d vs %d)", fn, a, b);
    return HG_OK;
}

/* Resizes ct to `size` components at its level, keeping the components it has (the layout is
 * component-major, so growing appends). */
static hg_status resize_keep(hg_ckks_ct *ct, int size) {
    const size_t limb = (size_t)(ct->level + 1) * ct->ctx->n;
    size_t need = (size_t)size * limb;
    if (need > ct->cap) {
        uint64_t *d = hg_alloc_array(need, sizeof(uint64_t));
        if (!d)
            return HG_ERR_NOMEM;
        memcpy(d, ct->data, (size_t)ct->size * limb * sizeof(uint64_t));
        hg_free(ct->data);
        ct->data = d;
        ct->cap = need;
    }
    ct->size = size;
    ct->seeded = false;
    return HG_OK;
}

static hg_status add_sub(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                         hg_ckks_ct *out, bool subtract, const char *fn) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(fn, ctx, a->ctx, b->ctx));
    HG_TRY(same_level(fn, a->level, b->level));
    HG_TRY(hg_ckks_check_scale(fn, a->scale, b->scale));
    const int l = a->level, sa = a->size, sb = b->size, size = sa > sb ? sa : sb;
    const double scale = a->scale;
    if (out == a || out == b)
        HG_TRY(resize_keep(out, size));
    else
        HG_TRY(hg_ckks_ct_reserve(out, size, l));
    const size_t n = ctx->n;
    for (int c = 0; c < size; c++)
        for (int i = 0; i <= l; i++) {
            const hg_prime *p = &ctx->prime[i];
            const uint64_t *x = c < sa ? hg_ct_limb(a, c, i) : NULL;
            const uint64_t *y = c < sb ? hg_ct_limb(b, c, i) : NULL;
            uint64_t *o = hg_ct_limb(out, c, i);
            if (x && y) {
                if (subtract)
                    p->k->sub(p, x, y, o, n);
                else
                    p->k->add(p, x, y, o, n);
            } else if (x) {
                if (o != x)
                    memcpy(o, x, LIMB_BYTES(ctx));
            } else if (subtract) {
                p->k->neg(p, y, o, n);
            } else if (o != y) {
                memcpy(o, y, LIMB_BYTES(ctx));
            }
        }
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_add(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                      hg_ckks_ct *out) {
    return add_sub(ev, a, b, out, false, __func__);
}

hg_status hg_ckks_sub(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                      hg_ckks_ct *out) {
    return add_sub(ev, a, b, out, true, __func__);
}

/* out gets a's shape; its data is kept when out is a. */
static hg_status like(hg_ckks_ct *out, const hg_ckks_ct *a) {
    if (out == a) {
        out->seeded = false;
        return HG_OK;
    }
    double scale = a->scale;
    HG_TRY(hg_ckks_ct_reserve(out, a->size, a->level));
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_neg(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    HG_TRY(like(out, a));
    for (int c = 0; c < a->size; c++)
        for (int i = 0; i <= a->level; i++)
            ctx->prime[i].k->neg(&ctx->prime[i], hg_ct_limb(a, c, i), hg_ct_limb(out, c, i),
                                 ctx->n);
    return HG_OK;
}

/* Copies the components of a other than c0 into out (no-op when out is a). */
static void copy_rest(const hg_ckks_ct *a, hg_ckks_ct *out) {
    if (out == a)
        return;
    const size_t limbs = (size_t)(a->size - 1) * (size_t)(a->level + 1);
    memcpy(hg_ct_limb(out, 1, 0), hg_ct_limb(a, 1, 0), limbs * LIMB_BYTES(a->ctx));
}

static hg_status plain_add_sub(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *pt,
                               hg_ckks_ct *out, bool subtract, const char *fn) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(fn, ctx, a->ctx, pt->ctx));
    HG_TRY(same_level(fn, a->level, pt->level));
    HG_TRY(hg_ckks_check_scale(fn, a->scale, pt->scale));
    HG_TRY(like(out, a));
    copy_rest(a, out);
    for (int i = 0; i <= a->level; i++) {
        const hg_prime *p = &ctx->prime[i];
        const uint64_t *m = pt->data + (size_t)i * ctx->n;
        if (subtract)
            p->k->sub(p, hg_ct_limb(a, 0, i), m, hg_ct_limb(out, 0, i), ctx->n);
        else
            p->k->add(p, hg_ct_limb(a, 0, i), m, hg_ct_limb(out, 0, i), ctx->n);
    }
    return HG_OK;
}

hg_status hg_ckks_add_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *p,
                            hg_ckks_ct *out) {
    return plain_add_sub(ev, a, p, out, false, __func__);
}

hg_status hg_ckks_sub_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *p,
                            hg_ckks_ct *out) {
    return plain_add_sub(ev, a, p, out, true, __func__);
}

hg_status hg_ckks_mul_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *pt,
                            hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, pt->ctx));
    HG_TRY(same_level(__func__, a->level, pt->level));
    double scale = a->scale * pt->scale;
    HG_TRY(like(out, a));
    for (int c = 0; c < a->size; c++)
        for (int i = 0; i <= a->level; i++) {
            const hg_prime *p = &ctx->prime[i];
            p->k->mul(p, hg_ct_limb(a, c, i), pt->data + (size_t)i * ctx->n,
                      hg_ct_limb(out, c, i), ctx->n);
        }
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_add_scalar_enc(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_scalar *s,
                                 hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    HG_TRY(same_level(__func__, a->level, s->level));
    HG_TRY(hg_ckks_check_scale(__func__, a->scale, s->scale));
    HG_TRY(like(out, a));
    copy_rest(a, out);
    /* A constant polynomial is the same value at every NTT point: c0 += r_i, limb by limb. */
    for (int i = 0; i <= a->level; i++)
        ctx->prime[i].k->add_scalar(&ctx->prime[i], hg_ct_limb(a, 0, i), s->r[i],
                                    hg_ct_limb(out, 0, i), ctx->n);
    return HG_OK;
}

hg_status hg_ckks_mul_scalar_enc(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_scalar *s,
                                 hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    HG_TRY(same_level(__func__, a->level, s->level));
    double scale = a->scale * s->scale;
    HG_TRY(like(out, a));
    for (int i = 0; i <= a->level; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t ws = hg_shoup(s->r[i], p->mod.q);
        for (int c = 0; c < a->size; c++)
            p->k->mul_scalar(p, hg_ct_limb(a, c, i), s->r[i], ws, hg_ct_limb(out, c, i), ctx->n);
    }
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_add_scalar(hg_ckks_eval *ev, const hg_ckks_ct *a, double value,
                             hg_ckks_ct *out) {
    hg_ckks_scalar s;
    HG_TRY(hg_ckks_scalar_encode(ev->ctx, value, a->level, a->scale, &s));
    return hg_ckks_add_scalar_enc(ev, a, &s, out);
}

hg_status hg_ckks_mul_scalar(hg_ckks_eval *ev, const hg_ckks_ct *a, double value, double scale,
                             hg_ckks_ct *out) {
    hg_ckks_scalar s;
    HG_TRY(hg_ckks_scalar_encode(ev->ctx, value, a->level, scale, &s));
    return hg_ckks_mul_scalar_enc(ev, a, &s, out);
}

/* Tensor product into dst (3 limb blocks of l + 1 limbs). */
static void tensor(const hg_ckks_ctx *ctx, const hg_ckks_ct *a, const hg_ckks_ct *b,
                   uint64_t *dst) {
    const int l = a->level;
    const size_t n = ctx->n, blk = (size_t)(l + 1) * n;
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        const uint64_t *a0 = hg_ct_limb(a, 0, i), *a1 = hg_ct_limb(a, 1, i);
        const uint64_t *b0 = hg_ct_limb(b, 0, i), *b1 = hg_ct_limb(b, 1, i);
        uint64_t *d0 = dst + (size_t)i * n, *d1 = d0 + blk, *d2 = d1 + blk;
        if (p->k->tensor) {
            p->k->tensor(p, a0, a1, b0, b1, d0, d1, d2, n);
            continue;
        }
        p->k->mul(p, a0, b0, d0, n);
        if (a == b) {
            p->k->mul(p, a0, a1, d1, n);
            p->k->add(p, d1, d1, d1, n);
        } else {
            p->k->mul(p, a0, b1, d1, n);
            p->k->mul_add(p, a1, b0, d1, n);
        }
        p->k->mul(p, a1, b1, d2, n);
    }
}

hg_status hg_ckks_mul(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                      hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, b->ctx));
    HG_TRY(same_level(__func__, a->level, b->level));
    if (a->size != 2 || b->size != 2)
        return hg_fail(HG_ERR_INVALID_ARG,
                       "%s: operands of %d and %d components (relinearize first)", __func__,
                       a->size, b->size);
    const int l = a->level;
    const double scale = a->scale * b->scale;
    if (out == a || out == b) {
        tensor(ctx, a, b, ev->big);
        HG_TRY(hg_ckks_ct_reserve(out, 3, l));
        memcpy(out->data, ev->big, 3 * (size_t)(l + 1) * LIMB_BYTES(ctx));
    } else {
        HG_TRY(hg_ckks_ct_reserve(out, 3, l));
        tensor(ctx, a, b, out->data);
    }
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_square(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) {
    return hg_ckks_mul(ev, a, a, out);
}

hg_status hg_ckks_relinearize(hg_ckks_eval *ev, const hg_ckks_rlk *rlk, const hg_ckks_ct *a,
                              hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    if (!rlk)
        return hg_fail(HG_ERR_MISSING_KEY, "%s: no relinearization key", __func__);
    HG_TRY(same_ctx(__func__, ctx, a->ctx, rlk->ctx));
    if (a->size == 2)
        return hg_ckks_ct_copy(a, out);
    if (a->size != 3)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertext of %d components", __func__, a->size);
    const int l = a->level;
    const size_t n = ctx->n, blk = (size_t)(l + 1) * n;
    uint64_t *k0 = ev->big, *k1 = ev->big + blk;
    hg_ckks_keyswitch(ev, &rlk->key, hg_ct_limb(a, 2, 0), l, k0, k1);
    if (out == a) {
        out->size = 2;
        out->seeded = false;
    } else {
        double scale = a->scale;
        HG_TRY(hg_ckks_ct_reserve(out, 2, l));
        out->scale = scale;
    }
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        p->k->add(p, hg_ct_limb(a, 0, i), k0 + (size_t)i * n, hg_ct_limb(out, 0, i), n);
        p->k->add(p, hg_ct_limb(a, 1, i), k1 + (size_t)i * n, hg_ct_limb(out, 1, i), n);
    }
    return HG_OK;
}

hg_status hg_ckks_rescale(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    const int l = a->level, size = a->size;
    if (l < 1)
        return hg_fail(HG_ERR_LEVEL, "%s: ciphertext at level 0 has no prime left to divide by",
                       __func__);
    const size_t n = ctx->n, L = (size_t)ctx->L;
    const hg_prime *pl = &ctx->prime[l];
    const uint64_t ql = pl->mod.q, half = ql >> 1;
    /* The last limb of each component, in coefficient form, plus floor(q_l / 2) so that the
     * division rounds: t = [x + q_l/2]_{q_l}, x' = (x - (t - q_l/2)) / q_l. */
    uint64_t *last[3] = {ev->t0, ev->t1, ev->t2};
    for (int c = 0; c < size; c++) {
        memcpy(last[c], hg_ct_limb(a, c, l), n * sizeof(uint64_t));
        hg_ntt_inverse(pl, last[c]);
        pl->k->add_scalar(pl, last[c], half, last[c], n);
    }
    const uint64_t *src = a->data;
    const double scale = a->scale / (double)ql;
    if (out == a) {
        out->level = l - 1;
        out->seeded = false;
    } else {
        HG_TRY(hg_ckks_ct_reserve(out, size, l - 1));
    }
    uint64_t *tmp = ev->t3;
    /* Components in order and limbs ascending: the destination c*l + i never overtakes a source
     * c*(l+1) + i' still to be read, so this works in place. */
    for (int c = 0; c < size; c++)
        for (int i = 0; i < l; i++) {
            const hg_prime *p = &ctx->prime[i];
            const uint64_t q = p->mod.q;
            /* (t - q_l/2) mod q_i as an NTT input: when q_l <= q_i, t + q_i - q_l/2 lies in
             * [0, 2 q_i) and needs no reduction (the NTT takes inputs below 4 q_i). */
            if (ql <= q) {
                hg_add_const_lazy(p->k->simd, last[c], q - half, tmp, n);
            } else {
                p->k->reduce(p, last[c], tmp, n);
                p->k->add_scalar(p, tmp, hg_neg_mod(hg_reduce_u64(half, &p->mod), q), tmp, n);
            }
            hg_ntt_forward(p, tmp);
            const uint64_t *x = src + ((size_t)c * (size_t)(l + 1) + (size_t)i) * n;
            uint64_t *o = out->data + ((size_t)c * (size_t)l + (size_t)i) * n;
            hg_sub_mul_scalar(p, x, tmp, ctx->rescale_inv[(size_t)l * L + (size_t)i],
                              ctx->rescale_inv_shoup[(size_t)l * L + (size_t)i], o, n);
        }
    out->scale = scale;
    return HG_OK;
}

hg_status hg_ckks_drop_level(hg_ckks_eval *ev, const hg_ckks_ct *a, int level, hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    if (level < 0 || level > a->level)
        return hg_fail(HG_ERR_LEVEL, "%s: cannot go from level %d to level %d", __func__,
                       a->level, level);
    const int l = a->level, size = a->size;
    const double scale = a->scale;
    const uint64_t *src = a->data;
    if (out == a) {
        if (level == l)
            return HG_OK;
        out->level = level;
        out->seeded = false;
    } else {
        HG_TRY(hg_ckks_ct_reserve(out, size, level));
        out->scale = scale;
    }
    for (int c = 0; c < size; c++) {
        const uint64_t *s = src + (size_t)c * (size_t)(l + 1) * ctx->n;
        uint64_t *d = out->data + (size_t)c * (size_t)(level + 1) * ctx->n;
        if (s != d)
            memmove(d, s, (size_t)(level + 1) * LIMB_BYTES(ctx));
    }
    return HG_OK;
}

static const hg_ckks_galois *find_key(const hg_ckks_gk *gk, uint64_t g) {
    for (size_t i = 0; gk && i < gk->n_keys; i++)
        if (gk->keys[i].g == g)
            return &gk->keys[i];
    return NULL;
}

/* out = sigma_g(a), key-switched back to s. */
static hg_status apply_galois(hg_ckks_eval *ev, const hg_ckks_galois *key, const hg_ckks_ct *a,
                              hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    const int l = a->level;
    const size_t n = ctx->n, blk = (size_t)(l + 1) * n;
    uint64_t *g0 = ev->big, *g1 = g0 + blk, *k0 = g1 + blk, *k1 = k0 + blk;
    for (int i = 0; i <= l; i++) {
        const uint64_t *x0 = hg_ct_limb(a, 0, i), *x1 = hg_ct_limb(a, 1, i);
        uint64_t *y0 = g0 + (size_t)i * n, *y1 = g1 + (size_t)i * n;
        for (size_t k = 0; k < n; k++) {
            y0[k] = x0[key->perm[k]];
            y1[k] = x1[key->perm[k]];
        }
    }
    hg_ckks_keyswitch(ev, &key->key, g1, l, k0, k1);
    const double scale = a->scale;
    HG_TRY(hg_ckks_ct_reserve(out, 2, l));
    out->scale = scale;
    for (int i = 0; i <= l; i++) {
        const hg_prime *p = &ctx->prime[i];
        p->k->add(p, g0 + (size_t)i * n, k0 + (size_t)i * n, hg_ct_limb(out, 0, i), n);
        memcpy(hg_ct_limb(out, 1, i), k1 + (size_t)i * n, LIMB_BYTES(ctx));
    }
    return HG_OK;
}

hg_status hg_ckks_rotate(hg_ckks_eval *ev, const hg_ckks_gk *gk, const hg_ckks_ct *a, int steps,
                         hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    if (a->size != 2)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertext of %d components (relinearize first)",
                       __func__, a->size);
    const int64_t slots = (int64_t)ctx->slots;
    int64_t r = steps % slots;
    if (r < 0)
        r += slots;
    if (r == 0)
        return hg_ckks_ct_copy(a, out);
    if (!gk)
        return hg_fail(HG_ERR_MISSING_KEY, "%s: no Galois keys for a rotation by %d", __func__,
                       steps);
    const hg_ckks_galois *k = find_key(gk, hg_ckks_galois_elt(ctx, (int)r));
    if (k)
        return apply_galois(ev, k, a, out);
    /* Compose from power-of-two rotations: left by the bits of r, or right by those of
     * slots - r. */
    for (int dir = 1; dir >= -1; dir -= 2) {
        int64_t amount = dir > 0 ? r : slots - r;
        bool have_all = true;
        for (int64_t b = 1; b < slots; b <<= 1)
            if ((amount & b) && !find_key(gk, hg_ckks_galois_elt(ctx, (int)(dir * b))))
                have_all = false;
        if (!have_all)
            continue;
        const hg_ckks_ct *cur = a;
        for (int64_t b = 1; b < slots; b <<= 1) {
            if (!(amount & b))
                continue;
            HG_TRY(apply_galois(ev, find_key(gk, hg_ckks_galois_elt(ctx, (int)(dir * b))), cur,
                                out));
            cur = out;
        }
        return HG_OK;
    }
    return hg_fail(HG_ERR_MISSING_KEY,
                   "%s: no Galois key for a rotation by %d, nor power-of-two keys to compose it",
                   __func__, steps);
}

hg_status hg_ckks_conjugate(hg_ckks_eval *ev, const hg_ckks_gk *gk, const hg_ckks_ct *a,
                            hg_ckks_ct *out) {
    const hg_ckks_ctx *ctx = ev->ctx;
    HG_TRY(same_ctx(__func__, ctx, a->ctx, out->ctx));
    if (a->size != 2)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertext of %d components (relinearize first)",
                       __func__, a->size);
    const hg_ckks_galois *k = find_key(gk, 2 * (uint64_t)ctx->n - 1);
    if (!k)
        return hg_fail(HG_ERR_MISSING_KEY, "%s: no conjugation key", __func__);
    return apply_galois(ev, k, a, out);
}
