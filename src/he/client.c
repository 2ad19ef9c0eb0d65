/*
 * The client: the holder of the secret key. It encrypts batches (one ciphertext per coordinate,
 * the batch in the slots), decrypts results, and answers activation requests: decrypt, apply the
 * op in the clear, encrypt fresh at the top level. Decrypted values are wiped once used.
 */
#include "he.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct hg_he_client {
    const hg_ckks_ctx *ctx;
    const hg_ckks_sk *sk;
    bool complex_packing;
    int threads;
    hg_ckks_eval **ev;
    hg_ckks_pt **pt;
    double complex **z; /* per thread: N/2 slot values */
};

hg_status hg_he_client_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, bool complex_packing,
                           int threads, hg_he_client **out) {
    *out = NULL;
    if (sk->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: secret key of another context", __func__);
    hg_he_client *c = calloc(1, sizeof *c);
    if (!c)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    c->ctx = ctx;
    c->sk = sk;
    c->complex_packing = complex_packing;
    c->threads = threads > 0 ? threads : omp_get_max_threads();
    c->ev = calloc((size_t)c->threads, sizeof *c->ev);
    c->pt = calloc((size_t)c->threads, sizeof *c->pt);
    c->z = calloc((size_t)c->threads, sizeof *c->z);
    hg_status s = c->ev && c->pt && c->z ? HG_OK : HG_ERR_NOMEM;
    for (int t = 0; t < c->threads && s == HG_OK; t++) {
        s = hg_ckks_eval_new(ctx, &c->ev[t]);
        if (s == HG_OK)
            s = hg_ckks_pt_new(ctx, &c->pt[t]);
        if (s == HG_OK && !(c->z[t] = hg_alloc_array(ctx->slots, sizeof(double complex))))
            s = HG_ERR_NOMEM;
    }
    if (s != HG_OK) {
        hg_he_client_free(c);
        return s;
    }
    *out = c;
    return HG_OK;
}

void hg_he_client_free(hg_he_client *c) {
    if (!c)
        return;
    for (int t = 0; t < c->threads; t++) {
        if (c->ev)
            hg_ckks_eval_free(c->ev[t]);
        if (c->pt)
            hg_ckks_pt_free(c->pt[t]);
        if (c->z)
            hg_free_secret(c->z[t], c->ctx->slots * sizeof(double complex));
    }
    free(c->ev);
    free(c->pt);
    free(c->z);
    free(c);
}

static size_t capacity(const hg_he_client *c) {
    return c->complex_packing ? c->ctx->n : c->ctx->slots;
}

/* Encrypts x (shape (B, ...), B <= capacity) into a new tensor at the top level. */
static hg_status encrypt_array(hg_he_client *c, const double *x, const hg_shape *shape,
                               hg_he_tensor **out) {
    const hg_ckks_ctx *ctx = c->ctx;
    const size_t batch = (size_t)shape->dims[0];
    if (batch == 0 || batch > capacity(c))
        return hg_fail(HG_ERR_INVALID_ARG,
                       "a batch of %zu samples does not fit: N = %zu gives %zu slots%s", batch,
                       ctx->n, capacity(c), c->complex_packing ? " with complex packing" : "");
    hg_he_tensor *t;
    HG_TRY(hg_he_tensor_new(ctx, shape, ctx->L - 1, 2, ctx->params.scale, c->complex_packing,
                            &t));
    t->seeds = hg_alloc_array(t->count ? t->count : 1, HG_SEED_BYTES);
    if (!t->seeds) {
        hg_he_tensor_free(t);
        return HG_ERR_NOMEM;
    }
    const size_t count = t->count;
    const size_t n_slots = c->complex_packing ? (batch + 1) / 2 : batch;
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 8)
    for (size_t j = 0; j < count; j++) {
        int tid = omp_get_thread_num();
        double complex *z = c->z[tid];
        for (size_t s = 0; s < n_slots; s++) {
            if (c->complex_packing) {
                double re = x[(2 * s) * count + j];
                double im = 2 * s + 1 < batch ? x[(2 * s + 1) * count + j] : 0.0;
                z[s] = re + im * I;
            } else {
                z[s] = x[s * count + j];
            }
        }
        hg_ckks_ct v;
        hg_he_ct_view(t, j, &v);
        v.seeded = false;
        hg_status s = hg_ckks_encode(c->ev[tid], z, n_slots, ctx->L - 1, ctx->params.scale,
                                     c->pt[tid]);
        if (s == HG_OK)
            s = hg_ckks_encrypt_sym(c->ev[tid], c->sk, c->pt[tid], &v);
        if (s == HG_OK)
            memcpy(t->seeds + j * HG_SEED_BYTES, v.seed, HG_SEED_BYTES);
        if (s != HG_OK) {
#pragma omp critical
            err = s;
        }
    }
    if (err != HG_OK) {
        hg_he_tensor_free(t);
        return err;
    }
    *out = t;
    return HG_OK;
}

