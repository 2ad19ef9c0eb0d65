/*
 * Masked client activations: the values the client sees are not the server's pre-activation
 * values (each is scaled by a secret positive factor and their order is shuffled), masked and
 * unmasked runs give the same results, and re-randomized requests (public key) still decrypt
 * to the right values.
 */
#include "graph_build.h"

#include "he/he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hg_ckks_params *P;
static hg_ckks_ctx *C;
static hg_ckks_sk *SK;
static hg_ckks_pk *PK;
static hg_ckks_rlk *RLK;
static hg_he_client *CL;

static int setup(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 6, .bits = {45, 30, 30, 30, 30, 50},
                              .n_special = 1, .scale = 0x1p30, .insecure = true};
    if (hg_ckks_params_new(&lit, &P) || hg_ckks_ctx_new(P, &C) || hg_ckks_sk_new(C, &SK) ||
        hg_ckks_pk_new(C, SK, &PK) || hg_ckks_rlk_new(C, SK, &RLK) ||
        hg_he_client_new(C, SK, false, 1, &CL))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hg_he_client_free(CL);
    hg_ckks_rlk_free(RLK);
    hg_ckks_pk_free(PK);
    hg_ckks_sk_free(SK);
    hg_ckks_ctx_free(C);
    hg_ckks_params_free(P);
    return 0;
}

/* Conv -> Relu -> MaxPool(2, stride 1: overlapping windows) -> Clip(0, 6) -> Gemm */
static hg_graph *small_net(hg_test_rng *r, int64_t batch) {
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[4] = {batch, 1, 5, 5}, wd[4] = {2, 1, 3, 3}, gd[2] = {3, 8};
    int64_t x = tg_input(g, "x", 4, d);
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
    mp.window.strides[0] = mp.window.strides[1] = 2;
    mp.window.has_kernel = true;
    mp.window.n_spatial = 2;
    y = tg_node(g, HG_OP_MAXPOOL, "maxpool", &y, 1, &mp);
    hg_node_attr cl;
    hg_node_attr_default(HG_OP_CLIP, &cl);
    cl.clip.min = 0;
    cl.clip.max = 0.5;
    y = tg_node(g, HG_OP_CLIP, "clip", &y, 1, &cl);
    y = tg_node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr gm;
    hg_node_attr_default(HG_OP_GEMM, &gm);
    gm.gemm.trans_b = true;
    int64_t gin[2] = {y, tg_random_const(g, "g", 2, gd, 1, r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GEMM, "gemm", gin, 2, &gm)));
    hg_assert_ok(hg_graph_optimize(g, batch));
    return g;
}

/* A client that records the first request it decrypts, then answers normally. */
typedef struct spy {
    hg_he_client *c;
    hg_ndarray *seen;
    hg_he_activation act;
} spy;

static hg_status spy_client(void *user, const hg_he_activation *act, const hg_he_tensor *in,
                            hg_he_tensor **out) {
    spy *s = user;
    if (!s->seen) {
        HG_TRY(hg_he_client_decrypt(s->c, in, &s->seen));
        s->act = *act;
    }
    return hg_he_client_activate(s->c, act, in, out);
}

static void run(hg_graph *g, bool masked, const hg_ndarray *x, spy *sp, hg_ndarray **y) {
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.masking = masked;
    hg_he_model *m;
    hg_assert_ok(hg_he_model_new(g, C, &o, (size_t)x->dims[0], &m));
    hg_he_tensor *in, *out;
    hg_assert_ok(hg_he_client_encrypt(CL, x, &in));
    hg_he_run_opts ro = {.client = spy_client, .client_user = sp, .pk = PK};
    hg_assert_ok(hg_he_run(m, RLK, NULL, &in, 1, &ro, &out, NULL));
    hg_assert_ok(hg_he_client_decrypt(CL, out, y));
    hg_he_plan_stats st;
    hg_he_model_stats(m, &st);
    assert_int_equal(st.masked_calls, masked ? 3 : 0);
    hg_he_tensor_free(in);
    hg_he_tensor_free(out);
    hg_he_model_free(m);
}

