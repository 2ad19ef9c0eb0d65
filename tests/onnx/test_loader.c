/* The ONNX loader and TensorProto files: models built here with protobuf-c, each error path
 * (unsupported op, attribute, type; malformed data, references, cycles, sizes), and
 * robustness on truncated and corrupted files. */
#include "test_common.h"

#include "hegraph/hg_onnx.h"
#include "onnx/onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a small model builder ------------------------------------------------------------------- */

#define MAXN 4

typedef struct vinfo {
    Onnx__ValueInfoProto vi;
    Onnx__TypeProto tp;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto sh;
    Onnx__TensorShapeProto__Dimension d[10];
    Onnx__TensorShapeProto__Dimension *dp[10];
} vinfo;

typedef struct builder {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto nodes[MAXN];
    Onnx__NodeProto *np[MAXN];
    char *node_in[MAXN][4];
    char *node_out[MAXN][2];
    Onnx__AttributeProto attrs[MAXN][4];
    Onnx__AttributeProto *ap[MAXN][4];
    vinfo in[MAXN], out[MAXN];
    Onnx__ValueInfoProto *inp[MAXN], *outp[MAXN];
    Onnx__TensorProto init[MAXN];
    Onnx__TensorProto *initp[MAXN];
    int64_t init_dims[MAXN][10];
} builder;

static void builder_init(builder *b, int64_t opset) {
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.domain = "";
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opsets;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.graph = &b->g;
    b->g.name = "test";
    b->g.node = b->np;
    b->g.input = b->inp;
    b->g.output = b->outp;
    b->g.initializer = b->initp;
}

static void set_vinfo(vinfo *v, const char *name, int32_t elem, int rank, const int64_t *dims) {
    onnx__value_info_proto__init(&v->vi);
    onnx__type_proto__init(&v->tp);
    onnx__type_proto__tensor__init(&v->tt);
    onnx__tensor_shape_proto__init(&v->sh);
    v->vi.name = (char *)name;
    v->vi.type = &v->tp;
    v->tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->tp.tensor_type = &v->tt;
    v->tt.has_elem_type = 1;
    v->tt.elem_type = elem;
    v->tt.shape = &v->sh;
    v->sh.n_dim = (size_t)rank;
    v->sh.dim = v->dp;
    for (int i = 0; i < rank; i++) {
        onnx__tensor_shape_proto__dimension__init(&v->d[i]);
        if (dims[i] < 0) {
            v->d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            v->d[i].dim_param = "N";
        } else {
            v->d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            v->d[i].dim_value = dims[i];
        }
        v->dp[i] = &v->d[i];
    }
}

static void add_in(builder *b, const char *name, int32_t elem, int rank, const int64_t *dims) {
    size_t i = b->g.n_input++;
    set_vinfo(&b->in[i], name, elem, rank, dims);
    b->inp[i] = &b->in[i].vi;
}

static void add_out(builder *b, const char *name) {
    size_t i = b->g.n_output++;
    int64_t none[1] = {0};
    set_vinfo(&b->out[i], name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, none);
    b->outp[i] = &b->out[i].vi;
}

/* A float initializer with typed data (data may be NULL for a declared-only tensor). */
static Onnx__TensorProto *add_init(builder *b, const char *name, int rank, const int64_t *dims,
                                   float *data, size_t n) {
    size_t i = b->g.n_initializer++;
    Onnx__TensorProto *t = &b->init[i];
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    memcpy(b->init_dims[i], dims, (size_t)rank * sizeof *dims);
    t->n_dims = (size_t)rank;
    t->dims = b->init_dims[i];
    t->n_float_data = n;
    t->float_data = data;
    b->initp[i] = t;
    return t;
}

static Onnx__NodeProto *add_nd(builder *b, const char *op, const char *name, const char *in0,
                               const char *in1, const char *out) {
    size_t i = b->g.n_node++;
    Onnx__NodeProto *n = &b->nodes[i];
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    b->node_in[i][0] = (char *)in0;
    b->node_in[i][1] = (char *)in1;
    n->n_input = in1 ? 2 : 1;
    n->input = b->node_in[i];
    b->node_out[i][0] = (char *)out;
    n->n_output = 1;
    n->output = b->node_out[i];
    n->attribute = b->ap[i];
    b->np[i] = n;
    return n;
}

static Onnx__AttributeProto *add_attr(builder *b, Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
    size_t ni = (size_t)(n - b->nodes), k = n->n_attribute++;
    Onnx__AttributeProto *a = &b->attrs[ni][k];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    b->ap[ni][k] = a;
    return a;
}

