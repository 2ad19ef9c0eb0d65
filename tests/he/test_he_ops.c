/*
 * The encrypted backend against the plain backend, op by op, on random weights and inputs:
 * real and complex packing, every optimization on, every one off in turn, and all off; the
 * precision in bits is printed and asserted. Then the error paths: a batch above the capacity,
 * an exhausted depth, parameters below the security table.
 */
#include "graph_build.h"

#include "he/he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters and keys --------------------------------------------------------------------- */

typedef struct keys {
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    hg_he_client *client[2]; /* real, complex packing */
} keys;

static keys K;

/* N = 1024 (insecure, for speed), five 30-bit middle primes: depth 5, scale 2^30. */
static int setup(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 7, .bits = {45, 30, 30, 30, 30, 30, 50},
                              .n_special = 1, .scale = 0x1p30, .insecure = true};
    if (hg_ckks_params_new(&lit, &K.p) || hg_ckks_ctx_new(K.p, &K.ctx) ||
        hg_ckks_sk_new(K.ctx, &K.sk) || hg_ckks_rlk_new(K.ctx, K.sk, &K.rlk) ||
        hg_ckks_gk_new(K.ctx, K.sk, NULL, 0, true, &K.gk) ||
        hg_he_client_new(K.ctx, K.sk, false, 0, &K.client[0]) ||
        hg_he_client_new(K.ctx, K.sk, true, 0, &K.client[1]))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hg_he_client_free(K.client[0]);
    hg_he_client_free(K.client[1]);
    hg_ckks_gk_free(K.gk);
    hg_ckks_rlk_free(K.rlk);
    hg_ckks_sk_free(K.sk);
    hg_ckks_ctx_free(K.ctx);
    hg_ckks_params_free(K.p);
    return 0;
}

/* ---- graphs ------------------------------------------------------------------------------------ */

typedef struct built {
    hg_graph *g;
    int rank;
    int64_t dims[HG_MAX_RANK]; /* input dims, batch included */
} built;

typedef void (*build_fn)(built *b, hg_test_rng *r);

static hg_graph *start(built *b, int rank, const int64_t *dims, int64_t *x) {
    hg_assert_ok(hg_graph_new(&b->g));
    b->rank = rank;
    memcpy(b->dims, dims, (size_t)rank * sizeof *dims);
    *x = tg_input(b->g, "x", rank, dims);
    return b->g;
}

static void conv(built *b, hg_test_rng *r) {
    int64_t x, d[4] = {0, 2, 7, 7}, wd[4] = {3, 2, 3, 3}, bd[1] = {3};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    a.window.strides[0] = a.window.strides[1] = 2;
    for (int i = 0; i < 4; i++)
        a.window.pads[i] = 1;
    int64_t in[3] = {x, tg_random_const(g, "w", 4, wd, 0.5, r), tg_random_const(g, "b", 1, bd, 1, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_CONV, "conv", in, 3, &a)));
}

static void depthwise(built *b, hg_test_rng *r) {
    int64_t x, d[4] = {0, 3, 6, 6}, wd[4] = {3, 1, 3, 3};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    a.window.group = 3;
    for (int i = 0; i < 4; i++)
        a.window.pads[i] = 1;
    int64_t in[2] = {x, tg_random_const(g, "w", 4, wd, 0.5, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_CONV, "dw", in, 2, &a)));
}

static void gemm(built *b, hg_test_rng *r) {
    int64_t x, d[2] = {0, 12}, wd[2] = {5, 12}, bd[1] = {5};
    hg_graph *g = start(b, 2, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_GEMM, &a);
    a.gemm.trans_b = true;
    a.gemm.alpha = 0.75;
    int64_t in[3] = {x, tg_random_const(g, "w", 2, wd, 0.5, r), tg_random_const(g, "b", 1, bd, 1, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GEMM, "gemm", in, 3, &a)));
}

static void matmul(built *b, hg_test_rng *r) {
    int64_t x, d[3] = {0, 3, 4}, wd[2] = {4, 6};
    hg_graph *g = start(b, 3, d, &x);
    int64_t in[2] = {x, tg_random_const(g, "w", 2, wd, 0.5, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_MATMUL, "mm", in, 2, NULL)));
}

