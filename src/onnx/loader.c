/*
 * ModelProto -> graph. The protobuf is parsed by protobuf-c (which bounds every length by the
 * buffer); this file then checks what protobuf cannot: opsets, types, shapes, data sizes,
 * references between nodes, and maps each supported op and attribute to the IR.
 */
#include "onnx_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Onnx__AttributeProto attr_t;

typedef struct load_ctx {
    hg_graph *g;
    int64_t opset;
    const char *op_type; /* of the node being read */
    const char *node;    /* its name, for messages */
    /* Tensor names to value indices (open addressing, -1 for empty): a model refers to tensors
     * by name, and a linear search per reference would make loading quadratic. Values are
     * indexed lazily, up to `indexed`, at each lookup. */
    int64_t *slots;
    size_t mask, indexed;
} load_ctx;

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3u;
    return h;
}

/* Index of the value called name, or -1 (the first one, as hg_graph_find_value). */
static int64_t find_value(load_ctx *c, const char *name) {
    const hg_graph *g = c->g;
    for (; c->indexed < g->n_values; c->indexed++) {
        size_t i = (size_t)name_hash(g->values[c->indexed].name) & c->mask;
        while (c->slots[i] >= 0 &&
               strcmp(g->values[c->slots[i]].name, g->values[c->indexed].name) != 0)
            i = (i + 1) & c->mask;
        if (c->slots[i] < 0)
            c->slots[i] = (int64_t)c->indexed;
    }
    for (size_t i = (size_t)name_hash(name) & c->mask; c->slots[i] >= 0; i = (i + 1) & c->mask)
        if (!strcmp(g->values[c->slots[i]].name, name))
            return c->slots[i];
    return -1;
}

/* ONNX op types and, for each, the first opset from which its semantics are the ones
 * implemented (later versions only add types or attributes this loader checks). Models of
 * opsets 9 to 17 are supported; an older model is accepted when each op it uses already had
 * these semantics in its opset. */
static const struct {
    const char *name;
    hg_op op;
    int since;
} op_names[] = {
    {"Identity", HG_OP_IDENTITY, 1},
    {"Dropout", HG_OP_DROPOUT, 7},
    {"Conv", HG_OP_CONV, 1},
    {"Gemm", HG_OP_GEMM, 7},
    {"MatMul", HG_OP_MATMUL, 1},
    {"Add", HG_OP_ADD, 7},
    {"Sub", HG_OP_SUB, 7},
    {"Mul", HG_OP_MUL, 7},
    {"Div", HG_OP_DIV, 7},
    {"Pow", HG_OP_POW, 7},
    {"AveragePool", HG_OP_AVERAGEPOOL, 7},
    {"GlobalAveragePool", HG_OP_GLOBALAVERAGEPOOL, 1},
    {"MaxPool", HG_OP_MAXPOOL, 1},
    {"Relu", HG_OP_RELU, 6},
    {"Clip", HG_OP_CLIP, 6},
    {"LeakyRelu", HG_OP_LEAKYRELU, 6},
    {"Sigmoid", HG_OP_SIGMOID, 6},
    {"Tanh", HG_OP_TANH, 6},
    {"Softmax", HG_OP_SOFTMAX, 1},
    {"Min", HG_OP_MIN, 8},
    {"BatchNormalization", HG_OP_BATCHNORM, 7},
    {"Flatten", HG_OP_FLATTEN, 1},
    {"Reshape", HG_OP_RESHAPE, 5},
    {"Transpose", HG_OP_TRANSPOSE, 1},
    {"Concat", HG_OP_CONCAT, 4},
    {"Pad", HG_OP_PAD, 2},
};

#define CTX_FAIL(c, code, ...) ctx_fail((c), (code), __VA_ARGS__)

static hg_status ctx_fail(const load_ctx *c, hg_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static hg_status ctx_fail(const load_ctx *c, hg_status code, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hg_fail(code, "%s node '%s': %s", c->op_type, c->node, msg);
}

static const char *attr_type_name(int t) {
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        return "float";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        return "int";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        return "string";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        return "tensor";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        return "floats";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        return "ints";
    default:
        return "other";
    }
}

