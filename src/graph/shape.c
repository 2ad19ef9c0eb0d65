/* Shape rules of each op (ONNX semantics), shared by shape inference and the plain backend. */
#include "graph.h"

#include <string.h>

#define NODE_FAIL hg_node_fail

/* Multidirectional (numpy) broadcasting of a and b into out. */
static hg_status broadcast(const hg_node *n, const hg_shape *a, const hg_shape *b, hg_shape *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            hg_shape_format(a, sa, sizeof sa);
            hg_shape_format(b, sb, sizeof sb);
            return NODE_FAIL(HG_ERR_FORMAT, n, "shapes %s and %s do not broadcast", sa, sb);
        }
        out->dims[i] = da == 1 ? db : da;
    }
    return HG_OK;
}

/* Output length of a window op along one axis; resolves auto_pad into pads[b], pads[e]. */
static hg_status window_axis(const hg_node *n, hg_window_attr *w, int ax, int64_t in, bool ceil,
                             int64_t *out) {
    int64_t k = w->kernel[ax], s = w->strides[ax], d = w->dilations[ax];
    int64_t ext = (k - 1) * d + 1; /* the window's extent */
    int64_t *pb = &w->pads[ax], *pe = &w->pads[w->n_spatial + ax];
    if (w->auto_pad == HG_PAD_VALID) {
        *pb = *pe = 0;
    } else if (w->auto_pad == HG_PAD_SAME_UPPER || w->auto_pad == HG_PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ext - in;
        if (total < 0)
            total = 0;
        *pb = w->auto_pad == HG_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
    }
    int64_t span = in + *pb + *pe - ext;
    if (span < 0)
        return NODE_FAIL(HG_ERR_FORMAT, n, "window of %lld larger than padded input %lld",
                         (long long)ext, (long long)(in + *pb + *pe));
    int64_t o = ceil ? (span + s - 1) / s + 1 : span / s + 1;
    /* With ceil_mode, a last window starting in the end padding is dropped (as PyTorch and
     * ONNX's reference do). */
    if (ceil && (o - 1) * s >= in + *pb)
        o--;
    *out = o;
    return HG_OK;
}

static hg_status window_shape(const hg_node *n, const hg_shape *x, const hg_shape *wt,
                              hg_window_attr *w, hg_shape *out) {
    if (x->rank < 3 || x->rank > 2 + HG_MAX_SPATIAL)
        return NODE_FAIL(HG_ERR_UNSUPPORTED, n, "input of rank %d (1 to %d spatial axes needed)",
                         x->rank, HG_MAX_SPATIAL);
    int ns = x->rank - 2;
    if (w->n_spatial >= 0 && w->n_spatial != ns)
        return NODE_FAIL(HG_ERR_FORMAT, n, "attributes for %d spatial axes, input has %d",
                         w->n_spatial, ns);
    if (w->n_spatial < 0) {
        /* Attributes were absent: move the end pads to their place for ns axes. */
        w->n_spatial = ns;
    }
    out->rank = x->rank;
    out->dims[0] = x->dims[0];
    if (n->op == HG_OP_CONV) {
        if (wt->rank != x->rank)
            return NODE_FAIL(HG_ERR_FORMAT, n, "weight of rank %d for input of rank %d", wt->rank,
                             x->rank);
        int64_t g = w->group;
        if (g < 1 || x->dims[1] % g || wt->dims[0] % g || wt->dims[1] * g != x->dims[1])
            return NODE_FAIL(HG_ERR_FORMAT, n,
                             "%lld input channels, weight [%lld, %lld, ...] and group %lld "
                             "do not match",
                             (long long)x->dims[1], (long long)wt->dims[0], (long long)wt->dims[1],
                             (long long)g);
        for (int i = 0; i < ns; i++) {
            if (w->has_kernel && w->kernel[i] != wt->dims[2 + i])
                return NODE_FAIL(HG_ERR_FORMAT, n, "kernel_shape differs from the weight's");
            w->kernel[i] = wt->dims[2 + i];
        }
        out->dims[1] = wt->dims[0];
    } else {
        out->dims[1] = x->dims[1];
    }
    for (int i = 0; i < ns; i++) {
        if (w->kernel[i] < 1 || w->strides[i] < 1 || w->dilations[i] < 1)
            return NODE_FAIL(HG_ERR_FORMAT, n, "kernel, strides and dilations must be >= 1");
        HG_TRY(window_axis(n, w, i, x->dims[2 + i], w->ceil_mode, &out->dims[2 + i]));
    }
    w->auto_pad = HG_PAD_NOTSET;
    return HG_OK;
}

static int64_t norm_axis(int64_t axis, int rank) {
    return axis < 0 ? axis + rank : axis;
}