static void elementwise(built *b, hg_test_rng *r) {
    /* ((x * c1) + c2 - c3) / 4, then c4 - that: Mul, Add, Sub, Div, reversed Sub */
    int64_t x, d[3] = {0, 2, 5}, cd[2] = {1, 5}, c2d[3] = {1, 2, 5};
    hg_graph *g = start(b, 3, d, &x);
    int64_t in[2] = {x, tg_random_const(g, "c1", 2, cd, 2, r)};
    int64_t y = tg_node(g, HG_OP_MUL, "mul", in, 2, NULL);
    int64_t in2[2] = {y, tg_random_const(g, "c2", 3, c2d, 1, r)};
    y = tg_node(g, HG_OP_ADD, "add", in2, 2, NULL);
    int64_t in3[2] = {y, tg_random_const(g, "c3", 2, cd, 1, r)};
    y = tg_node(g, HG_OP_SUB, "sub", in3, 2, NULL);
    double four = 4;
    int64_t one[1] = {1};
    int64_t in4[2] = {y, tg_const(g, "four", 1, one, &four)};
    y = tg_node(g, HG_OP_DIV, "div", in4, 2, NULL);
    int64_t in5[2] = {tg_random_const(g, "c4", 2, cd, 1, r), y};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_SUB, "rsub", in5, 2, NULL)));
}

static void pools(built *b, hg_test_rng *r) {
    (void)r;
    int64_t x, d[4] = {0, 2, 5, 5};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_AVERAGEPOOL, &a);
    a.window.kernel[0] = a.window.kernel[1] = 2;
    a.window.strides[0] = a.window.strides[1] = 2;
    a.window.has_kernel = true;
    a.window.n_spatial = 2;
    a.window.pads[2] = a.window.pads[3] = 1; /* end padding, not counted */
    int64_t y = tg_node(g, HG_OP_AVERAGEPOOL, "avg", &x, 1, &a);
    hg_assert_ok(hg_graph_add_output(g, y));
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GLOBALAVERAGEPOOL, "gap", &x, 1, NULL)));
}

static void batchnorm(built *b, hg_test_rng *r) {
    int64_t x, d[4] = {0, 3, 2, 2}, cd[1] = {3};
    hg_graph *g = start(b, 4, d, &x);
    double var[3] = {0.5, 1.5, 2.0};
    int64_t in[5] = {x, tg_random_const(g, "gamma", 1, cd, 1, r),
                     tg_random_const(g, "beta", 1, cd, 1, r), tg_random_const(g, "mean", 1, cd, 1, r),
                     tg_const(g, "var", 1, cd, var)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_BATCHNORM, "bn", in, 5, NULL)));
}

static void products(built *b, hg_test_rng *r) {
    /* x^2 (Square), x * (x * c) (two different encrypted operands), x + x*c (residual add) */
    int64_t x, d[2] = {0, 6}, cd[1] = {6};
    hg_graph *g = start(b, 2, d, &x);
    int64_t xx[2] = {x, x};
    int64_t sq = tg_node(g, HG_OP_MUL, "sq", xx, 2, NULL);
    int64_t in[2] = {x, tg_random_const(g, "c", 1, cd, 1, r)};
    int64_t xc = tg_node(g, HG_OP_MUL, "xc", in, 2, NULL);
    int64_t in2[2] = {x, xc};
    int64_t prod = tg_node(g, HG_OP_MUL, "prod", in2, 2, NULL);
    int64_t in3[2] = {sq, prod};
    int64_t sum = tg_node(g, HG_OP_ADD, "sum", in3, 2, NULL);
    int64_t in4[2] = {x, xc};
    hg_assert_ok(hg_graph_add_output(g, sum));
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_SUB, "res", in4, 2, NULL)));
}

static void structural(built *b, hg_test_rng *r) {
    (void)r;
    int64_t x, d[4] = {0, 2, 3, 4};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr t;
    hg_node_attr_default(HG_OP_TRANSPOSE, &t);
    t.transpose.rank = 4;
    int64_t perm[4] = {0, 3, 1, 2};
    memcpy(t.transpose.perm, perm, sizeof perm);
    int64_t tr = tg_node(g, HG_OP_TRANSPOSE, "tr", &x, 1, &t);
    int64_t pads[8] = {0, 0, 1, 0, 0, 1, 0, 2};
    int64_t pin[2] = {tr, tg_const_i64(g, "pads", 8, pads)};
    int64_t pd = tg_node(g, HG_OP_PAD, "pad", pin, 2, NULL);
    hg_node_attr c;
    hg_node_attr_default(HG_OP_CONCAT, &c);
    c.axis = 1;
    int64_t cin[2] = {x, x};
    int64_t cat = tg_node(g, HG_OP_CONCAT, "cat", cin, 2, &c);
    int64_t fl = tg_node(g, HG_OP_FLATTEN, "flat", &cat, 1, NULL);
    int64_t shape[3] = {0, 5, -1};
    int64_t rin[2] = {pd, tg_const_i64(g, "shape", 3, shape)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_RESHAPE, "reshape", rin, 2, NULL)));
    hg_assert_ok(hg_graph_add_output(g, fl));
}

