/*
 * Graph passes: operand resolution, identity removal, constant folding, BatchNormalization
 * folding, Square and Relu6 fusion, shape inference and the depth report.
 *
 * Every pass keeps the invariants of graph.h. Passes that remove a node rewire its consumers
 * first, and a graph output keeps its name: when the value that would replace it is itself an
 * input or another output, the node stays.
 */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static bool is_const(const hg_graph *g, int64_t v) {
    return v >= 0 && g->values[v].kind == HG_VALUE_CONSTANT;
}

static bool is_graph_output(const hg_graph *g, int64_t v) {
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

static size_t n_uses(const hg_graph *g, int64_t v) {
    size_t c = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            c += g->nodes[i].inputs[k] == v;
    return c + is_graph_output(g, v);
}

static void replace_uses(hg_graph *g, int64_t from, int64_t to) {
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == from)
                g->nodes[i].inputs[k] = to;
}

static int64_t const_count(const hg_value *v) {
    int64_t c = 0;
    HG_ASSERT(hg_shape_count(&v->shape, &c));
    return c;
}

/* Deletes node i (its output value is left without producer). */
static void delete_node(hg_graph *g, size_t i) {
    free(g->nodes[i].name);
    free(g->nodes[i].inputs);
    memmove(&g->nodes[i], &g->nodes[i + 1], (g->n_nodes - i - 1) * sizeof *g->nodes);
    g->n_nodes--;
    for (size_t j = i; j < g->n_nodes; j++)
        g->values[g->nodes[j].output].producer = (int64_t)j;
}

/* Makes node i's output value a constant holding data (n elements) of the given shape, and
 * deletes node i. */
static hg_status node_to_constant(hg_graph *g, size_t i, const hg_ndarray *a) {
    hg_value *v = &g->values[g->nodes[i].output];
    HG_TRY(hg_value_set_f64(v, a->data, a->size));
    v->kind = HG_VALUE_CONSTANT;
    v->producer = -1;
    v->shape.rank = a->rank;
    memcpy(v->shape.dims, a->dims, sizeof v->shape.dims);
    v->has_shape = true;
    delete_node(g, i);
    return HG_OK;
}

/* Removes node i, whose output y equals its input x, when that keeps output names. Returns
 * whether it did. */
static hg_status bypass(hg_graph *g, size_t i, bool *done) {
    hg_node *n = &g->nodes[i];
    int64_t x = n->inputs[0], y = n->output;
    *done = false;
    if (!is_graph_output(g, y)) {
        replace_uses(g, y, x);
        delete_node(g, i);
        *done = true;
        return HG_OK;
    }
    if (is_graph_output(g, x) || g->values[x].kind == HG_VALUE_INPUT)
        return HG_OK;
    hg_value *vx = &g->values[x], *vy = &g->values[y];
    if (vx->kind == HG_VALUE_NODE) {
        /* The producer of x writes y directly. */
        size_t p = (size_t)vx->producer;
        replace_uses(g, x, y);
        g->nodes[p].output = y;
        vx->kind = HG_VALUE_INPUT; /* orphan: dropped by compaction */
        vx->producer = -1;
        delete_node(g, i);
        vy->producer = (int64_t)p;
        vy->kind = HG_VALUE_NODE;
        *done = true;
        return HG_OK;
    }
    /* x is a constant: y becomes a constant with x's data. */
    if (vx->dtype == HG_DTYPE_INT64)
        return HG_OK;
    hg_ndarray a = {.rank = vx->shape.rank, .size = (size_t)const_count(vx), .data = vx->f64};
    memcpy(a.dims, vx->shape.dims, sizeof a.dims);
    vy->dtype = vx->dtype;
    HG_TRY(node_to_constant(g, i, &a));
    *done = true;
    return HG_OK;
}

/* Inputs that hold operands (int64 shapes and pads) rather than data. */
static bool operand_slot(hg_op op, size_t k) {
    switch (op) {
    case HG_OP_RESHAPE:
        return k == 1;
    case HG_OP_PAD:
        return k == 1;
    default:
        return false;
    }
}

