/* Plain backend kernels against direct definitions, on random shapes and attributes: grouped
 * and depthwise Conv with strides, pads and dilations, pools, and the run's bookkeeping.
 * (ONNX's node tests cover the other ops, see tests/onnx/test_conformance.c.) */
#include "test_common.h"

#include "graph/graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static hg_ndarray *random_array(int rank, const int64_t *dims, hg_test_rng *r) {
    hg_ndarray *a;
    hg_assert_ok(hg_ndarray_new(rank, dims, &a));
    for (size_t i = 0; i < a->size; i++)
        a->data[i] = hg_test_rng_uniform(r, -1, 1);
    return a;
}

static int64_t rnd(hg_test_rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)(hg_test_rng_u64(r) % (uint64_t)(hi - lo + 1));
}

/* Conv by its definition: y[n][m][oh][ow] = b[m] + sum over the group's channels and the
 * kernel of w * x at (oh*s - p + kh*d, ow*s - p + kw*d), zero outside. */
static double conv_ref(const hg_ndarray *x, const hg_ndarray *w, const hg_ndarray *b,
                       const hg_window_attr *a, int64_t n, int64_t m, int64_t oh, int64_t ow) {
    int64_t C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t cg = w->dims[1], KH = w->dims[2], KW = w->dims[3];
    int64_t mg = w->dims[0] / a->group, g = m / mg;
    double s = b->data[m];
    for (int64_t ic = 0; ic < cg; ic++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = oh * a->strides[0] - a->pads[0] + kh * a->dilations[0];
                int64_t iw = ow * a->strides[1] - a->pads[1] + kw * a->dilations[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    continue;
                double xv = x->data[((n * C + g * cg + ic) * H + ih) * W + iw];
                s += xv * w->data[((m * cg + ic) * KH + kh) * KW + kw];
            }
    return s;
}

static void test_conv_random(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 100);
    for (int trial = 0; trial < 60; trial++) {
        int64_t G = rnd(&r, 1, 3), cg = rnd(&r, 1, 3), mg = rnd(&r, 1, 3);
        if (trial % 4 == 0) {
            cg = 1; /* depthwise */
            mg = 1;
            G = rnd(&r, 2, 5);
        }
        int64_t xd[4] = {rnd(&r, 1, 3), G * cg, rnd(&r, 3, 9), rnd(&r, 3, 9)};
        int64_t wd[4] = {G * mg, cg, rnd(&r, 1, 3), rnd(&r, 1, 3)};
        int64_t bd[1] = {G * mg};
        hg_graph *g;
        hg_assert_ok(hg_graph_new(&g));
        hg_node_attr at;
        hg_node_attr_default(HG_OP_CONV, &at);
        hg_window_attr *a = &at.window;
        a->n_spatial = 2;
        a->group = G;
        for (int i = 0; i < 2; i++) {
            a->strides[i] = rnd(&r, 1, 3);
            a->dilations[i] = rnd(&r, 1, 2);
            a->pads[i] = rnd(&r, 0, 2);
            a->pads[2 + i] = rnd(&r, 0, 2);
        }
        hg_ndarray *x = random_array(4, xd, &r), *w = random_array(4, wd, &r),
                   *b = random_array(1, bd, &r);
        hg_node n = {.op = HG_OP_CONV, .name = "conv", .n_inputs = 3, .attr = at};
        int64_t ins[3] = {0, 1, 2};
        n.inputs = ins;
        const hg_ndarray *in[3] = {x, w, b};
        hg_ndarray *y = NULL;
        hg_status s = hg_plain_eval_node(g, &n, in, &y);
        if (s == HG_ERR_FORMAT) { /* the window does not fit this input: draw again */
            hg_ndarray_free(x);
            hg_ndarray_free(w);
            hg_ndarray_free(b);
            hg_graph_free(g);
            continue;
        }
        hg_assert_ok(s);
        for (int64_t i = 0; i < 2; i++) {
            int64_t ext = (wd[2 + i] - 1) * a->dilations[i] + 1;
            int64_t want = (xd[2 + i] + a->pads[i] + a->pads[2 + i] - ext) / a->strides[i] + 1;
            assert_int_equal(y->dims[2 + i], want);
        }
        for (int64_t nn = 0; nn < y->dims[0]; nn++)
            for (int64_t m = 0; m < y->dims[1]; m++)
                for (int64_t oh = 0; oh < y->dims[2]; oh++)
                    for (int64_t ow = 0; ow < y->dims[3]; ow++) {
                        size_t idx =
                            (size_t)(((nn * y->dims[1] + m) * y->dims[2] + oh) * y->dims[3] + ow);
                        hg_assert_close(y->data[idx], conv_ref(x, w, b, a, nn, m, oh, ow), 1e-12);
                    }
        hg_ndarray_free(x);
        hg_ndarray_free(w);
        hg_ndarray_free(b);
        hg_ndarray_free(y);
        hg_graph_free(g);
    }
}