/* Packs the model and loads it. */
static hg_status load(builder *b, hg_graph **g) {
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    onnx__model_proto__pack(&b->m, buf);
    hg_status s = hg_onnx_load(buf, len, g);
    free(buf);
    return s;
}

static const int64_t x_dims[2] = {-1, 3};

/* x -> Relu -> y */
static void relu_model(builder *b) {
    builder_init(b, 13);
    add_in(b, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, x_dims);
    add_nd(b, "Relu", "relu0", "x", NULL, "y");
    add_out(b, "y");
}

/* ---- tests
 * ----------------------------------------------------------------------------------------- */

static void test_valid_model(void **state) {
    (void)state;
    builder b;
    relu_model(&b);
    hg_graph *g;
    hg_assert_ok(load(&b, &g));
    assert_int_equal(hg_graph_n_inputs(g), 1);
    hg_shape s;
    hg_dtype dt;
    hg_graph_input_shape(g, 0, &s, &dt);
    assert_int_equal(s.dims[0], -1);
    assert_int_equal(dt, HG_DTYPE_FLOAT32);
    hg_assert_ok(hg_graph_optimize(g, 2));
    int64_t d[2] = {2, 3};
    hg_ndarray *x, *y = NULL;
    hg_assert_ok(hg_ndarray_new(2, d, &x));
    x->data[0] = -1;
    x->data[1] = 2;
    const hg_ndarray *in[1] = {x};
    hg_assert_ok(hg_plain_run(g, in, 1, &y));
    hg_assert_close(y->data[0], 0, 0);
    hg_assert_close(y->data[1], 2, 0);
    hg_ndarray_free(x);
    hg_ndarray_free(y);
    hg_graph_free(g);
}

static void test_unsupported(void **state) {
    (void)state;
    builder b;
    hg_graph *g = NULL;

    relu_model(&b);
    b.nodes[0].op_type = "Resize";
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "Resize node 'relu0': op Resize");
    assert_null(g);

    relu_model(&b);
    b.nodes[0].domain = "com.microsoft";
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "domain 'com.microsoft'");

    /* An attribute Relu does not have. */
    relu_model(&b);
    Onnx__AttributeProto *a =
        add_attr(&b, &b.nodes[0], "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "Relu node 'relu0': attribute 'alpha'");

    /* Pad in reflect mode. */
    relu_model(&b);
    b.nodes[0].op_type = "Pad";
    a = add_attr(&b, &b.nodes[0], "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)"reflect";
    a->s.len = 7;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED,
                    "Pad node 'relu0': attribute 'mode' = 'reflect'");

    /* Conv with a 4-D kernel (4 spatial axes). */
    relu_model(&b);
    b.nodes[0].op_type = "Conv";
    float w[1] = {1};
    int64_t wd[1] = {1};
    add_init(&b, "w", 1, wd, w, 1);
    b.node_in[0][1] = "w";
    b.nodes[0].n_input = 2;
    a = add_attr(&b, &b.nodes[0], "kernel_shape", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t ks[4] = {1, 1, 1, 1};
    a->n_ints = 4;
    a->ints = ks;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "attribute 'kernel_shape' has 4 values");

    /* Data types. */
    relu_model(&b);
    b.in[0].tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "input 'x': data type UINT8");
    relu_model(&b);
    Onnx__TensorProto *t = add_init(&b, "c", 1, wd, NULL, 0);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "tensor 'c': data type INT32");

    /* Opsets. */
    relu_model(&b);
    b.opset.version = 18;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "opset 18");
    relu_model(&b);
    b.opset.version = 5;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "Relu node 'relu0': opset 5");

    /* Pow by a constant 3. */
    relu_model(&b);
    b.nodes[0].op_type = "Pow";
    float three[1] = {3};
    add_init(&b, "e", 0, wd, three, 1);
    b.node_in[0][1] = "e";
    b.nodes[0].n_input = 2;
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "Pow node 'relu0': exponent 3");

    /* A second output (MaxPool's Indices). */
    relu_model(&b);
    b.nodes[0].n_output = 2;
    b.node_out[0][1] = "idx";
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "output 1 'idx'");

    /* A symbolic dim other than the batch. */
    relu_model(&b);
    b.in[0].d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    b.in[0].d[1].dim_param = "C";
    hg_assert_fails(load(&b, &g), HG_ERR_UNSUPPORTED, "symbolic dim 'C' at axis 1");

    /* BatchNormalization in training mode. */
    relu_model(&b);
    b.nodes[0].op_type = "BatchNormalization";
    a = add_attr(&b, &b.nodes[0], "training_mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = 1;
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "BatchNormalization node 'relu0': 1 inputs");
}