/* Inputs whose value must be a constant for the node to be supported. */
static bool const_slot(hg_op op, size_t k) {
    switch (op) {
    case HG_OP_RESHAPE:
    case HG_OP_DIV:
    case HG_OP_POW:
        return k == 1;
    case HG_OP_PAD:
    case HG_OP_CLIP:
        return k >= 1;
    default:
        return false;
    }
}

bool hg_graph_input_is_operand(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_inputs);
    int64_t v = g->inputs[i];
    for (size_t j = 0; j < g->n_nodes; j++)
        for (size_t k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] == v && const_slot(g->nodes[j].op, k))
                return true;
    return false;
}

/* ---- operand resolution -----------------------------------------------------------------------
 */

static const char *const slot_names[HG_OP_COUNT][3] = {
    [HG_OP_RESHAPE] = {"data", "shape", ""},
    [HG_OP_PAD] = {"data", "pads", "constant_value"},
    [HG_OP_CLIP] = {"input", "min", "max"},
    [HG_OP_DIV] = {"A", "B", ""},
    [HG_OP_POW] = {"X", "Y", ""},
};

static hg_status need_const(const hg_graph *g, const hg_node *n, size_t k, bool strict, bool *ok) {
    *ok = false;
    if (n->inputs[k] < 0)
        return hg_node_fail(HG_ERR_FORMAT, n, "the %s operand is omitted", slot_names[n->op][k]);
    *ok = is_const(g, n->inputs[k]);
    if (!*ok && strict)
        return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                            "the %s operand '%s' must be a constant (bind it with "
                            "hg_graph_bind_input)",
                            slot_names[n->op][k], g->values[n->inputs[k]].name);
    return HG_OK;
}

static hg_status scalar_operand(const hg_graph *g, const hg_node *n, size_t k, double *out) {
    const hg_value *v = &g->values[n->inputs[k]];
    if (v->dtype == HG_DTYPE_INT64 || const_count(v) != 1)
        return hg_node_fail(HG_ERR_UNSUPPORTED, n, "input '%s' must be a float scalar",
                            slot_names[n->op][k]);
    *out = v->f64[0];
    return HG_OK;
}