static void activations(built *b, hg_test_rng *r) {
    /* Conv -> Relu -> MaxPool -> Clip(0, 6) -> Gemm -> LeakyRelu, Tanh, Sigmoid, Softmax */
    int64_t x, d[4] = {0, 1, 6, 6}, wd[4] = {2, 1, 3, 3}, gd[2] = {4, 8};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    for (int i = 0; i < 4; i++)
        a.window.pads[i] = 1;
    int64_t in[2] = {x, tg_random_const(g, "w", 4, wd, 1, r)};
    int64_t y = tg_node(g, HG_OP_CONV, "conv", in, 2, &a);
    y = tg_node(g, HG_OP_RELU, "relu", &y, 1, NULL);
    hg_node_attr mp;
    hg_node_attr_default(HG_OP_MAXPOOL, &mp);
    mp.window.kernel[0] = mp.window.kernel[1] = 3;
    mp.window.strides[0] = mp.window.strides[1] = 3;
    mp.window.has_kernel = true;
    mp.window.n_spatial = 2;
    y = tg_node(g, HG_OP_MAXPOOL, "maxpool", &y, 1, &mp);
    hg_node_attr cl;
    hg_node_attr_default(HG_OP_CLIP, &cl);
    cl.clip.min = 0;
    cl.clip.max = 6;
    y = tg_node(g, HG_OP_CLIP, "relu6", &y, 1, &cl);
    y = tg_node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr gm;
    hg_node_attr_default(HG_OP_GEMM, &gm);
    gm.gemm.trans_b = true;
    int64_t gin[2] = {y, tg_random_const(g, "g", 2, gd, 0.5, r)};
    y = tg_node(g, HG_OP_GEMM, "gemm", gin, 2, &gm);
    hg_node_attr lr;
    hg_node_attr_default(HG_OP_LEAKYRELU, &lr);
    lr.leaky_alpha = 0.1;
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_LEAKYRELU, "leaky", &y, 1, &lr)));
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_TANH, "tanh", &y, 1, NULL)));
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_SIGMOID, "sigmoid", &y, 1, NULL)));
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_SOFTMAX, "softmax", &y, 1, NULL)));
}

static void cryptonets_like(built *b, hg_test_rng *r) {
    /* Conv 5x5 s2 -> x*x -> Flatten -> Gemm -> x*x -> Gemm: four levels, two squares */
    int64_t x, d[4] = {0, 1, 9, 9}, wd[4] = {2, 1, 5, 5}, bd[1] = {2}, g1[2] = {7, 32},
               g1b[1] = {7}, g2[2] = {3, 7};
    hg_graph *g = start(b, 4, d, &x);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    a.window.strides[0] = a.window.strides[1] = 2;
    for (int i = 0; i < 4; i++)
        a.window.pads[i] = 1;
    int64_t in[3] = {x, tg_random_const(g, "w", 4, wd, 0.3, r), tg_random_const(g, "b", 1, bd, 0.3, r)};
    int64_t y = tg_node(g, HG_OP_CONV, "conv", in, 3, &a);
    int64_t yy[2] = {y, y};
    y = tg_node(g, HG_OP_MUL, "sq1", yy, 2, NULL);
    y = tg_node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr gm;
    hg_node_attr_default(HG_OP_GEMM, &gm);
    gm.gemm.trans_b = true;
    int64_t gin[3] = {y, tg_random_const(g, "g1", 2, g1, 0.3, r), tg_random_const(g, "g1b", 1, g1b, 0.3, r)};
    y = tg_node(g, HG_OP_GEMM, "fc1", gin, 3, &gm);
    int64_t y2[2] = {y, y};
    y = tg_node(g, HG_OP_MUL, "sq2", y2, 2, NULL);
    int64_t gin2[2] = {y, tg_random_const(g, "g2", 2, g2, 0.3, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GEMM, "fc2", gin2, 2, &gm)));
}

