/*
 * Precision of a chain without a special prime: the reduced MobileNetV2 (inverted residual
 * blocks, ReLU6 through the client) runs encrypted with data primes {39, 35, 35} at scale 2^35,
 * masked and unmasked, with re-randomized requests. Every request sits one level above q_0 and
 * the weights that write it are lowered to keep its headroom; both runs match the plain backend
 * within 2^-19 of the largest logit. A model that needs a key switch is refused on that chain.
 */
#include "graph_build.h"

#include "he/he.h"
#include "hegraph/hg_onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double run_reduced(const hg_graph *g, hg_ckks_ctx *ctx, hg_he_client *cl,
                          const hg_ckks_pk *pk, const hg_ndarray *x, const hg_ndarray *want,
                          bool masked) {
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.complex_packing = true;
    o.masking = masked;
    hg_he_model *m;
    hg_assert_ok(hg_he_model_new(g, ctx, &o, (size_t)x->dims[0], &m));
    assert_false(hg_he_model_needs_relin(m));
    hg_he_tensor *t, *out;
    hg_assert_ok(hg_he_client_encrypt(cl, x, &t));
    hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate, .client_user = cl,
                         .pk = pk};
    hg_assert_ok(hg_he_run(m, NULL, NULL, &t, 1, &ro, &out, NULL));
    hg_ndarray *y;
    hg_assert_ok(hg_he_client_decrypt(cl, out, &y));
    double worst = 0, top = 0;
    for (size_t i = 0; i < y->size; i++) {
        worst = fmax(worst, fabs(y->data[i] - want->data[i]));
        top = fmax(top, fabs(want->data[i]));
    }
    print_message("# %s: max error %.2e of %.2e (2^%.1f)\n", masked ? "masked" : "unmasked",
                  worst, top, log2(worst / top));
    hg_ndarray_free(y);
    hg_he_tensor_free(t);
    hg_he_tensor_free(out);
    hg_he_model_free(m);
    return worst / top;
}

static void test_reduced_mobilenet(void **state) {
    (void)state;
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mobilenetv2_reduced.onnx", src ? src : ".");
    hg_graph *g;
    hg_assert_ok(hg_onnx_load_file(path, &g));
    const int64_t batch = 4;
    hg_assert_ok(hg_graph_optimize(g, batch));
    /* insecure test parameters: N = 1024 (the 128-bit set is N = 4096 with the same chain) */
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 3, .bits = {39, 35, 35}, .n_special = 0,
                              .scale = 0x1p35, .insecure = true};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_he_client *cl;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    hg_assert_ok(hg_ckks_sk_new(ctx, &sk));
    hg_assert_ok(hg_ckks_pk_new(ctx, sk, &pk));
    hg_assert_ok(hg_he_client_new(ctx, sk, true, 0, &cl));
    hg_shape in_shape;
    hg_graph_input_shape(g, 0, &in_shape, NULL);
    in_shape.dims[0] = batch;
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(in_shape.rank, in_shape.dims, &x));
    hg_test_rng r;
    hg_test_rng_init(&r, 80);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = hg_test_rng_uniform(&r, -2, 2);
    const hg_ndarray *in[1] = {x};
    hg_ndarray *want;
    hg_assert_ok(hg_plain_run(g, in, 1, &want));
    const double unmasked = run_reduced(g, ctx, cl, pk, x, want, false);
    const double masked = run_reduced(g, ctx, cl, pk, x, want, true);
    /* measured: about 2^-26.5 unmasked, 2^-22.5 masked (the flooding noise of the requests) */
    assert_true(unmasked < 0x1p-19);
    assert_true(masked < 0x1p-19);

    /* x * x needs relinearization before the next product: refused without a special prime. */
    hg_graph *sq;
    hg_assert_ok(hg_graph_new(&sq));
    int64_t d[2] = {batch, 4};
    int64_t xi = tg_input(sq, "x", 2, d);
    int64_t mi[2] = {xi, xi};
    int64_t y = tg_node(sq, HG_OP_MUL, "square", mi, 2, NULL);
    int64_t mi2[2] = {y, y};
    hg_assert_ok(hg_graph_add_output(sq, tg_node(sq, HG_OP_MUL, "fourth", mi2, 2, NULL)));
    hg_assert_ok(hg_graph_optimize(sq, batch));
    hg_he_opts o;
    hg_he_opts_default(&o);
    hg_he_model *m = NULL;
    hg_assert_fails(hg_he_model_new(sq, ctx, &o, (size_t)batch, &m), HG_ERR_PARAMS,
                    "no special prime");
    assert_null(m);
    hg_graph_free(sq);

    hg_ndarray_free(want);
    hg_ndarray_free(x);
    hg_he_client_free(cl);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    hg_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reduced_mobilenet)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