hg_status hg_node_resolve(hg_graph *g, hg_node *n, bool strict) {
    if (n->resolved)
        return HG_OK;
    bool ok;
    switch (n->op) {
    case HG_OP_RESHAPE: {
        HG_TRY(need_const(g, n, 1, strict, &ok));
        if (!ok)
            return HG_OK;
        const hg_value *v = &g->values[n->inputs[1]];
        int64_t c = const_count(v);
        if (v->dtype != HG_DTYPE_INT64 || v->shape.rank != 1)
            return hg_node_fail(HG_ERR_FORMAT, n, "shape must be a 1-D int64 tensor");
        if (c > HG_MAX_RANK)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n, "target rank %lld above %d", (long long)c,
                                HG_MAX_RANK);
        n->attr.reshape.rank = (int)c;
        memcpy(n->attr.reshape.shape, v->i64, (size_t)c * sizeof(int64_t));
        break;
    }
    case HG_OP_PAD: {
        if (n->n_inputs < 2 || n->inputs[1] < 0) {
            /* Pads come from an attribute before opset 11, from an input since. */
            if (n->attr.pad.rank < 0)
                return hg_node_fail(HG_ERR_FORMAT, n, "no pads");
            break;
        }
        HG_TRY(need_const(g, n, 1, strict, &ok));
        bool ok2 = true;
        if (n->n_inputs > 2 && n->inputs[2] >= 0)
            HG_TRY(need_const(g, n, 2, strict, &ok2));
        if (!ok || !ok2)
            return HG_OK;
        const hg_value *v = &g->values[n->inputs[1]];
        int64_t c = const_count(v);
        if (v->dtype != HG_DTYPE_INT64 || v->shape.rank != 1 || c % 2)
            return hg_node_fail(HG_ERR_FORMAT, n, "pads must be a 1-D int64 tensor of even length");
        if (c > 2 * HG_MAX_RANK)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n, "%lld pads", (long long)c);
        for (int64_t i = 0; i < c; i++)
            if (v->i64[i] > HG_MAX_ELEMENTS || v->i64[i] < -HG_MAX_ELEMENTS)
                return hg_node_fail(HG_ERR_FORMAT, n, "pad %lld out of range",
                                    (long long)v->i64[i]);
        n->attr.pad.rank = (int)(c / 2);
        memcpy(n->attr.pad.pads, v->i64, (size_t)c * sizeof(int64_t));
        if (n->n_inputs > 2 && n->inputs[2] >= 0)
            HG_TRY(scalar_operand(g, n, 2, &n->attr.pad.value));
        break;
    }
    case HG_OP_CLIP: {
        bool oks[3] = {true, true, true};
        for (size_t k = 1; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                HG_TRY(need_const(g, n, k, strict, &oks[k]));
        if (!oks[1] || !oks[2])
            return HG_OK;
        if (n->n_inputs > 1 && n->inputs[1] >= 0)
            HG_TRY(scalar_operand(g, n, 1, &n->attr.clip.min));
        if (n->n_inputs > 2 && n->inputs[2] >= 0)
            HG_TRY(scalar_operand(g, n, 2, &n->attr.clip.max));
        break;
    }
    case HG_OP_DIV: {
        HG_TRY(need_const(g, n, 1, strict, &ok));
        if (!ok)
            return HG_OK;
        const hg_value *v = &g->values[n->inputs[1]];
        if (v->dtype == HG_DTYPE_INT64)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n, "data type int64");
        n->attr.divisor = const_count(v) == 1 ? v->f64[0] : NAN;
        break;
    }
    case HG_OP_POW: {
        HG_TRY(need_const(g, n, 1, strict, &ok));
        if (!ok)
            return HG_OK;
        const hg_value *v = &g->values[n->inputs[1]];
        int64_t c = const_count(v);
        for (int64_t i = 0; i < c; i++) {
            double e = v->dtype == HG_DTYPE_INT64 ? (double)v->i64[i] : v->f64[i];
            if (e != 2.0)
                return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                                    "exponent %g (only the constant exponent 2 is supported)", e);
        }
        if (c == 0)
            return hg_node_fail(HG_ERR_FORMAT, n, "empty exponent");
        break;
    }
    default:
        break;
    }
    n->resolved = true;
    return HG_OK;
}

hg_status hg_graph_resolve_operands(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++)
        HG_TRY(hg_node_resolve(g, &g->nodes[i], true));
    return HG_OK;
}

/* A Pad that adds nothing (PyTorch exports one before each AvgPool). */
static bool zero_pad(const hg_node *n) {
    if (n->op != HG_OP_PAD || !n->resolved || n->attr.pad.rank < 0)
        return false;
    for (int i = 0; i < 2 * n->attr.pad.rank; i++)
        if (n->attr.pad.pads[i] != 0)
            return false;
    return true;
}

/* ---- Identity and Dropout ---------------------------------------------------------------------
 */

hg_status hg_graph_remove_identity(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes;) {
        hg_op op = g->nodes[i].op;
        bool done = false;
        if (op == HG_OP_IDENTITY || op == HG_OP_DROPOUT || zero_pad(&g->nodes[i]))
            HG_TRY(bypass(g, i, &done));
        if (!done)
            i++;
    }
    return HG_OK;
}

/* ---- constant folding ---------------------------------------------------------------------------
 */

