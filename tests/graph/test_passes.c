/* Each graph pass on a small hand-built graph: the graph before and after, and the values it
 * computes (the plain backend before and after must agree). */
#include "graph_build.h"

#include "graph/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ops of g in order, as "Conv,Relu,...". */
static void ops_of(const hg_graph *g, char *buf, size_t cap) {
    buf[0] = '\0';
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (i)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, hg_op_get_info(g->nodes[i].op)->name, cap - strlen(buf) - 1);
    }
}

static void assert_ops(const hg_graph *g, const char *want) {
    char buf[512];
    ops_of(g, buf, sizeof buf);
    if (strcmp(buf, want)) {
        fprintf(stderr, "ops: %s, expected %s\n", buf, want);
        fail();
    }
}

static hg_ndarray *random_array(int rank, const int64_t *dims, uint64_t stream) {
    hg_ndarray *a;
    hg_assert_ok(hg_ndarray_new(rank, dims, &a));
    hg_test_rng r;
    hg_test_rng_init(&r, stream);
    for (size_t i = 0; i < a->size; i++)
        a->data[i] = hg_test_rng_uniform(&r, -2, 2);
    return a;
}

/* Runs g on one input and returns its single output. */
static hg_ndarray *run1(const hg_graph *g, const hg_ndarray *x) {
    hg_ndarray *y = NULL;
    const hg_ndarray *in[1] = {x};
    hg_assert_ok(hg_plain_run(g, in, 1, &y));
    return y;
}

static void assert_arrays_close(const hg_ndarray *a, const hg_ndarray *b, double tol) {
    assert_int_equal(a->rank, b->rank);
    for (int i = 0; i < a->rank; i++)
        assert_int_equal(a->dims[i], b->dims[i]);
    for (size_t i = 0; i < a->size; i++)
        hg_assert_close(a->data[i], b->data[i], tol);
}

/* ---- tests
 * ----------------------------------------------------------------------------------------- */

static void test_remove_identity(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {2, 3};
    int64_t x = tg_input(g, "x", 2, d);
    int64_t a = tg_node(g, HG_OP_IDENTITY, "id1", &x, 1, NULL);
    int64_t b = tg_node(g, HG_OP_RELU, "relu", &a, 1, NULL);
    int64_t c = tg_node(g, HG_OP_DROPOUT, "drop", &b, 1, NULL);
    hg_assert_ok(hg_graph_add_output(g, c));
    hg_ndarray *in = random_array(2, d, 1);
    hg_ndarray *before = run1(g, in);
    assert_ops(g, "Identity,Relu,Dropout");
    hg_assert_ok(hg_graph_remove_identity(g));
    hg_assert_ok(hg_graph_compact(g));
    hg_assert_ok(hg_graph_check(g));
    assert_ops(g, "Relu");
    /* The output keeps its name: the Relu now writes it. */
    assert_string_equal(hg_graph_output_name(g, 0), "drop_out");
    assert_int_equal(g->nodes[0].inputs[0], g->inputs[0]);
    hg_ndarray *after = run1(g, in);
    assert_arrays_close(before, after, 0);
    hg_ndarray_free(in);
    hg_ndarray_free(before);
    hg_ndarray_free(after);
    hg_graph_free(g);

    /* Identity from an input straight to the output must stay (both names are needed). */
    hg_assert_ok(hg_graph_new(&g));
    x = tg_input(g, "x", 2, d);
    a = tg_node(g, HG_OP_IDENTITY, "id", &x, 1, NULL);
    hg_assert_ok(hg_graph_add_output(g, a));
    hg_assert_ok(hg_graph_remove_identity(g));
    assert_ops(g, "Identity");
    hg_graph_free(g);
}

