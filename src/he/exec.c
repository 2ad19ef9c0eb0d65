/*
 * The executor: follows the plan step by step, with one CKKS evaluator per thread. Linear
 * layers go to the linear engine or, with it switched off, to per-ciphertext evaluator calls
 * (the reference path, and the path of the naive configurations). After each step the
 * tensor's state is checked against the plan.
 */
#include "he.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct exec {
    const hg_he_model *m;
    const hg_ckks_ctx *ctx;
    const hg_ckks_rlk *rlk;
    const hg_ckks_gk *gk;
    const hg_he_run_opts *ro;
    int threads;
    hg_ckks_eval **ev;
    hg_ckks_ct **tmp; /* per thread: 4 temporaries */
    hg_ckks_pt **pt;  /* per thread */
    double complex **z;
    hg_he_tensor **slot;
    bool *owned; /* slot tensors the run allocated (inputs belong to the caller) */
    double client_seconds;
    size_t live, peak;
    int64_t batch;
    he_draw *draws; /* per mask: this run's factors and order */
} exec;

#define PAR_ERR(err, s)                                                                        \
    do {                                                                                       \
        hg_status s_ = (s);                                                                    \
        if (s_ != HG_OK) {                                                                     \
            _Pragma("omp critical") if (err == HG_OK) err = s_;                                \
        }                                                                                      \
    } while (0)

static hg_status alloc_out(exec *x, int slot, const he_state *st, hg_he_tensor **out) {
    const hg_he_model *m = x->m;
    hg_shape shape = m->slots[slot].shape;
    shape.dims[0] = x->batch; /* the batch of this run, at most the model's */
    HG_TRY(hg_he_tensor_new_pooled(m->pool, x->ctx, &shape, st->level, st->size, st->scale,
                                   m->opts.complex_packing, out));
    x->slot[slot] = *out;
    x->owned[slot] = true;
    x->live += (*out)->cap * sizeof(uint64_t);
    if (x->live > x->peak)
        x->peak = x->live;
    return HG_OK;
}

/* Adds the residues of a bias (and, with complex packing, its imaginary copy, +- by NTT half)
 * to c0 of a ciphertext view. */
static void add_bias(const hg_ckks_ctx *ctx, hg_ckks_ct *v, const uint64_t *bias,
                     const uint64_t *bias_i) {
    const size_t n = ctx->n;
    for (int i = 0; i <= v->level; i++) {
        const hg_prime *p = &ctx->prime[i];
        uint64_t *c0 = hg_ct_limb(v, 0, i);
        if (!bias_i) {
            p->k->add_scalar(p, c0, bias[i], c0, n);
        } else {
            uint64_t q = p->mod.q;
            p->k->add_scalar(p, c0, hg_add_mod(bias[i], bias_i[i], q), c0, n / 2);
            p->k->add_scalar(p, c0 + n / 2, hg_sub_mod(bias[i], bias_i[i], q), c0 + n / 2,
                             n / 2);
        }
    }
}

/* Multiplies every slot of v by -i: NTT point k times -I_q (k < N/2) or I_q. */
static void mul_minus_i(const hg_ckks_ctx *ctx, const uint64_t *minus_i, hg_ckks_ct *v) {
    const size_t n = ctx->n;
    for (int c = 0; c < v->size; c++)
        for (int i = 0; i <= v->level; i++) {
            const hg_prime *p = &ctx->prime[i];
            uint64_t *d = hg_ct_limb(v, c, i);
            uint64_t w = minus_i[i], w2 = hg_neg_mod(w, p->mod.q);
            p->k->mul_scalar(p, d, w, hg_shoup(w, p->mod.q), d, n / 2);
            p->k->mul_scalar(p, d + n / 2, w2, hg_shoup(w2, p->mod.q), d + n / 2, n / 2);
        }
}

/* Residues of the integer w at each limb. */
static void int_residues(const hg_ckks_ctx *ctx, int64_t w, int level, uint64_t *r) {
    for (int i = 0; i <= level; i++)
        r[i] = hg_from_i64(w, &ctx->prime[i].mod);
}

