/*
 * Omitted node inputs (an empty name, ONNX's way to skip an optional input): accepted where the
 * op's input is optional, refused with HG_ERR_FORMAT where it is required (a required input
 * read as missing once crashed shape inference and operand resolution); a Pad without pads is
 * refused at load. The model that first showed it is in fuzz/regressions/fuzz_onnx.
 */
#include "test_common.h"

#include "hegraph/hg_onnx.h"
#include "onnx/onnx.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* x (1, 4) -> op(inputs) -> y, opset 13; inputs are value names, "" for omitted. */
static hg_status load_one(const char *op, const char *const *inputs, size_t n_inputs,
                          hg_graph **g) {
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp[1] = {&os};
    os.domain = "";
    os.has_version = 1;
    os.version = 13;
    m.n_opset_import = 1;
    m.opset_import = osp;
    m.graph = &gp;
    Onnx__TensorShapeProto__Dimension d[2] = {ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT,
                                              ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT};
    Onnx__TensorShapeProto__Dimension *dp[2] = {&d[0], &d[1]};
    for (int i = 0; i < 2; i++) {
        d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i].dim_value = i ? 4 : 1;
    }
    Onnx__TensorShapeProto sh = ONNX__TENSOR_SHAPE_PROTO__INIT;
    sh.n_dim = 2;
    sh.dim = dp;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt.shape = &sh;
    Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT;
    tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp.tensor_type = &tt;
    Onnx__ValueInfoProto in = ONNX__VALUE_INFO_PROTO__INIT, out = ONNX__VALUE_INFO_PROTO__INIT;
    Onnx__ValueInfoProto *inp[1] = {&in}, *outp[1] = {&out};
    in.name = "x";
    in.type = &tp;
    out.name = "y";
    gp.n_input = 1;
    gp.input = inp;
    gp.n_output = 1;
    gp.output = outp;
    Onnx__NodeProto n = ONNX__NODE_PROTO__INIT, *np[1] = {&n};
    char *outs[1] = {"y"};
    n.op_type = (char *)op;
    n.n_input = n_inputs;
    n.input = (char **)inputs;
    n.n_output = 1;
    n.output = outs;
    Onnx__AttributeProto axis = ONNX__ATTRIBUTE_PROTO__INIT, *ap[1] = {&axis};
    if (!strcmp(op, "Concat")) {
        axis.name = "axis";
        axis.has_type = 1;
        axis.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        axis.has_i = 1;
        axis.i = 1;
        n.n_attribute = 1;
        n.attribute = ap;
    }
    gp.n_node = 1;
    gp.node = np;
    size_t len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    onnx__model_proto__pack(&m, buf);
    hg_status s = hg_onnx_load(buf, len, g);
    free(buf);
    return s;
}

static void test_required_inputs(void **state) {
    (void)state;
    hg_graph *g = NULL;
    const char *bn[5] = {"x", "x", "", "x", "x"};
    hg_assert_fails(load_one("BatchNormalization", bn, 5, &g), HG_ERR_FORMAT,
                    "BatchNormalization node '#0': input 2 omitted (it is required)");
    const char *three[3] = {"x", "", "x"}, *two[2] = {"x", ""};
    hg_assert_fails(load_one("Conv", three, 3, &g), HG_ERR_FORMAT, "input 1 omitted");
    /* Trailing omitted inputs are dropped first: then too few are left. */
    hg_assert_fails(load_one("Reshape", two, 2, &g), HG_ERR_FORMAT, "1 inputs (2 to 2 expected)");
    /* Variadic ops: every input is required. */
    hg_assert_fails(load_one("Concat", three, 3, &g), HG_ERR_FORMAT, "input 1 omitted");
    hg_assert_fails(load_one("Min", three, 3, &g), HG_ERR_FORMAT, "input 1 omitted");
    assert_null(g);
}

static void test_pad_without_pads(void **state) {
    (void)state;
    hg_graph *g = NULL;
    const char *one[1] = {"x"}, *skipped[3] = {"x", "", "x"};
    hg_assert_fails(load_one("Pad", one, 1, &g), HG_ERR_FORMAT, "Pad node '#0': no pads");
    hg_assert_fails(load_one("Pad", skipped, 3, &g), HG_ERR_FORMAT, "no pads");
    assert_null(g);
}

static void test_optional_inputs(void **state) {
    (void)state;
    hg_graph *g = NULL;
    /* Clip without min, with max: loads; the bound must then be a constant. */
    const char *clip[3] = {"x", "", "x"};
    hg_assert_ok(load_one("Clip", clip, 3, &g));
    hg_assert_fails(hg_graph_optimize(g, 1), HG_ERR_UNSUPPORTED,
                    "max operand 'x' must be a "
                    "constant");
    hg_graph_free(g);
    /* Trailing omitted inputs do not count. */
    const char *relu[2] = {"x", ""};
    hg_assert_ok(load_one("Relu", relu, 2, &g));
    hg_assert_ok(hg_graph_optimize(g, 1));
    hg_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_inputs),
        cmocka_unit_test(test_pad_without_pads),
        cmocka_unit_test(test_optional_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
