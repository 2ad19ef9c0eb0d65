/* Graph construction, queries, the invariant check, compaction and input binding. */
#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

hg_status hg_node_fail(hg_status s, const hg_node *n, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const hg_op_info *info = hg_op_get_info(n->op);
    return hg_fail(s, "%s node '%s': %s", info ? info->name : "?", n->name, msg);
}

hg_status hg_graph_new(hg_graph **out) {
    *out = NULL;
    hg_graph *g = calloc(1, sizeof *g);
    if (!g)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    *out = g;
    return HG_OK;
}

static void value_clear(hg_value *v) {
    free(v->name);
    hg_free(v->f64);
    hg_free(v->i64);
    v->name = NULL;
    v->f64 = NULL;
    v->i64 = NULL;
}

void hg_graph_free(hg_graph *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n_values; i++)
        value_clear(&g->values[i]);
    for (size_t i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].inputs);
    }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

static hg_status grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return HG_OK;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    size_t bytes;
    if (!hg_mul_size(c, elem, &bytes))
        return hg_fail(HG_ERR_NOMEM, "graph: too many entries");
    void *q = realloc(*p, bytes);
    if (!q)
        return hg_fail(HG_ERR_NOMEM, "graph: out of memory");
    *p = q;
    *cap = c;
    return HG_OK;
}

int64_t hg_graph_find_value(const hg_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_values; i++)
        if (!strcmp(g->values[i].name, name))
            return (int64_t)i;
    return -1;
}

hg_status hg_graph_add_value(hg_graph *g, const char *name, hg_value_kind kind, hg_dtype dtype,
                             int64_t *idx) {
    HG_TRY(grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values));
    hg_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    v->kind = kind;
    v->dtype = dtype;
    v->producer = -1;
    *idx = (int64_t)g->n_values++;
    return HG_OK;
}

hg_status hg_graph_add_node(hg_graph *g, hg_op op, const char *name, const int64_t *inputs,
                            size_t n_inputs, int64_t output, const hg_node_attr *attr) {
    HG_ASSERT(output >= 0 && (size_t)output < g->n_values);
    HG_TRY(grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes));
    hg_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = dup_str(name ? name : "");
    n->inputs = malloc((n_inputs ? n_inputs : 1) * sizeof *n->inputs);
    if (!n->name || !n->inputs) {
        free(n->name);
        free(n->inputs);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    if (n_inputs)
        memcpy(n->inputs, inputs, n_inputs * sizeof *inputs);
    n->n_inputs = n_inputs;
    n->output = output;
    if (attr)
        n->attr = *attr;
    else
        hg_node_attr_default(op, &n->attr);
    g->values[output].kind = HG_VALUE_NODE;
    g->values[output].producer = (int64_t)g->n_nodes;
    g->n_nodes++;
    return HG_OK;
}

static hg_status push_index(int64_t **arr, size_t *n, int64_t v) {
    int64_t *q = realloc(*arr, (*n + 1) * sizeof *q);
    if (!q)
        return hg_fail(HG_ERR_NOMEM, "graph: out of memory");
    q[(*n)++] = v;
    *arr = q;
    return HG_OK;
}

hg_status hg_graph_add_input(hg_graph *g, int64_t value) {
    return push_index(&g->inputs, &g->n_inputs, value);
}

hg_status hg_graph_add_output(hg_graph *g, int64_t value) {
    return push_index(&g->outputs, &g->n_outputs, value);
}

hg_status hg_value_set_f64(hg_value *v, const double *data, size_t n) {
    double *d = hg_alloc_array(n, sizeof *d);
    if (!d)
        return HG_ERR_NOMEM;
    if (n)
        memcpy(d, data, n * sizeof *d);
    hg_free(v->f64);
    v->f64 = d;
    return HG_OK;
}

hg_status hg_value_set_i64(hg_value *v, const int64_t *data, size_t n) {
    int64_t *d = hg_alloc_array(n, sizeof *d);
    if (!d)
        return HG_ERR_NOMEM;
    if (n)
        memcpy(d, data, n * sizeof *d);
    hg_free(v->i64);
    v->i64 = d;
    return HG_OK;
}