/* One product term of the reference path: tmp = a * x_k (scaled maps) or +-x_k. */
static hg_status term(exec *x, int tid, const he_linear *lin, size_t k, const hg_ckks_ct *xk,
                      hg_ckks_ct *tmp) {
    const hg_he_opts *o = &x->m->opts;
    const hg_ckks_ctx *ctx = x->ctx;
    hg_ckks_eval *ev = x->ev[tid];
    if (!lin->scaled) {
        if (lin->w[k] < 0)
            return hg_ckks_neg(ev, xk, tmp);
        return hg_ckks_ct_copy(xk, tmp);
    }
    if (o->scalar_encoding) {
        hg_ckks_scalar s = {.level = xk->level, .scale = lin->wscale, .value = lin->a[k]};
        int_residues(ctx, lin->w[k], xk->level, s.r);
        if (o->fast_scalar)
            HG_TRY(hg_ckks_mul_scalar_enc(ev, xk, &s, tmp));
        else {
            /* The SEAL way: the scalar becomes an NTT-form plaintext (a constant vector per
             * limb) and the product is element-wise. */
            hg_ckks_pt *pt = x->pt[tid];
            HG_TRY(hg_ckks_pt_reserve(pt, xk->level));
            pt->scale = lin->wscale;
            for (int i = 0; i <= xk->level; i++) {
                uint64_t *d = pt->data + (size_t)i * ctx->n;
                for (size_t j = 0; j < ctx->n; j++)
                    d[j] = s.r[i];
            }
            HG_TRY(hg_ckks_mul_plain(ev, xk, pt, tmp));
        }
    } else {
        /* A full encoding: the FFT and one NTT per limb, at the ciphertext's level or, without
         * depth-aware encoding, at the top level and then cut to the ciphertext's. */
        hg_ckks_pt *pt = x->pt[tid];
        double complex *z = x->z[tid];
        for (size_t j = 0; j < ctx->slots; j++)
            z[j] = lin->a[k];
        int level = o->depth_aware ? xk->level : ctx->L - 1;
        HG_TRY(hg_ckks_encode(ev, z, ctx->slots, level, lin->wscale, pt));
        pt->level = xk->level; /* the first limbs are the encoding at the lower level */
        HG_TRY(hg_ckks_mul_plain(ev, xk, pt, tmp));
    }
    if (!o->lazy_rescale)
        HG_TRY(hg_ckks_rescale(ev, tmp, tmp));
    return HG_OK;
}

/* The run's own weights of a step that takes part in masked activations: M (U lin) with
 * whichever of them the step has. */
static hg_status run_map(exec *x, const he_step *st, he_linear **out) {
    const hg_he_model *m = x->m;
    const he_linear *base = st->lin_base ? st->lin : NULL;
    he_linear *mid = NULL, *l = NULL;
    if (st->mask_in >= 0)
        HG_TRY(he_mask_result_map(m->masks[st->mask_in], &x->draws[st->mask_in], base, &mid));
    hg_status s = HG_OK;
    if (st->mask_out >= 0) {
        s = he_mask_request_map(m->masks[st->mask_out], &x->draws[st->mask_out],
                                mid ? mid : base, &l);
        he_linear_free(mid);
    } else {
        l = mid;
    }
    HG_TRY(s);
    l->scaled = true;
    l->wscale = st->lin->wscale;
    s = he_linear_encode(x->ctx, l, st->after.level, st->after.scale, m->opts.complex_packing);
    if (s != HG_OK) {
        he_linear_free(l);
        return s;
    }
    *out = l;
    return HG_OK;
}

static hg_status step_linear_with(exec *x, const he_step *st, const he_linear *lin);

static hg_status step_linear(exec *x, const he_step *st) {
    if (st->mask_in < 0 && st->mask_out < 0)
        return step_linear_with(x, st, st->lin);
    he_linear *l;
    HG_TRY(run_map(x, st, &l));
    hg_status s = step_linear_with(x, st, l);
    he_linear_free(l);
    return s;
}

static hg_status step_linear_with(exec *x, const he_step *st, const he_linear *lin) {
    const hg_he_model *m = x->m;
    hg_he_tensor *in = x->slot[st->in[0]], *out;
    HG_TRY(alloc_out(x, st->out, &st->after, &out));
    if (m->opts.linear_engine && in->level == st->after.level) {
        HG_TRY(he_engine_apply(lin, in, out, m->opts.skip_zero_weights, false));
        out->scale = st->after.scale;
        return HG_OK;
    }
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(dynamic, 1)
    for (size_t r = 0; r < lin->n_rows; r++) {
        int tid = omp_get_thread_num();
        hg_ckks_eval *ev = x->ev[tid];
        hg_ckks_ct *tmp = x->tmp[tid * 4];
        hg_ckks_ct acc, xk;
        hg_he_ct_view(out, r, &acc);
        bool first = true;
        hg_status s = HG_OK;
        for (uint32_t k = lin->row_ptr[r]; k < lin->row_ptr[r + 1] && s == HG_OK; k++) {
            if (m->opts.skip_zero_weights && lin->a[k] == 0.0)
                continue;
            hg_he_ct_view(in, lin->col[k], &xk);
            xk.seeded = false;
            s = term(x, tid, lin, k, &xk, tmp);
            if (s == HG_OK)
                s = first ? hg_ckks_ct_copy(tmp, &acc) : hg_ckks_add(ev, &acc, tmp, &acc);
            first = false;
        }
        if (s == HG_OK && first) {
            /* no term: an encryption of zero (all zero) at the planned state */
            acc.level = st->after.level;
            acc.size = st->after.size;
            acc.scale = st->after.scale;
            memset(acc.data, 0, out->stride * sizeof(uint64_t));
        }
        if (s == HG_OK && lin->bias)
            add_bias(x->ctx, &acc, lin->bias + r * (size_t)lin->n_limbs,
                     lin->bias_i ? lin->bias_i + r * (size_t)lin->n_limbs : NULL);
        if (s == HG_OK && (acc.level != st->after.level || acc.size != st->after.size))
            s = hg_fail(HG_ERR_INTERNAL, "linear layer: result at level %d size %d, planned %d %d",
                        acc.level, acc.size, st->after.level, st->after.size);
        PAR_ERR(err, s);
    }
    out->scale = st->after.scale;
    return err;
}