static hg_status want_type(const load_ctx *c, const attr_t *a, int type) {
    if (a->type != (Onnx__AttributeProto__AttributeType)type)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute '%s' is of type %s, %s expected", a->name,
                        attr_type_name(a->type), attr_type_name(type));
    return HG_OK;
}

static hg_status get_int(const load_ctx *c, const attr_t *a, int64_t *v) {
    HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT));
    *v = a->i;
    return HG_OK;
}

static hg_status get_bool(const load_ctx *c, const attr_t *a, bool *v) {
    int64_t i;
    HG_TRY(get_int(c, a, &i));
    if (i != 0 && i != 1)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute '%s' = %lld (0 or 1 expected)", a->name,
                        (long long)i);
    *v = i != 0;
    return HG_OK;
}

static hg_status get_float(const load_ctx *c, const attr_t *a, double *v) {
    HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT));
    *v = a->f;
    return HG_OK;
}

/* An ints attribute of at most cap entries into v; *n receives the count. */
static hg_status get_ints(const load_ctx *c, const attr_t *a, int64_t *v, size_t cap, size_t *n) {
    HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS));
    if (a->n_ints > cap)
        return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "attribute '%s' has %zu values (at most %zu)",
                        a->name, a->n_ints, cap);
    for (size_t i = 0; i < a->n_ints; i++)
        v[i] = a->ints[i];
    *n = a->n_ints;
    return HG_OK;
}

static hg_status get_string(const load_ctx *c, const attr_t *a, char *buf, size_t cap) {
    HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING));
    size_t n = a->s.len < cap - 1 ? a->s.len : cap - 1;
    if (n)
        memcpy(buf, a->s.data, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] < 32 || buf[i] > 126)
            buf[i] = '?';
    return HG_OK;
}

static hg_status unsupported_attr(const load_ctx *c, const attr_t *a) {
    return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "attribute '%s' is not supported", a->name);
}

/* Sets or checks the number of spatial axes from an attribute of len values, len = per * ns. */
static hg_status set_spatial(const load_ctx *c, hg_window_attr *w, const attr_t *a, size_t len,
                             size_t per) {
    if (len % per || len / per < 1 || len / per > HG_MAX_SPATIAL)
        return CTX_FAIL(c, HG_ERR_UNSUPPORTED,
                        "attribute '%s' has %zu values (1 to %d spatial "
                        "axes supported)",
                        a->name, len, HG_MAX_SPATIAL);
    int ns = (int)(len / per);
    if (w->n_spatial >= 0 && w->n_spatial != ns)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute '%s' is for %d spatial axes, others for %d",
                        a->name, ns, w->n_spatial);
    w->n_spatial = ns;
    return HG_OK;
}

/* Largest kernel, stride, dilation or pad accepted: far above any real model, and small
 * enough that window arithmetic cannot overflow. */
#define MAX_WINDOW ((int64_t)1 << 24)

static hg_status check_window_values(const load_ctx *c, const attr_t *a, const int64_t *v,
                                     size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] > MAX_WINDOW)
            return CTX_FAIL(c, HG_ERR_FORMAT, "attribute '%s' has value %lld out of range", a->name,
                            (long long)v[i]);
    return HG_OK;
}