/* ---- the comparison ----------------------------------------------------------------------------- */

typedef struct variant {
    const char *name;
    void (*set)(hg_he_opts *o);
} variant;

static void v_default(hg_he_opts *o) {
    hg_he_opts_default(o);
}
static void v_naive(hg_he_opts *o) {
    hg_he_opts_naive(o);
}
static void v_no_scalar(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->scalar_encoding = false;
}
static void v_no_depth(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->depth_aware = false;
}
static void v_no_fast(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->fast_scalar = false;
    o->linear_engine = false;
}
static void v_no_lazy_rescale(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->lazy_rescale = false;
}
static void v_no_lazy_relin(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->lazy_relin = false;
}
static void v_no_engine(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->linear_engine = false;
}
static void v_unmasked(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->masking = false;
}
static void v_skip_zero(hg_he_opts *o) {
    hg_he_opts_default(o);
    o->skip_zero_weights = true;
}

static const variant variants[] = {
    {"all optimizations", v_default},      {"naive", v_naive},
    {"no scalar encoding", v_no_scalar},   {"no depth-aware encoding", v_no_depth},
    {"no fast scalar ops", v_no_fast},     {"no lazy rescaling", v_no_lazy_rescale},
    {"no lazy relinearization", v_no_lazy_relin}, {"no linear engine", v_no_engine},
    {"zero-weight skipping", v_skip_zero}, {"unmasked activations", v_unmasked},
};

/* Runs the graph built by fn encrypted under every variant and both packings, against the
 * plain backend; asserts min_bits of precision relative to max(1, |value|). */
static void compare(build_fn fn, const char *name, int64_t batch, double min_bits) {
    hg_test_rng r;
    hg_test_rng_init(&r, 100);
    built b;
    fn(&b, &r);
    b.dims[0] = batch;
    hg_assert_ok(hg_graph_optimize(b.g, batch));
    hg_ndarray *x = tg_random_array(b.rank, b.dims, 1.0, &r);
    const hg_ndarray *in[1] = {x};
    hg_ndarray *want[8] = {0}, *got[8] = {0};
    size_t n_out = hg_graph_n_outputs(b.g);
    hg_assert_ok(hg_plain_run(b.g, in, 1, want));
    for (int cp = 0; cp <= 1; cp++)
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            hg_he_opts o;
            variants[v].set(&o);
            o.complex_packing = cp;
            hg_he_model *m;
            hg_assert_ok(hg_he_model_new(b.g, K.ctx, &o, (size_t)batch, &m));
            hg_he_run_stats st;
            hg_assert_ok(hg_he_run_local(m, K.client[cp], K.rlk, K.gk, in, 1, got, &st));
            double worst = 0;
            for (size_t i = 0; i < n_out; i++) {
                assert_int_equal(got[i]->size, want[i]->size);
                for (size_t k = 0; k < want[i]->size; k++) {
                    double e = fabs(got[i]->data[k] - want[i]->data[k]) /
                               fmax(1.0, fabs(want[i]->data[k]));
                    if (e > worst)
                        worst = e;
                }
                hg_ndarray_free(got[i]);
            }
            double bits = worst > 0 ? -log2(worst) : 60;
            print_message("#   %-14s %-8s %-26s %5.1f bits (need %.0f)\n", name,
                          cp ? "complex" : "real", variants[v].name, bits, min_bits);
            if (bits < min_bits)
                fail_msg("%s, %s packing, %s: %.1f bits, %.1f required", name,
                         cp ? "complex" : "real", variants[v].name, bits, min_bits);
            hg_he_model_free(m);
        }
    for (size_t i = 0; i < n_out; i++)
        hg_ndarray_free(want[i]);
    hg_ndarray_free(x);
    hg_graph_free(b.g);
}