static hg_status step_add(exec *x, const he_step *st) {
    hg_he_tensor *a = x->slot[st->in[0]], *b = x->slot[st->in[1]], *out;
    HG_TRY(alloc_out(x, st->out, &st->after, &out));
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t k = 0; k < out->count; k++) {
        hg_ckks_ct va, vb, vo;
        hg_he_ct_view(a, k, &va);
        hg_he_ct_view(b, k, &vb);
        hg_he_ct_view(out, k, &vo);
        va.seeded = vb.seeded = false;
        hg_ckks_eval *ev = x->ev[omp_get_thread_num()];
        PAR_ERR(err, st->subtract ? hg_ckks_sub(ev, &va, &vb, &vo) : hg_ckks_add(ev, &va, &vb, &vo));
    }
    return err;
}

static hg_status step_mul(exec *x, const he_step *st) {
    const hg_he_model *m = x->m;
    hg_he_tensor *a = x->slot[st->in[0]], *b = x->slot[st->in[1]], *out;
    HG_TRY(alloc_out(x, st->out, &st->after, &out));
    const bool square = st->in[0] == st->in[1];
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(dynamic, 4)
    for (size_t k = 0; k < out->count; k++) {
        int tid = omp_get_thread_num();
        hg_ckks_eval *ev = x->ev[tid];
        hg_ckks_ct va, vb, vo;
        hg_he_ct_view(a, k, &va);
        hg_he_ct_view(b, k, &vb);
        hg_he_ct_view(out, k, &vo);
        va.seeded = vb.seeded = false;
        hg_status s;
        if (!m->opts.complex_packing) {
            s = hg_ckks_mul(ev, &va, square ? &va : &vb, &vo);
        } else {
            /* Two samples per slot, z = a + ib. With u = z + conj(z) = 2a and
             * v = z - conj(z) = 2ib: u1 u2 - i v1 v2 = 4 (a1 a2 + i b1 b2), so the product is
             * that ciphertext read at 4 times the scale. */
            hg_ckks_ct *c = x->tmp[tid * 4], *u1 = x->tmp[tid * 4 + 1], *v1 = x->tmp[tid * 4 + 2],
                       *t = x->tmp[tid * 4 + 3];
            s = hg_ckks_conjugate(ev, x->gk, &va, c);
            if (s == HG_OK)
                s = hg_ckks_add(ev, &va, c, u1);
            if (s == HG_OK)
                s = hg_ckks_sub(ev, &va, c, v1);
            if (s == HG_OK && square) {
                s = hg_ckks_mul(ev, u1, u1, &vo);
                if (s == HG_OK)
                    s = hg_ckks_mul(ev, v1, v1, t);
            } else if (s == HG_OK) {
                /* u2 and v2 of the other operand, kept in c and in the output's place */
                hg_ckks_ct *c2 = t;
                s = hg_ckks_conjugate(ev, x->gk, &vb, c2);
                if (s == HG_OK)
                    s = hg_ckks_sub(ev, &vb, c2, c); /* v2 */
                if (s == HG_OK)
                    s = hg_ckks_add(ev, &vb, c2, c2); /* u2 */
                if (s == HG_OK)
                    s = hg_ckks_mul(ev, u1, c2, &vo);
                if (s == HG_OK)
                    s = hg_ckks_mul(ev, v1, c, t);
            }
            if (s == HG_OK) {
                mul_minus_i(x->ctx, m->minus_i, t);
                s = hg_ckks_add(ev, &vo, t, &vo);
                vo.scale *= 4;
            }
        }
        PAR_ERR(err, s);
    }
    out->scale = st->after.scale;
    return err;
}