static void test_fold_constants(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {1, 4};
    double w[4] = {1, 2, 3, 4}, s[1] = {0.5};
    int64_t x = tg_input(g, "x", 2, d);
    int64_t cw = tg_const(g, "w", 2, d, w);
    int64_t cs = tg_const(g, "s", 0, d, s);
    /* (w * 0.5) transposed twice and reshaped: all constant. */
    int64_t ins[2] = {cw, cs};
    int64_t m = tg_node(g, HG_OP_MUL, "scale", ins, 2, NULL);
    int64_t shape[1] = {4};
    int64_t cshape = tg_const_i64(g, "shape", 1, shape);
    int64_t rin[2] = {m, cshape};
    int64_t r = tg_node(g, HG_OP_RESHAPE, "flat", rin, 2, NULL);
    int64_t ain[2] = {x, r};
    int64_t y = tg_node(g, HG_OP_ADD, "add", ain, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, y));
    assert_ops(g, "Mul,Reshape,Add");
    hg_assert_ok(hg_graph_fold_constants(g));
    hg_assert_ok(hg_graph_compact(g));
    hg_assert_ok(hg_graph_check(g));
    assert_ops(g, "Add");
    const hg_value *c = &g->values[g->nodes[0].inputs[1]];
    assert_int_equal(c->kind, HG_VALUE_CONSTANT);
    assert_int_equal(c->shape.rank, 1);
    assert_int_equal(c->shape.dims[0], 4);
    for (int i = 0; i < 4; i++)
        hg_assert_close(c->f64[i], 0.5 * (i + 1), 0);
    assert_int_equal(hg_graph_param_count(g), 4);
    hg_graph_free(g);
}

/* Conv then BatchNormalization, on random data, against the folded Conv. */
static void test_fold_batchnorm_conv(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t xd[4] = {2, 2, 5, 5}, wd[4] = {4, 1, 3, 3}, cd[1] = {4};
    hg_test_rng r;
    hg_test_rng_init(&r, 7);
    double w[36], b[4], sc[4], bb[4], mu[4], var[4];
    for (int i = 0; i < 36; i++)
        w[i] = hg_test_rng_uniform(&r, -1, 1);
    for (int i = 0; i < 4; i++) {
        b[i] = hg_test_rng_uniform(&r, -1, 1);
        sc[i] = hg_test_rng_uniform(&r, 0.5, 1.5);
        bb[i] = hg_test_rng_uniform(&r, -1, 1);
        mu[i] = hg_test_rng_uniform(&r, -1, 1);
        var[i] = hg_test_rng_uniform(&r, 0.2, 2);
    }
    int64_t x = tg_input(g, "x", 4, xd);
    int64_t cin[3] = {x, tg_const(g, "w", 4, wd, w), tg_const(g, "b", 1, cd, b)};
    hg_node_attr ca;
    hg_node_attr_default(HG_OP_CONV, &ca);
    ca.window.group = 2; /* grouped: 2 output channels per group */
    ca.window.n_spatial = 2;
    ca.window.pads[0] = ca.window.pads[1] = ca.window.pads[2] = ca.window.pads[3] = 1;
    int64_t cv = tg_node(g, HG_OP_CONV, "conv", cin, 3, &ca);
    int64_t bin[5] = {cv, tg_const(g, "sc", 1, cd, sc), tg_const(g, "bb", 1, cd, bb),
                      tg_const(g, "mu", 1, cd, mu), tg_const(g, "var", 1, cd, var)};
    int64_t y = tg_node(g, HG_OP_BATCHNORM, "bn", bin, 5, NULL);
    hg_assert_ok(hg_graph_add_output(g, y));
    hg_ndarray *in = random_array(4, xd, 2);
    hg_ndarray *before = run1(g, in);
    hg_assert_ok(hg_graph_fold_batchnorm(g));
    hg_assert_ok(hg_graph_check(g));
    assert_ops(g, "Conv");
    assert_string_equal(hg_graph_output_name(g, 0), "bn_out");
    hg_ndarray *after = run1(g, in);
    assert_arrays_close(before, after, 1e-12);
    hg_ndarray_free(in);
    hg_ndarray_free(before);
    hg_ndarray_free(after);
    hg_graph_free(g);
}

