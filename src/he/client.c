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

/* The node that evaluates an unmasked request, in a one-node graph over an input of the
 * request's shape. */
static hg_status request_graph(const hg_he_activation *act, hg_graph **out) {
    hg_graph *g;
    HG_TRY(hg_graph_new(&g));
    int64_t x, y;
    hg_status s = hg_graph_add_value(g, "x", HG_VALUE_INPUT, HG_DTYPE_FLOAT64, &x);
    if (s == HG_OK) {
        g->values[x].shape = act->in_shape;
        g->values[x].has_shape = true;
        s = hg_graph_add_input(g, x);
    }
    if (s == HG_OK)
        s = hg_graph_add_value(g, "y", HG_VALUE_NODE, HG_DTYPE_FLOAT64, &y);
    hg_node_attr a;
    hg_node_attr_default(act->op, &a);
    switch (act->op) {
    case HG_OP_RELU6:
    case HG_OP_CLIP:
        a.clip.min = act->clip_min;
        a.clip.max = act->clip_max;
        break;
    case HG_OP_LEAKYRELU: a.leaky_alpha = act->alpha; break;
    case HG_OP_SOFTMAX:
        a.softmax.axis = act->axis;
        a.softmax.legacy = act->legacy;
        break;
    case HG_OP_MAXPOOL:
        a.window.n_spatial = act->n_spatial;
        a.window.has_kernel = true;
        a.window.ceil_mode = act->ceil_mode;
        for (int d = 0; d < act->n_spatial; d++) {
            a.window.kernel[d] = act->kernel[d];
            a.window.strides[d] = act->strides[d];
            a.window.dilations[d] = act->dilations[d];
            a.window.pads[d] = act->pads[d];
            a.window.pads[act->n_spatial + d] = act->pads[act->n_spatial + d];
        }
        break;
    default: break;
    }
    if (s == HG_OK)
        s = hg_graph_add_node(g, act->op, "activation", &x, 1, y, &a);
    if (s == HG_OK) {
        g->nodes[0].resolved = true;
        s = hg_graph_add_output(g, y);
    }
    if (s != HG_OK) {
        hg_graph_free(g);
        return s;
    }
    *out = g;
    return HG_OK;
}

/* Checks a request against the tensor it comes with: everything in it came from the server. */
static hg_status check_request(const hg_he_activation *act, const hg_he_tensor *in) {
    static const hg_op allowed[] = {HG_OP_RELU,      HG_OP_RELU6,   HG_OP_CLIP,
                                    HG_OP_LEAKYRELU, HG_OP_SIGMOID, HG_OP_TANH,
                                    HG_OP_SOFTMAX,   HG_OP_MAXPOOL};
    bool ok = false;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        ok |= act->op == allowed[i];
    if (!ok)
        return hg_fail(HG_ERR_PROTOCOL, "activation request: op %d is not one a client evaluates",
                       (int)act->op);
    const hg_shape *is = &act->in_shape;
    if (is->rank < 1 || is->rank > HG_MAX_RANK || is->dims[0] != in->shape.dims[0])
        return hg_fail(HG_ERR_PROTOCOL, "activation request: input rank %d or batch does not "
                       "match the tensor", is->rank);
    size_t count = 1;
    for (int d = 1; d < is->rank; d++) {
        if (is->dims[d] < 1 || is->dims[d] > HG_MAX_ELEMENTS)
            return hg_fail(HG_ERR_PROTOCOL, "activation request: dimension %d is %lld", d,
                           (long long)is->dims[d]);
        count *= (size_t)is->dims[d];
        if (count > (size_t)HG_MAX_ELEMENTS)
            return hg_fail(HG_ERR_PROTOCOL, "activation request: too many elements");
    }
    if (count != in->count)
        return hg_fail(HG_ERR_PROTOCOL,
                       "activation request: the shape holds %zu ciphertexts, the tensor %zu",
                       count, in->count);
    if (act->masked) {
        if (act->op != HG_OP_RELU && act->op != HG_OP_LEAKYRELU && act->op != HG_OP_MAXPOOL)
            return hg_fail(HG_ERR_PROTOCOL, "activation request: a masked request is a Relu, a "
                           "LeakyRelu or a MaxPool");
        size_t grp = act->op == HG_OP_MAXPOOL ? act->group : 1;
        if (grp < 1 || in->count % grp != 0)
            return hg_fail(HG_ERR_PROTOCOL, "activation request: groups of %u do not divide %zu "
                           "ciphertexts", act->group, in->count);
    }
    if (act->op == HG_OP_MAXPOOL && !act->masked) {
        if (act->n_spatial != is->rank - 2 || act->n_spatial < 1 || act->n_spatial > 3)
            return hg_fail(HG_ERR_PROTOCOL, "activation request: MaxPool over %d spatial axes "
                           "of a rank-%d tensor", act->n_spatial, is->rank);
        for (int d = 0; d < act->n_spatial; d++)
            if (act->kernel[d] < 1 || act->kernel[d] > is->dims[2 + d] + 64 ||
                act->strides[d] < 1 || act->dilations[d] < 1 || act->pads[d] < 0 ||
                act->pads[act->n_spatial + d] < 0 || act->pads[d] >= act->kernel[d] ||
                act->pads[act->n_spatial + d] >= act->kernel[d])
                return hg_fail(HG_ERR_PROTOCOL, "activation request: bad MaxPool window on "
                               "axis %d", d);
    }
    return HG_OK;
}