static hg_status step_gather(exec *x, const he_step *st) {
    const he_gather *gat = st->gat;
    hg_he_tensor *out;
    HG_TRY(alloc_out(x, st->out, &st->after, &out));
    const size_t words = out->stride;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t o = 0; o < gat->n_out; o++) {
        uint64_t *d = hg_he_ct_data(out, o);
        if (gat->src[o] < 0) {
            memset(d, 0, words * sizeof(uint64_t));
            continue;
        }
        const hg_he_tensor *in = x->slot[st->in[gat->src[o]]];
        size_t used = (size_t)in->size * (size_t)(in->level + 1) * x->ctx->n;
        memcpy(d, hg_he_ct_data(in, gat->idx[o]), used * sizeof(uint64_t));
        if (used < words)
            memset(d + used, 0, (words - used) * sizeof(uint64_t));
    }
    return HG_OK;
}

/* Rescale, relinearize or drop every ciphertext of a tensor in place. */
static hg_status step_in_place(exec *x, const he_step *st) {
    hg_he_tensor *t = x->slot[st->in[0]];
    hg_status err = HG_OK;
    if (st->kind == HE_STEP_RELIN && !x->rlk)
        return hg_fail(HG_ERR_MISSING_KEY, "the model needs a relinearization key");
    hg_free(t->seeds);
    t->seeds = NULL;
#pragma omp parallel for num_threads(x->threads) schedule(dynamic, 8)
    for (size_t k = 0; k < t->count; k++) {
        hg_ckks_eval *ev = x->ev[omp_get_thread_num()];
        hg_ckks_ct v;
        hg_he_ct_view(t, k, &v);
        hg_status s;
        if (st->kind == HE_STEP_RESCALE)
            s = hg_ckks_rescale(ev, &v, &v);
        else if (st->kind == HE_STEP_RELIN)
            s = hg_ckks_relinearize(ev, x->rlk, &v, &v);
        else
            s = hg_ckks_drop_level(ev, &v, st->level, &v);
        PAR_ERR(err, s);
    }
    HG_TRY(err);
    t->level = st->after.level;
    t->size = st->after.size;
    if (st->kind == HE_STEP_RESCALE)
        t->scale /= (double)x->ctx->prime[st->after.level + 1].mod.q;
    return HG_OK;
}

/* Re-randomizes a request: a fresh public-key encryption of zero, which replaces the noise
 * the computation left (and with it what the noise says about the weights) by fresh noise,
 * plus flooding noise uniform in [-F, F] per coefficient with F = scale * 2^-30: as much as the
 * precision allows (about 2^-24 of the values after decoding, what MobileNetV2 needs to keep
 * every top-1 prediction of a 4096-image batch). Without the client's public
 * key the request goes as computed. */
static hg_status rerandomize(exec *x, hg_he_tensor *t) {
    if (!x->ro || !x->ro->pk)
        return HG_OK;
    const hg_ckks_ctx *ctx = x->ctx;
    const double fl = floor(t->scale * 0x1p-30);
    const uint64_t bound = fl >= 1 ? (fl < 0x1p40 ? (uint64_t)fl : (uint64_t)1 << 40) : 0;
    hg_free(t->seeds);
    t->seeds = NULL;
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(dynamic, 4)
    for (size_t k = 0; k < t->count; k++) {
        int tid = omp_get_thread_num();
        hg_ckks_eval *ev = x->ev[tid];
        hg_ckks_pt *pt = x->pt[tid];
        hg_ckks_ct *z = x->tmp[tid * 4];
        hg_ckks_ct v;
        hg_he_ct_view(t, k, &v);
        hg_status s = hg_ckks_pt_reserve(pt, t->level);
        if (s == HG_OK) {
            pt->scale = t->scale;
            memset(pt->data, 0, (size_t)(t->level + 1) * ctx->n * sizeof(uint64_t));
            if (bound) {
                /* the flooding noise, as the plaintext's coefficients */
                int64_t *e = (int64_t *)x->z[tid];
                hg_prng r;
                hg_prng_init_random(&r);
                for (size_t i = 0; i < ctx->n; i++)
                    e[i] = (int64_t)(hg_prng_u64(&r) % (2 * bound + 1)) - (int64_t)bound;
                hg_prng_clear(&r);
                for (int l = 0; l <= t->level; l++) {
                    uint64_t *d = pt->data + (size_t)l * ctx->n;
                    for (size_t i = 0; i < ctx->n; i++)
                        d[i] = hg_from_i64(e[i], &ctx->prime[l].mod);
                    hg_ntt_forward(&ctx->prime[l], d);
                }
            }
            s = hg_ckks_encrypt(ev, x->ro->pk, pt, z);
        }
        if (s == HG_OK)
            s = hg_ckks_add(ev, &v, z, &v);
        PAR_ERR(err, s);
    }
    return err;
}

