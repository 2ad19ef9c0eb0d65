/*
 * The model loader's resource limits, each returning its error with a message that names it:
 * the number of tensors (HG_ONNX_MAX_TENSORS) and of references to them (HG_ONNX_MAX_REFS),
 * checked before anything is built; a model at the limits loads, and is optimized, quickly. The
 * limits on one tensor (rank above HG_MAX_RANK, more than HG_MAX_ELEMENTS elements in an
 * initializer) are tested with the loader's other error paths (test_loader.c); the element
 * limit of a declared input is tested here.
 */
#include "test_common.h"

#include "hegraph/hg_onnx.h"
#include "onnx/onnx.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A model: input x (N, dims...), then n_nodes nodes of op_type, node k reading `fan_in` inputs
 * (the previous node's output, or x) and writing t<k>; the last one is the graph output. */
typedef struct model {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__ValueInfoProto in, out, *inp[1], *outp[1];
    Onnx__TypeProto tp;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto sh;
    Onnx__TensorShapeProto__Dimension d[HG_MAX_RANK + 1], *dp[HG_MAX_RANK + 1];
    Onnx__NodeProto *nodes, **np;
    char **names; /* t0, t1, ... */
    char **refs;  /* every node's inputs, back to back */
} model;

static void model_build(model *b, const char *op_type, size_t n_nodes, size_t fan_in, int rank,
                        const int64_t *dims) {
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.domain = "";
    b->opset.has_version = 1;
    b->opset.version = 13;
    b->opsets[0] = &b->opset;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opsets;
    b->m.graph = &b->g;
    onnx__value_info_proto__init(&b->in);
    onnx__type_proto__init(&b->tp);
    onnx__type_proto__tensor__init(&b->tt);
    onnx__tensor_shape_proto__init(&b->sh);
    b->in.name = "x";
    b->in.type = &b->tp;
    b->tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    b->tp.tensor_type = &b->tt;
    b->tt.has_elem_type = 1;
    b->tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    b->tt.shape = &b->sh;
    b->sh.n_dim = (size_t)rank;
    b->sh.dim = b->dp;
    for (int i = 0; i < rank; i++) {
        onnx__tensor_shape_proto__dimension__init(&b->d[i]);
        b->d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        b->d[i].dim_value = dims[i];
        b->dp[i] = &b->d[i];
    }
    b->inp[0] = &b->in;
    b->g.n_input = 1;
    b->g.input = b->inp;
    b->nodes = calloc(n_nodes, sizeof *b->nodes);
    b->np = calloc(n_nodes, sizeof *b->np);
    b->names = calloc(n_nodes, sizeof *b->names);
    b->refs = calloc(n_nodes * fan_in, sizeof *b->refs);
    assert_true(b->nodes && b->np && b->names && b->refs);
    for (size_t k = 0; k < n_nodes; k++) {
        Onnx__NodeProto *n = &b->nodes[k];
        onnx__node_proto__init(n);
        b->names[k] = malloc(16);
        snprintf(b->names[k], 16, "t%zu", k);
        n->op_type = (char *)op_type;
        for (size_t j = 0; j < fan_in; j++)
            b->refs[k * fan_in + j] = k ? b->names[k - 1] : "x";
        n->n_input = fan_in;
        n->input = &b->refs[k * fan_in];
        n->n_output = 1;
        n->output = &b->names[k];
        b->np[k] = n;
    }
    b->g.n_node = n_nodes;
    b->g.node = b->np;
    onnx__value_info_proto__init(&b->out);
    b->out.name = n_nodes ? b->names[n_nodes - 1] : "x";
    b->outp[0] = &b->out;
    b->g.n_output = 1;
    b->g.output = b->outp;
}

static void model_clear(model *b) {
    for (size_t k = 0; k < b->g.n_node; k++)
        free(b->names[k]);
    free(b->names);
    free(b->refs);
    free(b->nodes);
    free(b->np);
}

static hg_status model_load(model *b, hg_graph **g) {
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    onnx__model_proto__pack(&b->m, buf);
    hg_status s = hg_onnx_load(buf, len, g);
    free(buf);
    return s;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const int64_t small[2] = {1, 4};

static void test_tensor_count(void **state) {
    (void)state;
    model b;
    hg_graph *g = NULL;
    /* One input and HG_ONNX_MAX_TENSORS nodes: one tensor too many. */
    model_build(&b, "Relu", HG_ONNX_MAX_TENSORS, 1, 2, small);
    hg_assert_fails(model_load(&b, &g), HG_ERR_LIMIT, "8193 tensors");
    hg_assert_fails(model_load(&b, &g), HG_ERR_LIMIT, "the limit is 8192");
    assert_null(g);
    model_clear(&b);
    /* At the limit: loads and optimizes, in well under a second each on any machine. */
    model_build(&b, "Relu", HG_ONNX_MAX_TENSORS - 1, 1, 2, small);
    double t0 = seconds();
    hg_assert_ok(model_load(&b, &g));
    double t1 = seconds();
    hg_assert_ok(hg_graph_optimize(g, 1));
    double t2 = seconds();
    assert_int_equal(hg_graph_n_nodes(g), HG_ONNX_MAX_TENSORS - 1);
    assert_true(t1 - t0 < 5 && t2 - t1 < 5);
    hg_graph_free(g);
    model_clear(&b);
}

static void test_reference_count(void **state) {
    (void)state;
    model b;
    hg_graph *g = NULL;
    /* Concat nodes of 4096 inputs each: eight of them, and the graph output, are one reference
     * too many. */
    model_build(&b, "Concat", HG_ONNX_MAX_REFS / 4096, 4096, 2, small);
    for (size_t k = 0; k < b.g.n_node; k++) {
        static Onnx__AttributeProto axis, *ap[1] = {&axis};
        onnx__attribute_proto__init(&axis);
        axis.name = "axis";
        axis.has_type = 1;
        axis.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        axis.has_i = 1;
        axis.i = 1;
        b.nodes[k].n_attribute = 1;
        b.nodes[k].attribute = ap;
    }
    hg_assert_fails(model_load(&b, &g), HG_ERR_LIMIT, "32769 references to tensors");
    /* One input fewer: at the limit, and loaded quickly. */
    b.nodes[0].n_input--;
    double t0 = seconds();
    hg_assert_ok(model_load(&b, &g));
    assert_true(seconds() - t0 < 5);
    hg_graph_free(g);
    model_clear(&b);
}

static void test_input_elements(void **state) {
    (void)state;
    model b;
    hg_graph *g = NULL;
    /* 2^15 x 2^14 = 2^29 elements per sample, above HG_MAX_ELEMENTS. */
    const int64_t big[3] = {1, 1 << 15, 1 << 14};
    model_build(&b, "Relu", 1, 1, 3, big);
    hg_assert_fails(model_load(&b, &g), HG_ERR_FORMAT, "input 'x': more than 268435456 elements");
    model_clear(&b);
    const int64_t deep[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    model_build(&b, "Relu", 1, 1, 9, deep);
    hg_assert_fails(model_load(&b, &g), HG_ERR_FORMAT, "input 'x': rank 9 above 8");
    model_clear(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_count),
        cmocka_unit_test(test_reference_count),
        cmocka_unit_test(test_input_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
