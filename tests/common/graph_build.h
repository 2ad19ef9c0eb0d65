/* Helpers to build small graphs by hand in tests (internal graph API). */
#ifndef HG_TEST_GRAPH_BUILD_H
#define HG_TEST_GRAPH_BUILD_H

#include "test_common.h"

#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t tg_input(hg_graph *g, const char *name, int rank, const int64_t *dims) {
    int64_t v;
    hg_assert_ok(hg_graph_add_value(g, name, HG_VALUE_INPUT, HG_DTYPE_FLOAT32, &v));
    g->values[v].shape.rank = rank;
    memcpy(g->values[v].shape.dims, dims, (size_t)rank * sizeof *dims);
    g->values[v].has_shape = true;
    hg_assert_ok(hg_graph_add_input(g, v));
    return v;
}

static inline int64_t tg_const(hg_graph *g, const char *name, int rank, const int64_t *dims,
                               const double *data) {
    int64_t v;
    hg_assert_ok(hg_graph_add_value(g, name, HG_VALUE_CONSTANT, HG_DTYPE_FLOAT32, &v));
    hg_value *val = &g->values[v];
    val->shape.rank = rank;
    memcpy(val->shape.dims, dims, (size_t)rank * sizeof *dims);
    val->has_shape = true;
    int64_t c;
    assert_true(hg_shape_count(&val->shape, &c));
    hg_assert_ok(hg_value_set_f64(val, data, (size_t)c));
    return v;
}

static inline int64_t tg_const_i64(hg_graph *g, const char *name, int64_t n,
                                   const int64_t *data) {
    int64_t v;
    hg_assert_ok(hg_graph_add_value(g, name, HG_VALUE_CONSTANT, HG_DTYPE_INT64, &v));
    g->values[v].shape.rank = 1;
    g->values[v].shape.dims[0] = n;
    g->values[v].has_shape = true;
    hg_assert_ok(hg_value_set_i64(&g->values[v], data, (size_t)n));
    return v;
}

static inline int64_t tg_node(hg_graph *g, hg_op op, const char *name, const int64_t *in,
                              size_t n, const hg_node_attr *attr) {
    int64_t out;
    char vname[64];
    snprintf(vname, sizeof vname, "%s_out", name);
    hg_assert_ok(hg_graph_add_value(g, vname, HG_VALUE_NODE, HG_DTYPE_FLOAT32, &out));
    hg_assert_ok(hg_graph_add_node(g, op, name, in, n, out, attr));
    hg_assert_ok(hg_node_resolve(g, &g->nodes[g->n_nodes - 1], false));
    return out;
}

/* A random constant of the given shape, values uniform in [-amp, amp). */
static inline int64_t tg_random_const(hg_graph *g, const char *name, int rank,
                                      const int64_t *dims, double amp, hg_test_rng *r) {
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = hg_test_rng_uniform(r, -amp, amp);
    int64_t v = tg_const(g, name, rank, dims, d);
    free(d);
    return v;
}

static inline hg_ndarray *tg_random_array(int rank, const int64_t *dims, double amp,
                                          hg_test_rng *r) {
    hg_ndarray *a;
    hg_assert_ok(hg_ndarray_new(rank, dims, &a));
    for (size_t i = 0; i < a->size; i++)
        a->data[i] = hg_test_rng_uniform(r, -amp, amp);
    return a;
}

#endif
