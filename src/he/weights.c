/*
 * The linear map of each linear op, as sparse rows over the per-sample coordinates (row-major,
 * batch axis excluded): y = A x + b. These are the op's ONNX semantics, written once more for
 * the encrypted backend; tests check them against the plain backend on random inputs.
 */
#include "he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A growable builder of CSR rows. */
typedef struct builder {
    he_linear *l;
    size_t cap;
    size_t nnz;
    bool skip_zero;
} builder;

static hg_status builder_init(builder *b, size_t n_rows, size_t n_cols, size_t nnz_hint,
                              bool skip_zero) {
    memset(b, 0, sizeof *b);
    if (n_rows >= UINT32_MAX || n_cols >= UINT32_MAX)
        return hg_fail(HG_ERR_LIMIT, "linear layer of %zu x %zu coordinates is too large",
                       n_rows, n_cols);
    he_linear *l = calloc(1, sizeof *l);
    if (!l)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    l->n_rows = n_rows;
    l->n_cols = n_cols;
    l->row_ptr = hg_alloc_array(n_rows + 1, sizeof *l->row_ptr);
    b->cap = nnz_hint ? nnz_hint : 16;
    l->col = hg_alloc_array(b->cap, sizeof *l->col);
    l->a = hg_alloc_array(b->cap, sizeof *l->a);
    b->l = l;
    b->skip_zero = skip_zero;
    if (!l->row_ptr || !l->col || !l->a) {
        he_linear_free(l);
        b->l = NULL;
        return HG_ERR_NOMEM;
    }
    return HG_OK;
}

static hg_status builder_add(builder *b, size_t col, double a) {
    if (b->skip_zero && a == 0.0)
        return HG_OK;
    if (b->nnz == b->cap) {
        size_t cap = b->cap * 2;
        if (cap >= UINT32_MAX)
            return hg_fail(HG_ERR_LIMIT, "linear layer has more than 2^32 weights");
        uint32_t *c = realloc(b->l->col, cap * sizeof *c);
        if (c)
            b->l->col = c;
        double *a2 = c ? realloc(b->l->a, cap * sizeof *a2) : NULL;
        if (!c || !a2)
            return hg_fail(HG_ERR_NOMEM, "out of memory building weights");
        b->l->a = a2;
        b->cap = cap;
    }
    b->l->col[b->nnz] = (uint32_t)col;
    b->l->a[b->nnz] = a;
    b->nnz++;
    return HG_OK;
}

/* Ends row r (rows are added in order). */
static void builder_end_row(builder *b, size_t r) {
    b->l->row_ptr[r + 1] = (uint32_t)b->nnz;
}

static hg_status builder_bias(builder *b) {
    b->l->b = hg_alloc_array(b->l->n_rows, sizeof(double));
    return b->l->b ? HG_OK : HG_ERR_NOMEM;
}

void he_linear_free(he_linear *l) {
    if (!l)
        return;
    free(l->col);
    free(l->a);
    hg_free(l->row_ptr);
    hg_free(l->w);
    hg_free(l->b);
    hg_free(l->bias);
    hg_free(l->bias_i);
    free(l);
}

/* Product of dims [from, rank). */
static size_t dims_product(const hg_shape *s, int from) {
    size_t p = 1;
    for (int i = from; i < s->rank; i++)
        p *= (size_t)s->dims[i];
    return p;
}

static const hg_value *value(const hg_graph *g, int64_t v) {
    return &g->values[v];
}

/* ---- Conv -------------------------------------------------------------------------------- */