hg_status hg_graph_fold_constants(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes;) {
        hg_node *n = &g->nodes[i];
        bool all = true;
        for (size_t k = 0; k < n->n_inputs && all; k++) {
            int64_t v = n->inputs[k];
            if (v < 0)
                continue;
            all =
                is_const(g, v) && (operand_slot(n->op, k) || g->values[v].dtype != HG_DTYPE_INT64);
        }
        if (!all || n->n_inputs == 0) {
            i++;
            continue;
        }
        HG_TRY(hg_node_resolve(g, n, true));
        size_t m = n->n_inputs;
        hg_ndarray *views = calloc(m, sizeof *views);
        const hg_ndarray **in = calloc(m, sizeof *in);
        if (!views || !in) {
            free(views);
            free(in);
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
        }
        for (size_t k = 0; k < m; k++) {
            int64_t v = n->inputs[k];
            if (v < 0 || g->values[v].dtype == HG_DTYPE_INT64)
                continue;
            const hg_value *cv = &g->values[v];
            views[k].rank = cv->shape.rank;
            memcpy(views[k].dims, cv->shape.dims, sizeof views[k].dims);
            views[k].size = (size_t)const_count(cv);
            views[k].data = cv->f64;
            in[k] = &views[k];
        }
        hg_ndarray *y = NULL;
        hg_status s = hg_plain_eval_node(g, n, in, &y);
        hg_dtype dt = g->values[n->inputs[0]].dtype;
        free(views);
        free(in);
        if (s == HG_OK) {
            g->values[n->output].dtype = dt;
            s = node_to_constant(g, i, y);
        }
        hg_ndarray_free(y);
        HG_TRY(s);
    }
    return HG_OK;
}

/* ---- BatchNormalization into Conv / Gemm -------------------------------------------------------
 */

static hg_status new_const(hg_graph *g, const char *base, const char *suffix, const hg_shape *s,
                           hg_dtype dt, int64_t *idx) {
    char name[512];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    /* Keep names unique: append a counter while taken. */
    for (int k = 1; hg_graph_find_value(g, name) >= 0; k++)
        snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
    HG_TRY(hg_graph_add_value(g, name, HG_VALUE_CONSTANT, dt, idx));
    hg_value *v = &g->values[*idx];
    v->shape = *s;
    v->has_shape = true;
    int64_t c = 0;
    HG_ASSERT(hg_shape_count(s, &c));
    v->f64 = hg_alloc_array((size_t)c, sizeof(double));
    return v->f64 ? HG_OK : HG_ERR_NOMEM;
}