static hg_status step_client(exec *x, const he_step *st) {
    const hg_he_model *m = x->m;
    if (!x->ro || !x->ro->client)
        return hg_node_fail(HG_ERR_INVALID_ARG, &m->g->nodes[st->node],
                            "needs the client, and no client was given");
    hg_he_activation act;
    hg_he_tensor *in = x->slot[st->in[0]];
    if (st->mask >= 0) {
        /* The client sees an element-wise op or group maxima over shuffled, scaled values. */
        const he_mask *k = m->masks[st->mask];
        memset(&act, 0, sizeof act);
        act.op = k->op;
        act.masked = true;
        act.alpha = k->alpha;
        act.group = (uint32_t)k->group;
        HG_TRY(rerandomize(x, in));
    } else {
        HG_TRY(he_activation_from_node(m->g, (size_t)st->node, &act));
    }
    act.in_shape = m->slots[st->in[0]].shape;
    act.out_shape = m->slots[st->out].shape;
    /* The run's batch: the tensors of the plan carry the model's largest batch. */
    act.in_shape.dims[0] = act.out_shape.dims[0] = x->batch;
    in->shape = act.in_shape;
    hg_he_tensor *out = NULL;
    double t0 = hg_now();
    hg_status s = x->ro->client(x->ro->client_user, &act, in, &out);
    x->client_seconds += hg_now() - t0;
    HG_TRY(s);
    if (!out || out->count != m->slots[st->out].count || out->level != st->after.level ||
        out->size != 2 || out->ctx != x->ctx) {
        hg_he_tensor_free(out);
        return hg_node_fail(HG_ERR_PROTOCOL, &m->g->nodes[st->node],
                            "the client's answer does not have the expected shape and level");
    }
    HG_TRY(hg_ckks_check_scale("client answer", out->scale, st->after.scale));
    x->slot[st->out] = out;
    x->owned[st->out] = true;
    x->live += out->cap * sizeof(uint64_t);
    if (x->live > x->peak)
        x->peak = x->live;
    return HG_OK;
}

/* A tensor for `count` ciphertexts at a state, from the pool, counted in the live bytes. */
static hg_status tile_tensor(exec *x, size_t count, const he_state *st, hg_he_tensor **out) {
    hg_shape shape = {.rank = 2, .dims = {x->batch, (int64_t)count}};
    HG_TRY(hg_he_tensor_new_pooled(x->m->pool, x->ctx, &shape, st->level, st->size, st->scale,
                                   x->m->opts.complex_packing, out));
    x->live += (*out)->cap * sizeof(uint64_t);
    if (x->live > x->peak)
        x->peak = x->live;
    return HG_OK;
}

static void tile_free(exec *x, hg_he_tensor **t) {
    if (*t)
        x->live -= (*t)->cap * sizeof(uint64_t);
    hg_he_tensor_free(*t);
    *t = NULL;
}

/* The run's map of a region step, sliced to tile t: rows [r0, r1) and columns [c0, c1). */
static hg_status tile_map(exec *x, const he_step *st, size_t r0, size_t r1, size_t c0, size_t c1,
                          bool bias, he_linear **out) {
    he_linear *full, *l;
    HG_TRY(run_map(x, st, &full)); /* encoded whole, then sliced and re-encoded */
    hg_status s = he_linear_slice(full, r0, r1, c0, c1, bias, &l);
    he_linear_free(full);
    HG_TRY(s);
    s = he_linear_encode(x->ctx, l, st->after.level, st->after.scale,
                         x->m->opts.complex_packing);
    if (s != HG_OK) {
        he_linear_free(l);
        return s;
    }
    *out = l;
    return HG_OK;
}

/* Sends a request tensor through the client: drop, re-randomize, ask. */
static hg_status tile_ask(exec *x, const he_step *client, hg_he_tensor *req, bool rescale,
                          int drop, hg_he_tensor **ans) {
    const hg_he_model *m = x->m;
    if (rescale) {
        const double q = (double)x->ctx->prime[req->level].mod.q;
        hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(static)
        for (size_t k = 0; k < req->count; k++) {
            hg_ckks_ct v;
            hg_he_ct_view(req, k, &v);
            PAR_ERR(err, hg_ckks_rescale(x->ev[omp_get_thread_num()], &v, &v));
        }
        HG_TRY(err);
        req->level--;
        req->scale /= q;
    }
    if (drop >= 0 && drop < req->level) {
        hg_status err = HG_OK;
#pragma omp parallel for num_threads(x->threads) schedule(static)
        for (size_t k = 0; k < req->count; k++) {
            hg_ckks_ct v;
            hg_he_ct_view(req, k, &v);
            PAR_ERR(err, hg_ckks_drop_level(x->ev[omp_get_thread_num()], &v, drop, &v));
        }
        HG_TRY(err);
        req->level = drop;
    }
    HG_TRY(rerandomize(x, req));
    const he_mask *k = m->masks[client->mask];
    hg_he_activation act = {.op = k->op, .masked = true, .alpha = k->alpha,
                            .group = (uint32_t)k->group};
    act.in_shape = req->shape;
    act.out_shape = req->shape;
    double t0 = hg_now();
    hg_status s = x->ro->client(x->ro->client_user, &act, req, ans);
    x->client_seconds += hg_now() - t0;
    HG_TRY(s);
    if (!*ans || (*ans)->count != req->count || (*ans)->level != client->after.level ||
        (*ans)->ctx != x->ctx) {
        hg_he_tensor_free(*ans);
        *ans = NULL;
        return hg_node_fail(HG_ERR_PROTOCOL, &m->g->nodes[client->node],
                            "the client's answer does not have the expected shape and level");
    }
    x->live += (*ans)->cap * sizeof(uint64_t);
    if (x->live > x->peak)
        x->peak = x->live;
    return hg_ckks_check_scale("client answer", (*ans)->scale, client->after.scale);
}