hg_status hg_graph_check(const hg_graph *g) {
    bool *ready = calloc(g->n_values ? g->n_values : 1, sizeof *ready);
    if (!ready)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    hg_status s = HG_OK;
    for (size_t i = 0; i < g->n_values; i++) {
        const hg_value *v = &g->values[i];
        if (v->kind == HG_VALUE_CONSTANT) {
            ready[i] = true;
            if (!(v->dtype == HG_DTYPE_INT64 ? v->i64 != NULL : v->f64 != NULL)) {
                s = hg_fail(HG_ERR_FORMAT, "graph: constant '%s' has no data", v->name);
                goto out;
            }
        }
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        int64_t v = g->inputs[i];
        if (v < 0 || (size_t)v >= g->n_values || g->values[v].kind != HG_VALUE_INPUT) {
            s = hg_fail(HG_ERR_FORMAT, "graph: input %zu is not an input value", i);
            goto out;
        }
        ready[v] = true;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const hg_node *n = &g->nodes[i];
        const hg_op_info *info = hg_op_get_info(n->op);
        if (!info || (int)n->n_inputs < info->min_inputs ||
            (info->max_inputs >= 0 && (int)n->n_inputs > info->max_inputs)) {
            s = hg_fail(HG_ERR_FORMAT, "graph: node '%s' (%s) has %zu inputs", n->name,
                        info ? info->name : "?", n->n_inputs);
            goto out;
        }
        for (size_t k = 0; k < n->n_inputs; k++) {
            int64_t v = n->inputs[k];
            if (v == -1)
                continue;
            if (v < 0 || (size_t)v >= g->n_values || !ready[v]) {
                s = hg_fail(HG_ERR_FORMAT,
                            "graph: node '%s' (%s): input %zu '%s' is not computed before it "
                            "(unknown value or cycle)",
                            n->name, info->name, k,
                            v >= 0 && (size_t)v < g->n_values ? g->values[v].name : "?");
                goto out;
            }
        }
        int64_t o = n->output;
        if (o < 0 || (size_t)o >= g->n_values || ready[o] || g->values[o].producer != (int64_t)i) {
            s = hg_fail(HG_ERR_FORMAT, "graph: node '%s' (%s): output is produced twice", n->name,
                        info->name);
            goto out;
        }
        ready[o] = true;
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        int64_t v = g->outputs[i];
        if (v < 0 || (size_t)v >= g->n_values || !ready[v]) {
            s = hg_fail(HG_ERR_FORMAT, "graph: output %zu '%s' is never computed", i,
                        v >= 0 && (size_t)v < g->n_values ? g->values[v].name : "?");
            goto out;
        }
    }
out:
    free(ready);
    return s;
}

/* ---- queries ----------------------------------------------------------------------------- */

size_t hg_graph_n_inputs(const hg_graph *g) {
    return g->n_inputs;
}
size_t hg_graph_n_outputs(const hg_graph *g) {
    return g->n_outputs;
}
size_t hg_graph_n_nodes(const hg_graph *g) {
    return g->n_nodes;
}
const char *hg_graph_input_name(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_inputs);
    return g->values[g->inputs[i]].name;
}
const char *hg_graph_output_name(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_outputs);
    return g->values[g->outputs[i]].name;
}
void hg_graph_input_shape(const hg_graph *g, size_t i, hg_shape *shape, hg_dtype *dtype) {
    HG_ASSERT(i < g->n_inputs);
    const hg_value *v = &g->values[g->inputs[i]];
    if (shape)
        *shape = v->shape;
    if (dtype)
        *dtype = v->dtype;
}
void hg_graph_output_shape(const hg_graph *g, size_t i, hg_shape *shape, hg_dtype *dtype) {
    HG_ASSERT(i < g->n_outputs);
    const hg_value *v = &g->values[g->outputs[i]];
    if (shape) {
        if (v->has_shape)
            *shape = v->shape;
        else
            memset(shape, 0, sizeof *shape);
    }
    if (dtype)
        *dtype = v->dtype;
}
hg_op hg_graph_node_op(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_nodes);
    return g->nodes[i].op;
}
const char *hg_graph_node_name(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_nodes);
    return g->nodes[i].name;
}
void hg_graph_node_shape(const hg_graph *g, size_t i, hg_shape *shape) {
    HG_ASSERT(i < g->n_nodes);
    const hg_value *v = &g->values[g->nodes[i].output];
    if (v->has_shape)
        *shape = v->shape;
    else
        memset(shape, 0, sizeof *shape);
}

bool hg_graph_node_has_const_weights(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_nodes);
    const hg_node *n = &g->nodes[i];
    int non_const = 0;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && g->values[n->inputs[k]].kind != HG_VALUE_CONSTANT)
            non_const++;
    return non_const == 1;
}

int64_t hg_graph_param_count(const hg_graph *g) {
    bool *used = calloc(g->n_values ? g->n_values : 1, sizeof *used);
    HG_ASSERT(used);
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                used[g->nodes[i].inputs[k]] = true;
    int64_t total = 0;
    for (size_t i = 0; i < g->n_values; i++) {
        const hg_value *v = &g->values[i];
        int64_t c;
        if (used[i] && v->kind == HG_VALUE_CONSTANT && v->dtype != HG_DTYPE_INT64 &&
            hg_shape_count(&v->shape, &c))
            total += c;
    }
    free(used);
    return total;
}