static void test_malformed(void **state) {
    (void)state;
    builder b;
    hg_graph *g = NULL;

    relu_model(&b);
    b.node_in[0][0] = "nowhere";
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "input 'nowhere' is not defined");

    /* Two nodes reading each other: a cycle. */
    relu_model(&b);
    b.node_in[0][0] = "z";
    add_nd(&b, "Relu", "relu1", "y", NULL, "z");
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "Relu node 'relu0': input 'z'");

    relu_model(&b);
    add_nd(&b, "Relu", "relu1", "x", NULL, "y");
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "output 'y' is defined twice");

    relu_model(&b);
    b.out[0].vi.name = "missing";
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "output 'missing' is not computed");

    relu_model(&b);
    b.m.graph = NULL;
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "no graph");

    relu_model(&b);
    b.m.n_opset_import = 0;
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "no opset");

    /* Initializers: data size against shape, overflow of dims, rank, negative dims. */
    relu_model(&b);
    float two[2] = {1, 2};
    int64_t d3[1] = {3};
    add_init(&b, "w", 1, d3, two, 2);
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "tensor 'w': 2 values for 3 elements");

    relu_model(&b);
    Onnx__TensorProto *t = add_init(&b, "w", 1, d3, NULL, 0);
    uint8_t raw[11] = {0};
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = sizeof raw;
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "raw_data has 11 bytes, shape needs 12");

    relu_model(&b);
    int64_t huge[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    add_init(&b, "w", 3, huge, NULL, 0);
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "tensor 'w': more than");

    relu_model(&b);
    int64_t ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float one[1] = {1};
    add_init(&b, "w", 9, ones, one, 1);
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "tensor 'w': rank 9");

    relu_model(&b);
    int64_t negd[1] = {-2};
    add_init(&b, "w", 1, negd, NULL, 0);
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "negative dim");

    /* An attribute of the wrong type. */
    relu_model(&b);
    b.nodes[0].op_type = "LeakyRelu";
    Onnx__AttributeProto *a =
        add_attr(&b, &b.nodes[0], "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT,
                    "attribute 'alpha' is of type int, float expected");

    /* Arity. */
    relu_model(&b);
    b.nodes[0].op_type = "Gemm";
    hg_assert_fails(load(&b, &g), HG_ERR_FORMAT, "Gemm node 'relu0': 1 inputs (2 to 3 expected)");

    /* Not a protobuf at all. */
    const char junk[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage";
    hg_assert_fails(hg_onnx_load(junk, sizeof junk, &g), HG_ERR_FORMAT, "not a valid ONNX model");
    hg_assert_fails(hg_onnx_load_file("/nonexistent/model.onnx", &g), HG_ERR_IO, "nonexistent");

    /* Shapes inconsistent with the model: found by shape inference. */
    relu_model(&b);
    b.nodes[0].op_type = "Add";
    b.node_in[0][1] = "w";
    b.nodes[0].n_input = 2;
    float four[4] = {1, 2, 3, 4};
    int64_t d4[1] = {4};
    add_init(&b, "w", 1, d4, four, 4);
    hg_assert_ok(load(&b, &g));
    hg_assert_fails(hg_graph_optimize(g, 1), HG_ERR_FORMAT, "Add node 'relu0': shapes");
    hg_graph_free(g);
}

/* Runs a single-input model on x and returns output 0. */
static hg_ndarray *run_model(builder *b, int64_t batch, const hg_ndarray *x, const char *ops) {
    hg_graph *g;
    hg_assert_ok(load(b, &g));
    hg_assert_ok(hg_graph_optimize(g, batch));
    if (ops) {
        char buf[256] = "";
        for (size_t i = 0; i < hg_graph_n_nodes(g); i++) {
            if (i)
                strcat(buf, ",");
            strcat(buf, hg_op_get_info(hg_graph_node_op(g, i))->name);
        }
        assert_string_equal(buf, ops);
    }
    hg_ndarray *y = NULL;
    const hg_ndarray *in[1] = {x};
    hg_assert_ok(hg_plain_run(g, in, 1, &y));
    hg_graph_free(g);
    return y;
}