static hg_status parse_window(const load_ctx *c, hg_op op, const attr_t *a, hg_window_attr *w,
                              bool *has_kernel) {
    size_t n;
    int64_t buf[2 * HG_MAX_SPATIAL];
    const char *nm = a->name;
    if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && a->n_ints <= 2 * HG_MAX_SPATIAL)
        HG_TRY(check_window_values(c, a, a->ints, a->n_ints));
    if (!strcmp(nm, "kernel_shape")) {
        HG_TRY(get_ints(c, a, buf, HG_MAX_SPATIAL, &n));
        HG_TRY(set_spatial(c, w, a, n, 1));
        memcpy(w->kernel, buf, n * sizeof *buf);
        *has_kernel = true;
    } else if (!strcmp(nm, "strides")) {
        HG_TRY(get_ints(c, a, buf, HG_MAX_SPATIAL, &n));
        HG_TRY(set_spatial(c, w, a, n, 1));
        memcpy(w->strides, buf, n * sizeof *buf);
    } else if (!strcmp(nm, "dilations") && op != HG_OP_AVERAGEPOOL) {
        HG_TRY(get_ints(c, a, buf, HG_MAX_SPATIAL, &n));
        HG_TRY(set_spatial(c, w, a, n, 1));
        memcpy(w->dilations, buf, n * sizeof *buf);
    } else if (!strcmp(nm, "pads")) {
        HG_TRY(get_ints(c, a, buf, 2 * HG_MAX_SPATIAL, &n));
        HG_TRY(set_spatial(c, w, a, n, 2));
        memcpy(w->pads, buf, n * sizeof *buf);
    } else if (!strcmp(nm, "auto_pad")) {
        char s[32];
        HG_TRY(get_string(c, a, s, sizeof s));
        if (!strcmp(s, "NOTSET"))
            w->auto_pad = HG_PAD_NOTSET;
        else if (!strcmp(s, "VALID"))
            w->auto_pad = HG_PAD_VALID;
        else if (!strcmp(s, "SAME_UPPER"))
            w->auto_pad = HG_PAD_SAME_UPPER;
        else if (!strcmp(s, "SAME_LOWER"))
            w->auto_pad = HG_PAD_SAME_LOWER;
        else
            return CTX_FAIL(c, HG_ERR_FORMAT, "attribute 'auto_pad' = '%s'", s);
    } else if (!strcmp(nm, "group") && op == HG_OP_CONV) {
        HG_TRY(get_int(c, a, &w->group));
        if (w->group < 1)
            return CTX_FAIL(c, HG_ERR_FORMAT, "group %lld", (long long)w->group);
    } else if (!strcmp(nm, "ceil_mode") && op != HG_OP_CONV) {
        HG_TRY(get_bool(c, a, &w->ceil_mode));
    } else if (!strcmp(nm, "count_include_pad") && op == HG_OP_AVERAGEPOOL) {
        HG_TRY(get_bool(c, a, &w->count_include_pad));
    } else if (!strcmp(nm, "storage_order") && op == HG_OP_MAXPOOL) {
        /* Only affects the Indices output, which is not supported. */
        int64_t v;
        HG_TRY(get_int(c, a, &v));
    } else {
        return unsupported_attr(c, a);
    }
    return HG_OK;
}

