/*
 * hegraph graph layer: the tensor graph IR, its passes and the plain float64 backend.
 *
 * A graph is a list of nodes in topological order over values (tensors). Each value is a graph
 * input (data supplied at run time), a constant (weights, held as float64, or int64 for shape
 * tensors) or the output of exactly one node. Axis 0 of every graph input is the batch (N of
 * NCHW); it may be symbolic in the model and is fixed by shape inference or by the arrays given
 * to hg_plain_run.
 *
 * Thread safety: a graph is mutable while it is built and optimized; afterwards every const
 * function may be called from many threads at once (hg_plain_run included).
 */
#ifndef HEGRAPH_HG_GRAPH_H
#define HEGRAPH_HG_GRAPH_H

#include "hegraph/hg_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest tensor rank. */
#define HG_MAX_RANK 8
/* Largest number of spatial axes of Conv and the pooling ops (1-D, 2-D and 3-D). */
#define HG_MAX_SPATIAL 3
/* Largest number of elements of one tensor (2^28, 2 GiB of float64): models and data files
 * that declare more are rejected with HG_ERR_FORMAT before anything is allocated. */
#define HG_MAX_ELEMENTS ((int64_t)1 << 28)

/* Element types a model may use. Float tensors are computed in float64 whatever their type;
 * the type is kept so that outputs are written back as the model declares them. */
typedef enum hg_dtype {
    HG_DTYPE_FLOAT32 = 1,
    HG_DTYPE_FLOAT64 = 2,
    HG_DTYPE_INT64 = 3, /* shape tensors (Reshape, Pad) only */
} hg_dtype;

/* Short name of a type ("float32"); never NULL. */
HG_API const char *hg_dtype_name(hg_dtype t);

/* The operations of the IR. Square and Relu6 are produced by passes (they have no ONNX
 * counterpart); the others are named after the ONNX op they come from. */
typedef enum hg_op {
    HG_OP_IDENTITY,
    HG_OP_DROPOUT, /* inference: identity */
    HG_OP_CONV,
    HG_OP_GEMM,
    HG_OP_MATMUL,
    HG_OP_ADD,
    HG_OP_SUB,
    HG_OP_MUL,
    HG_OP_DIV, /* by a constant */
    HG_OP_POW, /* exponent the constant 2 */
    HG_OP_SQUARE,
    HG_OP_AVERAGEPOOL,
    HG_OP_GLOBALAVERAGEPOOL,
    HG_OP_MAXPOOL,
    HG_OP_RELU,
    HG_OP_RELU6,
    HG_OP_CLIP,
    HG_OP_LEAKYRELU,
    HG_OP_SIGMOID,
    HG_OP_TANH,
    HG_OP_SOFTMAX,
    HG_OP_MIN,
    HG_OP_BATCHNORM,
    HG_OP_FLATTEN,
    HG_OP_RESHAPE,
    HG_OP_TRANSPOSE,
    HG_OP_CONCAT,
    HG_OP_PAD,
    HG_OP_COUNT
} hg_op;

/* Static properties of an op: the one table every layer reads. */
typedef struct hg_op_info {
    const char *name;  /* ONNX op type, or "Square" / "Relu6" */
    int min_inputs;    /* counting optional inputs that may be omitted */
    int max_inputs;    /* -1: variadic */
    bool is_linear;    /* linear (affine) in its non-constant input, with constant weights */
    bool needs_client; /* non-polynomial: evaluated by the client in the encrypted backend */
    int mult_depth;    /* rescale levels consumed when applied to an encrypted input */
} hg_op_info;

/* Properties of op; NULL when op is out of range. */
HG_API const hg_op_info *hg_op_get_info(hg_op op);

/* ---- graphs ------------------------------------------------------------------------------ */

typedef struct hg_graph hg_graph;
/* A dense float64 array; defined with the plain backend below. */
typedef struct hg_ndarray hg_ndarray;

/* A shape: rank dims, each >= 0 once inferred. Before shape inference dims[0] of an input
 * may be -1 (a symbolic batch). */
typedef struct hg_shape {
    int rank;
    int64_t dims[HG_MAX_RANK];
} hg_shape;

/* Frees a graph (NULL is a no-op). */
HG_API void hg_graph_free(hg_graph *g);

/* Counts and names. Indices are in [0, count). Strings belong to the graph. */
HG_API size_t hg_graph_n_inputs(const hg_graph *g);
HG_API size_t hg_graph_n_outputs(const hg_graph *g);
HG_API size_t hg_graph_n_nodes(const hg_graph *g);
HG_API const char *hg_graph_input_name(const hg_graph *g, size_t i);
HG_API const char *hg_graph_output_name(const hg_graph *g, size_t i);
/* Declared (or, after hg_graph_infer_shapes, inferred) shape and type of an input/output. */
HG_API void hg_graph_input_shape(const hg_graph *g, size_t i, hg_shape *shape, hg_dtype *dtype);
HG_API void hg_graph_output_shape(const hg_graph *g, size_t i, hg_shape *shape, hg_dtype *dtype);
HG_API hg_op hg_graph_node_op(const hg_graph *g, size_t i);
HG_API const char *hg_graph_node_name(const hg_graph *g, size_t i);
/* Shape of node i's output as last inferred (rank 0 and dims unset before inference). */
HG_API void hg_graph_node_shape(const hg_graph *g, size_t i, hg_shape *shape);
/* Whether node i has exactly one input that is not a constant (the one that would be
 * encrypted) and its other inputs constant: the case of the table's is_linear and depth. */
HG_API bool hg_graph_node_has_const_weights(const hg_graph *g, size_t i);