hg_status hg_he_client_activate(hg_he_client *c, const hg_he_activation *act,
                                const hg_he_tensor *in, hg_he_tensor **out) {
    *out = NULL;
    HG_TRY(check_request(act, in));
    hg_ndarray *x = NULL, *y = NULL;
    HG_TRY(hg_he_client_decrypt(c, in, &x));
    hg_status s = HG_OK;
    const size_t batch = (size_t)x->dims[0];
    if (act->masked) {
        /* Element-wise Relu or LeakyRelu, or the maximum of each group: on masked values,
         * whatever they stand for. */
        size_t grp = act->op == HG_OP_MAXPOOL ? act->group : 1, n_out = in->count / grp;
        int64_t dims[2] = {(int64_t)batch, (int64_t)n_out};
        s = hg_ndarray_new(2, dims, &y);
        for (size_t b = 0; s == HG_OK && b < batch; b++)
            for (size_t o = 0; o < n_out; o++) {
                const double *v = x->data + b * in->count + o * grp;
                double m = v[0];
                for (size_t k = 1; k < grp; k++)
                    m = v[k] > m ? v[k] : m;
                y->data[b * n_out + o] = act->op == HG_OP_MAXPOOL ? m
                                         : m > 0                  ? m
                                         : act->op == HG_OP_RELU  ? 0
                                                                  : act->alpha * m;
            }
    } else {
        hg_graph *g = NULL;
        s = request_graph(act, &g);
        const hg_ndarray *ins[1] = {x};
        if (s == HG_OK)
            s = hg_plain_eval_node(g, &g->nodes[0], ins, &y);
        if (s == HG_OK) {
            bool same = y->rank == act->out_shape.rank;
            for (int d = 0; same && d < y->rank; d++)
                same = y->dims[d] == act->out_shape.dims[d];
            if (!same)
                s = hg_fail(HG_ERR_PROTOCOL, "activation request: the output shape does not "
                            "match the op's");
        }
        hg_graph_free(g);
    }
    free_wiped(x);
    if (s == HG_OK) {
        hg_shape shape = {.rank = y->rank};
        memcpy(shape.dims, y->dims, sizeof shape.dims);
        s = encrypt_array(c, y->data, &shape, out);
    }
    free_wiped(y);
    return s;
}