static hg_status fold_one_bn(hg_graph *g, size_t bi, bool *done) {
    *done = false;
    hg_node *bn = &g->nodes[bi];
    int64_t x = bn->inputs[0];
    for (int k = 1; k < 5; k++)
        if (!is_const(g, bn->inputs[k]) || g->values[bn->inputs[k]].dtype == HG_DTYPE_INT64)
            return HG_OK;
    if (g->values[x].kind != HG_VALUE_NODE || n_uses(g, x) != 1)
        return HG_OK;
    size_t pi = (size_t)g->values[x].producer;
    hg_node *p = &g->nodes[pi];
    if (p->op != HG_OP_CONV && p->op != HG_OP_GEMM)
        return HG_OK;
    for (size_t k = 1; k < p->n_inputs; k++)
        if (p->inputs[k] >= 0 && !is_const(g, p->inputs[k]))
            return HG_OK;
    const hg_value *w = &g->values[p->inputs[1]];
    int64_t C = const_count(&g->values[bn->inputs[1]]);
    for (int k = 1; k < 5; k++)
        if (g->values[bn->inputs[k]].shape.rank != 1 || const_count(&g->values[bn->inputs[k]]) != C)
            return HG_OK;
    /* Channel count of the producer's output. */
    int64_t M;
    if (p->op == HG_OP_CONV) {
        M = w->shape.dims[0];
    } else {
        if (w->shape.rank != 2)
            return HG_OK;
        M = p->attr.gemm.trans_b ? w->shape.dims[0] : w->shape.dims[1];
    }
    if (M != C || C < 1 || w->shape.rank < 2 || const_count(w) % C)
        return HG_OK;

    double *a = malloc((size_t)C * sizeof *a), *b = malloc((size_t)C * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    const double *sc = g->values[bn->inputs[1]].f64, *bb = g->values[bn->inputs[2]].f64;
    const double *mu = g->values[bn->inputs[3]].f64, *var = g->values[bn->inputs[4]].f64;
    for (int64_t c = 0; c < C; c++) {
        a[c] = sc[c] / sqrt(var[c] + bn->attr.bn_epsilon);
        b[c] = bb[c] - mu[c] * a[c];
    }
    hg_status s = HG_OK;
    int64_t nw, nb;
    hg_shape ws = w->shape;
    hg_dtype dt = w->dtype;
    const char *wname = w->name;
    char base[256];
    snprintf(base, sizeof base, "%s", wname);
    s = new_const(g, base, "_bn", &ws, dt, &nw);
    if (s != HG_OK)
        goto out;
    /* Pointers into g->values may have moved: re-read. */
    p = &g->nodes[pi];
    bn = &g->nodes[bi];
    w = &g->values[p->inputs[1]];
    double *W = g->values[nw].f64;
    int64_t wc = const_count(w);
    if (p->op == HG_OP_CONV) {
        int64_t per = wc / C;
        for (int64_t i = 0; i < wc; i++)
            W[i] = w->f64[i] * a[i / per];
        hg_shape bs = {.rank = 1, .dims = {C}};
        s = new_const(g, base, "_bn_bias", &bs, dt, &nb);
        if (s != HG_OK)
            goto out;
        p = &g->nodes[pi];
        double *B = g->values[nb].f64;
        const hg_value *ob = p->n_inputs > 2 && p->inputs[2] >= 0 ? &g->values[p->inputs[2]] : NULL;
        for (int64_t c = 0; c < C; c++)
            B[c] = (ob ? ob->f64[c] : 0.0) * a[c] + b[c];
    } else {
        int64_t rows = w->shape.dims[0], cols = w->shape.dims[1];
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                W[r * cols + c] = w->f64[r * cols + c] * a[p->attr.gemm.trans_b ? r : c];
        const hg_value *oc = p->n_inputs > 2 && p->inputs[2] >= 0 ? &g->values[p->inputs[2]] : NULL;
        int64_t Mrows = 1;
        if (oc && oc->shape.rank == 2 && oc->shape.dims[0] > 1)
            Mrows = oc->shape.dims[0];
        hg_shape cs = {.rank = Mrows > 1 ? 2 : 1, .dims = {Mrows > 1 ? Mrows : C, C}};
        char cbase[256];
        snprintf(cbase, sizeof cbase, "%s", oc ? oc->name : base);
        s = new_const(g, cbase, "_bn", &cs, dt, &nb);
        if (s != HG_OK)
            goto out;
        p = &g->nodes[pi];
        oc = p->n_inputs > 2 && p->inputs[2] >= 0 ? &g->values[p->inputs[2]] : NULL;
        double *B = g->values[nb].f64;
        int64_t st[2] = {0, 0};
        if (oc) {
            /* Strides that broadcast C to [Mrows, C]. */
            int r = oc->shape.rank;
            int64_t d0 = r == 2 ? oc->shape.dims[0] : 1, d1 = r >= 1 ? oc->shape.dims[r - 1] : 1;
            st[0] = d0 == 1 ? 0 : d1;
            st[1] = d1 == 1 ? 0 : 1;
        }
        for (int64_t i = 0; i < Mrows; i++)
            for (int64_t c = 0; c < C; c++)
                B[i * C + c] =
                    (oc ? p->attr.gemm.beta * oc->f64[i * st[0] + c * st[1]] : 0.0) * a[c] + b[c];
        p->attr.gemm.beta = 1.0;
    }
    /* Rewire: the producer takes the new weights and writes the BatchNorm's output. */
    {
        p = &g->nodes[pi];
        bn = &g->nodes[bi];
        int64_t *ins = realloc(p->inputs, 3 * sizeof *ins);
        if (!ins) {
            s = hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
            goto out;
        }
        p->inputs = ins;
        p->inputs[1] = nw;
        p->inputs[2] = nb;
        p->n_inputs = 3;
        int64_t y = bn->output;
        p->output = y;
        g->values[x].kind = HG_VALUE_INPUT; /* orphan: dropped by compaction */
        g->values[x].producer = -1;
        delete_node(g, bi);
        g->values[y].producer = (int64_t)pi;
        g->values[y].kind = HG_VALUE_NODE;
        *done = true;
    }
out:
    free(a);
    free(b);
    return s;
}

hg_status hg_graph_fold_batchnorm(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes;) {
        bool done = false;
        if (g->nodes[i].op == HG_OP_BATCHNORM)
            HG_TRY(fold_one_bn(g, i, &done));
        if (!done)
            i++;
    }
    return hg_graph_compact(g);
}