static hg_status build_conv(const hg_graph *g, const hg_node *n, bool skip_zero,
                            he_linear **out) {
    const hg_shape *xs = &value(g, n->inputs[0])->shape, *ys = &value(g, n->output)->shape;
    const hg_value *wv = value(g, n->inputs[1]);
    const hg_value *bv = n->n_inputs > 2 && n->inputs[2] >= 0 ? value(g, n->inputs[2]) : NULL;
    const hg_window_attr *a = &n->attr.window;
    const int ns = a->n_spatial;
    const size_t C = (size_t)xs->dims[1], M = (size_t)ys->dims[1];
    const size_t group = (size_t)a->group, cpg = C / group, mpg = M / group;
    size_t in_sp = dims_product(xs, 2), out_sp = dims_product(ys, 2);
    size_t ksize = 1;
    int64_t kdims[HG_MAX_SPATIAL];
    for (int d = 0; d < ns; d++) {
        kdims[d] = wv->shape.dims[2 + d];
        ksize *= (size_t)kdims[d];
    }
    builder b;
    HG_TRY(builder_init(&b, M * out_sp, C * in_sp, M * out_sp * cpg * ksize, skip_zero));
    hg_status s = bv ? builder_bias(&b) : HG_OK;
    size_t row = 0;
    for (size_t m = 0; m < M && s == HG_OK; m++) {
        size_t grp = m / mpg;
        for (size_t o = 0; o < out_sp && s == HG_OK; o++, row++) {
            /* output spatial multi-index */
            int64_t oi[HG_MAX_SPATIAL];
            size_t rem = o;
            for (int d = ns - 1; d >= 0; d--) {
                oi[d] = (int64_t)(rem % (size_t)ys->dims[2 + d]);
                rem /= (size_t)ys->dims[2 + d];
            }
            for (size_t cc = 0; cc < cpg && s == HG_OK; cc++) {
                size_t c = grp * cpg + cc;
                for (size_t k = 0; k < ksize && s == HG_OK; k++) {
                    int64_t ki[HG_MAX_SPATIAL];
                    size_t kr = k;
                    for (int d = ns - 1; d >= 0; d--) {
                        ki[d] = (int64_t)(kr % (size_t)kdims[d]);
                        kr /= (size_t)kdims[d];
                    }
                    size_t col = c;
                    bool inside = true;
                    for (int d = 0; d < ns; d++) {
                        int64_t p = oi[d] * a->strides[d] - a->pads[d] + ki[d] * a->dilations[d];
                        if (p < 0 || p >= xs->dims[2 + d])
                            inside = false;
                        col = col * (size_t)xs->dims[2 + d] + (size_t)(p < 0 ? 0 : p);
                    }
                    if (!inside)
                        continue; /* padding: a zero input, no term */
                    double w = wv->f64[(m * cpg + cc) * ksize + k];
                    s = builder_add(&b, col, w);
                }
            }
            builder_end_row(&b, row);
            if (bv)
                b.l->b[row] = bv->f64[m];
        }
    }
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    *out = b.l;
    return HG_OK;
}

/* ---- pooling ------------------------------------------------------------------------------- */

static hg_status build_avgpool(const hg_graph *g, const hg_node *n, bool global,
                               he_linear **out) {
    const hg_shape *xs = &value(g, n->inputs[0])->shape, *ys = &value(g, n->output)->shape;
    const size_t C = (size_t)xs->dims[1];
    const size_t in_sp = dims_product(xs, 2), out_sp = dims_product(ys, 2);
    builder b;
    if (global) {
        HG_TRY(builder_init(&b, C, C * in_sp, C * in_sp, false));
        hg_status s = HG_OK;
        for (size_t c = 0; c < C && s == HG_OK; c++) {
            for (size_t k = 0; k < in_sp && s == HG_OK; k++)
                s = builder_add(&b, c * in_sp + k, 1.0 / (double)in_sp);
            builder_end_row(&b, c);
        }
        if (s != HG_OK) {
            he_linear_free(b.l);
            return s;
        }
        *out = b.l;
        return HG_OK;
    }
    const hg_window_attr *a = &n->attr.window;
    const int ns = a->n_spatial;
    size_t ksize = 1;
    for (int d = 0; d < ns; d++)
        ksize *= (size_t)a->kernel[d];
    HG_TRY(builder_init(&b, C * out_sp, C * in_sp, C * out_sp * ksize, false));
    hg_status s = HG_OK;
    size_t row = 0;
    uint32_t *cols = malloc(ksize * sizeof *cols);
    if (!cols) {
        he_linear_free(b.l);
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    }
    for (size_t c = 0; c < C && s == HG_OK; c++)
        for (size_t o = 0; o < out_sp && s == HG_OK; o++, row++) {
            int64_t oi[HG_MAX_SPATIAL];
            size_t rem = o;
            for (int d = ns - 1; d >= 0; d--) {
                oi[d] = (int64_t)(rem % (size_t)ys->dims[2 + d]);
                rem /= (size_t)ys->dims[2 + d];
            }
            size_t n_in = 0, n_pad = 0;
            for (size_t k = 0; k < ksize; k++) {
                size_t kr = k, col = c;
                int64_t ki[HG_MAX_SPATIAL];
                for (int d = ns - 1; d >= 0; d--) {
                    ki[d] = (int64_t)(kr % (size_t)a->kernel[d]);
                    kr /= (size_t)a->kernel[d];
                }
                bool inside = true, in_padded = true;
                for (int d = 0; d < ns; d++) {
                    int64_t p = oi[d] * a->strides[d] - a->pads[d] + ki[d] * a->dilations[d];
                    if (p < 0 || p >= xs->dims[2 + d])
                        inside = false;
                    /* Positions in the explicit padding count with count_include_pad; those a
                     * ceil_mode window reaches beyond it never do. */
                    if (p < -a->pads[d] || p >= xs->dims[2 + d] + a->pads[ns + d])
                        in_padded = false;
                    col = col * (size_t)xs->dims[2 + d] + (size_t)(p < 0 ? 0 : p);
                }
                if (inside)
                    cols[n_in++] = (uint32_t)col;
                else if (in_padded)
                    n_pad++;
            }
            double div = (double)(a->count_include_pad ? n_in + n_pad : n_in);
            for (size_t k = 0; k < n_in && s == HG_OK; k++)
                s = builder_add(&b, cols[k], div > 0 ? 1.0 / div : 0.0);
            builder_end_row(&b, row);
        }
    free(cols);
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    *out = b.l;
    return HG_OK;
}