static hg_status step_tiled(exec *x, const he_step *st) {
    const he_region *r = st->region;
    const hg_he_model *m = x->m;
    if (!x->ro || !x->ro->client)
        return hg_node_fail(HG_ERR_INVALID_ARG, &m->g->nodes[st->node],
                            "needs the client, and no client was given");
    const he_step *a = &r->steps[0], *c1 = &r->steps[1], *d = &r->steps[r->n - 1];
    const he_step *b = r->n == 5 ? &r->steps[2] : NULL, *c2 = r->n == 5 ? &r->steps[3] : NULL;
    const he_draw *d1 = &x->draws[a->mask_out], *d2 = b ? &x->draws[b->mask_out] : NULL;
    const he_draw *dl = b ? d2 : d1; /* the answers the last layer reads */
    hg_he_tensor *in = x->slot[st->in[0]], *y;
    HG_TRY(alloc_out(x, st->out, &st->after, &y));
    hg_status s = HG_OK;
    for (size_t t = 0; t < r->n_tiles && s == HG_OK; t++) {
        hg_he_tensor *r1 = NULL, *a1 = NULL, *r2 = NULL, *a2 = NULL;
        he_linear *l = NULL;
        const size_t q0 = d1->req_start[t], q1 = d1->req_start[t + 1];
        s = tile_map(x, a, q0, q1, 0, in->count, true, &l);
        if (s == HG_OK)
            s = tile_tensor(x, q1 - q0, &a->after, &r1);
        if (s == HG_OK)
            s = he_engine_apply(l, in, r1, false, false);
        he_linear_free(l);
        l = NULL;
        if (s == HG_OK)
            s = tile_ask(x, c1, r1, r->rescale[0], r->drop[0], &a1);
        tile_free(x, &r1);
        hg_he_tensor *last = a1;
        if (b && s == HG_OK) {
            const size_t p0 = d2->req_start[t], p1 = d2->req_start[t + 1];
            s = tile_map(x, b, p0, p1, d1->ans_start[t], d1->ans_start[t + 1], true, &l);
            if (s == HG_OK)
                s = tile_tensor(x, p1 - p0, &b->after, &r2);
            if (s == HG_OK)
                s = he_engine_apply(l, a1, r2, false, false);
            he_linear_free(l);
            l = NULL;
            tile_free(x, &a1);
            if (s == HG_OK)
                s = tile_ask(x, c2, r2, r->rescale[1], r->drop[1], &a2);
            tile_free(x, &r2);
            last = a2;
        }
        /* this tile's share of the last layer, its bias once */
        if (s == HG_OK)
            s = tile_map(x, d, 0, y->count, dl->ans_start[t], dl->ans_start[t + 1], t == 0, &l);
        if (s == HG_OK)
            s = he_engine_apply(l, last, y, false, t > 0);
        he_linear_free(l);
        tile_free(x, &a1);
        tile_free(x, &a2);
        if (x->ro->progress)
            x->ro->progress(x->ro->progress_user, m->g->nodes[st->node].name, t + 1,
                            r->n_tiles);
    }
    y->scale = st->after.scale;
    return s;
}

static hg_status check_state(const exec *x, const he_step *st) {
    int slot = st->kind == HE_STEP_RESCALE || st->kind == HE_STEP_RELIN ||
                       st->kind == HE_STEP_DROP
                   ? st->in[0]
                   : st->out;
    const hg_he_tensor *t = x->slot[slot];
    if (!t || t->level != st->after.level || t->size != st->after.size ||
        fabs(t->scale - st->after.scale) > HG_CKKS_SCALE_TOL * st->after.scale)
        return hg_fail(HG_ERR_INTERNAL, "plan and run disagree after a step of node %lld",
                       (long long)st->node);
    return HG_OK;
}