static void test_conv(void **s) {
    (void)s;
    compare(conv, "Conv", 7, 12);
    compare(depthwise, "depthwise Conv", 5, 12);
}
static void test_gemm_matmul(void **s) {
    (void)s;
    compare(gemm, "Gemm", 9, 12);
    compare(matmul, "MatMul", 4, 12);
}
static void test_elementwise(void **s) {
    (void)s;
    compare(elementwise, "Mul/Add/Sub/Div", 6, 12);
}
static void test_pools(void **s) {
    (void)s;
    compare(pools, "pools", 5, 12);
}
static void test_batchnorm(void **s) {
    (void)s;
    compare(batchnorm, "BatchNorm", 3, 12);
}
static void test_products(void **s) {
    (void)s;
    compare(products, "products", 8, 10);
}
static void test_structural(void **s) {
    (void)s;
    compare(structural, "structural", 3, 14);
}
static void test_activations(void **s) {
    (void)s;
    compare(activations, "activations", 6, 12);
}
static void test_cryptonets_like(void **s) {
    (void)s;
    compare(cryptonets_like, "CryptoNets", 11, 9);
}

/* A batch at the full capacity, real and complex. */
static void test_full_batch(void **s) {
    (void)s;
    compare(gemm, "Gemm full", 512, 12);
}

static void test_errors(void **s) {
    (void)s;
    hg_test_rng r;
    hg_test_rng_init(&r, 7);
    built b;
    cryptonets_like(&b, &r);
    hg_assert_ok(hg_graph_optimize(b.g, 4));
    hg_he_opts o;
    hg_he_opts_default(&o);
    hg_he_model *m = NULL;
    /* Batch above the capacity. */
    hg_assert_fails(hg_he_model_new(b.g, K.ctx, &o, 513, &m), HG_ERR_INVALID_ARG, "513 samples");
    o.complex_packing = true;
    hg_assert_ok(hg_he_model_new(b.g, K.ctx, &o, 1024, &m));
    hg_he_model_free(m);
    hg_assert_fails(hg_he_model_new(b.g, K.ctx, &o, 1025, &m), HG_ERR_INVALID_ARG, "1024 slots");
    hg_ndarray *big;
    int64_t bd[4] = {600, 1, 9, 9};
    hg_assert_ok(hg_ndarray_new(4, bd, &big));
    hg_he_tensor *t = NULL;
    hg_assert_fails(hg_he_client_encrypt(K.client[0], big, &t), HG_ERR_INVALID_ARG, "600 samples");
    hg_ndarray_free(big);
    /* Depth exhausted: two data primes cannot hold the four levels. */
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 3, .bits = {45, 30, 50}, .n_special = 1,
                              .scale = 0x1p30, .insecure = true};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    o.complex_packing = false;
    hg_assert_fails(hg_he_model_new(b.g, ctx, &o, 4, &m), HG_ERR_LEVEL, "depth is exhausted");
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    /* Insecure parameters from a file are refused. */
    hg_he_params hp;
    const char *json = "{\"poly_modulus_degree\": 1024, \"coeff_modulus\": [45, 30, 50], "
                       "\"scale\": 1073741824, \"security_level\": 128}";
    hg_assert_ok(hg_he_params_parse_json(json, strlen(json), &hp));
    hg_assert_fails(hg_ckks_params_new(&hp.lit, &p), HG_ERR_PARAMS, "insecure parameters");
    /* Encrypted tensors that do not match the model. */
    hg_assert_ok(hg_he_model_new(b.g, K.ctx, &o, 4, &m));
    hg_ndarray *x;
    int64_t xd[4] = {5, 1, 9, 9};
    hg_assert_ok(hg_ndarray_new(4, xd, &x));
    hg_assert_ok(hg_he_client_encrypt(K.client[0], x, &t));
    hg_he_tensor *out[1];
    hg_assert_fails(hg_he_run(m, K.rlk, NULL, &t, 1, NULL, out, NULL), HG_ERR_INVALID_ARG,
                    "batch of at most 4");
    hg_assert_fails(hg_he_run(m, NULL, NULL, &t, 1, NULL, out, NULL), HG_ERR_MISSING_KEY,
                    "relinearization key");
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
    hg_he_model_free(m);
    hg_graph_free(b.g);
}