hg_status hg_node_infer_shape(const hg_graph *g, const hg_node *n, const hg_shape *const *in,
                              hg_window_attr *resolved, hg_shape *out) {
    (void)g;
    const hg_shape *x = in[0];
    memset(out, 0, sizeof *out);
    switch (n->op) {
    case HG_OP_IDENTITY:
    case HG_OP_DROPOUT:
    case HG_OP_RELU:
    case HG_OP_RELU6:
    case HG_OP_CLIP:
    case HG_OP_LEAKYRELU:
    case HG_OP_SIGMOID:
    case HG_OP_TANH:
    case HG_OP_SQUARE:
        *out = *x;
        return HG_OK;
    case HG_OP_SOFTMAX: {
        int64_t ax = norm_axis(n->attr.softmax.axis, x->rank);
        if (ax < 0 || ax >= (x->rank ? x->rank : 1))
            return NODE_FAIL(HG_ERR_FORMAT, n, "axis %lld out of range for rank %d",
                             (long long)n->attr.softmax.axis, x->rank);
        *out = *x;
        return HG_OK;
    }
    case HG_OP_ADD:
    case HG_OP_SUB:
    case HG_OP_MUL:
    case HG_OP_DIV:
    case HG_OP_POW:
        return broadcast(n, x, in[1], out);
    case HG_OP_MIN: {
        *out = *x;
        for (size_t k = 1; k < n->n_inputs; k++) {
            hg_shape t = *out;
            HG_TRY(broadcast(n, &t, in[k], out));
        }
        return HG_OK;
    }
    case HG_OP_CONV:
    case HG_OP_AVERAGEPOOL:
    case HG_OP_MAXPOOL: {
        hg_window_attr w = n->attr.window;
        HG_TRY(window_shape(n, x, n->op == HG_OP_CONV ? in[1] : NULL, &w, out));
        if (n->op == HG_OP_CONV && n->n_inputs > 2 && in[2] &&
            (in[2]->rank != 1 || in[2]->dims[0] != out->dims[1]))
            return NODE_FAIL(HG_ERR_FORMAT, n, "bias is not a vector of %lld",
                             (long long)out->dims[1]);
        if (resolved)
            *resolved = w;
        return HG_OK;
    }
    case HG_OP_GLOBALAVERAGEPOOL:
        if (x->rank < 3)
            return NODE_FAIL(HG_ERR_FORMAT, n, "input of rank %d (at least 3 needed)", x->rank);
        *out = *x;
        for (int i = 2; i < x->rank; i++)
            out->dims[i] = 1;
        return HG_OK;
    case HG_OP_GEMM: {
        const hg_shape *b = in[1];
        if (x->rank != 2 || b->rank != 2)
            return NODE_FAIL(HG_ERR_FORMAT, n, "A and B must be matrices (ranks %d, %d)", x->rank,
                             b->rank);
        int64_t m = n->attr.gemm.trans_a ? x->dims[1] : x->dims[0];
        int64_t k = n->attr.gemm.trans_a ? x->dims[0] : x->dims[1];
        int64_t kb = n->attr.gemm.trans_b ? b->dims[1] : b->dims[0];
        int64_t nn = n->attr.gemm.trans_b ? b->dims[0] : b->dims[1];
        if (k != kb)
            return NODE_FAIL(HG_ERR_FORMAT, n, "inner dimensions %lld and %lld differ",
                             (long long)k, (long long)kb);
        out->rank = 2;
        out->dims[0] = m;
        out->dims[1] = nn;
        if (n->n_inputs > 2 && in[2]) {
            hg_shape t;
            HG_TRY(broadcast(n, out, in[2], &t));
            if (!hg_shape_equal(&t, out))
                return NODE_FAIL(HG_ERR_FORMAT, n, "C does not broadcast to [%lld, %lld]",
                                 (long long)m, (long long)nn);
        }
        return HG_OK;
    }
    case HG_OP_MATMUL: {
        hg_shape a = *x, b = *in[1];
        if (a.rank < 1 || b.rank < 1)
            return NODE_FAIL(HG_ERR_FORMAT, n, "operands must have rank >= 1");
        bool va = a.rank == 1, vb = b.rank == 1;
        if (va) {
            a.rank = 2;
            a.dims[1] = a.dims[0];
            a.dims[0] = 1;
        }
        if (vb) {
            b.rank = 2;
            b.dims[1] = 1;
        }
        if (a.dims[a.rank - 1] != b.dims[b.rank - 2])
            return NODE_FAIL(HG_ERR_FORMAT, n, "inner dimensions %lld and %lld differ",
                             (long long)a.dims[a.rank - 1], (long long)b.dims[b.rank - 2]);
        hg_shape ba = {.rank = a.rank - 2}, bb = {.rank = b.rank - 2};
        memcpy(ba.dims, a.dims, sizeof(int64_t) * (size_t)ba.rank);
        memcpy(bb.dims, b.dims, sizeof(int64_t) * (size_t)bb.rank);
        HG_TRY(broadcast(n, &ba, &bb, out));
        if (!va)
            out->dims[out->rank++] = a.dims[a.rank - 2];
        if (!vb)
            out->dims[out->rank++] = b.dims[b.rank - 1];
        return HG_OK;
    }
    case HG_OP_BATCHNORM:
        if (x->rank < 2)
            return NODE_FAIL(HG_ERR_FORMAT, n, "input of rank %d", x->rank);
        for (int k = 1; k < 5; k++)
            if (in[k]->rank != 1 || in[k]->dims[0] != x->dims[1])
                return NODE_FAIL(HG_ERR_FORMAT, n, "parameter %d is not a vector of %lld", k,
                                 (long long)x->dims[1]);
        *out = *x;
        return HG_OK;
    case HG_OP_FLATTEN: {
        int64_t ax = norm_axis(n->attr.axis, x->rank);
        if (ax < 0 || ax > x->rank)
            return NODE_FAIL(HG_ERR_FORMAT, n, "axis %lld out of range for rank %d",
                             (long long)n->attr.axis, x->rank);
        out->rank = 2;
        out->dims[0] = out->dims[1] = 1;
        for (int i = 0; i < x->rank; i++)
            out->dims[i < ax ? 0 : 1] *= x->dims[i];
        return HG_OK;
    }
    case HG_OP_RESHAPE: {
        const hg_reshape_attr *r = &n->attr.reshape;
        HG_ASSERT(r->rank >= 0);
        int64_t total, known = 1;
        if (!hg_shape_count(x, &total))
            return NODE_FAIL(HG_ERR_FORMAT, n, "input too large");
        int infer = -1;
        out->rank = r->rank;
        for (int i = 0; i < r->rank; i++) {
            int64_t d = r->shape[i];
            if (d == 0 && !r->allowzero) {
                if (i >= x->rank)
                    return NODE_FAIL(HG_ERR_FORMAT, n, "0 at axis %d beyond the input's rank", i);
                d = x->dims[i];
            }
            if (d == -1) {
                if (infer >= 0)
                    return NODE_FAIL(HG_ERR_FORMAT, n, "more than one -1 in the shape");
                infer = i;
                d = 1;
            } else if (d < 0) {
                return NODE_FAIL(HG_ERR_FORMAT, n, "dim %lld in the shape", (long long)d);
            }
            out->dims[i] = d;
            if (__builtin_mul_overflow(known, d, &known) || known > HG_MAX_ELEMENTS)
                return NODE_FAIL(HG_ERR_FORMAT, n, "target shape too large");
        }
        if (infer >= 0) {
            if (known == 0 || total % known)
                return NODE_FAIL(HG_ERR_FORMAT, n, "cannot infer -1: %lld elements into %lld",
                                 (long long)total, (long long)known);
            out->dims[infer] = total / known;
        } else if (known != total) {
            return NODE_FAIL(HG_ERR_FORMAT, n, "%lld elements cannot take a shape of %lld",
                             (long long)total, (long long)known);
        }
        return HG_OK;
    }
    case HG_OP_TRANSPOSE: {
        const hg_transpose_attr *t = &n->attr.transpose;
        out->rank = x->rank;
        if (t->rank == 0) {
            for (int i = 0; i < x->rank; i++)
                out->dims[i] = x->dims[x->rank - 1 - i];
            return HG_OK;
        }
        if (t->rank != x->rank)
            return NODE_FAIL(HG_ERR_FORMAT, n, "perm of %d axes for rank %d", t->rank, x->rank);
        bool seen[HG_MAX_RANK] = {false};
        for (int i = 0; i < t->rank; i++) {
            int64_t p = t->perm[i];
            if (p < 0 || p >= x->rank || seen[p])
                return NODE_FAIL(HG_ERR_FORMAT, n, "perm is not a permutation");
            seen[p] = true;
            out->dims[i] = x->dims[p];
        }
        return HG_OK;
    }
    case HG_OP_CONCAT: {
        int64_t ax = norm_axis(n->attr.axis, x->rank);
        if (ax < 0 || ax >= x->rank)
            return NODE_FAIL(HG_ERR_FORMAT, n, "axis %lld out of range for rank %d",
                             (long long)n->attr.axis, x->rank);
        *out = *x;
        for (size_t k = 1; k < n->n_inputs; k++) {
            const hg_shape *y = in[k];
            bool ok = y->rank == x->rank;
            for (int i = 0; ok && i < x->rank; i++)
                ok = i == ax || y->dims[i] == x->dims[i];
            if (!ok)
                return NODE_FAIL(HG_ERR_FORMAT, n, "input %zu does not match input 0", k);
            out->dims[ax] += y->dims[ax];
        }
        return HG_OK;
    }
    case HG_OP_PAD: {
        const hg_pad_attr *p = &n->attr.pad;
        HG_ASSERT(p->rank >= 0);
        if (p->rank != x->rank)
            return NODE_FAIL(HG_ERR_FORMAT, n, "%d pads for an input of rank %d", 2 * p->rank,
                             x->rank);
        out->rank = x->rank;
        for (int i = 0; i < x->rank; i++) {
            int64_t d = x->dims[i] + p->pads[i] + p->pads[p->rank + i];
            if (d < 0)
                return NODE_FAIL(HG_ERR_FORMAT, n, "negative size along axis %d", i);
            out->dims[i] = d;
        }
        return HG_OK;
    }
    case HG_OP_COUNT:
        break;
    }
    return hg_fail(HG_ERR_INTERNAL, "%s: op %d", __func__, (int)n->op);
}