/* ---- Gemm and MatMul ----------------------------------------------------------------------- */

/* Index into a constant broadcast against a per-sample shape (full shape `full`, batch axis 0
 * excluded from the coordinate): numpy rules, right-aligned. */
static size_t broadcast_index(const hg_shape *cs, const hg_shape *full, size_t coord) {
    size_t idx = 0, stride = 1;
    size_t rem = coord;
    for (int d = full->rank - 1; d >= 1; d--) {
        size_t pos = rem % (size_t)full->dims[d];
        rem /= (size_t)full->dims[d];
        int cd = cs->rank - (full->rank - d);
        if (cd >= 0) {
            size_t dim = (size_t)cs->dims[cd];
            if (dim != 1)
                idx += pos * stride;
            stride *= dim;
        }
    }
    return idx;
}

static hg_status build_gemm(const hg_graph *g, const hg_node *n, bool skip_zero,
                            he_linear **out) {
    const hg_gemm_attr *a = &n->attr.gemm;
    const hg_shape *xs = &value(g, n->inputs[0])->shape, *ys = &value(g, n->output)->shape;
    const hg_value *bw = value(g, n->inputs[1]);
    const hg_value *cv = n->n_inputs > 2 && n->inputs[2] >= 0 ? value(g, n->inputs[2]) : NULL;
    if (a->trans_a)
        return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                            "transA moves the batch axis, which encrypted inputs cannot do");
    const size_t K = (size_t)xs->dims[1], M = (size_t)ys->dims[1];
    builder b;
    HG_TRY(builder_init(&b, M, K, M * K, skip_zero));
    hg_status s = cv ? builder_bias(&b) : HG_OK;
    for (size_t m = 0; m < M && s == HG_OK; m++) {
        for (size_t k = 0; k < K && s == HG_OK; k++) {
            double w = a->trans_b ? bw->f64[m * K + k] : bw->f64[k * M + m];
            s = builder_add(&b, k, a->alpha * w);
        }
        builder_end_row(&b, m);
        if (cv)
            b.l->b[m] = a->beta * cv->f64[broadcast_index(&cv->shape, ys, m)];
    }
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    *out = b.l;
    return HG_OK;
}

static hg_status build_matmul(const hg_graph *g, const hg_node *n, bool skip_zero,
                              he_linear **out) {
    const hg_value *bw = value(g, n->inputs[1]);
    const hg_shape *xs = &value(g, n->inputs[0])->shape, *ys = &value(g, n->output)->shape;
    if (bw->kind != HG_VALUE_CONSTANT || bw->shape.rank != 2 || xs->rank < 2)
        return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                            "only x @ W with a constant 2-D W runs on encrypted x");
    const size_t K = (size_t)bw->shape.dims[0], M = (size_t)bw->shape.dims[1];
    const size_t outer = dims_product(xs, 1) / K;
    builder b;
    HG_TRY(builder_init(&b, outer * M, outer * K, outer * M * K, skip_zero));
    hg_status s = HG_OK;
    size_t row = 0;
    for (size_t o = 0; o < outer && s == HG_OK; o++)
        for (size_t m = 0; m < M && s == HG_OK; m++, row++) {
            for (size_t k = 0; k < K && s == HG_OK; k++)
                s = builder_add(&b, o * K + k, bw->f64[k * M + m]);
            builder_end_row(&b, row);
        }
    (void)ys;
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    *out = b.l;
    return HG_OK;
}

/* ---- element-wise with a constant ----------------------------------------------------------- */

/* y = x * c (mode 'm'), x / c ('d'), x + c ('a'), x - c ('s'), c - x ('r'), with c broadcast;
 * x may itself be broadcast to the output's shape. The additive forms use integer weights +-1
 * applied without scaling (wscale 0), so they consume no level. */