static void test_fold_batchnorm_gemm(void **state) {
    (void)state;
    for (int trans_b = 0; trans_b < 2; trans_b++) {
        hg_graph *g;
        hg_assert_ok(hg_graph_new(&g));
        int64_t xd[2] = {3, 4}, wd[2] = {trans_b ? 5 : 4, trans_b ? 4 : 5}, cd[1] = {5};
        double w[20], c[5], sc[5], bb[5], mu[5], var[5];
        hg_test_rng r;
        hg_test_rng_init(&r, 11);
        for (int i = 0; i < 20; i++)
            w[i] = hg_test_rng_uniform(&r, -1, 1);
        for (int i = 0; i < 5; i++) {
            c[i] = hg_test_rng_uniform(&r, -1, 1);
            sc[i] = hg_test_rng_uniform(&r, 0.5, 1.5);
            bb[i] = hg_test_rng_uniform(&r, -1, 1);
            mu[i] = hg_test_rng_uniform(&r, -1, 1);
            var[i] = hg_test_rng_uniform(&r, 0.2, 2);
        }
        int64_t x = tg_input(g, "x", 2, xd);
        int64_t gin[3] = {x, tg_const(g, "w", 2, wd, w), tg_const(g, "c", 1, cd, c)};
        hg_node_attr ga;
        hg_node_attr_default(HG_OP_GEMM, &ga);
        ga.gemm.trans_b = trans_b;
        ga.gemm.alpha = 0.7;
        ga.gemm.beta = 1.3;
        int64_t gm = tg_node(g, HG_OP_GEMM, "gemm", gin, 3, &ga);
        int64_t bin[5] = {gm, tg_const(g, "sc", 1, cd, sc), tg_const(g, "bb", 1, cd, bb),
                          tg_const(g, "mu", 1, cd, mu), tg_const(g, "var", 1, cd, var)};
        int64_t y = tg_node(g, HG_OP_BATCHNORM, "bn", bin, 5, NULL);
        hg_assert_ok(hg_graph_add_output(g, y));
        hg_ndarray *in = random_array(2, xd, 3);
        hg_ndarray *before = run1(g, in);
        hg_assert_ok(hg_graph_fold_batchnorm(g));
        assert_ops(g, "Gemm");
        hg_ndarray *after = run1(g, in);
        assert_arrays_close(before, after, 1e-12);
        hg_ndarray_free(in);
        hg_ndarray_free(before);
        hg_ndarray_free(after);
        hg_graph_free(g);
    }
}

/* A BatchNormalization after a Relu, or whose input is read twice, stays. */
static void test_fold_batchnorm_not_applicable(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t xd[4] = {1, 2, 2, 2}, cd[1] = {2};
    double one[2] = {1, 1}, zero[2] = {0, 0};
    int64_t x = tg_input(g, "x", 4, xd);
    int64_t rl = tg_node(g, HG_OP_RELU, "relu", &x, 1, NULL);
    int64_t bin[5] = {rl, tg_const(g, "s", 1, cd, one), tg_const(g, "b", 1, cd, zero),
                      tg_const(g, "m", 1, cd, zero), tg_const(g, "v", 1, cd, one)};
    int64_t y = tg_node(g, HG_OP_BATCHNORM, "bn", bin, 5, NULL);
    hg_assert_ok(hg_graph_add_output(g, y));
    hg_assert_ok(hg_graph_fold_batchnorm(g));
    assert_ops(g, "Relu,BatchNormalization");
    hg_graph_free(g);
}

static void test_fuse_square(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {2, 3}, sd[1] = {1};
    double two[1] = {2};
    int64_t x = tg_input(g, "x", 2, d);
    int64_t mi[2] = {x, x};
    int64_t m = tg_node(g, HG_OP_MUL, "mul", mi, 2, NULL);
    int64_t pi[2] = {m, tg_const(g, "two", 1, sd, two)};
    int64_t p = tg_node(g, HG_OP_POW, "pow", pi, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, p));
    hg_ndarray *in = random_array(2, d, 4);
    hg_ndarray *before = run1(g, in);
    assert_ops(g, "Mul,Pow");
    hg_assert_ok(hg_graph_fuse_square(g));
    hg_assert_ok(hg_graph_check(g));
    assert_ops(g, "Square,Square");
    assert_int_equal(g->nodes[1].n_inputs, 1);
    hg_ndarray *after = run1(g, in);
    assert_arrays_close(before, after, 1e-12);
    for (size_t i = 0; i < in->size; i++)
        hg_assert_close(after->data[i], pow(in->data[i], 4), 1e-12);
    hg_ndarray_free(in);
    hg_ndarray_free(before);
    hg_ndarray_free(after);
    hg_graph_free(g);
}