static void exec_clear(exec *x) {
    const hg_he_model *m = x->m;
    for (int t = 0; t < x->threads; t++) {
        if (x->ev)
            hg_ckks_eval_free(x->ev[t]);
        if (x->pt)
            hg_ckks_pt_free(x->pt[t]);
        if (x->z)
            hg_free(x->z[t]);
        for (int k = 0; x->tmp && k < 4; k++)
            hg_ckks_ct_free(x->tmp[t * 4 + k]);
    }
    free(x->ev);
    free(x->pt);
    free(x->z);
    free(x->tmp);
    if (x->slot)
        for (size_t s = 0; s < m->n_slots; s++)
            if (x->owned[s])
                hg_he_tensor_free(x->slot[s]);
    free(x->slot);
    free(x->owned);
    for (size_t i = 0; x->draws && i < m->n_masks; i++)
        he_draw_free(&x->draws[i]);
    free(x->draws);
}

hg_status hg_he_run(const hg_he_model *m, const hg_ckks_rlk *rlk, const hg_ckks_gk *gk,
                    hg_he_tensor *const *inputs, size_t n_inputs, const hg_he_run_opts *ro,
                    hg_he_tensor **outputs, hg_he_run_stats *stats) {
    const hg_graph *g = m->g;
    if (n_inputs != g->n_inputs)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu inputs given, the model has %zu", __func__,
                       n_inputs, g->n_inputs);
    if (m->needs_relin && !rlk)
        return hg_fail(HG_ERR_MISSING_KEY, "%s: the model needs a relinearization key", __func__);
    if (m->needs_conj && !gk)
        return hg_fail(HG_ERR_MISSING_KEY,
                       "%s: the model needs a conjugation key (complex packing products)",
                       __func__);
    for (size_t i = 0; i < n_inputs; i++) {
        const hg_he_tensor *t = inputs[i];
        const he_state *st = &m->input_state[i];
        const he_slot *sl = &m->slots[m->input_slot[i]];
        if (!t || t->ctx != m->ctx || t->count != sl->count || t->level != st->level ||
            t->size != st->size || t->complex_packing != m->opts.complex_packing ||
            t->shape.dims[0] < 1 || (size_t)t->shape.dims[0] > m->batch ||
            t->shape.dims[0] != inputs[0]->shape.dims[0])
            return hg_fail(HG_ERR_INVALID_ARG,
                           "%s: input %zu must be %zu ciphertexts of a batch of at most %zu at "
                           "level %d%s",
                           __func__, i, sl->count, m->batch, st->level,
                           m->opts.complex_packing ? ", complex packing" : "");
        HG_TRY(hg_ckks_check_scale(__func__, t->scale, st->scale));
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        outputs[i] = NULL;
    exec x = {.m = m, .ctx = m->ctx, .rlk = rlk, .gk = gk, .ro = ro};
    x.threads = m->opts.threads > 0 ? m->opts.threads : omp_get_max_threads();
    x.ev = calloc((size_t)x.threads, sizeof *x.ev);
    x.pt = calloc((size_t)x.threads, sizeof *x.pt);
    x.z = calloc((size_t)x.threads, sizeof *x.z);
    x.tmp = calloc((size_t)x.threads * 4, sizeof *x.tmp);
    x.slot = calloc(m->n_slots, sizeof *x.slot);
    x.owned = calloc(m->n_slots, sizeof *x.owned);
    hg_status s = x.ev && x.pt && x.z && x.tmp && x.slot && x.owned ? HG_OK : HG_ERR_NOMEM;
    for (int t = 0; t < x.threads && s == HG_OK; t++) {
        s = hg_ckks_eval_new(m->ctx, &x.ev[t]);
        if (s == HG_OK)
            s = hg_ckks_pt_new(m->ctx, &x.pt[t]);
        if (s == HG_OK && !(x.z[t] = hg_alloc_array(m->ctx->slots, sizeof(double complex))))
            s = HG_ERR_NOMEM;
        for (int k = 0; k < 4 && s == HG_OK; k++) {
            s = hg_ckks_ct_new(m->ctx, &x.tmp[t * 4 + k]);
            /* room for the largest temporary up front: no allocation inside the loops */
            if (s == HG_OK)
                s = hg_ckks_ct_reserve(x.tmp[t * 4 + k], 3, m->ctx->L - 1);
        }
    }
    if (s == HG_OK && m->n_masks) {
        x.draws = calloc(m->n_masks, sizeof *x.draws);
        if (!x.draws)
            s = HG_ERR_NOMEM;
        for (size_t i = 0; i < m->n_masks && s == HG_OK; i++)
            s = he_mask_draw(m->masks[i], &x.draws[i]);
    }
    x.batch = inputs[0]->shape.dims[0];
    for (size_t i = 0; i < n_inputs && s == HG_OK; i++) {
        x.slot[m->input_slot[i]] = inputs[i];
        x.live += inputs[i]->cap * sizeof(uint64_t);
    }
    x.peak = x.live;
    double t0 = hg_now();
    for (size_t i = 0; i < m->n_steps && s == HG_OK; i++) {
        const he_step *st = &m->steps[i];
        switch (st->kind) {
        case HE_STEP_LINEAR: s = step_linear(&x, st); break;
        case HE_STEP_ADD: s = step_add(&x, st); break;
        case HE_STEP_MUL: s = step_mul(&x, st); break;
        case HE_STEP_GATHER: s = step_gather(&x, st); break;
        case HE_STEP_ALIAS:
        case HE_STEP_NOP: break;
        case HE_STEP_RESCALE:
        case HE_STEP_RELIN:
        case HE_STEP_DROP: s = step_in_place(&x, st); break;
        case HE_STEP_CLIENT: s = step_client(&x, st); break;
        case HE_STEP_TILED: s = step_tiled(&x, st); break;
        case HE_STEP_FREE:
            if (x.owned[st->in[0]]) {
                x.live -= x.slot[st->in[0]]->cap * sizeof(uint64_t);
                hg_he_tensor_free(x.slot[st->in[0]]);
                x.owned[st->in[0]] = false;
            }
            x.slot[st->in[0]] = NULL;
            break;
        }
        if (s == HG_OK && st->kind != HE_STEP_FREE)
            s = check_state(&x, st);
        if (s == HG_OK && ro && ro->progress && st->node >= 0 &&
            (i + 1 == m->n_steps || m->steps[i + 1].node != st->node))
            ro->progress(ro->progress_user, g->nodes[st->node].name, (uint64_t)st->node + 1,
                         (uint64_t)g->n_nodes);
    }
    double total = hg_now() - t0;
    if (s == HG_OK) {
        for (size_t i = 0; i < g->n_outputs && s == HG_OK; i++) {
            int sl = m->output_slot[i];
            hg_he_tensor *t = x.slot[sl];
            if (x.owned[sl] && !t->pool) {
                x.owned[sl] = false; /* handed over; a second output of the same slot copies */
            } else {
                /* An input, a buffer of the pool, or a slot already handed out: a copy of
                 * the ciphertexts goes to the caller. */
                hg_he_tensor *c;
                s = hg_he_tensor_new(m->ctx, &t->shape, t->level, t->size, t->scale,
                                     t->complex_packing, &c);
                if (s != HG_OK)
                    break;
                memcpy(c->data, t->data, t->count * t->stride * sizeof(uint64_t));
                t = c;
            }
            t->shape = g->values[g->outputs[i]].shape;
            t->shape.dims[0] = inputs[0]->shape.dims[0];
            outputs[i] = t;
        }
        if (s != HG_OK) {
            /* no partial outputs */
            for (size_t i = 0; i < g->n_outputs; i++) {
                hg_he_tensor_free(outputs[i]);
                outputs[i] = NULL;
            }
        }
    }
    if (stats) {
        stats->client_seconds = x.client_seconds;
        stats->server_seconds = total - x.client_seconds;
        stats->peak_bytes = x.peak;
    }
    exec_clear(&x);
    return s;
}

