/*
 * graph: internal definitions of the IR, for the builders (onnx/) and the backends (he/).
 *
 * Invariants of a graph that builders must keep (hg_graph_check verifies them):
 *   - nodes are in topological order: a node's inputs are graph inputs, constants or outputs
 *     of earlier nodes;
 *   - each value is produced by at most one node, and constants and inputs by none;
 *   - each node has one output value;
 *   - constants of float type hold f64 data, int64 constants i64 data, prod(dims) elements.
 */
#ifndef HG_GRAPH_GRAPH_H
#define HG_GRAPH_GRAPH_H

#include "hegraph/hg_graph.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hg_value_kind {
    HG_VALUE_INPUT,    /* supplied at run time */
    HG_VALUE_CONSTANT, /* data below */
    HG_VALUE_NODE,     /* output of node `producer` */
} hg_value_kind;

typedef struct hg_value {
    char *name;
    hg_value_kind kind;
    hg_dtype dtype;
    hg_shape shape;   /* declared for inputs and constants, inferred for the others */
    bool has_shape;   /* false until known */
    int64_t producer; /* node index when kind == HG_VALUE_NODE, else -1 */
    double *f64;      /* constant data, float types */
    int64_t *i64;     /* constant data, int64 */
} hg_value;

/* auto_pad of Conv and pools, resolved into explicit pads by shape inference. */
typedef enum hg_auto_pad {
    HG_PAD_NOTSET,
    HG_PAD_VALID,
    HG_PAD_SAME_UPPER,
    HG_PAD_SAME_LOWER,
} hg_auto_pad;

/* Conv, AveragePool and MaxPool. n_spatial is the number of spatial axes (input rank - 2);
 * pads[i] is the padding before spatial axis i and pads[n_spatial + i] the padding after it. */
typedef struct hg_window_attr {
    int n_spatial;
    int64_t kernel[HG_MAX_SPATIAL];
    int64_t strides[HG_MAX_SPATIAL];
    int64_t pads[2 * HG_MAX_SPATIAL];
    int64_t dilations[HG_MAX_SPATIAL];
    hg_auto_pad auto_pad;
    bool has_kernel;        /* Conv: kernel_shape given (else taken from W) */
    int64_t group;          /* Conv */
    bool ceil_mode;         /* pools */
    bool count_include_pad; /* AveragePool */
} hg_window_attr;

typedef struct hg_gemm_attr {
    double alpha, beta;
    bool trans_a, trans_b;
} hg_gemm_attr;

/* Clip and Relu6 bounds (Relu6: 0 and 6); -inf / +inf when absent. */
typedef struct hg_clip_attr {
    double min, max;
} hg_clip_attr;

typedef struct hg_softmax_attr {
    int64_t axis;
    bool legacy; /* opset < 13: softmax over the flattened axes [axis, rank) */
} hg_softmax_attr;

typedef struct hg_reshape_attr {
    int rank; /* of the target; -1 until resolved from the shape operand */
    int64_t shape[HG_MAX_RANK];
    bool allowzero;
} hg_reshape_attr;

typedef struct hg_pad_attr {
    int rank;                      /* -1 until resolved from the pads operand */
    int64_t pads[2 * HG_MAX_RANK]; /* begin per axis, then end per axis; may be negative */
    double value;
} hg_pad_attr;

typedef struct hg_transpose_attr {
    int rank; /* 0: reverse the axes (the default perm) */
    int64_t perm[HG_MAX_RANK];
} hg_transpose_attr;

/* The typed attributes of a node; the member used is the one of the node's op. */
typedef union hg_node_attr {
    hg_window_attr window;       /* CONV, AVERAGEPOOL, MAXPOOL */
    hg_gemm_attr gemm;           /* GEMM */
    hg_clip_attr clip;           /* CLIP, RELU6 */
    double leaky_alpha;          /* LEAKYRELU */
    hg_softmax_attr softmax;     /* SOFTMAX */
    double bn_epsilon;           /* BATCHNORM */
    int64_t axis;                /* FLATTEN, CONCAT (may be negative until shapes are known) */
    hg_reshape_attr reshape;     /* RESHAPE */
    hg_transpose_attr transpose; /* TRANSPOSE */
    hg_pad_attr pad;             /* PAD */
    double divisor;              /* DIV, once resolved */
} hg_node_attr;