static void test_fuse_relu6(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {2, 8};
    double six[1] = {6}, zero[1] = {0}, five[1] = {5};
    int64_t x = tg_input(g, "x", 2, d);
    /* Min(Relu(x), 6) */
    int64_t r = tg_node(g, HG_OP_RELU, "relu", &x, 1, NULL);
    int64_t mi[2] = {tg_const(g, "six", 0, d, six), r};
    int64_t m = tg_node(g, HG_OP_MIN, "min", mi, 2, NULL);
    /* Clip(m, 0, 6) from constant inputs, then Clip(., 0, 5) which stays a Clip. */
    int64_t ci[3] = {m, tg_const(g, "zero", 0, d, zero), tg_const(g, "six2", 0, d, six)};
    int64_t c = tg_node(g, HG_OP_CLIP, "clip", ci, 3, NULL);
    int64_t ci2[3] = {c, tg_const(g, "zero2", 0, d, zero), tg_const(g, "five", 0, d, five)};
    int64_t c2 = tg_node(g, HG_OP_CLIP, "clip5", ci2, 3, NULL);
    hg_assert_ok(hg_graph_add_output(g, c2));
    hg_ndarray *in = random_array(2, d, 5);
    for (size_t i = 0; i < in->size; i++)
        in->data[i] *= 6; /* cover both bounds */
    hg_ndarray *before = run1(g, in);
    assert_ops(g, "Relu,Min,Clip,Clip");
    hg_assert_ok(hg_graph_fuse_relu6(g));
    hg_assert_ok(hg_graph_check(g));
    assert_ops(g, "Relu6,Relu6,Clip");
    assert_int_equal(g->nodes[0].inputs[0], g->inputs[0]);
    hg_ndarray *after = run1(g, in);
    assert_arrays_close(before, after, 0);
    hg_ndarray_free(in);
    hg_ndarray_free(before);
    hg_ndarray_free(after);
    hg_graph_free(g);
}

static void test_infer_shapes_and_batch(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t xd[4] = {-1, 1, 6, 6}, wd[4] = {2, 1, 3, 3};
    double w[18] = {0};
    int64_t x = tg_input(g, "x", 4, xd);
    int64_t cin[2] = {x, tg_const(g, "w", 4, wd, w)};
    hg_node_attr ca;
    hg_node_attr_default(HG_OP_CONV, &ca);
    ca.window.auto_pad = HG_PAD_SAME_UPPER;
    ca.window.strides[0] = ca.window.strides[1] = 2;
    int64_t cv = tg_node(g, HG_OP_CONV, "conv", cin, 2, &ca);
    int64_t fl = tg_node(g, HG_OP_FLATTEN, "flat", &cv, 1, NULL);
    hg_node_attr ta;
    hg_node_attr_default(HG_OP_TRANSPOSE, &ta);
    int64_t tr = tg_node(g, HG_OP_TRANSPOSE, "tr", &fl, 1, &ta);
    hg_assert_ok(hg_graph_add_output(g, tr));
    hg_assert_ok(hg_graph_infer_shapes(g, 5));
    hg_shape s;
    hg_graph_node_shape(g, 0, &s);
    assert_int_equal(s.rank, 4);
    assert_int_equal(s.dims[0], 5);
    assert_int_equal(s.dims[2], 3); /* ceil(6 / 2) */
    /* SAME_UPPER resolved into explicit pads: total 1, the extra one at the end. */
    assert_int_equal(g->nodes[0].attr.window.auto_pad, HG_PAD_NOTSET);
    assert_int_equal(g->nodes[0].attr.window.pads[0], 0);
    assert_int_equal(g->nodes[0].attr.window.pads[2], 1);
    hg_graph_node_shape(g, 1, &s);
    assert_int_equal(s.dims[0], 5);
    assert_int_equal(s.dims[1], 18);
    hg_graph_node_shape(g, 2, &s);
    assert_int_equal(s.dims[0], 18);
    assert_true(hg_graph_node_keeps_batch(g, 0));
    assert_true(hg_graph_node_keeps_batch(g, 1));
    assert_false(hg_graph_node_keeps_batch(g, 2)); /* the transpose moves axis 0 */
    hg_graph_free(g);
}

