/* The one table of op properties, and the ONNX defaults of each op's attributes. */
#include "graph.h"

#include <math.h>
#include <string.h>

/* mult_depth counts rescales when the op meets an encrypted input: a product by constant
 * weights (Conv, Gemm, MatMul, Mul, Div, pools that average, BatchNorm) costs one level, a
 * ciphertext square one, data movement and additions none. Non-polynomial ops are evaluated
 * by the client on fresh ciphertexts and cost no level on the server. */
static const hg_op_info op_table[HG_OP_COUNT] = {
    /* name, min inputs, max inputs, is_linear, needs_client, mult_depth */
    [HG_OP_IDENTITY] = {"Identity", 1, 1, true, false, 0},
    [HG_OP_DROPOUT] = {"Dropout", 1, 3, true, false, 0},
    [HG_OP_CONV] = {"Conv", 2, 3, true, false, 1},
    [HG_OP_GEMM] = {"Gemm", 2, 3, true, false, 1},
    [HG_OP_MATMUL] = {"MatMul", 2, 2, true, false, 1},
    [HG_OP_ADD] = {"Add", 2, 2, true, false, 0},
    [HG_OP_SUB] = {"Sub", 2, 2, true, false, 0},
    [HG_OP_MUL] = {"Mul", 2, 2, true, false, 1},
    [HG_OP_DIV] = {"Div", 2, 2, true, false, 1},
    [HG_OP_POW] = {"Pow", 2, 2, false, false, 1},
    [HG_OP_SQUARE] = {"Square", 1, 1, false, false, 1},
    [HG_OP_AVERAGEPOOL] = {"AveragePool", 1, 1, true, false, 1},
    [HG_OP_GLOBALAVERAGEPOOL] = {"GlobalAveragePool", 1, 1, true, false, 1},
    [HG_OP_MAXPOOL] = {"MaxPool", 1, 1, false, true, 0},
    [HG_OP_RELU] = {"Relu", 1, 1, false, true, 0},
    [HG_OP_RELU6] = {"Relu6", 1, 1, false, true, 0},
    [HG_OP_CLIP] = {"Clip", 1, 3, false, true, 0},
    [HG_OP_LEAKYRELU] = {"LeakyRelu", 1, 1, false, true, 0},
    [HG_OP_SIGMOID] = {"Sigmoid", 1, 1, false, true, 0},
    [HG_OP_TANH] = {"Tanh", 1, 1, false, true, 0},
    [HG_OP_SOFTMAX] = {"Softmax", 1, 1, false, true, 0},
    [HG_OP_MIN] = {"Min", 1, -1, false, true, 0},
    [HG_OP_BATCHNORM] = {"BatchNormalization", 5, 5, true, false, 1},
    [HG_OP_FLATTEN] = {"Flatten", 1, 1, true, false, 0},
    [HG_OP_RESHAPE] = {"Reshape", 2, 2, true, false, 0},
    [HG_OP_TRANSPOSE] = {"Transpose", 1, 1, true, false, 0},
    [HG_OP_CONCAT] = {"Concat", 1, -1, true, false, 0},
    [HG_OP_PAD] = {"Pad", 1, 3, true, false, 0},
};

const hg_op_info *hg_op_get_info(hg_op op) {
    if ((int)op < 0 || op >= HG_OP_COUNT)
        return NULL;
    return &op_table[op];
}

const char *hg_dtype_name(hg_dtype t) {
    switch (t) {
    case HG_DTYPE_FLOAT32:
        return "float32";
    case HG_DTYPE_FLOAT64:
        return "float64";
    case HG_DTYPE_INT64:
        return "int64";
    }
    return "unknown";
}

void hg_node_attr_default(hg_op op, hg_node_attr *a) {
    memset(a, 0, sizeof *a);
    switch (op) {
    case HG_OP_CONV:
    case HG_OP_AVERAGEPOOL:
    case HG_OP_MAXPOOL:
        for (int i = 0; i < HG_MAX_SPATIAL; i++) {
            a->window.strides[i] = 1;
            a->window.dilations[i] = 1;
            a->window.kernel[i] = 1;
        }
        a->window.group = 1;
        a->window.n_spatial = -1; /* from the input's rank */
        break;
    case HG_OP_GEMM:
        a->gemm.alpha = 1.0;
        a->gemm.beta = 1.0;
        break;
    case HG_OP_CLIP:
        a->clip.min = -INFINITY;
        a->clip.max = INFINITY;
        break;
    case HG_OP_RELU6:
        a->clip.min = 0.0;
        a->clip.max = 6.0;
        break;
    case HG_OP_LEAKYRELU:
        a->leaky_alpha = 0.01;
        break;
    case HG_OP_SOFTMAX:
        a->softmax.axis = -1;
        break;
    case HG_OP_BATCHNORM:
        a->bn_epsilon = 1e-5;
        break;
    case HG_OP_FLATTEN:
        a->axis = 1;
        break;
    case HG_OP_RESHAPE:
        a->reshape.rank = -1;
        break;
    case HG_OP_PAD:
        a->pad.rank = -1;
        break;
    case HG_OP_DIV:
        a->divisor = NAN;
        break;
    default:
        break;
    }
}