/* Clip with bounds as attributes (opset 10) and as constant inputs (opset 13) become Relu6. */
static void test_clip_forms(void **state) {
    (void)state;
    int64_t d[2] = {1, 3};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(2, d, &x));
    x->data[0] = -1;
    x->data[1] = 3;
    x->data[2] = 7;
    builder b;
    relu_model(&b);
    b.opset.version = 10;
    b.nodes[0].op_type = "Clip";
    Onnx__AttributeProto *a =
        add_attr(&b, &b.nodes[0], "min", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = 0;
    a = add_attr(&b, &b.nodes[0], "max", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = 6;
    hg_ndarray *y = run_model(&b, 1, x, "Relu6");
    hg_assert_close(y->data[0], 0, 0);
    hg_assert_close(y->data[1], 3, 0);
    hg_assert_close(y->data[2], 6, 0);
    hg_ndarray_free(y);

    relu_model(&b);
    b.nodes[0].op_type = "Clip";
    float lo[1] = {0}, hi[1] = {6};
    int64_t none[1] = {0};
    add_init(&b, "lo", 0, none, lo, 1);
    add_init(&b, "hi", 0, none, hi, 1);
    b.node_in[0][1] = "lo";
    b.node_in[0][2] = "hi";
    b.nodes[0].n_input = 3;
    y = run_model(&b, 1, x, "Relu6");
    hg_assert_close(y->data[2], 6, 0);
    hg_ndarray_free(y);

    /* Min(Relu(x), 6) */
    relu_model(&b);
    b.out[0].vi.name = "z";
    add_init(&b, "six", 0, none, hi, 1);
    add_nd(&b, "Min", "min0", "y", "six", "z");
    y = run_model(&b, 1, x, "Relu6");
    hg_assert_close(y->data[0], 0, 0);
    hg_assert_close(y->data[2], 6, 0);
    hg_ndarray_free(y);
    hg_ndarray_free(x);
}

/* Softmax before opset 13 normalizes over the flattened axes from `axis` on; from 13 over
 * the one axis. */
static void test_softmax_opsets(void **state) {
    (void)state;
    int64_t d[3] = {1, 2, 2};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(3, d, &x));
    for (int i = 0; i < 4; i++)
        x->data[i] = i;
    for (int legacy = 0; legacy < 2; legacy++) {
        builder b;
        builder_init(&b, legacy ? 11 : 13);
        int64_t xd[3] = {-1, 2, 2};
        add_in(&b, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, xd);
        Onnx__NodeProto *n = add_nd(&b, "Softmax", "sm", "x", NULL, "y");
        Onnx__AttributeProto *a =
            add_attr(&b, n, "axis", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
        a->has_i = 1;
        a->i = 1;
        add_out(&b, "y");
        hg_ndarray *y = run_model(&b, 1, x, "Softmax");
        if (legacy) {
            double z = exp(0) + exp(1) + exp(2) + exp(3);
            for (int i = 0; i < 4; i++)
                hg_assert_close(y->data[i], exp(i) / z, 1e-15);
        } else {
            /* over axis 1: pairs (0, 2) and (1, 3) */
            hg_assert_close(y->data[0], 1 / (1 + exp(2)), 1e-15);
            hg_assert_close(y->data[2], exp(2) / (1 + exp(2)), 1e-15);
        }
        hg_ndarray_free(y);
    }
    hg_ndarray_free(x);
}

/* Loads, optimizes and runs whatever comes out of a damaged file: any status is fine, a crash
 * or a leak (under the sanitizers) is not. */
static void try_everything(const uint8_t *buf, size_t len, size_t *n_ok) {
    hg_graph *g = NULL;
    if (hg_onnx_load(buf, len, &g) != HG_OK) {
        assert_null(g);
        return;
    }
    if (hg_graph_optimize(g, 2) == HG_OK && hg_graph_n_inputs(g) == 1 &&
        hg_graph_n_outputs(g) <= 4) {
        hg_shape s;
        hg_graph_input_shape(g, 0, &s, NULL);
        int64_t c = 1;
        for (int i = 0; i < s.rank; i++)
            c *= s.dims[i] >= 0 ? s.dims[i] : 1;
        if (c <= 4096) {
            hg_ndarray *x, *y[4] = {0};
            hg_assert_ok(hg_ndarray_new(s.rank, s.dims, &x));
            const hg_ndarray *in[1] = {x};
            if (hg_plain_run(g, in, 1, y) == HG_OK)
                (*n_ok)++;
            for (int i = 0; i < 4; i++)
                hg_ndarray_free(y[i]);
            hg_ndarray_free(x);
        }
    }
    hg_graph_free(g);
}

static void test_truncated_and_corrupted(void **state) {
    (void)state;
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/small_cnn.onnx", src && *src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (set HG_SOURCE_DIR)\n", path);
        fail();
    }
    uint8_t model[1 << 16];
    size_t len = fread(model, 1, sizeof model, f);
    fclose(f);
    assert_true(len > 100 && len < sizeof model);
    size_t n_ok = 0;
    try_everything(model, len, &n_ok);
    assert_int_equal(n_ok, 1);
    for (size_t cut = 0; cut < len; cut++)
        try_everything(model, cut, &n_ok);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    hg_test_rng r;
    hg_test_rng_init(&r, 42);
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, model, len);
        int flips = 1 + (int)(hg_test_rng_u64(&r) % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = hg_test_rng_u64(&r) % len;
            if (hg_test_rng_u64(&r) % 2)
                copy[pos] ^= (uint8_t)(1u << (hg_test_rng_u64(&r) % 8));
            else
                copy[pos] = (uint8_t)hg_test_rng_u64(&r);
        }
        try_everything(copy, len, &n_ok);
    }
    free(copy);
    fprintf(stderr, "# %zu damaged models still ran\n", n_ok - 1);
}