static hg_status build_elementwise(const hg_graph *g, const hg_node *n, int x_pos, char mode,
                                   bool skip_zero, he_linear **out) {
    const hg_value *xv = value(g, n->inputs[x_pos]);
    const hg_value *cv = value(g, n->inputs[1 - x_pos]);
    const hg_shape *ys = &value(g, n->output)->shape;
    const size_t rows = dims_product(ys, 1), cols = dims_product(&xv->shape, 1);
    bool additive = mode == 'a' || mode == 's' || mode == 'r';
    builder b;
    HG_TRY(builder_init(&b, rows, cols, rows, skip_zero && !additive));
    hg_status s = additive ? builder_bias(&b) : HG_OK;
    for (size_t r = 0; r < rows && s == HG_OK; r++) {
        size_t xc = broadcast_index(&xv->shape, ys, r);
        double c = cv->f64[broadcast_index(&cv->shape, ys, r)];
        if (mode == 'm' || mode == 'd') {
            s = builder_add(&b, xc, mode == 'm' ? c : 1.0 / c);
        } else {
            s = builder_add(&b, xc, mode == 'r' ? -1.0 : 1.0);
            b.l->b[r] = mode == 's' ? -c : c;
        }
        builder_end_row(&b, r);
    }
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    b.l->scaled = !additive;
    *out = b.l;
    return HG_OK;
}

static hg_status build_batchnorm(const hg_graph *g, const hg_node *n, he_linear **out) {
    const hg_shape *xs = &value(g, n->inputs[0])->shape;
    const double *gamma = value(g, n->inputs[1])->f64, *beta = value(g, n->inputs[2])->f64;
    const double *mean = value(g, n->inputs[3])->f64, *var = value(g, n->inputs[4])->f64;
    const size_t C = (size_t)xs->dims[1], sp = dims_product(xs, 2);
    builder b;
    HG_TRY(builder_init(&b, C * sp, C * sp, C * sp, false));
    hg_status s = builder_bias(&b);
    for (size_t c = 0; c < C && s == HG_OK; c++) {
        double a = gamma[c] / sqrt(var[c] + n->attr.bn_epsilon);
        for (size_t k = 0; k < sp && s == HG_OK; k++) {
            size_t r = c * sp + k;
            s = builder_add(&b, r, a);
            builder_end_row(&b, r);
            b.l->b[r] = beta[c] - mean[c] * a;
        }
    }
    if (s != HG_OK) {
        he_linear_free(b.l);
        return s;
    }
    *out = b.l;
    return HG_OK;
}

hg_status he_linear_build(const hg_graph *g, size_t node, int x_pos, bool skip_zero,
                          he_linear **out) {
    *out = NULL;
    const hg_node *n = &g->nodes[node];
    hg_status s;
    switch (n->op) {
    case HG_OP_CONV: s = build_conv(g, n, skip_zero, out); break;
    case HG_OP_AVERAGEPOOL: s = build_avgpool(g, n, false, out); break;
    case HG_OP_GLOBALAVERAGEPOOL: s = build_avgpool(g, n, true, out); break;
    case HG_OP_GEMM: s = build_gemm(g, n, skip_zero, out); break;
    case HG_OP_MATMUL: s = build_matmul(g, n, skip_zero, out); break;
    case HG_OP_BATCHNORM: s = build_batchnorm(g, n, out); break;
    case HG_OP_MUL: s = build_elementwise(g, n, x_pos, 'm', skip_zero, out); break;
    case HG_OP_DIV:
        if (x_pos != 0)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n, "division by an encrypted value");
        s = build_elementwise(g, n, 0, 'd', skip_zero, out);
        break;
    case HG_OP_ADD: s = build_elementwise(g, n, x_pos, 'a', false, out); break;
    case HG_OP_SUB: s = build_elementwise(g, n, x_pos, x_pos == 0 ? 's' : 'r', false, out); break;
    default:
        return hg_node_fail(HG_ERR_INTERNAL, n, "not a linear op");
    }
    if (s != HG_OK)
        return s;
    he_linear *l = *out;
    if (n->op != HG_OP_ADD && n->op != HG_OP_SUB)
        l->scaled = true;
    /* Rows with one shared column list let the engine serve several rows per load. */
    l->dense = l->n_rows > 1;
    const uint32_t len = l->row_ptr[1];
    for (size_t r = 1; r < l->n_rows && l->dense; r++) {
        const uint32_t *c = l->col + l->row_ptr[r];
        l->dense = l->row_ptr[r + 1] - l->row_ptr[r] == len &&
                   memcmp(c, l->col, len * sizeof *c) == 0;
    }
    return HG_OK;
}
