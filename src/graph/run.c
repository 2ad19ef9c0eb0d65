/* hg_plain_run: evaluates a graph node by node, freeing each value after its last use. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

/* Whether node n still has constant operands to record (hg_node_resolve). */
static bool needs_resolve(const hg_node *n) {
    if (n->resolved)
        return false;
    switch (n->op) {
    case HG_OP_RESHAPE:
    case HG_OP_DIV:
    case HG_OP_POW:
        return true;
    case HG_OP_PAD:
    case HG_OP_CLIP:
        return n->n_inputs > 1;
    default:
        return false;
    }
}

hg_status hg_plain_run(const hg_graph *g, const hg_ndarray *const *inputs, size_t n_inputs,
                       hg_ndarray **outputs) {
    if (n_inputs != g->n_inputs)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %zu inputs given, the graph has %zu", __func__,
                       n_inputs, g->n_inputs);
    for (size_t i = 0; i < g->n_inputs; i++) {
        const hg_value *v = &g->values[g->inputs[i]];
        const hg_ndarray *a = inputs[i];
        if (v->dtype == HG_DTYPE_INT64)
            return hg_fail(HG_ERR_UNSUPPORTED,
                           "%s: input '%s' is int64 (an operand: bind it to a constant)", __func__,
                           v->name);
        bool ok = a && a->rank == v->shape.rank;
        for (int d = 1; ok && d < a->rank; d++)
            ok = v->shape.dims[d] < 0 || v->shape.dims[d] == a->dims[d];
        if (!ok) {
            char want[128];
            hg_shape_format(&v->shape, want, sizeof want);
            return hg_fail(HG_ERR_INVALID_ARG, "%s: input '%s' must have shape %s (any batch)",
                           __func__, v->name, want);
        }
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        if (needs_resolve(&g->nodes[i]))
            return hg_node_fail(HG_ERR_INVALID_ARG, &g->nodes[i],
                                "constant operands not resolved (run hg_graph_optimize first)");

    hg_status s = HG_OK;
    size_t nv = g->n_values ? g->n_values : 1;
    hg_ndarray **arr = calloc(nv, sizeof *arr);
    bool *owned = calloc(nv, sizeof *owned);
    hg_ndarray *views = calloc(nv, sizeof *views);
    size_t *last = calloc(nv, sizeof *last);
    size_t max_in = 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].n_inputs > max_in)
            max_in = g->nodes[i].n_inputs;
    const hg_ndarray **in = calloc(max_in, sizeof *in);
    if (!arr || !owned || !views || !last || !in) {
        s = hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
        goto out;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                last[g->nodes[i].inputs[k]] = i;
    for (size_t i = 0; i < g->n_outputs; i++)
        last[g->outputs[i]] = SIZE_MAX;
    /* Constants and inputs are views on data the run does not own. */
    for (size_t i = 0; i < g->n_values; i++) {
        const hg_value *v = &g->values[i];
        if (v->kind == HG_VALUE_CONSTANT && v->dtype != HG_DTYPE_INT64) {
            views[i].rank = v->shape.rank;
            memcpy(views[i].dims, v->shape.dims, sizeof views[i].dims);
            int64_t c = 0;
            HG_ASSERT(hg_shape_count(&v->shape, &c));
            views[i].size = (size_t)c;
            views[i].data = v->f64;
            arr[i] = &views[i];
        }
    }
    for (size_t i = 0; i < g->n_inputs; i++)
        arr[g->inputs[i]] = (hg_ndarray *)inputs[i];

    for (size_t i = 0; i < g->n_nodes; i++) {
        const hg_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            in[k] = n->inputs[k] >= 0 ? arr[n->inputs[k]] : NULL;
        hg_ndarray *y;
        s = hg_plain_eval_node(g, n, in, &y);
        if (s != HG_OK)
            goto out;
        arr[n->output] = y;
        owned[n->output] = true;
        for (size_t k = 0; k < n->n_inputs; k++) {
            int64_t v = n->inputs[k];
            if (v >= 0 && last[v] == i && owned[v]) {
                hg_ndarray_free(arr[v]);
                arr[v] = NULL;
                owned[v] = false;
            }
        }
    }
    /* Outputs: hand over owned arrays (copying when one value is listed twice or is an input
     * or a constant). */
    for (size_t i = 0; i < g->n_outputs; i++) {
        int64_t v = g->outputs[i];
        const hg_ndarray *a = arr[v];
        bool take = owned[v];
        for (size_t j = i + 1; j < g->n_outputs; j++)
            if (g->outputs[j] == v)
                take = false;
        if (take) {
            outputs[i] = arr[v];
            owned[v] = false;
            arr[v] = NULL;
            continue;
        }
        s = hg_ndarray_new(a->rank, a->dims, &outputs[i]);
        if (s != HG_OK) {
            for (size_t j = 0; j < i; j++) {
                hg_ndarray_free(outputs[j]);
                outputs[j] = NULL;
            }
            goto out;
        }
        memcpy(outputs[i]->data, a->data, a->size * sizeof(double));
    }
out:
    if (arr)
        for (size_t i = 0; i < g->n_values; i++)
            if (owned && owned[i])
                hg_ndarray_free(arr[i]);
    free(arr);
    free(owned);
    free(views);
    free(last);
    free(in);
    return s;
}