/* Whether constant value v, broadcast against an output of rank r, varies along axis 0. */
static bool const_varies_on_batch(const hg_value *v, int r) {
    if (v->shape.rank < r)
        return false; /* broadcast from the right: axis 0 is added with size 1 */
    return v->shape.dims[0] != 1;
}

bool hg_graph_node_keeps_batch(const hg_graph *g, size_t i) {
    HG_ASSERT(i < g->n_nodes);
    const hg_node *n = &g->nodes[i];
    const hg_value *out = &g->values[n->output];
    const hg_value *x = n->inputs[0] >= 0 ? &g->values[n->inputs[0]] : NULL;
    if (!out->has_shape || !x || !x->has_shape || out->shape.rank == 0)
        return false;
    int r = out->shape.rank;
    switch (n->op) {
    case HG_OP_TRANSPOSE: {
        if (n->attr.transpose.rank == 0)
            return r == 1;
        return n->attr.transpose.perm[0] == 0;
    }
    case HG_OP_FLATTEN:
    case HG_OP_RESHAPE:
        /* Row-major: if axis 0 keeps its length, sample b keeps its contiguous block. */
        return x->shape.rank >= 1 && out->shape.dims[0] == x->shape.dims[0] &&
               (n->op != HG_OP_FLATTEN || n->attr.axis != 0);
    case HG_OP_CONCAT: {
        int64_t ax = n->attr.axis < 0 ? n->attr.axis + r : n->attr.axis;
        if (ax == 0)
            return false;
        break;
    }
    case HG_OP_SOFTMAX: {
        int64_t ax = n->attr.softmax.axis < 0 ? n->attr.softmax.axis + r : n->attr.softmax.axis;
        if (ax == 0)
            return false;
        break;
    }
    case HG_OP_GEMM:
        if (n->attr.gemm.trans_a)
            return false;
        break;
    case HG_OP_MATMUL:
        if (x->shape.rank < 2)
            return false;
        break;
    case HG_OP_PAD:
        if (n->attr.pad.rank > 0 && (n->attr.pad.pads[0] != 0 || n->attr.pad.pads[r] != 0))
            return false;
        break;
    default:
        break;
    }
    /* Any non-constant operand other than the first must also carry the batch, and constants
     * must be the same for every sample. Gemm's C and MatMul's B broadcast over rows. */
    for (size_t k = 1; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            continue;
        const hg_value *v = &g->values[n->inputs[k]];
        if (v->kind != HG_VALUE_CONSTANT)
            continue;
        switch (n->op) {
        case HG_OP_ADD:
        case HG_OP_SUB:
        case HG_OP_MUL:
        case HG_OP_DIV:
        case HG_OP_MIN:
        case HG_OP_CONCAT:
            if (const_varies_on_batch(v, r))
                return false;
            break;
        case HG_OP_GEMM:
            if (k == 2 && v->shape.rank == 2 && v->shape.dims[0] != 1)
                return false;
            break;
        default:
            break;
        }
    }
    return true;
}

/* ---- compaction ---------------------------------------------------------------------------- */

hg_status hg_graph_compact(hg_graph *g) {
    hg_status s = HG_OK;
    size_t nv = g->n_values ? g->n_values : 1;
    bool *live = calloc(nv, sizeof *live);
    int64_t *remap = malloc(nv * sizeof *remap);
    bool *keep = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *keep);
    if (!live || !remap || !keep) {
        s = hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
        goto out;
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        live[g->outputs[i]] = true;
    for (size_t i = 0; i < g->n_inputs; i++)
        live[g->inputs[i]] = true;
    /* Backwards: a node is kept when its output is live; then its inputs are. */
    for (size_t i = g->n_nodes; i-- > 0;) {
        hg_node *n = &g->nodes[i];
        if (!live[n->output])
            continue;
        keep[i] = true;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                live[n->inputs[k]] = true;
    }
    size_t w = 0;
    for (size_t i = 0; i < g->n_values; i++) {
        if (live[i]) {
            remap[i] = (int64_t)w;
            g->values[w++] = g->values[i];
        } else {
            remap[i] = -1;
            value_clear(&g->values[i]);
        }
    }
    g->n_values = w;
    w = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        hg_node *n = &g->nodes[i];
        if (!keep[i]) {
            free(n->name);
            free(n->inputs);
            continue;
        }
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                n->inputs[k] = remap[n->inputs[k]];
        n->output = remap[n->output];
        g->values[n->output].producer = (int64_t)w;
        g->nodes[w++] = *n;
    }
    g->n_nodes = w;
    for (size_t i = 0; i < g->n_inputs; i++)
        g->inputs[i] = remap[g->inputs[i]];
    for (size_t i = 0; i < g->n_outputs; i++)
        g->outputs[i] = remap[g->outputs[i]];