/* Fills n's attributes from the node's AttributeProtos. */
static hg_status parse_attrs(const load_ctx *c, const Onnx__NodeProto *np, hg_op op,
                             hg_node_attr *at) {
    hg_node_attr_default(op, at);
    if (op == HG_OP_SOFTMAX) {
        at->softmax.legacy = c->opset < 13;
        at->softmax.axis = c->opset < 13 ? 1 : -1;
    }
    bool has_kernel = false, has_axis = false;
    for (size_t i = 0; i < np->n_attribute; i++) {
        const attr_t *a = np->attribute[i];
        if (!a->name)
            return CTX_FAIL(c, HG_ERR_FORMAT, "attribute without a name");
        if (a->ref_attr_name && a->ref_attr_name[0])
            return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute",
                            a->name);
        const char *nm = a->name;
        switch (op) {
        case HG_OP_CONV:
        case HG_OP_AVERAGEPOOL:
        case HG_OP_MAXPOOL:
            HG_TRY(parse_window(c, op, a, &at->window, &has_kernel));
            break;
        case HG_OP_GEMM:
            if (!strcmp(nm, "alpha"))
                HG_TRY(get_float(c, a, &at->gemm.alpha));
            else if (!strcmp(nm, "beta"))
                HG_TRY(get_float(c, a, &at->gemm.beta));
            else if (!strcmp(nm, "transA"))
                HG_TRY(get_bool(c, a, &at->gemm.trans_a));
            else if (!strcmp(nm, "transB"))
                HG_TRY(get_bool(c, a, &at->gemm.trans_b));
            else
                return unsupported_attr(c, a);
            break;
        case HG_OP_CLIP:
            if (c->opset < 11 && !strcmp(nm, "min"))
                HG_TRY(get_float(c, a, &at->clip.min));
            else if (c->opset < 11 && !strcmp(nm, "max"))
                HG_TRY(get_float(c, a, &at->clip.max));
            else
                return unsupported_attr(c, a);
            break;
        case HG_OP_LEAKYRELU:
            if (!strcmp(nm, "alpha"))
                HG_TRY(get_float(c, a, &at->leaky_alpha));
            else
                return unsupported_attr(c, a);
            break;
        case HG_OP_SOFTMAX:
            if (!strcmp(nm, "axis"))
                HG_TRY(get_int(c, a, &at->softmax.axis));
            else
                return unsupported_attr(c, a);
            break;
        case HG_OP_BATCHNORM:
            if (!strcmp(nm, "epsilon")) {
                HG_TRY(get_float(c, a, &at->bn_epsilon));
            } else if (!strcmp(nm, "momentum")) {
                double m;
                HG_TRY(get_float(c, a, &m)); /* training only */
            } else if (!strcmp(nm, "training_mode") || !strcmp(nm, "spatial")) {
                int64_t v;
                HG_TRY(get_int(c, a, &v));
                if (v != (strcmp(nm, "spatial") ? 0 : 1))
                    return CTX_FAIL(c, HG_ERR_UNSUPPORTED,
                                    "attribute '%s' = %lld (inference mode only)", nm,
                                    (long long)v);
            } else {
                return unsupported_attr(c, a);
            }
            break;
        case HG_OP_FLATTEN:
        case HG_OP_CONCAT:
            if (!strcmp(nm, "axis")) {
                HG_TRY(get_int(c, a, &at->axis));
                has_axis = true;
            } else {
                return unsupported_attr(c, a);
            }
            break;
        case HG_OP_RESHAPE:
            if (!strcmp(nm, "allowzero"))
                HG_TRY(get_bool(c, a, &at->reshape.allowzero));
            else
                return unsupported_attr(c, a);
            break;
        case HG_OP_TRANSPOSE:
            if (!strcmp(nm, "perm")) {
                size_t n;
                HG_TRY(get_ints(c, a, at->transpose.perm, HG_MAX_RANK, &n));
                at->transpose.rank = (int)n;
            } else {
                return unsupported_attr(c, a);
            }
            break;
        case HG_OP_PAD:
            if (!strcmp(nm, "mode")) {
                char s[32];
                HG_TRY(get_string(c, a, s, sizeof s));
                if (strcmp(s, "constant"))
                    return CTX_FAIL(c, HG_ERR_UNSUPPORTED,
                                    "attribute 'mode' = '%s' (only 'constant')", s);
            } else if (c->opset < 11 && !strcmp(nm, "pads")) {
                size_t n;
                HG_TRY(get_ints(c, a, at->pad.pads, 2 * HG_MAX_RANK, &n));
                if (n % 2)
                    return CTX_FAIL(c, HG_ERR_FORMAT, "odd number of pads");
                for (size_t k = 0; k < n; k++)
                    if (at->pad.pads[k] > HG_MAX_ELEMENTS || at->pad.pads[k] < -HG_MAX_ELEMENTS)
                        return CTX_FAIL(c, HG_ERR_FORMAT, "pad %lld out of range",
                                        (long long)at->pad.pads[k]);
                at->pad.rank = (int)(n / 2);
            } else if (c->opset < 11 && !strcmp(nm, "value")) {
                HG_TRY(get_float(c, a, &at->pad.value));
            } else {
                return unsupported_attr(c, a);
            }
            break;
        case HG_OP_DROPOUT:
            if (!strcmp(nm, "ratio")) {
                double r;
                HG_TRY(get_float(c, a, &r));
            } else if (!strcmp(nm, "seed")) {
                int64_t v;
                HG_TRY(get_int(c, a, &v));
            } else {
                return unsupported_attr(c, a);
            }
            break;
        default:
            return unsupported_attr(c, a);
        }
    }
    if ((op == HG_OP_AVERAGEPOOL || op == HG_OP_MAXPOOL) && !has_kernel)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute 'kernel_shape' is required");
    if (op == HG_OP_CONV)
        at->window.has_kernel = has_kernel;
    if (op == HG_OP_CONCAT && !has_axis)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute 'axis' is required");
    if (op == HG_OP_PAD && c->opset < 11 && at->pad.rank < 0)
        return CTX_FAIL(c, HG_ERR_FORMAT, "attribute 'pads' is required");
    return HG_OK;
}

