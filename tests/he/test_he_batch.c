/*
 * A batch smaller than the model's: every activation request the server sends carries the
 * batch of the run (what a network client checks against the batch it encrypted), not the
 * largest batch the model was compiled for, and the results match the plain backend on the
 * samples given. Masked and unmasked.
 */
#include "graph_build.h"

#include "hegraph/hg_he.h"

#include <math.h>
#include <stdlib.h>

#define MODEL_BATCH 4
#define RUN_BATCH   2

static hg_ckks_params *P;
static hg_ckks_ctx *C;
static hg_ckks_sk *SK;
static hg_he_client *CL;

static int setup(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10,
                              .n_primes = 5,
                              .bits = {45, 30, 30, 30, 50},
                              .n_special = 1,
                              .scale = 0x1p30,
                              .insecure = true};
    if (hg_ckks_params_new(&lit, &P) || hg_ckks_ctx_new(P, &C) || hg_ckks_sk_new(C, &SK) ||
        hg_he_client_new(C, SK, false, 1, &CL))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hg_he_client_free(CL);
    hg_ckks_sk_free(SK);
    hg_ckks_ctx_free(C);
    hg_ckks_params_free(P);
    return 0;
}

/* x (B, 1, 2, 2) -> Conv 1x1 -> Relu -> MaxPool 2x2 -> Flatten -> Gemm 1 -> 2. */
static hg_graph *small_net(void) {
    hg_test_rng r;
    hg_test_rng_init(&r, 7);
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[4] = {MODEL_BATCH, 1, 2, 2}, wd[4] = {1, 1, 1, 1}, gd[2] = {2, 1};
    int64_t x = tg_input(g, "x", 4, d);
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    int64_t in[2] = {x, tg_random_const(g, "w", 4, wd, 1, &r)};
    int64_t y = tg_node(g, HG_OP_CONV, "conv", in, 2, &a);
    y = tg_node(g, HG_OP_RELU, "relu", &y, 1, NULL);
    hg_node_attr_default(HG_OP_MAXPOOL, &a);
    a.window.kernel[0] = a.window.kernel[1] = 2;
    a.window.strides[0] = a.window.strides[1] = 2;
    a.window.has_kernel = true;
    a.window.n_spatial = 2;
    y = tg_node(g, HG_OP_MAXPOOL, "maxpool", &y, 1, &a);
    y = tg_node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr_default(HG_OP_GEMM, &a);
    a.gemm.trans_b = true;
    int64_t gin[2] = {y, tg_random_const(g, "g", 2, gd, 1, &r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GEMM, "gemm", gin, 2, &a)));
    hg_assert_ok(hg_graph_optimize(g, MODEL_BATCH));
    return g;
}

/* The client callback: checks the request's batch, then answers as the in-process client. */
static hg_status client(void *user, const hg_he_activation *act, const hg_he_tensor *in,
                        hg_he_tensor **out) {
    size_t *requests = user;
    (*requests)++;
    hg_shape s;
    hg_he_tensor_shape(in, &s);
    assert_int_equal(act->in_shape.dims[0], RUN_BATCH);
    assert_int_equal(act->out_shape.dims[0], RUN_BATCH);
    assert_int_equal(s.dims[0], RUN_BATCH);
    return hg_he_client_activate(CL, act, in, out);
}

static void run(bool masked) {
    hg_graph *g = small_net();
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.masking = masked;
    o.threads = 1;
    hg_he_model *m;
    hg_assert_ok(hg_he_model_new(g, C, &o, MODEL_BATCH, &m));
    hg_test_rng r;
    hg_test_rng_init(&r, 8);
    int64_t d[4] = {RUN_BATCH, 1, 2, 2};
    hg_ndarray *x = tg_random_array(4, d, 1.0, &r), *want, *got;
    const hg_ndarray *ins[1] = {x};
    hg_assert_ok(hg_plain_run(g, ins, 1, &want));
    hg_he_tensor *enc, *out;
    hg_assert_ok(hg_he_client_encrypt(CL, x, &enc));
    size_t requests = 0;
    hg_he_run_opts ro = {.client = client, .client_user = &requests};
    hg_he_tensor *const encs[1] = {enc};
    hg_assert_ok(hg_he_run(m, NULL, NULL, encs, 1, &ro, &out, NULL));
    assert_true(requests > 0);
    hg_assert_ok(hg_he_client_decrypt(CL, out, &got));
    assert_int_equal(got->dims[0], RUN_BATCH);
    assert_int_equal(got->size, want->size);
    for (size_t i = 0; i < got->size; i++)
        hg_assert_close(got->data[i], want->data[i], 1e-3);
    hg_ndarray_free(got);
    hg_ndarray_free(want);
    hg_ndarray_free(x);
    hg_he_tensor_free(out);
    hg_he_tensor_free(enc);
    hg_he_model_free(m);
    hg_graph_free(g);
}

static void test_unmasked(void **state) {
    (void)state;
    run(false);
}

static void test_masked(void **state) {
    (void)state;
    run(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmasked),
        cmocka_unit_test(test_masked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