typedef struct hg_node {
    hg_op op;
    char *name;
    size_t n_inputs;
    int64_t *inputs; /* value indices; -1 for an omitted optional input */
    int64_t output;  /* value index */
    hg_node_attr attr;
    bool resolved; /* constant operands checked and recorded in attr */
} hg_node;

struct hg_graph {
    hg_value *values;
    size_t n_values, cap_values;
    hg_node *nodes;
    size_t n_nodes, cap_nodes;
    int64_t *inputs; /* value indices of the graph inputs (kind HG_VALUE_INPUT) */
    size_t n_inputs;
    int64_t *outputs; /* value indices of the graph outputs */
    size_t n_outputs;
    int64_t batch; /* batch of the last shape inference, 0 before */
};

/* ---- building -------------------------------------------------------------------------------- */

hg_status hg_graph_new(hg_graph **out) HG_WUR;
/* Index of the value called name, or -1. Linear in the number of values. */
int64_t hg_graph_find_value(const hg_graph *g, const char *name);
/* Appends a value (name copied) and returns its index in *idx. */
hg_status hg_graph_add_value(hg_graph *g, const char *name, hg_value_kind kind, hg_dtype dtype,
                             int64_t *idx) HG_WUR;
/* Appends a node with n_inputs inputs (copied) and output value `output` (whose kind becomes
 * HG_VALUE_NODE). attr may be NULL (zeroed). */
hg_status hg_graph_add_node(hg_graph *g, hg_op op, const char *name, const int64_t *inputs,
                            size_t n_inputs, int64_t output, const hg_node_attr *attr) HG_WUR;
hg_status hg_graph_add_input(hg_graph *g, int64_t value) HG_WUR;
hg_status hg_graph_add_output(hg_graph *g, int64_t value) HG_WUR;
/* Default attributes of op (ONNX defaults). */
void hg_node_attr_default(hg_op op, hg_node_attr *attr);
/* Records "<Op> node '<name>': <message>" as the error detail and returns s. */
hg_status hg_node_fail(hg_status s, const hg_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Verifies the invariants above; HG_ERR_FORMAT naming the offending node or value. */
hg_status hg_graph_check(const hg_graph *g) HG_WUR;

/* Sets constant data of value v (copies n elements; the shape must already be set). */
hg_status hg_value_set_f64(hg_value *v, const double *data, size_t n) HG_WUR;
hg_status hg_value_set_i64(hg_value *v, const int64_t *data, size_t n) HG_WUR;

/* ---- shapes ---------------------------------------------------------------------------------- */

/* Number of elements of s; false if a dim is negative or the count exceeds HG_MAX_ELEMENTS. */
bool hg_shape_count(const hg_shape *s, int64_t *count);
/* "[2, 3, 4]" into buf. */
void hg_shape_format(const hg_shape *s, char *buf, size_t cap);
bool hg_shape_equal(const hg_shape *a, const hg_shape *b);

/* Output shape of node n given its inputs' shapes (NULL entries for omitted inputs), following
 * the op's ONNX semantics; resolves auto_pad into explicit pads in *attr when attr is not NULL.
 * Requires constant operands resolved. */
hg_status hg_node_infer_shape(const hg_graph *g, const hg_node *n, const hg_shape *const *in,
                              hg_window_attr *resolved, hg_shape *out) HG_WUR;

/* ---- plain kernels --------------------------------------------------------------------------- */

/* Evaluates node n on input arrays in[] (NULL for omitted inputs) into a new array *out. */
hg_status hg_plain_eval_node(const hg_graph *g, const hg_node *n, const hg_ndarray *const *in,
                             hg_ndarray **out) HG_WUR;

/* Checks and records the constant operands of node n in its attributes. With strict, an
 * operand that is not (yet) constant is an error; without, it is left for later. */
hg_status hg_node_resolve(hg_graph *g, hg_node *n, bool strict) HG_WUR;

/* Removes nodes whose output is unused and values nobody references, renumbering. */
hg_status hg_graph_compact(hg_graph *g) HG_WUR;

#endif