/* Adds a constant value from a TensorProto. */
static hg_status add_constant(hg_graph *g, const char *name, const Onnx__TensorProto *t) {
    hg_shape s;
    hg_dtype dt;
    double *f;
    int64_t *i;
    HG_TRY(hg_onnx_tensor_decode(t, name, &s, &dt, &f, &i));
    int64_t idx;
    hg_status st = hg_graph_add_value(g, name, HG_VALUE_CONSTANT, dt, &idx);
    if (st != HG_OK) {
        hg_free(f);
        hg_free(i);
        return st;
    }
    hg_value *v = &g->values[idx];
    v->shape = s;
    v->has_shape = true;
    v->f64 = f;
    v->i64 = i;
    return HG_OK;
}

/* A Constant node: its output becomes a constant value. */
static hg_status load_constant_node(const load_ctx *c, const Onnx__NodeProto *np) {
    if (np->n_input != 0)
        return CTX_FAIL(c, HG_ERR_FORMAT, "Constant takes no input");
    if (np->n_attribute != 1)
        return CTX_FAIL(c, HG_ERR_FORMAT, "Constant needs exactly one attribute, has %zu",
                        np->n_attribute);
    const attr_t *a = np->attribute[0];
    const char *out = np->output[0];
    const char *nm = a->name ? a->name : "";
    if (!strcmp(nm, "value")) {
        HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR));
        if (!a->t)
            return CTX_FAIL(c, HG_ERR_FORMAT, "attribute 'value' has no tensor");
        return add_constant(c->g, out, a->t);
    }
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    int64_t dim;
    t.has_data_type = 1;
    if (!strcmp(nm, "value_float")) {
        HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT));
        float f = a->f;
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t.n_float_data = 1;
        t.float_data = &f;
        return add_constant(c->g, out, &t);
    }
    if (!strcmp(nm, "value_int")) {
        HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT));
        int64_t v = a->i;
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        t.n_int64_data = 1;
        t.int64_data = &v;
        return add_constant(c->g, out, &t);
    }
    if (!strcmp(nm, "value_floats")) {
        HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS));
        dim = (int64_t)a->n_floats;
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t.n_dims = 1;
        t.dims = &dim;
        t.n_float_data = a->n_floats;
        t.float_data = a->floats;
        return add_constant(c->g, out, &t);
    }
    if (!strcmp(nm, "value_ints")) {
        HG_TRY(want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS));
        dim = (int64_t)a->n_ints;
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        t.n_dims = 1;
        t.dims = &dim;
        t.n_int64_data = a->n_ints;
        t.int64_data = a->ints;
        return add_constant(c->g, out, &t);
    }
    return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "attribute '%s' is not supported", nm);
}