static void test_depth_report(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {1, 4}, wd[2] = {4, 4}, cd[1] = {4};
    double w[16] = {0}, c[4] = {0};
    int64_t x = tg_input(g, "x", 2, d);
    /* Gemm (1) -> Square (1) -> Relu | Gemm (1) + (x * c) (1) -> Add -> outputs */
    int64_t gi[2] = {x, tg_const(g, "w", 2, wd, w)};
    int64_t g1 = tg_node(g, HG_OP_GEMM, "g1", gi, 2, NULL);
    int64_t sq = tg_node(g, HG_OP_SQUARE, "sq", &g1, 1, NULL);
    int64_t rl = tg_node(g, HG_OP_RELU, "relu", &sq, 1, NULL);
    int64_t gi2[2] = {rl, tg_const(g, "w2", 2, wd, w)};
    int64_t g2 = tg_node(g, HG_OP_GEMM, "g2", gi2, 2, NULL);
    int64_t g3i[2] = {g2, tg_const(g, "c", 1, cd, c)};
    int64_t g3 = tg_node(g, HG_OP_MUL, "scale", g3i, 2, NULL);
    int64_t ai[2] = {g3, rl};
    int64_t ad = tg_node(g, HG_OP_ADD, "add", ai, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, ad));
    hg_depth_report r;
    hg_assert_ok(hg_graph_depth_report(g, &r));
    assert_int_equal(r.n_segments, 2);
    assert_int_equal(r.segments[0].end_node, 2); /* the Relu */
    assert_int_equal(r.segments[0].depth, 2);
    assert_int_equal(r.segments[1].end_node, -1);
    assert_int_equal(r.segments[1].depth, 2); /* max of Gemm+Mul (2) and the Relu path (0) */
    assert_int_equal(r.max_depth, 2);
    hg_depth_report_clear(&r);
    const hg_op_info *info = hg_op_get_info(HG_OP_RELU6);
    assert_true(info->needs_client);
    assert_string_equal(hg_op_get_info(HG_OP_SQUARE)->name, "Square");
    assert_int_equal(hg_op_get_info(HG_OP_SQUARE)->mult_depth, 1);
    assert_int_equal(hg_op_get_info(HG_OP_ADD)->mult_depth, 0);
    assert_true(hg_op_get_info(HG_OP_CONV)->is_linear);
    assert_null(hg_op_get_info(HG_OP_COUNT));
    hg_graph_free(g);
}

static void test_optimize_pipeline(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {-1, 3}, sd[1] = {1};
    double six[1] = {6}, two[1] = {2};
    int64_t x = tg_input(g, "x", 2, d);
    int64_t id = tg_node(g, HG_OP_IDENTITY, "id", &x, 1, NULL);
    int64_t r = tg_node(g, HG_OP_RELU, "relu", &id, 1, NULL);
    int64_t mi[2] = {r, tg_const(g, "six", 1, sd, six)};
    int64_t m = tg_node(g, HG_OP_MIN, "min", mi, 2, NULL);
    int64_t di[2] = {m, tg_const(g, "two", 1, sd, two)};
    int64_t dv = tg_node(g, HG_OP_DIV, "half", di, 2, NULL);
    int64_t si[2] = {dv, dv};
    int64_t sq = tg_node(g, HG_OP_MUL, "sq", si, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, sq));
    hg_assert_ok(hg_graph_optimize(g, 4));
    assert_ops(g, "Relu6,Div,Square");
    hg_shape s;
    hg_graph_output_shape(g, 0, &s, NULL);
    assert_int_equal(s.dims[0], 4);
    int64_t d7[2] = {7, 3};
    hg_ndarray *in = random_array(2, d7, 8);
    hg_ndarray *y = run1(g, in);
    assert_int_equal(y->dims[0], 7);
    for (size_t i = 0; i < in->size; i++) {
        double v = fmin(fmax(in->data[i], 0), 6) / 2;
        hg_assert_close(y->data[i], v * v, 1e-15);
    }
    hg_ndarray_free(in);
    hg_ndarray_free(y);
    hg_graph_free(g);
}