out:
    free(live);
    free(remap);
    free(keep);
    return s;
}

/* ---- binding inputs ------------------------------------------------------------------------ */

hg_status hg_graph_bind_input(hg_graph *g, const char *name, const hg_ndarray *a) {
    size_t pos = g->n_inputs;
    for (size_t i = 0; i < g->n_inputs; i++)
        if (!strcmp(g->values[g->inputs[i]].name, name))
            pos = i;
    if (pos == g->n_inputs)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: the graph has no input '%s'", __func__, name);
    hg_value *v = &g->values[g->inputs[pos]];
    if (v->has_shape) {
        bool ok = v->shape.rank == a->rank;
        for (int d = 0; ok && d < a->rank; d++)
            ok = v->shape.dims[d] < 0 || v->shape.dims[d] == a->dims[d];
        if (!ok)
            return hg_fail(HG_ERR_INVALID_ARG, "%s: input '%s' has another shape than the array",
                           __func__, name);
    }
    v->shape.rank = a->rank;
    memcpy(v->shape.dims, a->dims, sizeof v->shape.dims);
    v->has_shape = true;
    if (v->dtype == HG_DTYPE_INT64) {
        int64_t *d = hg_alloc_array(a->size, sizeof *d);
        if (!d)
            return HG_ERR_NOMEM;
        for (size_t i = 0; i < a->size; i++) {
            double x = a->data[i];
            if (!(x == floor(x) && fabs(x) < 9.0e15)) {
                hg_free(d);
                return hg_fail(HG_ERR_INVALID_ARG, "%s: int64 input '%s' holds %g", __func__, name,
                               x);
            }
            d[i] = (int64_t)x;
        }
        hg_free(v->i64);
        v->i64 = d;
    } else {
        HG_TRY(hg_value_set_f64(v, a->data, a->size));
    }
    v->kind = HG_VALUE_CONSTANT;
    memmove(&g->inputs[pos], &g->inputs[pos + 1], (g->n_inputs - pos - 1) * sizeof *g->inputs);
    g->n_inputs--;
    return HG_OK;
}

/* ---- shapes and arrays ----------------------------------------------------------------------- */

bool hg_shape_count(const hg_shape *s, int64_t *count) {
    int64_t c = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i] < 0)
            return false;
        if (__builtin_mul_overflow(c, s->dims[i], &c) || c > HG_MAX_ELEMENTS)
            return false;
    }
    *count = c;
    return true;
}

void hg_shape_format(const hg_shape *s, char *buf, size_t cap) {
    size_t p = 0;
    int w = snprintf(buf, cap, "[");
    p = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < s->rank && p < cap; i++) {
        if (s->dims[i] < 0)
            w = snprintf(buf + p, cap - p, "%sN", i ? ", " : "");
        else
            w = snprintf(buf + p, cap - p, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
        p += w > 0 ? (size_t)w : 0;
    }
    if (p < cap)
        snprintf(buf + p, cap - p, "]");
}

bool hg_shape_equal(const hg_shape *a, const hg_shape *b) {
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

hg_status hg_ndarray_new(int rank, const int64_t *dims, hg_ndarray **out) {
    *out = NULL;
    if (rank < 0 || rank > HG_MAX_RANK)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: rank %d outside [0, %d]", __func__, rank,
                       HG_MAX_RANK);
    hg_shape s = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return hg_fail(HG_ERR_INVALID_ARG, "%s: negative dim %lld", __func__,
                           (long long)dims[i]);
        s.dims[i] = dims[i];
    }
    int64_t count;
    if (!hg_shape_count(&s, &count))
        return hg_fail(HG_ERR_LIMIT, "%s: more than %lld elements", __func__,
                       (long long)HG_MAX_ELEMENTS);
    hg_ndarray *a = calloc(1, sizeof *a);
    if (!a)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    a->rank = rank;
    memcpy(a->dims, s.dims, sizeof a->dims);
    a->size = (size_t)count;
    a->data = hg_alloc_array(a->size, sizeof *a->data);
    if (!a->data) {
        free(a);
        return HG_ERR_NOMEM;
    }
    *out = a;
    return HG_OK;
}

void hg_ndarray_free(hg_ndarray *a) {
    if (!a)
        return;
    hg_free(a->data);
    free(a);
}