static void test_masked_values_hidden(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 60);
    const int64_t batch = 6;
    hg_graph *g = small_net(&r, batch);
    int64_t d[4] = {batch, 1, 5, 5};
    hg_ndarray *x = tg_random_array(4, d, 1, &r), *plain;
    const hg_ndarray *in1[1] = {x};
    hg_assert_ok(hg_plain_run(g, in1, 1, &plain));

    /* The pre-activation values: the Conv output, from a graph cut after it. */
    hg_graph *cut;
    hg_assert_ok(hg_graph_new(&cut));
    {
        hg_test_rng r2;
        hg_test_rng_init(&r2, 60);
        int64_t wd[4] = {2, 1, 3, 3};
        int64_t xi = tg_input(cut, "x", 4, d);
        hg_node_attr a;
        hg_node_attr_default(HG_OP_CONV, &a);
        for (int i = 0; i < 4; i++)
            a.window.pads[i] = 1;
        int64_t cin[2] = {xi, tg_random_const(cut, "w", 4, wd, 1, &r2)};
        hg_assert_ok(hg_graph_add_output(cut, tg_node(cut, HG_OP_CONV, "conv", cin, 2, &a)));
        hg_assert_ok(hg_graph_optimize(cut, batch));
    }
    hg_ndarray *pre;
    hg_assert_ok(hg_plain_run(cut, in1, 1, &pre));

    spy masked = {.c = CL}, unmasked = {.c = CL};
    hg_ndarray *ym, *yu;
    run(g, true, x, &masked, &ym);
    run(g, false, x, &unmasked, &yu);

    /* Unmasked: the client sees exactly the pre-activation values, in order. */
    assert_int_equal(unmasked.seen->size, pre->size);
    for (size_t i = 0; i < pre->size; i++)
        hg_assert_close(unmasked.seen->data[i], pre->data[i], 1e-3);
    assert_false(unmasked.act.masked);
    /* Masked: a Relu over as many values, none in its place, each a positive multiple (factor
     * in [1, 256]) of some pre-activation value of the same sample. */
    assert_true(masked.act.masked);
    assert_int_equal(masked.act.op, HG_OP_RELU);
    assert_int_equal(masked.seen->size, pre->size);
    size_t in_place = 0, explained = 0;
    const size_t per = pre->size / (size_t)batch;
    for (size_t b = 0; b < (size_t)batch; b++)
        for (size_t i = 0; i < per; i++) {
            double v = masked.seen->data[b * per + i];
            in_place += fabs(v - pre->data[b * per + i]) < 1e-3;
            /* the factor is shared by the batch: the same ratio in every sample */
            for (size_t j = 0; j < per; j++) {
                double p = pre->data[b * per + j];
                if (fabs(p) > 1e-2 && v / p >= 1 - 1e-3 && v / p <= 256 + 1e-3) {
                    explained++;
                    break;
                }
            }
        }
    print_message("# masked request: %zu of %zu values in their place, %zu explained by a "
                  "factor\n", in_place, pre->size, explained);
    assert_true(in_place < pre->size / 10);
    assert_true(explained > pre->size / 2);

    /* Masked and unmasked results agree with the plain backend. */
    for (size_t i = 0; i < plain->size; i++) {
        hg_assert_close(ym->data[i], plain->data[i], 1e-2);
        hg_assert_close(yu->data[i], plain->data[i], 1e-2);
    }
    hg_ndarray_free(masked.seen);
    hg_ndarray_free(unmasked.seen);
    hg_ndarray_free(ym);
    hg_ndarray_free(yu);
    hg_ndarray_free(pre);
    hg_ndarray_free(plain);
    hg_ndarray_free(x);
    hg_graph_free(cut);
    hg_graph_free(g);
}

/* A masked activation needs room for its factors above the values: where the modulus left at
 * the activation cannot hold it, planning fails with a clear error instead of a run that
 * decrypts wrapped values; the same model unmasked fits. */
static void test_headroom(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 3, .bits = {36, 30, 50}, .n_special = 1,
                              .scale = 0x1p30, .insecure = true};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    hg_test_rng r;
    hg_test_rng_init(&r, 61);
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[4] = {2, 1, 4, 4}, wd[4] = {1, 1, 2, 2};
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    int64_t in[2] = {tg_input(g, "x", 4, d), tg_random_const(g, "w", 4, wd, 1, &r)};
    int64_t y = tg_node(g, HG_OP_CONV, "conv", in, 2, &a);
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_RELU, "relu", &y, 1, NULL)));
    hg_assert_ok(hg_graph_optimize(g, 2));
    hg_he_opts o;
    hg_he_opts_default(&o);
    hg_he_model *m = NULL;
    o.masking = true;
    hg_assert_fails(hg_he_model_new(g, ctx, &o, 2, &m), HG_ERR_LEVEL, "depth is exhausted");
    o.masking = false;
    hg_assert_ok(hg_he_model_new(g, ctx, &o, 2, &m));
    hg_he_model_free(m);
    hg_graph_free(g);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_masked_values_hidden),
                                       cmocka_unit_test(test_headroom)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