static void test_errors(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[2] = {2, 3}, d2[2] = {4, 5};
    int64_t x = tg_input(g, "x", 2, d);
    int64_t y = tg_input(g, "y", 2, d2);
    int64_t ai[2] = {x, y};
    int64_t a = tg_node(g, HG_OP_ADD, "bad_add", ai, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, a));
    hg_assert_fails(hg_graph_infer_shapes(g, 0), HG_ERR_FORMAT, "Add node 'bad_add'");
    hg_assert_fails(hg_graph_infer_shapes(g, 0), HG_ERR_FORMAT, "do not broadcast");
    /* A divisor that is an input is not supported. */
    int64_t di[2] = {x, x};
    int64_t dv = tg_node(g, HG_OP_DIV, "div", di, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, dv));
    hg_assert_fails(hg_graph_resolve_operands(g), HG_ERR_UNSUPPORTED, "must be a constant");
    hg_graph_free(g);

    /* Reshape that cannot hold the elements, Pow by 3, bad inputs to hg_plain_run. */
    hg_assert_ok(hg_graph_new(&g));
    x = tg_input(g, "x", 2, d);
    int64_t shp[2] = {4, -1};
    int64_t ri[2] = {x, tg_const_i64(g, "shape", 2, shp)};
    int64_t rs = tg_node(g, HG_OP_RESHAPE, "reshape", ri, 2, NULL);
    hg_assert_ok(hg_graph_add_output(g, rs));
    hg_assert_fails(hg_graph_infer_shapes(g, 0), HG_ERR_FORMAT, "cannot infer -1");
    hg_ndarray *in = random_array(2, d2, 1);
    hg_ndarray *out = NULL;
    const hg_ndarray *ins[1] = {in};
    hg_assert_fails(hg_plain_run(g, ins, 1, &out), HG_ERR_INVALID_ARG, "input 'x' must have shape");
    hg_assert_fails(hg_plain_run(g, ins, 0, &out), HG_ERR_INVALID_ARG, "0 inputs given");
    assert_null(out);
    hg_ndarray_free(in);
    double three[1] = {3};
    int64_t sd[1] = {1};
    int64_t pi[2] = {x, tg_const(g, "three", 1, sd, three)};
    int64_t pv;
    hg_assert_ok(hg_graph_add_value(g, "p", HG_VALUE_NODE, HG_DTYPE_FLOAT32, &pv));
    hg_assert_ok(hg_graph_add_node(g, HG_OP_POW, "pow3", pi, 2, pv, NULL));
    hg_assert_fails(hg_node_resolve(g, &g->nodes[g->n_nodes - 1], false), HG_ERR_UNSUPPORTED,
                    "Pow node 'pow3': exponent 3");
    hg_graph_free(g);

    /* Arrays: rank and size limits. */
    hg_ndarray *arr;
    int64_t big[2] = {1 << 20, 1 << 20};
    hg_assert_fails(hg_ndarray_new(2, big, &arr), HG_ERR_LIMIT, "elements");
    hg_assert_fails(hg_ndarray_new(9, big, &arr), HG_ERR_INVALID_ARG, "rank 9");
    int64_t neg[1] = {-1};
    hg_assert_fails(hg_ndarray_new(1, neg, &arr), HG_ERR_INVALID_ARG, "negative");

    /* hg_graph_check: a node reading a value computed after it (a cycle). */
    hg_assert_ok(hg_graph_new(&g));
    x = tg_input(g, "x", 2, d);
    int64_t later;
    hg_assert_ok(hg_graph_add_value(g, "later", HG_VALUE_NODE, HG_DTYPE_FLOAT32, &later));
    int64_t first;
    hg_assert_ok(hg_graph_add_value(g, "first", HG_VALUE_NODE, HG_DTYPE_FLOAT32, &first));
    hg_assert_ok(hg_graph_add_node(g, HG_OP_RELU, "r1", &later, 1, first, NULL));
    hg_assert_ok(hg_graph_add_node(g, HG_OP_RELU, "r2", &first, 1, later, NULL));
    hg_assert_ok(hg_graph_add_output(g, later));
    hg_assert_fails(hg_graph_check(g), HG_ERR_FORMAT, "cycle");
    hg_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remove_identity),
        cmocka_unit_test(test_fold_constants),
        cmocka_unit_test(test_fold_batchnorm_conv),
        cmocka_unit_test(test_fold_batchnorm_gemm),
        cmocka_unit_test(test_fold_batchnorm_not_applicable),
        cmocka_unit_test(test_fuse_square),
        cmocka_unit_test(test_fuse_relu6),
        cmocka_unit_test(test_infer_shapes_and_batch),
        cmocka_unit_test(test_depth_report),
        cmocka_unit_test(test_optimize_pipeline),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