/* A graph input from its ValueInfoProto. */
static hg_status load_input(hg_graph *g, const Onnx__ValueInfoProto *vi) {
    const char *name = vi->name;
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return hg_fail(HG_ERR_UNSUPPORTED, "input '%s': not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    hg_dtype dt;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    switch (et) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        dt = HG_DTYPE_FLOAT32;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        dt = HG_DTYPE_FLOAT64;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        dt = HG_DTYPE_INT64;
        break;
    default: {
        const char *nm = hg_onnx_dtype_name(et);
        if (!nm || et == 0)
            return hg_fail(HG_ERR_FORMAT, "input '%s': invalid element type %d", name, (int)et);
        return hg_fail(HG_ERR_UNSUPPORTED,
                       "input '%s': data type %s (supported: FLOAT, DOUBLE, INT64)", name, nm);
    }
    }
    if (!tt->shape)
        return hg_fail(HG_ERR_UNSUPPORTED, "input '%s': no shape (a known rank is needed)", name);
    if (tt->shape->n_dim > HG_MAX_RANK)
        return hg_fail(HG_ERR_FORMAT, "input '%s': rank %zu above %d", name, tt->shape->n_dim,
                       HG_MAX_RANK);
    hg_shape s = {.rank = (int)tt->shape->n_dim};
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return hg_fail(HG_ERR_FORMAT, "input '%s': negative dim %lld", name,
                               (long long)d->dim_value);
            s.dims[i] = d->dim_value;
        } else if (i == 0) {
            s.dims[i] = -1; /* symbolic batch */
        } else {
            return hg_fail(HG_ERR_UNSUPPORTED,
                           "input '%s': symbolic dim '%s' at axis %zu (only axis 0, the batch, "
                           "may be symbolic)",
                           name,
                           d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                               ? d->dim_param
                               : "?",
                           i);
        }
    }
    hg_shape check = s;
    if (check.rank && check.dims[0] < 0)
        check.dims[0] = 1;
    int64_t count;
    if (!hg_shape_count(&check, &count))
        return hg_fail(HG_ERR_FORMAT, "input '%s': more than %lld elements per sample", name,
                       (long long)HG_MAX_ELEMENTS);
    int64_t idx;
    HG_TRY(hg_graph_add_value(g, name, HG_VALUE_INPUT, dt, &idx));
    g->values[idx].shape = s;
    g->values[idx].has_shape = true;
    return hg_graph_add_input(g, idx);
}

static hg_status check_name(const char *what, const char *name) {
    if (!name || !name[0])
        return hg_fail(HG_ERR_FORMAT, "%s without a name", what);
    return HG_OK;
}