static void test_params_json(void **s) {
    (void)s;
    hg_he_params hp;
    const char *ok = "{\"scheme_name\": \"HE_SEAL\", \"poly_modulus_degree\": 8192, "
                     "\"security_level\": 128, \"coeff_modulus\": [30, 24, 24, 24, 24, 24, 30], "
                     "\"scale\": 16777216, \"complex_packing\": true}";
    hg_assert_ok(hg_he_params_parse_json(ok, strlen(ok), &hp));
    assert_int_equal(hp.lit.log_n, 13);
    assert_int_equal(hp.lit.n_primes, 7);
    assert_int_equal(hp.lit.n_special, 1);
    assert_true(hp.complex_packing);
    assert_true(hp.lit.scale == 16777216.0);
    char buf[512];
    hg_assert_ok(hg_he_params_to_json(&hp, buf, sizeof buf));
    hg_he_params back;
    hg_assert_ok(hg_he_params_parse_json(buf, strlen(buf), &back));
    assert_memory_equal(back.lit.bits, hp.lit.bits, sizeof hp.lit.bits);
    hg_ckks_params *p;
    hg_assert_ok(hg_ckks_params_new(&hp.lit, &p));
    hg_ckks_params_free(p);
    static const struct {
        const char *json;
        hg_status want;
        const char *needle;
    } bad[] = {
        {"{", HG_ERR_FORMAT, "malformed JSON"},
        {"[1]", HG_ERR_FORMAT, "JSON object"},
        {"{\"poly_modulus_degree\": 8000, \"coeff_modulus\": [30, 30]}", HG_ERR_PARAMS,
         "power of two"},
        {"{\"poly_modulus_degree\": 8192, \"coeff_modulus\": [30, 70]}", HG_ERR_PARAMS, "[20, 60]"},
        {"{\"poly_modulus_degree\": 8192, \"coeff_modulus\": 30}", HG_ERR_FORMAT, "array"},
        {"{\"poly_modulus_degree\": 8192}", HG_ERR_FORMAT, "required"},
        {"{\"poly_modulus_degree\": 8192, \"coeff_modulus\": [30, 30], \"colour\": 1}",
         HG_ERR_FORMAT, "unknown field \"colour\""},
        {"{\"poly_modulus_degree\": 8192, \"coeff_modulus\": [30, 30], \"security_level\": 100}",
         HG_ERR_PARAMS, "security_level 100"},
        {"{\"poly_modulus_degree\": 8192, \"coeff_modulus\": [30, 30], \"complex_packing\": 1}",
         HG_ERR_FORMAT, "true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        hg_assert_fails(hg_he_params_parse_json(bad[i].json, strlen(bad[i].json), &hp),
                        bad[i].want, bad[i].needle);
}

static void test_params_auto(void **s) {
    (void)s;
    hg_test_rng r;
    hg_test_rng_init(&r, 8);
    built b;
    cryptonets_like(&b, &r);
    hg_assert_ok(hg_graph_optimize(b.g, 1));
    hg_he_params hp;
    hg_assert_ok(hg_he_params_auto(b.g, 24, 6, false, &hp));
    /* depth 4 at 24-bit primes: 30 + 3 * 24 + 34 = 136 bits > 109, so N = 8192 */
    assert_int_equal(hp.lit.log_n, 13);
    /* the modulus left at N = 8192 raises the scale (to 2^28 at most, q_0 below 2^40: the
     * linear engine's fast paths), with the same number of primes */
    assert_true(hp.lit.scale > 0x1p24 && hp.lit.scale <= 0x1p28);
    assert_true(hp.lit.bits[0] <= 39);
    for (int i = 1; i < hp.lit.n_primes - hp.lit.n_special; i++)
        assert_true(hp.lit.bits[i] <= 28);
    /* the modulus left at N = 8192 raises the scale (to 2^28 at most, q_0 below 2^40: the
     * linear engine's fast paths), with the same number of primes */
    assert_true(hp.lit.scale > 0x1p24 && hp.lit.scale <= 0x1p28);
    assert_true(hp.lit.bits[0] <= 39);
    for (int i = 1; i < hp.lit.n_primes - hp.lit.n_special; i++)
        assert_true(hp.lit.bits[i] <= 28);
    hg_ckks_params *p;
    hg_assert_ok(hg_ckks_params_new(&hp.lit, &p));
    assert_int_equal(hg_ckks_params_security(p), 128);
    print_message("# auto parameters: N = %zu, %d primes, %d bits\n", hg_ckks_params_n(p),
                  hp.lit.n_primes, hg_ckks_params_log_modulus(p));
    hg_ckks_params_free(p);
    hg_graph_free(b.g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_json),   cmocka_unit_test(test_conv),
        cmocka_unit_test(test_gemm_matmul),   cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_pools),         cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_products),      cmocka_unit_test(test_structural),
        cmocka_unit_test(test_activations),   cmocka_unit_test(test_cryptonets_like),
        cmocka_unit_test(test_full_batch),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_params_auto),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