static void test_pools(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    /* 1x1x3x3, kernel 2, stride 2, ceil_mode: windows {0,1}x{0,1}, {0,1}x{2}, ... */
    int64_t xd[4] = {1, 1, 3, 3};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(4, xd, &x));
    for (int i = 0; i < 9; i++)
        x->data[i] = i + 1;
    hg_node_attr at;
    hg_node_attr_default(HG_OP_AVERAGEPOOL, &at);
    at.window.n_spatial = 2;
    at.window.kernel[0] = at.window.kernel[1] = 2;
    at.window.strides[0] = at.window.strides[1] = 2;
    at.window.ceil_mode = true;
    int64_t ins[1] = {0};
    hg_node n = {.op = HG_OP_AVERAGEPOOL, .name = "avg", .n_inputs = 1, .inputs = ins, .attr = at};
    const hg_ndarray *in[1] = {x};
    hg_ndarray *y;
    hg_assert_ok(hg_plain_eval_node(g, &n, in, &y));
    assert_int_equal(y->dims[2], 2);
    double want_avg[4] = {(1 + 2 + 4 + 5) / 4.0, (3 + 6) / 2.0, (7 + 8) / 2.0, 9};
    for (int i = 0; i < 4; i++)
        hg_assert_close(y->data[i], want_avg[i], 1e-15);
    hg_ndarray_free(y);
    n.op = HG_OP_MAXPOOL;
    hg_assert_ok(hg_plain_eval_node(g, &n, in, &y));
    double want_max[4] = {5, 6, 8, 9};
    for (int i = 0; i < 4; i++)
        hg_assert_close(y->data[i], want_max[i], 0);
    hg_ndarray_free(y);
    /* count_include_pad with a pad of 1 on each side, kernel 3, stride 3, no ceil. */
    n.op = HG_OP_AVERAGEPOOL;
    hg_node_attr_default(HG_OP_AVERAGEPOOL, &n.attr);
    n.attr.window.n_spatial = 2;
    n.attr.window.kernel[0] = n.attr.window.kernel[1] = 3;
    n.attr.window.strides[0] = n.attr.window.strides[1] = 3;
    for (int i = 0; i < 4; i++)
        n.attr.window.pads[i] = 1;
    n.attr.window.count_include_pad = true;
    hg_assert_ok(hg_plain_eval_node(g, &n, in, &y));
    assert_int_equal(y->dims[2], 1);
    hg_assert_close(y->data[0], (1 + 2 + 4 + 5) / 9.0, 1e-15);
    hg_ndarray_free(y);
    hg_ndarray_free(x);
    hg_graph_free(g);
}

/* One value listed twice as an output, an input listed as an output: the run copies. */
static void test_run_outputs(void **state) {
    (void)state;
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t x, y;
    hg_assert_ok(hg_graph_add_value(g, "x", HG_VALUE_INPUT, HG_DTYPE_FLOAT64, &x));
    g->values[x].shape.rank = 1;
    g->values[x].shape.dims[0] = 3;
    g->values[x].has_shape = true;
    hg_assert_ok(hg_graph_add_input(g, x));
    hg_assert_ok(hg_graph_add_value(g, "y", HG_VALUE_NODE, HG_DTYPE_FLOAT64, &y));
    hg_assert_ok(hg_graph_add_node(g, HG_OP_TANH, "tanh", &x, 1, y, NULL));
    hg_assert_ok(hg_graph_add_output(g, y));
    hg_assert_ok(hg_graph_add_output(g, y));
    hg_assert_ok(hg_graph_add_output(g, x));
    hg_assert_ok(hg_graph_optimize(g, 0));
    int64_t d[1] = {3};
    hg_ndarray *in, *out[3];
    hg_assert_ok(hg_ndarray_new(1, d, &in));
    in->data[0] = 0.5;
    const hg_ndarray *ins[1] = {in};
    hg_assert_ok(hg_plain_run(g, ins, 1, out));
    assert_ptr_not_equal(out[0], out[1]);
    assert_ptr_not_equal(out[2], in);
    hg_assert_close(out[0]->data[0], tanh(0.5), 1e-15);
    hg_assert_close(out[1]->data[0], tanh(0.5), 1e-15);
    hg_assert_close(out[2]->data[0], 0.5, 0);
    for (int i = 0; i < 3; i++)
        hg_ndarray_free(out[i]);
    hg_ndarray_free(in);
    hg_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_random),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_run_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