static void test_tensor_files(void **state) {
    (void)state;
    char path[] = "/tmp/hg_test_tensor_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int64_t d[3] = {2, 1, 3};
    hg_ndarray *a, *b;
    hg_assert_ok(hg_ndarray_new(3, d, &a));
    for (size_t i = 0; i < a->size; i++)
        a->data[i] = (double)i * 0.1 - 0.25;
    hg_dtype types[3] = {HG_DTYPE_FLOAT32, HG_DTYPE_FLOAT64, HG_DTYPE_INT64};
    for (int k = 0; k < 3; k++) {
        hg_assert_ok(hg_onnx_tensor_write_file(path, a, "t", types[k]));
        char *name;
        hg_dtype dt;
        hg_assert_ok(hg_onnx_tensor_read_file(path, &b, &name, &dt));
        assert_string_equal(name, "t");
        assert_int_equal(dt, types[k]);
        assert_int_equal(b->rank, 3);
        for (int i = 0; i < 3; i++)
            assert_int_equal(b->dims[i], d[i]);
        for (size_t i = 0; i < a->size; i++) {
            double want = types[k] == HG_DTYPE_FLOAT32 ? (double)(float)a->data[i]
                          : types[k] == HG_DTYPE_INT64 ? (double)(int64_t)a->data[i]
                                                       : a->data[i];
            hg_assert_close(b->data[i], want, 0);
        }
        free(name);
        hg_ndarray_free(b);
    }
    hg_ndarray_free(a);
    close(fd);
    unlink(path);

    /* Typed fields, and errors. */
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[1] = {2};
    double dd[2] = {1.5, -2};
    t.has_data_type = 1;
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    t.n_dims = 1;
    t.dims = dims;
    t.n_double_data = 2;
    t.double_data = dd;
    uint8_t buf[256];
    size_t len = onnx__tensor_proto__pack(&t, buf);
    hg_assert_ok(hg_onnx_tensor_read(buf, len, &b, NULL, NULL));
    hg_assert_close(b->data[1], -2, 0);
    hg_ndarray_free(b);
    t.n_double_data = 1;
    len = onnx__tensor_proto__pack(&t, buf);
    hg_assert_fails(hg_onnx_tensor_read(buf, len, &b, NULL, NULL), HG_ERR_FORMAT,
                    "1 values for 2 elements");
    assert_null(b);
    hg_assert_fails(hg_onnx_tensor_read(buf, len - 3, &b, NULL, NULL), HG_ERR_FORMAT,
                    "not a valid TensorProto");
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__STRING;
    len = onnx__tensor_proto__pack(&t, buf);
    hg_assert_fails(hg_onnx_tensor_read(buf, len, &b, NULL, NULL), HG_ERR_UNSUPPORTED, "STRING");
    t.data_type = 99;
    len = onnx__tensor_proto__pack(&t, buf);
    hg_assert_fails(hg_onnx_tensor_read(buf, len, &b, NULL, NULL), HG_ERR_FORMAT,
                    "invalid data type 99");
    hg_assert_fails(hg_onnx_tensor_read_file("/nonexistent.pb", &b, NULL, NULL), HG_ERR_IO,
                    "/nonexistent.pb");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_model),    cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_clip_forms),
        cmocka_unit_test(test_softmax_opsets), cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_tensor_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