hg_status hg_he_client_encrypt(hg_he_client *c, const hg_ndarray *batch, hg_he_tensor **out) {
    *out = NULL;
    hg_shape shape = {.rank = batch->rank};
    if (batch->rank < 1)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: a batch needs a batch axis", __func__);
    memcpy(shape.dims, batch->dims, sizeof shape.dims);
    return encrypt_array(c, batch->data, &shape, out);
}

/* Decrypts t into x (t's shape, batch from the shape). */
static hg_status decrypt_array(hg_he_client *c, const hg_he_tensor *t, double *x) {
    const size_t batch = (size_t)t->shape.dims[0], count = t->count;
    const size_t n_slots = t->complex_packing ? (batch + 1) / 2 : batch;
    hg_status err = HG_OK;
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 8)
    for (size_t j = 0; j < count; j++) {
        int tid = omp_get_thread_num();
        double complex *z = c->z[tid];
        hg_ckks_ct v;
        hg_he_ct_view(t, j, &v);
        hg_status s = hg_ckks_decrypt(c->ev[tid], c->sk, &v, c->pt[tid]);
        if (s == HG_OK)
            s = hg_ckks_decode(c->ev[tid], c->pt[tid], z, n_slots);
        if (s == HG_OK) {
            for (size_t b = 0; b < batch; b++) {
                double complex zz = z[t->complex_packing ? b / 2 : b];
                x[b * count + j] = t->complex_packing && (b & 1) ? cimag(zz) : creal(zz);
            }
        } else {
#pragma omp critical
            err = s;
        }
        hg_wipe(z, n_slots * sizeof *z);
    }
    return err;
}

hg_status hg_he_client_decrypt(hg_he_client *c, const hg_he_tensor *t, hg_ndarray **out) {
    *out = NULL;
    if (t->ctx != c->ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: tensor of another context", __func__);
    if (t->complex_packing != c->complex_packing)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: the tensor's packing differs from the client's",
                       __func__);
    hg_ndarray *a;
    HG_TRY(hg_ndarray_new(t->shape.rank, t->shape.dims, &a));
    hg_status s = decrypt_array(c, t, a->data);
    if (s != HG_OK) {
        hg_wipe(a->data, a->size * sizeof(double));
        hg_ndarray_free(a);
        return s;
    }
    *out = a;
    return HG_OK;
}

static void free_wiped(hg_ndarray *a) {
    if (!a)
        return;
    hg_wipe(a->data, a->size * sizeof(double));
    hg_ndarray_free(a);
}

hg_status hg_he_client_activate(hg_he_client *c, const hg_he_activation *act,
                                const hg_he_tensor *in, hg_he_tensor **out) {
    *out = NULL;
    const hg_graph *g = act->graph;
    const hg_node *n = &g->nodes[act->node];
    hg_ndarray *x = NULL, *y = NULL;
    HG_TRY(hg_he_client_decrypt(c, in, &x));
    /* The node's other inputs are constants (e.g. Min's bound): views on the graph's data. */
    const hg_ndarray *ins[8] = {0};
    hg_ndarray views[8];
    hg_status s = n->n_inputs <= 8 ? HG_OK
                                   : hg_node_fail(HG_ERR_UNSUPPORTED, n, "too many inputs");
    for (size_t k = 0; k < n->n_inputs && s == HG_OK; k++) {
        if (k == 0) {
            ins[k] = x;
            continue;
        }
        if (n->inputs[k] < 0)
            continue;
        const hg_value *v = &g->values[n->inputs[k]];
        if (v->kind != HG_VALUE_CONSTANT || v->dtype == HG_DTYPE_INT64)
            continue;
        views[k].rank = v->shape.rank;
        memcpy(views[k].dims, v->shape.dims, sizeof views[k].dims);
        int64_t cnt = 1;
        for (int d = 0; d < v->shape.rank; d++)
            cnt *= v->shape.dims[d];
        views[k].size = (size_t)cnt;
        views[k].data = v->f64;
        ins[k] = &views[k];
    }
    if (s == HG_OK)
        s = hg_plain_eval_node(g, n, ins, &y);
    free_wiped(x);
    if (s == HG_OK) {
        hg_shape shape = {.rank = y->rank};
        memcpy(shape.dims, y->dims, sizeof shape.dims);
        s = encrypt_array(c, y->data, &shape, out);
    }
    free_wiped(y);
    return s;
}