static hg_status load_node(load_ctx *c, const Onnx__NodeProto *np, size_t index) {
    hg_graph *g = c->g;
    char auto_name[64];
    c->op_type = np->op_type ? np->op_type : "?";
    if (np->name && np->name[0]) {
        c->node = np->name;
    } else {
        snprintf(auto_name, sizeof auto_name, "#%zu", index);
        c->node = auto_name;
    }
    if (!np->op_type || !np->op_type[0])
        return CTX_FAIL(c, HG_ERR_FORMAT, "no op_type");
    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx"))
        return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "op domain '%s' is not supported", np->domain);
    if (np->n_output < 1 || !np->output[0] || !np->output[0][0])
        return CTX_FAIL(c, HG_ERR_FORMAT, "no output");
    if (find_value(c, np->output[0]) >= 0)
        return CTX_FAIL(c, HG_ERR_FORMAT, "output '%s' is defined twice", np->output[0]);
    if (!strcmp(np->op_type, "Constant"))
        return load_constant_node(c, np);

    hg_op op = HG_OP_COUNT;
    int since = 1;
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (!strcmp(np->op_type, op_names[i].name)) {
            op = op_names[i].op;
            since = op_names[i].since;
        }
    if (op == HG_OP_COUNT)
        return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "op %s is not supported", np->op_type);
    if (c->opset < since)
        return CTX_FAIL(c, HG_ERR_UNSUPPORTED, "opset %lld (this op is supported from opset %d)",
                        (long long)c->opset, since);
    const hg_op_info *info = hg_op_get_info(op);
    /* Trailing omitted optional inputs do not count. */
    size_t n_in = np->n_input;
    while (n_in > 0 && (!np->input[n_in - 1] || !np->input[n_in - 1][0]))
        n_in--;
    if ((int)n_in < info->min_inputs || (info->max_inputs >= 0 && (int)n_in > info->max_inputs))
        return CTX_FAIL(c, HG_ERR_FORMAT, "%zu inputs (%d to %d expected)", n_in, info->min_inputs,
                        info->max_inputs);
    hg_node_attr at;
    HG_TRY(parse_attrs(c, np, op, &at));
    for (size_t k = 1; k < np->n_output; k++)
        if (np->output[k] && np->output[k][0])
            return CTX_FAIL(c, HG_ERR_UNSUPPORTED,
                            "output %zu '%s' is not supported (only the first output)", k,
                            np->output[k]);
    int64_t *ins = malloc((n_in ? n_in : 1) * sizeof *ins);
    if (!ins)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    hg_status s = HG_OK;
    hg_dtype dt = HG_DTYPE_FLOAT32;
    for (size_t k = 0; k < n_in; k++) {
        const char *in = np->input[k];
        if (!in || !in[0]) {
            if (k == 0) {
                s = CTX_FAIL(c, HG_ERR_FORMAT, "first input omitted");
                goto out;
            }
            /* Only optional inputs may be omitted: those past the op's minimum, of an op with
             * a fixed number of inputs (every input of Concat and Min is required). */
            if ((int)k < info->min_inputs || info->max_inputs < 0) {
                s = CTX_FAIL(c, HG_ERR_FORMAT, "input %zu omitted (it is required)", k);
                goto out;
            }
            ins[k] = -1;
            continue;
        }
        ins[k] = find_value(c, in);
        if (ins[k] < 0) {
            s = CTX_FAIL(c, HG_ERR_FORMAT,
                         "input '%s' is not defined before the node (unknown value, nodes out "
                         "of order, or a cycle)",
                         in);
            goto out;
        }
        if (k == 0)
            dt = g->values[ins[k]].dtype;
    }
    if (op == HG_OP_DROPOUT && n_in > 2 && ins[2] >= 0) {
        const hg_value *tm = &g->values[ins[2]];
        bool off = tm->kind == HG_VALUE_CONSTANT && tm->shape.rank == 0 &&
                   ((tm->i64 && tm->i64[0] == 0) || (tm->f64 && tm->f64[0] == 0.0));
        if (!off) {
            s = CTX_FAIL(c, HG_ERR_UNSUPPORTED, "input 'training_mode' (inference only)");
            goto out;
        }
    }
    int64_t out_idx;
    s = hg_graph_add_value(g, np->output[0], HG_VALUE_NODE, dt, &out_idx);
    if (s != HG_OK)
        goto out;
    s = hg_graph_add_node(g, op, c->node, ins, n_in, out_idx, &at);
    if (s != HG_OK)
        goto out;
    s = hg_node_resolve(g, &g->nodes[g->n_nodes - 1], false);
out:
    free(ins);
    return s;
}