/* ---- Square and Relu6
 * ----------------------------------------------------------------------------- */

static bool const_all_equal(const hg_graph *g, int64_t v, double want) {
    if (!is_const(g, v))
        return false;
    const hg_value *cv = &g->values[v];
    int64_t c = const_count(cv);
    if (c == 0)
        return false;
    for (int64_t i = 0; i < c; i++) {
        double e = cv->dtype == HG_DTYPE_INT64 ? (double)cv->i64[i] : cv->f64[i];
        if (e != want)
            return false;
    }
    return true;
}

static void make_unary(hg_node *n, hg_op op, int64_t input) {
    n->op = op;
    n->inputs[0] = input;
    n->n_inputs = 1;
    n->resolved = true;
    hg_node_attr_default(op, &n->attr);
}

hg_status hg_graph_fuse_square(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        hg_node *n = &g->nodes[i];
        if (n->op == HG_OP_MUL && n->inputs[0] == n->inputs[1] && !is_const(g, n->inputs[0]))
            make_unary(n, HG_OP_SQUARE, n->inputs[0]);
        else if (n->op == HG_OP_POW && const_all_equal(g, n->inputs[1], 2.0) &&
                 const_count(&g->values[n->inputs[1]]) == 1)
            make_unary(n, HG_OP_SQUARE, n->inputs[0]);
    }
    return hg_graph_compact(g);
}

hg_status hg_graph_fuse_relu6(hg_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        hg_node *n = &g->nodes[i];
        if (n->op == HG_OP_CLIP) {
            HG_TRY(hg_node_resolve(g, n, false));
            if (n->resolved && n->attr.clip.min == 0.0 && n->attr.clip.max == 6.0)
                make_unary(n, HG_OP_RELU6, n->inputs[0]);
            continue;
        }
        if (n->op != HG_OP_MIN || n->n_inputs != 2)
            continue;
        for (int side = 0; side < 2; side++) {
            int64_t r = n->inputs[side], c = n->inputs[1 - side];
            if (!const_all_equal(g, r == c ? -1 : c, 6.0) || const_count(&g->values[c]) != 1)
                continue;
            if (g->values[r].kind != HG_VALUE_NODE)
                continue;
            const hg_node *p = &g->nodes[g->values[r].producer];
            if (p->op != HG_OP_RELU)
                continue;
            /* The Relu's own output stays if someone else reads it. */
            make_unary(n, HG_OP_RELU6, p->inputs[0]);
            break;
        }
    }
    return hg_graph_compact(g);
}

/* ---- shape inference
 * -------------------------------------------------------------------------------- */