/* Whether node i keeps the batch axis in place: sample b of its output depends only on sample
 * b of its inputs and sits at index b of axis 0, with the same per-sample constants. Transpose,
 * Reshape, Flatten, Concat or Softmax that move or mix axis 0, Gemm with transA, and
 * element-wise ops whose constant operand differs along axis 0 do not. The plain backend runs
 * both kinds; the encrypted backend needs this to be true. Uses the last inferred shapes. */
HG_API bool hg_graph_node_keeps_batch(const hg_graph *g, size_t i);

/* Number of scalar parameters: elements of the float constants used by nodes. */
HG_API int64_t hg_graph_param_count(const hg_graph *g);

/* Turns graph input `name` into a constant holding a copy of `a` (which must have the declared
 * shape; int64 inputs must hold integers). Used to specialize a model whose weights or shape
 * operands are inputs, as in ONNX's node tests. HG_ERR_INVALID_ARG if there is no such input or
 * the shape differs. */
HG_API hg_status hg_graph_bind_input(hg_graph *g, const char *name, const hg_ndarray *a) HG_WUR;

/* Whether graph input i feeds an operand that must be constant (a Reshape shape, Pad pads,
 * Clip bounds, a Div divisor, a Pow exponent): such inputs are bound with hg_graph_bind_input
 * before hg_graph_optimize. */
HG_API bool hg_graph_input_is_operand(const hg_graph *g, size_t i);

/* ---- passes -------------------------------------------------------------------------------- */

/* hg_graph_optimize runs, in this order:
 *   1. hg_graph_remove_identity      Identity, Dropout and Pad by zeros removed
 *   2. hg_graph_fold_constants       nodes whose inputs are all constants evaluated
 *   3. hg_graph_resolve_operands     constant operands (Reshape shape, Pad pads, Clip bounds,
 *                                    Div divisor, Pow exponent) checked and recorded
 *   4. hg_graph_fold_batchnorm       BatchNormalization folded into the preceding Conv/Gemm
 *   5. hg_graph_fuse_square          Mul(x, x) and Pow(x, 2) -> Square
 *   6. hg_graph_fuse_relu6           Min(Relu(x), 6) and Clip(x, 0, 6) -> Relu6
 *   7. hg_graph_infer_shapes         for the given batch
 * and removes nodes whose output nobody uses. batch <= 0 keeps the declared batch (1 when it
 * is symbolic). On failure the graph may be partly transformed but stays valid. */
HG_API hg_status hg_graph_optimize(hg_graph *g, int64_t batch) HG_WUR;

HG_API hg_status hg_graph_remove_identity(hg_graph *g) HG_WUR;
HG_API hg_status hg_graph_fold_constants(hg_graph *g) HG_WUR;
HG_API hg_status hg_graph_resolve_operands(hg_graph *g) HG_WUR;
HG_API hg_status hg_graph_fold_batchnorm(hg_graph *g) HG_WUR;
HG_API hg_status hg_graph_fuse_square(hg_graph *g) HG_WUR;
HG_API hg_status hg_graph_fuse_relu6(hg_graph *g) HG_WUR;
/* Sets every graph input's axis 0 to batch (batch <= 0: as declared, 1 if symbolic) and
 * computes the shape of every value. HG_ERR_FORMAT when shapes are inconsistent,
 * HG_ERR_UNSUPPORTED for a supported op used in an unsupported way. */
HG_API hg_status hg_graph_infer_shapes(hg_graph *g, int64_t batch) HG_WUR;

/* The multiplicative depth report. The graph is cut at every node that needs the client
 * (hg_op_info.needs_client): the client returns fresh ciphertexts, so depth restarts at 0
 * after it. A segment ends at such a node (or at the graph outputs) and its depth is the
 * largest number of rescale levels consumed along any path from the segment's start to its
 * end, counting each op's mult_depth when it is applied to an encrypted value. */
typedef struct hg_depth_segment {
    int64_t end_node; /* node index of the activation that ends it; -1: the graph outputs */
    int depth;
} hg_depth_segment;

typedef struct hg_depth_report {
    size_t n_segments;
    hg_depth_segment *segments; /* in node order; the outputs' segment last */
    int max_depth;              /* max over segments: the levels the parameters must hold */
} hg_depth_report;

HG_API hg_status hg_graph_depth_report(const hg_graph *g, hg_depth_report *out) HG_WUR;
HG_API void hg_depth_report_clear(hg_depth_report *r);

/* ---- dense arrays and the plain backend ------------------------------------------------------ */

/* A dense row-major float64 array. Public for data exchange: data has prod(dims) elements
 * (1 for rank 0). Arrays from hg_ndarray_new own their data. */
struct hg_ndarray {
    int rank;
    int64_t dims[HG_MAX_RANK];
    size_t size; /* number of elements */
    double *data;
};

/* A zeroed array of the given shape. HG_ERR_INVALID_ARG if rank is outside [0, HG_MAX_RANK]
 * or a dim is negative, HG_ERR_LIMIT if it has more than HG_MAX_ELEMENTS elements. */
HG_API hg_status hg_ndarray_new(int rank, const int64_t *dims, hg_ndarray **out) HG_WUR;
HG_API void hg_ndarray_free(hg_ndarray *a);

/* Runs g on inputs (one array per graph input, in hg_graph_input_name order; their axis 0 is
 * the batch and may differ from the declared one; the other dims must match) and stores one
 * new array per graph output in outputs[0 .. hg_graph_n_outputs). The caller frees them with
 * hg_ndarray_free. Float64 throughout, OpenMP inside. The graph is not modified, so one graph
 * may serve several threads. On failure no output is allocated. */
HG_API hg_status hg_plain_run(const hg_graph *g, const hg_ndarray *const *inputs, size_t n_inputs,
                              hg_ndarray **outputs) HG_WUR;

#ifdef __cplusplus
}
#endif
#endif