static hg_status load_model(const Onnx__ModelProto *m, hg_graph *g, load_ctx *c) {
    c->g = g;
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx"))
            c->opset = o->has_version ? o->version : -1;
    }
    if (c->opset < 0)
        return hg_fail(HG_ERR_FORMAT, "model: no opset of the default domain");
    if (c->opset < 1 || c->opset > HG_ONNX_MAX_OPSET)
        return hg_fail(HG_ERR_UNSUPPORTED, "model: opset %lld (supported: up to %d, fully from %d)",
                       (long long)c->opset, HG_ONNX_MAX_OPSET, HG_ONNX_MIN_OPSET);
    const Onnx__GraphProto *gp = m->graph;
    if (!gp)
        return hg_fail(HG_ERR_FORMAT, "model: no graph");
    if (gp->n_sparse_initializer)
        return hg_fail(HG_ERR_UNSUPPORTED, "model: sparse initializers");
    /* The counts are bounded before anything is built: memory and the passes' work then stay
     * small whatever the file holds. */
    size_t tensors = gp->n_initializer + gp->n_input + gp->n_node, refs = gp->n_output;
    for (size_t i = 0; i < gp->n_node; i++)
        refs += gp->node[i]->n_input;
    if (tensors > HG_ONNX_MAX_TENSORS)
        return hg_fail(HG_ERR_LIMIT,
                       "model: %zu tensors (initializers, inputs and nodes), the "
                       "limit is %d",
                       tensors, HG_ONNX_MAX_TENSORS);
    if (refs > HG_ONNX_MAX_REFS)
        return hg_fail(HG_ERR_LIMIT,
                       "model: %zu references to tensors (node inputs and graph "
                       "outputs), the limit is %d",
                       refs, HG_ONNX_MAX_REFS);
    size_t n_slots = 16;
    while (n_slots < 2 * tensors)
        n_slots *= 2;
    c->slots = malloc(n_slots * sizeof *c->slots);
    if (!c->slots)
        return hg_fail(HG_ERR_NOMEM, "model: out of memory");
    memset(c->slots, 0xff, n_slots * sizeof *c->slots); /* -1: empty */
    c->mask = n_slots - 1;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        HG_TRY(check_name("initializer", t->name));
        if (find_value(c, t->name) >= 0)
            return hg_fail(HG_ERR_FORMAT, "initializer '%s' is defined twice", t->name);
        HG_TRY(add_constant(g, t->name, t));
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        HG_TRY(check_name("graph input", vi->name));
        int64_t v = find_value(c, vi->name);
        if (v >= 0 && g->values[v].kind == HG_VALUE_CONSTANT)
            continue; /* an initializer listed as input (IR < 4): a constant */
        if (v >= 0)
            return hg_fail(HG_ERR_FORMAT, "input '%s' is listed twice", vi->name);
        HG_TRY(load_input(g, vi));
    }
    for (size_t i = 0; i < gp->n_node; i++)
        HG_TRY(load_node(c, gp->node[i], i));
    if (gp->n_output == 0)
        return hg_fail(HG_ERR_FORMAT, "model: no output");
    for (size_t i = 0; i < gp->n_output; i++) {
        HG_TRY(check_name("graph output", gp->output[i]->name));
        int64_t v = find_value(c, gp->output[i]->name);
        if (v < 0)
            return hg_fail(HG_ERR_FORMAT, "output '%s' is not computed by the graph",
                           gp->output[i]->name);
        HG_TRY(hg_graph_add_output(g, v));
    }
    return hg_graph_check(g);
}

hg_status hg_onnx_load(const void *data, size_t n_bytes, hg_graph **out) {
    *out = NULL;
    if (n_bytes > HG_ONNX_MAX_FILE_BYTES)
        return hg_fail(HG_ERR_FORMAT, "model: %zu bytes (at most %zu)", n_bytes,
                       (size_t)HG_ONNX_MAX_FILE_BYTES);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n_bytes, data);
    if (!m)
        return hg_fail(HG_ERR_FORMAT, "not a valid ONNX model (protobuf parse failed)");
    hg_graph *g = NULL;
    hg_status s = hg_graph_new(&g);
    load_ctx c;
    memset(&c, 0, sizeof c);
    if (s == HG_OK)
        s = load_model(m, g, &c);
    free(c.slots);
    onnx__model_proto__free_unpacked(m, NULL);
    if (s != HG_OK) {
        hg_graph_free(g);
        return s;
    }
    *out = g;
    return HG_OK;
}

hg_status hg_onnx_load_file(const char *path, hg_graph **out) {
    uint8_t *buf;
    size_t len;
    *out = NULL;
    HG_TRY(hg_onnx_read_file(path, &buf, &len));
    hg_status s = hg_onnx_load(buf, len, out);
    free(buf);
    return s;
}