hg_status hg_graph_infer_shapes(hg_graph *g, int64_t batch) {
    for (size_t i = 0; i < g->n_inputs; i++) {
        hg_value *v = &g->values[g->inputs[i]];
        if (!v->has_shape)
            return hg_fail(HG_ERR_FORMAT, "input '%s' has no shape", v->name);
        if (v->shape.rank == 0)
            continue;
        if (batch > 0)
            v->shape.dims[0] = batch;
        else if (v->shape.dims[0] < 0)
            v->shape.dims[0] = 1;
        int64_t c;
        if (!hg_shape_count(&v->shape, &c))
            return hg_fail(HG_ERR_LIMIT, "input '%s' has more than %lld elements for batch %lld",
                           v->name, (long long)HG_MAX_ELEMENTS, (long long)batch);
    }
    for (size_t i = 0; i < g->n_values; i++)
        if (g->values[i].kind == HG_VALUE_NODE)
            g->values[i].has_shape = false;
    for (size_t i = 0; i < g->n_nodes; i++) {
        hg_node *n = &g->nodes[i];
        HG_TRY(hg_node_resolve(g, n, true));
        const hg_shape *ptrs[16];
        const hg_shape **in = ptrs;
        const hg_shape **heap = NULL;
        if (n->n_inputs > 16) {
            heap = malloc(n->n_inputs * sizeof *heap);
            if (!heap)
                return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
            in = heap;
        }
        hg_status s = HG_OK;
        for (size_t k = 0; k < n->n_inputs && s == HG_OK; k++) {
            int64_t v = n->inputs[k];
            if (v < 0) {
                in[k] = NULL;
                continue;
            }
            const hg_value *val = &g->values[v];
            if (!val->has_shape)
                s = hg_node_fail(HG_ERR_FORMAT, n, "input '%s' has no shape", val->name);
            else if (val->dtype == HG_DTYPE_INT64 && !operand_slot(n->op, k))
                s = hg_node_fail(HG_ERR_UNSUPPORTED, n, "input '%s' has data type int64",
                                 val->name);
            in[k] = &val->shape;
        }
        if (n->inputs[0] < 0 && s == HG_OK)
            s = hg_node_fail(HG_ERR_FORMAT, n, "first input omitted");
        hg_shape out;
        hg_window_attr w;
        if (s == HG_OK)
            s = hg_node_infer_shape(g, n, in, &w, &out);
        free(heap);
        HG_TRY(s);
        int64_t c;
        if (!hg_shape_count(&out, &c))
            return hg_node_fail(HG_ERR_LIMIT, n, "output has more than %lld elements",
                                (long long)HG_MAX_ELEMENTS);
        if (n->op == HG_OP_CONV || n->op == HG_OP_AVERAGEPOOL || n->op == HG_OP_MAXPOOL)
            n->attr.window = w;
        hg_value *o = &g->values[n->output];
        o->shape = out;
        o->has_shape = true;
        o->dtype = g->values[n->inputs[0]].dtype;
    }
    g->batch = batch;
    return HG_OK;
}

/* ---- the pipeline
 * ---------------------------------------------------------------------------------- */

hg_status hg_graph_optimize(hg_graph *g, int64_t batch) {
    HG_TRY(hg_graph_check(g));
    HG_TRY(hg_graph_remove_identity(g));
    HG_TRY(hg_graph_fold_constants(g));
    HG_TRY(hg_graph_resolve_operands(g));
    HG_TRY(hg_graph_fold_batchnorm(g));
    HG_TRY(hg_graph_fuse_square(g));
    HG_TRY(hg_graph_fuse_relu6(g));
    HG_TRY(hg_graph_compact(g));
    HG_TRY(hg_graph_infer_shapes(g, batch));
    return hg_graph_check(g);
}

/* ---- depth report
 * ------------------------------------------------------------------------------------- */

hg_status hg_graph_depth_report(const hg_graph *g, hg_depth_report *out) {
    memset(out, 0, sizeof *out);
    int *depth = malloc((g->n_values ? g->n_values : 1) * sizeof *depth);
    hg_depth_segment *seg = malloc((g->n_nodes + 1) * sizeof *seg);
    if (!depth || !seg) {
        free(depth);
        free(seg);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    /* depth -1: not encrypted (constants and what is computed from them alone). */
    for (size_t i = 0; i < g->n_values; i++)
        depth[i] = g->values[i].kind == HG_VALUE_INPUT ? 0 : -1;
    size_t ns = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const hg_node *n = &g->nodes[i];
        const hg_op_info *info = hg_op_get_info(n->op);
        int d = -1;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && depth[n->inputs[k]] > d)
                d = depth[n->inputs[k]];
        if (info->needs_client) {
            seg[ns].end_node = (int64_t)i;
            seg[ns].depth = d < 0 ? 0 : d;
            ns++;
            depth[n->output] = d < 0 ? -1 : 0;
        } else {
            depth[n->output] = d < 0 ? -1 : d + info->mult_depth;
        }
    }
    int d = 0;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (depth[g->outputs[i]] > d)
            d = depth[g->outputs[i]];
    seg[ns].end_node = -1;
    seg[ns].depth = d;
    ns++;
    out->n_segments = ns;
    out->segments = seg;
    out->max_depth = 0;
    for (size_t i = 0; i < ns; i++)
        if (seg[i].depth > out->max_depth)
            out->max_depth = seg[i].depth;
    free(depth);
    return HG_OK;
}

void hg_depth_report_clear(hg_depth_report *r) {
    if (!r)
        return;
    free(r->segments);
    r->segments = NULL;
    r->n_segments = 0;
}