hg_status hg_he_run_local(const hg_he_model *m, hg_he_client *c, const hg_ckks_rlk *rlk,
                          const hg_ckks_gk *gk, const hg_ndarray *const *inputs, size_t n_inputs,
                          hg_ndarray **outputs, hg_he_run_stats *stats) {
    const hg_graph *g = m->g;
    if (n_inputs != g->n_inputs || n_inputs > 16)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu inputs given, the model has %zu", __func__,
                       n_inputs, g->n_inputs);
    hg_he_tensor *in[16] = {0}, *out[16] = {0};
    hg_status s = g->n_outputs <= 16 ? HG_OK
                                     : hg_fail(HG_ERR_UNSUPPORTED, "more than 16 outputs");
    for (size_t i = 0; i < n_inputs && s == HG_OK; i++)
        s = hg_he_client_encrypt(c, inputs[i], &in[i]);
    hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate, .client_user = c};
    if (s == HG_OK)
        s = hg_he_run(m, rlk, gk, in, n_inputs, &ro, out, stats);
    size_t done = 0;
    for (; s == HG_OK && done < g->n_outputs; done++)
        s = hg_he_client_decrypt(c, out[done], &outputs[done]);
    if (s != HG_OK)
        for (size_t i = 0; i < done; i++)
            hg_ndarray_free(outputs[i]);
    for (size_t i = 0; i < 16; i++) {
        hg_he_tensor_free(in[i]);
        hg_he_tensor_free(out[i]);
    }
    return s;
}
